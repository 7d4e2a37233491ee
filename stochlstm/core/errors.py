"""The error of one bad value, named by the key or array it was given as."""

from __future__ import annotations

__all__ = ["FieldError"]


class FieldError(ValueError):
    """A bad value of one field: ``field`` is the key or array as the user
    wrote it (``W_f``, ``columns``, ``temperature``), ``detail`` what is wrong;
    ``str(error)`` is one line, ``"<field>: <detail>"``."""

    def __init__(self, field: str, detail: str):
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail

    def __reduce__(self):  # keep field and detail across processes
        return type(self), (self.field, self.detail)
