"""cr-sim's validation against queueing theory, end to end.

Usage: python3 test_cr_sim.py PATH/TO/cr-sim [unittest args]
       python3 test_cr_sim.py PATH/TO/cr-sim --calibrate SEEDS

`cr-sim --mmc` routes a single-skill M/M/N (M/M/N+M with patience) queue
through the library's router, measures it with the library's metrics, and
prints the Erlang C / Erlang A figures of the staffing module beside a 95 %
batch-means confidence interval. Here, for several (L, S, N) -- small and
large, under- and over-loaded, with and without abandonment, up to
N = 1,000 -- every figure's theory value must lie inside the interval
widened by WIDEN = 2 (|measured - theory| <= 2 x half-width).

False-failure probability. If the batch means were exactly independent and
normal, |measured - theory| / half-width would be |t_19| / 2.093, and the
chance it exceeds 2 is P(|t_19| > 4.19) = 5e-4 per figure, about 1.2 %
for the 24 random figures below together. Batch means are only nearly
independent, so this was checked by running every case with seeds 1..30
(`--calibrate 30`; results in docs/sim.md): no figure of any seed came out
beyond WIDEN (worst 1.95); the plain 95 % interval missed the theory in
7.4 % of the 720 figures. The seeds used here are fixed, so the test is
deterministic.

Power: the same intervals must EXCLUDE the theory of a centre with one
agent more (Erlang C, computed here independently) for the small centres,
two more at N = 100 and ten more at N = 1,000, so the check cannot pass by having
wide intervals.

`--quick` (used by the sanitizer build) runs the large centres for a tenth
of the hours and skips the power check.
"""
import json
import math
import os
import subprocess
import sys
import unittest

EXE = None
WIDEN = 2.0
KEYS = ("p_wait", "asa_s", "service_level", "p_abandon")

# name: (L per hour, AHT s, agents, hours, patience s or None, target s)
CASES = {
    "M/M/1": (50, 60, 1, 400, None, 20),
    "M/M/6": (100, 180, 6, 600, None, 20),
    "M/M/100": (5700, 60, 100, 100, None, 5),
    "M/M/1000": (57600, 60, 1000, 40, None, 2),
    "M/M/4+M": (100, 180, 4, 400, 120, 20),
    "M/M/30+M overloaded": (400, 300, 30, 200, 300, 20),
    "M/M/1000+M": (60000, 60, 1000, 10, 60, 2),
}
# Agents added for the power check: the theory of N + d agents must be
# told apart from the measurement (about 1 % of the staff for the large
# centres; one agent for the small ones).
POWER = {"M/M/1": 1, "M/M/6": 1, "M/M/100": 2, "M/M/1000": 10}
# --quick (the sanitizer build, ~10x slower): the large centres run a
# tenth of the hours; agreement is still checked, the power check is not.
QUICK = False


def run_case(case, seed=1):
    L, S, N, H, P, T = case
    if QUICK and N >= 100:
        H = H / 10
    args = [EXE, "--mmc", "--arrivals-per-hour", str(L), "--aht-s", str(S),
            "--agents", str(N), "--hours", str(H), "--target-s", str(T),
            "--seed", str(seed), "--json"]
    if P:
        args += ["--patience-s", str(P)]
    p = subprocess.run(args, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise AssertionError("exit %d: %s" % (p.returncode, p.stderr))
    return json.loads(p.stdout)


def excess(j, key):
    """|measured - theory| in units of the CI half-width (0 when equal)."""
    m, th = j["measured"][key], j["theory"][key]
    lo, hi = j["ci95"][key]
    half = (hi - lo) / 2
    if abs(m - th) <= 1e-9:
        return 0.0
    return abs(m - th) / half if half > 0 else math.inf


def erlang_c(L, S, N, T):
    """p_wait, asa_s, service_level of M/M/N (classic formulas)."""
    a = L * S / 3600.0
    b = 1.0
    for n in range(1, N + 1):  # Erlang B recursion
        b = a * b / (n + a * b)
    c = N * b / (N - a * (1 - b))
    return {"p_wait": c, "asa_s": c * S / (N - a),
            "service_level": 1 - c * math.exp(-(N - a) * T / S)}


class MMN(unittest.TestCase):
    results = {}

    @classmethod
    def setUpClass(cls):
        for name, case in CASES.items():
            cls.results[name] = run_case(case)

    def test_shape(self):
        for name, j in self.results.items():
            for obj in ("measured", "ci95", "theory"):
                self.assertEqual(set(j[obj]), set(KEYS), name)
            self.assertGreater(j["contacts"], 10000, name)
            self.assertTrue(j["metrics_check"]["ok"], name)

    def test_theory_inside_ci(self):
        for name, j in self.results.items():
            for k in KEYS:
                with self.subTest(case=name, figure=k):
                    self.assertLessEqual(
                        excess(j, k), WIDEN,
                        "%s %s: measured %g ci %s theory %g" %
                        (name, k, j["measured"][k], j["ci95"][k],
                         j["theory"][k]))

    def test_intervals_are_informative(self):
        # A few agents more must be told apart: the theory of N + d agents
        # lies outside the widened interval of at least one figure.
        for name, d in POWER.items():
            L, S, N, H, P, T = CASES[name]
            if QUICK and N >= 100:
                continue
            other = erlang_c(L, S, N + d, T)
            j = self.results[name]
            outside = [k for k in other
                       if abs(j["measured"][k] - other[k]) >
                       WIDEN * (j["ci95"][k][1] - j["ci95"][k][0]) / 2]
            self.assertTrue(outside, name)
            # and our Python Erlang C equals the library's at N
            mine = erlang_c(L, S, N, T)
            for k in mine:
                self.assertAlmostEqual(mine[k], j["theory"][k],
                                       delta=1e-9 * max(1, mine[k]))

    def test_abandonment(self):
        for name, j in self.results.items():
            if CASES[name][4] is None:
                self.assertEqual(j["measured"]["p_abandon"], 0)
                self.assertEqual(j["model"], "erlang_c")
            else:
                self.assertGreater(j["measured"]["p_abandon"], 0.005)
                self.assertEqual(j["model"], "erlang_a")


class Strategies(unittest.TestCase):
    def test_every_strategy_is_work_conserving(self):
        # Identical agents and per-contact draws: a work-conserving FCFS
        # router gives exactly the same waits whichever idle agent it
        # picks, so every agent-selection strategy (ring-all included)
        # must measure the very same figures, and agree with Erlang A.
        names = ("longest-idle", "least-occupied", "fewest-contacts",
                 "least-talk-time", "most-proficient", "round-robin",
                 "random", "ring-all")
        base = None
        for st in names:
            p = subprocess.run([EXE, "--mmc", "--arrivals-per-hour", "100",
                                "--aht-s", "180", "--agents", "6", "--hours",
                                "100", "--patience-s", "300", "--strategy",
                                st, "--json"], capture_output=True,
                               text=True, timeout=120)
            self.assertEqual(p.returncode, 0, p.stderr)
            j = json.loads(p.stdout)
            self.assertEqual(j["params"]["strategy"], st)
            if base is None:
                base = j
                for k in KEYS:
                    self.assertLessEqual(excess(j, k), WIDEN, k)
            else:
                self.assertEqual(j["measured"], base["measured"], st)
        p = subprocess.run([EXE, "--mmc", "--strategy", "fastest"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)


class Cli(unittest.TestCase):
    def test_deterministic(self):
        a = run_case(CASES["M/M/6"][:3] + (50, None, 20), seed=7)
        b = run_case(CASES["M/M/6"][:3] + (50, None, 20), seed=7)
        c = run_case(CASES["M/M/6"][:3] + (50, None, 20), seed=8)
        self.assertEqual(a["measured"], b["measured"])
        self.assertNotEqual(a["measured"], c["measured"])

    def test_usage_errors(self):
        for args in (["--mmc"], ["--mmc", "--arrivals-per-hour", "x"],
                     ["--mmc", "--arrivals-per-hour", "10", "--aht-s", "60",
                      "--agents", "0", "--hours", "1"],
                     ["--mmc", "--bogus", "1"],
                     # out of range: refused before any cast or overflow
                     ["--mmc", "--arrivals-per-hour", "10", "--aht-s", "60",
                      "--agents", "1e12", "--hours", "1"],
                     ["--mmc", "--arrivals-per-hour", "10", "--aht-s", "60",
                      "--agents", "2", "--hours", "1e300"],
                     ["--mmc", "--arrivals-per-hour", "10", "--aht-s", "60",
                      "--agents", "2", "--hours", "1", "--seed", "-1"],
                     ["--mmc", "--arrivals-per-hour", "10", "--aht-s", "60",
                      "--agents", "2", "--hours", "1", "--warmup-h", "-5"],
                     ["--mmc", "--strategy"],
                     ["--chain", "--types", "1e12"],
                     ["--chain", "--hours", "nan"],
                     ["--chain", "--seed", "0"],
                     ["--chain", "--seed", "1.5"]):
            p = subprocess.run([EXE, *args], capture_output=True, text=True)
            self.assertEqual(p.returncode, 2, args)
            self.assertTrue(p.stderr, args)

    def test_help_in_any_mode(self):
        for args in (["--help"], ["--mmc", "--help"], ["--chain", "-h"],
                     ["--replay", "x.csv", "--help"]):
            p = subprocess.run([EXE, *args], capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, args)
            self.assertIn("usage: cr-sim", p.stdout, args)

    def test_human_output(self):
        p = subprocess.run([EXE, "--mmc", "--arrivals-per-hour", "100",
                            "--aht-s", "180", "--agents", "6", "--hours",
                            "20"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0)
        for word in ("p_wait", "asa_s", "service_level", "p_abandon",
                     "erlang_c", "metrics check: ok"):
            self.assertIn(word, p.stdout)

    def test_overload_without_patience_has_no_theory(self):
        j = run_case((100, 180, 4, 2, None, 20))  # load 5 on 4 agents
        self.assertIsNone(j["theory"]["p_wait"])


class Chain(unittest.TestCase):
    """Wallace & Whitt (2005): two chained skills per agent get most of the
    benefit of full cross-training, and far more than one skill."""

    @classmethod
    def setUpClass(cls):
        p = subprocess.run([EXE, "--chain", "--reps", "3", "--hours", "10",
                            "--json"],
                           capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            raise AssertionError(p.stderr)
        cls.j = json.loads(p.stdout)

    def test_ordering(self):
        d = self.j["designs"]
        # lower is better for these; service level is higher-better
        for f in ("p_wait", "asa_s", "p_abandon"):
            one, chain, full = d["one"], d["chain"], d["all"]
            # intervals do not overlap: chain clearly better than one skill
            self.assertLess(chain[f + "_ci95"][1], one[f + "_ci95"][0], f)
            self.assertLessEqual(full[f], chain[f], f)
        self.assertGreater(d["chain"]["service_level_ci95"][0],
                           d["one"]["service_level_ci95"][1])
        self.assertGreaterEqual(d["all"]["service_level"],
                                d["chain"]["service_level"])

    def test_chain_gets_most_of_the_benefit(self):
        # share of full cross-training's gain that chaining captures
        # (measured 0.78-0.86 for these three; 0.66 for P(wait), which the
        # paper does not claim); far better than one skill: ASA < 1/2.5
        d = self.j["designs"]
        for f in ("asa_s", "service_level", "p_abandon"):
            one, chain, full = d["one"][f], d["chain"][f], d["all"][f]
            self.assertGreater((one - chain) / (one - full), 0.6, f)
        self.assertLess(d["chain"]["asa_s"], d["one"]["asa_s"] / 2.5)

    def test_seed_picks_other_replications(self):
        # --seed K runs replications (K-1)*R+1 .. K*R: seed 1 is the
        # default, seed 2 other customers
        def run(*more):
            p = subprocess.run([EXE, "--chain", "--reps", "2", "--hours", "1",
                                "--warmup-h", "0", "--json", *more],
                               capture_output=True, text=True, timeout=300)
            self.assertEqual(p.returncode, 0, p.stderr)
            return json.loads(p.stdout)
        a, b, c = run(), run("--seed", "1"), run("--seed", "2")
        self.assertEqual(a, b)
        self.assertEqual(c["seed"], 2)
        self.assertNotEqual(a["designs"], c["designs"])


TINY_LOG = """contact_id,queue,agent,arrived_at,queued_at,answered_at,ended_at,handled_by
c1,q,X,0,0,0,100,agent
b1,q,,5,,,8,bot
c2,q,X,10,10,100,150,agent
c3,q,,20,20,,50,abandoned
c4,q,X,30,30,,40,agent
"""


class Replay(unittest.TestCase):
    def replay(self, path, agents, *more):
        p = subprocess.run([EXE, "--replay", path, "--agents", agents,
                            "--json", *more], capture_output=True,
                           text=True, timeout=300)
        if p.returncode != 0:
            raise AssertionError(p.stderr)
        return json.loads(p.stdout)

    def test_tiny_log_is_reproduced_exactly(self):
        # One agent. c1 is served 0-100; c2 waits 90 s and is answered at
        # 100; c3 abandons after 30 s. Kaplan-Meier: one abandon at 30 s
        # among two at risk, S = 1/2 after it and no event after 90 s, so
        # c2 (censored at 90) never abandons: the replay must give the
        # log's own outcome in every replication. c4 (answered, no answer
        # time) and b1 (bot) are left out.
        import tempfile, os
        with tempfile.NamedTemporaryFile("w", suffix=".csv",
                                         delete=False) as f:
            f.write(TINY_LOG)
        try:
            for agents in ("1", "log", "roster"):
                j = self.replay(f.name, agents, "--reps", "3")
                self.assertEqual(j["contacts"], 3)
                self.assertEqual(j["skipped_bot"], 1)
                self.assertEqual(j["skipped_bad"], 1)
                want = {"answered": 2 / 3, "abandon_rate": 1 / 3,
                        "asa_answered_s": 45.0, "asa_all_s": 40.0,
                        "service_level": 1 / 3}
                for k, v in want.items():
                    self.assertAlmostEqual(j["log"][k], v, places=9)
                    self.assertAlmostEqual(j["simulated"][k], v, places=9,
                                           msg=(agents, k))
                # the log side goes through the library's metrics too
                self.assertAlmostEqual(j["log_metrics"]["asa_s"], 45.0)
                self.assertAlmostEqual(j["log_metrics"]["service_level"],
                                       1 / 3)
        finally:
            os.unlink(f.name)

    def test_anonymous_bank(self):
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        src = os.path.join(root, "..", "shared", "data", "callcenter",
                           "anonymous_bank_1999_08_01.csv")
        if not os.path.exists(src):
            self.skipTest("shared data not present")
        import tempfile
        out = tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False)
        out.close()
        try:
            subprocess.run([sys.executable, os.path.join(
                root, "examples", "convert", "anonymous_bank.py"), src,
                out.name], check=True, capture_output=True)
            j = self.replay(out.name, "log", "--reps", "5")
            self.assertEqual(j["contacts"], 2238)
            # staffed as the log worked, the simulation lands near what
            # the bank saw (docs/sim.md has the full table)
            self.assertAlmostEqual(j["simulated"]["abandon_rate"],
                                   j["log"]["abandon_rate"], delta=0.04)
            self.assertAlmostEqual(j["simulated"]["asa_all_s"],
                                   j["log"]["asa_all_s"],
                                   delta=0.15 * j["log"]["asa_all_s"])
            # the roster (every name seen serving) is far more capacity
            # than the agents actually gave the queue
            r = self.replay(out.name, "roster", "--reps", "3")
            self.assertLess(r["simulated"]["asa_all_s"],
                            0.5 * j["log"]["asa_all_s"])
        finally:
            os.unlink(out.name)

    def test_bad_files_never_crash(self):
        # Bad rows are skipped and counted; bad files are refused with a
        # message; nothing overflows (the sanitizer build checks UB too).
        import tempfile
        H = "queued_at,answered_at,ended_at,handled_by\n"
        files = {
            "empty": ("", 1),
            "header only": (H, 1),
            "open quote": (H + '1,"5,6,agent\n', 1),
            "no columns": ("a,b\n1,2\n", 1),
            "500 digits": (H + "9" * 500 + ",1,2,agent\n", 1),
            "mixed": (H + "1999-13-01T00:00:00,,5,abandoned\n"
                      "-5,,1e300,abandoned\nnan,,1,abandoned\n"
                      "1999-08-01T10:00:1e400,,5,abandoned\n"
                      "10,,20,abandoned\n", 0),
            "bom crlf": ("\ufeff" + H.replace("\n", "\r\n") +
                         "0,0,10,agent\r\n5,,9,abandoned\r\n", 0),
        }
        for name, (text, rc) in files.items():
            with tempfile.NamedTemporaryFile("w", suffix=".csv",
                                             delete=False,
                                             encoding="utf-8") as f:
                f.write(text)
            try:
                p = subprocess.run([EXE, "--replay", f.name, "--agents", "2",
                                    "--reps", "2", "--json"],
                                   capture_output=True, text=True,
                                   timeout=60)
            finally:
                os.unlink(f.name)
            self.assertEqual(p.returncode, rc, (name, p.stderr))
            self.assertNotIn("runtime error", p.stderr, name)
            self.assertNotIn("Sanitizer", p.stderr, name)
            if rc == 0:
                j = json.loads(p.stdout)
                self.assertGreaterEqual(j["contacts"], 1, name)
            else:
                self.assertTrue(p.stderr, name)
            if name == "open quote":  # the message names the row's line
                self.assertIn("line 2: a quoted field is not closed",
                              p.stderr)

    def test_usage(self):
        for args in (["--replay"], ["--replay", "/nonexistent.csv",
                                    "--agents", "3"],
                     ["--replay", "x.csv"],
                     # a directory: its "size" was a 2^63-byte malloc
                     # (an abort under ASan, a silent exit 1 without)
                     ["--replay", os.path.dirname(os.path.abspath(
                         __file__)), "--agents", "3"]):
            p = subprocess.run([EXE, *args], capture_output=True, text=True)
            self.assertNotEqual(p.returncode, 0, args)
            self.assertTrue(p.stderr, args)
            self.assertNotIn("Sanitizer", p.stderr, args)

    def test_log_from_a_pipe(self):
        # A pipe has no size (ftell -1): the log is read to its end.
        p = subprocess.run([EXE, "--replay", "/dev/stdin", "--agents", "1",
                            "--reps", "2", "--json"], input=TINY_LOG,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["contacts"], 3)

    def test_span_too_long_for_half_hour_staffing(self):
        # Times up to 1e12 s are accepted; staffing by half hours over
        # such a span was 5e8 slots (a hang). Refused with a message;
        # a fixed number of agents still replays it.
        import tempfile
        text = ("queued_at,answered_at,ended_at,handled_by,agent\n"
                "0,0,10,agent,x\n"
                "999999999999,999999999999,999999999999,agent,y\n")
        with tempfile.NamedTemporaryFile("w", suffix=".csv",
                                         delete=False) as f:
            f.write(text)
        try:
            for agents in ("log", "roster"):
                p = subprocess.run([EXE, "--replay", f.name, "--agents",
                                    agents, "--reps", "2"],
                                   capture_output=True, text=True,
                                   timeout=60)
                self.assertEqual(p.returncode, 1, agents)
                self.assertIn("staffs by half hours", p.stderr)
            j = self.replay(f.name, "1", "--reps", "2")
            self.assertEqual(j["contacts"], 2)
        finally:
            os.unlink(f.name)


def calibrate(seeds):
    worst = {}
    checks = outside = 0
    for name, case in CASES.items():
        for seed in range(1, seeds + 1):
            j = run_case(case, seed)
            for k in KEYS:
                e = excess(j, k)
                if j["theory"][k] != 0:  # p_abandon of Erlang C is exact
                    checks += 1
                    outside += e > 1
                if e > worst.get((name, k), (-1, 0))[0]:
                    worst[(name, k)] = (e, seed)
    over = 0
    for (name, k), (e, seed) in sorted(worst.items()):
        print("%-22s %-14s worst %.2f (seed %d)" % (name, k, e, seed))
        over += e > WIDEN
    print("figures with a seed beyond %.1f: %d" % (WIDEN, over))
    print("theory outside the plain 95 %% CI: %d of %d (%.1f %%)"
          % (outside, checks, 100.0 * outside / checks))


if __name__ == "__main__":
    EXE = sys.argv[1]
    rest = sys.argv[2:]
    if rest[:1] == ["--quick"]:
        QUICK = True
        rest = rest[1:]
    if rest[:1] == ["--calibrate"]:
        calibrate(int(rest[1]))
        sys.exit(0)
    unittest.main(argv=[sys.argv[0]] + rest)
