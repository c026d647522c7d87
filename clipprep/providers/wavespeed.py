"""WaveSpeed's Sora 2 Characters: upload the clip, create from its URL, poll the prediction.

Routes (base ``https://api.wavespeed.ai``, ``Authorization: Bearer $WAVESPEED_API_KEY``):
``POST /api/v3/media/upload/binary`` (multipart ``file``) -> ``data.download_url``;
``POST /api/v3/openai/sora-2/characters`` (JSON ``video``, ``name``) -> ``data.id``,
``data.status``; ``GET /api/v3/predictions/{id}/result`` -> ``data.status`` (``created``,
``processing``, ``completed``, ``failed``), ``data.outputs`` (``[{"id": "char_…", "name"}]``),
``data.error``.
"""

from __future__ import annotations

from pathlib import Path

from .._errors import ServiceError
from . import COMPLETED, FAILED, PENDING, Outcome, Provider

UPLOAD = "/api/v3/media/upload/binary"
CREATE = "/api/v3/openai/sora-2/characters"
RESULT = "/api/v3/predictions/{id}/result"


class WaveSpeedProvider(Provider):
    """WaveSpeed (the default)."""

    name = "wavespeed"
    service = "WaveSpeed"
    key_variable = "WAVESPEED_API_KEY"
    default_base = "https://api.wavespeed.ai"
    needs_upload = True

    def upload(self, path: Path) -> str:
        """Upload the clip as multipart ``file``; return ``data.download_url``."""
        with open(path, "rb") as handle:
            data = self.client.request(
                "POST", UPLOAD, files={"file": (path.name, handle, "video/mp4")}, uploads=True
            )
        url = _data(data).get("download_url")
        if not isinstance(url, str) or not url:
            raise ServiceError("WaveSpeed's upload answer has no download_url", code="bad_response")
        return url

    def create(self, *, name: str, video_url: str | None, path: Path | None) -> Outcome:
        """Create from the uploaded clip's URL; WaveSpeed answers with a prediction id."""
        answer = self.client.request(
            "POST", CREATE, json={"video": video_url, "name": name}, creates=True
        )
        # A 200 without the data object is no "no": the create was taken, its id unknown.
        data = answer.get("data") if isinstance(answer.get("data"), dict) else {}
        return _outcome(self.answered_id(data, "id", "prediction id"), data)

    def poll(self, prediction_id: str) -> Outcome:
        """Read the prediction's result."""
        data = _data(self.client.request("GET", RESULT.format(id=prediction_id)))
        return _outcome(prediction_id, data)


def _data(answer: dict) -> dict:
    data = answer.get("data")
    if not isinstance(data, dict):
        raise ServiceError("WaveSpeed's answer has no data object", code="bad_response")
    return data


def _outcome(prediction_id: str, data: dict) -> Outcome:
    status = data.get("status")
    if status == "completed":
        outputs = data.get("outputs") or []
        first = outputs[0] if outputs and isinstance(outputs[0], dict) else {}
        character = first.get("id")
        if not character:
            return Outcome(FAILED, prediction_id, error="completed without a character id")
        return Outcome(COMPLETED, prediction_id, character_id=str(character))
    if status == "failed":
        return Outcome(FAILED, prediction_id, error=str(data.get("error") or "failed"))
    return Outcome(PENDING, prediction_id)
