"""Contact-center KPIs: a Pythonic face on the C library's cr_metrics.

Feed finished contacts, late survey answers and agent time; read the KPIs
since start, per channel / queue / agent / intent, or over a moving window
(a live wallboard). Results are frozen dataclasses; a figure with no data
is None (the C library's NAN). Times are seconds (int or float) on any
fixed origin, or datetime objects (converted with .timestamp()).

    >>> from convroute import Metrics, Contact
    >>> with Metrics(sl_threshold_s=20) as m:
    ...     m.add(Contact(arrived_at=0, queued_at=0, answered_at=12,
    ...                   ended_at=300, handled_by="agent", agent="ann",
    ...                   csat=5))
    ...     m.report().service_level, m.groups("agent")["ann"].asa_s
    (1.0, 12.0)

The formulas (FCR window, CSAT top-2-box, NPS and its margin of error,
CES 2.0, service level with its abandonment treatment, ASA, AHT,
occupancy, containment, cost) are documented in the C header's metrics
section and docs/metrics.md. Bad input raises MetricsError (a
ConvrouteError and a ValueError) and records nothing.
"""
import ctypes as _c
import datetime as _dt
import math
from dataclasses import dataclass, fields
from typing import Any, Dict, Iterable, List, Optional, Union

from . import _lib
from .errors import ConvrouteError

__all__ = ["Metrics", "Contact", "Report", "MetricsError", "DIMENSIONS",
           "HANDLED_BY", "SL_ABANDON"]

DIMENSIONS = ("channel", "queue", "agent", "intent")
HANDLED_BY = ("bot", "agent", "abandoned")
SL_ABANDON = ("ignore", "fail", "exclude-short")
_NONE = -128              # CR_METRICS_NONE
_TIME_NONE = -(2 ** 63)   # CR_TIME_NONE
_TOTAL = -1               # CR_METRICS_TOTAL

Time = Union[int, float, _dt.datetime]


class MetricsError(ConvrouteError, ValueError):
    """Bad metrics input (a CR_E... code); nothing was recorded."""


class _Options(_lib.Struct):
    _fields_ = [("fcr_window_ms", _c.c_int64),
                ("sl_threshold_ms", _c.c_int64),
                ("sl_abandon", _c.c_int),
                ("short_abandon_ms", _c.c_int64),
                ("window_ms", _c.c_int64),
                ("bucket_ms", _c.c_int64),
                ("cost_bot", _c.c_double),
                ("cost_agent", _c.c_double),
                ("breakdowns", _c.c_uint)]


# The per-record structures are plain ctypes structures, filled only by
# Metrics.add / survey / agent_time from values checked on the way in
# (_ms, _dur_ms, _answer, _flag; lengths from len()): a checking
# __setattr__ on each of a record's ~20 stores doubled the cost of add().
class _KeyRef(_c.Structure):
    _fields_ = [("str", _c.c_char_p), ("len", _c.c_size_t),
                ("id", _c.c_uint32)]


class _Record(_c.Structure):
    _fields_ = [("arrived_at", _c.c_int64), ("queued_at", _c.c_int64),
                ("answered_at", _c.c_int64), ("ended_at", _c.c_int64),
                ("handled_by", _c.c_int), ("escalated", _c.c_int),
                ("resolved", _c.c_int), ("transferred", _c.c_int),
                ("wrap_ms", _c.c_int64),
                ("key", _KeyRef * 4),
                ("customer", _c.c_char_p), ("customer_len", _c.c_size_t),
                ("csat", _c.c_int), ("nps", _c.c_int), ("ces", _c.c_int),
                ("fcr", _c.c_int)]


class _Survey(_c.Structure):
    _fields_ = [("at", _c.c_int64), ("key", _KeyRef * 4),
                ("csat", _c.c_int), ("nps", _c.c_int), ("ces", _c.c_int),
                ("fcr", _c.c_int)]


_COUNTS = ["contacts", "answered", "abandoned", "short_abandoned",
           "bot_handled", "bot_contained", "escalated", "transferred",
           "resolved", "unresolved", "fcr_yes", "fcr_repeat", "fcr_pending",
           "csat_n", "nps_n", "ces_n", "fcr_survey_n", "nps_promoters",
           "nps_detractors"]
_FIGURES = ["fcr", "fcr_survey", "resolution_rate", "csat_top2",
            "csat_mean", "nps", "nps_moe95", "ces_mean", "ces_top3",
            "service_level", "asa_s", "abandon_rate", "aht_s", "occupancy",
            "containment", "transfer_rate", "cost", "cost_per_contact"]


class _Report(_c.Structure):  # filled by C
    _fields_ = ([(n, _c.c_uint64) for n in _COUNTS] +
                [(n, _c.c_double) for n in _FIGURES])


@dataclass(frozen=True)
class Report:
    """KPIs: counts are ints; figures are floats, None when there is no
    data (rates are fractions 0..1, NPS -100..100, times in seconds)."""
    contacts: int
    answered: int
    abandoned: int
    short_abandoned: int
    bot_handled: int
    bot_contained: int
    escalated: int
    transferred: int
    resolved: int
    unresolved: int
    fcr_yes: int
    fcr_repeat: int
    fcr_pending: int
    csat_n: int
    nps_n: int
    ces_n: int
    fcr_survey_n: int
    nps_promoters: int
    nps_detractors: int
    fcr: Optional[float]
    fcr_survey: Optional[float]
    resolution_rate: Optional[float]
    csat_top2: Optional[float]
    csat_mean: Optional[float]
    nps: Optional[float]
    nps_moe95: Optional[float]
    ces_mean: Optional[float]
    ces_top3: Optional[float]
    service_level: Optional[float]
    asa_s: Optional[float]
    abandon_rate: Optional[float]
    aht_s: Optional[float]
    occupancy: Optional[float]
    containment: Optional[float]
    transfer_rate: Optional[float]
    cost: Optional[float]
    cost_per_contact: Optional[float]

    @classmethod
    def _from(cls, r):
        vals = {n: int(getattr(r, n)) for n in _COUNTS}
        for n in _FIGURES:
            v = getattr(r, n)
            vals[n] = None if math.isnan(v) else v
        return cls(**vals)

    def as_dict(self) -> Dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class Contact:
    """One finished contact (see the C struct cr_metrics_record)."""
    arrived_at: Time
    ended_at: Time
    handled_by: str = "bot"           # "bot", "agent" or "abandoned"
    queued_at: Optional[Time] = None
    answered_at: Optional[Time] = None
    escalated: bool = False
    resolved: Optional[bool] = None   # None = unknown
    transferred: bool = False
    wrap_s: float = 0
    channel: Optional[str] = None
    queue: Optional[str] = None
    agent: Optional[str] = None
    intent: Optional[str] = None
    customer: Optional[str] = None
    csat: Optional[int] = None        # 1..5
    nps: Optional[int] = None         # 0..10
    ces: Optional[int] = None         # 1..7
    fcr: Optional[bool] = None        # survey "resolved on first contact"


_fn = _lib.fn
_P = _c.c_void_p
_new = _fn("cr_metrics_new", _c.c_int, _c.POINTER(_P), _P,
           _c.POINTER(_Options))
_del = _fn("cr_metrics_del", None, _P)
_errmsg = _fn("cr_metrics_errmsg", _c.c_char_p, _P)
_opt_init = _fn("cr_metrics_options_init", None, _c.POINTER(_Options))
_rec_init = _fn("cr_metrics_record_init", None, _c.POINTER(_Record))
_sur_init = _fn("cr_metrics_survey_init", None, _c.POINTER(_Survey))
_key = _fn("cr_metrics_key", _c.c_int, _P, _c.c_int, _c.c_char_p,
           _c.c_size_t, _c.POINTER(_c.c_uint32))
_key_count = _fn("cr_metrics_key_count", _c.c_uint32, _P, _c.c_int)
_key_name = _fn("cr_metrics_key_name", _c.c_int, _P, _c.c_int, _c.c_uint32,
                _c.POINTER(_c.c_void_p), _c.POINTER(_c.c_size_t))
_rec_add = _fn("cr_metrics_record_add", _c.c_int, _P, _c.POINTER(_Record))
_sur_add = _fn("cr_metrics_survey_add", _c.c_int, _P, _c.POINTER(_Survey))
_agent_time = _fn("cr_metrics_agent_time", _c.c_int, _P,
                  _c.POINTER(_KeyRef), _c.c_int64, _c.c_int64, _c.c_int64)
_advance = _fn("cr_metrics_advance", _c.c_int, _P, _c.c_int64)
_report_get = _fn("cr_metrics_report_get", _c.c_int, _P, _c.c_int,
                  _c.c_uint32, _c.POINTER(_Report))
_window_get = _fn("cr_metrics_window_get", _c.c_int, _P, _c.c_int,
                  _c.c_uint32, _c.c_int64, _c.POINTER(_Report))
_snapshot = _fn("cr_metrics_snapshot", _c.c_int, _P, _c.POINTER(_P),
                _c.POINTER(_c.c_size_t))
_restore = _fn("cr_metrics_restore", _c.c_int, _c.POINTER(_P), _P,
               _c.c_char_p, _c.c_size_t)
_SNAP_WINDOW_AT = 52  # byte offset of window_ms in a version-1 snapshot


def _to_ms(v: Any, what: str) -> int:
    """Seconds -> int64 milliseconds: NaN is InvalidArgumentError, a value
    outside int64 (inf included) RangeError, both as MetricsError (never
    Python's own ValueError / OverflowError, never a truncated value)."""
    if isinstance(v, int):
        ms = v * 1000
    else:
        try:
            ms = int(round(v * 1000))
        except ValueError:  # NaN
            raise MetricsError(-1, "%s is not a number (%r)"
                               % (what, v)) from None
        except OverflowError:  # infinite
            raise MetricsError(-3, "%s is infinite" % what) from None
    if not _TIME_NONE < ms < 2 ** 63:
        raise MetricsError(-3, "%s: %r s is outside the int64 milliseconds"
                           % (what, v))
    return ms


def _ms(t: Optional[Time], what: str = "time") -> int:
    if t is None:
        return _TIME_NONE
    if isinstance(t, _dt.datetime):
        t = t.timestamp()
    return _to_ms(t, what)


def _dur_ms(s: float, what: str = "duration") -> int:
    return _to_ms(s, what)


def _answer(v, what: str = "answer") -> int:
    """An optional int field (resolved, csat, ...): None, or an int that
    fits a C int (RangeError, not a truncated value)."""
    if v is None:
        return _NONE
    v = int(v)
    if not -2**31 <= v < 2**31:
        raise MetricsError(-3, "%s: %d does not fit in a C int" % (what, v))
    return v


def _flag(v, what: str) -> int:
    """A 0/1 field given as a bool or an int (checked, not truncated)."""
    return _answer(int(v), what)


def _dim(dim: str) -> int:
    try:
        return DIMENSIONS.index(dim)
    except ValueError:
        raise MetricsError(-1, "dimension must be one of %s, not %r"
                           % (", ".join(DIMENSIONS), dim)) from None


def _utf8(s: str) -> bytes:
    # surrogatepass lets a lone surrogate reach the library, which rejects
    # it with CR_EUTF8 like any other bad key.
    return s.encode("utf-8", "surrogatepass")


def _options(*, fcr_window_s: float = 7 * 86400,
             sl_threshold_s: float = 20, sl_abandon: str = "fail",
             short_abandon_s: float = 0, window_s: float = 900,
             bucket_s: float = 60, cost_bot: float = 0.98,
             cost_agent: float = 7.76,
             breakdowns: Iterable[str] = DIMENSIONS) -> _Options:
    """cr_metrics_options from Metrics() keywords (also used by Engine's
    metrics= option)."""
    o = _Options()
    _opt_init(_c.byref(o))
    if sl_abandon not in SL_ABANDON:
        raise MetricsError(-1, "sl_abandon must be one of %s"
                           % ", ".join(SL_ABANDON))
    o.fcr_window_ms = _dur_ms(fcr_window_s)
    o.sl_threshold_ms = _dur_ms(sl_threshold_s)
    o.sl_abandon = SL_ABANDON.index(sl_abandon)
    o.short_abandon_ms = _dur_ms(short_abandon_s)
    o.window_ms = _dur_ms(window_s)
    o.bucket_ms = _dur_ms(bucket_s)
    o.cost_bot = cost_bot
    o.cost_agent = cost_agent
    o.breakdowns = sum(1 << _dim(d) for d in set(breakdowns))
    return o


class Metrics:
    """An accumulator of KPIs (cr_metrics). Use as a context manager or
    call close(); not thread-safe (one per thread, or lock)."""

    def __init__(self, *, fcr_window_s: float = 7 * 86400,
                 sl_threshold_s: float = 20, sl_abandon: str = "fail",
                 short_abandon_s: float = 0, window_s: float = 900,
                 bucket_s: float = 60, cost_bot: float = 0.98,
                 cost_agent: float = 7.76,
                 breakdowns: Iterable[str] = DIMENSIONS) -> None:
        o = _options(fcr_window_s=fcr_window_s,
                     sl_threshold_s=sl_threshold_s, sl_abandon=sl_abandon,
                     short_abandon_s=short_abandon_s, window_s=window_s,
                     bucket_s=bucket_s, cost_bot=cost_bot,
                     cost_agent=cost_agent, breakdowns=breakdowns)
        h = _P()
        rc = _new(_c.byref(h), None, _c.byref(o))
        if rc < 0:
            raise MetricsError(rc, "bad option")
        self._handle: Any = h
        self.window_s = window_s

    # -- lifetime --
    def close(self) -> None:
        h, self._handle = getattr(self, "_handle", None), None
        if h:
            _del(h)

    def __enter__(self) -> "Metrics":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def _h(self):
        if not self._handle:
            raise MetricsError(-14, "the accumulator is closed")
        return self._handle

    @property
    def errmsg(self) -> str:
        return _errmsg(self._handle).decode() if self._handle else ""

    def _check(self, rc):
        if rc < 0:
            raise MetricsError(rc, self.errmsg)
        return rc

    @staticmethod
    def _keys(refs, keep, **names):
        for d, dim in enumerate(DIMENSIONS):
            v = names.get(dim)
            if v:
                b = _utf8(v)
                keep.append(b)
                refs[d].str = b
                refs[d].len = len(b)

    # -- feeding --
    def add(self, contact: Optional[Contact] = None, **fields_) -> None:
        """Adds one finished contact: a Contact, or its fields as keywords."""
        c = contact if contact is not None else Contact(**fields_)
        r = _Record()
        _rec_init(_c.byref(r))
        keep: List[Any] = []
        r.arrived_at = _ms(c.arrived_at, "arrived_at")
        r.queued_at = _ms(c.queued_at, "queued_at")
        r.answered_at = _ms(c.answered_at, "answered_at")
        r.ended_at = _ms(c.ended_at, "ended_at")
        if c.handled_by not in HANDLED_BY:
            raise MetricsError(-1, "handled_by must be one of %s, not %r"
                               % (", ".join(HANDLED_BY), c.handled_by))
        r.handled_by = HANDLED_BY.index(c.handled_by)
        r.escalated = _flag(c.escalated, "escalated")
        r.transferred = _flag(c.transferred, "transferred")
        r.resolved = _answer(c.resolved, "resolved")
        r.wrap_ms = _dur_ms(c.wrap_s or 0, "wrap_s")
        self._keys(r.key, keep, channel=c.channel, queue=c.queue,
                   agent=c.agent, intent=c.intent)
        if c.customer:
            b = _utf8(c.customer)
            keep.append(b)
            r.customer, r.customer_len = b, len(b)
        r.csat, r.nps = _answer(c.csat, "csat"), _answer(c.nps, "nps")
        r.ces, r.fcr = _answer(c.ces, "ces"), _answer(c.fcr, "fcr")
        self._check(_rec_add(self._h(), _c.byref(r)))

    def add_many(self, contacts: Iterable[Contact]) -> int:
        """Adds contacts in order; stops at (and raises) the first bad one.
        Returns how many were added."""
        n = 0
        for c in contacts:
            self.add(c)
            n += 1
        return n

    def survey(self, at: Time, *, csat: Optional[int] = None,
               nps: Optional[int] = None, ces: Optional[int] = None,
               fcr: Optional[bool] = None, channel: Optional[str] = None,
               queue: Optional[str] = None, agent: Optional[str] = None,
               intent: Optional[str] = None) -> None:
        """Adds survey answers (also ones that arrive after the contact
        closed): they land in the groups of the keys given."""
        s = _Survey()
        _sur_init(_c.byref(s))
        keep: List[Any] = []
        s.at = _ms(at)
        s.csat, s.nps = _answer(csat, "csat"), _answer(nps, "nps")
        s.ces, s.fcr = _answer(ces, "ces"), _answer(fcr, "fcr")
        self._keys(s.key, keep, channel=channel, queue=queue, agent=agent,
                   intent=intent)
        self._check(_sur_add(self._h(), _c.byref(s)))

    def agent_time(self, agent: Optional[str], at: Time, logged_in_s: float,
                   busy_s: float) -> None:
        """Adds logged-in and busy time for occupancy."""
        k = _KeyRef()
        b = None
        if agent:
            b = _utf8(agent)
            k.str, k.len = b, len(b)
        self._check(_agent_time(self._h(), _c.byref(k), _ms(at),
                                _dur_ms(logged_in_s), _dur_ms(busy_s)))

    def advance(self, now: Time) -> None:
        """Moves the clock: resolutions whose repeat window closed before
        now stop being pending."""
        self._check(_advance(self._h(), _ms(now)))

    # -- keys and reports --
    def key_id(self, dim: str, name: str) -> int:
        """The id of a key (added on first use)."""
        out = _c.c_uint32()
        b = _utf8(name)
        self._check(_key(self._h(), _dim(dim), b, len(b), _c.byref(out)))
        return out.value

    def keys(self, dim: str) -> List[str]:
        """The keys of a dimension, in order of first use."""
        d = _dim(dim)
        h = self._h()
        out = []
        for i in range(1, _key_count(h, d) + 1):
            p, n = _c.c_void_p(), _c.c_size_t()
            self._check(_key_name(h, d, i, _c.byref(p), _c.byref(n)))
            out.append(_c.string_at(p, n.value).decode("utf-8"))
        return out

    def _get(self, dim, key, now=None):
        d, i = _TOTAL, 0
        if dim is not None:
            d = _dim(dim)
            names = self.keys(dim)
            if key not in names:
                raise KeyError("%s %r" % (dim, key))
            i = names.index(key) + 1
        r = _Report()
        if now is None:
            rc = _report_get(self._h(), d, i, _c.byref(r))
        else:
            rc = _window_get(self._h(), d, i, _ms(now), _c.byref(r))
        self._check(rc)
        return Report._from(r)

    def report(self, dim: Optional[str] = None,
               key: Optional[str] = None) -> Report:
        """KPIs since start: overall, or for one key of a dimension."""
        return self._get(dim, key)

    def groups(self, dim: str) -> Dict[str, Report]:
        """KPIs since start for every key of a dimension."""
        d, h, out = _dim(dim), self._h(), {}
        for i, name in enumerate(self.keys(dim), 1):
            r = _Report()
            self._check(_report_get(h, d, i, _c.byref(r)))
            out[name] = Report._from(r)
        return out

    # -- persistence --
    def snapshot(self) -> bytes:
        """Everything the accumulator holds (options, keys, counters,
        window buckets, open FCR windows) as bytes for Metrics.restore():
        versioned, little-endian, CRC-32 checked (docs/metrics.md)."""
        buf, n = _P(), _c.c_size_t()
        self._check(_snapshot(self._h(), _c.byref(buf), _c.byref(n)))
        try:
            return _c.string_at(buf, n.value)
        finally:
            _lib.cr_mem_free(None, buf)

    @classmethod
    def restore(cls, data: bytes) -> "Metrics":
        """A new accumulator from Metrics.snapshot() bytes: every report
        equals the original's, and the same later inputs give the same
        reports. Raises MetricsError (CR_ECORRUPT for damaged or truncated
        data, CR_EVERSION for a newer format)."""
        data = bytes(data)
        h = _P()
        rc = _restore(_c.byref(h), None, data, len(data))
        if rc < 0:
            raise MetricsError(rc, "cannot restore metrics from these bytes")
        self = cls.__new__(cls)
        self._handle = h
        # the options are inside the (now validated) snapshot
        self.window_s = int.from_bytes(
            data[_SNAP_WINDOW_AT:_SNAP_WINDOW_AT + 8], "little",
            signed=True) / 1000
        return self

    def window(self, now: Time, dim: Optional[str] = None,
               key: Optional[str] = None) -> Report:
        """KPIs over the moving window ending at now (repeat-FCR is None:
        it needs days, not minutes)."""
        return self._get(dim, key, now)
