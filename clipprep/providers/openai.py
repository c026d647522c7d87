"""OpenAI's own characters endpoint: one multipart request, answered at once.

``POST {base}/v1/videos/characters`` (base ``https://api.openai.com``,
``Authorization: Bearer $OPENAI_API_KEY``), multipart ``video`` (the file) and ``name`` ->
``{"id", "name", "created_at"}``. Errors come as ``{"error": {"code", "message", "type",
"param"}}``. OpenAI has announced the shutdown of this API and refuses real human likeness by
default (the ``openai-characters`` profile warns about it).
"""

from __future__ import annotations

from pathlib import Path

from .._errors import UsageError
from . import COMPLETED, Outcome, Provider

CREATE = "/v1/videos/characters"


class OpenAIProvider(Provider):
    """OpenAI (``--provider openai``)."""

    name = "openai"
    service = "OpenAI"
    key_variable = "OPENAI_API_KEY"
    default_base = "https://api.openai.com"
    needs_upload = False

    def create(self, *, name: str, video_url: str | None, path: Path | None) -> Outcome:
        """Send the file and the name; the answer is the character."""
        if path is None:
            raise UsageError("OpenAI takes the clip itself, not a URL", hint="drop --video-url")
        with open(path, "rb") as handle:
            data = self.client.request(
                "POST",
                CREATE,
                files={"video": (path.name, handle, "video/mp4")},
                data={"name": name},
                creates=True,
                uploads=True,
            )
        return Outcome(COMPLETED, character_id=self.answered_id(data, "id", "character id"))
