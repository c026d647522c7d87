"""clipprep: check a short clip, find its best 2–4 s character window, prepare and submit it.

The public API is re-exported here and imported lazily, so ``import clipprep`` (and the CLI's
``--help``) stays fast: PyAV and MediaPipe load only when a clip is actually analysed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from . import _startup
from ._version import __version__

_startup.install()  # only in the installed command: Ctrl-C while it is starting exits 130

# Every public name and the private module it lives in: the one list of the public API.
_EXPORTS = {
    # the main calls
    "check": "clipprep._pipeline",
    "Analyzer": "clipprep._pipeline",
    "prepare": "clipprep._export",
    "Prepared": "clipprep._export",
    "stills": "clipprep._stills",
    "Stills": "clipprep._stills",
    "submit": "clipprep._submission",
    "submit_many": "clipprep._submission",
    "SubmitResult": "clipprep._submission",
    "character_names": "clipprep._submission",
    "check_many": "clipprep._batch",
    "BatchResult": "clipprep._batch",
    "find_clips": "clipprep._batch",
    "connect_scheduler": "clipprep._batch",
    "DaskConnection": "clipprep._batch",
    "BatchWriter": "clipprep._batch_output",
    # settings and service rules
    "Options": "clipprep._options",
    "Profile": "clipprep._profiles",
    "PROFILES": "clipprep._profiles",
    "get_profile": "clipprep._profiles",
    "load_profile": "clipprep._profiles",
    "Quality": "clipprep._profiles",
    "Limits": "clipprep._profiles",
    "ImageRules": "clipprep._profiles",
    # results
    "Report": "clipprep._report",
    "Problem": "clipprep._verdict",
    "Window": "clipprep._windows",
    "probe": "clipprep._probe",
    "Probe": "clipprep._probe",
    "Verdict": "clipprep._vocab",
    "Severity": "clipprep._vocab",
    # errors (one tree: catch ClipprepError, or a kind)
    "ClipprepError": "clipprep._errors",
    "InputError": "clipprep._errors",
    "PrepareError": "clipprep._errors",
    "StillsError": "clipprep._errors",
    "ModelError": "clipprep._errors",
    "UsageError": "clipprep._errors",
    "ServiceError": "clipprep._errors",
    "AuthError": "clipprep._errors",
    "ServiceGone": "clipprep._errors",
    "OutcomeUnknown": "clipprep._errors",
    "StillPending": "clipprep._errors",
    "LedgerError": "clipprep._errors",
}

__all__ = [  # noqa: RUF022 - in _EXPORTS' order (tests/test_options.py checks they agree)
    "check",
    "Analyzer",
    "prepare",
    "Prepared",
    "stills",
    "Stills",
    "submit",
    "submit_many",
    "SubmitResult",
    "character_names",
    "check_many",
    "BatchResult",
    "find_clips",
    "connect_scheduler",
    "DaskConnection",
    "BatchWriter",
    "Options",
    "Profile",
    "PROFILES",
    "get_profile",
    "load_profile",
    "Quality",
    "Limits",
    "ImageRules",
    "Report",
    "Problem",
    "Window",
    "probe",
    "Probe",
    "Verdict",
    "Severity",
    "ClipprepError",
    "InputError",
    "PrepareError",
    "StillsError",
    "ModelError",
    "UsageError",
    "ServiceError",
    "AuthError",
    "ServiceGone",
    "OutcomeUnknown",
    "StillPending",
    "LedgerError",
    "__version__",
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from ._batch import BatchResult, DaskConnection, check_many, connect_scheduler, find_clips
    from ._batch_output import BatchWriter
    from ._errors import (
        AuthError,
        ClipprepError,
        InputError,
        LedgerError,
        ModelError,
        OutcomeUnknown,
        PrepareError,
        ServiceError,
        ServiceGone,
        StillPending,
        StillsError,
        UsageError,
    )
    from ._export import Prepared, prepare
    from ._options import Options
    from ._pipeline import Analyzer, check
    from ._probe import Probe, probe
    from ._profiles import PROFILES, ImageRules, Limits, Profile, Quality, get_profile, load_profile
    from ._report import Report
    from ._stills import Stills, stills
    from ._submission import SubmitResult, character_names, submit, submit_many
    from ._verdict import Problem
    from ._vocab import Severity, Verdict
    from ._windows import Window


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'clipprep' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
