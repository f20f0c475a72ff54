"""convroute.staffing against published values.

Sources: ../shared/data/erlang/vectors.csv rows (the R package ErlangC's
tests and the Python package pyworkforce's tests; row ids in comments) and
Lucent's Erlang-B 2 % capacity table as reproduced at
http://garywagoner.tripod.com/traffic/ERLANG.HTML.
"""
import dataclasses
import unittest

from convroute import ConvrouteError, staffing

CALLS = dict(arrivals=100, interval_s=1800, aht_s=180)


class ErlangCTest(unittest.TestCase):
    def test_cran_erlangc_vectors(self):
        r = staffing.erlang_c(**CALLS, agents=14, target_s=20)
        self.assertIsInstance(r, staffing.Staffing)
        self.assertTrue(dataclasses.is_dataclass(r))
        self.assertEqual(r.model, "erlang_c")
        self.assertAlmostEqual(r.load_erlangs, 10.0, places=12)
        self.assertAlmostEqual(r.p_wait, 0.1741319, delta=1e-7)        # EC1
        self.assertAlmostEqual(r.service_level, 0.88835002, delta=1e-8)  # EC2
        self.assertAlmostEqual(1 - r.p_wait, 0.82586807, delta=1e-8)   # EC3
        self.assertAlmostEqual(r.occupancy, 0.71428571, delta=1e-8)    # EC4
        self.assertAlmostEqual(r.asa_s, 7.83593701, delta=1e-6)        # EC5
        self.assertEqual(r.p_abandon, 0.0)
        self.assertEqual(r.asa_answered_s, r.asa_s)
        # EC6-EC8: (agents, P(wait), SL, ASA) printed to 7 digits.
        for n, pw, sl, asa in ((11, 0.6821182, 0.3896138, 122.78128),
                               (12, 0.4493882, 0.640158, 40.44494),
                               (13, 0.2852705, 0.7955948, 17.11623)):
            r = staffing.erlang_c(**CALLS, agents=n, target_s=20)
            self.assertAlmostEqual(r.p_wait, pw, delta=1e-6)
            self.assertAlmostEqual(r.service_level, sl, delta=1e-6)
            self.assertAlmostEqual(r.asa_s, asa, delta=5e-6)

    def test_required_agents(self):
        r = staffing.agents_for(**CALLS, target_s=20, service_level=0.8,
                                max_occupancy=0.85, shrinkage=0.3)
        self.assertEqual((r.agents, r.agents_with_shrinkage), (14, 20))  # EC9
        # pyworkforce test_erlang.py: ASA 0.33 min, occupancy <= 70 %.
        r = staffing.erlang_c_agents(**CALLS, target_s=19.8,
                                     service_level=0.8, max_occupancy=0.7,
                                     shrinkage=0.3)
        self.assertEqual((r.agents, r.agents_with_shrinkage), (15, 22))
        self.assertAlmostEqual(r.service_level, 0.941, delta=5e-4)  # EC10
        self.assertAlmostEqual(r.occupancy, 0.667, delta=5e-4)
        self.assertAlmostEqual(r.p_wait, 0.102, delta=5e-4)

    def test_asa_target_and_shrink(self):
        r = staffing.agents_for(**CALLS, max_asa_s=10)
        self.assertEqual(r.agents, 14)  # 13 agents wait 17.1 s (EC8)
        self.assertEqual(staffing.shrink(14, 0.3), 20)
        self.assertEqual(staffing.shrink(15, 0.3), 22)
        r = staffing.erlang_c(**CALLS, agents=14, shrinkage=0.3)
        self.assertEqual(r.agents_with_shrinkage, 20)

    def test_large_centre(self):
        r = staffing.erlang_c(arrivals=19000, interval_s=3600, aht_s=3600,
                              agents=20000)
        self.assertTrue(0 < r.p_wait < 1e-9)
        self.assertLessEqual(r.service_level, 1.0)
        r = staffing.agents_for(arrivals=97000, interval_s=1800, aht_s=180,
                                service_level=0.8)
        self.assertGreater(r.agents, 9700)
        below = staffing.erlang_c(arrivals=97000, interval_s=1800,
                                  aht_s=180, agents=r.agents - 1)
        self.assertLess(below.service_level, 0.8)


class ErlangATest(unittest.TestCase):
    def test_pyworkforce_vector(self):
        # EA1: pyworkforce queuing/tests/test_abandonment.py, 14 agents,
        # patience 5 min; its service level counts abandoners as failures.
        r = staffing.erlang_a(**CALLS, agents=14, patience_s=300,
                              target_s=20)
        self.assertEqual(r.model, "erlang_a")
        self.assertAlmostEqual(r.p_wait, 0.14526, delta=1e-5)
        self.assertAlmostEqual(r.p_abandon, 0.013984, delta=1e-6)
        self.assertAlmostEqual(r.occupancy, 0.704297, delta=1e-6)
        self.assertAlmostEqual(r.asa_s / 60, 0.069919, delta=1e-6)
        self.assertAlmostEqual(r.service_level, 0.916792, delta=1e-6)
        self.assertLess(r.asa_answered_s, r.asa_s)

    def test_patient_limit_is_erlang_c(self):
        for n in (15, 20, 25):
            a = staffing.erlang_a(**CALLS, agents=n, patience_s=1.8e6)
            c = staffing.erlang_c(**CALLS, agents=n)
            self.assertAlmostEqual(a.p_wait, c.p_wait, delta=1e-4)
            self.assertAlmostEqual(a.service_level, c.service_level,
                                   delta=1e-3)

    def test_required_agents(self):
        r = staffing.erlang_a_agents(**CALLS, patience_s=300, target_s=20,
                                     service_level=0.8, max_occupancy=0.85,
                                     max_abandon=0.05, shrinkage=0.3)
        self.assertGreaterEqual(r.service_level, 0.8)
        self.assertLessEqual(r.occupancy, 0.85)
        self.assertLessEqual(r.p_abandon, 0.05)
        below = staffing.erlang_a(**CALLS, agents=r.agents - 1,
                                  patience_s=300)
        self.assertTrue(below.service_level < 0.8 or below.occupancy > 0.85)
        self.assertEqual(r.agents_with_shrinkage,
                         staffing.shrink(r.agents, 0.3))

    def test_overload_is_defined(self):
        r = staffing.erlang_a(**CALLS, agents=5, patience_s=300)
        self.assertGreater(r.p_abandon, 0.4)
        self.assertLessEqual(r.occupancy, 1.0)


class ErlangBTest(unittest.TestCase):
    def test_pyworkforce_vectors(self):
        self.assertAlmostEqual(staffing.erlang_b(1, 1).blocking, 0.5, 12)
        self.assertAlmostEqual(staffing.erlang_b(1, 2).blocking, 0.2, 12)
        r = staffing.erlang_b_lines(10, 0.02)  # EB2
        self.assertEqual(r, staffing.ErlangB(10.0, 17, r.blocking))
        self.assertLessEqual(r.blocking, 0.02)

    def test_lucent_table(self):
        # Load carried at 2 % blocking, rounded to 3 decimals.
        for n, a in ((5, 1.657), (9, 4.345), (17, 10.656), (21, 14.036),
                     (31, 22.827), (51, 41.189), (89, 77.342)):
            lo = staffing.erlang_b(a - 5e-4, n).blocking
            hi = staffing.erlang_b(a + 5e-4, n).blocking
            self.assertTrue(lo <= 0.02 + 1e-6 and 0.02 - 1e-6 <= hi, n)


class BadInputTest(unittest.TestCase):
    def assert_code(self, name, fn, *args, **kw):
        with self.assertRaises(staffing.StaffingError) as cm:
            fn(*args, **kw)
        self.assertEqual(cm.exception.name, name)
        self.assertIsInstance(cm.exception, ConvrouteError)
        self.assertIsInstance(cm.exception, ValueError)
        return str(cm.exception)

    def test_errors(self):
        msg = self.assert_code("EINFEASIBLE", staffing.erlang_c, **CALLS,
                               agents=10)
        self.assertIn("10 agents", msg)
        self.assert_code("EINVAL", staffing.erlang_c, arrivals=-1,
                         interval_s=1800, aht_s=180, agents=14)
        # a bad load is named, not blamed on the targets
        msg = self.assert_code("EINVAL", staffing.agents_for,
                               arrivals=float("nan"), interval_s=1800,
                               aht_s=180, service_level=0.8)
        self.assertIn("arrivals=nan", msg)
        self.assert_code("EINVAL", staffing.erlang_c, arrivals=float("nan"),
                         interval_s=1800, aht_s=180, agents=14)
        self.assert_code("EINVAL", staffing.erlang_c, arrivals=100,
                         interval_s=1800, aht_s=0, agents=14)
        self.assert_code("EINVAL", staffing.erlang_c, **CALLS, agents=14.0)
        self.assert_code("EINVAL", staffing.erlang_c, **CALLS, agents=True)
        self.assert_code("EINVAL", staffing.erlang_c, **CALLS, agents="14")
        self.assert_code("ERANGE", staffing.erlang_c, **CALLS,
                         agents=10**7)
        self.assert_code("EINVAL", staffing.erlang_a, **CALLS, agents=14,
                         patience_s=0)
        self.assert_code("ERANGE", staffing.agents_for, **CALLS,
                         service_level=1.5)
        self.assert_code("EINFEASIBLE", staffing.agents_for, **CALLS,
                         service_level=1.0)
        self.assert_code("ERANGE", staffing.agents_for, **CALLS,
                         service_level=0.8, shrinkage=1.0)
        self.assert_code("EINVAL", staffing.agents_for, **CALLS)
        self.assert_code("ERANGE", staffing.shrink, 10, 1.0)
        self.assert_code("EINVAL", staffing.erlang_b, -1, 3)
        self.assert_code("EINFEASIBLE", staffing.erlang_b_lines, 10, 0.0)
        self.assert_code("ERANGE", staffing.erlang_b_lines, 10, 1.5)
        with self.assertRaises(TypeError):
            staffing.erlang_c_agents(**CALLS, patience_s=300,
                                     service_level=0.8)


if __name__ == "__main__":
    unittest.main()
