import gc
import unittest
import weakref

import convroute
from convroute import ConvrouteError, Router
from convroute.router import (AgentStats, ConvInfo, QueueStats, RouterEvent,
                              RouteStep, event_name)


class Log:
    """Collects events; one instance per callback slot."""

    def __init__(self):
        self.events = []

    def __call__(self, ev):
        self.events.append(ev)

    def names(self):
        return [e.name for e in self.events]


def small_centre(r, now=0):
    """billing needs billing >= 2. ann: chat x3, billing 4. cat: voice,
    billing 3. bob: chat, billing 1 (not a member)."""
    r.add_queue("billing", skills={"billing": 2}, auto_members=True, now=now)
    r.add_agent("ann", max_per_channel={"chat": 3}, skills={"billing": 4},
                now=now)
    r.add_agent("cat", max_per_channel={"voice": 1}, skills={"billing": 3},
                now=now)
    r.add_agent("bob", max_per_channel={"chat": 1}, skills={"billing": 1},
                now=now)
    for a in ("ann", "cat", "bob"):
        r.set_agent_status(a, "available", now=now)


class RouterScenarioTest(unittest.TestCase):
    def test_hand_checked_scenario(self):
        offers, assigned, log = Log(), Log(), Log()
        with Router(on_offer=offers, on_assigned=assigned,
                    on_event=log) as r:
            small_centre(r)
            # A chat needs billing >= 2 and a chat slot: only ann fits.
            r.enqueue("c1", "billing", channel="chat", attrs="tier=vip",
                      now=1000)
            self.assertEqual([(e.conv, e.agent) for e in offers.events],
                             [("c1", "ann")])
            ev = offers.events[0]
            self.assertIsInstance(ev, RouterEvent)
            self.assertEqual((ev.name, ev.time, ev.queue, ev.channel),
                             ("OFFER", 1000, "billing", "chat"))
            self.assertEqual(ev.data1, 1000 + 120000)  # default timeout
            self.assertEqual(ev.data2, 1)              # first attempt
            self.assertEqual(ev.text, "tier=vip")
            self.assertEqual(r.conv_info("c1").state, "offered")
            # A call: only cat takes voice.
            r.enqueue("c2", "billing", channel="voice", now=2000)
            self.assertEqual(offers.events[-1].agent, "cat")
            r.accept("c1", "ann", now=4000)
            self.assertEqual([(e.conv, e.agent, e.data1)
                              for e in assigned.events],
                             [("c1", "ann", 3000)])  # waited 3 s
            info = r.conv_info("c1")
            self.assertIsInstance(info, ConvInfo)
            self.assertEqual((info.state, info.agent, info.queue,
                              info.arrival, info.channel),
                             ("assigned", "ann", "billing", 1000, "chat"))
            # cat rejects; nobody else takes voice: back in line.
            r.reject("c2", "cat", now=5000)
            self.assertEqual(r.conv_info("c2").state, "waiting")
            qs = r.queue_stats("billing", now=5000)
            self.assertIsInstance(qs, QueueStats)
            self.assertEqual((qs.waiting, qs.offered, qs.active),
                             (1, 0, 1))
            self.assertEqual(qs.members, 2)  # ann and cat, not bob
            self.assertEqual((qs.offers_accepted, qs.offers_rejected),
                             (1, 1))
            st = r.agent_stats("ann", now=5000)
            self.assertIsInstance(st, AgentStats)
            self.assertEqual((st.status, st.load, st.active),
                             ("available", {"chat": 1}, 1))
            r.abandon("c2", now=6000)
            self.assertEqual(r.conv_info("c2").state, "abandoned")
            r.end("c1", now=9000)
            self.assertEqual(r.agent_stats("ann", now=9000).active, 0)
            names = log.names()
            for want in ("ENTERQUEUE", "OFFER", "CONNECT", "REJECT",
                         "ABANDON", "COMPLETE"):
                self.assertIn(want, names)
            self.assertLess(names.index("OFFER"), names.index("CONNECT"))

    def test_cost_capacity_one_call_or_five_chats(self):
        offers = Log()
        with Router(on_offer=offers) as r:
            r.add_queue("q", now=0)
            r.add_agent("x", max_per_channel={"voice": 1, "chat": 5},
                        total_capacity=100, cost={"voice": 100, "chat": 20},
                        now=0)
            r.join("x", "q", now=0)
            r.set_agent_status("x", "available", now=0)
            for i in range(6):
                r.enqueue("chat%d" % i, "q", channel="chat", now=10 + i)
            self.assertEqual(len(offers.events), 5)  # the sixth waits
            r.enqueue("call", "q", channel="voice", now=20)
            self.assertEqual(len(offers.events), 5)  # full: no call
            st = r.agent_stats("x", now=20)
            self.assertEqual((st.cost_used, st.load), (100, {"chat": 5}))

    def test_steps_sticky_agent_then_queue(self):
        offers = Log()
        with Router(on_offer=offers) as r:
            small_centre(r)
            r.add_agent("dan", max_per_channel={"chat": 1},
                        skills={"billing": 5}, now=0)
            r.set_agent_status("dan", "available", now=1)
            # ann is longer idle, but the first step prefers dan for 10 s.
            steps = [RouteStep("agent", "dan", expire_after_ms=10000),
                     RouteStep()]
            r.enqueue("c", "billing", channel="chat", steps=steps, now=100)
            self.assertEqual(offers.events[-1].agent, "dan")
            info = r.conv_info("c")
            self.assertEqual(info.step, 0)

    def test_offer_timeout_and_expiry(self):
        log = Log()
        with Router(offer_timeout_ms=5000, on_event=log) as r:
            small_centre(r)
            self.assertIsNone(r.next_expiry())
            r.enqueue("c", "billing", channel="voice", now=1000)
            self.assertEqual(r.next_expiry(), 6000)
            r.tick(5999)
            self.assertNotIn("RINGNOANSWER", log.names())
            r.tick(6000)
            self.assertIn("RINGNOANSWER", log.names())
            self.assertEqual(r.agent_stats("cat", now=6000).offers_missed, 1)

    def test_escalation_and_cancel_callbacks(self):
        esc, cancelled = Log(), Log()
        with Router(on_escalation=esc, on_offer_cancelled=cancelled) as r:
            small_centre(r)
            r.add_queue("legal", skills={"legal": 1}, auto_members=True,
                        max_wait_ms=360000, escalate_before_ms=60000,
                        escalate_boost=10, now=0)
            r.enqueue("w", "legal", channel="chat", now=1000)  # nobody
            self.assertEqual(r.next_expiry(), 1000 + 300000)
            r.tick(1000 + 299999)
            self.assertEqual(esc.events, [])
            r.tick(1000 + 300000)
            self.assertEqual([(e.name, e.time, e.data1) for e in esc.events],
                             [("ESCALATE", 301000, 361000)])
            r.tick(361000)
            self.assertEqual(esc.names(), ["ESCALATE", "MAXWAIT"])
            # The customer hangs up while ringing: the offer is withdrawn.
            r.enqueue("v", "billing", channel="voice", now=362000)
            r.abandon("v", now=363000)
            self.assertEqual([(e.name, e.conv, e.agent)
                              for e in cancelled.events],
                             [("RINGCANCELED", "v", "cat")])

    def test_every_remaining_function(self):
        log = Log()
        with Router(on_event=log, seed=7, wrapup_ms=0) as r:
            small_centre(r)
            r.add_queue("sales", skills=[("sales", 1)], strategy="random",
                        sl_threshold_ms={"chat": 30000},
                        sl_target={"chat": 0.9}, max_wait_ms=360000,
                        escalate_before_ms=60000, escalate_boost=5,
                        max_length=10, now=0)
            r.update_queue("sales", skills={"sales": 2},
                           strategy="least_occupied", now=1)
            r.join("bob", "sales", priority=1, delay_ms=0, now=2)
            r.leave("bob", "sales", now=3)
            r.set_queue_open("sales", False, now=4)
            with self.assertRaises(ConvrouteError) as cm:
                r.enqueue("s1", "sales", now=5)
            self.assertEqual(cm.exception.name, "ECLOSED")
            r.set_queue_open("sales", True, now=6)
            self.assertGreaterEqual(r.ewt("billing", "chat", now=6), 0)
            r.update_agent("bob", max_per_channel={"chat": 2},
                           skills={"billing": 1, "sales": 3}, now=7)
            r.set_agent_status("cat", "away", reason="lunch", now=8)
            self.assertEqual(r.agent_stats("cat", now=8).status, "away")
            r.enqueue("v", "billing", channel="voice", priority=1, now=10)
            self.assertEqual(r.conv_info("v").state, "waiting")
            r.set_priority("v", 3, now=11)
            self.assertEqual(r.conv_info("v").priority, 3)
            r.set_steps("v", [RouteStep("skills", skills={"billing": 3})],
                        now=12)
            r.set_channel("v", "chat", now=13)  # ann takes chats
            self.assertEqual(r.conv_info("v").state, "offered")
            r.transfer("v", "sales", now=14)
            self.assertEqual(r.conv_info("v").queue, "sales")
            r.abandon("v", now=15)
            r.resume("v", now=16)
            self.assertIn("RESUME", log.names())
            r.enqueue("w", "billing", channel="chat", now=20)
            r.accept("w", "ann", now=21)
            r.end("w", now=22)
            r.end_wrapup("ann", now=23)
            r.set_agent_status("bob", "offline", now=24)
            r.remove_agent("bob", now=25)
            with self.assertRaises(ConvrouteError):
                r.agent_stats("bob", now=25)
            self.assertEqual(event_name(0), "ENTERQUEUE")
            self.assertIsNone(event_name(999))
            self.assertEqual(r.errmsg, r.errmsg)  # a str, callable any time


class RouterCallbackTest(unittest.TestCase):
    def test_callback_survives_gc_while_registered(self):
        got = []

        def make(r):
            def on_offer(ev):  # only the router refers to this closure
                got.append(ev.agent)
            r.set_callbacks(offer=on_offer)
            return weakref.ref(on_offer)

        r = Router()
        ref = make(r)
        gc.collect()
        self.assertIsNotNone(ref(), "the router must keep its callback")
        small_centre(r)
        r.enqueue("c", "billing", channel="voice", now=10)
        self.assertEqual(got, ["cat"])
        r.set_callbacks()  # cleared: the closure may go now
        gc.collect()
        self.assertIsNone(ref())
        r.close()

    def test_exception_in_callback_is_raised_after_the_call(self):
        def boom(ev):
            raise ValueError("host failed on " + ev.conv)

        with Router(on_offer=boom) as r:
            small_centre(r)
            with self.assertRaises(ValueError) as cm:
                r.enqueue("c", "billing", channel="voice", now=10)
            self.assertIn("host failed on c", str(cm.exception))
            # The C call completed: the offer stands.
            self.assertEqual(r.conv_info("c").state, "offered")
            r.set_callbacks()
            r.accept("c", "cat", now=20)  # and the router still works

    def test_reentrant_call_from_callback_is_reported(self):
        r = Router()

        def reenter(ev):
            r.accept(ev.conv, ev.agent, now=ev.time)

        r.set_callbacks(offer=reenter)
        small_centre(r)
        with self.assertRaises(ConvrouteError) as cm:
            r.enqueue("c", "billing", channel="voice", now=10)
        self.assertEqual(cm.exception.name, "ESTATE")
        r.close()

    def test_dedicated_callback_runs_before_event(self):
        order = []
        with Router(on_offer=lambda e: order.append(("offer", e.name)),
                    on_event=lambda e: order.append(("event", e.name))) as r:
            small_centre(r)
            order.clear()
            r.enqueue("c", "billing", channel="voice", now=10)
        self.assertEqual(order, [("event", "ENTERQUEUE"), ("offer", "OFFER"),
                                 ("event", "OFFER")])

    def test_non_callable_callback_rejected(self):
        with Router() as r:
            with self.assertRaises(ConvrouteError):
                r.set_callbacks(offer=42)


class RouterBadInputTest(unittest.TestCase):
    def setUp(self):
        self.r = Router()
        small_centre(self.r)

    def tearDown(self):
        self.r.close()

    def expect(self, name, f, *a, **kw):
        with self.assertRaises(ConvrouteError) as cm:
            f(*a, **kw)
        self.assertEqual(cm.exception.name, name, str(cm.exception))

    def test_bad_input_raises_and_changes_nothing(self):
        r = self.r
        # A call first runs the deadlines due by `now` (the clock moves even
        # when the request is refused), so bring the clock to 1 first.
        r.tick(1)
        before = r.snapshot()
        self.expect("ENOTFOUND", r.enqueue, "c", "nope", now=1)
        self.expect("ENOTFOUND", r.accept, "c", "ann", now=1)
        self.expect("ENOTFOUND", r.agent_stats, "zed", now=1)
        self.expect("EEXIST", r.add_agent, "ann",
                    max_per_channel={"chat": 1}, now=1)
        self.expect("EEXIST", r.add_queue, "billing", now=1)
        self.expect("EINVAL", r.add_agent, "zero", now=1)  # capacity 0
        self.expect("ERANGE", r.add_agent, "nine",
                    max_per_channel={"chat": 1}, skills={"x": 9}, now=1)
        self.expect("EINVAL", r.enqueue, "c", "billing", channel="pigeon",
                    now=1)
        self.expect("EINVAL", r.set_agent_status, "ann", "sleeping", now=1)
        self.expect("EINVAL", r.add_queue, "q2", strategy="telepathy", now=1)
        self.expect("EINVAL", r.enqueue, "c", "billing", steps=["x"], now=1)
        self.assertEqual(r.snapshot(), before)
        r.enqueue("c", "billing", channel="voice", now=100)
        self.expect("EORDER", r.tick, 50)  # time going backwards

    def test_closed_router(self):
        r = Router()
        r.close()
        r.close()  # idempotent
        self.assertTrue(r.closed)
        self.expect("ECLOSED", r.tick, 0)
        self.expect("ECLOSED", r.snapshot)

    def test_restore_rejects_garbage(self):
        self.expect("ECORRUPT", Router.restore, b"not a snapshot")
        data = bytearray(self.r.snapshot())
        data[len(data) // 2] ^= 0xFF
        with self.assertRaises(ConvrouteError) as cm:
            Router.restore(bytes(data))
        self.assertIn(cm.exception.name, ("ECORRUPT", "EVERSION"))
        self.expect("EINVAL", Router.restore, "text")


class RouterSnapshotTest(unittest.TestCase):
    def test_restored_router_decides_the_same(self):
        def drive(r, log, start):
            for i in range(start, start + 6):
                r.enqueue("k%d" % i, "billing",
                          channel="voice" if i % 3 == 0 else "chat",
                          now=1000 * i)
            for e in list(log.events):
                if e.name == "OFFER" and e.time >= 1000 * start:
                    r.accept(e.conv, e.agent, now=1000 * (start + 6))

        log_a = Log()
        a = Router(on_event=log_a)
        small_centre(a)
        a.add_agent("eve", max_per_channel={"chat": 2},
                    skills={"billing": 2}, now=0)
        a.set_agent_status("eve", "available", now=0)
        drive(a, log_a, 1)
        data = a.snapshot()
        self.assertIsInstance(data, bytes)
        log_b = Log()
        b = Router.restore(data, on_event=log_b)
        n = len(log_a.events)
        drive(a, log_a, 10)
        drive(b, log_b, 10)
        self.assertEqual(log_a.events[n:], log_b.events)
        self.assertEqual(a.snapshot(), b.snapshot())
        a.close()
        b.close()

    def test_package_exports(self):
        self.assertIs(convroute.Router, Router)
        self.assertIn("Router", convroute.__all__)


if __name__ == "__main__":
    unittest.main()
