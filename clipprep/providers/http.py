"""HTTP for characters APIs: timeouts on every call, retries only where they are safe.

The one rule that matters for money: a request that *creates* something is re-sent only when
the service cannot have acted on it — the connection was refused, or it answered 429 or 503. A
timeout or a dropped connection after the request went out, or a 5xx from a gateway, leaves the
outcome unknown: :class:`OutcomeUnknown` is raised and the request is never re-sent.
Reads and uploads (which create nothing billable) are retried on any transient failure.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from .._errors import AuthError, OutcomeUnknown, ServiceError, ServiceGone, UsageError

# Statuses worth another try, and those where a create certainly was not acted on.
_RETRY_STATUSES = {429, 502, 503, 504}
_NOT_ACTED_STATUSES = {429, 503}
_MAX_RETRY_AFTER_S = 60.0
_MAX_JSON_BYTES = 10 * 1024 * 1024  # an API answer this big is not an answer
# httpx's timeouts are per read: a server sending a byte a second never trips them. Every
# request also has a total deadline, enforced by closing its socket: a JSON request (create,
# poll) gets DEFAULT_REQUEST_DEADLINE_S, one that carries the clip this many times more.
DEFAULT_REQUEST_DEADLINE_S = 30.0
_UPLOAD_DEADLINE_FACTOR = 4
_MIN_SECRET_CHARS = 6


class _TooLarge(Exception):
    """The answer went past the size cap (it is not read further)."""


class _DeadlinePassed(Exception):
    """The request's total deadline passed (its connection was cut)."""


class _Watchdog:
    """Cuts a request's connection when its total deadline passes: the blocked read then
    fails at once, however slowly the server trickles bytes."""

    def __init__(self, seconds: float):
        self.fired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def trace(self, event: str, info: dict) -> None:
        """httpcore's trace hook: remember the socket of each new connection."""
        if event != "connection.connect_tcp.complete" or info.get("return_value") is None:
            return
        sock = info["return_value"].get_extra_info("socket")
        if sock is None:
            return
        with self._lock:
            self._sockets.append(sock)
            if self.fired:
                _cut(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            for sock in self._sockets:
                _cut(sock)

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()


def _cut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)


@dataclass(frozen=True)
class RetryPolicy:
    """How many times, and how long to wait, before giving up on a transient failure."""

    attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 20.0

    def delay(self, attempt: int) -> float:
        """Exponential backoff with full jitter (attempt 1 waits up to ``base_delay_s``)."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        return random.uniform(0.5 * ceiling, ceiling)


def check_base_url(base: str) -> str:
    """Refuse plain ``http://`` except on loopback (the key would cross the network in clear),
    and credentials in the URL (they would be sent as Basic auth, and stored and printed)."""
    parts = urlsplit(base)
    if parts.username is not None or parts.password is not None:
        host = parts.hostname or "?"
        raise UsageError(
            f"the API base URL holds credentials (user:password@{host}); they would be sent "
            "instead of the API key, and stored",
            code="credentials_in_url",
            hint="remove them from --api-base / CLIPPREP_API_BASE; the key goes in the "
            "environment variable",
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"not an http(s) URL: {base[:200]!r}", hint="e.g. https://api.wavespeed.ai"
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise UsageError(
            f"refusing plain http:// to {parts.hostname}: the API key would travel unencrypted",
            hint="use https://, or a proxy on 127.0.0.1",
        )
    return base.rstrip("/")


def check_api_key(key: str, variable: str) -> str:
    """The key without surrounding whitespace (a copied trailing newline); refuse what would be
    an illegal header value (control or non-ASCII characters), without echoing the key."""
    key = key.strip()
    for position, char in enumerate(key, 1):
        if not (" " <= char <= "~"):
            kind = "a control character" if not char.isprintable() else "a non-ASCII character"
            raise UsageError(
                f"the API key ({variable}) holds {kind} at position {position} of {len(key)}",
                code="invalid_api_key",
                hint=f"copy the key again into {variable}, without line breaks or spaces inside",
            )
    return key


def secret_forms(key: str) -> list[str]:
    """The ways a key shows up in text: as is, escaped (repr, JSON), URL-quoted, base64."""
    from urllib.parse import quote

    if not key:
        return []
    raw = key.encode("utf-8", "surrogatepass")
    forms = {
        key,
        repr(key)[1:-1],
        json.dumps(key)[1:-1],
        quote(key, safe=""),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        base64.b64encode(f"Bearer {key}".encode("utf-8", "surrogatepass")).decode().rstrip("="),
    }
    stripped = key.strip()
    if stripped and stripped != key:
        forms |= set(secret_forms(stripped))
    # A form this short would blank out ordinary words and paths (a key "x" is no secret).
    return sorted((f for f in forms if len(f) >= _MIN_SECRET_CHARS), key=len, reverse=True)


def redact_text(text: str, forms: list[str]) -> str:
    """``text`` with every form of the secret replaced by ``***``."""
    for form in forms:
        text = text.replace(form, "***")
    return text


def detail_text(detail) -> str:
    """fal's ``detail``: a string (request errors), or a list of ``{"loc", "msg", "type"}``
    (model validation errors), as one line."""
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                where = ".".join(str(p) for p in item.get("loc") or [] if p != "body")
                parts.append(f"{where}: {item.get('msg')}" if where else str(item.get("msg")))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return ""


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ApiClient:
    """An httpx client bound to one API: base URL, bearer key, timeouts, retries, redaction."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        service: str,
        key_variable: str,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        transport=None,
        sleep: Callable[[float], None] = time.sleep,
        request_deadline_s: float = DEFAULT_REQUEST_DEADLINE_S,
        auth_scheme: str = "Bearer",
    ):
        import httpx

        self.base_url = check_base_url(base_url)
        self._forms = secret_forms(api_key)  # the key as given, and trimmed
        api_key = check_api_key(api_key, key_variable)
        self._service = service
        self._key_variable = key_variable
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._timeout = timeout
        self.request_deadline_s = request_deadline_s
        self.upload_deadline_s = request_deadline_s * _UPLOAD_DEADLINE_FACTOR
        # A deadline (time.monotonic()) no request may pass: the submission's, set by it.
        self.deadline: float | None = None
        self._client = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"{auth_scheme} {api_key}", "User-Agent": "clipprep"},
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
            follow_redirects=False,  # a redirect must never carry the key to another host
            transport=transport,
            # A new connection per request: the deadline watchdog knows its socket.
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def redact(self, text: str) -> str:
        """``text`` with the API key blanked out, in every form it may take (services echo what
        they got; exceptions show it escaped; Basic auth in base64)."""
        return redact_text(text, self._forms)

    def request(
        self,
        method: str,
        path: str,
        *,
        creates: bool = False,
        uploads: bool = False,
        keyless: bool = False,
        **kwargs,
    ) -> dict:
        """Send a request and return its JSON object, retrying where that is safe.

        ``creates``: the request makes something billable (see the module docstring).
        ``uploads``: it carries the clip (a longer total deadline).
        ``keyless``: sent without the API key (to a signed URL the service answered with).
        An empty 2xx answer to a request that creates nothing is the empty object.
        """
        import httpx

        until = time.monotonic() + (self.upload_deadline_s if uploads else self.request_deadline_s)
        if self.deadline is not None:
            until = min(until, self.deadline)
        attempt = 0
        while True:
            attempt += 1
            try:
                response, body = self._send(method, path, until, keyless, **kwargs)
            except _DeadlinePassed:
                raise self._too_slow(creates) from None
            except _TooLarge as exc:
                if creates:
                    raise OutcomeUnknown(
                        f"{self._service} answered the create request with {exc}",
                    ) from None
                raise ServiceError(
                    f"{self._service} answered with {exc}", code="bad_response"
                ) from None
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                # Nothing reached the service: always safe to try again.
                if attempt >= self._retry.attempts:
                    raise ServiceError(
                        f"cannot reach {self._service} at {self.base_url} ({self._why(exc)})",
                        code="service_unreachable",
                        hint="check the network, or --api-base",
                    ) from None
                self._pause(self._retry.delay(attempt), until)
                continue
            except httpx.HTTPError as exc:  # sent, then timed out or dropped
                if creates:
                    raise OutcomeUnknown(
                        f"{self._service} did not answer the create request ({self._why(exc)}); "
                        "it may or may not have created the character",
                    ) from None
                if attempt >= self._retry.attempts:
                    raise ServiceError(
                        f"{self._service} did not answer ({self._why(exc)})",
                        code="service_unavailable",
                    ) from None
                self._pause(self._retry.delay(attempt), until)
                continue
            if response.status_code in _RETRY_STATUSES and attempt < self._retry.attempts:
                if creates and response.status_code not in _NOT_ACTED_STATUSES:
                    raise self._unknown(response)
                self._pause(self._wait_for(response, attempt), until)
                continue
            return self._decode(response, body, creates)

    def _pause(self, seconds: float, until: float) -> None:
        """Wait before another try, unless that would pass the deadline (then give up now).

        Only a try the service did not act on is repeated (a create is never re-sent after it
        may have been taken), so giving up here leaves nothing created: a plain deadline error,
        never an unknown outcome."""
        if time.monotonic() + seconds >= until:
            raise self._too_slow(creates=False)
        self._sleep(seconds)

    def _too_slow(self, creates: bool) -> ServiceError:
        if creates:
            return OutcomeUnknown(
                f"{self._service} did not finish answering the create request in time; "
                "it may or may not have created the character",
            )
        return ServiceError(
            f"{self._service} did not answer in time (deadline reached)",
            code="deadline_exceeded",
            hint="run the same command again later",
        )

    def _send(self, method: str, path: str, until: float, keyless: bool, **kwargs):
        """Send and read the answer by ``until`` (time.monotonic()), refusing to hold more
        than the cap in memory. Raises :class:`_DeadlinePassed` when the deadline cut it."""
        import httpx

        remaining = until - time.monotonic()
        if remaining <= 0:
            raise _DeadlinePassed
        per_read = min(self._timeout, remaining)
        watchdog = _Watchdog(remaining)
        request = self._client.build_request(
            method,
            path,
            timeout=httpx.Timeout(per_read, connect=min(10.0, per_read)),
            extensions={"trace": watchdog.trace},
            **kwargs,
        )
        if keyless:
            del request.headers["Authorization"]
        try:
            with watchdog:
                response = self._client.send(request, stream=True)
                try:
                    chunks, size = [], 0
                    for chunk in response.iter_bytes():
                        size += len(chunk)
                        if size > _MAX_JSON_BYTES:
                            raise _TooLarge(f"more than {_MAX_JSON_BYTES // 2**20} MiB")
                        chunks.append(chunk)
                finally:
                    response.close()
        except httpx.HTTPError:
            if watchdog.fired:
                raise _DeadlinePassed from None
            raise
        return response, b"".join(chunks)

    def _why(self, exc: Exception) -> str:
        return self.redact(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)

    def _wait_for(self, response, attempt: int) -> float:
        header = response.headers.get("Retry-After", "")
        try:
            return min(_MAX_RETRY_AFTER_S, max(0.0, float(header)))
        except ValueError:
            return self._retry.delay(attempt)

    def _unknown(self, response) -> OutcomeUnknown:
        return OutcomeUnknown(
            f"{self._service} answered {response.status_code} to the create request; "
            "it may or may not have created the character",
        )

    def _decode(self, response, body: bytes, creates: bool) -> dict:
        status = response.status_code
        if 200 <= status < 300:
            return self._json(body, creates)
        if creates and status >= 500 and status not in _NOT_ACTED_STATUSES:
            raise self._unknown(response)
        detail = self._error_detail(body)
        if status == 429:
            raise ServiceError(
                f"{self._service} kept answering 429 (rate limited){detail}",
                code="rate_limited",
                hint="wait a minute and run the same command again",
            )
        if status in _RETRY_STATUSES:
            raise ServiceError(
                f"{self._service} is unavailable ({status}){detail}",
                code="service_unavailable",
                hint="run the same command again later",
            )
        if 300 <= status < 400:
            target = response.headers.get("Location", "?")
            raise ServiceError(
                f"{self._service} redirected to {self.redact(target)} ({status}); not followed, "
                "so the API key stays with the host you chose",
                code="redirected",
                hint="point --api-base at the new address if you trust it",
            )
        if status in (401, 403):
            raise AuthError(
                f"the API key was rejected ({status}){detail}",
                hint=f"set {self._key_variable} to a valid key",
            )
        if status in (404, 410):
            raise ServiceGone(
                f"{self._service} no longer offers characters at {response.request.url.path} "
                f"({status}){detail}",
                hint="the service may have been retired: try another --provider",
            )
        if status in (400, 413, 422):
            raise ServiceError(
                f"{self._service} refused the request ({status}){detail}",
                code="request_rejected",
            )
        raise ServiceError(f"{self._service} failed ({status}){detail}", code="service_failed")

    def _json(self, body: bytes, creates: bool) -> dict:
        if not creates and not body.strip():  # a storage PUT answers 200 with nothing
            return {}
        try:
            data = json.loads(body)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except (ValueError, UnicodeDecodeError) as exc:
            message = f"{self._service} sent an unreadable answer ({exc.__class__.__name__})"
            if creates:
                raise OutcomeUnknown(
                    f"{message} to the create request; it may have created the character",
                ) from None
            raise ServiceError(message, code="bad_response") from None
        return data

    def _error_detail(self, body: bytes) -> str:
        """A short, key-free description of an error body (OpenAI's, WaveSpeed's and fal's
        shapes)."""
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return ""
        if not isinstance(data, dict):
            return ""
        error = data.get("error")
        if isinstance(error, dict):
            text = error.get("message") or error.get("code") or ""
        else:
            text = error or data.get("message") or detail_text(data.get("detail"))
        return f": {self.redact(str(text))[:300]}" if text else ""
