"""The conversation engine (cr_engine_*) for Python.

    from convroute import Engine, IntentModel

    model = IntentModel.train_tsv("examples/data/intents_he.tsv",
                                  oos_label=None)
    model.add_builtin_rules("talk_to_human", "emergency")
    with Engine(model, on_send=lambda conv, ch, lang, text: print(text),
                on_offer=lambda ctx, agent: print(agent, ctx.fields)) as e:
        e.router.add_queue("general", skills={"general": 1},
                           auto_members=True, now=0)
        e.set_policy("talk_to_human", "human", queue="general")
        e.customer_message("c1", "אני רוצה לדבר עם נציג", customer="u1",
                           channel="whatsapp", profile={"lang": "he"},
                           now=1000)

Time is an argument everywhere (`now`, integer milliseconds, never
decreasing). The engine BORROWS the intent model: the Engine keeps a
reference to it so it outlives the engine, and model.close() while an open
Engine borrows it only marks it closed; the C model is freed when the last
borrowing Engine closes. Queues and agents live on the
inner router, `engine.router` (a convroute.Router view that does not own
the C router; conversation functions of the router are refused there, as
the engine drives them). `engine.metrics` is the engine's read-only
accumulator (a convroute.Metrics view).

Callbacks are plain Python callables:
    on_send(conv, channel, lang, text)
    on_offer(context, agent)              context: Context
    on_cancel_offer(conv, agent)
    on_action(conv, action, args, agent)  agent None for the bot's own
    on_validate(conv, field, value) -> bool   (CR_PATTERN_CALLBACK fields;
                                          or VALIDATE_LATER, then answer
                                          with field_result(conv, ok))
    on_alert(context)
    on_state_change(conv, from_state, to_state, reason)
    on_event(event)                       event: EngineEvent (the journal)
    on_router_event(router_event)         convroute.RouterEvent
A callback that raises makes the C callback return failure (the engine
then finishes the change it was making, reports CR_ECALLBACK, and leaves
the conversation in the state the journal says); the exception is stored
and re-raised from the Engine method that caused it, once the C call has
returned. Further exceptions of the same call become notes on the first.

Every ctypes callback object is kept on the Engine as long as the C engine
may call it (they are replaced only by the next set_callbacks()). An
Engine is a context manager; close() frees the C engine, after which every
method raises ConvrouteError (CR_ECLOSED).
"""
import ctypes
from dataclasses import dataclass, field
from typing import (Any, Callable, Dict, Iterable, List, Mapping, Optional,
                    Sequence, Tuple, Union)

from . import _lib
from ._host import _CallbackHost
from .errors import ConvrouteError, check
from .intent import IntentModel
from .metrics import Metrics, Report, _options as _metrics_options
from .router import (Router, _EventCB as _RouterEventCB,
                     _RouterConfig, _SkillLevel, _event_from_c, _skill_array,
                     _utf8, channel_name, channel_number)

__all__ = ["Engine", "EngineEvent", "Context", "TranscriptLine",
           "DetectedIntent", "ConvSummary", "FieldSpec", "STATES", "EVENTS",
           "REASONS", "POLICY_KINDS", "transition", "VALIDATE_LATER"]

_c = ctypes
_i64 = _c.c_int64
_u32 = _c.c_uint32
_Z = _c.c_size_t
_P = _c.c_void_p
_I = _c.c_int
_S = _c.c_char_p

_CR_EINVAL = -1
_CR_ESTATE = -7
_CR_VALIDATE_LATER = 2  # CR_VALIDATE_LATER
METRICS_NONE = -128


class _ValidateLater:
    """The on_validate answer "I will say later with field_result()"."""
    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "convroute.VALIDATE_LATER"

    def __bool__(self) -> bool:
        raise TypeError("VALIDATE_LATER is neither valid nor invalid")


#: return this from on_validate to answer later with Engine.field_result()
VALIDATE_LATER = _ValidateLater()

STATES = ("BOT", "CLARIFY", "COLLECT", "ACTION", "QUEUED", "OFFERED",
          "AGENT", "BOTSTEP", "WRAPUP", "RESOLVED", "CLOSED", "ABANDONED",
          "EXPIRED")
POLICY_KINDS = ("answer", "action", "collect", "handoff", "human",
                "emergency", "end")
PATTERNS = ("nonempty", "digits", "email", "callback")
TEXT_KINDS = ("clarify", "handoff", "after_hours", "no_agents", "invalid",
              "action_failed", "anything_else")
SENDERS = ("customer", "bot", "agent")
DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


# ---- C layouts (include/convroute.h, engine section) ----

class _LangText(_lib.Struct):
    _fields_ = [("lang", _S), ("lang_len", _Z), ("text", _S),
                ("text_len", _Z)]


class _FieldSpec(_lib.Struct):
    _fields_ = [("name", _S), ("name_len", _Z),
                ("prompt", _c.POINTER(_LangText)), ("nprompt", _Z),
                ("pattern", _I), ("min_len", _u32), ("max_len", _u32)]


class _Policy(_lib.Struct):
    _fields_ = [("kind", _I), ("title", _c.POINTER(_LangText)),
                ("ntitle", _Z), ("text", _c.POINTER(_LangText)),
                ("ntext", _Z), ("action", _S), ("action_len", _Z),
                ("fields", _c.POINTER(_FieldSpec)), ("nfields", _Z),
                ("queue", _S), ("queue_len", _Z),
                ("skills", _c.POINTER(_SkillLevel)), ("nskills", _Z),
                ("priority", _I)]


class _Rule(_lib.Struct):
    _fields_ = [("key", _S), ("key_len", _Z), ("value", _S),
                ("value_len", _Z), ("queue", _S), ("queue_len", _Z),
                ("skills", _c.POINTER(_SkillLevel)), ("nskills", _Z),
                ("priority_add", _I), ("handoff", _I), ("stop", _I)]


class _OpenInterval(_lib.Struct):
    _fields_ = [("day", _I), ("open_min", _I), ("close_min", _I)]


class _Config(_lib.Struct):
    _fields_ = [("transcript_max", _Z), ("clarify_below", _c.c_double),
                ("max_unclear", _u32), ("idle_ms", _i64),
                ("return_window_ms", _i64), ("sticky_ms", _i64),
                ("wrapup_ms", _i64), ("utc_offset_min", _I),
                ("keep_queued_after_hours", _I),
                ("human_label", _S), ("human_label_len", _Z),
                ("default_queue", _S), ("default_queue_len", _Z),
                ("default_lang", _S), ("default_lang_len", _Z),
                ("recent_max", _u32),
                ("router", _c.POINTER(_RouterConfig)), ("metrics", _P),
                ("alias_new_ids", _I)]


class _Line(_c.Structure):  # filled by C
    _fields_ = [("from_", _I), ("channel", _I), ("at", _i64),
                ("text", _P), ("text_len", _Z)]


class _Intent(_c.Structure):  # filled by C
    _fields_ = [("label", _P), ("label_len", _Z),
                ("confidence", _c.c_double), ("at", _i64)]


class _KV(_c.Structure):  # filled by C
    _fields_ = [("key", _P), ("key_len", _Z), ("value", _P),
                ("value_len", _Z)]


class _Context(_c.Structure):  # filled by C
    _fields_ = [("conv", _P), ("conv_len", _Z), ("customer", _P),
                ("customer_len", _Z), ("lang", _P), ("lang_len", _Z),
                ("channel", _I), ("channels", _c.POINTER(_I)),
                ("nchannels", _Z), ("state", _I), ("reason", _I),
                ("queue", _P), ("queue_len", _Z), ("priority", _I),
                ("intent", _P), ("intent_len", _Z),
                ("transcript", _c.POINTER(_Line)), ("ntranscript", _Z),
                ("dropped", _u32), ("intents", _c.POINTER(_Intent)),
                ("nintents", _Z), ("fields", _c.POINTER(_KV)),
                ("nfields", _Z), ("profile", _c.POINTER(_KV)),
                ("nprofile", _Z), ("prev_agent", _P),
                ("prev_agent_len", _Z), ("transfers", _u32),
                ("arrived", _i64)]


class _EventC(_c.Structure):  # filled by C
    _fields_ = [("seq", _c.c_uint64), ("time", _i64), ("type", _I),
                ("from_", _I), ("to", _I), ("reason", _I), ("channel", _I),
                ("conv", _P), ("conv_len", _Z), ("agent", _P),
                ("agent_len", _Z), ("queue", _P), ("queue_len", _Z),
                ("intent", _P), ("intent_len", _Z),
                ("confidence", _c.c_double), ("text", _P), ("text_len", _Z),
                ("sender", _I)]


class _Summary(_c.Structure):  # filled by C
    _fields_ = [("state", _I), ("channel", _I), ("reason", _I),
                ("unclear", _u32), ("nfields", _u32), ("messages", _u32),
                ("transfers", _u32), ("agent", _P), ("agent_len", _Z),
                ("queue", _P), ("queue_len", _Z), ("lang", _P),
                ("lang_len", _Z), ("arrived", _i64), ("queued_at", _i64),
                ("answered_at", _i64)]


_SendCB = _c.CFUNCTYPE(_I, _P, _Z, _I, _P, _Z, _P, _Z, _P)
_OfferCB = _c.CFUNCTYPE(_I, _c.POINTER(_Context), _P, _Z, _P)
_CancelCB = _c.CFUNCTYPE(_I, _P, _Z, _P, _Z, _P)
_ActionCB = _c.CFUNCTYPE(_I, _P, _Z, _P, _Z, _P, _Z, _P, _Z, _P)
_ValidateCB = _c.CFUNCTYPE(_I, _P, _Z, _P, _Z, _P, _Z, _P)
_AlertCB = _c.CFUNCTYPE(_I, _c.POINTER(_Context), _P)
_StateCB = _c.CFUNCTYPE(_I, _P, _Z, _I, _I, _I, _P)
_JournalCB = _c.CFUNCTYPE(_I, _c.POINTER(_EventC), _P)


class _Callbacks(_lib.Struct):
    _fields_ = [("send", _SendCB), ("offer", _OfferCB),
                ("cancel_offer", _CancelCB), ("action", _ActionCB),
                ("validate", _ValidateCB), ("alert", _AlertCB),
                ("state_change", _StateCB), ("event", _JournalCB),
                ("router_event", _RouterEventCB), ("user_data", _P)]


_fn = _lib.fn
_config_init = _fn("cr_engine_config_init", None, _c.POINTER(_Config))
_policy_init = _fn("cr_engine_policy_init", None, _c.POINTER(_Policy))
_rule_init = _fn("cr_engine_rule_init", None, _c.POINTER(_Rule))
_router_config_init = _fn("cr_router_config_init", None,
                          _c.POINTER(_RouterConfig))
_new = _fn("cr_engine_new", _I, _c.POINTER(_P), _P, _P,
           _c.POINTER(_Config))
_del = _fn("cr_engine_del", None, _P)
_errmsg = _fn("cr_engine_errmsg", _S, _P)
_set_callbacks = _fn("cr_engine_set_callbacks", _I, _P,
                     _c.POINTER(_Callbacks))
_router = _fn("cr_engine_router", _P, _P)
_metrics = _fn("cr_engine_metrics", _P, _P)
_set_policy = _fn("cr_engine_set_policy", _I, _P, _S, _Z,
                  _c.POINTER(_Policy))
_add_rule = _fn("cr_engine_add_rule", _I, _P, _c.POINTER(_Rule))
_set_text = _fn("cr_engine_set_text", _I, _P, _I, _S, _Z, _S, _Z)
_set_hours = _fn("cr_engine_set_hours", _I, _P, _c.POINTER(_OpenInterval),
                 _Z)
_customer_message = _fn("cr_engine_customer_message", _I, _P, _S, _Z, _S,
                        _Z, _I, _S, _Z, _S, _Z, _i64)
_channel_switch = _fn("cr_engine_channel_switch", _I, _P, _S, _Z, _I, _i64)
_abandon = _fn("cr_engine_abandon", _I, _P, _S, _Z, _i64)
_survey = _fn("cr_engine_survey", _I, _P, _S, _Z, _I, _I, _I, _i64)
_action_result = _fn("cr_engine_action_result", _I, _P, _S, _Z, _I, _S, _Z,
                     _i64)
_end = _fn("cr_engine_end", _I, _P, _S, _Z, _i64)
_field_result = _fn("cr_engine_field_result", _I, _P, _S, _Z, _I, _i64)
_accept = _fn("cr_engine_agent_accept", _I, _P, _S, _Z, _S, _Z, _i64)
_reject = _fn("cr_engine_agent_reject", _I, _P, _S, _Z, _S, _Z, _i64)
_reply = _fn("cr_engine_agent_reply", _I, _P, _S, _Z, _S, _Z, _S, _Z, _i64)
_step = _fn("cr_engine_agent_step", _I, _P, _S, _Z, _S, _Z, _S, _Z, _S, _Z,
            _i64)
_transfer = _fn("cr_engine_agent_transfer", _I, _P, _S, _Z, _S, _Z, _S, _Z,
                _S, _Z, _i64)
_close = _fn("cr_engine_agent_close", _I, _P, _S, _Z, _S, _Z, _I, _i64)
_wrapup_done = _fn("cr_engine_wrapup_done", _I, _P, _S, _Z, _i64)
_next_timeout = _fn("cr_engine_next_timeout", _i64, _P)
_tick = _fn("cr_engine_tick", _I, _P, _i64)
_conv_info = _fn("cr_engine_conv_info", _I, _P, _S, _Z,
                 _c.POINTER(_Summary))
_conv_count = _fn("cr_engine_conv_count", _Z, _P)
_transition = _fn("cr_engine_transition", _I, _I, _I, _c.POINTER(_I))
_state_name = _fn("cr_engine_state_name", _S, _I)
_event_name = _fn("cr_engine_event_name", _S, _I)
_reason_name = _fn("cr_engine_reason_name", _S, _I)
_snapshot = _fn("cr_engine_snapshot", _I, _P, _c.POINTER(_P),
                _c.POINTER(_Z))
_restore = _fn("cr_engine_restore", _I, _P, _P, _Z)


def _names(f, n):
    out = []
    for i in range(n):
        s = f(i)
        out.append(s.decode() if s is not None else "?%d" % i)
    return tuple(out)


EVENTS = _names(_event_name, 30)
REASONS = _names(_reason_name, 16)


def _name(f, v):
    s = f(v)
    return s.decode() if s is not None else None


def _text(ptr, n) -> Optional[str]:
    if not ptr or not n:
        return None
    return _c.string_at(ptr, n).decode("utf-8", "replace")


def _kvs(arr, n) -> Dict[str, str]:
    return {(_text(arr[i].key, arr[i].key_len) or ""):
            (_text(arr[i].value, arr[i].value_len) or "") for i in range(n)}


def _index(value, names, what):
    if isinstance(value, str):
        low = [x.lower() for x in names]
        if value.lower() in low:
            return low.index(value.lower())
        raise ConvrouteError(_CR_EINVAL, "unknown %s %r" % (what, value))
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConvrouteError(_CR_EINVAL, "%s must be a name or an int, not %r"
                             % (what, value))
    return value


def _opt(b: Optional[bytes]):
    return (b, len(b)) if b else (None, 0)


# ---- results ----

@dataclass(frozen=True)
class TranscriptLine:
    sender: str          # "customer", "bot" or "agent"
    channel: Optional[str]
    at: int              # ms
    text: str


@dataclass(frozen=True)
class DetectedIntent:
    label: str
    confidence: float
    at: int


@dataclass(frozen=True)
class Context:
    """What the agent gets with an offer (and an alert): the customer never
    repeats themselves."""
    conv: str
    customer: Optional[str]
    lang: Optional[str]
    channel: Optional[str]
    channels: Tuple[str, ...]
    state: str
    reason: str
    queue: Optional[str]
    priority: int
    intent: Optional[str]
    transcript: Tuple[TranscriptLine, ...]
    dropped: int
    intents: Tuple[DetectedIntent, ...]
    fields: Dict[str, str]
    profile: Dict[str, str]
    prev_agent: Optional[str]
    transfers: int
    arrived: int


def _context(x) -> Context:
    tr = tuple(TranscriptLine(
        sender=SENDERS[l.from_] if 0 <= l.from_ < 3 else str(l.from_),
        channel=channel_name(l.channel), at=l.at,
        text=_text(l.text, l.text_len) or "")
        for l in (x.transcript[i] for i in range(x.ntranscript)))
    intents = tuple(DetectedIntent(_text(i.label, i.label_len) or "",
                                   i.confidence, i.at)
                    for i in (x.intents[k] for k in range(x.nintents)))
    return Context(
        conv=_text(x.conv, x.conv_len) or "",
        customer=_text(x.customer, x.customer_len),
        lang=_text(x.lang, x.lang_len), channel=channel_name(x.channel),
        channels=tuple(channel_name(x.channels[i]) or "?"
                       for i in range(x.nchannels)),
        state=_name(_state_name, x.state) or "?",
        reason=_name(_reason_name, x.reason) or "?",
        queue=_text(x.queue, x.queue_len), priority=x.priority,
        intent=_text(x.intent, x.intent_len), transcript=tr,
        dropped=x.dropped, intents=intents,
        fields=_kvs(x.fields, x.nfields), profile=_kvs(x.profile, x.nprofile),
        prev_agent=_text(x.prev_agent, x.prev_agent_len),
        transfers=x.transfers, arrived=x.arrived)


@dataclass(frozen=True)
class EngineEvent:
    """One journal entry (cr_engine_event)."""
    seq: int
    time: int
    type: str            # "MESSAGE", "HANDOFF", ...
    from_state: str
    to_state: str
    reason: str
    channel: Optional[str]
    conv: Optional[str]
    agent: Optional[str]
    queue: Optional[str]
    intent: Optional[str]
    confidence: float
    text: Optional[str]
    sender: Optional[str] = None  # who wrote the line it added, or None


def _event(e) -> EngineEvent:
    return EngineEvent(
        seq=e.seq, time=e.time, type=_name(_event_name, e.type) or "?",
        from_state=_name(_state_name, e.from_) or "?",
        to_state=_name(_state_name, e.to) or "?",
        reason=_name(_reason_name, e.reason) or "?",
        channel=channel_name(e.channel), conv=_text(e.conv, e.conv_len),
        agent=_text(e.agent, e.agent_len), queue=_text(e.queue, e.queue_len),
        intent=_text(e.intent, e.intent_len), confidence=e.confidence,
        text=_text(e.text, e.text_len),
        sender=SENDERS[e.sender] if 0 <= e.sender < len(SENDERS) else None)


@dataclass(frozen=True)
class ConvSummary:
    """A live conversation as it stands (cr_engine_summary)."""
    state: str
    channel: Optional[str]
    reason: str
    unclear: int
    fields: int
    messages: int
    transfers: int
    agent: Optional[str]
    queue: Optional[str]
    lang: Optional[str]
    arrived: int
    queued_at: Optional[int]
    answered_at: Optional[int]


@dataclass
class FieldSpec:
    """A field a "collect" policy asks for. prompt: {lang: text}; pattern:
    "nonempty", "digits", "email" or "callback" (on_validate decides);
    lengths in code points, 0 = no bound."""
    name: str
    prompt: Mapping[str, str] = field(default_factory=dict)
    pattern: str = "nonempty"
    min_len: int = 0
    max_len: int = 0


def transition(state: Union[int, str], event: Union[int, str]) -> str:
    """The state `event` leads to from `state` in the engine's table;
    ConvrouteError(CR_ESTATE) when the table does not allow it."""
    s = _index(state, STATES, "state")
    e = _index(event, EVENTS, "event")
    out = _I()
    check(_transition(s, e, _c.byref(out)))
    return STATES[out.value]


def _lang_texts(texts: Optional[Mapping[str, str]], keep: list):
    if not texts:
        return None, 0
    arr = (_LangText * len(texts))()
    for i, (lang, text) in enumerate(texts.items()):
        lb, tb = _utf8(lang, "language"), _utf8(text, "text")
        keep += [lb, tb]
        arr[i].lang, arr[i].lang_len = lb, len(lb)
        arr[i].text, arr[i].text_len = tb, len(tb)
    keep.append(arr)
    return arr, len(texts)


def _need_callable(what: str, f: Any) -> None:
    """InvalidArgumentError for a callback that is neither None nor
    callable."""
    if f is not None and not callable(f):
        raise ConvrouteError(_CR_EINVAL, "%s is not callable" % what)


def _profile(profile: Union[None, str, Mapping[str, str]],
             what: str = "profile") -> bytes:
    """A profile (or step args) as the engine reads it: "k=v;k=v".

    A string is passed as it is (the caller wrote the syntax). A mapping is
    joined, and refused (InvalidArgumentError) when a pair would be read
    back differently (lib/engine_bot.c, cr__bot_profile_parse: pairs split
    at ';', each trimmed of spaces at both ends, the key ending at the
    first '='): a key that is empty, contains '=', ';' or NUL or starts
    with a space; a value that contains ';' or NUL or ends with a space.
    Without this, a value such as "Bob;tier=vip" would add a key."""
    if profile is None:
        return b""
    if isinstance(profile, str):
        return _utf8(profile, what)
    pairs = []
    for k, v in profile.items():
        ks, vs = "%s" % (k,), "%s" % (v,)
        if not ks or ks[0] == " " or any(ch in ks for ch in "=;\0"):
            raise ConvrouteError(_CR_EINVAL, "%s key %r: empty, starting "
                                 "with a space, or containing '=', ';' or "
                                 "NUL" % (what, ks))
        if vs[-1:] == " " or any(ch in vs for ch in ";\0"):
            raise ConvrouteError(_CR_EINVAL, "%s value of %r: ending with a "
                                 "space, or containing ';' or NUL"
                                 % (what, ks))
        pairs.append("%s=%s" % (ks, vs))
    return _utf8(";".join(pairs), what)


# ---- borrowed views of the engine's router and metrics ----

class _EngineRouter(Router):
    """The engine's inner router: queues and agents. Does not own the C
    router; conversation calls go through the Engine instead.

    It keeps no C handle: every call asks the engine for its router
    (cr_engine_router) afresh, because Engine.restore() replaces the C
    router and frees the old one; a closed engine makes it closed too."""

    def __init__(self, engine: "Engine"):
        # Router.__init__ would install router callbacks: the engine's own
        # must stay, so the view is set up by hand.
        self._depth = 0
        self._cb_struct = None
        self._cb_refs = ()
        self._pending = None
        self._engine = engine

    @property  # type: ignore[override]
    def _r(self):
        e = self._engine._e
        return None if e is None else _router(e)

    def _handle(self):
        return _router(self._engine._handle())

    def close(self) -> None:
        pass  # the engine frees it

    def __del__(self):
        pass

    def _call(self, f, *args):
        # Offers made by a router call (an agent becoming available) reach
        # the engine's Python callbacks: re-raise what they raised too.
        eng = self._engine
        if eng._depth:
            # convroute.h: a callback must not call into the engine's
            # router (C refuses it too; this says why in Python's terms)
            raise ConvrouteError(_CR_ESTATE, "a callback of the engine must not "
                                 "call its router")
        eng._pending = None
        eng._depth += 1
        try:
            return Router._call(self, f, *args)
        finally:
            eng._depth -= 1
            exc, eng._pending = eng._pending, None
            if exc is not None:
                raise exc

    def set_callbacks(self, **_):
        raise ConvrouteError(_CR_ESTATE, "the engine owns the router's callbacks")

    def _refuse(self, *a, **k):
        raise ConvrouteError(_CR_ESTATE, "conversations go through the Engine")

    enqueue = abandon = resume = accept = reject = end = _refuse
    transfer = set_steps = set_priority = set_channel = _refuse
    snapshot = _refuse


class _EngineMetrics(Metrics):
    """The engine's metrics accumulator, read-only. Like _EngineRouter it
    keeps no C handle: cr_engine_metrics() on every use (restore()
    replaces the accumulator)."""

    def __init__(self, engine: "Engine"):
        self._engine = engine
        self.window_s = engine._metrics_window_s

    @property  # type: ignore[override]
    def _handle(self):
        e = self._engine._e
        return None if e is None else _metrics(e)

    def close(self):
        pass  # the engine frees it

    def __del__(self):
        pass

    def _refuse(self, *a, **k):
        raise ConvrouteError(_CR_ESTATE, "the engine feeds its own metrics")

    add = add_many = survey = agent_time = advance = _refuse


# ---- the engine ----

class Engine(_CallbackHost):
    """A cr_engine: the bot/agent handoff state machine wired to an intent
    model, a router and metrics (see the module docstring).

    Keyword arguments: the cr_engine_config fields (transcript_max,
    clarify_below, max_unclear, idle_ms, return_window_ms, sticky_ms,
    wrapup_ms, utc_offset_min, keep_queued_after_hours, human_label,
    default_queue, default_lang, recent_max, alias_new_ids; None keeps the
    library default), router options (offer_timeout_ms, auto_away_misses,
    reentry_grace_ms, decline_block_ms, seed, aht_alpha), metrics= a dict
    of convroute.Metrics() keywords for the engine's accumulator
    (sl_threshold_s, window_s, cost_agent, ...) and the on_* callbacks.
    """

    _CONFIG = ("transcript_max", "clarify_below", "max_unclear", "idle_ms",
               "return_window_ms", "sticky_ms", "wrapup_ms",
               "utc_offset_min", "keep_queued_after_hours", "recent_max",
               "alias_new_ids")
    _ROUTER = ("offer_timeout_ms", "auto_away_misses", "reentry_grace_ms",
               "decline_block_ms", "seed", "aht_alpha")
    _CALLBACKS = ("send", "offer", "cancel_offer", "action", "validate",
                  "alert", "state_change", "event", "router_event")

    _what = "engine"

    def __init__(self, model, *, human_label: Optional[str] = None,
                 default_queue: Optional[str] = None,
                 default_lang: Optional[str] = None,
                 metrics: Optional[Mapping[str, Any]] = None, **kw):
        self._e = None
        self._depth = 0  # C calls in progress (callbacks may run)
        self._cb_struct: Optional[_Callbacks] = None
        self._cb_refs: Tuple[Any, ...] = ()
        self._pending: Optional[BaseException] = None
        self._router_view: Optional[_EngineRouter] = None
        self._metrics_view: Optional[_EngineMetrics] = None
        self._model = None
        if not isinstance(model, IntentModel) or model.closed:
            raise ConvrouteError(_CR_EINVAL, "model must be an open "
                                 "convroute.IntentModel")
        cbs = {}
        for name in self._CALLBACKS:
            cbs[name] = kw.pop("on_" + name, None)
            _need_callable("on_" + name, cbs[name])
        cfg = _Config()
        _config_init(_c.byref(cfg))
        rcfg = _RouterConfig()
        _router_config_init(_c.byref(rcfg))
        keep: List[Any] = []
        for name in self._CONFIG:
            v = kw.pop(name, None)
            if v is not None:
                setattr(cfg, name, v)
        for name in self._ROUTER:
            v = kw.pop(name, None)
            if v is not None:
                setattr(rcfg, name, v)
        if kw:
            raise TypeError("unknown Engine option(s): %s" % ", ".join(kw))
        for name, v in (("human_label", human_label),
                        ("default_queue", default_queue),
                        ("default_lang", default_lang)):
            if v is not None:
                b = _utf8(v, name)
                keep.append(b)
                setattr(cfg, name, b)
                setattr(cfg, name + "_len", len(b))
        cfg.router = _c.pointer(rcfg)
        self._metrics_window_s = 900.0
        if metrics is not None:
            mopt = _metrics_options(**metrics)
            keep.append(mopt)
            cfg.metrics = _c.cast(_c.pointer(mopt), _P)
            self._metrics_window_s = metrics.get("window_s", 900.0)
        h = _P()
        check(_new(_c.byref(h), None, model._h(), _c.byref(cfg)),
              "bad engine configuration")
        self._e = h.value
        # The C engine predicts with the model until it is freed: keep the
        # model alive and count this engine as a borrower, so that
        # model.close() waits for close() here (IntentModel docstring).
        model._borrow()
        self._model = model
        self.set_callbacks(**cbs)

    # ---- lifetime ----

    def close(self, _del=_del) -> None:
        """Frees the C engine (idempotent); callbacks are released after."""
        # _del is bound at definition time so __del__ works at shutdown.
        self._refuse_close_in_callback()
        if self._e is not None:
            _del(self._e)
            self._e = None
        self._cb_struct = None
        self._cb_refs = ()
        model, self._model = self._model, None
        if model is not None:
            model._release()  # frees it if model.close() was deferred

    def __enter__(self) -> "Engine":
        return self

    @property
    def closed(self) -> bool:
        return self._e is None

    @property
    def errmsg(self) -> str:
        """The engine's sentence about its last failure ("" if none)."""
        return _errmsg(self._handle()).decode("utf-8", "replace")

    def _handle(self):
        if self._e is None:
            raise self._closed_error()
        return self._e

    # ---- callbacks ----

    def _guard(self, body):
        """Runs body(); an exception is kept and the C callback fails. A
        returned int is the C return value; one that does not fit in a C
        int is still a failure (1 or -1), never truncated (2**32 would
        arrive as 0, success)."""
        try:
            r = body()
            if r is None or r is True:
                return 0
            if r is False:
                return 1
            r = int(r)
            if not -2**31 <= r < 2**31:
                return 1 if r > 0 else -1
            return r
        except BaseException as exc:  # kept, re-raised by _call
            self._keep_exc(exc)
            return -1

    def set_callbacks(self, *, send: Optional[Callable] = None,
                      offer: Optional[Callable] = None,
                      cancel_offer: Optional[Callable] = None,
                      action: Optional[Callable] = None,
                      validate: Optional[Callable] = None,
                      alert: Optional[Callable] = None,
                      state_change: Optional[Callable] = None,
                      event: Optional[Callable] = None,
                      router_event: Optional[Callable] = None) -> None:
        """Replaces every callback (None = not set). See the module doc
        for their arguments. Anything else that is not callable is refused
        (InvalidArgumentError) and nothing changes."""
        for name, f in (("send", send), ("offer", offer),
                        ("cancel_offer", cancel_offer), ("action", action),
                        ("validate", validate), ("alert", alert),
                        ("state_change", state_change), ("event", event),
                        ("router_event", router_event)):
            _need_callable("callback " + name, f)
        g = self._guard
        thunks: Dict[str, Any] = {}
        if send:
            send_: Callable[..., Any] = send
            thunks["send"] = _SendCB(
                lambda c, cl, ch, l, ll, t, tl, _u: g(lambda: send_(
                    _text(c, cl), channel_name(ch), _text(l, ll),
                    _text(t, tl) or "")))
        if offer:
            offer_: Callable[..., Any] = offer
            thunks["offer"] = _OfferCB(
                lambda x, a, al, _u: g(lambda: offer_(_context(x.contents),
                                                     _text(a, al))))
        if cancel_offer:
            cancel_offer_: Callable[..., Any] = cancel_offer
            thunks["cancel_offer"] = _CancelCB(
                lambda c, cl, a, al, _u: g(lambda: cancel_offer_(
                    _text(c, cl), _text(a, al))))
        if action:
            action_: Callable[..., Any] = action
            thunks["action"] = _ActionCB(
                lambda c, cl, n, nl, ar, arl, a, al, _u: g(lambda: action_(
                    _text(c, cl), _text(n, nl), _text(ar, arl) or "",
                    _text(a, al))))
        if validate:
            def v_thunk(c, cl, f, fl, v, vl, _u):
                try:
                    ok = validate(_text(c, cl), _text(f, fl),
                                  _text(v, vl) or "")
                    if ok is VALIDATE_LATER:
                        return _CR_VALIDATE_LATER
                    return 0 if ok else 1
                except BaseException as exc:
                    self._keep_exc(exc)
                    return -1
            thunks["validate"] = _ValidateCB(v_thunk)
        if alert:
            alert_: Callable[..., Any] = alert
            thunks["alert"] = _AlertCB(
                lambda x, _u: g(lambda: alert_(_context(x.contents))))
        if state_change:
            state_change_: Callable[..., Any] = state_change
            thunks["state_change"] = _StateCB(
                lambda c, cl, f, t, r, _u: g(lambda: state_change_(
                    _text(c, cl), _name(_state_name, f),
                    _name(_state_name, t), _name(_reason_name, r))))
        if event:
            event_: Callable[..., Any] = event
            thunks["event"] = _JournalCB(
                lambda e, _u: g(lambda: event_(_event(e.contents))))
        if router_event:
            def r_thunk(e, _u):
                try:
                    router_event(_event_from_c(e.contents))
                except BaseException as exc:
                    self._keep_exc(exc)
            thunks["router_event"] = _RouterEventCB(r_thunk)
        cb = _Callbacks()
        for name, t in thunks.items():
            setattr(cb, name, t)
        self._call(_set_callbacks, _c.byref(cb))
        # The C engine holds these pointers now: keep the thunks (and the
        # closures they call) alive exactly as long as it may use them.
        self._cb_struct = cb
        self._cb_refs = tuple(thunks.values())

    # ---- parts ----

    @property
    def router(self) -> Router:
        """The inner router (queues, agents, statistics)."""
        self._handle()  # ClosedError once closed
        if self._router_view is None:
            self._router_view = _EngineRouter(self)
        return self._router_view

    @property
    def metrics(self) -> Metrics:
        """The engine's metrics accumulator (read-only)."""
        self._handle()  # ClosedError once closed
        if self._metrics_view is None:
            self._metrics_view = _EngineMetrics(self)
        return self._metrics_view

    def kpis(self, dim: Optional[str] = None,
             key: Optional[str] = None) -> Report:
        """KPIs of the finished conversations: overall or for one key of a
        dimension ("channel", "queue", "agent", "intent")."""
        return self.metrics.report(dim, key)

    # ---- configuration ----

    def set_policy(self, label: str, kind: Union[str, int], *,
                   text: Optional[Mapping[str, str]] = None,
                   title: Optional[Mapping[str, str]] = None,
                   action: Optional[str] = None,
                   fields: Sequence[FieldSpec] = (),
                   queue: Optional[str] = None,
                   skills: Union[Mapping[str, int], None] = None,
                   priority: int = 0) -> None:
        """What the bot does with intent `label`: kind "answer", "action",
        "collect", "handoff", "human", "emergency" or "end"; texts per
        language ({"he": ..., "en": ...})."""
        keep: list = []
        p = _Policy()
        _policy_init(_c.byref(p))
        p.kind = _index(kind, POLICY_KINDS, "policy kind")
        arr, n = _lang_texts(text, keep)
        if arr is not None:
            p.text, p.ntext = arr, n
        arr, n = _lang_texts(title, keep)
        if arr is not None:
            p.title, p.ntitle = arr, n
        if action is not None:
            b = _utf8(action, "action")
            keep.append(b)
            p.action, p.action_len = b, len(b)
        if fields:
            fa = (_FieldSpec * len(fields))()
            for i, f in enumerate(fields):
                nb = _utf8(f.name, "field")
                keep.append(nb)
                fa[i].name, fa[i].name_len = nb, len(nb)
                pa, pn = _lang_texts(f.prompt, keep)
                if pa is not None:
                    fa[i].prompt, fa[i].nprompt = pa, pn
                fa[i].pattern = _index(f.pattern, PATTERNS, "pattern")
                fa[i].min_len, fa[i].max_len = f.min_len, f.max_len
            keep.append(fa)
            p.fields, p.nfields = fa, len(fields)
        if queue is not None:
            b = _utf8(queue, "queue")
            keep.append(b)
            p.queue, p.queue_len = b, len(b)
        sa, sn = _skill_array(skills, keep)
        if sa is not None:
            p.skills, p.nskills = sa, sn
        p.priority = priority
        lb = _utf8(label, "label")
        self._call(_set_policy, lb, len(lb), _c.byref(p))

    def add_rule(self, key: str, value: str, *, queue: Optional[str] = None,
                 skills: Union[Mapping[str, int], None] = None,
                 priority_add: int = 0, handoff: bool = False,
                 stop: bool = False) -> None:
        """Appends a business rule: when profile[key] == value ("*" = any
        value present), apply queue / skills / priority_add / handoff."""
        keep: list = []
        r = _Rule()
        _rule_init(_c.byref(r))
        kb, vb = _utf8(key, "key"), _utf8(value, "value")
        keep += [kb, vb]
        r.key, r.key_len, r.value, r.value_len = kb, len(kb), vb, len(vb)
        if queue is not None:
            qb = _utf8(queue, "queue")
            keep.append(qb)
            r.queue, r.queue_len = qb, len(qb)
        sa, sn = _skill_array(skills, keep)
        if sa is not None:
            r.skills, r.nskills = sa, sn
        r.priority_add = priority_add
        r.handoff = 1 if handoff else 0
        r.stop = 1 if stop else 0
        self._call(_add_rule, _c.byref(r))

    def set_text(self, kind: Union[str, int], lang: str, text: str) -> None:
        """A system text ("clarify", "handoff", "after_hours", "no_agents",
        "invalid", "action_failed", "anything_else") in one language."""
        lb, tb = _utf8(lang, "language"), _utf8(text, "text")
        self._call(_set_text, _index(kind, TEXT_KINDS, "text kind"), lb,
                   len(lb), tb, len(tb))

    def set_hours(self, intervals: Iterable[Tuple[Union[int, str], str, str]]
                  ) -> None:
        """Weekly opening hours in local time: (day, "08:00", "20:00") with
        day 0 = Sunday or "sun".."sat". An empty list: always open."""
        items = list(intervals)
        arr = (_OpenInterval * max(1, len(items)))()

        def minutes(s):
            try:
                h, m = s.split(":")
                return int(h) * 60 + int(m)
            except (ValueError, AttributeError):
                raise ConvrouteError(_CR_EINVAL, "time %r is not HH:MM" % s)
        for i, (day, op, cl) in enumerate(items):
            arr[i].day = _index(day, DAYS, "day")
            arr[i].open_min, arr[i].close_min = minutes(op), minutes(cl)
        self._call(_set_hours, arr, len(items))

    # ---- customer inputs ----

    def customer_message(self, conv: str, text: str, *, now: int,
                         customer: Optional[str] = None,
                         channel: Union[str, int] = "chat",
                         profile: Union[None, str, Mapping[str, str]] = None
                         ) -> None:
        """A customer message; a new conversation id starts a conversation
        with the bot (profile used on first contact)."""
        cb, tb = _utf8(conv), _utf8(text, "text")
        cu = _utf8(customer, "customer") if customer is not None else b""
        pb = _profile(profile)
        self._call(_customer_message, cb, len(cb), *_opt(cu),
                   channel_number(channel), tb, len(tb), *_opt(pb), now)

    def channel_switch(self, conv: str, channel: Union[str, int], *,
                       now: int) -> None:
        b = _utf8(conv)
        self._call(_channel_switch, b, len(b), channel_number(channel), now)

    def abandon(self, conv: str, *, now: int) -> None:
        b = _utf8(conv)
        self._call(_abandon, b, len(b), now)

    def survey(self, conv: str, *, now: int, csat: Optional[int] = None,
               nps: Optional[int] = None, ces: Optional[int] = None) -> None:
        """Survey answers for a recently ended conversation, once per
        contact: a repeat raises ConvrouteError EEXIST and counts nothing."""
        b = _utf8(conv)
        none = METRICS_NONE
        self._call(_survey, b, len(b), none if csat is None else csat,
                   none if nps is None else nps,
                   none if ces is None else ces, now)

    # ---- host inputs ----

    def action_result(self, conv: str, ok: bool, text: Optional[str] = None,
                      *, now: int) -> None:
        b = _utf8(conv)
        tb = _utf8(text, "text") if text else b""
        self._call(_action_result, b, len(b), 1 if ok else 0, *_opt(tb), now)

    def field_result(self, conv: str, ok: bool, *, now: int) -> None:
        """The host's late verdict on a field whose on_validate returned
        VALIDATE_LATER: True -> FIELD_OK (next field or handoff), False ->
        FIELD_BAD (asked again). StateError when no field is pending."""
        b = _utf8(conv)
        self._call(_field_result, b, len(b), 1 if ok else 0, now)

    def end(self, conv: str, *, now: int) -> None:
        """The host ends a bot conversation as resolved by the bot."""
        b = _utf8(conv)
        self._call(_end, b, len(b), now)

    # ---- agent inputs ----

    def accept(self, conv: str, agent: str, *, now: int) -> None:
        cb, ab = _utf8(conv), _utf8(agent)
        self._call(_accept, cb, len(cb), ab, len(ab), now)

    def reject(self, conv: str, agent: str, *, now: int) -> None:
        cb, ab = _utf8(conv), _utf8(agent)
        self._call(_reject, cb, len(cb), ab, len(ab), now)

    def reply(self, conv: str, agent: str, text: str, *, now: int) -> None:
        cb, ab, tb = _utf8(conv), _utf8(agent), _utf8(text, "text")
        self._call(_reply, cb, len(cb), ab, len(ab), tb, len(tb), now)

    def step(self, conv: str, agent: str, action: str,
             args: Union[None, str, Mapping[str, str]] = None, *,
             now: int) -> None:
        """The agent hands one step to the bot (the action callback runs
        it; action_result gives the conversation back)."""
        cb, ab, nb = _utf8(conv), _utf8(agent), _utf8(action, "action")
        arb = _profile(args, "args")
        self._call(_step, cb, len(cb), ab, len(ab), nb, len(nb), *_opt(arb),
                   now)

    def transfer(self, conv: str, agent: str, *, now: int,
                 queue: Optional[str] = None,
                 to_agent: Optional[str] = None) -> None:
        cb, ab = _utf8(conv), _utf8(agent)
        qb = _utf8(queue, "queue") if queue else b""
        tb = _utf8(to_agent, "agent") if to_agent else b""
        self._call(_transfer, cb, len(cb), ab, len(ab), *_opt(qb), *_opt(tb),
                   now)

    def close_conversation(self, conv: str, agent: str, *, now: int,
                           resolved: Optional[bool] = None) -> None:
        """The agent closes the conversation (resolved True/False/None)."""
        cb, ab = _utf8(conv), _utf8(agent)
        res = METRICS_NONE if resolved is None else (1 if resolved else 0)
        self._call(_close, cb, len(cb), ab, len(ab), res, now)

    def wrapup_done(self, conv: str, *, now: int) -> None:
        b = _utf8(conv)
        self._call(_wrapup_done, b, len(b), now)

    # ---- time ----

    def next_timeout(self) -> Optional[int]:
        """The earliest deadline (ms), or None when nothing is pending."""
        t = _next_timeout(self._handle())
        return None if t == (1 << 63) - 1 else t

    def tick(self, now: int) -> None:
        """Runs everything due at or before now (ms, strictly within
        +-2**62: beyond, CR_TIME_NEVER included, ConvrouteError ERANGE and
        nothing changes). When next_timeout() is None there is nothing to
        tick for: wait for the next input."""
        self._call(_tick, now)

    def advance(self, now: int) -> int:
        """Ticks every deadline up to now, each at its own time (the way a
        host's timer would); returns how many ticks ran."""
        n = 0
        while True:
            t = self.next_timeout()
            if t is None or t > now:
                return n
            self.tick(t)
            n += 1
            if n > 1000000:
                raise RuntimeError("engine deadlines do not advance")

    # ---- inspection ----

    def conv_info(self, conv: str) -> ConvSummary:
        b = _utf8(conv)
        s = _Summary()
        self._call(_conv_info, b, len(b), _c.byref(s))
        none = -(1 << 63)
        return ConvSummary(
            state=STATES[s.state] if 0 <= s.state < len(STATES) else "?",
            channel=channel_name(s.channel),
            reason=_name(_reason_name, s.reason) or "?", unclear=s.unclear,
            fields=s.nfields, messages=s.messages, transfers=s.transfers,
            agent=_text(s.agent, s.agent_len),
            queue=_text(s.queue, s.queue_len),
            lang=_text(s.lang, s.lang_len), arrived=s.arrived,
            queued_at=None if s.queued_at == none else s.queued_at,
            answered_at=None if s.answered_at == none else s.answered_at)

    def __len__(self) -> int:
        """Live conversations."""
        return _conv_count(self._handle())

    # ---- persistence ----

    def snapshot(self) -> bytes:
        """The whole engine state (conversations, router, clocks) as bytes;
        not the model, policies, rules, texts, hours or metrics."""
        buf, n = _P(), _Z()
        self._call(_snapshot, _c.byref(buf), _c.byref(n))
        try:
            return _c.string_at(buf, n.value)
        finally:
            _lib.cr_mem_free(None, buf)

    def restore(self, data: bytes) -> None:
        """Replaces this engine's conversations, router and counters with a
        snapshot's (callbacks, model and configuration stay)."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ConvrouteError(_CR_EINVAL, "restore takes bytes")
        b = bytes(data)
        self._call(_restore, b, len(b))
