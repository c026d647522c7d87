"""A characters API on 127.0.0.1 speaking WaveSpeed's, OpenAI's and fal's documented shapes,
with scripted faults, for tests of ``clipprep submit`` over real HTTP.

Faults are queued per route (``upload``, ``create``, ``result``, ``openai``; fal adds
``storage_put`` and ``fal_result``); each request to a route takes the next one, if any. fal's
routes share the generic names where they play the same part: its storage initiate is
``upload``, its queue submit ``create``, its status poll ``result``; the signed-URL PUT is
``storage_put`` and the result fetch ``fal_result``.

- ``("status", code)`` / ``("status", code, {"Retry-After": "1"})``: answer that status and do
  nothing (a create is *not* performed);
- ``("slow", seconds)``: do the work, then answer late (past the client's timeout);
- ``("reset",)``: do the work, then drop the connection without an answer;
- ``("malformed",)``: do the work, answer 200 with broken JSON;
- ``("html",)``: do the work, answer 200 with an HTML page;
- ``("answer", payload)``: do the work, answer 200 with ``payload`` (a JSON object) instead;
- ``("huge", megabytes)``: do the work, answer 200 with a JSON body that large;
- ``("redirect", url)``: answer 302 to ``url`` and do nothing;
- ``("hold", event)``: wait until the ``threading.Event`` is set (at most 300 s), then do the
  work and answer;
- ``("trickle", seconds)``: do the work, then send the answer (status line and headers
  included) one byte every ``seconds``, for as long as the client listens.

``prediction_mode``: ``"complete"`` (after ``polls_before_done`` polls), ``"fail"`` (with
``prediction_error`` as the error), ``"stay"``; for fal also ``"refuse"`` (the status says
COMPLETED, the result is a 422 with ``prediction_error`` in its ``detail`` list).
``on_create``: called when a create is acted on. ``created_names`` counts the creates acted on
per name.
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
# The providers that upload the clip, then poll a queued request; how their character ids start
# on this server, and the variable holding their key.
QUEUED = ("wavespeed", "fal")
CHARACTER_PREFIX = {"wavespeed": "char_pred_", "fal": "char_req_"}
KEY_VARIABLE = {"wavespeed": "WAVESPEED_API_KEY", "fal": "FAL_KEY", "openai": "OPENAI_API_KEY"}
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

    def do_PUT(self):
        self._route("PUT")

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
        elif method == "POST" and path == "/storage/upload/initiate":
            route, act = "upload", lambda: self._fal_initiate(body)
        elif method == "PUT" and path.startswith("/fal-storage/"):
            route, act = "storage_put", lambda: self._fal_put(body)
        elif method == "POST" and path == "/fal-ai/sora-2/characters":
            route, act = "create", lambda: self._fal_submit(body)
        elif method == "GET" and path.startswith("/fal-ai/sora-2/requests/"):
            parts = path.split("/")  # "", "fal-ai", "sora-2", "requests", id[, "status"]
            request_id = parts[4]
            if parts[5:] == ["status"]:
                route, act = "result", lambda: self._fal_status(request_id)
            else:
                route, act = "fal_result", lambda: self._fal_result(request_id)
        else:
            self._send(404, {"error": "not found"})
            return
        with self.server.lock:
            self.server.requests.append(route)
            if route in ("create", "openai"):
                self.server.create_calls += 1
            fault = self.server.faults[route].popleft() if self.server.faults[route] else None
        received = self.headers.get("Authorization", "")
        if route == "storage_put":
            if received:  # a signed URL needs no key, and must never be given one
                self._send(400, {"error": "an Authorization header reached the storage bucket"})
                return
        elif path.startswith(("/fal-ai/", "/storage/")):
            if received != f"Key {API_KEY}":
                self._send(401, {"detail": f"invalid key: {received}"})  # echoed, like above
                return
        elif received != f"Bearer {API_KEY}":
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
        elif fault[0] == "answer":
            self._send(200, fault[1])
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

    def _fal_initiate(self, body: bytes):
        request = json.loads(body)
        assert request["content_type"] == "video/mp4", request
        n = self.server.next_id()
        return 200, {
            "upload_url": f"{self.server.base_url}/fal-storage/{n}?signature=s{n}",
            "file_url": f"{self.server.base_url}/files/{n}/{request['file_name']}",
        }

    def _fal_put(self, body: bytes):
        self.server.uploads.append(len(body))
        return 200, None  # like a storage bucket: 200 with an empty body

    def _fal_submit(self, body: bytes):
        request = json.loads(body)
        if set(request) != {"video_url", "name"} or "/files/" not in request["video_url"]:
            return 422, {"detail": [{"loc": ["body"], "msg": "bad input", "type": "value_error"}]}
        self._acted(request["name"])
        request_id = f"req_{self.server.next_id()}"
        self.server.predictions[request_id] = {"name": request["name"], "polls": 0}
        queue = f"{self.server.base_url}/fal-ai/sora-2/requests/{request_id}"
        return 200, {
            "request_id": request_id,
            "response_url": queue,
            "status_url": f"{queue}/status",
            "cancel_url": f"{queue}/cancel",
            "queue_position": 0,
        }

    def _fal_status(self, request_id: str):
        record = self.server.predictions.get(request_id)
        if record is None:
            return 404, {"detail": "Request not found"}
        record["polls"] += 1
        mode = self.server.prediction_mode
        if mode == "fail":
            error = self.server.prediction_error
            return 200, {"status": "COMPLETED", "error": error, "error_type": "runner_server_error"}
        done = mode == "complete" and record["polls"] > self.server.polls_before_done
        if mode == "refuse" or done:
            return 200, {"status": "COMPLETED", "logs": None, "metrics": {"inference_time": 1.0}}
        state = "IN_QUEUE" if record["polls"] == 1 else "IN_PROGRESS"
        return 202, {"status": state, "queue_position": 0, "logs": None}

    def _fal_result(self, request_id: str):
        record = self.server.predictions.get(request_id)
        if record is None:
            return 404, {"detail": "Request not found"}
        if self.server.prediction_mode == "refuse":
            problem = {"loc": ["body", "video_url"], "msg": self.server.prediction_error}
            return 422, {"detail": [{**problem, "type": "value_error"}]}
        if record["polls"] <= self.server.polls_before_done:
            return 400, {"detail": "Request is still in progress"}
        return 200, {"id": f"char_{request_id}", "name": record["name"]}

    def _send(self, status: int, payload: dict | None, headers: dict | None = None) -> None:
        if payload is None:
            self._send_raw(status, b"", "text/plain", headers)
            return
        self._send_raw(status, json.dumps(payload).encode(), "application/json", headers)

    def _send_raw(self, status, body: bytes, kind: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)
