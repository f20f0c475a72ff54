"""The examples in bindings/python/examples run, with small parameters,
and reach the results they claim (so they cannot rot)."""
import json
import os
import re
import subprocess
import sys
import unittest

from convroute import _lib

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.dirname(HERE)
EXAMPLES = os.path.join(PKG, "examples")
DATA = os.path.join(PKG, "..", "..", "examples", "data")
# Under the sanitizers the point is memory safety, not statistics: short
# runs, and the agreement with theory is left to the release run.
ASAN = bool(os.environ.get("CONVROUTE_EXPECT_ASAN"))


def run_example(name, *args):
    env = dict(os.environ, PYTHONPATH=PKG, CONVROUTE_LIB=_lib.path or "")
    env.pop("CONVROUTE_PY_TRACE", None)
    return subprocess.run([sys.executable, os.path.join(EXAMPLES, name)]
                          + list(args), env=env, capture_output=True,
                          text=True, timeout=600)


@unittest.skipIf(os.environ.get("CONVROUTE_PY_TRACE"),
                 "subprocesses only: nothing to trace in-process")
class MmnValidation(unittest.TestCase):

    def check(self, *args):
        if ASAN:
            args = args + ("--hours", "3")
        run = run_example("mmn_validation.py", "--json",
                          *(() if ASAN else ("--check",)), *args)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        out = json.loads(run.stdout)
        for part in ("measured", "ci95", "theory"):
            self.assertEqual(set(out[part]), {"p_wait", "asa_s",
                                              "service_level", "p_abandon"})
        # exact, whatever the run length: Metrics == the loop's own tally
        self.assertTrue(out["metrics_equal_tally"])
        if not ASAN:
            self.assertTrue(out["agree"])
        return out

    def test_erlang_c(self):
        out = self.check("--arrivals-per-hour", "200", "--aht-s", "300",
                         "--agents", "20", "--hours", "60", "--seed", "3")
        self.assertEqual(out["model"], "erlang_c")
        self.assertGreater(out["contacts"], 400 if ASAN else 10000)
        self.assertAlmostEqual(out["theory"]["p_wait"], 0.3381, places=3)
        self.assertEqual(out["measured"]["p_abandon"], 0)

    def test_erlang_a(self):
        out = self.check("--arrivals-per-hour", "220", "--aht-s", "300",
                         "--agents", "16", "--patience-s", "300",
                         "--hours", "40", "--seed", "5")
        self.assertEqual(out["model"], "erlang_a")
        self.assertGreater(out["measured"]["p_abandon"], 0.05)

    def test_overload_without_patience_is_refused(self):
        run = run_example("mmn_validation.py", "--arrivals-per-hour", "300",
                          "--aht-s", "300", "--agents", "20")
        self.assertEqual(run.returncode, 2)
        self.assertIn("EINFEASIBLE", run.stderr)


@unittest.skipIf(os.environ.get("CONVROUTE_PY_TRACE"),
                 "subprocesses only: nothing to trace in-process")
@unittest.skipUnless(os.path.exists(os.path.join(DATA, "intents_en.tsv")),
                     "needs the demo intent set of the source checkout")
class HybridConversation(unittest.TestCase):

    def test_english(self):
        run = run_example("hybrid_conversation.py", "--data", DATA)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        self.assertIn("--- offer to dana", run.stdout)
        self.assertIn("collected {'account': '12345678'}", run.stdout)
        self.assertIn("BOTSTEP -> AGENT", run.stdout)
        self.assertIn("dana: CSAT 5.0 (n=1)", run.stdout)
        self.assertTrue(run.stdout.rstrip().endswith("ok"))

    def test_hebrew(self):
        run = run_example("hybrid_conversation.py", "--data", DATA,
                          "--lang", "he", "--quiet")
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)


DOC = os.path.join(PKG, "..", "..", "docs", "python.md")


@unittest.skipIf(os.environ.get("CONVROUTE_PY_TRACE"),
                 "subprocesses only: nothing to trace in-process")
@unittest.skipUnless(os.path.exists(DOC), "needs the source checkout")
class DocSnippet(unittest.TestCase):
    """The first snippet of docs/python.md (also the README's) prints what
    its comments say."""

    def test_runs_as_documented(self):
        with open(DOC, encoding="utf-8") as f:
            code = re.findall(r"```python\n(.*?)```", f.read(), re.S)[0]
        expected = [m.strip() for m in re.findall(r"#\s*(\S.*)$", code,
                                                   re.M)
                    if re.match(r"^[\d .]+$", m.strip())]
        env = dict(os.environ, PYTHONPATH=PKG,
                   CONVROUTE_LIB=_lib.path or "")
        run = subprocess.run([sys.executable, "-c", code], env=env,
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(run.returncode, 0, run.stderr)
        lines = run.stdout.split("\n")
        self.assertEqual([l for l in lines if re.match(r"^[\d .]+$", l)],
                         expected)
        self.assertIn("offer c1 -> ann", lines)


if __name__ == "__main__":
    unittest.main()
