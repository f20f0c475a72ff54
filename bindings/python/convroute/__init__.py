"""Python bindings for convroute (ctypes, standard library only).

The library is found through CONVROUTE_LIB, then beside this package, then
in a source checkout's build/ directory, then on the system's library path.
"""
from . import _lib
from . import staffing
from .engine import (Context, ConvSummary, DetectedIntent, Engine,
                     EngineEvent, FieldSpec, TranscriptLine)
from .errors import ConvrouteError
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
]


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
