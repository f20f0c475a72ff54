"""Python bindings for convroute (ctypes, standard library only).

The library is found through CONVROUTE_LIB, then beside this package, then
in a source checkout's build/ directory, then in the installed prefix, then
on the system's library path (convroute._lib; docs/python.md).
convroute.library_path() says which file was loaded.
"""
from . import _lib

__version__ = "0.1.0"  # the package's; version() is the loaded library's
from . import staffing
from .engine import (Context, ConvSummary, DetectedIntent, Engine,
                     EngineEvent, FieldSpec, TranscriptLine)
from .errors import ConvrouteError
from .errors import (CallbackError, ClosedError, CorruptError, ExistsError,
                     FullError, InfeasibleError, InvalidArgumentError,
                     NoDataError, NoSpaceError, NotFoundError, OrderError,
                     OutOfMemoryError, RangeError, StateError, UTF8Error,
                     VersionError)
from .engine import VALIDATE_LATER
from .router import channel_name, channel_number
from .intent import IntentMatch, IntentModel, IntentTrainer, normalize
from .metrics import Contact, Metrics, MetricsError, Report
from .router import (AgentStats, ConvInfo, QueueStats, RouterEvent,
                     Router, RouteStep)

__all__ = [
    "ConvrouteError", "version", "version_num", "strerror", "errname",
    # staffing: Erlang B / C / A
    "staffing",
    # intent matching
    "IntentMatch", "IntentModel", "IntentTrainer", "normalize",
    # metrics
    "Metrics", "Contact", "Report", "MetricsError",
    # router
    "Router", "RouterEvent", "RouteStep", "ConvInfo", "QueueStats",
    "AgentStats",
    # engine
    "Engine", "EngineEvent", "Context", "ConvSummary", "DetectedIntent",
    "FieldSpec", "TranscriptLine",
    # errors by CR_E code, the deferred-validation answer, channels, lookup
    "InvalidArgumentError", "OutOfMemoryError", "RangeError", "UTF8Error",
    "NotFoundError", "ExistsError", "StateError", "CorruptError",
    "VersionError", "FullError", "CallbackError", "NoDataError",
    "InfeasibleError", "ClosedError", "OrderError", "NoSpaceError",
    "VALIDATE_LATER", "channel_name", "channel_number", "library_path",
]


def version() -> str:
    """The linked library's version string, e.g. "0.1.0"."""
    return _lib.cr_version().decode()


def version_num() -> int:
    """The linked library's version as 0xMMmmpp."""
    return _lib.cr_version_num()


def strerror(code: int) -> str:
    """The sentence for an error code."""
    return _lib.cr_strerror(code).decode()


def errname(code: int) -> str:
    """The name of an error code without the CR_ prefix."""
    return _lib.cr_errname(code).decode()


def library_path() -> str:
    """The path of the loaded convroute library (see the lookup rules)."""
    return _lib.path or ""
