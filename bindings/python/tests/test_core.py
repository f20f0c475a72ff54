import unittest

import convroute
from convroute.errors import check


class CoreTest(unittest.TestCase):
    def test_version(self):
        self.assertRegex(convroute.version(), r"^\d+\.\d+\.\d+$")
        major, minor, patch = map(int, convroute.version().split("."))
        self.assertEqual(convroute.version_num(),
                         (major << 16) | (minor << 8) | patch)

    def test_errors(self):
        self.assertEqual(convroute.errname(-2), "ENOMEM")
        self.assertEqual(convroute.strerror(-2), "out of memory")
        self.assertEqual(convroute.errname(0), "OK")
        with self.assertRaises(convroute.ConvrouteError) as cm:
            check(-1, "agent 'a7'")
        self.assertEqual(cm.exception.code, -1)
        self.assertEqual(cm.exception.name, "EINVAL")
        self.assertIn("agent 'a7'", str(cm.exception))
        self.assertEqual(check(3), 3)


if __name__ == "__main__":
    unittest.main()
