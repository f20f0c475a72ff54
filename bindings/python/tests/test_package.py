"""The package as a package: exceptions by CR_E code, the library lookup
rules, callback lifetime and exceptions for every callback kind of the
router and the engine, deferred field validation, the intent model's
built-in rules and rule exceptions, and (in the python_asan run) that
AddressSanitizer is really watching."""
import ctypes
import gc
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest
import weakref

import convroute
from convroute import (VALIDATE_LATER, CallbackError, ConvrouteError, Engine,
                       FieldSpec, IntentModel, Metrics, Router, staffing)
from convroute import _lib
from convroute.metrics import MetricsError
from convroute.staffing import StaffingError

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.dirname(HERE)
T0 = 1795334400000


def tiny_model():
    return IntentModel.train([
        ("greeting", "hello"), ("greeting", "hi there"),
        ("greeting", "good morning"),
        ("billing_question", "why is my bill so high"),
        ("billing_question", "a charge on my bill"),
        ("billing_question", "my invoice is wrong"),
        ("address_change", "I moved, change my address"),
        ("address_change", "new address please"),
        ("address_change", "update my address"),
        ("thanks_goodbye", "thanks bye"), ("thanks_goodbye", "thank you"),
        ("thanks_goodbye", "goodbye")], seed=1)


class Errors(unittest.TestCase):

    def test_code_classes_and_builtin_bases(self):
        self.assertIs(type(ConvrouteError(-1)), convroute.InvalidArgumentError)
        self.assertIsInstance(ConvrouteError(-1), ValueError)
        self.assertIsInstance(ConvrouteError(-2), MemoryError)
        self.assertIsInstance(ConvrouteError(-5), LookupError)
        self.assertIsInstance(ConvrouteError(-14), convroute.ClosedError)
        e = ConvrouteError(-99, "what")
        self.assertIs(type(e), ConvrouteError)
        self.assertEqual(e.name, "UNKNOWN")
        e = ConvrouteError(-3, lambda: "lazy detail")
        self.assertEqual(e.detail, "lazy detail")
        self.assertEqual(str(e), "CR_ERANGE: value out of range: lazy detail")

    def test_module_errors_combine_with_the_code(self):
        with self.assertRaises(convroute.InfeasibleError) as cm:
            staffing.erlang_c(arrivals=100, interval_s=1800, aht_s=180,
                              agents=5)
        self.assertIsInstance(cm.exception, StaffingError)
        with Metrics() as m:
            with self.assertRaises(convroute.RangeError) as cm:
                m.add(arrived_at=0, ended_at=1, csat=9)
        self.assertIsInstance(cm.exception, MetricsError)
        self.assertEqual(type(cm.exception).__name__, "MetricsError")
        # the combination survives pickling (multiprocessing, logging)
        back = pickle.loads(pickle.dumps(cm.exception))
        self.assertIsInstance(back, MetricsError)
        self.assertIsInstance(back, convroute.RangeError)
        self.assertEqual(str(back), str(cm.exception))

    def test_library_calls_raise_the_code_class(self):
        with Router() as r:
            r.add_queue("q", now=0)
            with self.assertRaises(convroute.ExistsError):
                r.add_queue("q", now=0)
            with self.assertRaises(convroute.NotFoundError):
                r.accept("nope", "nobody", now=1)
            with self.assertRaises(convroute.OrderError):
                r.tick(0)  # now went backwards (1 -> 0)
            r.set_queue_open("q", False, now=2)
            with self.assertRaises(convroute.ClosedError):
                r.enqueue("c", "q", now=3)
        with self.assertRaises(convroute.ClosedError):
            r.tick(4)
        with self.assertRaises(convroute.CorruptError):
            IntentModel.load(b"\0" * 64)
        with self.assertRaises(convroute.UTF8Error):
            convroute.normalize(b"\xff")


class LibraryLookup(unittest.TestCase):
    """The rules of convroute/_lib.py, each in a fresh interpreter."""

    def probe(self, env, pkg_dir=PKG, pre=""):
        code = pre + textwrap.dedent("""
            import convroute, convroute._lib as l
            print(l.found_by); print(l.path)""")
        env = {k: v for k, v in env.items() if v is not None}
        env["PYTHONPATH"] = pkg_dir
        # cwd: the package's directory, so "" on sys.path finds no other
        # convroute than the one under test
        run = subprocess.run([sys.executable, "-c", code], env=env,
                             cwd=pkg_dir, capture_output=True, text=True,
                             timeout=120)
        return run

    def base_env(self):
        env = dict(os.environ)
        env.pop("CONVROUTE_LIB", None)
        env.pop("CONVROUTE_PY_TRACE", None)
        return env

    def test_convroute_lib_wins_and_a_wrong_one_fails(self):
        run = self.probe(dict(self.base_env(), CONVROUTE_LIB=_lib.path))
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(run.stdout.split("\n")[:2],
                         ["CONVROUTE_LIB", _lib.path])
        run = self.probe(dict(self.base_env(),
                              CONVROUTE_LIB="/nonexistent/libconvroute.so"))
        self.assertNotEqual(run.returncode, 0)
        self.assertIn("cannot load the convroute library", run.stderr)
        self.assertIn("/nonexistent/libconvroute.so", run.stderr)

    def copy_package(self, tmp):
        dst = os.path.join(tmp, "site")
        shutil.copytree(os.path.join(PKG, "convroute"),
                        os.path.join(dst, "convroute"),
                        ignore=shutil.ignore_patterns("__pycache__", "*.so*"))
        return dst

    def test_beside_the_package(self):
        with tempfile.TemporaryDirectory() as tmp:
            site = self.copy_package(tmp)
            lib = os.path.join(site, "convroute", "libconvroute.so.0")
            shutil.copy(_lib.path, lib)
            run = self.probe(self.base_env(), site)
            self.assertEqual(run.returncode, 0, run.stderr)
            self.assertEqual(run.stdout.split("\n")[:2],
                             ["beside the package", lib])

    def test_installed_prefix(self):
        with tempfile.TemporaryDirectory() as tmp:
            site = self.copy_package(tmp)  # outside any checkout
            prefix = os.path.join(tmp, "prefix")
            os.makedirs(os.path.join(prefix, "lib"))
            lib = os.path.join(prefix, "lib", "libconvroute.so.0")
            shutil.copy(_lib.path, lib)
            run = self.probe(self.base_env(), site,
                             pre="import sys; sys.prefix = %r\n" % prefix)
            self.assertEqual(run.returncode, 0, run.stderr)
            self.assertEqual(run.stdout.split("\n")[:2],
                             ["installed prefix", lib])

    def test_build_trees_newest_first_sanitizer_builds_skipped(self):
        with tempfile.TemporaryDirectory() as tmp:
            root = os.path.join(tmp, "checkout")
            os.makedirs(os.path.join(root, "include"))
            open(os.path.join(root, "include", "convroute.h"), "w").close()
            site = os.path.join(root, "bindings", "python")
            shutil.copytree(os.path.join(PKG, "convroute"),
                            os.path.join(site, "convroute"),
                            ignore=shutil.ignore_patterns("__pycache__",
                                                          "*.so*"))
            libs = {}
            for n, (name, sanitize) in enumerate((("build-old", False),
                                                  ("build-new", False),
                                                  ("build-asan", True))):
                d = os.path.join(root, name)
                os.makedirs(d)
                libs[name] = os.path.join(d, "libconvroute.so.0")
                shutil.copy(_lib.path, libs[name])
                os.utime(libs[name], (1e9 + n, 1e9 + n))
                with open(os.path.join(d, "CMakeCache.txt"), "w") as f:
                    f.write("CONVROUTE_SANITIZE:BOOL=%s\n"
                            % ("ON" if sanitize else "OFF"))
            run = self.probe(self.base_env(), site)
            self.assertEqual(run.returncode, 0, run.stderr)
            # the newest tree that this interpreter can load: with the ASan
            # runtime preloaded (the python_asan run) the sanitizer build,
            # else the newest plain one
            want = ("build-asan" if _lib._asan_loaded() else "build-new")
            self.assertEqual(run.stdout.split("\n")[:2],
                             ["build tree", libs[want]])

    def test_build_tree_of_the_checkout(self):
        builds = [d for d in os.listdir(os.path.join(PKG, "..", ".."))
                  if d.startswith("build") and any(
                      os.path.exists(os.path.join(PKG, "..", "..", d, n))
                      for n in ("libconvroute.so.0", "libconvroute.so"))]
        if not builds:
            self.skipTest("no build*/ directory with the library")
        run = self.probe(self.base_env())
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(run.stdout.split("\n")[0], "build tree")


class RouterCallbacks(unittest.TestCase):

    def setup(self, r):
        r.add_queue("q", skills={"s": 1}, auto_members=True,
                    max_wait_ms=60000, escalate_before_ms=30000, now=0)
        r.add_agent("a", max_per_channel={"chat": 1}, skills={"s": 1}, now=0)

    def register_lambdas(self, r, seen):
        # the lambdas exist only inside this frame: after it returns, the
        # router's reference is the only one
        r.set_callbacks(offer=lambda ev: seen.append(("offer", ev.conv)),
                        offer_cancelled=lambda ev: seen.append(
                            ("cancelled", ev.conv)),
                        assigned=lambda ev: seen.append(("assigned",
                                                         ev.agent)),
                        escalation=lambda ev: seen.append(("escalation",
                                                           ev.name)),
                        event=lambda ev: seen.append(("event", ev.name)))

    def test_every_callback_survives_gc_while_registered(self):
        seen = []
        with Router() as r:
            self.setup(r)
            self.register_lambdas(r, seen)
            gc.collect()
            r.enqueue("c1", "q", now=1000)           # waits: nobody on
            r.tick(31000)                            # ESCALATE
            r.set_agent_status("a", "available", now=32000)   # offer
            r.set_agent_status("a", "away", reason="lunch",
                               now=33000)            # offer cancelled
            r.set_agent_status("a", "available", now=34000)   # offer again
            r.accept("c1", "a", now=35000)           # assigned
        kinds = {k for k, _ in seen}
        self.assertEqual(kinds, {"offer", "cancelled", "assigned",
                                 "escalation", "event"})
        self.assertIn(("escalation", "ESCALATE"), seen)
        self.assertIn(("assigned", "a"), seen)

    def test_an_exception_in_any_callback_reaches_the_caller(self):
        for name in ("offer", "assigned", "event"):
            with self.subTest(callback=name), Router() as r:
                self.setup(r)
                r.set_agent_status("a", "available", now=0)

                def boom(ev, name=name):
                    raise LookupError(name)
                r.set_callbacks(**{name: boom})
                with self.assertRaises(LookupError):
                    r.enqueue("c1", "q", now=1)
                    r.accept("c1", "a", now=2)
                # the router finished its call and works on
                r.set_callbacks()
                self.assertIn(r.conv_info("c1").state,
                              ("offered", "assigned"))
                r.tick(3)

    def test_callback_released_after_close(self):
        class Sink:
            def __call__(self, ev):
                pass
        s = Sink()
        ref = weakref.ref(s)
        r = Router(on_event=s)
        del s
        gc.collect()
        self.assertIsNotNone(ref())
        r.close()
        gc.collect()
        self.assertIsNone(ref())


class EngineCallbacks(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.model = tiny_model()
        cls.model.add_builtin_rules("talk_to_human", "emergency")

    @classmethod
    def tearDownClass(cls):
        cls.model.close()

    def engine(self, **cb):
        e = Engine(self.model, **cb)
        e.router.add_queue("general", skills={"general": 1},
                           auto_members=True, max_wait_ms=600000,
                           escalate_before_ms=300000, now=T0)
        e.set_policy("greeting", "answer", text={"en": "Hi!"})
        e.set_policy("billing_question", "action", action="explain_bill",
                     text={"en": "Looking..."})
        e.set_policy("address_change", "collect",
                     fields=[FieldSpec("id", {"en": "Your ID?"},
                                       "callback")])
        e.set_policy("talk_to_human", "human")
        e.set_policy("emergency", "emergency")
        e.set_policy("thanks_goodbye", "end", text={"en": "Bye"})
        return e

    def lambdas(self, seen):
        """Every engine callback as a lambda that lives only here."""
        return dict(
            on_send=lambda c, ch, lang, text: seen.append("send"),
            on_offer=lambda ctx, agent: seen.append("offer"),
            on_cancel_offer=lambda c, a: seen.append("cancel_offer"),
            on_action=lambda c, n, args, a: seen.append("action"),
            on_validate=lambda c, f, v: seen.append("validate") or True,
            on_alert=lambda ctx: seen.append("alert"),
            on_state_change=lambda c, f, t, r: seen.append("state_change"),
            on_event=lambda ev: seen.append("event"),
            on_router_event=lambda ev: seen.append("router_event"))

    def drive_everything(self, e):
        """Makes every engine callback fire once at least."""
        e.customer_message("b1", "why is my bill so high", now=T0)  # action
        e.action_result("b1", True, "explained", now=T0 + 10)
        e.customer_message("v1", "new address please", now=T0 + 20)
        e.customer_message("v1", "123", now=T0 + 30)                # validate
        e.customer_message("h1", "emergency", now=T0 + 40)          # alert
        e.router.add_agent("a", max_per_channel={"chat": 2},
                           skills={"general": 1}, now=T0 + 50)
        e.router.set_agent_status("a", "available", now=T0 + 60)    # offer
        e.router.set_agent_status("a", "away", reason="x",
                                  now=T0 + 70)                      # cancel

    def test_every_callback_survives_gc_while_registered(self):
        seen = []
        e = self.engine(**self.lambdas(seen))
        gc.collect()
        self.drive_everything(e)
        self.assertEqual(set(seen), {
            "send", "offer", "cancel_offer", "action", "validate", "alert",
            "state_change", "event", "router_event"})
        e.close()

    def test_an_exception_in_any_callback_reaches_the_caller(self):
        for name in ("send", "offer", "cancel_offer", "action", "validate",
                     "alert", "state_change", "event", "router_event"):
            with self.subTest(callback=name):
                class Boom(Exception):
                    pass

                def boom(*_):
                    raise Boom(name)
                e = self.engine(**{"on_" + name: boom})
                with self.assertRaises(Boom):
                    self.drive_everything(e)
                # nothing swallowed, nothing crashed: the engine goes on
                e.set_callbacks()
                e.customer_message("z9", "hello", now=T0 + 100000)
                self.assertEqual(e.conv_info("z9").state, "BOT")
                e.close()

    def test_a_callback_returning_false_is_ecallback(self):
        with self.engine(on_send=lambda *a: False) as e:
            with self.assertRaises(CallbackError) as cm:
                e.customer_message("f1", "hello", now=T0)
            self.assertEqual(cm.exception.code, -11)
            self.assertEqual(e.conv_info("f1").state, "BOT")

    def test_validate_later_and_field_result(self):
        asked = []

        def later(conv, field, value):
            asked.append((conv, field, value))
            return VALIDATE_LATER
        with self.engine(on_validate=later) as e:
            e.customer_message("v1", "new address please", now=T0)
            e.customer_message("v1", "999", now=T0 + 1)
            self.assertEqual(asked, [("v1", "id", "999")])
            self.assertEqual(e.conv_info("v1").state, "COLLECT")
            e.field_result("v1", False, now=T0 + 2)    # asked again
            self.assertEqual(e.conv_info("v1").fields, 0)
            with self.assertRaises(convroute.StateError):
                e.field_result("v1", True, now=T0 + 3)  # nothing pending
            e.customer_message("v1", "123456782", now=T0 + 4)
            e.field_result("v1", True, now=T0 + 5)
            self.assertEqual(e.conv_info("v1").state, "QUEUED")
        with self.assertRaises(TypeError):
            bool(VALIDATE_LATER)


class ReentryFromCallbacks(unittest.TestCase):
    """A callback calling back into the object that runs it gets
    StateError, re-raised from the outer call; nothing is freed under the
    running C call (close() from a callback was a use-after-free)."""

    def test_router(self):
        for what in ("close", "set_callbacks", "snapshot", "tick"):
            with self.subTest(call=what), Router() as r:
                r.add_queue("q", now=0)
                r.add_agent("a", max_per_channel={"chat": 1}, now=0)
                r.join("a", "q", now=0)
                r.set_agent_status("a", "available", now=0)

                def offer(ev, what=what):
                    getattr(r, what)(*((5,) if what == "tick" else ()))
                r.set_callbacks(offer=offer)
                with self.assertRaises(convroute.StateError):
                    r.enqueue("c", "q", now=1)
                self.assertFalse(r.closed)
                r.set_callbacks()
                r.accept("c", "a", now=2)   # the offer stands
                self.assertEqual(r.conv_info("c").state, "assigned")

    def test_engine(self):
        with tiny_model() as m:
            for what in ("close", "message", "router", "set_callbacks"):
                with self.subTest(call=what):
                    e = Engine(m)
                    e.router.add_queue("general", auto_members=True, now=0)
                    e.set_policy("greeting", "answer", text={"en": "Hi"})

                    def send(*_, what=what):
                        if what == "close":
                            e.close()
                        elif what == "message":
                            e.customer_message("x2", "hello", now=2)
                        elif what == "router":
                            e.router.add_agent(
                                "b", max_per_channel={"chat": 1}, now=2)
                        else:
                            e.set_callbacks()
                    e.set_callbacks(send=send)
                    with self.assertRaises(convroute.StateError):
                        e.customer_message("x1", "hello", now=1)
                    self.assertFalse(e.closed)
                    e.set_callbacks()
                    self.assertEqual(e.conv_info("x1").state, "BOT")
                    with self.assertRaises(convroute.NotFoundError):
                        e.router.agent_stats("b", now=3)
                    e.close()


class EngineOptions(unittest.TestCase):

    def test_metrics_options_alias_ids_and_router_options(self):
        with tiny_model() as m:
            with Engine(m, metrics={"cost_bot": 0.5, "cost_agent": 5.0,
                                    "window_s": 600},
                        alias_new_ids=1, aht_alpha=0.5) as e:
                e.set_policy("greeting", "answer", text={"en": "Hi"})
                e.set_policy("thanks_goodbye", "end", text={"en": "Bye"})
                e.customer_message("a1", "hello", customer="u1", now=T0)
                e.customer_message("a2", "still me", customer="u1",
                                   now=T0 + 1)
                # the new id reached a1 and became its alias
                self.assertEqual(e.conv_info("a2"), e.conv_info("a1"))
                self.assertEqual(len(e), 1)
                e.end("a2", now=T0 + 2)
                k = e.kpis()
                self.assertEqual((k.contacts, k.bot_contained), (1, 1))
                self.assertEqual(k.cost, 0.5)
                self.assertEqual(e.metrics.window_s, 600)
                # Metrics speaks seconds, the engine milliseconds
                self.assertEqual(e.metrics.window((T0 + 3) / 1000).contacts,
                                 1)
            with Engine(m) as e:  # the defaults: no alias, $0.98 a contact
                e.set_policy("greeting", "answer", text={"en": "Hi"})
                e.customer_message("a1", "hello", customer="u1", now=T0)
                e.customer_message("a2", "still me", customer="u1",
                                   now=T0 + 1)
                with self.assertRaises(convroute.NotFoundError):
                    e.conv_info("a2")
                e.end("a1", now=T0 + 2)
                self.assertAlmostEqual(e.kpis().cost, 0.98)
            with self.assertRaises(MetricsError):
                Engine(m, metrics={"sl_abandon": "sometimes"})


class IntentRules(unittest.TestCase):

    def test_builtin_rules_with_fraud_and_exceptions(self):
        with tiny_model() as m:
            n = m.add_builtin_rules("talk_to_human", "emergency",
                                    fraud_label="fraud")
            self.assertGreater(n, 0)
            self.assertEqual(m.classify("my card was stolen, fraud!").label,
                             "fraud")
            self.assertEqual(m.classify("I want a representative").label,
                             "talk_to_human")
            idx = m.add_rule_exception("talk_to_human", "representative of")
            self.assertEqual(idx, m.rule_count - 1)
            best = m.classify("a representative of your bank called me")
            self.assertFalse(best.from_rule)
            with self.assertRaises(convroute.InvalidArgumentError):
                m.add_rule_exception("talk_to_human", "   ")


@unittest.skipIf(shutil.which("mypy") is None, "mypy not installed "
                 "(Debian: apt-get install mypy)")
@unittest.skipIf(os.environ.get("CONVROUTE_EXPECT_ASAN") or
                 os.environ.get("CONVROUTE_PY_TRACE"), "release run only")
class TypeHints(unittest.TestCase):
    """py.typed promises hints a checker can use: the package and the
    examples pass mypy (no cache written into the checkout)."""

    def test_mypy_clean(self):
        env = dict(os.environ, MYPYPATH=PKG)
        run = subprocess.run(["mypy", "--cache-dir=/dev/null",
                              "--no-error-summary", "convroute", "examples"],
                             cwd=PKG, env=env, capture_output=True,
                             text=True, timeout=600)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)


@unittest.skipUnless(os.environ.get("CONVROUTE_EXPECT_ASAN"),
                     "only in the python_asan run")
class AddressSanitizerIsLive(unittest.TestCase):

    def test_runtime_is_loaded(self):
        me = ctypes.CDLL(None)
        self.assertTrue(hasattr(me, "__asan_report_load1"),
                        "libasan is not in the process (LD_PRELOAD?)")
        self.assertTrue(hasattr(_lib.lib, "__asan_init") or
                        hasattr(me, "__asan_init"))

    def test_an_overread_is_caught(self):
        # A lying length makes the library read past a 64-byte heap
        # buffer: ASan must stop the process and name the error.
        code = textwrap.dedent("""
            import ctypes, convroute._lib as l
            f = l.fn("cr_text_normalize", ctypes.c_int, ctypes.c_void_p,
                     ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t,
                     ctypes.POINTER(ctypes.c_size_t))
            src = ctypes.create_string_buffer(b"a" * 63, 64)
            out = ctypes.create_string_buffer(4096)
            n = ctypes.c_size_t()
            f(src, 1000, out, 4096, ctypes.byref(n))
            print("not caught")""")
        run = subprocess.run([sys.executable, "-c", code], cwd=PKG,
                             env=dict(os.environ), capture_output=True,
                             text=True, timeout=120)
        self.assertNotEqual(run.returncode, 0, run.stdout)
        self.assertIn("heap-buffer-overflow", run.stderr)


if __name__ == "__main__":
    unittest.main()
