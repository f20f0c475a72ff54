"""Intent matching: train a classifier on labelled examples, match messages.

A thin, Pythonic layer over the C API in the "Intent matching" section of
convroute.h (cr_intent_trainer_*, cr_intent_model_*, cr_text_normalize)::

    from convroute import IntentModel

    with IntentModel.train_tsv("examples/data/intents_he.tsv") as model:
        model.add_builtin_rules(human_label="talk_to_human")
        best = model.classify("אני רוצה לדבר עם נציג")
        print(best.label, best.confidence, best.from_rule)
        blob = model.save()              # bytes; the host owns files
    model2 = IntentModel.load(blob)      # bit-identical predictions

Text may be given as str (encoded to UTF-8) or as bytes (passed through, so
the library's own UTF-8 check applies: invalid bytes raise ConvrouteError
with name "EUTF8"). Every failed call raises ConvrouteError carrying the
object's errmsg (e.g. the line number of a bad TSV line).

A model is not thread-safe (prediction uses a scratch buffer inside it):
use one IntentModel per thread, e.g. load each from the same saved bytes.
"""
import ctypes
import os
from dataclasses import dataclass
from typing import (Any, Iterable, Iterator, List, Optional, Tuple,
                    Union)

from . import _lib
from .errors import ClosedError, ConvrouteError, check

__all__ = ["IntentMatch", "IntentTrainer", "IntentModel", "normalize",
           "read_tsv_pairs"]

_c = ctypes
_P = _c.c_void_p
_SZ = _c.c_size_t
_SZP = _c.POINTER(_c.c_size_t)

CR_EINVAL = -1
CR_ECLOSED = -14
CR_ENOSPACE = -16

TextLike = Union[str, bytes, bytearray, memoryview]
PathOrData = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]


class _Match(_c.Structure):  # filled by C
    # Mirrors struct cr_intent_match in convroute.h, member for member.
    _fields_ = [
        ("label", _c.c_void_p),
        ("label_len", _c.c_size_t),
        ("label_index", _c.c_size_t),
        ("confidence", _c.c_double),
        ("score", _c.c_double),
        ("rule", _c.c_int),
        ("out_of_scope", _c.c_int),
    ]


_fn = _lib.fn
_normalize = _fn("cr_text_normalize", _c.c_int, _c.c_char_p, _SZ,
                 _c.c_char_p, _SZ, _SZP)
_trainer_new = _fn("cr_intent_trainer_new", _c.c_int, _c.POINTER(_P), _P)
_trainer_del = _fn("cr_intent_trainer_del", None, _P)
_trainer_errmsg = _fn("cr_intent_trainer_errmsg", _c.c_char_p, _P)
_trainer_add = _fn("cr_intent_trainer_add", _c.c_int, _P, _c.c_char_p, _SZ,
                   _c.c_char_p, _SZ)
_trainer_add_tsv = _fn("cr_intent_trainer_add_tsv", _c.c_int, _P,
                       _c.c_char_p, _SZ)
_trainer_count = _fn("cr_intent_trainer_count", _SZ, _P)
_set_seed = _fn("cr_intent_trainer_set_seed", _c.c_int, _P, _c.c_uint64)
_set_hash_bits = _fn("cr_intent_trainer_set_hash_bits", _c.c_int, _P,
                     _c.c_uint)
_set_word_ngrams = _fn("cr_intent_trainer_set_word_ngrams", _c.c_int, _P,
                       _c.c_uint)
_set_char_ngrams = _fn("cr_intent_trainer_set_char_ngrams", _c.c_int, _P,
                       _c.c_uint, _c.c_uint)
_set_min_df = _fn("cr_intent_trainer_set_min_df", _c.c_int, _P, _c.c_uint)
_set_c = _fn("cr_intent_trainer_set_c", _c.c_int, _P, _c.c_double)
_set_solver = _fn("cr_intent_trainer_set_solver", _c.c_int, _P, _c.c_uint,
                  _c.c_double)
_set_calibration = _fn("cr_intent_trainer_set_calibration", _c.c_int, _P,
                       _c.c_double)
_set_oos_label = _fn("cr_intent_trainer_set_oos_label", _c.c_int, _P,
                     _c.c_char_p, _SZ)
_train = _fn("cr_intent_train", _c.c_int, _P, _c.POINTER(_P))
_model_del = _fn("cr_intent_model_del", None, _P)
_model_errmsg = _fn("cr_intent_model_errmsg", _c.c_char_p, _P)
_label_count = _fn("cr_intent_model_label_count", _SZ, _P)
_label = _fn("cr_intent_model_label", _c.c_char_p, _P, _SZ)
_oos_label = _fn("cr_intent_model_oos_label", _c.c_char_p, _P)
_predict = _fn("cr_intent_predict", _c.c_int, _P, _c.c_char_p, _SZ,
               _c.POINTER(_Match), _SZ, _SZP)
_set_threshold = _fn("cr_intent_model_set_threshold", _c.c_int, _P,
                     _c.c_double)
_threshold = _fn("cr_intent_model_threshold", _c.c_double, _P)
_tune_threshold = _fn("cr_intent_model_tune_threshold", _c.c_int, _P,
                      _c.c_char_p, _SZ, _c.POINTER(_c.c_double))
_temperature = _fn("cr_intent_model_temperature", _c.c_double, _P)
_add_rule = _fn("cr_intent_model_add_rule", _c.c_int, _P, _c.c_char_p, _SZ,
                _c.c_char_p, _SZ, _c.c_int)
_add_builtin_rules = _fn("cr_intent_model_add_builtin_rules", _c.c_int, _P,
                         _c.c_char_p, _SZ, _c.c_char_p, _SZ)
_add_builtin_rules_ex = _fn("cr_intent_model_add_builtin_rules_ex", _c.c_int,
                            _P, _c.c_char_p, _SZ, _c.c_char_p, _SZ,
                            _c.c_char_p, _SZ)
_add_rule_exception = _fn("cr_intent_model_add_rule_exception", _c.c_int, _P,
                          _c.c_char_p, _SZ, _c.c_char_p, _SZ)
_rule_count = _fn("cr_intent_model_rule_count", _SZ, _P)
_save = _fn("cr_intent_model_save", _c.c_int, _P, _P, _c.POINTER(_P), _SZP)
_load = _fn("cr_intent_model_load", _c.c_int, _c.POINTER(_P), _P,
            _c.c_char_p, _SZ)


class _ClosedValueError(ClosedError, ValueError):
    """ClosedError of a closed IntentModel / IntentTrainer: the library's
    class, like Router and Engine raise, and still the ValueError these
    objects raised before."""


def _closed(what: str) -> ClosedError:
    return _ClosedValueError(CR_ECLOSED, "operation on a closed %s" % what)


def _utf8(text: TextLike, what: str = "text") -> bytes:
    """str -> UTF-8 bytes; bytes-like passed through unchanged.

    Lone surrogates in a str are encoded as they are (surrogatepass), so
    the library rejects them with CR_EUTF8 like any other invalid UTF-8.
    """
    if isinstance(text, str):
        return text.encode("utf-8", "surrogatepass")
    if isinstance(text, (bytes, bytearray, memoryview)):
        return bytes(text)
    raise TypeError("%s must be str or bytes, not %s"
                    % (what, type(text).__name__))


def _read_tsv(source: PathOrData) -> bytes:
    """A TSV given as a path (str / PathLike) or as its bytes."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    with open(os.fspath(source), "rb") as f:
        return f.read()


def _tsv_of(rows: Iterable[Tuple[TextLike, TextLike]]) -> bytes:
    """(label, text) pairs as "label<TAB>text" lines.

    A TAB, CR or LF inside a text is turned into a space (the normaliser
    treats all white space as one separator, so the meaning is kept); one
    inside a label is an error, as it is for cr_intent_trainer_add().
    """
    out = []
    for label, text in rows:
        lab = _utf8(label, "label")
        if not lab or any(ch in lab for ch in b"\t\r\n"):
            raise ConvrouteError(CR_EINVAL, "label %r is empty or contains "
                                 "TAB, CR or LF" % (label,))
        txt = _utf8(text).replace(b"\t", b" ").replace(b"\r", b" ")
        out.append(lab + b"\t" + txt.replace(b"\n", b" ") + b"\n")
    return b"".join(out)


def normalize(text: TextLike) -> str:
    """The text as the intent matcher sees it (cr_text_normalize).

    Case folded, Hebrew niqqud stripped and final letters mapped, punctuation
    and emoji turned into separators; tokens joined by single spaces.
    Raises ConvrouteError (EUTF8) for invalid UTF-8 bytes.
    """
    data = _utf8(text)
    cap = len(data) + 1  # the header promises len + 1 always suffices
    buf = _c.create_string_buffer(cap)
    n = _SZ(0)
    check(_normalize(data, len(data), buf, cap, _c.byref(n)))
    return buf.raw[:n.value].decode("utf-8")


@dataclass(frozen=True)
class IntentMatch:
    """One ranked answer for a message.

    label         the intent (a trained label or one named only by a rule)
    confidence    calibrated probability in [0, 1] ("0.8" is right about
                  80 % of the time on held-out data); 1.0 for a rule
    out_of_scope  True when this answer is not to be trusted: below the
                  model's threshold, or the model's out-of-scope label.
                  The first match's flag is the decision for the message.
    rule          index of the rule that produced it (in the order rules
                  were added, built-ins included), or None for the model
    score         the raw linear score (SVM margin); 0.0 for a rule
    label_index   position of label in IntentModel.labels
    """
    label: str
    confidence: float
    out_of_scope: bool
    rule: Optional[int]
    score: float
    label_index: int

    @property
    def from_rule(self) -> bool:
        """True when a phrase rule, not the model, produced this answer."""
        return self.rule is not None


class IntentTrainer:
    """Collects labelled examples and options; train() makes IntentModels.

    Options not given keep the library's defaults (docs/intent.md), which
    were chosen on validation data. The trainer is unchanged by train() and
    can train again, e.g. with another seed.
    """

    def __init__(self, *, oos_label: Optional[str] = None,
                 seed: Optional[int] = None,
                 hash_bits: Optional[int] = None,
                 word_ngrams: Optional[int] = None,
                 char_ngrams: Optional[Tuple[int, int]] = None,
                 min_df: Optional[int] = None,
                 c: Optional[float] = None,
                 solver: Optional[Tuple[int, float]] = None,
                 calibration: Optional[float] = None) -> None:
        self._t = None
        h = _P()
        check(_trainer_new(_c.byref(h), None))
        self._t = h
        try:
            self.configure(oos_label=oos_label, seed=seed,
                           hash_bits=hash_bits, word_ngrams=word_ngrams,
                           char_ngrams=char_ngrams, min_df=min_df, c=c,
                           solver=solver, calibration=calibration)
        except BaseException:
            self.close()
            raise

    # -- lifetime --
    def close(self, _del=_trainer_del) -> None:
        """Frees the C trainer; later calls raise ClosedError (also a
        ValueError). Idempotent."""
        # _del is bound at definition time so that __del__ still works
        # while the interpreter tears module globals down.
        if self._t:
            _del(self._t)
            self._t = None

    def __enter__(self) -> "IntentTrainer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def _h(self):
        if not self._t:
            raise _closed("IntentTrainer")
        return self._t

    def _check(self, rc: int) -> int:
        # Only for calls that reset the C errmsg on entry (add, add_tsv,
        # train); the others use plain check() so that a message left by
        # an earlier failure is never attached to a new error.
        return check(rc, lambda: self.errmsg)

    @property
    def errmsg(self) -> str:
        """Why the last call failed (e.g. "line 12: no TAB"); "" if none."""
        return _trainer_errmsg(self._h()).decode("utf-8", "replace")

    # -- examples --
    def add(self, label: TextLike, text: TextLike) -> None:
        """Adds one example. Empty text is allowed; the label must be
        non-empty, at most 255 bytes, without TAB/CR/LF (EINVAL), and both
        must be valid UTF-8 (EUTF8)."""
        lab, txt = _utf8(label, "label"), _utf8(text)
        self._check(_trainer_add(self._h(), lab, len(lab), txt, len(txt)))

    def add_many(self, examples: Iterable[Tuple[TextLike, TextLike]]) -> int:
        """Adds (label, text) pairs; returns how many were added. Stops at
        the first bad pair (those before it stay added)."""
        n = 0
        for label, text in examples:
            self.add(label, text)
            n += 1
        return n

    def add_tsv(self, source: PathOrData) -> int:
        """Adds every "label<TAB>text" line of a file path or of bytes.

        All or nothing: a bad line adds nothing and raises ConvrouteError
        whose message names the line. Returns the number of examples added.
        """
        data = _read_tsv(source)
        before = len(self)
        self._check(_trainer_add_tsv(self._h(), data, len(data)))
        return len(self) - before

    def __len__(self) -> int:
        """Number of examples added so far."""
        return _trainer_count(self._h())

    # -- options --
    def configure(self, *, oos_label: Optional[str] = None,
                  seed: Optional[int] = None,
                  hash_bits: Optional[int] = None,
                  word_ngrams: Optional[int] = None,
                  char_ngrams: Optional[Tuple[int, int]] = None,
                  min_df: Optional[int] = None,
                  c: Optional[float] = None,
                  solver: Optional[Tuple[int, float]] = None,
                  calibration: Optional[float] = None) -> None:
        """Sets the options that are not None. An out-of-range value raises
        ConvrouteError (ERANGE) and leaves that option unchanged.

        oos_label    label of the out-of-scope examples ("" clears it)
        seed         solver permutation and calibration split seed
        hash_bits    2^bits feature buckets, 12..24
        word_ngrams  word n-grams 1..n, 1..3
        char_ngrams  (min, max) code points inside words, or (0, 0)
        min_df       drop features seen in fewer examples, 1..1000
        c            SVM regularisation C, 1e-4..1e4
        solver       (max_epochs, tolerance): the solver stops after
                     max_epochs passes (1..10000) or when the projected
                     gradient spread falls below tolerance (1e-6..1)
        calibration  fraction held out to fit the confidence, 0 or .05..0.5
        """
        h = self._h()
        if oos_label is not None:
            lab = _utf8(oos_label, "oos_label")
            check(_set_oos_label(h, lab, len(lab)))
        if seed is not None:  # outside uint64: RangeError (a ValueError)
            check(_set_seed(h, seed))
        if hash_bits is not None:
            check(_set_hash_bits(h, hash_bits))
        if word_ngrams is not None:
            check(_set_word_ngrams(h, word_ngrams))
        if char_ngrams is not None:
            lo, hi = char_ngrams
            check(_set_char_ngrams(h, lo, hi))
        if min_df is not None:
            check(_set_min_df(h, min_df))
        if c is not None:
            check(_set_c(h, c))
        if solver is not None:
            epochs, tol = solver
            check(_set_solver(h, int(epochs), float(tol)))
        if calibration is not None:
            check(_set_calibration(h, calibration))

    def train(self) -> "IntentModel":
        """Trains a model on the examples added so far.

        ConvrouteError (ENODATA) when there are none. With one label the
        model always answers it unless the threshold says out of scope.
        """
        m = _P()
        self._check(_train(self._h(), _c.byref(m)))
        return IntentModel._wrap(m)


class IntentModel:
    """A trained intent classifier plus its phrase rules.

    Make one with IntentModel.train(pairs), IntentModel.train_tsv(path),
    IntentTrainer(...).train() or IntentModel.load(saved_bytes). Use it as a
    context manager or call close(); it is also freed when collected.

    An Engine borrows the model it is given: the C engine predicts with it
    until the engine is closed. close() while an open Engine still
    borrows the model (also from inside one of that engine's callbacks)
    does not free it under the engine: the model reports closed at once
    and refuses its own methods (ClosedError), and the C model is freed
    when the last borrowing Engine closes.
    """

    _m: Optional[int]
    _buf: Any
    _borrowers = 0      # open Engines predicting with this model
    _close_pending = False  # close() was called while borrowed

    def __init__(self) -> None:
        raise TypeError("use IntentModel.train(), train_tsv(), load() or "
                        "IntentTrainer.train()")

    @classmethod
    def _wrap(cls, handle) -> "IntentModel":
        self = cls.__new__(cls)
        self._m = handle
        self._buf = (_Match * 8)()
        return self

    # -- making one --
    @classmethod
    def train(cls, examples: Iterable[Tuple[TextLike, TextLike]],
              **options) -> "IntentModel":
        """Trains on (label, text) pairs. Keyword options are those of
        IntentTrainer (oos_label, seed, c, char_ngrams, ...)."""
        with IntentTrainer(**options) as t:
            t.add_many(examples)
            return t.train()

    @classmethod
    def train_tsv(cls, *sources: PathOrData, **options) -> "IntentModel":
        """Trains on one or more "label<TAB>text" files (paths or bytes)."""
        with IntentTrainer(**options) as t:
            for s in sources:
                t.add_tsv(s)
            return t.train()

    @classmethod
    def load(cls, data: Union[bytes, bytearray, memoryview]) -> "IntentModel":
        """Loads bytes made by save(). ConvrouteError ECORRUPT for damaged
        or truncated data, EVERSION for a newer format."""
        data = bytes(data)
        m = _P()
        check(_load(_c.byref(m), None, data, len(data)))
        return cls._wrap(m)

    def save(self) -> bytes:
        """The model and its rules as bytes (versioned, little-endian,
        CRC-32 checked); load() gives bit-identical predictions."""
        buf, n = _P(), _SZ(0)
        check(_save(self._h(), None, _c.byref(buf), _c.byref(n)))
        try:
            return _c.string_at(buf, n.value)
        finally:
            _lib.cr_mem_free(None, buf)

    # -- lifetime --
    def close(self, _del=_model_del) -> None:
        """Frees the C model; later calls raise ClosedError (also a
        ValueError). Idempotent. While an Engine borrows the model the
        free waits for the last such engine to close (see the class
        docstring); the model counts as closed from now on all the same."""
        if self._borrowers:
            self._close_pending = True
            return
        if getattr(self, "_m", None):
            _del(self._m)
            self._m = None

    def _borrow(self) -> None:
        """An Engine uses the model (its C handle) until _release()."""
        self._h()  # ClosedError once closed
        self._borrowers += 1

    def _release(self) -> None:
        """An Engine that borrowed the model is closed: free the model if
        close() was called meanwhile."""
        self._borrowers -= 1
        if not self._borrowers and self._close_pending:
            self._close_pending = False
            self.close()

    def __enter__(self) -> "IntentModel":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._close_pending or not getattr(self, "_m", None)

    def _h(self):
        if self.closed:
            raise _closed("IntentModel")
        return self._m

    def _check(self, rc: int) -> int:
        # Every C call that can fail resets the errmsg on entry (since
        # the fix of issue 3's API review); see IntentTrainer._check.
        return check(rc, lambda: self.errmsg)

    @property
    def errmsg(self) -> str:
        """Why the last call on the model failed; "" if it succeeded."""
        return _model_errmsg(self._h()).decode("utf-8", "replace")

    # -- labels --
    @property
    def labels(self) -> List[str]:
        """Trained labels in first-seen order, then rule-only labels."""
        h = self._h()
        return [_label(h, i).decode("utf-8") for i in range(_label_count(h))]

    def __len__(self) -> int:
        """Number of labels (trained and rule-only)."""
        return _label_count(self._h())

    @property
    def oos_label(self) -> Optional[str]:
        """The out-of-scope label given at training, or None."""
        s = _oos_label(self._h())
        return None if s is None else s.decode("utf-8")

    # -- matching --
    def predict(self, text: TextLike, k: int = 3) -> List[IntentMatch]:
        """Up to k answers, best first: a matching rule first, then the
        model's labels by confidence. k = 0 gives []. Raises ConvrouteError
        (EUTF8) for invalid UTF-8 bytes."""
        if k < 0:
            raise ValueError("k must be >= 0")
        h = self._h()
        data = _utf8(text)
        if len(self._buf) < k:
            self._buf = (_Match * k)()
        n = _SZ(0)
        check(_predict(h, data, len(data), self._buf, k, _c.byref(n)))
        return [self._match(self._buf[i]) for i in range(n.value)]

    def classify(self, text: TextLike) -> IntentMatch:
        """The best answer alone (predict(text, 1)[0])."""
        return self.predict(text, 1)[0]

    def __call__(self, text: TextLike, k: int = 3) -> List[IntentMatch]:
        return self.predict(text, k)

    @staticmethod
    def _match(m: _Match) -> IntentMatch:
        label = _c.string_at(m.label, m.label_len).decode("utf-8")
        return IntentMatch(label=label, confidence=m.confidence,
                           out_of_scope=bool(m.out_of_scope),
                           rule=None if m.rule < 0 else m.rule,
                           score=m.score, label_index=m.label_index)

    # -- out of scope --
    @property
    def threshold(self) -> float:
        """Out-of-scope threshold on the top calibrated confidence, 0..1."""
        return _threshold(self._h())

    @threshold.setter
    def threshold(self, value: float) -> None:
        check(_set_threshold(self._h(), float(value)))

    def tune_threshold(self, rows: Union[PathOrData,
                                         Iterable[Tuple[TextLike, TextLike]]]
                       ) -> float:
        """Chooses, sets and returns the threshold that maximises the mean
        of in-scope accuracy and out-of-scope recall on validation rows
        (a TSV path or bytes, or (label, text) pairs). Rows with the oos
        label, or a label the model does not know, count as out of scope.
        ConvrouteError (ENODATA) when either kind is missing."""
        if isinstance(rows, (str, os.PathLike, bytes, bytearray,
                             memoryview)):
            data = _read_tsv(rows)
        else:
            data = _tsv_of(rows)
        t = _c.c_double(0.0)
        self._check(_tune_threshold(self._h(), data, len(data),
                                    _c.byref(t)))
        return t.value

    @property
    def temperature(self) -> float:
        """Softmax temperature fitted at training (1 without calibration)."""
        return _temperature(self._h())

    # -- rules --
    def add_rule(self, label: TextLike, phrase: TextLike,
                 priority: int = 0) -> int:
        """Adds a phrase rule that wins over the model when its words appear
        consecutively in a message (Hebrew prefixes ו ה ב ל מ ש כ are
        allowed in front of a word; "word*" matches words starting with it).
        The label need not be trained. Returns the rule's index (the
        IntentMatch.rule of its answers)."""
        lab, ph = _utf8(label, "label"), _utf8(phrase, "phrase")
        h = self._h()
        self._check(_add_rule(h, lab, len(lab), ph, len(ph), int(priority)))
        return _rule_count(h) - 1

    def add_builtin_rules(self, human_label: Optional[str] = "talk_to_human",
                          emergency_label: Optional[str] = "emergency",
                          fraud_label: Optional[str] = None) -> int:
        """Adds the library's Hebrew + English phrase lists: requests for a
        human (priority 100, with exceptions such as "fake representative")
        under human_label, emergency words (priority 200) under
        emergency_label, fraud words (priority 150) under fraud_label;
        None skips a list. Returns how many rules (and exceptions) were
        added."""
        h = self._h()
        hl = b"" if human_label is None else _utf8(human_label, "label")
        el = b"" if emergency_label is None else _utf8(emergency_label,
                                                       "label")
        fl = b"" if fraud_label is None else _utf8(fraud_label, "label")
        before = _rule_count(h)
        if fl:
            self._check(_add_builtin_rules_ex(h, hl or None, len(hl),
                                              el or None, len(el), fl,
                                              len(fl)))
        else:  # the header: the same as _ex with fraud_label NULL
            self._check(_add_builtin_rules(h, hl or None, len(hl),
                                           el or None, len(el)))
        return _rule_count(h) - before

    def add_rule_exception(self, label: str, phrase: TextLike) -> int:
        """While phrase matches a message, no rule of label fires (the
        model decides). Returns the exception's rule index."""
        lab, ph = _utf8(label, "label"), _utf8(phrase, "phrase")
        h = self._h()
        self._check(_add_rule_exception(h, lab, len(lab), ph, len(ph)))
        return _rule_count(h) - 1

    @property
    def rule_count(self) -> int:
        """Number of rules (built-in and added)."""
        return _rule_count(self._h())

    def __repr__(self) -> str:
        if self.closed:
            return "<IntentModel closed>"
        return "<IntentModel %d labels, %d rules, threshold %.3f>" % (
            len(self), self.rule_count, self.threshold)


def read_tsv_pairs(source: PathOrData) -> Iterator[Tuple[str, str]]:
    """(label, text) pairs of a "label<TAB>text" file (path or bytes), for
    splitting a data set in Python; blank lines are skipped."""
    for n, line in enumerate(_read_tsv(source).decode("utf-8").splitlines(),
                             1):
        if not line.strip():
            continue
        label, sep, text = line.partition("\t")
        if not sep:
            raise ValueError("line %d: no TAB" % n)
        yield label, text
