"""What Router and Engine share: a C object whose calls may run Python
callbacks.

An exception raised inside a callback cannot cross the C frames, so it is
kept (the callback reports failure to C) and re-raised by `_call` once the
C call returns; a second one is attached to the first as a note. While a C
call runs, `close()` is refused: the C code still uses the object; so is
any other call through `_call` (StateError, as C would answer), before it
can disturb the kept exception of the call in progress.
"""
from typing import Optional

from .errors import ConvrouteError, check

_CR_ESTATE = -7
_CR_ECLOSED = -14


class _CallbackHost:
    _what = "object"  # "router", "engine": for messages
    _depth = 0  # C calls in progress (callbacks may run)
    _pending: Optional[BaseException] = None

    def _handle(self):
        raise NotImplementedError

    @property
    def errmsg(self) -> str:
        raise NotImplementedError

    def _closed_error(self) -> ConvrouteError:
        return ConvrouteError(_CR_ECLOSED, "the %s is closed" % self._what)

    def _refuse_close_in_callback(self) -> None:
        if getattr(self, "_depth", 0):
            raise ConvrouteError(_CR_ESTATE, "close() inside a callback of "
                                 "this %s; close it after the call returns"
                                 % self._what)

    def _keep_exc(self, exc: BaseException) -> None:
        if self._pending is None:
            self._pending = exc
        else:
            self._pending.add_note("another callback also raised: %r"
                                   % (exc,))

    def _refuse_nested(self) -> None:
        """StateError for a call from inside one of this object's callbacks
        (C refuses it too), raised before anything is touched: resetting
        _pending here would lose what an earlier callback of the outer
        call raised."""
        if self._depth:
            raise ConvrouteError(_CR_ESTATE, "a callback of this %s must "
                                 "not call into it" % self._what)

    def _call(self, f, *args):
        """Calls f(handle, *args); raises a kept callback exception, then a
        ConvrouteError for a negative return."""
        self._refuse_nested()
        h = self._handle()
        self._pending = None
        self._depth += 1
        try:
            rc = f(h, *args)
        finally:
            self._depth -= 1
        exc, self._pending = self._pending, None
        if exc is not None:
            if rc < 0:
                exc.add_note("the %s call also failed: %s"
                             % (self._what, ConvrouteError(rc, self.errmsg)))
            raise exc
        return check(rc, lambda: self.errmsg)

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
