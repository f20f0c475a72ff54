#!/usr/bin/env python3
"""M/M/N (or M/M/N+M) through convroute.Router, against Erlang C (or A).

The Python version of `cr-sim --mmc` (examples/sim/sim_mmc.c): a small
discrete-event loop owns the clock and the event queue; every routing
decision is the library's (convroute.Router: one queue, N one-call agents,
longest-idle selection), every contact is recorded in convroute.Metrics,
and the measured figures are compared with convroute.staffing's Erlang C
prediction (Erlang A with --patience-s).

The model: Poisson arrivals at L per hour for a warm-up plus H hours, N
identical agents that accept every offer at once, exponential handle
times with mean S seconds, exponential patience with mean P seconds
(none without --patience-s). The run drains after the last arrival.

Measured over the contacts that arrive after the warm-up, with the
staffing module's definitions (include/convroute.h, staffing section):
  p_wait         share not answered in their arrival millisecond
  asa_s          mean wait over ALL of them (to answer or to abandon)
  service_level  answered within T over all of them (EA1)
  p_abandon      share that abandoned
with 95 % confidence intervals by batch means (Law & Kelton, Simulation
Modeling and Analysis, 5th ed., sec. 9.5.3): the measured span is cut into
B equal batches by arrival time, each batch gives one ratio estimate, and
the half-width is t(0.975, B - 1) * sd / sqrt(B).

convroute.Metrics sees the same contacts; its service level (abandons as
failures) must equal the loop's own tally exactly, and its ASA over
answered contacts is printed next to Erlang's asa_answered_s.

    python3 mmn_validation.py --arrivals-per-hour 200 --aht-s 300 \\
        --agents 20 --hours 200 [--patience-s 600] [--json] [--check]

--check exits 1 when a measured figure is further than 3 half-widths
(plus 0.005 for rounding to whole milliseconds) from the theory.
"""
import argparse
import heapq
import json
import math
import random
import statistics
import sys
import time

import convroute
from convroute import Contact, Metrics, Router, staffing

# t(0.975, df) for the batch counts one would use; 1.96 beyond the table.
_T975 = {4: 2.776, 9: 2.262, 14: 2.145, 19: 2.093, 29: 2.045, 39: 2.023,
         49: 2.010}
KEYS = ("p_wait", "asa_s", "service_level", "p_abandon")
ARRIVE, PATIENCE, END = 0, 1, 2   # event kinds, in tie order


def ci95(values):
    """(mean, half-width) of independent batch estimates."""
    b = len(values)
    mean = statistics.fmean(values)
    if b < 2:
        return mean, float("nan")
    t = _T975.get(b - 1, 1.96)
    return mean, t * statistics.stdev(values) / math.sqrt(b)


class MMN:
    """The host: clock, event queue, random numbers; the router decides."""

    def __init__(self, a):
        self.a = a
        self.rng = random.Random(a.seed)
        self.events = []        # (time_ms, kind, seq, conv)
        self.seq = 0
        self.offers = []        # offers made during the last router call
        self.conv = {}          # id -> {"arrived", "answered"}
        self.warm_ms = int(a.warmup_hours * 3600e3)
        self.span_ms = int(a.hours * 3600e3)
        self.batches = [dict(n=0, waited=0, wait_ms=0, in_sl=0, abandoned=0)
                        for _ in range(a.batches)]
        self.target_ms = int(a.target_s * 1000)
        # every contact (warm-up too), for the cross-check with Metrics
        self.all = dict(answered=0, abandoned=0, in_sl=0, wait_answered=0)
        self.metrics = Metrics(sl_threshold_s=a.target_s, sl_abandon="fail",
                               window_s=900)
        # Callbacks must not call back into the router: offers are kept
        # and accepted by the loop right after the call that made them.
        self.router = Router(on_offer=lambda ev: self.offers.append(ev))
        r, now = self.router, 0
        r.add_queue("q", skills={"s": 1}, auto_members=True, now=now)
        for i in range(a.agents):
            r.add_agent("a%d" % i, max_per_channel={"voice": 1},
                        skills={"s": 1}, now=now)
            r.set_agent_status("a%d" % i, "available", now=now)

    def push(self, t, kind, conv=None):
        self.seq += 1
        heapq.heappush(self.events, (t, kind, self.seq, conv))

    def exp_ms(self, mean_s):
        return max(1, int(round(self.rng.expovariate(1.0 / mean_s) * 1000)))

    def accept_offers(self, now):
        while self.offers:
            ev = self.offers.pop(0)
            self.router.accept(ev.conv, ev.agent, now=now)
            c = self.conv[ev.conv]
            c["answered"] = now
            self.push(now + self.exp_ms(self.a.aht_s), END, ev.conv)

    def finish(self, cid, now, answered):
        c = self.conv.pop(cid)
        arrived = c["arrived"]
        if answered:
            wait = c["answered"] - arrived
            self.metrics.add(Contact(
                arrived_at=arrived / 1000, queued_at=arrived / 1000,
                answered_at=c["answered"] / 1000, ended_at=now / 1000,
                handled_by="agent", channel="voice", queue="q"))
        else:
            wait = now - arrived
            self.metrics.add(Contact(
                arrived_at=arrived / 1000, queued_at=arrived / 1000,
                ended_at=now / 1000, handled_by="abandoned",
                channel="voice", queue="q"))
        self.all["answered" if answered else "abandoned"] += 1
        if answered:
            self.all["wait_answered"] += wait
            self.all["in_sl"] += wait <= self.target_ms
        if arrived < self.warm_ms:
            return
        k = min(len(self.batches) - 1,
                (arrived - self.warm_ms) * len(self.batches) // self.span_ms)
        b = self.batches[k]
        b["n"] += 1
        b["wait_ms"] += wait
        b["waited"] += wait > 0
        b["in_sl"] += answered and wait <= self.target_ms
        b["abandoned"] += not answered

    def run(self):
        a, r = self.a, self.router
        rate_per_ms = a.arrivals_per_hour / 3600e3
        stop = self.warm_ms + self.span_ms
        t = int(round(self.rng.expovariate(rate_per_ms)))
        n = 0
        if t < stop:
            self.push(t, ARRIVE)
        while self.events:
            now, kind, _, cid = heapq.heappop(self.events)
            if kind == ARRIVE:
                n += 1
                cid = "c%d" % n
                self.conv[cid] = {"arrived": now, "answered": None}
                r.enqueue(cid, "q", channel="voice", now=now)
                self.accept_offers(now)
                if a.patience_s:
                    self.push(now + self.exp_ms(a.patience_s), PATIENCE, cid)
                nxt = now + max(1, int(round(
                    self.rng.expovariate(rate_per_ms))))
                if nxt < stop:
                    self.push(nxt, ARRIVE)
            elif kind == PATIENCE:
                c = self.conv.get(cid)
                if c is not None and c["answered"] is None:
                    r.abandon(cid, now=now)
                    self.finish(cid, now, answered=False)
                    self.accept_offers(now)
            else:  # END: the agent's slot frees (no wrap-up) -> next offer
                r.end(cid, now=now)
                self.finish(cid, now, answered=True)
                self.accept_offers(now)
        return n

    def figures(self):
        per = {k: [] for k in KEYS}
        tot = dict(n=0, waited=0, wait_ms=0, in_sl=0, abandoned=0)
        for b in self.batches:
            for k in tot:
                tot[k] += b[k]
            if b["n"]:
                per["p_wait"].append(b["waited"] / b["n"])
                per["asa_s"].append(b["wait_ms"] / 1000 / b["n"])
                per["service_level"].append(b["in_sl"] / b["n"])
                per["p_abandon"].append(b["abandoned"] / b["n"])
        n = tot["n"]
        measured = {"p_wait": tot["waited"] / n,
                    "asa_s": tot["wait_ms"] / 1000 / n,
                    "service_level": tot["in_sl"] / n,
                    "p_abandon": tot["abandoned"] / n} if n else {}
        half = {k: ci95(v)[1] for k, v in per.items()}
        return measured, half, n


def theory(a):
    if a.patience_s:
        s = staffing.erlang_a(arrivals=a.arrivals_per_hour, interval_s=3600,
                              aht_s=a.aht_s, agents=a.agents,
                              patience_s=a.patience_s, target_s=a.target_s)
    else:
        s = staffing.erlang_c(arrivals=a.arrivals_per_hour, interval_s=3600,
                              aht_s=a.aht_s, agents=a.agents,
                              target_s=a.target_s)
    return s


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--arrivals-per-hour", type=float, default=200)
    p.add_argument("--aht-s", type=float, default=300)
    p.add_argument("--agents", type=int, default=20)
    p.add_argument("--hours", type=float, default=200,
                   help="measured hours after the warm-up")
    p.add_argument("--warmup-hours", type=float, default=1)
    p.add_argument("--patience-s", type=float, default=0,
                   help="mean patience (Erlang A); 0 = none (Erlang C)")
    p.add_argument("--target-s", type=float, default=20)
    p.add_argument("--batches", type=int, default=20)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true")
    p.add_argument("--check", action="store_true",
                   help="exit 1 when theory is outside 3 half-widths")
    a = p.parse_args(argv)

    try:
        th = theory(a)
    except convroute.InfeasibleError as e:
        p.error("%s (use --patience-s for an overloaded queue)" % e)
    sim = MMN(a)
    t0 = time.perf_counter()
    arrived = sim.run()
    wall = time.perf_counter() - t0
    measured, half, n = sim.figures()
    want = {"p_wait": th.p_wait, "asa_s": th.asa_s,
            "service_level": th.service_level, "p_abandon": th.p_abandon}
    rep = sim.metrics.report()
    # The library's metrics saw every contact, warm-up included: its
    # counts, service level (abandons as failures) and ASA over answered
    # contacts must equal the loop's own tally of the same contacts.
    al = sim.all
    sl = al["in_sl"] / max(1, al["answered"] + al["abandoned"])
    asa = al["wait_answered"] / 1000 / max(1, al["answered"])
    ok_metrics = (rep.contacts == arrived and
                  (rep.answered, rep.abandoned) == (al["answered"],
                                                    al["abandoned"]) and
                  math.isclose(rep.service_level, sl, rel_tol=1e-9) and
                  (not al["answered"] or
                   math.isclose(rep.asa_s, asa, rel_tol=1e-9)))
    bad = []
    for k in KEYS:
        tol = 3 * (half[k] if half[k] == half[k] else 0) + 0.005 * (
            1 if k != "asa_s" else max(1.0, want[k]))
        if abs(measured[k] - want[k]) > tol:
            bad.append(k)
    out = {"model": th.model, "measured": measured, "ci95": half,
           "theory": want, "contacts": n,
           "metrics": {"contacts": rep.contacts, "answered": rep.answered,
                       "abandoned": rep.abandoned,
                       "service_level": rep.service_level,
                       "asa_answered_s": rep.asa_s,
                       "abandon_rate": rep.abandon_rate,
                       "theory_asa_answered_s": th.asa_answered_s},
           "wall_s": wall, "contacts_per_s": arrived / wall if wall else None,
           "metrics_equal_tally": ok_metrics,
           "agree": not bad and ok_metrics}
    sim.router.close()
    sim.metrics.close()
    if a.json:
        print(json.dumps(out, indent=2))
    else:
        print("%s: %.4g Erlangs offered to %d agents, T = %g s; %d contacts "
              "measured (%d simulated in %.2f s)" % (
                  th.model, th.load_erlangs, a.agents, a.target_s, n,
                  arrived, wall))
        print("%-14s %10s %10s %10s" % ("", "measured", "+-95%", "theory"))
        for k in KEYS:
            print("%-14s %10.4f %10.4f %10.4f%s" % (
                k, measured[k], half[k], want[k],
                "  <- outside 3 half-widths" if k in bad else ""))
        print("convroute.Metrics: service level %.4f, ASA (answered) %.2f s "
              "(Erlang: %.2f s), abandon rate %.4f" % (
                  rep.service_level, rep.asa_s or 0.0, th.asa_answered_s,
                  rep.abandon_rate or 0.0))
        print("convroute.Metrics %s the loop's own tally of the same %d "
              "contacts" % ("equals" if ok_metrics else "DIFFERS FROM",
                            arrived))
    if a.check and (bad or not ok_metrics):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
