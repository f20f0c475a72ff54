"""The exception every failed convroute call raises."""
from . import _lib


class ConvrouteError(Exception):
    """A negative CR_E... code from the library.

    `code` is the number, `name` its CR_ name without the prefix ("ENOMEM"),
    and the message is cr_strerror() plus whatever the object said more.
    """

    def __init__(self, code, detail=None):
        self.code = code
        self.name = _lib.cr_errname(code).decode()
        msg = _lib.cr_strerror(code).decode()
        if detail:
            msg = "%s: %s" % (msg, detail)
        super().__init__("CR_%s: %s" % (self.name, msg))


def check(rc, detail=None):
    """Raises ConvrouteError for a negative return code; returns rc."""
    if rc < 0:
        if callable(detail):
            detail = detail()
        raise ConvrouteError(rc, detail)
    return rc
