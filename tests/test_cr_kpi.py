"""ctest for examples/cr-kpi: the JSON contract of issue 2 (keys, null for
no data, rejected_rows with line numbers, --strict, usage exit status 2), a
hand-checked log, the converters, and the KPIs of the two real data sets
when ../shared/data is present.

Usage: test_cr_kpi.py PATH/TO/cr-kpi   (run by ctest)
"""
import json
import math
import os
import subprocess
import sys
import tempfile
import unittest

KPI = None
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared", "data", "callcenter")
KEYS = ["contacts", "answered", "abandoned", "bot_contained", "fcr",
        "fcr_pending", "csat_top2", "csat_mean", "nps", "nps_moe95",
        "ces_mean", "service_level", "asa_s", "abandon_rate", "aht_s",
        "containment", "transfer_rate"]
HEADER = ("contact_id,customer_id,channel,queue,intent,agent,arrived_at,"
          "queued_at,answered_at,ended_at,handled_by,escalated,resolved,"
          "transferred,wrap_s,csat,nps,ces\n")

# Hand-checked: T = 20 s. Answered waits 10, 20 (edge), 30 s; talk 60 s,
# wrap 30 s -> AHT 90 s, ASA 20 s. Abandoned after 5 and 25 s. One bot
# contact closed alone, one escalated (c3 answered). SL (fail) = 2/5,
# abandon rate 2/5, containment 1/3 (bot handled: the bot one + 2
# escalated), transfer 1/3, CSAT 5,4,2 -> top-2 2/3, mean 11/3.
GOOD = HEADER + """\
c1,u1,voice,billing,invoice,ann,0,0,10,70,agent,0,1,0,30,5,10,
c2,u2,voice,billing,invoice,bob,100,100,120,180,agent,0,1,1,30,4,,
c3,u3,chat,tech,outage,ann,200,205,235,295,agent,1,0,0,30,2,3,6
c4,u4,voice,billing,invoice,,300,300,,305,abandoned,0,,0,,,,
c5,u5,chat,tech,outage,,400,410,,435,abandoned,1,,0,,,,
c6,u6,whatsapp,billing,invoice,,500,,,560,bot,0,1,0,,,,
"""


def run(*args, code=0):
    p = subprocess.run([KPI] + list(args), capture_output=True, text=True,
                       timeout=60)
    if code is not None and p.returncode != code:
        raise AssertionError("cr-kpi %s: exit %d, want %d\nstderr: %s"
                             % (" ".join(args), p.returncode, code, p.stderr))
    return p


def write(text):
    f = tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False)
    f.write(text)
    f.close()
    return f.name


def kpis(path, *extra):
    return json.loads(run("--log", path, "--json", *extra).stdout)


class CrKpiTest(unittest.TestCase):
    def tearDown(self):
        for p in getattr(self, "_tmp", []):
            os.unlink(p)

    def tmp(self, text):
        p = write(text)
        self._tmp = getattr(self, "_tmp", []) + [p]
        return p

    def test_keys_and_hand_checked_figures(self):
        j = kpis(self.tmp(GOOD))
        for k in KEYS + ["rejected_rows"]:
            self.assertIn(k, j)
        self.assertNotIn("groups", j)
        self.assertEqual(j["contacts"], 6)
        self.assertEqual(j["answered"], 3)
        self.assertEqual(j["abandoned"], 2)
        self.assertEqual(j["bot_contained"], 1)
        self.assertAlmostEqual(j["service_level"], 2 / 5)
        self.assertAlmostEqual(j["asa_s"], 20.0)
        self.assertAlmostEqual(j["aht_s"], 90.0)
        self.assertAlmostEqual(j["abandon_rate"], 2 / 5)
        self.assertAlmostEqual(j["containment"], 1 / 3)
        self.assertAlmostEqual(j["transfer_rate"], 1 / 3)
        self.assertAlmostEqual(j["csat_top2"], 2 / 3)
        self.assertAlmostEqual(j["csat_mean"], 11 / 3)
        self.assertEqual(j["nps"], 0.0)  # 1 promoter, 1 detractor
        self.assertEqual(j["ces_mean"], 6.0)
        # one repeat-FCR candidate per customer, all still in their window
        self.assertEqual(j["fcr_pending"], 3)
        self.assertIsNone(j["fcr"])
        self.assertEqual(j["rejected_rows"], 0)

    def test_treatments_and_thresholds(self):
        p = self.tmp(GOOD)
        self.assertAlmostEqual(
            kpis(p, "--sl-abandon", "ignore")["service_level"], 2 / 3)
        self.assertAlmostEqual(
            kpis(p, "--sl-abandon", "exclude-short")["service_level"], 2 / 4)
        self.assertAlmostEqual(
            kpis(p, "--sl-threshold-s", "30")["service_level"], 3 / 5)
        # the 5-s abandon is short: 1 / (3 + 1)
        self.assertAlmostEqual(
            kpis(p, "--short-abandon-s", "10")["abandon_rate"], 1 / 4)

    def test_null_for_no_data(self):
        j = kpis(self.tmp(HEADER + "x1,,,,,,0,,,10,bot,0,,0,,,,\n"))
        for k in ["fcr", "csat_top2", "csat_mean", "nps", "nps_moe95",
                  "ces_mean", "service_level", "asa_s", "abandon_rate",
                  "aht_s", "transfer_rate"]:
            self.assertIsNone(j[k], k)
        self.assertEqual(j["containment"], 1.0)
        j = kpis(self.tmp(HEADER))
        self.assertEqual(j["contacts"], 0)
        self.assertIsNone(j["containment"])

    def test_iso_and_seconds_agree(self):
        iso = HEADER + ("i1,,voice,,,,2026-01-01T10:00:00Z,"
                        "2026-01-01T10:00:00Z,2026-01-01T10:00:12.5Z,"
                        "2026-01-01T12:01:00+02:00,agent,0,,0,,,,\n")
        j = kpis(self.tmp(iso))
        self.assertAlmostEqual(j["asa_s"], 12.5)
        self.assertAlmostEqual(j["aht_s"], 60 - 12.5)

    def test_groups(self):
        j = kpis(self.tmp(GOOD), "--by", "agent")
        self.assertEqual(j["by"], "agent")
        g = {x["name"]: x for x in j["groups"]}
        self.assertEqual(sorted(g), ["ann", "bob"])
        self.assertEqual(g["ann"]["answered"], 2)
        for k in KEYS:
            self.assertIn(k, g["ann"])
        self.assertAlmostEqual(g["bob"]["transfer_rate"], 1.0)
        self.assertAlmostEqual(g["ann"]["service_level"], 1 / 2)
        j = kpis(self.tmp(GOOD), "--by", "channel")
        self.assertEqual([x["name"] for x in j["groups"]],
                         ["voice", "chat", "whatsapp"])

    def test_rejected_rows(self):
        bad = GOOD + (
            "b1,,voice,,,,0,,,10,bot,0,,0,,6,,\n"           # line 8: csat 6
            "b2,,voice,,,,0,,,10,bot,0,,0,,,-1,\n"          # line 9: nps -1
            "b3,,voice,,,,100,100,50,200,agent,0,,0,,,,\n"  # 10: order
            "b4,,voice,,,,0,,,10,robot,0,,0,,,,\n"          # 11: enum
            "b5,,voice,,,,yesterday,,,10,bot,0,,0,,,,\n"    # 12: time
            "\"b6\nstill b6\",,voice,,,,0,,,10,bot,0,,0,,,,\n"  # 13-14 ok
            ",,voice,,,,0,,,10,bot,0,,0,,,,\n"              # 15: no id
            "b7,,voice,,,,0,,,10,bot,2,,0,,,,\n")           # 16: flag
        p = self.tmp(bad)
        r = run("--log", p, "--json")
        j = json.loads(r.stdout)
        self.assertEqual(j["contacts"], 7)
        self.assertEqual(j["rejected_rows"], 7)
        lines = [x["line"] for x in j["rejected"]]
        self.assertEqual(lines, [8, 9, 10, 11, 12, 15, 16])
        errs = [x["error"] for x in j["rejected"]]
        self.assertIn("csat", errs[0])
        self.assertIn("nps", errs[1])
        self.assertIn("answered_at", errs[2])
        self.assertIn("handled_by", errs[3])
        self.assertIn("arrived_at", errs[4])
        for n in lines:
            self.assertIn("line %d:" % n, r.stderr)
        # the figures are those of the good rows alone
        self.assertAlmostEqual(j["csat_mean"], 11 / 3)
        # --strict stops at the first, exit 1
        r = run("--log", p, "--json", "--strict", code=1)
        self.assertIn("line 8:", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_wide_row_and_broken_quote(self):
        wide = "w1," + ",".join(["x"] * 300) + "\n"
        text = GOOD + wide + "b8,,voice,,,,0,,,10,bot,0,,0,,,,\n" + \
            '"broken,,voice,,,,0,,,10,bot,0,,0,,,,\n'
        j = kpis(self.tmp(text))
        self.assertEqual(j["contacts"], 7)  # the row after the wide one
        self.assertEqual([x["line"] for x in j["rejected"]], [8, 10])

    def test_usage_errors(self):
        p = self.tmp(GOOD)
        for args in [[], ["--log"], ["--log", p, "--by", "colour"],
                     ["--log", p, "--sl-threshold-s", "soon"],
                     ["--log", p, "--sl-threshold-s", "-3"],
                     ["--log", p, "--sl-abandon", "maybe"],
                     ["--log", p, "--frobnicate"]]:
            r = run(*args, code=2)
            self.assertIn("usage", r.stderr)
        run("--log", p + ".missing", code=1)
        r = run("--log", self.tmp("contact_id,arrived_at\n"), code=1)
        self.assertIn("ended_at", r.stderr)

    def test_human_report(self):
        out = run("--log", self.tmp(GOOD)).stdout
        self.assertIn("service level", out)
        self.assertIn("40.00 %", out)

    def test_sample_log(self):
        j = kpis(os.path.join(ROOT, "examples", "data",
                              "sample_contacts.csv"), "--by", "queue")
        self.assertEqual(j["rejected_rows"], 0)
        self.assertGreaterEqual(j["contacts"], 30)
        for k in KEYS:
            self.assertIn(k, j)
            v = j[k]
            self.assertTrue(v is None or isinstance(v, (int, float)))
        self.assertGreater(len(j["groups"]), 1)

    def convert(self, script, src):
        out = self.tmp("")
        subprocess.run([sys.executable, os.path.join(ROOT, "examples",
                                                     "convert", script),
                        src, out], check=True, capture_output=True,
                       timeout=120)
        return out

    @unittest.skipUnless(os.path.exists(SHARED), "no ../shared/data")
    def test_pwc(self):
        # Published analysis of this set: 81 % answered, 72.92 % resolved
        # (of ALL 5,000 calls: the data says Resolved = N for every
        # unanswered one), mean satisfaction 3.40.
        p = self.convert("pwc.py", os.path.join(
            SHARED, "pwc_call_center_2021Q1.csv"))
        j = kpis(p, "--by", "agent")
        self.assertEqual(j["rejected_rows"], 0)
        self.assertEqual(j["contacts"], 5000)
        self.assertEqual(round(100 * j["answered"] / j["contacts"]), 81)
        self.assertAlmostEqual(j["resolution_rate"], 0.7292, places=4)
        self.assertEqual(round(j["csat_mean"], 2), 3.40)
        self.assertAlmostEqual(j["abandon_rate"], 946 / 5000)
        self.assertIsNone(j["fcr"])  # no customer ids
        self.assertEqual(len(j["groups"]), 8)
        self.assertEqual(sum(g["contacts"] for g in j["groups"]), 5000)

    @unittest.skipUnless(os.path.exists(SHARED), "no ../shared/data")
    def test_anonymous_bank(self):
        p = self.convert("anonymous_bank.py", os.path.join(
            SHARED, "anonymous_bank_1999_08_01.csv"))
        j = kpis(p, "--by", "queue")
        self.assertEqual(j["rejected_rows"], 0)
        # 2,375 calls less 18 PHANTOM; AGENT 1,511; HANG after queueing 728;
        # HANG in the VRU 118
        self.assertEqual(j["contacts"], 2357)
        self.assertEqual(j["answered"], 1511)
        self.assertEqual(j["abandoned"], 728)
        self.assertEqual(j["bot_contained"], 118)
        self.assertTrue(0 < j["service_level"] < 1)
        self.assertTrue(60 < j["aht_s"] < 600)
        self.assertEqual(sorted(g["name"] for g in j["groups"]),
                         ["IN", "NE", "NW", "PE", "PS", "TT"])


if __name__ == "__main__":
    KPI = sys.argv.pop(1)
    unittest.main(verbosity=2)
