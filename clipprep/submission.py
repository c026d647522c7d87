"""``submit``: turn a clip into a character ID exactly once, and remember it.

1. Preflight: the clip is checked; a ``fixable`` clip is prepared first; a ``rejected`` one is
   not uploaded unless ``force``.
2. The ledger is asked first: a completed submission of the same clip (by content hash), name and
   provider returns its character id with no request at all; a pending one is polled again; one
   whose create request went unanswered is reported, never re-sent (``force`` starts anew).
3. Upload (when the provider takes a URL), create, then wait for the result under a deadline,
   each step bracketed by committed ledger writes (see :mod:`clipprep.ledger`).

The API key comes from the provider's environment variable (or ``api_key``); it is sent only in
the ``Authorization`` header and appears in no output, error, report or ledger row.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import AuthError, ClipprepError, InputError, OutcomeUnknown, ServiceError, UsageError
from .files import sha256_file
from .ledger import Ledger, Submission
from .profiles import Profile, get_profile
from .providers import COMPLETED, FAILED, Outcome, Provider, get_provider_class
from .providers.http import ApiClient, RetryPolicy
from .verdict import name_problems

DEFAULT_POLL_DEADLINE_S = 600.0
_POLL_FIRST_S, _POLL_GROWTH, _POLL_MAX_S = 2.0, 1.5, 15.0


class PreflightError(ClipprepError):
    """The clip should not be uploaded (it would make a bad character, or be refused)."""

    default_code = "preflight_rejected"


@dataclass
class SubmitResult:
    """What ``submit`` did and what it got."""

    submission: Submission
    reused: bool  # True: answered from the ledger, no create request was sent
    uploaded_path: str | None = None  # the file sent (the prepared one when prepare ran)
    preflight_verdict: str | None = None

    @property
    def character_id(self) -> str | None:
        """The character id (None unless completed)."""
        return self.submission.character_id

    def to_dict(self) -> dict:
        """JSON-ready data: the ledger row, whether it was reused, the preflight verdict."""
        return {
            "character_id": self.character_id,
            "status": self.submission.status,
            "reused": self.reused,
            "uploaded_path": self.uploaded_path,
            "preflight_verdict": self.preflight_verdict,
            "submission": self.submission.to_dict(),
        }


def _stderr(message: str) -> None:
    import sys

    print(f"clipprep: {message}", file=sys.stderr, flush=True)


@dataclass
class _Session:
    """Everything one submit call needs, resolved once."""

    provider: Provider
    ledger: Ledger
    log: Callable[[str], None]
    poll_deadline_s: float
    poll_first_s: float


def submit(
    path: str | os.PathLike,
    *,
    name: str,
    provider: str = "wavespeed",
    api_base: str | None = None,
    api_key: str | None = None,
    video_url: str | None = None,
    ledger: str | os.PathLike | Ledger | None = None,
    force: bool = False,
    profile: str | Profile | None = None,
    analyzer=None,
    prepared_dir: str | os.PathLike | None = None,
    timeout: float = 30.0,
    poll_deadline_s: float = DEFAULT_POLL_DEADLINE_S,
    poll_first_s: float = _POLL_FIRST_S,
    retry: RetryPolicy | None = None,
    transport=None,
    log: Callable[[str], None] = _stderr,
) -> SubmitResult:
    """Create a character from ``path`` named ``name`` (see the module docstring).

    Raises :class:`PreflightError`, :class:`UsageError`, :class:`InputError`,
    :class:`AuthError`, :class:`OutcomeUnknown` or another :class:`ServiceError`.
    """
    clip = Path(path)
    provider_class = get_provider_class(provider)
    _check_name(name, profile)
    key = api_key or os.environ.get(provider_class.key_variable, "")
    if not key:
        raise AuthError(
            f"no API key for {provider_class.service}",
            hint=f"set {provider_class.key_variable}",
        )
    base = api_base or os.environ.get("CLIPPREP_API_BASE") or provider_class.default_base
    if not clip.is_file():
        raise InputError(f"{clip}: no such file", hint="check the path")
    client = ApiClient(
        base,
        key,
        service=provider_class.service,
        key_variable=provider_class.key_variable,
        timeout=timeout,
        retry=retry,
        transport=transport,
    )
    owned_ledger = not isinstance(ledger, Ledger)
    book = Ledger(ledger) if owned_ledger else ledger
    try:
        session = _Session(provider_class(client), book, log, poll_deadline_s, poll_first_s)
        return _submit(
            session, clip, name, client.base_url, video_url, force, profile, analyzer, prepared_dir
        )
    finally:
        client.close()
        if owned_ledger:
            book.close()


def _check_name(name: str, profile: str | Profile | None) -> None:
    problems = name_problems(name, get_profile(profile))
    if problems:
        raise UsageError(problems[0].message, code="invalid_name", hint=problems[0].hint)


def _submit(session, clip, name, base, video_url, force, profile, analyzer, prepared_dir):
    provider, book = session.provider, session.ledger
    digest = sha256_file(clip)
    previous = None if force else book.latest(digest, name, provider.name)
    if previous is not None:
        resumed = _resume(session, previous)
        if resumed is not None:
            return resumed
    if previous is not None and previous.status == "uploaded":
        submission, sent, verdict = previous, previous.clip_path, None
    else:
        sent, verdict = _preflight(
            clip, name, video_url, force, profile, analyzer, prepared_dir, digest, session.log
        )
        submission = book.start(
            clip_sha256=digest,
            clip_path=str(sent),
            name=name,
            provider=provider.name,
            api_base=base,
            status="uploaded" if video_url or not provider.needs_upload else "uploading",
            upload_url=video_url,
        )
        if submission.status == "uploading":
            session.log(f"uploading {Path(sent).name} to {provider.service}")
            url = provider.upload(Path(sent))
            submission = book.update(submission, status="uploaded", upload_url=url)
    submission = _create(session, submission, name, Path(sent))
    return SubmitResult(
        submission, reused=False, uploaded_path=str(sent), preflight_verdict=verdict
    )


def _resume(session, previous: Submission) -> SubmitResult | None:
    """Answer from the ledger where it can; None means: start a new submission."""
    if previous.status == COMPLETED:
        session.log(f"already created: {previous.character_id} (ledger #{previous.id})")
        return SubmitResult(previous, reused=True)
    if previous.status == "pending":
        session.log(f"resuming ledger #{previous.id}: waiting for {previous.prediction_id}")
        return SubmitResult(_wait(session, previous), reused=True)
    if previous.status in ("creating", "unknown"):
        raise OutcomeUnknown(
            f"ledger #{previous.id}: a create request for this clip and name was sent and its "
            "answer was lost; the character may exist",
            hint="check your account first; `--force` creates a new one anyway",
        )
    return None  # uploading (redo it), uploaded (create next), failed (try again)


def _preflight(clip, name, video_url, force, profile, analyzer, prepared_dir, digest, log):
    """Check the clip; prepare it when that fixes it. Return (file to send, verdict)."""
    from .export import prepare
    from .pipeline import Analyzer

    owned = analyzer is None
    analyzer = analyzer or Analyzer(profile=profile)
    try:
        report = analyzer.check(clip, name=name)
        if report.verdict == "unreadable":
            raise InputError(report.problems[0].message, hint=report.problems[0].hint)
        errors = ", ".join(p.code for p in report.errors)
        if report.verdict == "rejected" and not force:
            raise PreflightError(
                f"{clip.name} is rejected ({errors}); it would make a poor character or be refused",
                hint="`clipprep check` says why; `--force` uploads it anyway",
            )
        if report.verdict != "fixable":  # ready, or rejected and forced
            return str(clip), report.verdict
        if video_url:
            raise PreflightError(
                f"{clip.name} needs preparing ({errors}) but --video-url points at a hosted copy",
                hint="host the output of `clipprep prepare` instead, or pass --force",
            )
        folder = Path(prepared_dir) if prepared_dir else _prepared_folder()
        folder.mkdir(parents=True, exist_ok=True)
        log(f"{clip.name} is fixable ({errors}): preparing it first")
        result = prepare(
            clip, folder / f"{digest[:16]}.mp4", force=True, name=name, analyzer=analyzer
        )
        if result.verdict != "ready" and not force:
            raise PreflightError(
                f"the prepared clip is still {result.verdict}",
                hint=f"`clipprep check {result.output}` says why",
            )
        return result.output, report.verdict
    finally:
        if owned:
            analyzer.close()


def _prepared_folder() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("clipprep")) / "prepared"


def _create(session, submission: Submission, name: str, sent: Path) -> Submission:
    provider, book = session.provider, session.ledger
    # Committed before the request leaves: if we die now, the ledger says "maybe created".
    submission = book.update(submission, status="creating")
    session.log(f"creating character {name!r} with {provider.service}")
    try:
        outcome = provider.create(name=name, video_url=submission.upload_url, path=sent)
    except OutcomeUnknown as exc:
        book.update(submission, status="unknown", error=exc.message)
        raise
    except ServiceError as exc:  # a definite no: nothing was created
        book.update(submission, status=FAILED, error=exc.message)
        raise
    submission = _record(book, submission, outcome)
    if submission.status == "pending":
        session.log(f"{provider.service} is working on it ({outcome.prediction_id})")
        submission = _wait(session, submission)
    return submission


def _record(book: Ledger, submission: Submission, outcome: Outcome) -> Submission:
    return book.update(
        submission,
        status=outcome.status,
        prediction_id=outcome.prediction_id or submission.prediction_id,
        character_id=outcome.character_id,
        error=outcome.error,
    )


def _wait(session, submission: Submission) -> Submission:
    """Poll with growing pauses until the character is done, failed, or the deadline passes."""
    provider, book = session.provider, session.ledger
    deadline = time.monotonic() + session.poll_deadline_s
    pause = session.poll_first_s
    while True:
        outcome = provider.poll(submission.prediction_id)
        submission = _record(book, submission, outcome)
        if submission.status == COMPLETED:
            session.log(f"created {submission.character_id}")
            return submission
        if submission.status == FAILED:
            raise ServiceError(
                f"{provider.service} could not create the character: {submission.error}",
                code="prediction_failed",
                hint="`clipprep check` the clip; running the command again makes a new attempt",
            )
        if time.monotonic() + pause > deadline:
            raise ServiceError(
                f"{provider.service} is still working on {submission.prediction_id} after "
                f"{session.poll_deadline_s:g} s",
                code="still_pending",
                hint="run the same command again to keep waiting (nothing will be re-created)",
            )
        time.sleep(pause)
        pause = min(_POLL_MAX_S, pause * _POLL_GROWTH)
