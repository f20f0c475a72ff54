"""`pip install ./bindings/python` works offline, and the installed package
finds the library by the rules (CONVROUTE_LIB; a bundled copy).

Runs pip for real in a throw-away venv made with --system-site-packages,
so the build backend is the interpreter's own setuptools and wheel (Debian
12: python3-setuptools, python3-wheel) and nothing is downloaded
(--no-build-isolation --no-index). The interpreter is the one running the
tests if it has setuptools >= 61 and wheel, else Debian's /usr/bin/python3;
the test is skipped when neither has them (docs/python.md lists the
packages)."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from convroute import _lib

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.dirname(HERE)

PROBE = ("import setuptools, wheel, venv, ensurepip; "
         "print(setuptools.__version__)")


def builder():
    for py in (sys.executable, "/usr/bin/python3"):
        if not py or not os.path.exists(py):
            continue
        try:
            run = subprocess.run([py, "-c", PROBE], capture_output=True,
                                 text=True, timeout=60)
        except OSError:
            continue
        if run.returncode == 0:
            major = int(run.stdout.strip().split(".")[0])
            if major >= 61:
                return py
    return None


def clean_env():
    env = dict(os.environ)
    for k in ("CONVROUTE_LIB", "CONVROUTE_PY_TRACE", "PYTHONPATH",
              "CONVROUTE_BUNDLE_LIB", "LD_PRELOAD"):
        env.pop(k, None)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


@unittest.skipIf(os.environ.get("CONVROUTE_PY_TRACE"),
                 "subprocesses only: nothing to trace in-process")
@unittest.skipIf(os.environ.get("CONVROUTE_EXPECT_ASAN"),
                 "packaging is checked in the release run")
class PipInstall(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.py = builder()
        if cls.py is None:
            raise unittest.SkipTest("no interpreter with setuptools>=61, "
                                    "wheel and venv (python3-setuptools, "
                                    "python3-wheel, python3-venv)")
        cls.tmp = tempfile.mkdtemp(prefix="convroute-pip-")
        # install from a copy: an in-tree build would leave build/ and
        # *.egg-info in the checkout
        cls.src = os.path.join(cls.tmp, "src")
        shutil.copytree(PKG, cls.src, ignore=shutil.ignore_patterns(
            "__pycache__", "build", "dist", "*.egg-info"))
        cls.venv = os.path.join(cls.tmp, "venv")
        run = subprocess.run([cls.py, "-m", "venv", "--system-site-packages",
                              cls.venv], capture_output=True, text=True,
                             env=clean_env(), timeout=300)
        if run.returncode != 0:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise unittest.SkipTest("venv failed: " + run.stderr[-500:])
        cls.vpy = os.path.join(cls.venv, "bin", "python")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def pip_install(self, **env):
        run = subprocess.run(
            [self.vpy, "-m", "pip", "install", "--no-build-isolation",
             "--no-index", "--force-reinstall", "--no-deps", self.src],
            capture_output=True, text=True, env=dict(clean_env(), **env),
            cwd=self.tmp, timeout=600)
        self.assertEqual(run.returncode, 0, run.stdout[-2000:] +
                         run.stderr[-2000:])

    def probe(self, **env):
        code = ("import convroute, convroute._lib as l, os; "
                "print(l.found_by); print(convroute.version()); "
                "print(os.path.exists(os.path.join(os.path.dirname("
                "convroute.__file__), 'py.typed'))); "
                "print(convroute.__file__)")
        return subprocess.run([self.vpy, "-c", code], capture_output=True,
                              text=True, env=dict(clean_env(), **env),
                              cwd=self.tmp, timeout=120)

    def test_install_then_bundle(self):
        self.pip_install()
        run = self.probe(CONVROUTE_LIB=_lib.path)
        self.assertEqual(run.returncode, 0, run.stderr)
        found, version, typed, where = run.stdout.split("\n")[:4]
        self.assertEqual(found, "CONVROUTE_LIB")
        self.assertEqual(typed, "True")
        self.assertTrue(where.startswith(self.venv), where)
        # outside the checkout there is no build tree to fall back on
        run = self.probe()
        if run.returncode == 0:
            self.assertNotIn(run.stdout.split("\n")[0],
                             ("build tree", "beside the package"))
        else:
            self.assertIn("set CONVROUTE_LIB", run.stderr)
        # CONVROUTE_BUNDLE_LIB at install time: the library travels along
        self.pip_install(CONVROUTE_BUNDLE_LIB=_lib.path)
        run = self.probe()
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(run.stdout.split("\n")[0], "beside the package")


if __name__ == "__main__":
    unittest.main()
