"""``submit``: turn a clip into a character ID exactly once, and remember it.

1. The ledger is asked first: a completed submission of the same clip (by content hash), name and
   provider returns its character id with no request at all (a read-only ledger can answer).
2. The submission is *claimed* in the ledger, atomically, before anything else (see
   :meth:`clipprep._ledger.Ledger.claim`): a second process submitting the same clip and name
   waits for the first (bounded by the deadline) and answers with its result, or says the clip
   is being submitted by another process (pid). A claim left by a process that died is taken
   over: a pending one is polled again; one whose create request went unanswered is reported,
   never re-sent (``force`` starts anew).
3. Preflight: the clip is checked; a ``fixable`` clip is prepared first; a ``rejected`` one is
   not uploaded unless ``force``.
4. Upload (when the provider takes a URL), create, then wait for the result, each step
   bracketed by committed ledger writes. The ids the service answers are logged before they are
   written, so a failing disk cannot lose them. Every request has a total deadline
   (``request_deadline_s``), and so has the whole submission (``deadline_s``).

The API key comes from the provider's environment variable (or ``api_key``), trimmed and checked
for control characters; it is sent only in the ``Authorization`` header, and every string that
reaches a message or the ledger is redacted of it (raw, escaped and base64 forms).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ._errors import (
    AuthError,
    ClipprepError,
    InputError,
    LedgerError,
    OutcomeUnknown,
    PreflightError,
    ServiceError,
    StillPending,
    UsageError,
)
from ._files import sha256_file
from ._ledger import Claim, Ledger, Owner, Submission, owner_of
from ._options import Options, options_of, refuse_both
from ._profiles import Profile, get_profile
from ._verdict import name_problems
from ._vocab import Verdict
from .providers import COMPLETED, FAILED, Outcome, Provider, get_provider_class
from .providers.http import DEFAULT_REQUEST_DEADLINE_S, ApiClient, RetryPolicy

DEFAULT_POLL_DEADLINE_S = 600.0
_POLL_FIRST_S, _POLL_GROWTH, _POLL_MAX_S = 2.0, 1.5, 15.0
# How often a run waiting for another process's submission looks at the ledger.
_OWNER_POLL_S = 0.25


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
    client: ApiClient
    log: Callable[[str], None]
    poll_deadline_s: float
    poll_first_s: float
    deadline: float  # time.monotonic() by which the whole submission gives up
    owner: Owner

    def save(self, submission: Submission, **changes) -> Submission:
        """Write changes to the ledger, every string redacted of the key."""
        clean = {k: self.client.redact(v) if isinstance(v, str) else v for k, v in changes.items()}
        return self.ledger.update(submission, **clean)


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
    options: Options | None = None,
    analyzer=None,
    prepared_dir: str | os.PathLike | None = None,
    timeout: float = 30.0,
    poll_deadline_s: float = DEFAULT_POLL_DEADLINE_S,
    poll_first_s: float = _POLL_FIRST_S,
    request_deadline_s: float = DEFAULT_REQUEST_DEADLINE_S,
    deadline_s: float | None = None,
    retry: RetryPolicy | None = None,
    transport=None,
    log: Callable[[str], None] = _stderr,
) -> SubmitResult:
    """Create a character from ``path`` named ``name`` (see the module docstring).

    ``timeout``: seconds one read may wait; ``request_deadline_s``: seconds one request may take
    in all (four times that for a request carrying the clip); ``poll_deadline_s``: seconds to
    wait for the result; ``deadline_s``: seconds the whole submission may take, waiting for
    another process included (default: the poll deadline plus ten request deadlines).
    ``options`` (:class:`~clipprep._options.Options`) or ``analyzer`` (made from options; not
    both) say how the clip is checked before it is sent.

    Raises :class:`PreflightError`, :class:`UsageError`, :class:`InputError`,
    :class:`AuthError`, :class:`LedgerError`, :class:`OutcomeUnknown` or another
    :class:`ServiceError`.
    """
    clip = Path(path)
    provider_class = get_provider_class(provider)
    refuse_both(options, analyzer)
    _check_name(name, analyzer.profile if analyzer else options_of(options).rules())
    name = name.strip()  # validated trimmed, so sent trimmed
    key = api_key or os.environ.get(provider_class.key_variable, "")
    if not key.strip():
        raise AuthError(
            f"no API key for {provider_class.service}",
            hint=f"set {provider_class.key_variable}",
        )
    base = api_base or os.environ.get("CLIPPREP_API_BASE") or provider_class.default_base
    client = ApiClient(
        base,
        key,
        service=provider_class.service,
        key_variable=provider_class.key_variable,
        timeout=timeout,
        retry=retry,
        transport=transport,
        request_deadline_s=request_deadline_s,
        auth_scheme=provider_class.auth_scheme,
    )
    total = deadline_s if deadline_s is not None else poll_deadline_s + 10 * request_deadline_s
    client.deadline = time.monotonic() + total
    owned_ledger = not isinstance(ledger, Ledger)
    book = None
    try:
        if not clip.is_file():
            raise InputError(f"{clip}: no such file", hint="check the path")
        book = Ledger(ledger) if owned_ledger else ledger
        session = _Session(
            provider_class(client),
            book,
            client,
            lambda message: log(client.redact(message)),
            poll_deadline_s,
            poll_first_s,
            client.deadline,
            Owner.me(),
        )
        return _submit(
            session, clip, name, client.base_url, video_url, force, options, analyzer, prepared_dir
        )
    except ClipprepError as exc:
        raise _redacted(exc, client) from None
    finally:
        client.close()
        if owned_ledger and book is not None:
            book.close()


def _redacted(exc: ClipprepError, client: ApiClient) -> ClipprepError:
    """The same error with the key blanked out of its message and hint."""
    exc.message = client.redact(exc.message)
    exc.hint = client.redact(exc.hint) if exc.hint else exc.hint
    exc.args = (exc.message,)
    return exc


def _check_name(name: str, profile: Profile) -> None:
    problems = name_problems(name, profile)
    if problems:
        raise UsageError(problems[0].message, code="invalid_name", hint=problems[0].hint)


def _submit(session, clip, name, base, video_url, force, options, analyzer, prepared_dir):
    provider, book = session.provider, session.ledger
    digest = sha256_file(clip)
    if not force:  # a plain read: a read-only ledger answers too
        previous = book.latest(digest, name, provider.name)
        if previous is not None and previous.status == COMPLETED:
            return _answer(session, previous)
    claim = _claim(session, digest, clip, name, base, force)
    if claim.state == "done":
        return _answer(session, claim.submission)
    submission = claim.submission
    try:
        result = _go_on(
            session, submission, clip, name, video_url, force, options, analyzer, prepared_dir
        )
    finally:
        # The row keeps its status; whoever comes next continues from it. Failing to release
        # (a full disk) is harmless: a claim of a process that ended is stale.
        with contextlib.suppress(LedgerError):
            book.release(submission, session.owner)
    with contextlib.suppress(LedgerError):
        result.submission = book.get(submission.id)  # as released: no owner
    return result


def _answer(session, done: Submission) -> SubmitResult:
    session.log(f"already created: {done.character_id} (ledger #{done.id})")
    return SubmitResult(done, reused=True)


def _claim(session, digest, clip, name, base, force) -> Claim:
    """Own this submission in the ledger, waiting (bounded) while another process does."""
    while True:
        claim = session.ledger.claim(
            clip_sha256=digest,
            clip_path=str(clip),
            name=name,
            provider=session.provider.name,
            api_base=base,
            owner=session.owner,
            force=force,
        )
        if claim.state != "busy":
            return claim
        finished = _wait_for_owner(session, claim.submission, clip, name)
        if finished is not None and finished.status == FAILED:
            raise ServiceError(
                f"another process (pid {claim.submission.owner_pid}) submitted {clip.name} as "
                f"{name!r} at the same time, and it failed: {finished.error}",
                code="failed_elsewhere",
                hint="running the command again makes a new attempt",
            )


def _wait_for_owner(session, held: Submission, clip: Path, name: str) -> Submission | None:
    """Wait until the process owning ``held`` lets go of it (or dies); return the row then
    (None: the owner dropped it, its clip refused before anything was sent)."""
    pid = held.owner_pid
    session.log(
        f"{clip.name} as {name!r} is being submitted by another process (pid {pid}); "
        "waiting for its result"
    )
    while True:
        if time.monotonic() + _OWNER_POLL_S > session.deadline:
            raise StillPending(
                f"{clip.name} as {name!r} is still being submitted by another process "
                f"(pid {pid}, ledger #{held.id}); nothing was sent by this one",
                code="in_progress",
                hint="run the same command again later: it answers with that process's result",
            )
        time.sleep(_OWNER_POLL_S)
        try:
            row = session.ledger.get(held.id)
        except KeyError:
            return None
        if row.owner_pid != pid or row.owner_host != held.owner_host:
            return row
        if not owner_of(row).is_alive():
            return row


def _go_on(session, submission, clip, name, video_url, force, options, analyzer, prepared_dir):
    """Carry a claimed submission on from its status."""
    provider = session.provider
    if submission.status in ("creating", "unknown"):
        if submission.status == "creating":  # its process died with the request out
            submission = session.save(submission, status="unknown")
        raise OutcomeUnknown(
            f"ledger #{submission.id}: a create request for this clip and name was sent and its "
            "answer never recorded; the character may exist",
            hint="check your account first; `--force` creates a new one anyway",
        )
    if submission.status == "pending":
        session.log(f"resuming ledger #{submission.id}: waiting for {submission.prediction_id}")
        return SubmitResult(_wait(session, submission), reused=True)
    sent, verdict = submission.clip_path, None
    if submission.status != "uploaded":
        try:
            sent, verdict = _preflight(
                clip,
                name,
                video_url,
                force,
                options,
                analyzer,
                prepared_dir,
                submission.clip_sha256,
                session.log,
            )
        except ClipprepError:
            if submission.status == "claimed":  # nothing was ever sent: forget it
                session.ledger.discard(submission)
            raise
        uploaded = video_url or not provider.needs_upload
        submission = session.save(
            submission,
            clip_path=str(sent),
            status="uploaded" if uploaded else "uploading",
            upload_url=video_url,
        )
        if submission.status == "uploading":
            session.log(f"uploading {Path(sent).name} to {provider.service}")
            try:
                url = provider.upload(Path(sent))
            except ServiceError as exc:  # nothing was created: a new attempt may follow
                session.save(submission, status=FAILED, error=exc.message)
                raise
            submission = session.save(submission, status="uploaded", upload_url=url)
    submission = _create(session, submission, name, Path(sent))
    return SubmitResult(
        submission, reused=False, uploaded_path=str(sent), preflight_verdict=verdict
    )


def _preflight(clip, name, video_url, force, options, analyzer, prepared_dir, digest, log):
    """Check the clip; prepare it when that fixes it. Return (file to send, verdict)."""
    from ._export import prepare
    from ._pipeline import Analyzer

    owned = analyzer is None
    analyzer = analyzer or Analyzer(options)
    try:
        report = analyzer.check(clip, name=name)
        if report.verdict == Verdict.UNREADABLE:
            raise InputError(report.problems[0].message, hint=report.problems[0].hint)
        errors = ", ".join(p.code for p in report.errors)
        if report.verdict == Verdict.REJECTED and not force:
            raise PreflightError(
                f"{clip.name} is rejected ({errors}); it would make a poor character or be refused",
                hint="`clipprep check` says why; `--force` uploads it anyway",
            )
        if report.verdict != Verdict.FIXABLE:  # ready, or rejected and forced
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
        if result.verdict != Verdict.READY and not force:
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
    provider = session.provider
    # Committed before the request leaves: if we die now, the ledger says "maybe created".
    submission = session.save(submission, status="creating")
    session.log(f"creating character {name!r} with {provider.service}")
    try:
        outcome = provider.create(name=name, video_url=submission.upload_url, path=sent)
    except OutcomeUnknown as exc:
        session.save(submission, status="unknown", error=exc.message)
        raise
    except ServiceError as exc:  # a definite no: nothing was created
        session.save(submission, status=FAILED, error=exc.message)
        raise
    if outcome.status == COMPLETED:
        session.log(f"{provider.service} created {outcome.character_id}")
    elif outcome.prediction_id:
        # Said before it is written: if the disk is full, the id is still on the screen.
        session.log(f"{provider.service} is working on it ({outcome.prediction_id})")
    submission = _record(session, submission, outcome)
    if submission.status == "pending":
        submission = _wait(session, submission)
    return submission


def _record(session, submission: Submission, outcome: Outcome) -> Submission:
    try:
        return session.save(
            submission,
            status=outcome.status,
            prediction_id=outcome.prediction_id or submission.prediction_id,
            character_id=outcome.character_id,
            error=outcome.error,
        )
    except LedgerError as exc:
        ids = ", ".join(
            f"{label} {value}"
            for label, value in (
                ("prediction", outcome.prediction_id),
                ("character", outcome.character_id),
            )
            if value
        )
        raise LedgerError(
            f"{session.provider.service} answered ({ids or outcome.status}) but {exc.message}",
            code=exc.code,
            hint=f"keep this id; {exc.hint}",
        ) from None


def _wait(session, submission: Submission) -> Submission:
    """Poll with growing pauses until the character is done, failed, or the deadline passes."""
    provider, client = session.provider, session.client
    deadline = min(time.monotonic() + session.poll_deadline_s, session.deadline)
    client.deadline = deadline  # no poll request may outlast the wait
    pause = session.poll_first_s
    while True:
        try:
            outcome = provider.poll(submission.prediction_id)
        except ServiceError as exc:
            if exc.code != "deadline_exceeded":
                raise
            raise _still_pending(session, submission) from None
        submission = _record(session, submission, outcome)
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
            raise _still_pending(session, submission)
        time.sleep(pause)
        pause = min(_POLL_MAX_S, pause * _POLL_GROWTH)


def _still_pending(session, submission: Submission) -> StillPending:
    return StillPending(
        f"{session.provider.service} is still working on {submission.prediction_id} after "
        f"{session.poll_deadline_s:g} s",
        hint="run the same command again to keep waiting (nothing will be re-created)",
    )


# --- a batch's clips --------------------------------------------------------------------------


def character_names(clips: list[Path], policy: str) -> dict[str, str]:
    """Each clip's character name by ``policy``: its file's ``stem``, its ``parent`` folder's
    name, or ``csv:FILE`` (a CSV with the columns ``file`` and ``name``; ``file`` is the path
    as given or the file name). Invalid names are a :class:`UsageError` listing them, raised
    before anything is uploaded."""
    if policy.startswith("csv:"):
        table = _names_table(policy[4:])
        names = {str(c): table.get(str(c), table.get(c.name, "")) for c in clips}
    elif policy in ("stem", "parent"):
        names = {str(c): c.stem if policy == "stem" else c.parent.name for c in clips}
    else:
        raise UsageError(f"--name-from {policy!r}", hint="stem, parent or csv:FILE")
    bad = {c: n for c, n in names.items() if name_problems(n, get_profile(None))}
    if bad:
        # Names are echoed cut short: a 10,000-character name must not make a 10 KB message.
        listing = "; ".join(
            f"{Path(c).name[:60]}: {_shortened(n)}" for c, n in list(bad.items())[:5]
        )
        if len(bad) > 5:
            listing += f"; and {len(bad) - 5} more"
        raise UsageError(
            f"invalid character names: {listing}",
            code="invalid_name",
            hint="names must be 1–80 printable characters",
        )
    return names


def _shortened(name: str, limit: int = 40) -> str:
    """``name`` quoted, cut to ``limit`` characters with its length said when longer."""
    if len(name) <= limit:
        return repr(name)
    return f"{name[:limit]!r}… ({len(name)} characters)"


def _names_table(csv_path: str) -> dict[str, str]:
    """file -> name from a CSV with the columns ``file`` and ``name``."""
    import csv

    try:
        with open(csv_path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            columns = reader.fieldnames or []
            if "file" not in columns or "name" not in columns:
                found = ", ".join(repr(c[:40]) for c in columns[:6]) or "none"
                raise UsageError(
                    f"{Path(csv_path).name}: the CSV needs the columns file,name (found: {found})",
                    code="bad_names_csv",
                    hint="its first line must be: file,name",
                )
            return {row["file"] or "": (row["name"] or "").strip() for row in reader}
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(
            f"{Path(csv_path).name}: cannot read the names CSV ({exc})",
            code="bad_names_csv",
            hint="a UTF-8 CSV with the columns file,name",
        ) from None


def submit_many(
    results, names: dict[str, str], *, options: Options | None = None, **submit_args
) -> Iterator[tuple[str, str, SubmitResult | ClipprepError]]:
    """Create a character for each ready or fixable clip among a batch's ``results``
    (:class:`~clipprep._batch.BatchResult`), named by ``names`` (path -> name, see
    :func:`character_names`), with one analyzer for all. Yields ``(path, name, outcome)`` per
    clip submitted: its :class:`SubmitResult`, or the :class:`ClipprepError` that stopped it
    (one clip's failure does not stop the others). ``submit_args`` go to :func:`submit`."""
    from ._pipeline import Analyzer

    with Analyzer(options) as analyzer:
        for result in results:
            if result.verdict not in (Verdict.READY, Verdict.FIXABLE):
                continue
            name = names[result.path]
            try:
                outcome = submit(result.path, name=name, analyzer=analyzer, **submit_args)
            except ClipprepError as exc:
                outcome = exc
            yield result.path, name, outcome
