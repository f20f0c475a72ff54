"""Finds and loads the convroute shared library, and declares the C
signatures of the frame (version, errors, memory).

Search order (STYLE.md: CONVROUTE_LIB, then beside the package, then the
system), first hit wins:

1. CONVROUTE_LIB: the path of the library file. When it is set, nothing
   else is tried, so a wrong path is an ImportError, never a silent
   fallback to another copy.
2. Beside this package: convroute/libconvroute.so.0 (a wheel built with
   CONVROUTE_BUNDLE_LIB set, see setup.py).
3. The build tree of the source checkout this package sits in
   (bindings/python/convroute -> <checkout>/build*/), when it is imported
   from the checkout (PYTHONPATH=bindings/python). build/ first, then the
   other build* directories, newest library first; sanitizer builds only
   when the ASan runtime is already in the process (LD_PRELOAD), because
   loading one otherwise makes ASan end the process.
4. The installed prefix: <sys.prefix>/lib and the standard CMake install
   directories of /usr/local and /usr (lib, lib64, lib/<multiarch>).
5. The system's search path: dlopen("libconvroute.so.0") (honours
   LD_LIBRARY_PATH and the ld.so cache), then ctypes.util.find_library.

Every function is declared with fn(name, restype, *argtypes), which also
records the name in BOUND: tests/test_coverage.py checks that every
CR_EXTERN function of include/convroute.h is in it.
"""
import ctypes
import ctypes.util
import os
import sys
import sysconfig
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

_NAMES = ("libconvroute.so.0", "libconvroute.so", "libconvroute.dylib",
          "convroute.dll")

#: where the library was loaded from, and by which rule
path: Optional[str] = None
found_by: Optional[str] = None
#: every C function declared through fn(): name -> ctypes function
BOUND: Dict[str, Any] = {}


def _build_trees(root: Path) -> List[Path]:
    """<checkout>/build, then the other build* directories, newest
    library first (a developer's most recent build wins)."""
    first = root / "build"
    others = []
    try:
        for d in root.iterdir():
            if d.is_dir() and d.name.startswith("build") and d != first:
                others.append(d)
    except OSError:
        return [first]

    def mtime(d: Path) -> float:
        for name in _NAMES:
            p = d / name
            if p.exists():
                return p.stat().st_mtime
        return 0.0
    others.sort(key=mtime, reverse=True)
    trees = [first] + [d for d in others if mtime(d) > 0]
    # A sanitizer build's library cannot be loaded into an interpreter
    # that was not started with the ASan runtime preloaded: ASan ends the
    # process ("runtime does not come first"), which no try/except can
    # catch. Such trees are only candidates when the runtime is present.
    if not _asan_loaded():
        trees = [d for d in trees if not _sanitizer_build(d)]
    return trees


def _asan_loaded() -> bool:
    try:
        return hasattr(ctypes.CDLL(None), "__asan_init")
    except OSError:
        return False


def _sanitizer_build(d: Path) -> bool:
    try:
        cache = (d / "CMakeCache.txt").read_text(errors="replace")
    except OSError:
        return False
    return any(opt + ":BOOL=ON" in cache
               for opt in ("CONVROUTE_SANITIZE", "CONVROUTE_FUZZ"))


def _prefix_dirs() -> List[Path]:
    multiarch = sysconfig.get_config_var("MULTIARCH") or ""
    out = []
    for prefix in (sys.prefix, "/usr/local", "/usr"):
        for sub in ("lib", "lib64", "lib/" + multiarch if multiarch else ""):
            if sub:
                d = Path(prefix) / sub
                if d not in out:
                    out.append(d)
    return out


def candidates() -> Iterator[tuple]:
    """(path or soname, rule) in search order."""
    env = os.environ.get("CONVROUTE_LIB")
    if env:
        yield Path(env), "CONVROUTE_LIB"
        return
    here = Path(__file__).resolve().parent
    for name in _NAMES:
        yield here / name, "beside the package"
    root = here.parent.parent.parent  # bindings/python/convroute -> checkout
    if (root / "include" / "convroute.h").exists():
        for build in _build_trees(root):
            for name in _NAMES:
                yield build / name, "build tree"
    for d in _prefix_dirs():
        for name in _NAMES:
            yield d / name, "installed prefix"
    yield Path("libconvroute.so.0"), "system search path"
    found = ctypes.util.find_library("convroute")
    if found:
        yield Path(found), "system search path"


def _load():
    global path, found_by
    tried = []
    for p, rule in candidates():
        if p.is_absolute() and not p.exists():
            tried.append(str(p))
            continue
        try:
            lib_ = ctypes.CDLL(str(p))
        except OSError as exc:
            tried.append("%s (%s)" % (p, exc))
            continue
        path, found_by = str(p), rule
        return lib_
    raise ImportError("cannot load the convroute library; build it (cmake) "
                      "and set CONVROUTE_LIB to the path of "
                      "libconvroute.so.0. Tried: " + "; ".join(tried))


lib = _load()

# CONVROUTE_PY_TRACE=FILE: every call through a declared function is
# counted and the names called are written to FILE at exit
# (tests/test_coverage.py uses it to prove every function is exercised).
_TRACE = os.environ.get("CONVROUTE_PY_TRACE")
CALLED: Dict[str, int] = {}


def _traced(name: str, f: Any) -> Callable:
    def call(*args):
        CALLED[name] = CALLED.get(name, 0) + 1
        return f(*args)
    call.__name__ = name
    call.__wrapped__ = f  # type: ignore[attr-defined]
    return call


# ---- integer ranges ----
#
# ctypes converts a Python int to a C integer type by truncation: 2**64 + 5
# passed as int64_t arrives as 5, -1 as uint32_t as 4294967295. Every
# integer argument of a declared function, and every integer field of a
# Structure made from _lib.Struct, is checked against its C type instead:
# a value that does not fit raises RangeError (CR_ERANGE) and nothing is
# called or stored. Structures that only C fills (results, events) stay
# plain ctypes Structures.

_CR_ERANGE = -3


def int_range(ctype: Any) -> Optional[Tuple[int, int]]:
    """(lo, hi) of a ctypes integer type; None for any other type."""
    code = getattr(ctype, "_type_", None)
    if not isinstance(code, str) or code not in "bBhHiIlLqQ" or \
            not issubclass(ctype, ctypes._SimpleCData):
        return None
    bits = 8 * ctypes.sizeof(ctype)
    if code.islower():
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def range_error(what: str, value: int, lo: int, hi: int) -> Exception:
    """The RangeError for an int outside lo..hi."""
    from .errors import ConvrouteError  # errors imports this module
    return ConvrouteError(_CR_ERANGE, "%s: %d does not fit in %d .. %d"
                          % (what, value, lo, hi))


def check_int(ctype: Any, value: Any, what: str) -> Any:
    """value, after checking that an int fits ctype (RangeError if not).
    Other values are returned as they are (ctypes judges them)."""
    r = int_range(ctype)
    if r is not None and isinstance(value, int) and \
            not r[0] <= value <= r[1]:
        raise range_error(what, value, r[0], r[1])
    return value


class Struct(ctypes.Structure):
    """A ctypes Structure whose integer fields refuse values that do not
    fit (RangeError) instead of truncating them."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, int):
            r = _field_ranges(type(self)).get(name)
            if r is not None and not r[0] <= value <= r[1]:
                raise range_error("%s.%s" % (type(self).__name__.lstrip("_"),
                                             name), value, r[0], r[1])
        super().__setattr__(name, value)


_RANGES: Dict[type, Dict[str, Tuple[int, int]]] = {}


def _field_ranges(cls: type) -> Dict[str, Tuple[int, int]]:
    got = _RANGES.get(cls)
    if got is None:
        got = {}
        for klass in reversed(cls.__mro__):
            for f in klass.__dict__.get("_fields_", ()):
                r = int_range(f[1])
                if r is not None:
                    got[f[0]] = r
        _RANGES[cls] = got
    return got


def _range_checked(name: str, f: Any, argtypes: Tuple[Any, ...]) -> Any:
    checks = [(i, r) for i, r in ((i, int_range(t))
                                  for i, t in enumerate(argtypes))
              if r is not None]
    if not checks:
        return f

    def call(*args):
        for i, (lo, hi) in checks:
            v = args[i] if i < len(args) else None
            if isinstance(v, int) and not lo <= v <= hi:
                raise range_error("%s argument %d" % (name, i + 1), v, lo,
                                  hi)
        return f(*args)
    call.__name__ = name
    call.__wrapped__ = f  # type: ignore[attr-defined]
    return call


def fn(name: str, restype: Any, *argtypes: Any) -> Any:
    """Declares and returns the C function `name` (its integer arguments
    range-checked: RangeError rather than a silently truncated value)."""
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    BOUND[name] = f
    g = _range_checked(name, f, argtypes)
    return _traced(name, g) if _TRACE else g


if _TRACE:
    import atexit

    def _dump(trace: str = _TRACE or "") -> None:
        with open(trace, "a", encoding="utf-8") as out:
            for name in sorted(CALLED):
                out.write("%s %d\n" % (name, CALLED[name]))
    atexit.register(_dump)


cr_version = fn("cr_version", ctypes.c_char_p)
cr_version_num = fn("cr_version_num", ctypes.c_uint)
cr_strerror = fn("cr_strerror", ctypes.c_char_p, ctypes.c_int)
cr_errname = fn("cr_errname", ctypes.c_char_p, ctypes.c_int)
cr_mem_free = fn("cr_mem_free", None, ctypes.c_void_p, ctypes.c_void_p)

# The ABI is stable within a major version (the SONAME is the major
# number): refuse a library of another major rather than crash on a
# struct whose layout changed.
ABI_MAJOR = 0
if cr_version_num() >> 16 != ABI_MAJOR:
    raise ImportError("%s is convroute %s; this package needs major version "
                      "%d" % (path, cr_version().decode(), ABI_MAJOR))
