"""The progress bar of ``check`` and ``prepare`` (``batch`` counts clips: see _batch.py)."""

from __future__ import annotations

import sys

from .common import console

# A check shows a progress bar for clips at least this long (shorter ones take a second or two).
CHECK_PROGRESS_MIN_S = 10.0


class ProgressBar:
    """A bar with percent and time left on an interactive stderr; nothing on a pipe or with -q.

    :meth:`follow` gives the callback a long task reports to (``done``, ``total``): seconds of
    clip analysed, or frames encoded. One task is shown at a time; it appears when a task of at
    least ``min_total`` reports, and is erased when it completes, when another task reports,
    and when the block ends.
    """

    def __init__(self, *, enabled: bool):
        self._enabled = enabled and sys.stderr.isatty()
        self._bar = self._task = self._owner = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc) -> None:
        self.hide()

    def follow(self, description: str, min_total: float = 0.0):
        """The callback for one task (None when no bar is shown: nothing to report to)."""
        if not self._enabled:
            return None

        def report(done: float, total: float) -> None:
            if total < min_total:
                return
            if self._owner is not report or done >= total:
                # Another task's bar makes room; a finished one goes: held at 100% it would look
                # stuck while the rest of the command runs (prepare checks the result).
                self.hide()
            if done >= total:
                return
            if self._task is None:
                self._task = self._start().add_task(description, total=total)
                self._owner = report
            self._bar.update(self._task, completed=done, total=total)

        return report

    def hide(self) -> None:
        """Erase the bar (before printing on the same terminal: the two would interleave)."""
        if self._bar is not None:
            self._bar.stop()
        self._bar = self._task = self._owner = None

    def _start(self):
        if self._bar is None:
            from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeRemainingColumn

            from .._console import plain_text_column

            self._bar = Progress(
                plain_text_column("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TimeRemainingColumn(),
                console=console(stderr=True),
                transient=True,
            )
            self._bar.start()
        return self._bar
