"""Python bindings for convroute (ctypes, standard library only).

The library is found through CONVROUTE_LIB, then beside this package, then
in a source checkout's build/ directory, then on the system's library path.
"""
from . import _lib
from .errors import ConvrouteError

__all__ = ["ConvrouteError", "version", "version_num", "strerror", "errname"]


def version():
    """The linked library's version string, e.g. "0.1.0"."""
    return _lib.cr_version().decode()


def version_num():
    """The linked library's version as 0xMMmmpp."""
    return _lib.cr_version_num()


def strerror(code):
    """The sentence for an error code."""
    return _lib.cr_strerror(code).decode()


def errname(code):
    """The name of an error code without the CR_ prefix."""
    return _lib.cr_errname(code).decode()
