"""The skill-based router (cr_router_*) for Python.

    from convroute import Router

    with Router(on_offer=lambda ev: print(ev.conv, "->", ev.agent)) as r:
        r.add_queue("billing", skills={"billing": 2}, auto_members=True, now=0)
        r.add_agent("ann", max_per_channel={"voice": 1, "chat": 3},
                    skills={"billing": 4}, now=0)
        r.set_agent_status("ann", "available", now=0)
        r.enqueue("c1", "billing", now=1000, channel="chat")   # offer -> ann
        r.accept("c1", "ann", now=3000)

Time is an argument everywhere (`now`, integer milliseconds on the host's
clock, never decreasing). Callbacks are plain callables that receive a
RouterEvent. The router's C callbacks cannot fail, so an exception raised
inside a Python callback is kept and re-raised from the router method that
caused it, once the C call has returned (the router's own state is
consistent: it finished the call). Further exceptions from the same call
are attached to the first as notes.

Every ctypes callback object is kept on the Router for as long as the C
router may call it. A Router is a context manager; close() frees the C
object, and a closed Router raises ConvrouteError (CR_ECLOSED).
"""
import ctypes
from dataclasses import dataclass, field
from typing import (Any, Callable, Dict, Iterable, List, Mapping, Optional,
                    Tuple, Union)

from . import _lib
from ._host import _CallbackHost
from .errors import ConvrouteError, check

__all__ = ["Router", "RouterEvent", "RouteStep", "ConvInfo", "QueueStats",
           "AgentStats", "TIME_NEVER"]

CHANNEL_COUNT = 7
MAX_STEPS = 16
MAX_STEP_SKILLS = 8
TIME_NEVER = (1 << 63) - 1
_CR_EINVAL = -1

_c = ctypes
_i64 = _c.c_int64
_u32 = _c.c_uint32
_u64 = _c.c_uint64


# ---- C layouts (include/convroute.h, router section) ----

class _SkillLevel(_lib.Struct):
    _fields_ = [("skill", _c.c_char_p), ("skill_len", _c.c_size_t),
                ("level", _c.c_int)]


class _RouteStep(_lib.Struct):
    _fields_ = [("kind", _c.c_int), ("target", _c.c_char_p),
                ("target_len", _c.c_size_t),
                ("skills", _c.POINTER(_SkillLevel)),
                ("nskills", _c.c_size_t), ("expire_after_ms", _i64)]


class _RouterConfig(_lib.Struct):
    _fields_ = [("offer_timeout_ms", _i64), ("auto_away_misses", _u32),
                ("wrapup_ms", _i64), ("reentry_grace_ms", _i64),
                ("decline_block_ms", _i64), ("seed", _u64),
                ("aht_alpha", _c.c_double)]


class _QueueConfig(_lib.Struct):
    _fields_ = [("strategy", _c.c_int),
                ("skills", _c.POINTER(_SkillLevel)),
                ("nskills", _c.c_size_t), ("auto_members", _c.c_int),
                ("sl_threshold_ms", _i64 * CHANNEL_COUNT),
                ("sl_target", _c.c_double * CHANNEL_COUNT),
                ("urgency_percent", _c.c_int), ("urgency_boost", _c.c_int),
                ("max_wait_ms", _i64), ("escalate_before_ms", _i64),
                ("escalate_boost", _c.c_int),
                ("max_wait_action", _c.c_int), ("max_length", _u32),
                ("wrapup_ms", _i64), ("offer_timeout_ms", _i64),
                ("ring_all_max", _u32), ("overflow_queue", _c.c_char_p),
                ("overflow_queue_len", _c.c_size_t),
                ("overflow_after_ms", _i64), ("overflow_ewt_ms", _i64),
                ("overflow_sl_below", _c.c_double), ("aht_hint_ms", _i64)]


class _AgentConfig(_lib.Struct):
    _fields_ = [("max_per_channel", _u32 * CHANNEL_COUNT),
                ("total_capacity", _u32), ("cost", _u32 * CHANNEL_COUNT),
                ("skills", _c.POINTER(_SkillLevel)),
                ("nskills", _c.c_size_t), ("wrapup_ms", _i64)]


class _ConvParams(_lib.Struct):
    _fields_ = [("channel", _c.c_int), ("priority", _c.c_int),
                ("steps", _c.POINTER(_RouteStep)), ("nsteps", _c.c_size_t),
                ("attrs", _c.c_char_p), ("attrs_len", _c.c_size_t)]


class _Event(_c.Structure):  # filled by C
    _fields_ = [("type", _c.c_int), ("time", _i64),
                ("conv", _c.c_void_p), ("conv_len", _c.c_size_t),
                ("agent", _c.c_void_p), ("agent_len", _c.c_size_t),
                ("queue", _c.c_void_p), ("queue_len", _c.c_size_t),
                ("channel", _c.c_int), ("data1", _i64), ("data2", _i64),
                ("text", _c.c_void_p), ("text_len", _c.c_size_t)]


_EventCB = _c.CFUNCTYPE(None, _c.POINTER(_Event), _c.c_void_p)


class _Callbacks(_lib.Struct):
    _fields_ = [("offer", _EventCB), ("offer_cancelled", _EventCB),
                ("assigned", _EventCB), ("escalation", _EventCB),
                ("event", _EventCB), ("user_data", _c.c_void_p)]


class _ConvInfo(_c.Structure):  # filled by C
    _fields_ = [("state", _c.c_int), ("channel", _c.c_int),
                ("priority", _c.c_int), ("effective_priority", _c.c_int),
                ("arrival", _i64), ("step", _c.c_int),
                ("queue", _c.c_void_p), ("queue_len", _c.c_size_t),
                ("agent", _c.c_void_p), ("agent_len", _c.c_size_t),
                ("offers", _u32)]


class _QueueStats(_c.Structure):  # filled by C
    _fields_ = [("waiting", _u32), ("offered", _u32), ("active", _u32),
                ("longest_wait_ms", _i64), ("members", _u32),
                ("members_logged_in", _u32), ("agents_available", _u32),
                ("occupancy", _c.c_double), ("entered", _u64),
                ("answered", _u64), ("abandoned", _u64),
                ("timed_out", _u64), ("overflowed_out", _u64),
                ("answered_in_sl", _u64), ("abandoned_after_sl", _u64),
                ("service_level", _c.c_double), ("offers_accepted", _u64),
                ("offers_rejected", _u64), ("offers_missed", _u64),
                ("aht_ms", _i64)]


class _AgentStats(_c.Structure):  # filled by C
    _fields_ = [("status", _c.c_int), ("load", _u32 * CHANNEL_COUNT),
                ("offers_pending", _u32), ("active", _u32),
                ("wrapping", _u32), ("cost_used", _u32),
                ("occupancy", _c.c_double), ("contacts", _u64),
                ("talk_ms", _i64), ("idle_since", _i64),
                ("offers_accepted", _u64), ("offers_rejected", _u64),
                ("offers_missed", _u64), ("consecutive_misses", _u32)]


# ---- C functions ----

_P = _c.c_void_p
_S = _c.c_char_p
_Z = _c.c_size_t
_I = _c.c_int
_fn = _lib.fn

_config_init = _fn("cr_router_config_init", None, _c.POINTER(_RouterConfig))
_queue_config_init = _fn("cr_queue_config_init", None,
                         _c.POINTER(_QueueConfig))
_agent_config_init = _fn("cr_agent_config_init", None,
                         _c.POINTER(_AgentConfig))
_conv_params_init = _fn("cr_conv_params_init", None, _c.POINTER(_ConvParams))
_new = _fn("cr_router_new", _I, _c.POINTER(_P), _P,
           _c.POINTER(_RouterConfig))
_del = _fn("cr_router_del", None, _P)
_errmsg = _fn("cr_router_errmsg", _S, _P)
_set_callbacks = _fn("cr_router_set_callbacks", _I, _P,
                     _c.POINTER(_Callbacks))
_event_name = _fn("cr_router_event_name", _S, _I)
_queue_add = _fn("cr_router_queue_add", _I, _P, _S, _Z,
                 _c.POINTER(_QueueConfig), _i64)
_queue_update = _fn("cr_router_queue_update", _I, _P, _S, _Z,
                    _c.POINTER(_QueueConfig), _i64)
_queue_set_open = _fn("cr_router_queue_set_open", _I, _P, _S, _Z, _I, _i64)
_queue_stats = _fn("cr_router_queue_stats", _I, _P, _S, _Z, _i64,
                   _c.POINTER(_QueueStats))
_ewt = _fn("cr_router_ewt", _I, _P, _S, _Z, _I, _i64, _c.POINTER(_i64))
_agent_add = _fn("cr_router_agent_add", _I, _P, _S, _Z,
                 _c.POINTER(_AgentConfig), _i64)
_agent_update = _fn("cr_router_agent_update", _I, _P, _S, _Z,
                    _c.POINTER(_AgentConfig), _i64)
_agent_remove = _fn("cr_router_agent_remove", _I, _P, _S, _Z, _i64)
_agent_join = _fn("cr_router_agent_join", _I, _P, _S, _Z, _S, _Z, _I, _i64,
                  _i64)
_agent_leave = _fn("cr_router_agent_leave", _I, _P, _S, _Z, _S, _Z, _i64)
_agent_set_status = _fn("cr_router_agent_set_status", _I, _P, _S, _Z, _I,
                        _S, _Z, _i64)
_agent_end_wrapup = _fn("cr_router_agent_end_wrapup", _I, _P, _S, _Z, _i64)
_agent_stats = _fn("cr_router_agent_stats", _I, _P, _S, _Z, _i64,
                   _c.POINTER(_AgentStats))
_enqueue = _fn("cr_router_enqueue", _I, _P, _S, _Z, _S, _Z,
               _c.POINTER(_ConvParams), _i64)
_abandon = _fn("cr_router_abandon", _I, _P, _S, _Z, _i64)
_resume = _fn("cr_router_resume", _I, _P, _S, _Z, _i64)
_accept = _fn("cr_router_accept", _I, _P, _S, _Z, _S, _Z, _i64)
_reject = _fn("cr_router_reject", _I, _P, _S, _Z, _S, _Z, _i64)
_end = _fn("cr_router_end", _I, _P, _S, _Z, _i64)
_transfer = _fn("cr_router_transfer", _I, _P, _S, _Z, _S, _Z,
                _c.POINTER(_ConvParams), _i64)
_set_steps = _fn("cr_router_set_steps", _I, _P, _S, _Z,
                 _c.POINTER(_RouteStep), _Z, _i64)
_set_priority = _fn("cr_router_set_priority", _I, _P, _S, _Z, _I, _i64)
_set_channel = _fn("cr_router_set_channel", _I, _P, _S, _Z, _I, _i64)
_conv_info = _fn("cr_router_conv_info", _I, _P, _S, _Z,
                 _c.POINTER(_ConvInfo))
_next_expiry = _fn("cr_router_next_expiry", _i64, _P)
_tick = _fn("cr_router_tick", _I, _P, _i64)
_snapshot = _fn("cr_router_snapshot", _I, _P, _c.POINTER(_P),
                _c.POINTER(_Z))
_restore = _fn("cr_router_restore", _I, _c.POINTER(_P), _P, _P, _Z)
_channel_parse = _fn("cr_channel_parse", _I, _S, _Z)
_channel_name = _fn("cr_channel_name", _S, _I)


# ---- names <-> numbers ----

STRATEGIES = ("longest_idle", "least_occupied", "fewest_contacts",
              "least_talk_time", "most_proficient", "round_robin", "random",
              "ring_all")
STATUSES = ("offline", "available", "away", "wrapup")
CONV_STATES = ("waiting", "offered", "assigned", "abandoned")
STEP_KINDS = ("skills", "queue", "agent")
MAXWAIT_ACTIONS = ("report", "exit")

Channel = Union[int, str]
Skills = Union[Mapping[str, int], Iterable[Tuple[str, int]], None]


def _enum(value, names, what):
    if isinstance(value, str):
        try:
            return names.index(value.lower())
        except ValueError:
            raise ConvrouteError(_CR_EINVAL, "unknown %s %r" % (what, value))
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConvrouteError(_CR_EINVAL, "%s must be a name or an int, not %r"
                             % (what, value))
    return value


def channel_number(channel: Channel) -> int:
    """The cr_channel value of a name ("voice", "chat", ...) or int."""
    if isinstance(channel, str):
        b = channel.encode()
        return check(_channel_parse(b, len(b)),
                     "unknown channel %r" % channel)
    return _enum(channel, (), "channel")


def channel_name(channel: int) -> Optional[str]:
    """"voice", "chat", ... for a cr_channel value, None outside the enum."""
    n = _channel_name(channel)
    return n.decode() if n is not None else None


def _utf8(s, what="id"):
    if isinstance(s, bytes):
        return s
    if not isinstance(s, str):
        raise ConvrouteError(_CR_EINVAL, "%s must be str, not %r" % (what, s))
    return s.encode("utf-8", "surrogatepass")


def _text(ptr, n):
    if not ptr:
        return None
    return _c.string_at(ptr, n).decode("utf-8", "replace")


def _skill_array(skills: Skills, keep: list):
    """A ctypes array of cr_skill_level (or None) from a mapping or pairs."""
    if skills is None:
        return None, 0
    items = list(skills.items()) if isinstance(skills, Mapping) else list(skills)
    if not items:
        return None, 0
    arr = (_SkillLevel * len(items))()
    for k, item in enumerate(items):
        try:
            name, level = item
        except (TypeError, ValueError):
            raise ConvrouteError(_CR_EINVAL, "a skill is (name, level), not %r"
                                 % (item,))
        b = _utf8(name, "skill")
        keep.append(b)
        if isinstance(level, bool) or not isinstance(level, int):
            raise ConvrouteError(_CR_EINVAL, "skill %r: level must be an int"
                                 % (name,))
        arr[k].skill = b
        arr[k].skill_len = len(b)
        arr[k].level = level if -2**31 <= level < 2**31 else 2**31 - 1
    keep.append(arr)
    return arr, len(items)


def _per_channel(values: Optional[Mapping[Channel, int]], arr, what):
    for ch, v in (values or {}).items():
        c = channel_number(ch)
        if not 0 <= c < CHANNEL_COUNT:
            raise ConvrouteError(_CR_EINVAL, "%s: no channel %r" % (what, ch))
        arr[c] = _lib.check_int(arr._type_, v, "%s[%s]" % (what, ch))


# ---- dataclasses ----

@dataclass(frozen=True)
class RouteStep:
    """One routing step: kind "skills" (agents with these skills; none =
    the queue's defaults), "queue" (move to queue `target`) or "agent" (only
    agent `target`), expiring expire_after_ms after it starts (<= 0: never).
    """
    kind: Union[str, int] = "skills"
    target: Optional[str] = None
    skills: Skills = None
    expire_after_ms: int = 0


@dataclass(frozen=True)
class RouterEvent:
    """One queue-log event (cr_router_event), with its strings copied."""
    type: int
    name: str
    time: int
    conv: Optional[str]
    agent: Optional[str]
    queue: Optional[str]
    channel: Optional[str]
    data1: int
    data2: int
    text: Optional[str]


@dataclass(frozen=True)
class ConvInfo:
    state: str
    channel: Optional[str]
    priority: int
    effective_priority: int
    arrival: int
    step: int
    queue: Optional[str]
    agent: Optional[str]
    offers: int


@dataclass(frozen=True)
class QueueStats:
    waiting: int
    offered: int
    active: int
    longest_wait_ms: int
    members: int
    members_logged_in: int
    agents_available: int
    occupancy: float
    entered: int
    answered: int
    abandoned: int
    timed_out: int
    overflowed_out: int
    answered_in_sl: int
    abandoned_after_sl: int
    service_level: float
    offers_accepted: int
    offers_rejected: int
    offers_missed: int
    aht_ms: int


@dataclass(frozen=True)
class AgentStats:
    status: str
    load: Dict[str, int] = field(default_factory=dict)  # channel -> slots
    offers_pending: int = 0
    active: int = 0
    wrapping: int = 0
    cost_used: int = 0
    occupancy: float = 0.0
    contacts: int = 0
    talk_ms: int = 0
    idle_since: int = 0
    offers_accepted: int = 0
    offers_rejected: int = 0
    offers_missed: int = 0
    consecutive_misses: int = 0


def _event_from_c(e) -> RouterEvent:
    name = _event_name(e.type)
    ch = channel_name(e.channel) if e.channel >= 0 else None
    return RouterEvent(type=e.type, name=name.decode() if name else "?",
                       time=e.time, conv=_text(e.conv, e.conv_len),
                       agent=_text(e.agent, e.agent_len),
                       queue=_text(e.queue, e.queue_len), channel=ch,
                       data1=e.data1, data2=e.data2,
                       text=_text(e.text, e.text_len))


def event_name(type_: int) -> Optional[str]:
    """"ENTERQUEUE", "OFFER", ...; None outside the enum."""
    n = _event_name(type_)
    return n.decode() if n is not None else None


EventCallback = Callable[[RouterEvent], None]
_CALLBACK_NAMES = ("offer", "offer_cancelled", "assigned", "escalation",
                   "event")


class Router(_CallbackHost):
    """A cr_router: queues, agents and waiting conversations.

    Keyword arguments set cr_router_config fields (offer_timeout_ms,
    auto_away_misses, wrapup_ms, reentry_grace_ms, decline_block_ms, seed,
    aht_alpha; None keeps the library default) and callbacks (on_offer,
    on_offer_cancelled, on_assigned, on_escalation, on_event).
    """

    _what = "router"

    def __init__(self, *, offer_timeout_ms: Optional[int] = None,
                 auto_away_misses: Optional[int] = None,
                 wrapup_ms: Optional[int] = None,
                 reentry_grace_ms: Optional[int] = None,
                 decline_block_ms: Optional[int] = None,
                 seed: Optional[int] = None,
                 aht_alpha: Optional[float] = None,
                 on_offer: Optional[EventCallback] = None,
                 on_offer_cancelled: Optional[EventCallback] = None,
                 on_assigned: Optional[EventCallback] = None,
                 on_escalation: Optional[EventCallback] = None,
                 on_event: Optional[EventCallback] = None,
                 _handle=None):
        self._r: Optional[int] = None
        self._depth = 0  # C calls in progress (callbacks may run)
        self._cb_struct: Optional[_Callbacks] = None
        self._cb_refs: Tuple[Any, ...] = ()
        self._pending: Optional[BaseException] = None
        if _handle is None:
            cfg = _RouterConfig()
            _config_init(_c.byref(cfg))
            for name, v in (("offer_timeout_ms", offer_timeout_ms),
                            ("auto_away_misses", auto_away_misses),
                            ("wrapup_ms", wrapup_ms),
                            ("reentry_grace_ms", reentry_grace_ms),
                            ("decline_block_ms", decline_block_ms),
                            ("seed", seed), ("aht_alpha", aht_alpha)):
                if v is not None:
                    setattr(cfg, name, v)
            h = _P()
            check(_new(_c.byref(h), None, _c.byref(cfg)),
                  "bad router configuration")
            _handle = h.value
        self._r = _handle
        self.set_callbacks(offer=on_offer, offer_cancelled=on_offer_cancelled,
                           assigned=on_assigned, escalation=on_escalation,
                           event=on_event)

    # ---- lifetime ----

    def close(self) -> None:
        """Frees the C router (idempotent). Callbacks are released after.
        Refused (StateError) from inside one of its callbacks: the C call
        that runs the callback still uses the router."""
        self._refuse_close_in_callback()
        if self._r is not None:
            _del(self._r)
            self._r = None
        self._cb_struct = None
        self._cb_refs = ()

    def __enter__(self) -> "Router":
        return self

    @property
    def closed(self) -> bool:
        return self._r is None

    @property
    def errmsg(self) -> str:
        """The router's sentence about its last failure ("" if none)."""
        return _errmsg(self._handle()).decode("utf-8", "replace")

    def _handle(self):
        if self._r is None:
            raise self._closed_error()
        return self._r

    # ---- callbacks ----

    def _wrap(self, func: EventCallback):
        def thunk(ev_ptr, _ud):
            try:
                func(_event_from_c(ev_ptr.contents))
            except BaseException as exc:  # kept, re-raised by _call
                self._keep_exc(exc)
        return _EventCB(thunk)

    def set_callbacks(self, *, offer: Optional[EventCallback] = None,
                      offer_cancelled: Optional[EventCallback] = None,
                      assigned: Optional[EventCallback] = None,
                      escalation: Optional[EventCallback] = None,
                      event: Optional[EventCallback] = None) -> None:
        """Replaces every callback (None = not called). A callable gets a
        RouterEvent; the dedicated one is called before `event`."""
        funcs = dict(offer=offer, offer_cancelled=offer_cancelled,
                     assigned=assigned, escalation=escalation, event=event)
        cb = _Callbacks()
        refs = []
        for name in _CALLBACK_NAMES:
            f = funcs[name]
            if f is None:
                continue
            if not callable(f):
                raise ConvrouteError(_CR_EINVAL, "callback %s is not callable"
                                     % name)
            t = self._wrap(f)
            refs.append(t)
            setattr(cb, name, t)
        self._call(_set_callbacks, _c.byref(cb))
        # The C router holds these pointers now: keep the thunks (and the
        # closures they call) alive exactly as long as it may use them.
        self._cb_struct = cb
        self._cb_refs = tuple(refs)

    # ---- queues ----

    def _queue_config(self, keep, skills=None, strategy="longest_idle",
                      auto_members=False, sl_threshold_ms=None,
                      sl_target=None, urgency_percent=None,
                      urgency_boost=None, max_wait_ms=None,
                      escalate_before_ms=None, escalate_boost=None,
                      max_wait_action=None, max_length=None, wrapup_ms=None,
                      offer_timeout_ms=None, ring_all_max=None,
                      overflow_queue=None, overflow_after_ms=None,
                      overflow_ewt_ms=None, overflow_sl_below=None,
                      aht_hint_ms=None):
        cfg = _QueueConfig()
        _queue_config_init(_c.byref(cfg))
        cfg.strategy = _enum(strategy, STRATEGIES, "strategy")
        arr, n = _skill_array(skills, keep)
        if arr is not None:
            cfg.skills = arr
        cfg.nskills = n
        cfg.auto_members = 1 if auto_members else 0
        _per_channel(sl_threshold_ms, cfg.sl_threshold_ms, "sl_threshold_ms")
        _per_channel(sl_target, cfg.sl_target, "sl_target")
        for name, v in (("urgency_percent", urgency_percent),
                        ("urgency_boost", urgency_boost),
                        ("max_wait_ms", max_wait_ms),
                        ("escalate_before_ms", escalate_before_ms),
                        ("escalate_boost", escalate_boost),
                        ("max_length", max_length), ("wrapup_ms", wrapup_ms),
                        ("offer_timeout_ms", offer_timeout_ms),
                        ("ring_all_max", ring_all_max),
                        ("overflow_after_ms", overflow_after_ms),
                        ("overflow_ewt_ms", overflow_ewt_ms),
                        ("overflow_sl_below", overflow_sl_below),
                        ("aht_hint_ms", aht_hint_ms)):
            if v is not None:
                setattr(cfg, name, v)
        if max_wait_action is not None:
            cfg.max_wait_action = _enum(max_wait_action, MAXWAIT_ACTIONS,
                                        "max_wait_action")
        if overflow_queue is not None:
            b = _utf8(overflow_queue, "overflow_queue")
            keep.append(b)
            cfg.overflow_queue = b
            cfg.overflow_queue_len = len(b)
        return cfg

    def add_queue(self, id: str, *, now: int, **config) -> None:
        """New open queue. config: skills ({"billing": 2} or pairs),
        strategy (name or int), auto_members, sl_threshold_ms and
        sl_target ({channel: value}), urgency_percent, urgency_boost,
        max_wait_ms, escalate_before_ms, escalate_boost, max_wait_action
        ("report"/"exit"), max_length, wrapup_ms, offer_timeout_ms,
        ring_all_max, overflow_queue, overflow_after_ms, overflow_ewt_ms,
        overflow_sl_below, aht_hint_ms (None = the library default)."""
        keep: List[Any] = []
        cfg = self._queue_config(keep, **config)
        b = _utf8(id)
        self._call(_queue_add, b, len(b), _c.byref(cfg), now)

    def update_queue(self, id: str, *, now: int, **config) -> None:
        """Replaces the queue's whole configuration (as add_queue)."""
        keep: List[Any] = []
        cfg = self._queue_config(keep, **config)
        b = _utf8(id)
        self._call(_queue_update, b, len(b), _c.byref(cfg), now)

    def set_queue_open(self, id: str, open: bool, *, now: int) -> None:
        b = _utf8(id)
        self._call(_queue_set_open, b, len(b), 1 if open else 0, now)

    def queue_stats(self, id: str, *, now: int) -> QueueStats:
        b = _utf8(id)
        s = _QueueStats()
        self._call(_queue_stats, b, len(b), now, _c.byref(s))
        return QueueStats(**{k: getattr(s, k) for k, _ in _QueueStats._fields_})

    def ewt(self, queue: str, channel: Channel, *, now: int) -> int:
        """Estimated wait (ms) for a conversation entering now."""
        b = _utf8(queue)
        out = _i64()
        self._call(_ewt, b, len(b), channel_number(channel), now,
                   _c.byref(out))
        return out.value

    # ---- agents ----

    @staticmethod
    def _agent_config(keep, max_per_channel=None, total_capacity=0,
                      cost=None, skills=None, wrapup_ms=None):
        cfg = _AgentConfig()
        _agent_config_init(_c.byref(cfg))
        _per_channel(max_per_channel, cfg.max_per_channel, "max_per_channel")
        _per_channel(cost, cfg.cost, "cost")
        cfg.total_capacity = total_capacity
        arr, n = _skill_array(skills, keep)
        if arr is not None:
            cfg.skills = arr
        cfg.nskills = n
        if wrapup_ms is not None:
            cfg.wrapup_ms = wrapup_ms
        return cfg

    def add_agent(self, id: str, *, now: int,
                  max_per_channel: Optional[Mapping[Channel, int]] = None,
                  total_capacity: int = 0,
                  cost: Optional[Mapping[Channel, int]] = None,
                  skills: Skills = None,
                  wrapup_ms: Optional[int] = None) -> None:
        """New agent, offline. max_per_channel={"voice": 1, "chat": 3};
        total_capacity with cost={"voice": 100, "chat": 20} for the cost
        model; skills={"billing": 4}."""
        keep: List[Any] = []
        cfg = self._agent_config(keep, max_per_channel, total_capacity, cost,
                                 skills, wrapup_ms)
        b = _utf8(id)
        self._call(_agent_add, b, len(b), _c.byref(cfg), now)

    def update_agent(self, id: str, *, now: int,
                     max_per_channel: Optional[Mapping[Channel, int]] = None,
                     total_capacity: int = 0,
                     cost: Optional[Mapping[Channel, int]] = None,
                     skills: Skills = None,
                     wrapup_ms: Optional[int] = None) -> None:
        """Replaces the agent's capacity and skills (as add_agent)."""
        keep: List[Any] = []
        cfg = self._agent_config(keep, max_per_channel, total_capacity, cost,
                                 skills, wrapup_ms)
        b = _utf8(id)
        self._call(_agent_update, b, len(b), _c.byref(cfg), now)

    def remove_agent(self, id: str, *, now: int) -> None:
        b = _utf8(id)
        self._call(_agent_remove, b, len(b), now)

    def join(self, agent: str, queue: str, *, now: int, priority: int = 0,
             delay_ms: int = 0) -> None:
        """Makes the agent a member of queue (priority 0 = first)."""
        a, q = _utf8(agent), _utf8(queue)
        self._call(_agent_join, a, len(a), q, len(q), priority, delay_ms, now)

    def leave(self, agent: str, queue: str, *, now: int) -> None:
        a, q = _utf8(agent), _utf8(queue)
        self._call(_agent_leave, a, len(a), q, len(q), now)

    def set_agent_status(self, id: str, status: Union[str, int], *, now: int,
                         reason: Optional[str] = None) -> None:
        """"offline", "available" or "away" (with a reason)."""
        b = _utf8(id)
        st = _enum(status, STATUSES, "status")
        rb = _utf8(reason, "reason") if reason is not None else None
        self._call(_agent_set_status, b, len(b), st, rb,
                   len(rb) if rb else 0, now)

    def end_wrapup(self, id: str, *, now: int) -> None:
        b = _utf8(id)
        self._call(_agent_end_wrapup, b, len(b), now)

    def agent_stats(self, id: str, *, now: int) -> AgentStats:
        b = _utf8(id)
        s = _AgentStats()
        self._call(_agent_stats, b, len(b), now, _c.byref(s))
        vals = {k: getattr(s, k) for k, _ in _AgentStats._fields_}
        vals["status"] = (STATUSES[s.status] if 0 <= s.status < len(STATUSES)
                          else str(s.status))
        vals["load"] = {channel_name(c): s.load[c]
                        for c in range(CHANNEL_COUNT) if s.load[c]}
        return AgentStats(**vals)

    # ---- conversations ----

    @staticmethod
    def _steps(steps: Optional[Iterable[RouteStep]], keep):
        if steps is None:
            return None, 0
        steps = list(steps)
        if not steps:
            return None, 0
        arr = (_RouteStep * len(steps))()
        for k, st in enumerate(steps):
            if not isinstance(st, RouteStep):
                raise ConvrouteError(_CR_EINVAL, "steps must be RouteStep, "
                                     "not %r" % (st,))
            arr[k].kind = _enum(st.kind, STEP_KINDS, "step kind")
            if st.target is not None:
                b = _utf8(st.target, "step target")
                keep.append(b)
                arr[k].target = b
                arr[k].target_len = len(b)
            sk, n = _skill_array(st.skills, keep)
            if sk is not None:
                arr[k].skills = sk
            arr[k].nskills = n
            arr[k].expire_after_ms = st.expire_after_ms
        keep.append(arr)
        return arr, len(steps)

    def _params(self, keep, channel, priority, steps, attrs):
        p = _ConvParams()
        _conv_params_init(_c.byref(p))
        if channel is not None:
            p.channel = channel_number(channel)
        if priority is not None:
            if isinstance(priority, bool) or not isinstance(priority, int):
                raise ConvrouteError(_CR_EINVAL, "priority must be an int")
            p.priority = priority if -2**31 <= priority < 2**31 else 2**31 - 1
        arr, n = self._steps(steps, keep)
        if arr is not None:
            p.steps = arr
        p.nsteps = n
        if attrs is not None:
            b = _utf8(attrs, "attrs")
            keep.append(b)
            p.attrs = b
            p.attrs_len = len(b)
        return p

    def enqueue(self, id: str, queue: str, *, now: int,
                channel: Channel = "chat", priority: int = 0,
                steps: Optional[Iterable[RouteStep]] = None,
                attrs: Optional[str] = None) -> None:
        """A conversation enters queue. Offers may be made (callbacks run)
        before this returns."""
        keep: List[Any] = []
        p = self._params(keep, channel, priority, steps, attrs)
        b, q = _utf8(id), _utf8(queue)
        self._call(_enqueue, b, len(b), q, len(q), _c.byref(p), now)

    def abandon(self, id: str, *, now: int) -> None:
        b = _utf8(id)
        self._call(_abandon, b, len(b), now)

    def resume(self, id: str, *, now: int) -> None:
        b = _utf8(id)
        self._call(_resume, b, len(b), now)

    def accept(self, conv: str, agent: str, *, now: int) -> None:
        c, a = _utf8(conv), _utf8(agent)
        self._call(_accept, c, len(c), a, len(a), now)

    def reject(self, conv: str, agent: str, *, now: int) -> None:
        c, a = _utf8(conv), _utf8(agent)
        self._call(_reject, c, len(c), a, len(a), now)

    def end(self, id: str, *, now: int) -> None:
        b = _utf8(id)
        self._call(_end, b, len(b), now)

    def transfer(self, id: str, queue: str, *, now: int,
                 channel: Optional[Channel] = None,
                 priority: Optional[int] = None,
                 steps: Optional[Iterable[RouteStep]] = None,
                 attrs: Optional[str] = None) -> None:
        """Moves the conversation to queue. With no keyword set, the
        channel, priority and attrs are kept and steps reset (C: p NULL);
        otherwise the given fields replace the library defaults."""
        keep: List[Any] = []
        b, q = _utf8(id), _utf8(queue)
        if channel is None and priority is None and steps is None \
                and attrs is None:
            self._call(_transfer, b, len(b), q, len(q), None, now)
            return
        p = self._params(keep, channel, priority, steps, attrs)
        self._call(_transfer, b, len(b), q, len(q), _c.byref(p), now)

    def set_steps(self, id: str, steps: Iterable[RouteStep], *,
                  now: int) -> None:
        keep: List[Any] = []
        arr, n = self._steps(steps, keep)
        b = _utf8(id)
        self._call(_set_steps, b, len(b), arr, n, now)

    def set_priority(self, id: str, priority: int, *, now: int) -> None:
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise ConvrouteError(_CR_EINVAL, "priority must be an int")
        b = _utf8(id)
        self._call(_set_priority, b, len(b),
                   priority if -2**31 <= priority < 2**31 else 2**31 - 1, now)

    def set_channel(self, id: str, channel: Channel, *, now: int) -> None:
        b = _utf8(id)
        self._call(_set_channel, b, len(b), channel_number(channel), now)

    def conv_info(self, id: str) -> ConvInfo:
        b = _utf8(id)
        s = _ConvInfo()
        self._call(_conv_info, b, len(b), _c.byref(s))
        return ConvInfo(
            state=(CONV_STATES[s.state] if 0 <= s.state < len(CONV_STATES)
                   else str(s.state)),
            channel=channel_name(s.channel), priority=s.priority,
            effective_priority=s.effective_priority, arrival=s.arrival,
            step=s.step, queue=_text(s.queue, s.queue_len),
            agent=_text(s.agent, s.agent_len), offers=s.offers)

    # ---- time ----

    def next_expiry(self) -> Optional[int]:
        """The earliest pending deadline (ms), or None when there is none."""
        t = _next_expiry(self._handle())
        return None if t == TIME_NEVER else t

    def tick(self, now: int) -> None:
        """Runs every deadline due at or before now."""
        self._call(_tick, now)

    # ---- persistence ----

    def snapshot(self) -> bytes:
        """The router's whole state as bytes (callbacks are not saved)."""
        buf = _P()
        n = _Z()
        self._call(_snapshot, _c.byref(buf), _c.byref(n))
        try:
            return _c.string_at(buf.value or 0, n.value)
        finally:
            _lib.cr_mem_free(None, buf.value)

    @classmethod
    def restore(cls, data: bytes, **callbacks) -> "Router":
        """A router rebuilt from snapshot() bytes; callbacks as for
        Router() (on_offer=..., ...). ConvrouteError CR_ECORRUPT /
        CR_EVERSION for bad data."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ConvrouteError(_CR_EINVAL, "restore needs bytes")
        data = bytes(data)
        h = _P()
        buf = _c.create_string_buffer(data, len(data))
        check(_restore(_c.byref(h), None, buf, len(data)),
              "cannot restore the router")
        return cls(_handle=h.value, **callbacks)
