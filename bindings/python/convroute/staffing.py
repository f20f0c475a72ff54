"""Erlang B, C and A staffing: how many agents (or lines) a load needs.

Pure functions over the C library's cr_erlang_* calls; every result is a
frozen dataclass. Inputs are stated as planners state them: contacts per
interval, interval length, average handling time, service-level threshold
and mean patience, all in seconds.

    >>> from convroute import staffing
    >>> staffing.erlang_c(arrivals=100, interval_s=1800, aht_s=180,
    ...                   agents=14, target_s=20).service_level
    0.888350019...
    >>> r = staffing.agents_for(arrivals=100, interval_s=1800, aht_s=180,
    ...                         target_s=20, service_level=0.8,
    ...                         max_occupancy=0.85, shrinkage=0.3)
    >>> r.agents, r.agents_with_shrinkage
    (14, 20)

Definitions (the C header's staffing section has the full text):
service_level is "EA1": answered within target_s over all offered contacts,
abandoners counted as failures; asa_s is the mean wait over all offered
contacts (Lq / lambda; the classic Erlang C ASA), asa_answered_s over
answered contacts only. Bad input raises StaffingError, which is both a
ConvrouteError (with .code / .name) and a ValueError.
"""
import ctypes
from dataclasses import dataclass
from typing import Any, Optional

from . import _lib
from .errors import ConvrouteError

__all__ = ["Staffing", "ErlangB", "StaffingError", "MAX_AGENTS",
           "erlang_b", "erlang_b_lines", "erlang_c", "erlang_a",
           "agents_for", "erlang_c_agents", "erlang_a_agents", "shrink"]

MAX_AGENTS = 1000000  # CR_STAFFING_MAX_AGENTS

_EINVAL, _ERANGE, _EINFEASIBLE = -1, -3, -13


class StaffingError(ConvrouteError, ValueError):
    """Bad or impossible staffing input (a CR_E... code from the library)."""


class _Req(_lib.Struct):
    _fields_ = [("arrivals", ctypes.c_double),
                ("interval_s", ctypes.c_double),
                ("aht_s", ctypes.c_double),
                ("target_s", ctypes.c_double),
                ("patience_s", ctypes.c_double)]


class _Goal(_lib.Struct):
    _fields_ = [("service_level", ctypes.c_double),
                ("max_occupancy", ctypes.c_double),
                ("max_asa_s", ctypes.c_double),
                ("max_abandon", ctypes.c_double),
                ("shrinkage", ctypes.c_double)]


class _Staffing(ctypes.Structure):  # filled by C
    _fields_ = [("load_erlangs", ctypes.c_double),
                ("agents", ctypes.c_int32),
                ("agents_with_shrinkage", ctypes.c_int32),
                ("p_wait", ctypes.c_double),
                ("service_level", ctypes.c_double),
                ("asa_s", ctypes.c_double),
                ("asa_answered_s", ctypes.c_double),
                ("occupancy", ctypes.c_double),
                ("p_abandon", ctypes.c_double),
                ("queue_len", ctypes.c_double)]


_P = ctypes.POINTER
_c_erlang_b = _lib.fn("cr_erlang_b", ctypes.c_int, ctypes.c_double,
                      ctypes.c_int32, _P(ctypes.c_double))
_c_erlang_b_lines = _lib.fn("cr_erlang_b_lines", ctypes.c_int,
                            ctypes.c_double, ctypes.c_double,
                            _P(ctypes.c_int32))
_c_erlang_c = _lib.fn("cr_erlang_c", ctypes.c_int, _P(_Req), ctypes.c_int32,
                      _P(_Staffing))
_c_erlang_a = _lib.fn("cr_erlang_a", ctypes.c_int, _P(_Req), ctypes.c_int32,
                      _P(_Staffing))
_c_erlang_c_agents = _lib.fn("cr_erlang_c_agents", ctypes.c_int, _P(_Req),
                             _P(_Goal), _P(_Staffing))
_c_erlang_a_agents = _lib.fn("cr_erlang_a_agents", ctypes.c_int, _P(_Req),
                             _P(_Goal), _P(_Staffing))
_c_shrink = _lib.fn("cr_staffing_shrink", ctypes.c_int, ctypes.c_int32,
                    ctypes.c_double, _P(ctypes.c_int32))


@dataclass(frozen=True)
class Staffing:
    """Erlang C or A figures for one agent count (given or required)."""
    model: str                  # "erlang_c" or "erlang_a"
    load_erlangs: float         # arrivals * aht_s / interval_s
    agents: int
    agents_with_shrinkage: int  # ceil(agents / (1 - shrinkage))
    p_wait: float
    service_level: float        # EA1, within the request's target_s
    asa_s: float                # mean wait, all offered contacts
    asa_answered_s: float       # mean wait, answered contacts
    occupancy: float
    p_abandon: float            # 0 for Erlang C
    queue_len: float            # mean number waiting


@dataclass(frozen=True)
class ErlangB:
    """Erlang B figures: blocking of `lines` trunks offered a load."""
    load_erlangs: float
    lines: int
    blocking: float


def _raise(rc, detail):
    raise StaffingError(rc, detail)


def _check(rc, detail):
    if rc < 0:
        _raise(rc, detail() if callable(detail) else detail)


def _num(name, v, optional=False):
    if v is None and optional:
        return 0.0
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        _raise(_EINVAL, "%s must be a number, got %r" % (name, v))
    try:
        return float(v)
    except OverflowError:  # an int beyond the largest double
        raise StaffingError(_ERANGE, "%s is too large for a double"
                            % name) from None


def _count(name, v):
    if isinstance(v, bool) or not isinstance(v, int):
        _raise(_EINVAL, "%s must be an int, got %r" % (name, v))
    if v < 0:
        _raise(_EINVAL, "%s must not be negative, got %d" % (name, v))
    if v > MAX_AGENTS:
        _raise(_ERANGE, "%s must be at most %d, got %d" % (name, MAX_AGENTS,
                                                          v))
    return v


def _req(arrivals, interval_s, aht_s, target_s, patience_s=None):
    return _Req(_num("arrivals", arrivals), _num("interval_s", interval_s),
                _num("aht_s", aht_s), _num("target_s", target_s),
                _num("patience_s", patience_s, optional=True))


def _result(model, s):
    return Staffing(model, s.load_erlangs, s.agents, s.agents_with_shrinkage,
                    s.p_wait, s.service_level, s.asa_s, s.asa_answered_s,
                    s.occupancy, s.p_abandon, s.queue_len)


def erlang_b(load_erlangs: float, lines: int) -> ErlangB:
    """Blocking probability of `lines` trunks offered `load_erlangs`."""
    out = ctypes.c_double()
    rc = _c_erlang_b(_num("load_erlangs", load_erlangs),
                     _count("lines", lines), ctypes.byref(out))
    _check(rc, "load %r Erlangs, %r lines" % (load_erlangs, lines))
    return ErlangB(float(load_erlangs), lines, out.value)


def erlang_b_lines(load_erlangs: float, max_blocking: float) -> ErlangB:
    """The fewest lines with blocking <= max_blocking (in (0, 1])."""
    lines = ctypes.c_int32()
    rc = _c_erlang_b_lines(_num("load_erlangs", load_erlangs),
                           _num("max_blocking", max_blocking),
                           ctypes.byref(lines))
    _check(rc, "load %r Erlangs, blocking <= %r" % (load_erlangs,
                                                     max_blocking))
    return erlang_b(load_erlangs, lines.value)


def _given(cfn, model, req, agents, shrinkage):
    out = _Staffing()
    n = _count("agents", agents)
    rc = cfn(ctypes.byref(req), n, ctypes.byref(out))

    def detail():
        load = req.arrivals * req.aht_s / req.interval_s \
            if req.interval_s > 0 else float("nan")
        if rc == _EINFEASIBLE:
            return ("load %.6g Erlangs >= %d agents: Erlang C has no steady "
                    "state; add agents or give a patience (Erlang A)"
                    % (load, n))
        return "arrivals=%r interval_s=%r aht_s=%r target_s=%r%s, agents=%r" \
            % (req.arrivals, req.interval_s, req.aht_s, req.target_s,
               " patience_s=%r" % req.patience_s if model == "erlang_a"
               else "", n)
    _check(rc, detail)
    if shrinkage:
        out.agents_with_shrinkage = shrink(n, shrinkage)
    return _result(model, out)


def erlang_c(arrivals: float, interval_s: float, aht_s: float, agents: int,
             target_s: float = 20.0, shrinkage: float = 0.0) -> Staffing:
    """Erlang C (M/M/N) figures for `agents` agents; needs load < agents."""
    return _given(_c_erlang_c, "erlang_c",
                  _req(arrivals, interval_s, aht_s, target_s), agents,
                  shrinkage)


def erlang_a(arrivals: float, interval_s: float, aht_s: float, agents: int,
             patience_s: float, target_s: float = 20.0,
             shrinkage: float = 0.0) -> Staffing:
    """Erlang A (M/M/N+M) figures for `agents` agents with exponential
    patience of mean patience_s seconds (any load; agents >= 1)."""
    return _given(_c_erlang_a, "erlang_a",
                  _req(arrivals, interval_s, aht_s, target_s, patience_s),
                  agents, shrinkage)


def agents_for(arrivals: float, interval_s: float, aht_s: float, *,
               target_s: float = 20.0,
               service_level: Optional[float] = None,
               max_occupancy: Optional[float] = None,
               max_asa_s: Optional[float] = None,
               max_abandon: Optional[float] = None,
               shrinkage: float = 0.0,
               patience_s: Optional[float] = None) -> Staffing:
    """The fewest agents meeting every target given, with their figures.

    Erlang A when patience_s is given, Erlang C otherwise. Targets:
    service_level (fraction answered within target_s, EA1), max_occupancy,
    max_asa_s, max_abandon (Erlang A). shrinkage fills
    agents_with_shrinkage = ceil(agents / (1 - shrinkage)).
    """
    goal = _Goal(_num("service_level", service_level, True),
                 _num("max_occupancy", max_occupancy, True),
                 _num("max_asa_s", max_asa_s, True),
                 _num("max_abandon", max_abandon, True),
                 _num("shrinkage", shrinkage, True))
    if patience_s is None:
        model, cfn = "erlang_c", _c_erlang_c_agents
        req = _req(arrivals, interval_s, aht_s, target_s)
    else:
        model, cfn = "erlang_a", _c_erlang_a_agents
        req = _req(arrivals, interval_s, aht_s, target_s, patience_s)
    out = _Staffing()
    rc = cfn(ctypes.byref(req), ctypes.byref(goal), ctypes.byref(out))

    def detail():
        if rc == _EINFEASIBLE:
            return "the targets cannot be met (service level 1 is never " \
                   "reached; nothing beyond %d agents is tried)" % MAX_AGENTS
        if rc == _EINVAL and not any((service_level, max_occupancy,
                                      max_asa_s, max_abandon)):
            return "give at least one target"
        return "load: arrivals=%r interval_s=%r aht_s=%r target_s=%r " \
               "patience_s=%r; targets: service_level=%r max_occupancy=%r " \
               "max_asa_s=%r max_abandon=%r shrinkage=%r" % (
                   arrivals, interval_s, aht_s, target_s, patience_s,
                   service_level, max_occupancy, max_asa_s, max_abandon,
                   shrinkage)
    _check(rc, detail)
    return _result(model, out)


def erlang_c_agents(arrivals: float, interval_s: float, aht_s: float,
                    **targets: Any) -> Staffing:
    """agents_for() under Erlang C (no patience_s)."""
    if "patience_s" in targets:
        raise TypeError("erlang_c_agents() takes no patience_s")
    return agents_for(arrivals, interval_s, aht_s, **targets)


def erlang_a_agents(arrivals: float, interval_s: float, aht_s: float,
                    patience_s: float, **targets: Any) -> Staffing:
    """agents_for() under Erlang A with mean patience patience_s."""
    return agents_for(arrivals, interval_s, aht_s, patience_s=patience_s,
                      **targets)


def shrink(agents: int, shrinkage: float) -> int:
    """Agents to schedule so `agents` are productive after shrinkage:
    ceil(agents / (1 - shrinkage)), shrinkage in [0, 1)."""
    out = ctypes.c_int32()
    rc = _c_shrink(_count("agents", agents), _num("shrinkage", shrinkage),
                   ctypes.byref(out))
    _check(rc, "shrinkage must be in [0, 1), got %r" % (shrinkage,))
    return out.value
