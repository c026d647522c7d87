"""A characters API on 127.0.0.1 speaking WaveSpeed's and OpenAI's documented shapes, with
scripted faults, for tests of ``clipprep submit`` over real HTTP.

Faults are queued per route (``upload``, ``create``, ``result``, ``openai``); each request to a
route takes the next one, if any:

- ``("status", code)`` / ``("status", code, {"Retry-After": "1"})``: answer that status and do
  nothing (a create is *not* performed);
- ``("slow", seconds)``: do the work, then answer late (past the client's timeout);
- ``("reset",)``: do the work, then drop the connection without an answer;
- ``("malformed",)``: do the work, answer 200 with broken JSON;
- ``("html",)``: do the work, answer 200 with an HTML page;
- ``("huge", megabytes)``: do the work, answer 200 with a JSON body that large;
- ``("redirect", url)``: answer 302 to ``url`` and do nothing;
- ``("hold", event)``: wait until the ``threading.Event`` is set (at most 300 s), then do the
  work and answer;
- ``("trickle", seconds)``: do the work, then send the answer (status line and headers
  included) one byte every ``seconds``, for as long as the client listens.

``prediction_mode``: ``"complete"`` (after ``polls_before_done`` polls), ``"fail"`` (with
``prediction_error`` as the error), ``"stay"``. ``on_create``: called when a create is acted on.
``created_names`` counts the creates acted on per name.
"""

from __future__ import annotations

import collections
import http.server
import itertools
import json
import os
import socket
import subprocess
import sys
import threading
import time

API_KEY = "sk-test-Zq8SECRETkey-0042"
ENTRY = os.path.join(os.path.dirname(sys.executable), "clipprep")


def run_clipprep(*args, env_extra=None, timeout=300, **kwargs) -> subprocess.CompletedProcess:
    """The real ``clipprep`` command, with the fake's key in the environment."""
    env = {**os.environ, "WAVESPEED_API_KEY": API_KEY, **(env_extra or {})}
    return subprocess.run(
        [ENTRY, *args],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        **kwargs,
    )


class FakeApi(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.faults: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self.lock = threading.Lock()
        self.requests: list[str] = []  # route of every request received
        self.create_calls = 0  # create requests received
        self.created = 0  # create requests acted on (billable)
        self.uploads: list[int] = []  # sizes of uploaded bodies
        self.predictions: dict[str, dict] = {}
        self.prediction_mode = "complete"
        self.prediction_error = "no face found"
        self.polls_before_done = 1
        self.on_create = None
        self.created_names: collections.Counter = collections.Counter()
        self._ids = itertools.count(1)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def fault(self, route: str, *faults) -> None:
        self.faults[route].extend(faults)

    def next_id(self) -> int:
        with self.lock:
            return next(self._ids)

    def start(self) -> FakeApi:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(http.server.BaseHTTPRequestHandler):
    server: FakeApi
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        self._route("POST")

    def do_GET(self):
        self._route("GET")

    def _route(self, method: str) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = self.path.split("?")[0]
        if method == "POST" and path == "/api/v3/media/upload/binary":
            route, act = "upload", lambda: self._upload(body)
        elif method == "POST" and path == "/api/v3/openai/sora-2/characters":
            route, act = "create", lambda: self._create_wavespeed(body)
        elif method == "GET" and path.startswith("/api/v3/predictions/"):
            route, act = "result", lambda: self._result(path.split("/")[4])
        elif method == "POST" and path == "/v1/videos/characters":
            route, act = "openai", lambda: self._create_openai(body)
        else:
            self._send(404, {"error": "not found"})
            return
        with self.server.lock:
            self.server.requests.append(route)
            if route in ("create", "openai"):
                self.server.create_calls += 1
            fault = self.server.faults[route].popleft() if self.server.faults[route] else None
        received = self.headers.get("Authorization", "")
        if received != f"Bearer {API_KEY}":
            # Like some real services, echo what was received: the client must redact it.
            self._send(401, {"error": {"message": f"invalid key: {received}", "code": "auth"}})
            return
        if fault and fault[0] == "redirect":
            self._send(302, {"moved": fault[1]}, {"Location": fault[1]})
            return
        if fault and fault[0] == "status":
            headers = fault[2] if len(fault) > 2 else {}
            self._send(fault[1], {"error": {"message": f"injected {fault[1]}"}}, headers)
            return
        if fault and fault[0] == "hold":
            fault[1].wait(300)
        status, answer = act()
        if fault is None or fault[0] == "hold":
            self._send(status, answer)
        elif fault[0] == "slow":
            time.sleep(fault[1])
            self._send(status, answer)
        elif fault[0] == "reset":
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        elif fault[0] == "malformed":
            self._send_raw(200, b'{"data": {"id": "pred_', "application/json")
        elif fault[0] == "html":
            self._send_raw(200, b"<html><body>Maintenance</body></html>", "text/html")
        elif fault[0] == "trickle":
            self._trickle(status, answer, fault[1])
        elif fault[0] == "huge":
            padding = b"x" * (fault[1] * 2**20)
            self._send_raw(200, b'{"data": {"pad": "' + padding + b'"}}', "application/json")

    def _trickle(self, status: int, payload: dict, seconds: float) -> None:
        body = json.dumps(payload).encode()
        head = (
            f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.close_connection = True
        try:
            for byte in head + body:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(seconds)
        except OSError:
            pass  # the client hung up: what a deadline should do

    def _acted(self, name: str) -> None:
        with self.server.lock:
            self.server.created += 1
            self.server.created_names[name] += 1
        if self.server.on_create is not None:
            self.server.on_create(name)

    def _upload(self, body: bytes):
        self.server.uploads.append(len(body))
        n = self.server.next_id()
        return 200, {"code": 200, "data": {"download_url": f"{self.server.base_url}/f/{n}.mp4"}}

    def _create_wavespeed(self, body: bytes):
        request = json.loads(body)
        self._acted(request["name"])
        prediction = f"pred_{self.server.next_id()}"
        self.server.predictions[prediction] = {"name": request["name"], "polls": 0}
        return 200, {"code": 200, "data": {"id": prediction, "status": "created"}}

    def _result(self, prediction: str):
        record = self.server.predictions.get(prediction)
        if record is None:
            return 404, {"code": 404, "message": "prediction not found"}
        record["polls"] += 1
        mode = self.server.prediction_mode
        if mode == "fail":
            error = self.server.prediction_error
            data = {"id": prediction, "status": "failed", "error": error, "outputs": []}
        elif mode == "complete" and record["polls"] > self.server.polls_before_done:
            character = {"id": f"char_{prediction}", "name": record["name"]}
            data = {"id": prediction, "status": "completed", "outputs": [character]}
        else:
            data = {"id": prediction, "status": "processing", "outputs": []}
        return 200, {"code": 200, "data": data}

    def _create_openai(self, body: bytes):
        name = body.split(b'name="name"\r\n\r\n', 1)[1].split(b"\r\n", 1)[0].decode()
        self._acted(name)
        return 200, {"id": f"char_oa{self.server.next_id()}", "name": name, "created_at": 1}

    def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
        self._send_raw(status, json.dumps(payload).encode(), "application/json", headers)

    def _send_raw(self, status, body: bytes, kind: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)
