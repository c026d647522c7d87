"""Characters APIs behind one small interface: upload if needed, create, wait for the result.

A provider module defines a :class:`Provider` subclass and adds it to :data:`PROVIDERS`; the
routes, field names and response shapes of each service live in its module and nowhere else.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from .._errors import OutcomeUnknown, UsageError
from .http import ApiClient

PENDING, COMPLETED, FAILED = "pending", "completed", "failed"


@dataclass(frozen=True)
class Outcome:
    """What the service said about a character: still working, done (with its id), or failed."""

    status: str  # "pending" | "completed" | "failed"
    prediction_id: str | None = None
    character_id: str | None = None
    error: str | None = None


class Provider(ABC):
    """One characters service."""

    name: str
    service: str  # how messages name it
    key_variable: str  # the environment variable holding its API key
    default_base: str
    needs_upload: bool  # True when create takes a URL, so a local file is uploaded first
    auth_scheme: str = "Bearer"  # Authorization: <scheme> <key>

    def __init__(self, client: ApiClient):
        self.client = client

    def upload(self, path: Path) -> str:
        """Upload a local clip; return the URL the service can fetch it from."""
        raise NotImplementedError(f"{self.name} takes the file in the create request")

    @abstractmethod
    def create(self, *, name: str, video_url: str | None, path: Path | None) -> Outcome:
        """Ask for a character (the billable step); may complete at once or be pending."""

    def poll(self, prediction_id: str) -> Outcome:
        """Ask how a pending character is doing."""
        raise NotImplementedError(f"{self.name} answers create at once")

    def answered_id(self, answer: dict, field: str, what: str) -> str:
        """The id a create answer must hold; without it the outcome is unknown (the service
        took the request, so the character may exist)."""
        value = answer.get(field)
        if not isinstance(value, str) or not value:
            raise OutcomeUnknown(
                f"{self.service} accepted the create request but its answer has no {what}",
                hint="check your account before retrying; `--force` creates anew",
            )
        return value


def get_provider_class(name: str) -> type[Provider]:
    """The provider class registered under ``name``."""
    try:
        return PROVIDERS[name]
    except KeyError:
        raise UsageError(
            f"unknown provider {name!r}", hint=f"one of: {', '.join(sorted(PROVIDERS))}"
        ) from None


# Imported last: each provider module builds on the names defined above.
from .fal import FalProvider  # noqa: E402
from .openai import OpenAIProvider  # noqa: E402
from .wavespeed import WaveSpeedProvider  # noqa: E402

PROVIDERS: dict[str, type[Provider]] = {
    p.name: p for p in (WaveSpeedProvider, OpenAIProvider, FalProvider)
}
DEFAULT_PROVIDER = WaveSpeedProvider.name
