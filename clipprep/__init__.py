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

# Imported now (it is light: its heavy imports wait for a call), not lazily like the rest:
# importing the submodule ``clipprep.stills`` sets the package's ``stills`` to the module, and
# done lazily that would hide the function for whoever imported the module first.
from .stills import Stills, stills  # noqa: E402

_EXPORTS = {
    "check": "clipprep.pipeline",
    "prepare": "clipprep.export",
    "submit": "clipprep.submission",
    "check_many": "clipprep.batch",
    "Options": "clipprep.options",
    "BatchWriter": "clipprep.batch_output",
    "Prepared": "clipprep.export",
    "Analyzer": "clipprep.pipeline",
    "Report": "clipprep.report",
    "Problem": "clipprep.verdict",
    "Window": "clipprep.windows",
    "Probe": "clipprep.probe",
    "probe": "clipprep.probe",
    "Profile": "clipprep.profiles",
    "PROFILES": "clipprep.profiles",
    "ClipprepError": "clipprep.errors",
    "InputError": "clipprep.errors",
    "ModelError": "clipprep.errors",
    "UsageError": "clipprep.errors",
}

__all__ = [  # noqa: RUF022 - grouped by role, as in _EXPORTS
    "check",
    "prepare",
    "submit",
    "check_many",
    "Options",
    "BatchWriter",
    "Prepared",
    "Analyzer",
    "Report",
    "Problem",
    "Window",
    "Probe",
    "probe",
    "Profile",
    "PROFILES",
    "ClipprepError",
    "InputError",
    "ModelError",
    "UsageError",
    "stills",
    "Stills",
    "__version__",
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .batch import check_many
    from .batch_output import BatchWriter
    from .errors import ClipprepError, InputError, ModelError, UsageError
    from .export import Prepared, prepare
    from .options import Options
    from .pipeline import Analyzer, check
    from .probe import Probe, probe
    from .profiles import PROFILES, Profile
    from .report import Report
    from .submission import submit
    from .verdict import Problem
    from .windows import Window


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'clipprep' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
