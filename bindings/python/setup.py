"""setuptools glue for one option: CONVROUTE_BUNDLE_LIB.

Everything else is in pyproject.toml. When CONVROUTE_BUNDLE_LIB names a
built libconvroute.so.0 at build/install time, it is copied into the
package as convroute/libconvroute.so.0 (found first after CONVROUTE_LIB,
see convroute/_lib.py) and the wheel is tagged for this platform, since it
then carries machine code:

    CONVROUTE_BUNDLE_LIB=$PWD/build/libconvroute.so.0 \\
        pip install --no-build-isolation ./bindings/python
"""
import os

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

BUNDLE = os.environ.get("CONVROUTE_BUNDLE_LIB")


class BuildPy(build_py):
    def run(self):
        super().run()
        if BUNDLE:
            if not os.path.isfile(BUNDLE):
                raise SystemExit("CONVROUTE_BUNDLE_LIB=%s: no such file"
                                 % BUNDLE)
            dst = os.path.join(self.build_lib, "convroute",
                               "libconvroute.so.0")
            self.copy_file(os.path.realpath(BUNDLE), dst)


class Dist(Distribution):
    def has_ext_modules(self):
        return bool(BUNDLE)


setup(cmdclass={"build_py": BuildPy}, distclass=Dist)
