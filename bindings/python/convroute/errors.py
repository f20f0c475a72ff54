"""The exceptions every failed convroute call raises.

Every negative CR_E... code of include/convroute.h has its own subclass of
ConvrouteError, so a caller catches exactly what it can handle::

    try:
        router.enqueue("c1", "billing", now=t)
    except convroute.ClosedError:        # CR_ECLOSED: the queue is closed
        ...
    except convroute.ConvrouteError as e:  # anything else from the library
        print(e.code, e.name, e)

ConvrouteError(code, detail) always builds the subclass of its code (an
unknown code stays a plain ConvrouteError). The module-specific errors
(metrics.MetricsError, staffing.StaffingError) are subclasses too: they
are combined with the code's class, so `except convroute.RangeError`
also catches a StaffingError whose code is CR_ERANGE.

Where it helps, a code's class also derives from the built-in exception a
Python programmer would reach for: InvalidArgumentError, RangeError,
UTF8Error, CorruptError, VersionError and OrderError are ValueErrors,
NotFoundError is a LookupError, OutOfMemoryError a MemoryError.
"""
from typing import Callable, Dict, Optional, Tuple, Type, Union

from . import _lib

__all__ = ["ConvrouteError", "check", "error_class", "ERROR_CLASSES",
           "InvalidArgumentError", "OutOfMemoryError", "RangeError",
           "UTF8Error", "NotFoundError", "ExistsError", "StateError",
           "CorruptError", "VersionError", "FullError", "CallbackError",
           "NoDataError", "InfeasibleError", "ClosedError", "OrderError",
           "NoSpaceError"]


class ConvrouteError(Exception):
    """A negative CR_E... code from the library.

    `code` is the number, `name` its CR_ name without the prefix ("ENOMEM"),
    `detail` what the object said more (its errmsg, or the binding's own
    sentence), and the message is "CR_NAME: cr_strerror() [: detail]".
    """

    code: int
    name: str
    detail: Optional[str]

    def __new__(cls, code: int = 0, detail=None, *args, **kw):
        sub = _BY_CODE.get(code)
        if sub is not None and not issubclass(cls, sub):
            cls = _combined(cls, sub)
        # Exception.__new__, not super(): MemoryError.__new__ refuses
        # subclasses whose layout base is Exception (OutOfMemoryError).
        return Exception.__new__(cls)

    def __init__(self, code: int, detail=None):
        if callable(detail):
            detail = detail()
        self.code = code
        self.name = _lib.cr_errname(code).decode()
        self.detail = detail or None
        msg = _lib.cr_strerror(code).decode()
        if detail:
            msg = "%s: %s" % (msg, detail)
        super().__init__("CR_%s: %s" % (self.name, msg))

    def __reduce__(self):
        # The class may be a combination made at run time (see _combined):
        # rebuild through the base, which picks the same combination.
        base = type(self)
        while getattr(base, "_combined_from", None):
            base = base._combined_from
        return (base, (self.code, self.detail))


_COMBINED: Dict[Tuple[type, type], type] = {}


def _combined(cls: type, sub: type) -> type:
    """The class that is both `cls` (e.g. StaffingError) and the code's
    class `sub` (e.g. RangeError); made once per pair."""
    if cls is ConvrouteError:
        return sub
    key = (cls, sub)
    made = _COMBINED.get(key)
    if made is None:
        made = type(cls.__name__, (cls, sub),
                    {"__module__": cls.__module__, "_combined_from": cls,
                     "__doc__": cls.__doc__})
        _COMBINED[key] = made
    return made


class InvalidArgumentError(ConvrouteError, ValueError):
    """CR_EINVAL: an argument is missing, malformed or not allowed."""


class OutOfMemoryError(ConvrouteError, MemoryError):
    """CR_ENOMEM: the allocator failed; the object is unchanged."""


class RangeError(ConvrouteError, ValueError):
    """CR_ERANGE: a value is outside its allowed range."""


class UTF8Error(ConvrouteError, ValueError):
    """CR_EUTF8: text is not valid UTF-8."""


class NotFoundError(ConvrouteError, LookupError):
    """CR_ENOTFOUND: no such id (agent, queue, conversation, label...)."""


class ExistsError(ConvrouteError):
    """CR_EEXIST: the id already exists."""


class StateError(ConvrouteError):
    """CR_ESTATE: not allowed in the current state (also: a callback
    called back into the object that called it)."""


class CorruptError(ConvrouteError, ValueError):
    """CR_ECORRUPT: a snapshot or saved model is damaged or truncated."""


class VersionError(ConvrouteError, ValueError):
    """CR_EVERSION: data written by a newer library."""


class FullError(ConvrouteError):
    """CR_EFULL: a limit was reached (queue length, capacity, rules)."""


class CallbackError(ConvrouteError):
    """CR_ECALLBACK: a host callback reported failure. When the callback
    was a Python callable that raised, the binding re-raises the callable's
    own exception instead (with a note naming CR_ECALLBACK); this class is
    what a callback that merely returned a failure value produces."""


class NoDataError(ConvrouteError):
    """CR_ENODATA: no data (no training examples, no validation rows)."""


class InfeasibleError(ConvrouteError):
    """CR_EINFEASIBLE: the target cannot be met (Erlang C at load >=
    agents, a service level of 1, ...)."""


class ClosedError(ConvrouteError):
    """CR_ECLOSED: the queue is closed, or the Python object was closed."""


class OrderError(ConvrouteError, ValueError):
    """CR_EORDER: times out of order (now went backwards)."""


class NoSpaceError(ConvrouteError):
    """CR_ENOSPACE: an output buffer is too small."""


# By code, as in CR_ERRNO_MAP. tests/test_package.py checks this table
# against the header, so a code added there without a class here fails.
ERROR_CLASSES: Dict[int, Type[ConvrouteError]] = {
    -1: InvalidArgumentError, -2: OutOfMemoryError, -3: RangeError,
    -4: UTF8Error, -5: NotFoundError, -6: ExistsError, -7: StateError,
    -8: CorruptError, -9: VersionError, -10: FullError, -11: CallbackError,
    -12: NoDataError, -13: InfeasibleError, -14: ClosedError,
    -15: OrderError, -16: NoSpaceError,
}
_BY_CODE = ERROR_CLASSES


def error_class(code: int) -> Type[ConvrouteError]:
    """The exception class raised for a CR_E... code."""
    return _BY_CODE.get(code, ConvrouteError)


def check(rc: int, detail: Union[None, str, Callable[[], str]] = None) -> int:
    """Raises the ConvrouteError subclass of a negative return code (detail:
    a string, or a callable giving one, called only on failure); returns
    rc otherwise."""
    if rc < 0:
        raise ConvrouteError(rc, detail)
    return rc
