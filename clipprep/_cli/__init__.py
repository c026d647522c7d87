"""The ``clipprep`` command: parsing and printing only; the work is done by the library.

One module per command group, each adding its commands to the group in ``app.py``:
``check.py``, ``prepare.py``, ``_stills.py``, ``submit.py``, ``_batch.py``, ``characters.py``,
``_models.py``, ``info.py`` (profiles, schema). ``common.py`` has the error handling and the
shared flags (``analysis_flags``: the fields of :class:`~clipprep._options.Options`),
``exits.py`` the exit codes, ``progress.py`` the progress bar. A new command goes into its
module, imported below.
"""

from __future__ import annotations

from . import batch, characters, check, info, models, prepare, stills, submit  # noqa: F401 - they register
from .app import main

__all__ = ["main"]
