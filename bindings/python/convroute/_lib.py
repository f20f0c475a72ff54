"""Finds and loads the convroute shared library, and declares the C
signatures of the frame (version, errors, memory).

Search order (STYLE.md): the CONVROUTE_LIB environment variable; a library
beside this package; the build tree of a source checkout (build/); the
system's library path.
"""
import ctypes
import ctypes.util
import os
from pathlib import Path

_NAMES = ("libconvroute.so.0", "libconvroute.so", "libconvroute.dylib",
          "convroute.dll")


def _candidates():
    env = os.environ.get("CONVROUTE_LIB")
    if env:
        yield Path(env)
        return
    here = Path(__file__).resolve().parent
    for name in _NAMES:
        yield here / name
    root = here.parent.parent.parent  # bindings/python/convroute -> checkout
    for build in ("build", "build-release", "build/Release"):
        for name in _NAMES:
            yield root / build / name
    found = ctypes.util.find_library("convroute")
    if found:
        yield Path(found)


def _load():
    tried = []
    for path in _candidates():
        if path.is_absolute() and not path.exists():
            tried.append(str(path))
            continue
        try:
            return ctypes.CDLL(str(path))
        except OSError as exc:
            tried.append("%s (%s)" % (path, exc))
    raise ImportError("cannot load the convroute library; set CONVROUTE_LIB "
                      "to its path. Tried: " + "; ".join(tried))


lib = _load()


def fn(name, restype, *argtypes):
    """Declares and returns the C function `name`."""
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


cr_version = fn("cr_version", ctypes.c_char_p)
cr_version_num = fn("cr_version_num", ctypes.c_uint)
cr_strerror = fn("cr_strerror", ctypes.c_char_p, ctypes.c_int)
cr_errname = fn("cr_errname", ctypes.c_char_p, ctypes.c_int)
cr_mem_free = fn("cr_mem_free", None, ctypes.c_void_p, ctypes.c_void_p)
