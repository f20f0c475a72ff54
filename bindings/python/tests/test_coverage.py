"""The Python package covers the whole public C API.

1. Every CR_EXTERN function of include/convroute.h is declared in the
   package (convroute._lib.BOUND), and nothing else is: when the header
   grows, this fails until the binding follows.
2. Every one of them is actually called by the test suite: the suite is
   run once more in a child process with CONVROUTE_PY_TRACE set, which
   makes each declared function count its calls (convroute/_lib.py), and
   the names never called are reported.
3. Every CR_E code of the header's CR_ERRNO_MAP has its exception class.
"""
import os
import re
import subprocess
import sys
import tempfile
import unittest

import convroute
from convroute import _lib, engine, intent, metrics, router, staffing  # noqa
from convroute.errors import ERROR_CLASSES, ConvrouteError

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.dirname(HERE)
HEADER = os.path.join(PKG, "..", "..", "include", "convroute.h")


def header_text():
    with open(HEADER, encoding="utf-8") as f:
        return f.read()


def declared_functions(text):
    """The CR_EXTERN names, parsed as tests/check_exports.py does."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"^\s*#.*?(?<!\\)$", "", text, flags=re.M | re.S)
    names = set()
    for decl in re.findall(r"CR_EXTERN\s+([^;{]*?)\(", text):
        names.add(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", decl)[-1])
    return names


def error_codes(text):
    return {int(v): n for n, v in
            re.findall(r"XX\((E[A-Z0-9_]+),\s*(-\d+),", text)}


@unittest.skipUnless(os.path.exists(HEADER), "needs the source checkout")
class HeaderCoverage(unittest.TestCase):

    def test_parser_sees_the_header(self):
        names = declared_functions(header_text())
        # the frame's functions and one of each module, so a broken parse
        # (an empty set) cannot pass the tests below
        for n in ("cr_version", "cr_mem_free", "cr_metrics_new",
                  "cr_erlang_c", "cr_intent_predict", "cr_router_enqueue",
                  "cr_engine_customer_message"):
            self.assertIn(n, names)
        self.assertGreater(len(names), 100)

    def test_every_header_function_is_bound(self):
        names = declared_functions(header_text())
        missing = sorted(names - set(_lib.BOUND))
        self.assertEqual(missing, [], "CR_EXTERN functions with no Python "
                         "binding: add them to the module of their section")
        extra = sorted(set(_lib.BOUND) - names)
        self.assertEqual(extra, [], "bound but not in the header")

    def test_every_error_code_has_its_class(self):
        codes = error_codes(header_text())
        self.assertGreaterEqual(len(codes), 16)
        for code, name in codes.items():
            cls = ERROR_CLASSES.get(code)
            self.assertIsNotNone(cls, "no exception class for CR_" + name)
            exc = ConvrouteError(code, "x")
            self.assertIs(type(exc), cls)
            self.assertEqual(exc.name, name)
            self.assertTrue(hasattr(convroute, cls.__name__), cls.__name__)
        self.assertEqual(sorted(ERROR_CLASSES), sorted(codes))

    @unittest.skipIf(os.environ.get("CONVROUTE_PY_TRACE"),
                     "already inside the traced run")
    @unittest.skipIf(os.environ.get("CONVROUTE_EXPECT_ASAN"),
                     "the release run proves it; not repeated under ASan")
    def test_every_bound_function_is_called_by_the_suite(self):
        with tempfile.TemporaryDirectory() as tmp:
            trace = os.path.join(tmp, "called.txt")
            env = dict(os.environ, CONVROUTE_PY_TRACE=trace,
                       CONVROUTE_LIB=_lib.path or "")
            run = subprocess.run(
                [sys.executable, "-m", "unittest", "discover", "-s", "tests",
                 "-t", "."], cwd=PKG, env=env, capture_output=True,
                text=True, timeout=600)
            self.assertEqual(run.returncode, 0, run.stderr[-3000:])
            with open(trace, encoding="utf-8") as f:
                called = {line.split()[0] for line in f if line.strip()}
        never = sorted(declared_functions(header_text()) - called)
        self.assertEqual(never, [], "bound but never called by a test")


if __name__ == "__main__":
    unittest.main()
