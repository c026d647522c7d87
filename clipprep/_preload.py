"""What every batch worker imports, imported once in the fork server that starts them.

A spawned worker spent 0.4-0.9 s CPU importing NumPy, OpenCV, PyAV, MediaPipe and the pipeline
before its first clip; forked from a server that has imported them, it starts with them loaded.
Only imports happen here: the face models are loaded in each worker after the fork (MediaPipe's
threads do not survive one). Imported nowhere else: it makes its process ignore Ctrl-C.
"""

from __future__ import annotations

import signal

# The parent handles Ctrl-C and stops the workers; a Ctrl-C in the terminal reaches this
# process too, and inside these imports it would print a traceback. The workers forked from
# here inherit this (they ignore Ctrl-C anyway).
signal.signal(signal.SIGINT, signal.SIG_IGN)

import av  # noqa: E402, F401
import cv2  # noqa: E402, F401

from . import _batch, _pipeline  # noqa: E402, F401
from ._faces import _mediapipe  # noqa: E402

_mediapipe()  # without its drawing helpers (matplotlib), as a worker would import it
from mediapipe.tasks.python import vision  # noqa: E402, F401
