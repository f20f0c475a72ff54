"""Defects of the binding found in review, one class each: a model closed
while an engine borrows it, engine views that kept freed C handles after
restore(), profile dicts joined without checks, a nested call losing a
callback's exception, integers silently truncated by ctypes; and the
closed-object, callable and number checks that go with them. Each class
fails on the binding before its fix."""
import ctypes
import gc
import unittest

import convroute
from convroute import (CallbackError, ClosedError, Engine, IntentModel,
                       IntentTrainer, InvalidArgumentError, Metrics,
                       RangeError, Router, StateError)
from convroute import _lib, staffing
from convroute.engine import _metrics, _router
from convroute.metrics import MetricsError
from convroute.staffing import StaffingError

PAIRS = [("billing", "my bill is wrong"), ("billing", "invoice too high"),
         ("human", "talk to a person"), ("human", "agent please")]


def small_model():
    m = IntentModel.train(PAIRS, calibration=0)
    m.add_builtin_rules("human", "emergency")
    return m


def bot_engine(model, **kw):
    """An engine whose bot answers "billing" itself (no queue needed)."""
    eng = Engine(model, **kw)
    eng.set_policy("billing", "answer", text={"en": "see invoice"})
    return eng


def handoff_engine(model, offers, **kw):
    """An engine that hands "talk to a person" to agent a of queue general
    (its offers recorded as (queue, profile))."""
    eng = Engine(model, human_label="human", default_queue="general",
                 on_offer=lambda ctx, agent: offers.append(
                     (ctx.queue, ctx.profile)), **kw)
    r = eng.router
    r.add_queue("general", now=0)
    r.add_queue("vip", now=0)
    r.add_agent("a", now=0, max_per_channel={"chat": 1})
    r.join("a", "general", now=0)
    r.join("a", "vip", now=0)
    r.set_agent_status("a", "available", now=0)
    eng.set_policy("human", "human")
    eng.add_rule("tier", "vip", queue="vip")
    return eng


class ModelBorrowedByEngine(unittest.TestCase):
    """IntentModel.close() while an Engine borrows it: the free waits for
    the last borrowing engine (it used to free the model under the C
    engine: heap-use-after-free in cr_intent_predict)."""

    def test_close_while_borrowed_defers_the_free(self):
        with small_model() as m:
            eng = bot_engine(m, human_label="human")
        self.assertTrue(m.closed)
        self.assertIsNotNone(m._m)  # still alive for the engine
        with self.assertRaises(ClosedError):
            m.predict("my bill is wrong")
        with self.assertRaises(ValueError):  # as before
            m.labels
        events = []
        eng.set_callbacks(event=events.append)
        eng.customer_message("c1", "my bill is wrong", now=1000)
        self.assertIn("billing", [e.intent for e in events])
        eng.close()
        self.assertIsNone(m._m)  # freed with the last borrower
        self.assertTrue(m.closed)
        m.close()  # idempotent

    def test_two_engines(self):
        m = small_model()
        e1, e2 = bot_engine(m), bot_engine(m)
        m.close()
        e1.close()
        self.assertIsNotNone(m._m)
        e2.customer_message("c1", "invoice too high", now=1000)
        e2.close()
        self.assertIsNone(m._m)

    def test_engine_closed_first_then_model(self):
        m = small_model()
        Engine(m).close()
        self.assertFalse(m.closed)
        m.predict("agent please")
        m.close()
        self.assertIsNone(m._m)

    def test_close_from_an_engine_callback(self):
        m = small_model()
        eng = bot_engine(m, on_event=lambda ev: m.close())
        eng.customer_message("c1", "my bill is wrong", now=1000)
        self.assertTrue(m.closed)
        eng.customer_message("c1", "invoice too high", now=2000)
        self.assertIsNotNone(m._m)
        eng.close()
        self.assertIsNone(m._m)

    def test_closed_model_refused_by_engine(self):
        m = small_model()
        e = Engine(m)
        m.close()  # pending: counts as closed
        with self.assertRaises(InvalidArgumentError):
            Engine(m)
        e.close()

    def test_collected_engine_releases(self):
        m = small_model()
        e = Engine(m)
        m.close()
        del e
        gc.collect()
        self.assertIsNone(m._m)


class ClosedModelAndTrainer(unittest.TestCase):
    """A closed IntentModel / IntentTrainer raises ClosedError like Router
    and Engine (still a ValueError, as before)."""

    def test_closed_trainer_and_model(self):
        t = IntentTrainer()
        t.close()
        with self.assertRaises(ClosedError) as cm:
            len(t)
        self.assertIsInstance(cm.exception, ValueError)
        self.assertEqual(cm.exception.name, "ECLOSED")
        m = small_model()
        m.close()
        with self.assertRaises(ClosedError):
            m.classify("agent please")


class ViewsAfterRestore(unittest.TestCase):
    """engine.router / engine.metrics fetch the C handle on every use:
    restore() frees the old router and accumulator."""

    def test_router_view(self):
        with small_model() as m, Engine(m) as eng:
            r = eng.router
            r.add_queue("general", now=0)
            snap = eng.snapshot()
            eng.restore(snap)
            self.assertEqual(ctypes.c_void_p(r._handle()).value,
                             ctypes.c_void_p(_router(eng._e)).value)
            self.assertEqual(r.queue_stats("general", now=10).waiting, 0)
            r.add_queue("second", now=10)
            self.assertEqual(eng.router.queue_stats("second",
                                                    now=10).waiting, 0)
        with self.assertRaises(ClosedError):
            r.queue_stats("general", now=20)
        self.assertTrue(r.closed)

    def test_metrics_view(self):
        with small_model() as m, Engine(m) as eng:
            k = eng.metrics
            self.assertEqual(eng.kpis().contacts, 0)
            eng.restore(eng.snapshot())
            self.assertEqual(k._handle, _metrics(eng._e))
            self.assertEqual(k.report().contacts, 0)
            self.assertEqual(eng.kpis().contacts, 0)
        with self.assertRaises(ClosedError):
            k.report()


class ProfileDicts(unittest.TestCase):
    """A profile (or step args) dict is joined "k=v;k=v" only when the
    engine reads every pair back as given."""

    def setUp(self):
        self.model = small_model()
        self.offers = []
        self.eng = handoff_engine(self.model, self.offers)

    def tearDown(self):
        self.eng.close()
        self.model.close()

    def test_injected_key_refused(self):
        with self.assertRaises(InvalidArgumentError):
            self.eng.customer_message(
                "c1", "talk to a person", now=1000,
                profile={"name": "Bob;tier=vip", "tier": "basic"})
        self.assertEqual(self.offers, [])
        self.assertEqual(len(self.eng), 0)  # nothing started

    def test_misread_pairs_refused(self):
        for bad in ({"": "x"}, {"a=b": "x"}, {"a;b": "x"}, {" a": "x"},
                    {"a\0": "x"}, {"a": "x;y"}, {"a": "x\0"}, {"a": "x "},
                    {"a": " "}):
            with self.subTest(profile=bad):
                with self.assertRaises(InvalidArgumentError):
                    self.eng.customer_message("c1", "talk to a person",
                                              now=1000, profile=bad)
        self.assertEqual(len(self.eng), 0)

    def test_what_is_read_back_is_allowed(self):
        prof = {"name": "Bob", "tier": "basic", "expr": "a=b", "pad": " x",
                "key ": "v", "empty": ""}
        self.eng.customer_message("c1", "talk to a person", now=1000,
                                  profile=prof)
        self.assertEqual(self.offers, [("general", prof)])

    def test_step_args(self):
        with self.assertRaises(InvalidArgumentError):
            self.eng.step("c1", "a", "refund", {"amount": "5;x=1"}, now=1)


class CallbacksMustBeCallable(unittest.TestCase):
    """Engine refuses a non-callable callback at once, as Router does (it
    used to fail only when the engine first called it)."""

    def test_engine_callbacks_must_be_callable(self):
        with small_model() as m:
            with self.assertRaises(InvalidArgumentError):
                Engine(m, on_send="not callable")
            with Engine(m) as eng:
                with self.assertRaises(InvalidArgumentError):
                    eng.set_callbacks(offer=42)


class NestedCallKeepsException(unittest.TestCase):
    """A call from inside a callback is refused before it can reset the
    exception an earlier callback of the same call raised."""

    def test_router(self):
        r = None
        refused = []

        def on_offer(ev):
            raise ValueError("offer handler bug")

        def on_event(ev):
            if ev.name == "OFFER":
                try:
                    r.queue_stats("q", now=ev.time)
                except StateError as e:
                    refused.append(e)
        r = Router(on_offer=on_offer, on_event=on_event)
        r.add_queue("q", now=0)
        r.add_agent("a", now=0, max_per_channel={"chat": 1})
        r.join("a", "q", now=0)
        r.set_agent_status("a", "available", now=0)
        with self.assertRaisesRegex(ValueError, "offer handler bug"):
            r.enqueue("c1", "q", now=1)
        self.assertEqual(len(refused), 1)
        r.close()

    def test_engine(self):
        m = small_model()
        eng = None
        refused = []

        def on_send(*a):
            raise KeyError("send bug")

        def on_event(ev):
            try:
                eng.conv_info("c1")
            except StateError as e:
                refused.append(e)
        eng = Engine(m, on_send=on_send, on_event=on_event)
        eng.set_policy("billing", "answer", text={"en": "see invoice"})
        with self.assertRaises(KeyError):
            eng.customer_message("c1", "my bill is wrong", now=1000)
        self.assertTrue(refused)
        eng.close()
        m.close()


class IntegerRanges(unittest.TestCase):
    """Integers that do not fit their C type raise RangeError (CR_ERANGE)
    instead of wrapping."""

    def setUp(self):
        self.r = Router()
        self.r.add_queue("q", now=0)
        self.r.add_agent("a", now=0, max_per_channel={"chat": 1})

    def tearDown(self):
        self.r.close()

    def test_function_arguments(self):
        with self.assertRaises(RangeError) as cm:
            self.r.tick(2**64 + 5)
        self.assertEqual(cm.exception.name, "ERANGE")
        with self.assertRaises(RangeError):
            self.r.tick(-2**63 - 1)
        with self.assertRaises(RangeError):
            self.r.enqueue("c1", "q", now=2**64 + 10)
        with self.assertRaises(RangeError):
            self.r.join("a", "q", now=20, priority=2**32)
        with self.assertRaises(convroute.ConvrouteError):
            self.r.conv_info("c1")  # nothing was enqueued

    def test_struct_fields(self):
        with self.assertRaises(RangeError):
            self.r.enqueue("c1", "q", now=10, channel=2**32 + 1)
        with self.assertRaises(RangeError):
            self.r.add_agent("b", now=0, max_per_channel={"chat": 2**32 + 1})
        with self.assertRaises(RangeError):
            self.r.add_agent("b", now=0, max_per_channel={"chat": -1})
        with self.assertRaises(RangeError):
            self.r.add_queue("q2", now=0, max_wait_ms=2**63)
        with self.assertRaises(RangeError):
            Router(offer_timeout_ms=2**64 + 1000)

    def test_intent_trainer(self):
        with self.assertRaises(RangeError):
            IntentTrainer(hash_bits=2**32 + 12)
        with self.assertRaises(ValueError):  # RangeError is one
            IntentTrainer(seed=-1)

    def test_engine(self):
        with small_model() as m:
            with self.assertRaises(RangeError):
                Engine(m, idle_ms=2**64 + 1)
            with Engine(m) as eng:
                with self.assertRaises(RangeError):
                    eng.tick(2**64 + 5)
                with self.assertRaises(RangeError):
                    eng.customer_message("c1", "hi", now=2**64 + 1000)
                self.assertEqual(len(eng), 0)

    def test_metrics(self):
        with Metrics() as m:
            with self.assertRaises(RangeError) as cm:
                m.add(arrived_at=2**64 // 1000 + 1,
                      ended_at=2**64 // 1000 + 61, handled_by="bot")
            self.assertIsInstance(cm.exception, MetricsError)
            with self.assertRaises(InvalidArgumentError):
                m.add(arrived_at=float("nan"), ended_at=1)
            with self.assertRaises(RangeError):
                m.add(arrived_at=0, ended_at=float("inf"))
            # the record's int fields are checked on the way in
            for f in ("csat", "resolved", "escalated", "nps"):
                with self.assertRaises(RangeError):
                    m.add(arrived_at=0, ended_at=1, handled_by="bot",
                          **{f: 2**32 + 1})
            with self.assertRaises(RangeError):
                m.survey(0, csat=2**32 + 5)
            self.assertEqual(m.report().contacts, 0)

    def test_callback_return(self):
        with small_model() as m:
            eng = Engine(m, on_send=lambda *a: 2**32, human_label="human")
            eng.set_policy("billing", "answer", text={"en": "see invoice"})
            with self.assertRaises(CallbackError):
                eng.customer_message("c1", "my bill is wrong", now=1000)
            eng.set_callbacks(send=lambda *a: -2**40)
            with self.assertRaises(CallbackError):
                eng.customer_message("c1", "invoice too high", now=2000)
            eng.close()

    def test_staffing_huge_number(self):
        with self.assertRaises(RangeError) as cm:
            staffing.erlang_b(10**400, 5)
        self.assertIsInstance(cm.exception, StaffingError)

    def test_helpers(self):
        self.assertEqual(_lib.int_range(ctypes.c_uint8), (0, 255))
        self.assertEqual(_lib.int_range(ctypes.c_int16), (-32768, 32767))
        self.assertIsNone(_lib.int_range(ctypes.c_double))
        self.assertIsNone(_lib.int_range(ctypes.c_char_p))


if __name__ == "__main__":
    unittest.main()
