"""fal's Sora 2 Characters (``fal-ai/sora-2/characters``): upload the clip to fal's storage,
submit ``{video_url, name}`` to fal's queue, poll the request's status, then fetch its result.

Routes, from fal's public documentation and its Python client (``fal_client``), with
``Authorization: Key $FAL_KEY``:

- ``POST https://rest.fal.ai/storage/upload/initiate?storage_type=gcs`` (JSON ``file_name``,
  ``content_type``) -> ``upload_url`` (a signed URL) and ``file_url``; then ``PUT upload_url``
  with the bytes and *no* key (the key stays with fal's own hosts).
- ``POST https://queue.fal.run/fal-ai/sora-2/characters`` (JSON ``video_url``, ``name``) ->
  ``request_id`` (and ``status_url``, ``response_url``, ``cancel_url``). fal documents no
  idempotency key for it: a submit that went out unanswered is an unknown outcome.
- ``GET https://queue.fal.run/fal-ai/sora-2/requests/{id}/status`` -> ``status``:
  ``IN_QUEUE`` | ``IN_PROGRESS`` | ``COMPLETED`` (with ``error``/``error_type`` when it failed).
  The path drops the endpoint's sub-path (``/characters``), as fal's client builds it.
- ``GET https://queue.fal.run/fal-ai/sora-2/requests/{id}`` -> the output ``{"id": "char_…",
  "name"}``, or an error ``{"detail": …}`` (a string, or a list of ``{"loc", "msg", "type"}``).

The status and result URLs are built from the request id, not taken from the answer, so the key
only goes where the user pointed ``--api-base``. With ``--api-base`` (a proxy, a test server)
every route, storage included, goes to that one base.
"""

from __future__ import annotations

from pathlib import Path

from .._errors import ServiceError, ServiceGone, UsageError
from . import COMPLETED, FAILED, PENDING, Outcome, Provider
from .http import check_base_url, detail_text

QUEUE_BASE = "https://queue.fal.run"
STORAGE_BASE = "https://rest.fal.ai"
INITIATE = "/storage/upload/initiate?storage_type=gcs"
SUBMIT = "/fal-ai/sora-2/characters"
STATUS = "/fal-ai/sora-2/requests/{id}/status"
RESULT = "/fal-ai/sora-2/requests/{id}"
_WORKING = ("IN_QUEUE", "IN_PROGRESS")


class FalProvider(Provider):
    """fal (``--provider fal``)."""

    name = "fal"
    service = "fal"
    key_variable = "FAL_KEY"
    default_base = QUEUE_BASE
    needs_upload = True
    auth_scheme = "Key"

    def upload(self, path: Path) -> str:
        """Ask fal's storage for a signed upload URL, PUT the clip there; return its file URL."""
        storage = STORAGE_BASE if self.client.base_url == QUEUE_BASE else self.client.base_url
        answer = self.client.request(
            "POST",
            storage + INITIATE,
            json={"file_name": path.name, "content_type": "video/mp4"},
        )
        upload_url, file_url = answer.get("upload_url"), answer.get("file_url")
        if not (isinstance(upload_url, str) and upload_url and isinstance(file_url, str)):
            raise ServiceError(
                "fal's upload answer has no upload_url/file_url", code="bad_response"
            )
        try:
            check_base_url(upload_url)  # https (or loopback), no credentials inside
        except UsageError:
            raise ServiceError(
                "fal answered an upload URL that is not plain https; the clip was not sent",
                code="bad_response",
            ) from None
        data = path.read_bytes()  # bytes, not a handle: a retried PUT sends the clip again
        self.client.request(
            "PUT",
            upload_url,
            content=data,
            headers={"Content-Type": "video/mp4"},
            uploads=True,
            keyless=True,
        )
        return file_url

    def create(self, *, name: str, video_url: str | None, path: Path | None) -> Outcome:
        """Submit to the queue; fal answers with the request id to poll."""
        answer = self.client.request(
            "POST", SUBMIT, json={"video_url": video_url, "name": name}, creates=True
        )
        return Outcome(PENDING, self.answered_id(answer, "request_id", "request_id"))

    def poll(self, prediction_id: str) -> Outcome:
        """Read the request's status; once completed, fetch its result."""
        try:
            status = self.client.request("GET", STATUS.format(id=prediction_id))
        except ServiceGone:
            # The queue route is there (the submit reached it); this request is not.
            raise ServiceError(
                f"fal does not know request {prediction_id} (its status route answers not found)",
                code="request_unknown",
                hint="check your fal dashboard; `--force` submits the clip anew",
            ) from None
        state = status.get("status")
        if state in _WORKING:
            return Outcome(PENDING, prediction_id)
        if state != "COMPLETED":
            # The row stays pending: the next run asks again rather than paying again.
            raise ServiceError(
                f"fal answered an unknown status {str(state)[:40]!r} for {prediction_id}",
                code="bad_response",
                hint="run the same command again later",
            )
        if status.get("error"):
            kind = status.get("error_type")
            reason = str(status["error"]) + (f" ({kind})" if kind else "")
            return Outcome(FAILED, prediction_id, error=reason)
        return self._result(prediction_id)

    def _result(self, prediction_id: str) -> Outcome:
        try:
            answer = self.client.request("GET", RESULT.format(id=prediction_id))
        except ServiceError as exc:
            # A completed request whose result is refused (400/422: the clip or the name) is a
            # definite failure. A 5xx may be passing: the row stays pending, nothing is re-sent.
            if exc.code != "request_rejected":
                raise
            return Outcome(FAILED, prediction_id, error=exc.message)
        character = answer.get("id")
        if not isinstance(character, str) or not character:
            reason = detail_text(answer.get("detail")) or "completed without a character id"
            return Outcome(FAILED, prediction_id, error=reason)
        return Outcome(COMPLETED, prediction_id, character_id=character)
