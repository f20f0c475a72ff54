"""The cr-staffing command-line contract: flags, JSON keys, exit status.

Usage: python3 test_cr_staffing.py PATH/TO/cr-staffing

Expected numbers are the outside vectors of ../shared/data/erlang/vectors.csv
(rows EC2, EC4, EC5, EC9, EA1, EB1, EB2; sources: the R package ErlangC and
the Python package pyworkforce), so this checks the program end to end, not
only the library.
"""
import json
import subprocess
import sys
import unittest

EXE = None

BASE = ["--arrivals", "100", "--interval-s", "1800", "--aht-s", "180",
        "--target-s", "20"]


def run(*args):
    p = subprocess.run([EXE, *args], capture_output=True, text=True,
                       timeout=60)
    return p.returncode, p.stdout, p.stderr


def run_json(*args):
    rc, out, err = run(*args, "--json")
    if rc != 0:
        raise AssertionError("exit %d: %s" % (rc, err))
    return json.loads(out)


class ErlangC(unittest.TestCase):
    def test_given_agents(self):
        j = run_json(*BASE, "--agents", "14")
        self.assertEqual(j["model"], "erlang_c")
        for key in ("load_erlangs", "agents", "p_wait", "service_level",
                    "asa_s", "occupancy"):
            self.assertIn(key, j)
        self.assertNotIn("agents_with_shrinkage", j)  # not asked for
        self.assertNotIn("p_abandon", j)
        self.assertEqual(j["agents"], 14)
        self.assertAlmostEqual(j["load_erlangs"], 10.0, places=12)
        self.assertAlmostEqual(j["p_wait"], 0.1741319, delta=1e-7)  # EC1
        self.assertAlmostEqual(j["service_level"], 0.88835002,
                               delta=1e-8)  # EC2
        self.assertAlmostEqual(j["occupancy"], 0.71428571, delta=1e-8)  # EC4
        self.assertAlmostEqual(j["asa_s"], 7.83593701, delta=1e-6)  # EC5

    def test_required_agents(self):
        j = run_json(*BASE, "--target-sl", "0.8", "--max-occupancy", "0.85",
                     "--shrinkage", "0.3")
        self.assertEqual(j["model"], "erlang_c")
        self.assertEqual(j["agents"], 14)  # EC9
        self.assertEqual(j["agents_with_shrinkage"], 20)  # EC9
        self.assertGreaterEqual(j["service_level"], 0.8)

    def test_asa_target(self):
        j = run_json(*BASE, "--target-sl", "0.5", "--target-asa-s", "10")
        self.assertEqual(j["agents"], 14)  # 13 agents: ASA 17.1 s (EC8)
        self.assertLessEqual(j["asa_s"], 10)

    def test_human_report(self):
        rc, out, _ = run(*BASE, "--agents", "14")
        self.assertEqual(rc, 0)
        self.assertIn("Erlang C", out)
        self.assertIn("88.84 %", out)
        with self.assertRaises(ValueError):
            json.loads(out)


class ErlangA(unittest.TestCase):
    def test_given_agents(self):
        j = run_json(*BASE, "--agents", "14", "--patience-s", "300")
        self.assertEqual(j["model"], "erlang_a")
        # EA1 (pyworkforce test_abandonment.py), tolerance 1e-6.
        self.assertAlmostEqual(j["p_wait"], 0.14526, delta=1e-5)
        self.assertAlmostEqual(j["p_abandon"], 0.013984, delta=1e-6)
        self.assertAlmostEqual(j["occupancy"], 0.704297, delta=1e-6)
        self.assertAlmostEqual(j["asa_s"] / 60, 0.069919, delta=1e-6)
        self.assertAlmostEqual(j["service_level"], 0.916792, delta=1e-6)

    def test_required_agents(self):
        j = run_json(*BASE, "--target-sl", "0.8", "--patience-s", "300",
                     "--shrinkage", "0.3", "--max-abandon", "0.05")
        self.assertEqual(j["model"], "erlang_a")
        self.assertGreaterEqual(j["service_level"], 0.8)
        self.assertLessEqual(j["p_abandon"], 0.05)
        self.assertGreaterEqual(j["agents_with_shrinkage"], j["agents"])
        below = run_json(*BASE, "--agents", str(j["agents"] - 1),
                         "--patience-s", "300")
        self.assertLess(below["service_level"], 0.8)

    def test_overloaded_is_fine(self):
        j = run_json(*BASE, "--agents", "8", "--patience-s", "300")
        self.assertGreater(j["p_abandon"], 0.1)


class ErlangB(unittest.TestCase):
    def test_lines(self):
        j = run_json("--erlang-b", "--load", "1", "--lines", "2")
        self.assertEqual(j["model"], "erlang_b")
        self.assertAlmostEqual(j["blocking"], 0.2, delta=1e-6)  # EB1
        self.assertEqual(j["agents"], 2)

    def test_target_blocking(self):
        j = run_json("--erlang-b", "--load", "10", "--target-blocking",
                     "0.02")
        self.assertEqual(j["agents"], 17)  # EB2
        self.assertEqual(j["lines"], 17)
        self.assertLessEqual(j["blocking"], 0.02)


class Impossible(unittest.TestCase):
    def check_exit_2(self, *args):
        rc, out, err = run(*args)
        self.assertEqual(rc, 2, (args, out, err))
        self.assertIn("cr-staffing:", err)
        rc, out, err = run(*args, "--json")
        self.assertEqual(rc, 2)
        self.assertIn("error", json.loads(out))
        return err

    def test_load_at_least_agents(self):
        err = self.check_exit_2(*BASE, "--agents", "10")
        self.assertIn("Erlang C", err)
        self.check_exit_2(*BASE, "--agents", "3")

    def test_negative_and_bad_numbers(self):
        self.check_exit_2("--arrivals", "-100", "--interval-s", "1800",
                          "--aht-s", "180", "--agents", "14")
        self.check_exit_2("--arrivals", "100", "--interval-s", "1800",
                          "--aht-s", "-180", "--agents", "14")
        self.check_exit_2("--arrivals", "ten", "--interval-s", "1800",
                          "--aht-s", "180", "--agents", "14")
        self.check_exit_2("--arrivals", "nan", "--interval-s", "1800",
                          "--aht-s", "180", "--agents", "14")
        self.check_exit_2("--arrivals", "100", "--interval-s", "0",
                          "--aht-s", "180", "--agents", "14")
        self.check_exit_2(*BASE, "--agents", "14", "--patience-s", "-5")
        self.check_exit_2(*BASE, "--agents", "14.5")
        self.check_exit_2("--erlang-b", "--load", "-1", "--lines", "3")

    def test_impossible_targets(self):
        self.check_exit_2(*BASE, "--target-sl", "1.2")
        self.check_exit_2(*BASE, "--target-sl", "1")
        self.check_exit_2(*BASE, "--target-sl", "0.8", "--shrinkage", "1")
        self.check_exit_2("--erlang-b", "--load", "10", "--target-blocking",
                          "0")

    def test_usage(self):
        self.check_exit_2(*BASE)  # neither --agents nor a target
        self.check_exit_2(*BASE, "--agents", "14", "--target-sl", "0.8")
        self.check_exit_2("--interval-s", "1800", "--aht-s", "180",
                          "--agents", "14")  # no --arrivals
        self.check_exit_2(*BASE, "--agents", "14", "--frobnicate", "1")
        self.check_exit_2("--erlang-b", "--load", "10")


if __name__ == "__main__":
    EXE = sys.argv.pop(1)
    unittest.main(verbosity=1)
