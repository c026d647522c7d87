"""The command's exit codes: one per verdict, one per kind of error (the worst clip decides when
several are checked).

====  =====================================================
0     ready: upload as is
3     fixable: ``clipprep prepare`` can make it ready
4     rejected: needs a new recording (or another name; or prepare found nothing to keep)
5     unreadable: not a readable video file
6     the face models are missing and could not be fetched
7     submit: the service refused or failed (bad key, retired route, failed prediction...)
8     submit: the outcome needs attention (create answer lost, or still processing)
2     usage error (bad option or argument)
1     unexpected internal error (a bug: rerun with --debug)
130   interrupted (Ctrl-C)
====  =====================================================
"""

from __future__ import annotations

from .._errors import (
    ClipprepError,
    InputError,
    LedgerError,
    ModelError,
    OutcomeUnknown,
    PreflightError,
    PrepareError,
    ServiceError,
    StillPending,
    StillsError,
    UsageError,
)
from .._vocab import Verdict

EXIT_READY, EXIT_INTERNAL, EXIT_USAGE = 0, 1, 2
EXIT_FIXABLE, EXIT_REJECTED, EXIT_UNREADABLE, EXIT_MODELS = 3, 4, 5, 6
EXIT_SERVICE, EXIT_ATTENTION = 7, 8
EXIT_INTERRUPTED = 130
VERDICT_EXIT = {
    Verdict.READY: EXIT_READY,
    Verdict.FIXABLE: EXIT_FIXABLE,
    Verdict.REJECTED: EXIT_REJECTED,
    Verdict.UNREADABLE: EXIT_UNREADABLE,
}
# The exit code of each kind of error; an error takes its nearest class's (see exit_code_for).
EXIT_CODES: dict[type[ClipprepError], int] = {
    ModelError: EXIT_MODELS,
    UsageError: EXIT_USAGE,  # ClusterError too: no clip is to blame
    OutcomeUnknown: EXIT_ATTENTION,
    StillPending: EXIT_ATTENTION,
    ServiceError: EXIT_SERVICE,
    PrepareError: EXIT_REJECTED,  # it needs a new recording
    PreflightError: EXIT_REJECTED,
    StillsError: EXIT_REJECTED,  # no frame is good enough: it needs a new recording
    InputError: EXIT_UNREADABLE,
    LedgerError: EXIT_UNREADABLE,
    ClipprepError: EXIT_UNREADABLE,
}


def exit_code_for(exc: ClipprepError) -> int:
    """The code of the most specific class of ``exc`` in :data:`EXIT_CODES`."""
    return next(EXIT_CODES[kind] for kind in type(exc).__mro__ if kind in EXIT_CODES)


def verdict_exit(verdict: str) -> int:
    """A clip's exit code by its verdict (a batch's ``error`` entries count as unreadable)."""
    return VERDICT_EXIT.get(verdict, EXIT_UNREADABLE)
