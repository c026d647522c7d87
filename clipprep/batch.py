"""Many clips: in parallel processes (or on a Dask cluster), cached, resumable.

Each worker process loads the face models once and checks clips one after another; results come
back as they finish. A result is cached under the clip's content hash and the analysis settings,
so a re-run (or the rest of an interrupted run) skips what is done. One bad file is one error
entry, never the end of the batch.

A result is the report's JSON (``Report.to_dict(include_frames=True)``) plus ``thumbnails``
(JPEG data URIs from the best window), or an error entry
``{"path", "verdict": "error", "error": {"code", "message", "hint"}}``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from . import __version__
from .errors import ClipprepError, InputError
from .files import sha256_file, write_text_atomic
from .frames import DEFAULT_ANALYSIS_LONG_SIDE, DEFAULT_SAMPLE_FPS
from .probe import checked_size
from .profiles import Profile, get_profile
from .report import SCHEMA_VERSION

VIDEO_SUFFIXES = {
    ".mp4",
    ".m4v",
    ".mov",
    ".mkv",
    ".webm",
    ".avi",
    ".mts",
    ".m2ts",
    ".ts",
    ".3gp",
    ".mpg",
    ".mpeg",
    ".wmv",
    ".flv",
    ".ogv",
}
THUMBNAILS = 4
_THUMB_HEIGHT = 120
ERROR = "error"


@dataclass(frozen=True)
class Settings:
    """What the analysis depends on: part of the cache key, sent to every worker."""

    profile: str | Profile = "sora2-characters"  # a name, or a Profile (custom limits, ...)
    sample_fps: float = DEFAULT_SAMPLE_FPS
    analysis_long_side: int = DEFAULT_ANALYSIS_LONG_SIDE
    model_dir: str | None = None
    prepare_dir: str | None = None  # also write prepared clips here (fixable and ready ones)

    def cache_key(self, content_sha256: str) -> str:
        """Content hash + everything that changes a result (profile rules included)."""
        rules = json.dumps(get_profile(self.profile).to_dict(), sort_keys=True)
        material = "|".join(
            [
                content_sha256,
                rules,
                str(self.sample_fps),
                str(self.analysis_long_side),
                str(SCHEMA_VERSION),
                __version__,
                str(bool(self.prepare_dir)),
            ]
        )
        return hashlib.sha256(material.encode()).hexdigest()


@dataclass
class BatchResult:
    """One clip's outcome."""

    path: str
    data: dict  # the report JSON plus thumbnails, or an error entry
    cached: bool = False

    @property
    def verdict(self) -> str:
        """``ready`` / ``fixable`` / ``rejected`` / ``unreadable`` / ``error``."""
        return self.data["verdict"]


def find_clips(inputs: Iterable[str | os.PathLike], *, recursive: bool = False) -> list[Path]:
    """Files named directly, plus the video files in named folders (sorted, no duplicates).

    Symbolic links to folders are not followed (a link loop cannot trap the walk); files that
    cannot be listed are skipped; a named path that does not exist is kept, to be reported.
    """
    found: dict[str, Path] = {}
    for item in map(Path, inputs):
        if not item.is_dir():
            found.setdefault(str(item), item)
            continue
        for folder, subfolders, files in os.walk(item, followlinks=False, onerror=lambda e: None):
            subfolders[:] = (
                sorted(d for d in subfolders if not d.startswith(".")) if recursive else []
            )
            for name in sorted(files):
                path = Path(folder) / name
                if path.suffix.lower() in VIDEO_SUFFIXES and not name.startswith("."):
                    found.setdefault(str(path), path)
    return list(found.values())


def default_cache_dir() -> Path:
    """Where batch results are cached (the user cache folder)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("clipprep")) / "results"


class ResultCache:
    """One JSON file per (content, settings) key, written atomically."""

    def __init__(self, folder: str | os.PathLike | None = None):
        self.folder = Path(folder) if folder is not None else default_cache_dir()

    def get(self, key: str) -> dict | None:
        """The cached result, or None (a damaged cache file counts as absent)."""
        try:
            return json.loads((self.folder / f"{key}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def put(self, key: str, data: dict) -> None:
        """Store a result (temporary file, then rename: never half a file)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.folder / f"{key}.json", json.dumps(data))


# --- inside a worker -------------------------------------------------------------------------

_worker_analyzer = None
_worker_settings: Settings | None = None


def _init_worker(settings: Settings) -> None:
    """Load the models once per worker process."""
    global _worker_analyzer, _worker_settings
    from .pipeline import Analyzer

    _worker_settings = settings
    _worker_analyzer = Analyzer(
        profile=settings.profile,
        sample_fps=settings.sample_fps,
        analysis_long_side=settings.analysis_long_side,
        model_dir=settings.model_dir,
    )


def check_one(path: str, cache_folder: str | None, force: bool) -> tuple[dict, bool]:
    """Check one clip in this worker: (result data, came from the cache). Never raises for a
    bad clip: every failure becomes an error entry."""
    settings = _worker_settings or Settings()
    if _worker_analyzer is None:
        _init_worker(settings)
    cache = ResultCache(cache_folder)
    try:
        checked_size(Path(path))  # before reading: a FIFO would block the hash forever
    except InputError:
        # The analyzer's report says why (missing, empty, a FIFO...) without opening the file.
        return _worker_analyzer.check(path).to_dict(include_frames=True), False
    try:
        key = settings.cache_key(sha256_file(path))
    except OSError as exc:
        return _error_entry(path, "unreadable", f"cannot read the file: {exc.strerror}"), False
    if not force:
        cached = cache.get(key)
        if cached is not None:
            return {**cached, "path": path}, True
    try:
        data = _analyse(path, settings)
    except ClipprepError as exc:
        return _error_entry(path, exc.code, exc.message, exc.hint), False
    except Exception as exc:  # a bug must not end the batch; it is reported with the file
        return _error_entry(path, "internal_error", f"{type(exc).__name__}: {exc}"), False
    cache.put(key, data)
    return data, False


def _analyse(path: str, settings: Settings) -> dict:
    report = _worker_analyzer.check(path)
    data = report.to_dict(include_frames=True)
    if report.probe is not None and report.probe.video is not None:
        window = report.best_window
        span = (window.start_s, window.end_s) if window else (0.0, report.probe.duration_s)
        data["thumbnails"] = thumbnails(path, *span)
        if settings.prepare_dir and report.verdict in ("fixable", "ready"):
            data["prepared"] = _prepare_into(path, settings.prepare_dir)
    return data


def _prepare_into(path: str, folder: str) -> dict:
    from .export import prepare

    target = Path(folder) / f"{Path(path).stem}.mp4"
    try:
        result = prepare(path, target, force=True, analyzer=_worker_analyzer)
    except ClipprepError as exc:
        return {"output": None, "verdict": ERROR, "error": exc.to_dict()}
    return {"output": result.output, "verdict": result.verdict}


def _error_entry(path: str, code: str, message: str, hint: str | None = None) -> dict:
    return {
        "path": path,
        "verdict": ERROR,
        "error": {"code": code, "message": message, "hint": hint},
    }


def thumbnails(path: str, start: float, end: float, count: int = THUMBNAILS) -> list[str]:
    """``count`` small JPEG data URIs spread over [start, end] of the clip (upright)."""
    import av
    import cv2
    import numpy as np

    from . import tonemap

    wanted = [start + (end - start) * (i + 0.5) / count for i in range(count)]
    images = []
    with av.open(path) as container:
        stream = container.streams.video[0]
        # A thumbnail may be a frame late: unreferenced frames are not decoded (0.9 -> 0.8 s
        # for the benchmark's 20 clips).
        stream.codec_context.skip_frame = "NONREF"
        origin = None
        for frame in container.decode(stream):  # one pass: short clips, cheap at 4 frames
            if frame.time is None:
                continue
            origin = frame.time if origin is None else origin
            if wanted and frame.time - origin >= wanted[0]:
                wanted.pop(0)
                height = _THUMB_HEIGHT
                width = max(2, round(frame.width * height / frame.height))
                if tonemap.hdr_of(frame):  # as the analysis saw it, not flat and grey
                    rgb = tonemap.sdr_rgb(frame, width, height)
                else:
                    rgb = frame.reformat(width=width, height=height, format="rgb24").to_ndarray()
                rgb = np.rot90(rgb, k=round((frame.rotation or 0) / 90) % 4)
                ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
                if ok:
                    images.append("data:image/jpeg;base64," + base64.b64encode(jpeg).decode())
            if not wanted:
                break
    return images


# --- the driver ------------------------------------------------------------------------------


def check_many(
    paths: Iterable[str | os.PathLike],
    *,
    workers: int | None = None,
    settings: Settings | None = None,
    cache_folder: str | os.PathLike | None = None,
    force: bool = False,
    scheduler: str | None = None,
) -> Iterator[BatchResult]:
    """Check many clips in parallel; yield each result as it finishes.

    ``workers``: processes (default: one per core). ``scheduler``: a Dask distributed address
    (``tcp://host:port``) to run on a cluster instead (needs ``clipprep[dask]``). Interrupting
    the iteration (Ctrl-C) stops the workers; finished results stay cached.
    """
    settings = settings or Settings()
    names = [os.fspath(p) for p in paths]
    folder = os.fspath(cache_folder) if cache_folder is not None else None
    if scheduler:
        yield from _on_dask(names, settings, folder, force, scheduler)
        return
    workers = max(1, min(workers or os.cpu_count() or 1, len(names) or 1))
    limit = get_profile(settings.profile).limits.max_seconds
    # The analysis stops itself at the limit; the kill is for code stuck where it cannot check.
    pool = _WorkerPool(workers, settings, folder, force, hard_limit_s=limit * 1.2 + 15)
    try:
        yield from pool.run(names)
    finally:
        pool.close()


class _WorkerPool:
    """Spawned worker processes, one clip at a time each, over a pipe per worker.

    Unlike a ``ProcessPoolExecutor``, one clip can be stopped: a worker that overruns the hard
    time limit is killed and replaced, and a worker that dies (a crash in native code) costs only
    the clip it was on. Workers ignore Ctrl-C; the parent stops them.
    """

    def __init__(self, size: int, settings: Settings, cache_folder, force: bool, hard_limit_s):
        import multiprocessing

        # spawn: MediaPipe's threads do not survive a fork.
        self._context = multiprocessing.get_context("spawn")
        self._args = (settings, cache_folder, force)
        self._hard_limit_s = hard_limit_s
        self._workers = [self._start() for _ in range(size)]

    def _start(self) -> dict:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_worker_main, args=(child, *self._args), daemon=True)
        process.start()
        child.close()
        return {"process": process, "pipe": parent, "path": None, "since": 0.0, "ready": False}

    def run(self, names: list[str]) -> Iterator[BatchResult]:
        """Yield each clip's result as it finishes."""
        from multiprocessing.connection import wait as wait_for

        queue = list(reversed(names))
        busy = 0
        while queue or busy:
            for worker in self._workers:
                if worker["ready"] and worker["path"] is None and queue:
                    worker["path"], worker["since"] = queue.pop(), time.monotonic()
                    worker["pipe"].send(worker["path"])
                    busy += 1
            pipes = {id(w["pipe"]): w for w in self._workers}
            for pipe in wait_for([w["pipe"] for w in self._workers], timeout=0.5):
                worker = pipes[id(pipe)]
                result = self._receive(worker)
                if result is not None:
                    busy -= 1
                    yield result
            for worker in self._workers:
                if worker["path"] and time.monotonic() - worker["since"] > self._hard_limit_s:
                    busy -= 1
                    yield self._replace(
                        worker, "time_limit", f"stopped after {self._hard_limit_s:.0f} s"
                    )

    def _receive(self, worker: dict) -> BatchResult | None:
        try:
            message = worker["pipe"].recv()
        except (EOFError, OSError):  # the worker died
            if worker["path"] is None:
                raise ClipprepError(
                    "a batch worker died before taking a clip", code="worker_crashed"
                ) from None
            died = f"the worker died (exit code {worker['process'].exitcode})"
            return self._replace(worker, "worker_crashed", died)
        if message == "ready":
            worker["ready"] = True
            return None
        if isinstance(message, ClipprepError):  # the worker could not start (no models, ...)
            raise message
        path, worker["path"] = worker["path"], None
        data, cached = message
        return BatchResult(path, data, cached)

    def _replace(self, worker: dict, code: str, message: str) -> BatchResult:
        path = worker["path"]
        worker["process"].kill()
        worker["process"].join()
        worker["pipe"].close()
        worker.update(self._start())
        return BatchResult(path, _error_entry(path, code, message, "the file is skipped"))

    def close(self) -> None:
        """Stop every worker (normal end, error or Ctrl-C)."""
        for worker in self._workers:
            if worker["process"].is_alive():
                worker["process"].kill()
            worker["process"].join()
            worker["pipe"].close()


def _worker_main(pipe, settings: Settings, cache_folder, force: bool) -> None:
    """A worker: load the models, say ready, then check each path it is sent."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    try:
        _init_worker(settings)
    except ClipprepError as exc:
        pipe.send(exc)
        return
    pipe.send("ready")
    while True:
        try:
            path = pipe.recv()
        except (EOFError, OSError):
            return
        pipe.send(check_one(path, cache_folder, force))


def _collect(path: str, future) -> BatchResult:
    try:
        data, cached = future.result()
    except Exception as exc:  # the worker died (a crash in native code, killed, ...)
        entry = _error_entry(path, "worker_crashed", f"{type(exc).__name__}: {exc}")
        return BatchResult(path, entry)
    return BatchResult(path, data, cached)


def _on_dask(names, settings, folder, force, scheduler) -> Iterator[BatchResult]:
    try:
        from distributed import Client, as_completed
    except ImportError:
        from .errors import UsageError

        raise UsageError("--scheduler needs Dask", hint='pip install "clipprep[dask]"') from None
    with Client(scheduler) as client:
        futures = {
            client.submit(_dask_task, name, settings, folder, force, pure=False): name
            for name in names
        }
        for future in as_completed(futures):
            yield _collect(futures[future], future)


def _dask_task(path: str, settings: Settings, folder, force: bool) -> tuple[dict, bool]:
    """A Dask task: the worker keeps one analyzer per settings, like a pool initializer."""
    if _worker_settings != settings:
        _init_worker(settings)
    return check_one(path, folder, force)


def summary_row(result: BatchResult) -> dict:
    """One CSV row: path, verdict, window, error codes, the main numbers."""
    data = result.data
    window = data.get("best_window") or {}
    probe = data.get("probe") or {}
    video = probe.get("video") or {}
    problems = data.get("problems") or []
    return {
        "path": result.path,
        "verdict": data["verdict"],
        "window_start": window.get("start"),
        "window_end": window.get("end"),
        "window_score": window.get("score"),
        "judged_by": (data.get("analysis") or {}).get("target"),
        "errors": " ".join(p["code"] for p in problems if p["severity"] == "error")
        or (data.get("error") or {}).get("code", ""),
        "warnings": " ".join(p["code"] for p in problems if p["severity"] == "warning"),
        "duration_s": probe.get("duration_s"),
        "width": video.get("width"),
        "height": video.get("height"),
        "cached": result.cached,
    }
