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

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ._errors import ClipprepError, ClusterError, InputError, UsageError
from ._files import sha256_file, write_text_atomic
from ._options import Options
from ._probe import checked_size
from ._report import SCHEMA_VERSION
from ._version import __version__
from ._vocab import Verdict

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
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    """What a batch's workers are sent: the analysis options and where prepared clips go.
    Both are part of the cache key."""

    options: Options = field(default_factory=Options)
    prepare_dir: str | None = None  # also write prepared clips here (fixable and ready ones)
    stills_dir: str | None = None  # also write reference stills here (one sub-folder a clip)

    def cache_key(self, content_sha256: str) -> str:
        """Content hash + everything that changes a result (profile rules included)."""
        options = self.options
        rules = json.dumps(options.rules().to_dict(), sort_keys=True)
        material = [
            content_sha256,
            rules,
            str(options.sample_fps),
            str(options.analysis_size),
            str(SCHEMA_VERSION),
            __version__,
            str(bool(self.prepare_dir)),
        ]
        # Added only when set: the keys of results without them stay as they were.
        if options.thorough:
            material.append("thorough")
        if self.stills_dir:
            material.append("stills")
        return hashlib.sha256("|".join(material).encode()).hexdigest()


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


class _ThreadState(threading.local):
    """The analyzer and its settings, one pair per thread. A Dask worker runs tasks on several
    threads at once, and the face models (MediaPipe tasks, OpenCV dnn nets) must not be shared
    between threads: a shared net fails OpenCV's ``forwardGraph`` assertions. A pool worker
    process has just one thread, so it loads the models once either way."""

    analyzer = None
    settings: Settings | None = None


_state = _ThreadState()


def _init_worker(settings: Settings) -> None:
    """Load the models once per worker process (once per thread on a Dask worker)."""
    from ._pipeline import Analyzer

    if _state.analyzer is not None:  # other settings: the old models are not needed any more
        _state.analyzer.close()
    _state.settings = settings
    _state.analyzer = Analyzer(
        settings.options,
        thumbnails=THUMBNAILS,  # from the analysed frames: no second decode for the page
    )


def check_one(path: str, cache_folder: str | None, force: bool) -> tuple[dict, bool]:
    """Check one clip in this worker: (result data, came from the cache). Never raises for a
    bad clip: every failure becomes an error entry."""
    settings = _state.settings or Settings()
    if _state.analyzer is None:
        _init_worker(settings)
    cache = ResultCache(cache_folder)
    try:
        checked_size(Path(path))  # before reading: a FIFO would block the hash forever
    except InputError:
        # The analyzer's report says why (missing, empty, a FIFO...) without opening the file.
        return _state.analyzer.check(path).to_dict(include_frames=True), False
    try:
        key = settings.cache_key(sha256_file(path))
    except OSError as exc:
        return _error_entry(path, "unreadable", f"cannot read the file: {exc.strerror}"), False
    if not force:
        cached = cache.get(key)
        if cached is not None:
            data = {**cached, "path": path}
            if _needs_preparing(data, path, settings.prepare_dir):
                # The same content under another path, or another --prepare folder: the
                # analysis is reused, the prepared file is written where this run wants it.
                data["prepared"] = _prepare_into(path, settings.prepare_dir)
                cache.put(key, data)
            return data, True
    try:
        data = _analyse(path, settings)
    except ClipprepError as exc:
        return _error_entry(path, exc.code, exc.message, exc.hint), False
    except Exception as exc:  # a bug must not end the batch; it is reported with the file
        return _error_entry(path, "internal_error", f"{type(exc).__name__}: {exc}"), False
    cache.put(key, data)
    return data, False


def _analyse(path: str, settings: Settings) -> dict:
    report = _state.analyzer.check(path)
    data = report_entry(report)
    if (
        settings.prepare_dir
        and "thumbnails" in data
        and report.verdict in (Verdict.FIXABLE, Verdict.READY)
    ):
        data["prepared"] = _prepare_into(path, settings.prepare_dir)
    if settings.stills_dir and "thumbnails" in data:
        data["stills"] = stills_into(path, settings.stills_dir, report)
    return data


def stills_into(path: str, folder: str, report) -> dict:
    """``batch --stills``: the clip's reference stills in their own sub-folder of ``folder``
    (named as ``--prepare`` names its clips); the manifest, or an error entry."""
    from ._stills import stills

    target = prepared_target(path, folder).with_suffix("")
    try:
        target.mkdir(parents=True, exist_ok=True)
        return stills(path, target, force=True, analyzer=_state.analyzer, report=report).to_dict()
    except ClipprepError as exc:
        return {"images": [], "verdict": Verdict.ERROR, "error": exc.to_dict()}


def report_entry(report) -> dict:
    """A report as a batch result keeps it (and the HTML page shows it): its JSON with every
    frame, plus thumbnails of the best window when the file has a picture."""
    data = report.to_dict(include_frames=True)
    if report.probe is not None and report.probe.video is not None:
        window = report.best_window
        span = (window.start_s, window.end_s) if window else (0.0, report.probe.duration_s)
        # An Analyzer made with ``thumbnails=`` kept them; others' reports decode the clip again.
        data["thumbnails"] = report.thumbnails or thumbnails(report.path, *span)
    return data


def prepared_target(path: str, folder: str) -> Path:
    """Where ``batch --prepare`` writes a clip: its stem and a short hash of its absolute path,
    so ``a/clip.mp4``, ``b/clip.mp4`` and ``b/clip.mov`` never share (and overwrite) a file."""
    source = Path(path).absolute()
    tag = hashlib.sha256(os.fsencode(source)).hexdigest()[:8]
    return Path(folder) / f"{source.stem}-{tag}.mp4"


def _needs_preparing(data: dict, path: str, folder: str | None) -> bool:
    if not folder or data.get("verdict") not in (Verdict.FIXABLE, Verdict.READY):
        return False
    output = (data.get("prepared") or {}).get("output")
    target = prepared_target(path, folder)
    return output != str(target) or not target.is_file()


def _prepare_into(path: str, folder: str) -> dict:
    from ._export import prepare

    target = prepared_target(path, folder)
    try:
        result = prepare(path, target, force=True, analyzer=_state.analyzer)
    except ClipprepError as exc:
        return {"output": None, "verdict": Verdict.ERROR, "error": exc.to_dict()}
    return {"output": result.output, "verdict": result.verdict}


def _error_entry(path: str, code: str, message: str, hint: str | None = None) -> dict:
    return {
        "path": path,
        "verdict": Verdict.ERROR,
        "error": {"code": code, "message": message, "hint": hint},
    }


def thumbnails(path: str, start: float, end: float, count: int = THUMBNAILS) -> list[str]:
    """``count`` small JPEG data URIs spread over [start, end] of the clip (upright)."""
    from . import _media as media
    from . import _tonemap as tonemap
    from ._pipeline import jpeg_uri

    wanted = [start + (end - start) * (i + 0.5) / count for i in range(count)]
    images = []
    with media.open_clip(path) as container:
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
                uri = jpeg_uri(media.upright(rgb, frame))
                if uri:
                    images.append(uri)
            if not wanted:
                break
    return images


# --- the driver ------------------------------------------------------------------------------


def check_many(
    paths: Iterable[str | os.PathLike],
    *,
    workers: int | None = None,
    options: Options | None = None,
    prepare_dir: str | os.PathLike | None = None,
    stills_dir: str | os.PathLike | None = None,
    cache_folder: str | os.PathLike | None = None,
    force: bool = False,
    scheduler=None,
    worker_wait_s: float | None = None,
    notify=None,
) -> Iterator[BatchResult]:
    """Check many clips in parallel; yield each result as it finishes.

    ``options`` (:class:`~clipprep._options.Options`) say how each clip is analysed;
    ``prepare_dir``: also write the upload-ready clip of each fixable or ready one there;
    ``stills_dir``: each clip's reference stills (:func:`clipprep.stills`), a sub-folder a clip.
    ``workers``: processes (default: one per core). ``scheduler``: run on a Dask cluster
    instead (needs ``clipprep[dask]``): its address (``tcp://host:port``), a ``Cluster``, a
    ``distributed.Client`` or a :class:`DaskConnection` (those two are left open). ``workers``
    is then refused (the cluster's workers do the work); ``worker_wait_s`` bounds the wait when
    the cluster has no workers; ``notify(text)`` hears the dashboard link and the waits. A clip
    past its hard time limit is given up, locally or on a cluster. Interrupting the iteration
    (Ctrl-C) stops the workers; finished results stay cached.
    """
    _refuse_in_bootstrapping_worker()
    settings = Settings(
        options or Options(),
        os.fspath(prepare_dir) if prepare_dir is not None else None,
        os.fspath(stills_dir) if stills_dir is not None else None,
    )
    names = [os.fspath(p) for p in paths]
    folder = os.fspath(cache_folder) if cache_folder is not None else None
    if scheduler is not None:
        _refuse_local_workers(workers)
        yield from _on_dask(names, settings, folder, force, scheduler, worker_wait_s, notify)
        return
    workers = max(1, min(workers or os.cpu_count() or 1, len(names) or 1))
    context = _worker_context()  # a fork server starts importing for the workers meanwhile
    names = _longest_first(names)
    pool = _WorkerPool(
        workers, settings, folder, force, hard_limit_s=_hard_limit_s(settings), context=context
    )
    try:
        yield from pool.run(names)
    finally:
        pool.close()


def _worker_context():
    """Where worker processes come from: a fork server that has imported what a check needs
    (clipprep._preload), started now so it imports while the clips are ordered; spawned
    processes (each importing it all) where there is no fork server (Windows)."""
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    from multiprocessing import forkserver

    context = multiprocessing.get_context("forkserver")
    # Not "__main__": a fork server importing the user's script would run an unguarded
    # check_many there; each worker still imports it (and is refused) like a spawned one.
    context.set_forkserver_preload(["clipprep._preload"])
    with _children_ignore_ctrl_c():
        forkserver.ensure_running()
    return context


@contextlib.contextmanager
def _children_ignore_ctrl_c():
    """Processes started in the block never see Ctrl-C: a terminal's Ctrl-C reaches the fork
    server too, and during its interpreter's start-up it printed a traceback. SIGINT is blocked
    in this thread meanwhile, and a blocked signal stays blocked across fork and exec; here it
    is only held back (delivered when the block ends, or now to another thread), never lost."""
    import signal

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _longest_first(names: list[str]) -> list[str]:
    """The largest files first, so no long clip starts last while the other workers idle. The
    size stands for duration x pixels without opening a file (probing them imported PyAV in
    the parent and took 0.1 s a clip on a busy machine, before the first clip could start)."""

    def size(name: str) -> int:
        try:
            return os.stat(name).st_size
        except OSError:  # missing, unreadable: its error entry is quick
            return 0

    return sorted(names, key=size, reverse=True)


# A worker exits with this code when starting it ran the user's script into check_many again.
_UNGUARDED_MAIN_EXIT = 79
_UNGUARDED_MAIN = (
    "check_many was called again while a worker process imported your script: call it under "
    '`if __name__ == "__main__":`'
)


def _refuse_in_bootstrapping_worker() -> None:
    """A worker (spawned, or forked by the fork server) imports the main script; a script that
    calls check_many without the ``__main__`` guard would start workers from every worker.
    Stop such a worker silently with a code the parent turns into one line of explanation."""
    import multiprocessing
    import sys

    # multiprocessing's own flag for "this process is still importing the parent's main".
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        # os._exit, not SystemExit: a fork server's child turns SystemExit into exit code 1.
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(_UNGUARDED_MAIN_EXIT)


class _WorkerPool:
    """Worker processes (forked by the fork server, or spawned), one clip at a time each, over
    a pipe per worker.

    Unlike a ``ProcessPoolExecutor``, one clip can be stopped: a worker that overruns the hard
    time limit is killed and replaced, and a worker that dies (a crash in native code) costs only
    the clip it was on. Workers ignore Ctrl-C; the parent stops them.
    """

    def __init__(
        self, size: int, settings: Settings, cache_folder, force: bool, hard_limit_s, context
    ):
        # Never a plain fork of this process: MediaPipe's threads do not survive a fork.
        self._context = context
        self._args = (settings, cache_folder, force)
        self._hard_limit_s = hard_limit_s
        self._workers: list[dict] = []
        try:
            # A fork server's start blocks until it has imported (~0.5 s): a Ctrl-C meanwhile
            # must not leave the workers started so far running.
            for _ in range(size):
                self._workers.append(self._start())
        except BaseException:
            self.close()
            raise

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
                worker["process"].join(timeout=5)
                if worker["process"].exitcode == _UNGUARDED_MAIN_EXIT:
                    raise ClipprepError(
                        _UNGUARDED_MAIN,
                        code="main_not_guarded",
                        hint="worker processes import the main script (see the README)",
                    ) from None
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
    try:
        pipe.send("ready")
    except OSError:  # the parent has gone (Ctrl-C while the workers started)
        return
    while True:
        try:
            path = pipe.recv()
        except (EOFError, OSError):
            return
        pipe.send(check_one(path, cache_folder, force))


# --- on a Dask cluster -----------------------------------------------------------------------

DASK_CONNECT_TIMEOUT_S = 10.0  # to reach the scheduler: a wrong address fails in this time
DASK_WORKER_WAIT_S = 60.0  # how long a cluster may have no workers before the batch gives up
_DASK_POLL_S = 0.25  # how often finished clips are collected
_DASK_WATCH_S = 1.0  # how often the workers are asked what they run (time limits, none left)


def _hard_limit_s(settings: Settings) -> float:
    """When a clip is given up. The analysis stops itself at the profile's limit; this is for
    code stuck where it cannot check (a read that never returns)."""
    return settings.options.rules().limits.max_seconds * 1.2 + 15


def _refuse_local_workers(workers: int | None) -> None:
    if workers is not None:
        raise UsageError(
            "workers (--workers) count local processes; with a Dask scheduler the cluster's "
            "workers do the work",
            hint="leave it out (start more `dask worker`s to go faster)",
        )


@dataclass
class DaskConnection:
    """A checked connection to a Dask cluster (from :func:`connect_scheduler`), with how long
    a batch on it waits for workers and where it says so; ``check_many`` takes it as its
    ``scheduler`` and leaves it open."""

    client: object  # a distributed.Client
    worker_wait_s: float = DASK_WORKER_WAIT_S
    notify: object = None  # notify(text); None: the clipprep._batch logger

    def close(self) -> None:
        """Close the client (the cluster itself keeps running)."""
        self.client.close()


def connect_scheduler(
    scheduler,
    *,
    worker_wait_s: float = DASK_WORKER_WAIT_S,
    notify=None,
) -> DaskConnection:
    """Connect to ``scheduler`` (an address ``tcp://HOST:PORT``, a ``Cluster`` or a
    ``distributed.Client``) and check it before any clip is sent or any output touched: the
    scheduler answers within ``DASK_CONNECT_TIMEOUT_S``, a worker is there (waiting up to
    ``worker_wait_s`` for one) and every worker runs this clipprep version. ``notify(text)``
    hears the dashboard link and the waits (default: the ``clipprep._batch`` logger).
    Raises :class:`ClusterError`; a client made here is closed when a check fails.
    """
    client_class = _dask().Client
    notify = notify or _log.warning
    if isinstance(scheduler, client_class):
        client = scheduler
    else:
        try:
            client = client_class(scheduler, timeout=DASK_CONNECT_TIMEOUT_S, set_as_default=False)
        except (OSError, ValueError, TypeError) as exc:  # refused, timed out, not an address
            raise ClusterError(
                f"cannot reach the Dask scheduler at {scheduler} within "
                f"{DASK_CONNECT_TIMEOUT_S:g} s ({type(exc).__name__})",
                hint="start one with `dask scheduler` and pass its address (tcp://HOST:PORT)",
            ) from None
    try:
        link = _dashboard_link(client)
        if link:
            notify(f"Dask dashboard: {link}")
        _wait_for_workers(client, worker_wait_s, notify)
        _check_versions(client)
    except BaseException:
        if client is not scheduler:
            client.close()
        raise
    return DaskConnection(client, worker_wait_s, notify)


def _dask():
    try:
        import distributed
    except ImportError:
        raise UsageError("--scheduler needs Dask", hint='pip install "clipprep[dask]"') from None
    return distributed


def _dashboard_link(client) -> str | None:
    try:
        return client.dashboard_link
    except (KeyError, AttributeError):  # the scheduler runs without a dashboard
        return None


def _wait_for_workers(client, wait_s: float, notify) -> None:
    if client.nthreads():
        return
    notify(f"the Dask cluster has no workers yet; waiting up to {wait_s:g} s for one")
    try:
        client.wait_for_workers(1, timeout=wait_s)
    except TimeoutError:
        raise ClusterError(
            f"no Dask worker joined the scheduler within {wait_s:g} s",
            code="no_workers",
            hint="start workers: dask worker tcp://HOST:PORT (with this clipprep version)",
        ) from None


def _check_versions(client) -> None:
    """Every worker must run this clipprep: another version gives other results (and another
    cache key), one without clipprep cannot run a clip at all."""
    try:
        found = client.run(_clipprep_version)
    except Exception as exc:  # the worker could not even import the function
        raise ClusterError(
            f"the Dask workers cannot run clipprep ({type(exc).__name__}: {exc})",
            code="version_mismatch",
            hint=f"install clipprep {__version__} where the workers run",
        ) from None
    wrong = {worker: version for worker, version in found.items() if version != __version__}
    if wrong:
        listing = ", ".join(f"{worker} has {version}" for worker, version in sorted(wrong.items()))
        raise ClusterError(
            f"the Dask workers run another clipprep version ({listing}; here {__version__})",
            code="version_mismatch",
            hint=f"install clipprep {__version__} on every worker",
        )


def _clipprep_version() -> str:
    """Runs on each worker: the clipprep version it imports."""
    from ._version import __version__ as version

    return version


def _executing(dask_worker) -> list:
    """Runs on each worker: the keys of the tasks its threads are running now."""
    return [task.key for task in dask_worker.state.executing]


def _on_dask(names, settings, folder, force, scheduler, worker_wait_s, notify):
    if isinstance(scheduler, DaskConnection):  # connected and checked by the caller: theirs
        connection, owned = scheduler, False
    else:
        wait = DASK_WORKER_WAIT_S if worker_wait_s is None else worker_wait_s
        connection = connect_scheduler(scheduler, worker_wait_s=wait, notify=notify)
        owned = connection.client is not scheduler  # a Client the caller made stays open
    try:
        run = _DaskBatch(
            connection.client,
            settings,
            folder,
            force,
            _hard_limit_s(settings),
            connection.worker_wait_s if worker_wait_s is None else worker_wait_s,
            notify or connection.notify,
        )
        yield from run.results(names)
    finally:
        if owned:
            connection.close()


class _DaskBatch:
    """One batch on a Dask cluster: every clip a task, results collected as they finish.

    Workers see other folders than this process, so they get absolute paths (results keep the
    names the caller gave). Each future is released as soon as its result is here: a worker lost
    later costs no recomputation, and memory stays bounded. The driver watches what the workers
    run: a clip past the hard time limit is given up and its worker restarted (a stuck thread
    cannot be stopped otherwise); a cluster without workers is waited for, up to
    ``worker_wait_s``; a lost scheduler ends the batch with one error.
    """

    def __init__(self, client, settings, folder, force, hard_limit_s, worker_wait_s, notify):
        self.client = client
        options = settings.options
        if options.model_dir:
            options = dataclasses.replace(options, model_dir=os.path.abspath(options.model_dir))
        folders = {
            f: os.path.abspath(v)
            for f in ("prepare_dir", "stills_dir")
            if (v := getattr(settings, f))
        }
        self.args = (
            dataclasses.replace(settings, options=options, **folders),
            os.path.abspath(folder) if folder else None,
            force,
            __version__,
        )
        self.hard_limit_s = hard_limit_s
        self.worker_wait_s = worker_wait_s
        self.notify = notify or _log.warning
        self.pending: dict = {}  # future -> the name the caller gave
        self.started: dict = {}  # task key -> when a worker was first seen running it
        self.workerless_since: float | None = None

    def results(self, names: list[str]) -> Iterator[BatchResult]:
        """Yield each clip's result as it finishes."""
        distributed = _dask()
        self.pending = {
            self.client.submit(_dask_task, os.path.abspath(name), *self.args, pure=False): name
            for name in names
        }
        finished = distributed.as_completed(list(self.pending), loop=self.client.loop)
        watched = 0.0
        try:
            while self.pending:
                batch = finished.next_batch(block=False)
                for future in batch:
                    if future in self.pending:  # not one given up already
                        yield self._collect(future)
                # Also while results stream in: a stuck clip must not hide behind busy workers.
                if time.monotonic() - watched >= _DASK_WATCH_S:
                    yield from self._watch()
                    watched = time.monotonic()
                if not batch:
                    time.sleep(_DASK_POLL_S)
        finally:
            self._cancel_rest()

    def _collect(self, future) -> BatchResult:
        name = self.pending.pop(future)
        self.started.pop(future.key, None)
        try:
            data, cached = future.result()
        except Exception as exc:
            if future.cancelled() or self.client.status != "running":
                raise self._lost(len(self.pending) + 1) from None
            # The task failed on every worker it was tried on (killed by native crashes, ...).
            entry = _error_entry(name, "worker_crashed", f"{type(exc).__name__}: {exc}")
            return BatchResult(name, entry)
        finally:
            future.release()
        return BatchResult(name, _named(data, name), cached)

    def _watch(self) -> Iterator[BatchResult]:
        """Time limits and workers: what is running where, since when."""
        if self.client.status != "running":
            raise self._lost(len(self.pending))
        try:
            running = self.client.run(_executing, on_error="ignore")
        except OSError:  # the scheduler went away during the question
            raise self._lost(len(self.pending)) from None
        self._mind_workers(bool(running))
        now = time.monotonic()
        where = {key: worker for worker, keys in running.items() for key in keys}
        self.started = {key: self.started.get(key, now) for key in where}
        overdue = [
            f for f in self.pending if now - self.started.get(f.key, now) > self.hard_limit_s
        ]
        for future in overdue:
            name = self.pending.pop(future)
            worker = where[future.key]
            future.cancel()
            future.release()
            self._restart(worker)
            message = f"stopped after {self.hard_limit_s:.0f} s"
            yield BatchResult(
                name, _error_entry(name, "time_limit", message, "the file is skipped")
            )

    def _mind_workers(self, any_workers: bool) -> None:
        if any_workers or self.client.nthreads():
            if self.workerless_since is not None:
                self.notify("a Dask worker is back; going on")
            self.workerless_since = None
            return
        now = time.monotonic()
        if self.workerless_since is None:
            self.workerless_since = now
            self.notify(
                f"the Dask cluster has no workers; waiting up to {self.worker_wait_s:g} s for one"
            )
        elif now - self.workerless_since > self.worker_wait_s:
            raise ClusterError(
                f"the Dask cluster has had no workers for {self.worker_wait_s:g} s; "
                f"{clip_count(len(self.pending))} not checked; rerun resumes from the cache",
                code="no_workers",
                hint="start workers: dask worker tcp://HOST:PORT, then run the same command",
            )

    def _restart(self, worker: str) -> None:
        """A thread stuck in a clip cannot be stopped: restart its worker process (its nanny
        does it; other clips it was running are sent again)."""
        try:
            self.client.restart_workers([worker], raise_for_error=True)
        except Exception as exc:  # no nanny (dask worker --no-nanny), or it did not come back
            self.notify(
                f"could not restart the Dask worker {worker} ({type(exc).__name__}); "
                "one of its threads stays busy"
            )

    def _lost(self, remaining: int) -> ClusterError:
        return ClusterError(
            f"lost the Dask scheduler; {clip_count(remaining)} not checked; "
            "rerun resumes from the cache",
            code="scheduler_lost",
            hint="restart the scheduler and workers, then run the same command "
            "(finished clips come from the shared --cache-dir)",
        )

    def _cancel_rest(self) -> None:
        if self.pending and self.client.status == "running":
            with contextlib.suppress(Exception):  # the cluster is going away anyway
                self.client.cancel(list(self.pending))
        self.pending = {}


def _named(data: dict, name: str) -> dict:
    """A worker's result under the name the caller gave (the worker had the absolute path)."""
    data = {**data, "path": name}
    if isinstance(data.get("probe"), dict):
        data["probe"] = {**data["probe"], "path": name}
    return data


def clip_count(clips: int) -> str:
    return f"{clips} clip" if clips == 1 else f"{clips} clips"


def _dask_task(path: str, settings: Settings, folder, force: bool, version: str):
    """A Dask task: the worker's thread keeps one analyzer per settings, loaded by its first
    clip (like a pool initializer, once per thread)."""
    if version != __version__:  # a worker that joined after the version check
        message = f"the worker runs clipprep {__version__}, this batch {version}"
        return _error_entry(path, "version_mismatch", message, "install the same version"), False
    if _state.settings != settings:
        _init_worker(settings)
    return check_one(path, folder, force)
