"""Ctrl-C while the installed ``clipprep`` command is still starting.

Importing the command's modules takes a second or more on a busy machine; a Ctrl-C then would
print a ``KeyboardInterrupt`` traceback from deep inside an import. Nothing has been opened or
written yet, so the command exits 130 with one line instead. :func:`release` hands Ctrl-C back
to Python (``KeyboardInterrupt``) before any work starts, so cleanup runs as usual from then on.
"""

from __future__ import annotations

import os
import signal
import sys

_EXIT_INTERRUPTED = 130
_COMMAND_NAMES = ("clipprep", "clipprep.exe")


def _exit_quietly(signum, frame) -> None:
    os.write(2, b"interrupted\n")
    os._exit(_EXIT_INTERRUPTED)


def install() -> None:
    """Exit quietly on Ctrl-C, when this process is the installed command (not a library user,
    not a test runner) and Ctrl-C still has Python's default meaning."""
    if not sys.argv or os.path.basename(sys.argv[0]) not in _COMMAND_NAMES:
        return
    try:
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, _exit_quietly)
    except ValueError:  # not the main thread: leave signals alone
        pass


def release() -> None:
    """Ctrl-C raises ``KeyboardInterrupt`` again (the command is about to start working), and
    a Ctrl-C that lands where Python cannot raise it is not lost (see :func:`_redeliver`)."""
    try:
        if signal.getsignal(signal.SIGINT) is _exit_quietly:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            sys.unraisablehook = _redeliver
    except ValueError:
        pass


def _redeliver(unraisable) -> None:
    """A ``KeyboardInterrupt`` raised inside a weakref callback or a ``__del__`` (the import
    system's module-lock callback is one) cannot propagate: Python prints "Exception ignored"
    and carries on, and the command ran to its end after the user pressed Ctrl-C. Deliver it
    again from another thread, so the main thread gets it once it is out of the callback (raised
    here it would be swallowed the same way); anything else as Python would."""
    if issubclass(unraisable.exc_type, KeyboardInterrupt):
        import _thread

        # Not threading.Thread: its start() waits for the thread, and the wait is where the
        # main thread would take the interrupt, still inside this hook.
        _thread.start_new_thread(_thread.interrupt_main, ())
        return
    sys.__unraisablehook__(unraisable)


def quiet_destructors() -> None:
    """After Ctrl-C the command only cleans up and exits: an object the interrupt caught half
    built (MediaPipe's ``Image`` is one: ``__init__`` stopped before its pointer was set) fails
    in its ``__del__`` when collected, and Python would print that as "Exception ignored in"
    with a traceback. Nothing is lost by not printing it; the exit code says what happened."""
    sys.unraisablehook = lambda unraisable: None
