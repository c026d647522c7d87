"""The one door to media files for reading: opening a clip, its video stream, its rotation.

probe, frames and export (and batch's thumbnails) read clips only through here, so the open
options (lenient metadata, the decoder's pixel limit), decoder threading, the error a user sees
for an unreadable file and the turn to upright are decided once. Writing (export's output,
synth's test footage) opens its own files.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ._errors import InputError

# ``threads=AUTO``: frame and slice threading with FFmpeg's own thread count (by core count).
AUTO = 0


def open_clip(path: str | os.PathLike, *, max_pixels: int | None = None):
    """Open a clip for reading (an ``av`` container, to be closed by the caller: ``with``).

    ``max_pixels`` is the decoder's own limit: opening decodes a few frames already (FFmpeg's
    find_stream_info), and a huge frame is refused there too. Raises :class:`InputError` when
    the file cannot be opened as media.
    """
    import av  # heavy: imported only when a file is actually opened

    path = Path(path)
    try:
        return _open(path, max_pixels)
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(
            f"{path.name}: not a readable media file ({reason(exc)})",
            hint="check that the file is a complete video (MP4, MOV, WebM, ...)",
        ) from None


def _open(path: Path, max_pixels: int | None):
    import av

    # Opening already decodes a few frames (FFmpeg's find_stream_info, to learn H.264's decode
    # delay): the decoder's own max_pixels option stops that for a huge frame too.
    options = {"max_pixels": str(max_pixels)} if max_pixels else {}
    container = av.open(str(path), metadata_errors="ignore", options=options)
    video = container.streams.video[0] if container.streams.video else None
    context = video.codec_context if video is not None else None
    if options and context is not None and not (context.width and context.height):
        # A decoder that refused the frame can forget the size the container's header gave
        # (MJPEG in Matroska): open again without the option to read it (no decoding then).
        container.close()
        container = av.open(str(path), metadata_errors="ignore")
    return container


def video_stream(container, *, threads: int | None = None):
    """The clip's first video stream, or None when it has none.

    ``threads``: decode with frame and slice threading on that many threads (:data:`AUTO`:
    FFmpeg's count); None keeps FFmpeg's single-threaded default (probing decodes one frame).
    """
    if not container.streams.video:
        return None
    stream = container.streams.video[0]
    if threads is not None:
        stream.thread_type = "AUTO"
        if threads != AUTO:
            stream.codec_context.thread_count = threads
    return stream


def quarter_turns(frame) -> int:
    """How many quarter turns counter-clockwise stand a decoded frame upright (0-3).

    PyAV's rotation is FFmpeg's: degrees the player turns the picture counter-clockwise, which
    is exactly what np.rot90 does for k = rotation / 90.
    """
    return round((frame.rotation or 0) / 90) % 4


def upright(pixels: np.ndarray, frame) -> np.ndarray:
    """``pixels`` (a picture of ``frame`` in stored orientation) turned upright; a view, not a
    copy (the same array when the frame is not turned)."""
    turns = quarter_turns(frame)
    return np.rot90(pixels, k=turns) if turns else pixels


def reason(exc: BaseException) -> str:
    """The short reason of a decoding or file error, for messages."""
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
