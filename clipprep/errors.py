"""One exception hierarchy, so callers can catch by intent.

``ClipprepError`` is the root; each subclass names *what kind of thing* went wrong, and every
instance carries a stable ``code`` (the same codes the JSON report uses) and a ``hint`` that says
what to do about it.
"""

from __future__ import annotations


class ClipprepError(Exception):
    """Base class of every error clipprep raises on purpose."""

    default_code = "error"

    def __init__(self, message: str, *, code: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.hint = hint

    def to_dict(self) -> dict:
        """The error as JSON-ready data (``code``, ``message``, ``hint``)."""
        return {"code": self.code, "message": self.message, "hint": self.hint}


class InputError(ClipprepError):
    """The input file cannot be analysed (missing, unreadable, not a video)."""

    default_code = "unreadable"


class ModelError(ClipprepError):
    """A model file is missing, corrupt, or could not be fetched."""

    default_code = "model_unavailable"


class UsageError(ClipprepError):
    """The caller asked for something that cannot be done (unknown profile, bad option)."""

    default_code = "usage"
