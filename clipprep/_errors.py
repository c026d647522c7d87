"""One exception hierarchy, so callers can catch by intent.

``ClipprepError`` is the root; each subclass names *what kind of thing* went wrong, and every
instance carries a stable ``code`` (the same codes the JSON report uses) and a ``hint`` that says
what to do about it. Every error class clipprep raises is defined here.
"""

from __future__ import annotations


class ClipprepError(Exception):
    """Base class of every error clipprep raises on purpose."""

    default_code = "error"
    default_hint: str | None = None  # the hint when the raiser gives none

    def __init__(self, message: str, *, code: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.hint = hint if hint is not None else self.default_hint

    def to_dict(self) -> dict:
        """The error as JSON-ready data (``code``, ``message``, ``hint``)."""
        return {"code": self.code, "message": self.message, "hint": self.hint}


class InputError(ClipprepError):
    """The input file cannot be analysed (missing, unreadable, not a video)."""

    default_code = "unreadable"


class PrepareError(ClipprepError):
    """The clip cannot be made ready by cutting, cropping, scaling or transcoding."""

    default_code = "cannot_prepare"


class StillsError(ClipprepError):
    """The clip holds no frame good enough for a reference image (or none big enough)."""

    default_code = "no_stills"


class ModelError(ClipprepError):
    """A model file is missing, corrupt, or could not be fetched."""

    default_code = "model_unavailable"


class UsageError(ClipprepError):
    """The caller asked for something that cannot be done (unknown profile, bad option)."""

    default_code = "usage"


class ClusterError(UsageError):
    """The Dask cluster cannot run the batch: not reachable, no workers, lost mid-batch, another
    clipprep version. Exit code 2 like a usage error: no clip is to blame."""

    default_code = "cluster_unavailable"


class PreflightError(ClipprepError):
    """The clip should not be uploaded (it would make a bad character, or be refused)."""

    default_code = "preflight_rejected"


class ServiceError(ClipprepError):
    """A characters service refused, failed, or could not be reached."""

    default_code = "service_error"


class AuthError(ServiceError):
    """The API key was missing or rejected (401/403)."""

    default_code = "auth_failed"


class ServiceGone(ServiceError):
    """The service answers that the characters route does not exist (404/410)."""

    default_code = "service_gone"


class OutcomeUnknown(ServiceError):
    """A create request was sent but its answer was lost: it may or may not have been acted on.
    It is never re-sent automatically (that could pay for a character twice)."""

    default_code = "outcome_unknown"
    default_hint = "check your account before retrying; `--force` creates anew"


class StillPending(ServiceError):
    """The character is still being made (by the service, or by another process's submission)
    when the wait ends; nothing is lost: running the same command again goes on waiting."""

    default_code = "still_pending"


class LedgerError(ClipprepError):
    """The submissions ledger cannot be read or written (damaged, read-only, disk full, from a
    newer clipprep). The message says which file; the hint what to do."""

    default_code = "ledger_error"
