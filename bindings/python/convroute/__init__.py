"""Python bindings for convroute (ctypes, standard library only).

The library is found through CONVROUTE_LIB, then beside this package, then
in a source checkout's build/ directory, then on the system's library path.
"""
from . import _lib
from .errors import ConvrouteError
from . import staffing
from .intent import IntentMatch, IntentModel, IntentTrainer, normalize
from .metrics import Contact, Metrics, MetricsError, Report

__all__ = ["ConvrouteError", "version", "version_num", "strerror", "errname", "staffing",
           "IntentMatch", "IntentModel", "IntentTrainer", "normalize"]
__all__ += ["Metrics", "Contact", "Report", "MetricsError"]
from .router import (AgentStats, ConvInfo, QueueStats, RouterEvent,
                     Router, RouteStep)
__all__ += ["Router", "RouterEvent", "RouteStep", "ConvInfo", "QueueStats",
            "AgentStats"]
from .engine import (Context, ConvSummary, DetectedIntent, Engine,
                     EngineEvent, FieldSpec, TranscriptLine)
__all__ += ["Engine", "EngineEvent", "Context", "ConvSummary",
            "DetectedIntent", "FieldSpec", "TranscriptLine"]


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
