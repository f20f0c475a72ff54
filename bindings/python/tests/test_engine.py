"""convroute.Engine: every wrapped function, callback lifetime and
exceptions, snapshot/restore, and a whole hybrid conversation in Hebrew
(bot collects a field, hands off with the context, the agent accepts,
hands one step back to the bot, gets it back, closes; survey)."""
import gc
import os
import unittest
import weakref

from convroute import (ConvrouteError, Context, Engine, EngineEvent,
                       FieldSpec, IntentModel)
from convroute.engine import EVENTS, REASONS, STATES, transition

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "..", "examples",
                    "data")
MODEL = None
T0 = 1795334400000  # Sunday 2026-11-22 08:00 UTC = 10:00 in Israel


def setUpModule():
    global MODEL
    MODEL = IntentModel.train_tsv(
        *(os.path.join(DATA, f) for f in ("intents_he.tsv", "intents_en.tsv",
                                          "intents_oos.tsv")),
        oos_label="oos", min_df=1)
    MODEL.add_builtin_rules("talk_to_human", "emergency")


def tearDownModule():
    MODEL.close()


class Recorder:
    """Collects everything the engine says, per callback."""

    def __init__(self):
        self.sent, self.offers, self.cancels = [], [], []
        self.actions, self.alerts, self.states = [], [], []
        self.journal, self.router = [], []

    def callbacks(self):
        return dict(
            on_send=lambda c, ch, lang, text: self.sent.append(
                (c, ch, lang, text)),
            on_offer=lambda ctx, agent: self.offers.append((ctx, agent)),
            on_cancel_offer=lambda c, a: self.cancels.append((c, a)),
            on_action=lambda c, name, args, agent: self.actions.append(
                (c, name, args, agent)),
            on_alert=lambda ctx: self.alerts.append(ctx),
            on_state_change=lambda c, f, t, r: self.states.append(
                (c, f, t, r)),
            on_event=self.journal.append,
            on_router_event=self.router.append)

    def types(self, conv=None):
        return [e.type for e in self.journal if conv in (None, e.conv)]


def demo_engine(rec=None, **kw):
    """The demo bot, abridged: queues general/billing/tech, Hebrew rule,
    VIP rule, policies for the intents these tests use, Sun-Thu hours."""
    cbs = rec.callbacks() if rec else {}
    cbs.update(kw)
    e = Engine(MODEL, utc_offset_min=120, **cbs)
    r = e.router
    for q in ("general", "billing", "tech", "vip"):
        r.add_queue(q, skills={q: 1}, auto_members=True, max_wait_ms=360000,
                    escalate_before_ms=60000, now=T0)
    e.set_policy("greeting", "answer",
                 text={"he": "שלום! במה אפשר לעזור?", "en": "Hi!"})
    e.set_policy("thanks_goodbye", "end", text={"he": "יום טוב!"})
    e.set_policy("invoice_copy", "action", action="send_invoice",
                 queue="billing", text={"he": "שולח/ת..."})
    e.set_policy("billing_question", "collect", queue="billing",
                 text={"he": "אשמח לעזור."},
                 fields=[FieldSpec("account", {"he": "מה מספר החשבון?",
                                               "en": "Account number?"},
                                   "digits", 6, 10)])
    e.set_policy("address_change", "collect", queue="general",
                 fields=[FieldSpec("id", {"he": "מספר תעודת זהות?"},
                                   "callback")])
    e.set_policy("talk_to_human", "human", queue="general")
    e.set_policy("emergency", "emergency", queue="general")
    e.add_rule("lang", "he", skills={"he": 3})
    e.add_rule("tier", "vip", queue="vip", priority_add=50)
    e.set_text("handoff", "he", "מעביר/ה לנציג/ה")
    e.set_hours([(d, "08:00", "20:00") for d in range(5)])
    return e


def login(e, agent, skills, now, **cap):
    e.router.add_agent(agent, max_per_channel=cap or {"chat": 3,
                                                      "whatsapp": 3},
                       skills=skills, now=now)
    e.router.set_agent_status(agent, "available", now=now)


class HebrewHybridConversation(unittest.TestCase):
    """The scenario of issue 5, in Hebrew, through every piece."""

    def test_whole_conversation(self):
        rec = Recorder()
        with demo_engine(rec) as e:
            t = T0
            login(e, "dana", {"billing": 4, "he": 5}, t)
            # 1. the customer writes in Hebrew; the bot asks for a field
            e.customer_message("c1", "למה החשבון שלי כל כך גבוה החודש?",
                               customer="u1", channel="whatsapp",
                               profile={"lang": "he", "tier": "gold"},
                               now=t + 1000)
            self.assertEqual(e.conv_info("c1").state, "COLLECT")
            self.assertIn("מה מספר החשבון?", [s[3] for s in rec.sent])
            self.assertEqual(rec.sent[-1][1:3], ("whatsapp", "he"))
            # an invalid value is asked again, a valid one hands off
            e.customer_message("c1", "לא יודע", now=t + 3000)
            self.assertEqual(e.conv_info("c1").fields, 0)
            self.assertIn("FIELD_BAD", rec.types("c1"))
            e.customer_message("c1", "12345678", now=t + 5000)
            # 2. handed off with the whole context, offered to dana
            self.assertEqual(len(rec.offers), 1)
            ctx, agent = rec.offers[0]
            self.assertIsInstance(ctx, Context)
            self.assertEqual(agent, "dana")
            self.assertEqual(ctx.reason, "COLLECTED")
            self.assertEqual(ctx.queue, "billing")
            self.assertEqual(ctx.intent, "billing_question")
            self.assertEqual(ctx.fields, {"account": "12345678"})
            self.assertEqual(ctx.profile, {"lang": "he", "tier": "gold"})
            self.assertEqual((ctx.lang, ctx.customer, ctx.channels),
                             ("he", "u1", ("whatsapp",)))
            said = [(l.sender, l.text) for l in ctx.transcript]
            self.assertIn(("customer", "למה החשבון שלי כל כך גבוה החודש?"),
                          said)
            self.assertIn(("customer", "12345678"), said)
            self.assertIn(("bot", "מה מספר החשבון?"), said)
            self.assertEqual(ctx.dropped, 0)
            self.assertEqual(ctx.intents[0].label, "billing_question")
            # 3. the agent accepts and answers
            e.accept("c1", "dana", now=t + 9000)
            self.assertEqual(e.conv_info("c1").state, "AGENT")
            self.assertEqual(e.conv_info("c1").agent, "dana")
            e.reply("c1", "dana", "שלום, אני דנה. אשלח לך את החשבונית.",
                    now=t + 12000)
            self.assertEqual(rec.sent[-1][3],
                             "שלום, אני דנה. אשלח לך את החשבונית.")
            # 4. one step to the bot, and back
            e.step("c1", "dana", "send_invoice", {"month": "2026-10"},
                   now=t + 30000)
            self.assertEqual(e.conv_info("c1").state, "BOTSTEP")
            self.assertEqual(rec.actions[-1],
                             ("c1", "send_invoice", "month=2026-10", "dana"))
            with self.assertRaises(ConvrouteError) as cm:
                e.reply("c1", "dana", "עדיין פה?", now=t + 30500)
            self.assertEqual(cm.exception.name, "ESTATE")
            e.action_result("c1", True, "החשבונית נשלחה", now=t + 31000)
            self.assertEqual(e.conv_info("c1").state, "AGENT")
            # 5. close, then the survey lands on dana
            e.close_conversation("c1", "dana", resolved=True, now=t + 45000)
            self.assertEqual(len(e), 0)
            with self.assertRaises(ConvrouteError):
                e.conv_info("c1")
            e.survey("c1", csat=5, nps=9, ces=6, now=t + 50000)
            self.assertEqual(rec.types("c1")[-3:],
                             ["CLOSE", "WRAPUP_END", "SURVEY"])
            self.assertEqual(rec.journal[-1].agent, "dana")
            k = e.kpis("agent", "dana")
            self.assertEqual((k.answered, k.csat_n, k.csat_mean, k.nps),
                             (1, 1, 5.0, 100.0))
            total = e.kpis()
            self.assertEqual((total.contacts, total.escalated,
                              total.resolved), (1, 1, 1))
            self.assertEqual(total.containment, 0.0)
            self.assertAlmostEqual(total.asa_s, 4.0)  # queued 5 s, taken 9 s
            # the journal is consecutive and names every state change
            self.assertEqual([j.seq for j in rec.journal],
                             list(range(1, len(rec.journal) + 1)))
            self.assertTrue(all(isinstance(j, EngineEvent)
                                for j in rec.journal))
            changes = [(s[1], s[2]) for s in rec.states if s[0] == "c1"]
            self.assertIn(("COLLECT", "QUEUED"), changes)
            self.assertIn(("BOTSTEP", "AGENT"), changes)
            self.assertEqual(changes[-1], ("WRAPUP", "CLOSED"))
            self.assertIn("CONNECT", [r.name for r in rec.router])


class EngineFunctions(unittest.TestCase):

    def test_tick_never_is_erange(self):
        # tick(next_timeout) with nothing pending fired an empty heap and
        # killed the interpreter (SIGSEGV)
        with demo_engine() as e:
            self.assertIsNone(e.next_timeout())
            with self.assertRaises(ConvrouteError) as cm:
                e.tick(2**63 - 1)
            self.assertEqual(cm.exception.name, "ERANGE")
            e.tick(T0)  # the clock did not move; the engine still works
            e.customer_message("n1", "hello", now=T0 + 1)
            self.assertEqual(e.conv_info("n1").state, "BOT")

    def test_survey_once(self):
        with demo_engine() as e:
            e.customer_message("s1", "hello", now=T0)
            e.end("s1", now=T0 + 1000)
            e.survey("s1", csat=5, now=T0 + 2000)
            with self.assertRaises(ConvrouteError) as cm:
                e.survey("s1", csat=5, now=T0 + 3000)
            self.assertEqual(cm.exception.name, "EEXIST")
            self.assertEqual(e.kpis().csat_n, 1)

    def test_tables_and_names(self):
        self.assertEqual(len(STATES), 13)
        self.assertEqual(EVENTS[9], "HUMAN")
        self.assertEqual(REASONS[1], "REQUESTED")
        self.assertEqual(transition("BOT", "HUMAN"), "QUEUED")
        self.assertEqual(transition("OFFERED", "ACCEPT"), "AGENT")
        self.assertEqual(transition(7, "ACTION_OK"), "AGENT")
        with self.assertRaises(ConvrouteError) as cm:
            transition("WRAPUP", "MESSAGE")
        self.assertEqual(cm.exception.name, "ESTATE")
        with self.assertRaises(ConvrouteError):
            transition("NOPE", "MESSAGE")

    def test_bot_contained_end_and_answers(self):
        rec = Recorder()
        with demo_engine(rec) as e:
            e.customer_message("b1", "שלום", profile="lang=he", now=T0)
            self.assertEqual(e.conv_info("b1").state, "BOT")
            self.assertIn("שלום! במה אפשר לעזור?", [s[3] for s in rec.sent])
            e.customer_message("b1", "תשלחו לי העתק של החשבונית",
                               now=T0 + 1000)
            self.assertEqual(rec.actions[-1][:2], ("b1", "send_invoice"))
            self.assertIsNone(rec.actions[-1][3])
            e.action_result("b1", True, now=T0 + 2000)
            self.assertEqual(e.conv_info("b1").state, "BOT")
            e.end("b1", now=T0 + 3000)
            self.assertEqual(rec.journal[-1].to_state, "RESOLVED")
            k = e.kpis()
            self.assertEqual((k.contacts, k.bot_contained), (1, 1))
            self.assertEqual(k.containment, 1.0)
            self.assertEqual(e.metrics.keys("channel"), ["chat"])

    def test_failed_action_escalates(self):
        rec = Recorder()
        with demo_engine(rec) as e:
            e.customer_message("f1", "תשלחו לי העתק של החשבונית",
                               profile={"lang": "he"}, now=T0)
            e.action_result("f1", False, "mail down", now=T0 + 1000)
            s = e.conv_info("f1")
            self.assertEqual((s.state, s.reason, s.queue),
                             ("QUEUED", "ACTION_FAILED", "billing"))

    def test_reject_transfer_switch_abandon_wrapup(self):
        rec = Recorder()
        with demo_engine(rec, wrapup_ms=30000) as e:
            login(e, "a1", {"general": 2}, T0)
            login(e, "a2", {"general": 2}, T0)
            login(e, "t1", {"tech": 2}, T0)
            e.customer_message("x1", "representative", channel="chat",
                               now=T0 + 1000)
            first = rec.offers[-1][1]
            e.reject("x1", first, now=T0 + 2000)
            second = rec.offers[-1][1]
            self.assertNotEqual(first, second)
            rej = [j for j in rec.journal if j.type == "REJECT"]
            self.assertEqual([(j.conv, j.agent) for j in rej],
                             [("x1", first)])
            e.accept("x1", second, now=T0 + 3000)
            e.channel_switch("x1", "whatsapp", now=T0 + 4000)
            self.assertEqual(e.conv_info("x1").channel, "whatsapp")
            e.transfer("x1", second, queue="tech", now=T0 + 5000)
            ctx, agent = rec.offers[-1]
            self.assertEqual((agent, ctx.queue, ctx.prev_agent,
                              ctx.transfers), ("t1", "tech", second, 1))
            self.assertEqual(ctx.channels, ("chat", "whatsapp"))
            e.accept("x1", "t1", now=T0 + 6000)
            e.close_conversation("x1", "t1", now=T0 + 7000)
            self.assertEqual(e.conv_info("x1").state, "WRAPUP")
            self.assertEqual(e.next_timeout(), T0 + 37000)
            e.wrapup_done("x1", now=T0 + 8000)
            self.assertEqual(rec.journal[-1].type, "WRAPUP_END")
            # abandon while queued: nobody has the vip skill, so a VIP
            # customer waits
            e.customer_message("x2", "representative", profile={"tier": "vip"},
                               now=T0 + 9000)
            self.assertEqual(e.conv_info("x2").queue, "vip")
            e.abandon("x2", now=T0 + 10000)
            self.assertEqual(rec.journal[-1].to_state, "ABANDONED")
            self.assertEqual(e.kpis().abandoned, 1)

    def test_opening_hours_and_cancelled_offer(self):
        rec = Recorder()
        friday = T0 + 5 * 86400000  # Friday 10:00 local: closed
        with demo_engine(rec, keep_queued_after_hours=0) as e:
            e.customer_message("h1", "I want to talk to a human", now=friday)
            self.assertEqual(rec.journal[-1].to_state, "EXPIRED")
            self.assertEqual(rec.journal[-1].reason, "AFTER_HOURS")
            self.assertEqual(len(e), 0)
            sunday = T0 + 7 * 86400000  # Sunday 10:00: open
            login(e, "a1", {"general": 1}, sunday)
            e.customer_message("h2", "I want to talk to a human", now=sunday)
            self.assertEqual(rec.offers[-1][1], "a1")
            e.abandon("h2", now=sunday + 1000)
            self.assertEqual(rec.cancels, [("h2", "a1")])
            self.assertEqual(e.kpis().abandoned, 1)
            self.assertEqual(sorted(e.metrics.groups("queue")), ["general"])

    def test_timers_and_advance(self):
        rec = Recorder()
        with demo_engine(rec) as e:
            self.assertIsNone(e.next_timeout())
            e.customer_message("w1", "I want to talk to a human", now=T0)
            self.assertEqual(e.next_timeout(), T0 + 300000)
            e.tick(T0 + 299999)
            self.assertNotIn("MAXWAIT", rec.types())
            self.assertEqual(e.advance(T0 + 400000), 2)
            mw = [j for j in rec.journal if j.type == "MAXWAIT"]
            self.assertEqual([j.time for j in mw], [T0 + 300000, T0 + 360000])
            self.assertEqual(rec.alerts[-1].reason, "MAX_WAIT")

    def test_validate_callback_and_emergency_alert(self):
        rec = Recorder()
        seen = []

        def valid_id(conv, fld, value):
            seen.append((conv, fld, value))
            return value == "123456782"
        with demo_engine(rec, on_validate=valid_id) as e:
            e.customer_message("v1", "עברתי דירה, צריך לעדכן כתובת",
                               profile={"lang": "he"}, now=T0)
            self.assertEqual(e.conv_info("v1").state, "COLLECT")
            e.customer_message("v1", "111", now=T0 + 1000)
            self.assertEqual(e.conv_info("v1").fields, 0)
            e.customer_message("v1", "123456782", now=T0 + 2000)
            self.assertEqual(seen, [("v1", "id", "111"),
                                    ("v1", "id", "123456782")])
            self.assertEqual(e.conv_info("v1").state, "QUEUED")
            e.customer_message("v2", "יש כבל חשמל קרוע ומתנוצץ ליד הבית",
                               profile={"lang": "he"}, now=T0 + 3000)
            self.assertEqual(rec.alerts[-1].reason, "EMERGENCY")
            self.assertEqual(rec.alerts[-1].conv, "v2")

    def test_errors_change_nothing(self):
        rec = Recorder()
        with demo_engine(rec) as e:
            e.customer_message("c1", "hello", now=T0)
            n = len(rec.journal)
            with self.assertRaises(ConvrouteError) as cm:
                e.reply("c1", "nobody", "hi", now=T0 + 1)
            self.assertIn(cm.exception.name, ("ESTATE", "ENOTFOUND"))
            with self.assertRaises(ConvrouteError) as cm:
                e.customer_message("c1", "late", now=T0 - 5)
            self.assertEqual(cm.exception.name, "EORDER")
            with self.assertRaises(ConvrouteError) as cm:
                e.set_policy("no_such_label", "answer", text={"en": "x"})
            self.assertEqual(cm.exception.name, "ENOTFOUND")
            with self.assertRaises(ConvrouteError):
                e.set_policy("greeting", "dance")
            with self.assertRaises(ConvrouteError):
                e.survey("c1", csat=5, now=T0 + 2)  # still live
            self.assertEqual(len(rec.journal), n)
            self.assertEqual(e.conv_info("c1").state, "BOT")
            with self.assertRaises(ConvrouteError):
                e.router.enqueue("zz", "general", now=T0 + 3)
            with self.assertRaises(ConvrouteError):
                e.router.set_callbacks()
            with self.assertRaises(ConvrouteError):
                e.metrics.add(arrived_at=0, ended_at=1)
            with self.assertRaises(TypeError):
                Engine(MODEL, no_such_option=1)
        with self.assertRaises(ConvrouteError) as cm:
            e.customer_message("c2", "hi", now=T0 + 5)
        self.assertEqual(cm.exception.name, "ECLOSED")
        self.assertTrue(e.closed)
        e.close()  # idempotent
        with self.assertRaises(ConvrouteError):
            e.router.queue_stats("general", now=T0 + 6)


class CallbackLifetime(unittest.TestCase):

    def test_callback_survives_garbage_collection(self):
        calls = []

        class Sink:
            def __call__(self, ev):
                calls.append(ev.type)

        sink = Sink()
        ref = weakref.ref(sink)
        e = demo_engine(on_event=sink)
        del sink
        gc.collect()
        self.assertIsNotNone(ref(), "the engine must keep its callback")
        e.customer_message("g1", "hello", now=T0)
        self.assertIn("ANSWER", calls)
        e.set_callbacks()  # cleared: the engine lets it go
        gc.collect()
        self.assertIsNone(ref())
        e.customer_message("g1", "thanks, bye", now=T0 + 1000)
        self.assertNotIn("BOT_END", calls)
        e.close()

    def test_engine_keeps_the_model_alive(self):
        m = IntentModel.train([("greeting", "hello"), ("greeting", "hi"),
                               ("talk_to_human", "agent please"),
                               ("talk_to_human", "a human")])
        ref = weakref.ref(m)
        e = Engine(m)
        del m
        gc.collect()
        self.assertIsNotNone(ref())
        e.router.add_queue("general", skills={"general": 1},
                           auto_members=True, now=0)
        e.customer_message("k1", "agent please", now=1)
        e.close()


class CallbackExceptions(unittest.TestCase):

    def test_exception_in_send_is_reraised_after_the_change(self):
        def boom(*_):
            raise ValueError("send failed")
        rec = Recorder()
        with demo_engine(rec, on_send=boom) as e:
            with self.assertRaises(ValueError) as cm:
                e.customer_message("s1", "I want to talk to a human", now=T0)
            self.assertIn("ECALLBACK", " ".join(getattr(cm.exception,
                                                        "__notes__", [])))
            # the change was committed: the journal and the state agree
            self.assertEqual(e.conv_info("s1").state, "QUEUED")
            self.assertEqual(rec.journal[-1].to_state, "QUEUED")
            # the next call is clean
            e.channel_switch("s1", "sms", now=T0 + 1)

    def test_exception_in_offer_during_a_router_call(self):
        def bad_offer(ctx, agent):
            raise RuntimeError("desk app down for " + agent)
        rec = Recorder()
        with demo_engine(rec, on_offer=bad_offer) as e:
            e.customer_message("o1", "representative", now=T0)
            with self.assertRaises(RuntimeError):
                login(e, "a1", {"general": 1}, T0 + 1000)
            # the offer stands until answered (header contract)
            self.assertEqual(e.conv_info("o1").state, "OFFERED")
            e.accept("o1", "a1", now=T0 + 2000)
            self.assertEqual(e.conv_info("o1").state, "AGENT")

    def test_exception_in_action_fails_the_action(self):
        def bad_action(*_):
            raise KeyError("no such invoice")
        rec = Recorder()
        with demo_engine(rec, on_action=bad_action) as e:
            with self.assertRaises(KeyError):
                e.customer_message("a1", "תשלחו לי העתק של החשבונית",
                                   now=T0)
            s = e.conv_info("a1")
            self.assertEqual((s.state, s.reason), ("QUEUED", "ACTION_FAILED"))

    def test_two_exceptions_in_one_call(self):
        def bad(*_):
            raise ValueError("first")

        def worse(*_):
            raise TypeError("second")
        with demo_engine(on_send=bad, on_event=worse) as e:
            with self.assertRaises(Exception) as cm:
                e.customer_message("d1", "hello", now=T0)
            notes = " ".join(getattr(cm.exception, "__notes__", []))
            self.assertIn("another callback also raised", notes)

    def test_validate_exception(self):
        def bad(*_):
            raise ZeroDivisionError()
        with demo_engine(on_validate=bad) as e:
            e.customer_message("z1", "עברתי דירה, צריך לעדכן כתובת",
                               now=T0)
            with self.assertRaises(ZeroDivisionError):
                e.customer_message("z1", "123456782", now=T0 + 1)
            # an error from validate counts as an invalid value
            self.assertEqual(e.conv_info("z1").state, "COLLECT")


class SnapshotRestore(unittest.TestCase):

    def drive(self, e, part):
        t = T0
        if part == 0:
            login(e, "a1", {"general": 2, "he": 4, "billing": 2}, t)
            e.customer_message("r1", "אני רוצה לדבר עם נציג",
                               profile={"lang": "he"}, channel="whatsapp",
                               now=t + 1000)
            e.customer_message("r2", "למה החשבון שלי כל כך גבוה החודש?",
                               profile={"lang": "he"}, now=t + 2000)
            e.accept("r1", "a1", now=t + 3000)
        else:
            e.reply("r1", "a1", "שלום", now=t + 4000)
            e.customer_message("r2", "12345678", now=t + 5000)
            e.accept("r2", "a1", now=t + 6000)
            e.close_conversation("r1", "a1", now=t + 7000)
            e.advance(t + 600000)

    def test_restore_gives_the_same_journal(self):
        ra, rb = Recorder(), Recorder()
        a = demo_engine(ra)
        self.drive(a, 0)
        blob = a.snapshot()
        self.assertIsInstance(blob, bytes)
        b = demo_engine(rb)
        b.restore(blob)
        self.assertEqual(len(b), len(a))
        self.assertEqual(b.conv_info("r1"), a.conv_info("r1"))
        n = len(ra.journal)
        self.drive(a, 1)
        self.drive(b, 1)
        self.assertEqual(ra.journal[n:], rb.journal)
        self.assertEqual(b.snapshot(), a.snapshot())
        with self.assertRaises(ConvrouteError) as cm:
            b.restore(blob[:-7])
        self.assertIn(cm.exception.name, ("ECORRUPT", "EVERSION"))
        with self.assertRaises(ConvrouteError):
            b.restore("not bytes")
        a.close()
        b.close()


if __name__ == "__main__":
    unittest.main()
