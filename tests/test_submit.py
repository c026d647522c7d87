"""clipprep submit over real HTTP against a local fake API with injected faults."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from fake_api import API_KEY, CHARACTER_PREFIX, KEY_VARIABLE, QUEUED, FakeApi, run_clipprep
from synth import Segment

from clipprep._errors import (
    AuthError,
    OutcomeUnknown,
    PreflightError,
    ServiceError,
    ServiceGone,
    UsageError,
)
from clipprep._ledger import Ledger
from clipprep._submission import submit
from clipprep.providers.http import RetryPolicy

FAST = RetryPolicy(attempts=4, base_delay_s=0.01, max_delay_s=0.05)
ENTRY = os.path.join(os.path.dirname(sys.executable), "clipprep")


@pytest.fixture
def ledger_path(tmp_path):
    return tmp_path / "ledger.sqlite3"


@pytest.fixture
def send(api, ledger_path, analyzer, tmp_path):
    """submit() against the fake API with fast retries and polls; keyword overrides."""

    def run(clip, name="Joe", **overrides):
        options = dict(
            name=name,
            api_base=api.base_url,
            api_key=API_KEY,
            ledger=ledger_path,
            analyzer=analyzer,
            prepared_dir=tmp_path / "prepared",
            retry=FAST,
            poll_first_s=0.02,
            poll_deadline_s=5,
            timeout=5,
            log=lambda message: None,
        )
        options.update(overrides)
        return submit(clip, **options)

    return run


def rows(ledger_path):
    with Ledger(ledger_path) as book:
        return book.all()


# Tests marked with this run once per provider that uploads and then polls a queued request.
each_queued = pytest.mark.parametrize("provider", QUEUED)


@each_queued
def test_creates_once_and_answers_again_from_the_ledger(
    api, send, ready_clip, ledger_path, provider
):
    first = send(ready_clip, provider=provider)
    assert first.character_id.startswith(CHARACTER_PREFIX[provider])
    assert first.submission.owner_pid is None  # released when done
    assert (api.create_calls, api.created) == (1, 1)
    assert api.requests.index("upload") < api.requests.index("create")
    seen = len(api.requests)
    again = send(ready_clip, provider=provider)
    assert again.reused and again.character_id == first.character_id
    assert len(api.requests) == seen  # no request at all
    [row] = rows(ledger_path)
    assert row.status == "completed" and row.upload_url and row.prediction_id


def test_openai_provider(api, send, ready_clip):
    result = send(ready_clip, name="Ann", provider="openai")
    assert result.character_id.startswith("char_oa")
    assert api.requests == ["openai"]


@each_queued
def test_rejected_key_is_a_clear_error_without_the_key(api, send, ready_clip, provider):
    with pytest.raises(AuthError) as error:
        send(ready_clip, api_key="sk-wrong-Zq8SECRET-9999", provider=provider)
    text = f"{error.value.message} {error.value.hint}"
    assert "401" in text and KEY_VARIABLE[provider] in text
    assert "sk-wrong-Zq8SECRET-9999" not in text
    assert api.created == 0


def test_missing_key_says_which_variable(send, ready_clip, monkeypatch):
    monkeypatch.delenv("WAVESPEED_API_KEY", raising=False)
    with pytest.raises(AuthError) as error:
        send(ready_clip, api_key=None)
    assert "WAVESPEED_API_KEY" in error.value.hint


@each_queued
def test_429_with_retry_after_is_honoured(api, send, ready_clip, provider):
    api.fault("create", ("status", 429, {"Retry-After": "1"}))
    started = time.monotonic()
    result = send(ready_clip, provider=provider)
    assert time.monotonic() - started >= 1.0
    assert result.character_id and (api.create_calls, api.created) == (2, 1)


@each_queued
def test_503_is_retried_500_is_not(api, send, ready_clip, ledger_path, provider):
    api.fault("create", ("status", 503), ("status", 503))
    assert send(ready_clip, provider=provider).character_id
    assert (api.create_calls, api.created) == (3, 1)
    api.fault("create", ("status", 500))
    with pytest.raises(OutcomeUnknown):
        send(ready_clip, name="Other", provider=provider)
    assert api.create_calls == 4  # a 500 may hide a created character: never re-sent


@each_queued
@pytest.mark.parametrize(
    "fault",
    [("slow", 3), ("reset",), ("malformed",), ("html",), ("huge", 20)],
    ids=lambda f: f[0],
)
def test_lost_create_answer_is_unknown_and_never_resent(
    api, send, ready_clip, ledger_path, fault, provider
):
    api.fault("create", fault)
    with pytest.raises(OutcomeUnknown) as error:
        send(ready_clip, timeout=1, provider=provider)
    assert "check your" in error.value.hint
    assert (api.create_calls, api.created) == (1, 1)
    assert rows(ledger_path)[0].status == "unknown"
    # Running it again does not re-send: the ledger remembers the lost answer.
    with pytest.raises(OutcomeUnknown):
        send(ready_clip, provider=provider)
    assert api.create_calls == 1
    # --force creates anew, knowingly.
    assert send(ready_clip, force=True, provider=provider).character_id
    assert api.create_calls == 2


@pytest.mark.parametrize("provider", [*QUEUED, "openai"])
def test_create_answer_without_an_id_is_unknown(api, send, ready_clip, ledger_path, provider):
    api.fault("openai" if provider == "openai" else "create", ("answer", {"status": "ok"}))
    with pytest.raises(OutcomeUnknown) as error:
        send(ready_clip, provider=provider)
    assert "accepted the create request but its answer has no" in error.value.message
    assert rows(ledger_path)[0].status == "unknown" and api.created == 1


@each_queued
def test_flaky_polls_are_retried(api, send, ready_clip, provider):
    api.polls_before_done = 2
    api.fault("result", ("status", 503), ("reset",), ("status", 502))
    assert send(ready_clip, provider=provider).character_id
    assert api.created == 1


@each_queued
def test_failed_prediction_then_a_new_attempt(api, send, ready_clip, ledger_path, provider):
    api.prediction_mode = "fail"
    with pytest.raises(ServiceError) as error:
        send(ready_clip, provider=provider)
    assert error.value.code == "prediction_failed" and "no face found" in error.value.message
    [row] = rows(ledger_path)
    assert row.status == "failed" and "no face found" in row.error and row.prediction_id
    api.prediction_mode = "complete"
    assert send(ready_clip, provider=provider).character_id
    assert api.created == 2


@each_queued
def test_prediction_that_stays_processing_keeps_its_place(api, send, ready_clip, provider):
    api.prediction_mode = "stay"
    with pytest.raises(ServiceError) as error:
        send(ready_clip, poll_deadline_s=0.3, provider=provider)
    assert error.value.code == "still_pending"
    api.prediction_mode = "complete"
    result = send(ready_clip, provider=provider)
    assert result.reused and result.character_id
    assert api.create_calls == 1


@each_queued
@pytest.mark.parametrize("status", [404, 410])
def test_retired_route_says_so_at_once(api, send, ready_clip, provider, status):
    api.fault("create", ("status", status))
    with pytest.raises(ServiceGone) as error:
        send(ready_clip, provider=provider)
    assert "no longer offers characters" in error.value.message
    assert api.requests.count("create") == 1


def test_unreachable_service(send, ready_clip):
    with pytest.raises(ServiceError) as error:
        send(ready_clip, api_base="http://127.0.0.1:9")
    assert error.value.code == "service_unreachable"


def test_plain_http_is_refused_off_loopback(send, ready_clip):
    with pytest.raises(UsageError):
        send(ready_clip, api_base="http://api.example.com")


def test_rejected_clip_is_not_uploaded(api, send, make_clip):
    dark = make_clip("dark_submit.mp4", [Segment(3.0, "face", brightness=0.12)])
    with pytest.raises(PreflightError):
        send(dark)
    assert api.requests == []


def test_fixable_clip_is_prepared_before_upload(api, send, long_clip):
    result = send(long_clip)
    assert result.preflight_verdict == "fixable"
    assert result.uploaded_path != str(long_clip)
    assert api.uploads and api.uploads[0] < long_clip.stat().st_size
    assert result.character_id


def test_invalid_name_is_refused_before_anything(api, send, ready_clip):
    with pytest.raises(UsageError):
        send(ready_clip, name="x" * 81)
    assert api.requests == []


cli = run_clipprep


def submit_cli(api, clip, ledger, *extra, name="Joe", **kwargs):
    """``clipprep submit CLIP --name NAME --ledger LEDGER --api-base FAKE ...``."""
    args = ("submit", str(clip), "--name", name, "--ledger", str(ledger))
    return cli(*args, "--api-base", api.base_url, *extra, **kwargs)


def test_killed_mid_poll_resumes_without_a_second_create(api, ready_clip, ledger_path):
    api.prediction_mode = "stay"
    env = {**os.environ, "WAVESPEED_API_KEY": API_KEY, "CLIPPREP_API_BASE": api.base_url}
    args = [ENTRY, "submit", str(ready_clip), "--name", "Joe", "--ledger", str(ledger_path)]
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not _status_is(ledger_path, "pending"):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    api.prediction_mode = "complete"
    again = cli(
        "submit",
        str(ready_clip),
        "--name",
        "Joe",
        "--ledger",
        str(ledger_path),
        env_extra={"CLIPPREP_API_BASE": api.base_url},
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("char_pred_")
    assert api.create_calls == 1
    assert API_KEY not in again.stdout + again.stderr

    listing = cli("characters", "list", "--ledger", str(ledger_path))
    assert "char_pred_" in listing.stdout and "completed" in listing.stdout
    shown = cli(
        "characters", "show", again.stdout.split()[0], "--ledger", str(ledger_path), "--json"
    )
    assert '"status": "completed"' in shown.stdout
    assert API_KEY not in listing.stdout + shown.stdout
    assert API_KEY.encode() not in ledger_path.read_bytes()


def _status_is(ledger_path, status: str) -> bool:
    if not ledger_path.exists():
        return False
    try:
        with sqlite3.connect(ledger_path, timeout=1) as db:
            row = db.execute("SELECT status FROM submissions ORDER BY id DESC LIMIT 1").fetchone()
    except sqlite3.OperationalError:
        return False
    return row is not None and row[0] == status


def test_cli_errors_are_one_line_and_keep_the_key_secret(api, ready_clip, ledger_path):
    result = cli(
        "submit",
        str(ready_clip),
        "--name",
        "Joe",
        "--ledger",
        str(ledger_path),
        "--api-base",
        api.base_url,
        env_extra={"WAVESPEED_API_KEY": "sk-bad-Zq8SECRET"},
    )
    assert result.returncode == 7
    assert "the API key was rejected (401)" in result.stderr
    assert "sk-bad-Zq8SECRET" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


@each_queued
def test_huge_answer_to_a_read_is_refused_not_swallowed(api, send, ready_clip, provider):
    api.fault("upload", ("huge", 20), ("huge", 20), ("huge", 20), ("huge", 20))
    with pytest.raises(ServiceError) as error:
        send(ready_clip, provider=provider)
    assert error.value.code == "bad_response" and "MiB" in error.value.message
    assert api.created == 0


def test_redirect_is_not_followed_and_the_key_stays_home(api, send, ready_clip):
    elsewhere = FakeApi().start()
    try:
        api.fault("create", ("redirect", f"{elsewhere.base_url}/api/v3/openai/sora-2/characters"))
        with pytest.raises(ServiceError) as error:
            send(ready_clip)
        assert error.value.code == "redirected"
        assert elsewhere.requests == []  # nothing, so no key, reached the other host
        assert api.created == 0
    finally:
        elsewhere.stop()


# --- secrets ---------------------------------------------------------------------------------


@pytest.mark.parametrize("tail", ["\n", "\r", "\r\n", " "])
def test_key_with_a_copied_line_break_is_trimmed(api, send, ready_clip, tail):
    assert send(ready_clip, api_key=API_KEY + tail).character_id
    assert api.created == 1


def test_key_with_a_control_character_inside_is_refused_without_echo(api, send, ready_clip):
    with pytest.raises(UsageError) as error:
        send(ready_clip, api_key="sk-test-\x1bZq8SECRET")
    assert error.value.code == "invalid_api_key"
    assert "control character" in error.value.message and "WAVESPEED_API_KEY" in error.value.hint
    assert "Zq8SECRET" not in f"{error.value.message} {error.value.hint}"
    assert api.requests == []


def test_key_echoed_by_a_failed_prediction_is_redacted_everywhere(api, ready_clip, ledger_path):
    import base64

    encoded = base64.b64encode(API_KEY.encode()).decode()
    api.prediction_mode = "fail"
    api.prediction_error = f"bad input (key {API_KEY!r}, auth {encoded}, raw {API_KEY})"
    result = submit_cli(
        api, ready_clip, ledger_path, env_extra={"WAVESPEED_API_KEY": API_KEY + "\n"}
    )
    assert result.returncode == 7, result.stderr
    assert "could not create the character: bad input" in result.stderr
    shown = cli("characters", "show", "1", "--ledger", str(ledger_path))
    listing = cli("characters", "list", "--ledger", str(ledger_path), "--json")
    text = result.stdout + result.stderr + shown.stdout + shown.stderr + listing.stdout
    assert "***" in shown.stdout
    for secret in (API_KEY, encoded.rstrip("=")):
        assert secret not in text
        assert secret.encode() not in ledger_path.read_bytes()


def test_credentials_in_the_base_url_are_refused(api, ready_clip, ledger_path):
    base = api.base_url.replace("http://", "http://someone:hunter2pw@")
    result = submit_cli(api, ready_clip, ledger_path, "--api-base", base)
    assert result.returncode == 2
    assert "error [credentials_in_url]" in result.stderr
    assert "hunter2pw" not in result.stdout + result.stderr
    assert api.requests == []
    assert not ledger_path.exists() or b"hunter2pw" not in ledger_path.read_bytes()


# --- bounded waits ---------------------------------------------------------------------------


def test_a_trickling_poll_is_cut_at_the_wait(api, ready_clip, ledger_path):
    api.fault("result", ("trickle", 1.0))
    started = time.monotonic()
    result = submit_cli(api, ready_clip, ledger_path, "--wait", "5", timeout=120)
    elapsed = time.monotonic() - started
    assert result.returncode == 8, result.stderr
    assert (
        "error [still_pending]" in result.stderr and "run the same command again" in result.stderr
    )
    assert rows(ledger_path)[0].status == "pending"
    again = submit_cli(api, ready_clip, ledger_path)
    assert again.returncode == 0 and again.stdout.startswith("char_pred_")
    assert api.create_calls == 1
    print(f"trickled poll with --wait 5 ended after {elapsed:.1f} s")


def test_a_trickling_create_is_cut_at_the_request_deadline(api, ready_clip, ledger_path):
    api.fault("create", ("trickle", 1.0))
    result = submit_cli(api, ready_clip, ledger_path, "--timeout", "4", timeout=120)
    assert result.returncode == 8, result.stderr
    assert "error [outcome_unknown]" in result.stderr and "in time" in result.stderr
    assert rows(ledger_path)[0].status == "unknown"  # the honest state: it may exist
    assert api.create_calls == 1


@each_queued
@pytest.mark.parametrize(
    "refusal", [("status", 429, {"Retry-After": "30"}), ("status", 503, {"Retry-After": "30"})]
)
def test_a_deadline_during_refused_creates_is_no_unknown_outcome(
    api, send, ready_clip, ledger_path, provider, refusal
):
    # The service said "not now" (429/503: it did not act) and asked for a wait past the
    # deadline: nothing was created, so this is a plain deadline error a re-run may retry.
    api.fault("create", refusal)
    with pytest.raises(ServiceError) as error:
        send(ready_clip, deadline_s=3, provider=provider)
    assert not isinstance(error.value, OutcomeUnknown)
    assert error.value.code == "deadline_exceeded"
    assert api.created == 0 and rows(ledger_path)[0].status == "failed"
    assert send(ready_clip, provider=provider).character_id
    assert api.created == 1


@each_queued
def test_submission_deadline_bounds_the_retries(api, send, ready_clip, provider):
    api.fault("upload", *[("trickle", 0.5)] * 5)
    with pytest.raises(ServiceError) as error:
        send(ready_clip, request_deadline_s=1.5, deadline_s=3, retry=FAST, provider=provider)
    assert error.value.code == "deadline_exceeded"
    assert api.created == 0


# --- names -----------------------------------------------------------------------------------


def test_name_is_sent_trimmed(api, send, ready_clip, ledger_path):
    assert send(ready_clip, name="  Joe\r\n").character_id
    assert dict(api.created_names) == {"Joe": 1}
    assert rows(ledger_path)[0].name == "Joe"
    assert send(ready_clip, name="Joe").reused  # the same key


def test_markup_name_does_not_break_the_listing(api, ready_clip, ledger_path):
    result = submit_cli(api, ready_clip, ledger_path, name="[/]")
    assert result.returncode == 0, result.stderr
    listing = cli("characters", "list", "--ledger", str(ledger_path))
    assert listing.returncode == 0, listing.stderr
    assert "[/]" in listing.stdout and "MarkupError" not in listing.stderr


def test_a_huge_name_gives_a_short_error(api, ready_clip, ledger_path):
    result = submit_cli(api, ready_clip, ledger_path, name="N" * 10_000)
    assert result.returncode == 2
    assert "10000 characters" in result.stderr and len(result.stderr) < 500
    assert api.requests == []


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ("path,title\nready.mp4,Joe\n", "needs the columns file,name (found: 'path', 'title')"),
        ("file,name\nready.mp4," + "N" * 10_000 + "\n", "(10000 characters)"),
    ],
    ids=["wrong_header", "huge_name"],
)
def test_batch_names_csv_errors_are_short_usage_errors(api, ready_clip, tmp_path, table, words):
    names = tmp_path / "names.csv"
    names.write_text(table)
    result = cli(
        "batch",
        str(ready_clip),
        "--submit",
        "--name-from",
        f"csv:{names}",
        "--out",
        str(tmp_path / "out"),
        "--api-base",
        api.base_url,
    )
    assert result.returncode == 2, result.stderr
    assert words in result.stderr and len(result.stderr) < 500
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert api.requests == []


# --- issue 15, bug 6: an unreachable service is recorded -------------------------------------


def test_unreachable_service_is_recorded_as_failed(send, ready_clip, ledger_path):
    with pytest.raises(ServiceError):
        send(ready_clip, api_base="http://127.0.0.1:9")
    [row] = rows(ledger_path)
    assert row.status == "failed" and "cannot reach WaveSpeed" in row.error
    assert row.owner_pid is None


# --- fal: storage upload, queue, status, result ----------------------------------------------


def test_fal_uploads_to_storage_then_submits_and_polls(api, send, ready_clip, ledger_path):
    result = send(ready_clip, provider="fal")
    assert result.character_id.startswith("char_req_")
    # Initiate (with the key), PUT to the signed URL (without it: the fake refuses a key there),
    # submit, poll the status until COMPLETED, then fetch the result.
    assert api.requests[:3] == ["upload", "storage_put", "create"]
    assert api.requests[-1] == "fal_result" and "result" in api.requests
    assert api.uploads == [ready_clip.stat().st_size]
    [row] = rows(ledger_path)
    assert row.provider == "fal" and row.status == "completed"
    assert "/files/" in row.upload_url and row.prediction_id == result.character_id[5:]


def test_fal_storage_put_is_retried_but_the_submit_is_sent_once(api, send, ready_clip):
    api.fault("storage_put", ("status", 503), ("reset",))
    assert send(ready_clip, provider="fal").character_id
    assert api.requests.count("storage_put") == 3
    assert (api.create_calls, api.created) == (1, 1)


def test_fal_refused_result_is_failed_with_the_reason(api, send, ready_clip, ledger_path):
    api.prediction_mode = "refuse"
    api.prediction_error = "video must be at least 720p"
    with pytest.raises(ServiceError) as error:
        send(ready_clip, provider="fal")
    assert error.value.code == "prediction_failed"
    assert "video_url: video must be at least 720p" in error.value.message
    [row] = rows(ledger_path)
    assert row.status == "failed" and "at least 720p" in row.error


def test_fal_result_5xx_keeps_the_request_pending_and_a_rerun_adopts_it(
    api, send, ready_clip, ledger_path
):
    api.fault("fal_result", ("status", 500))
    with pytest.raises(ServiceError) as error:
        send(ready_clip, provider="fal")
    assert error.value.code == "service_failed"
    [row] = rows(ledger_path)
    assert row.status == "pending" and row.prediction_id.startswith("req_")
    again = send(ready_clip, provider="fal")
    assert again.reused and again.character_id == f"char_{row.prediction_id}"
    assert api.create_calls == 1


def test_fal_key_reaches_only_fal_and_never_the_ledger(api, ready_clip, ledger_path):
    result = submit_cli(
        api, ready_clip, ledger_path, "--provider", "fal", env_extra={"FAL_KEY": API_KEY}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("char_req_")
    assert API_KEY not in result.stdout + result.stderr
    assert API_KEY.encode() not in ledger_path.read_bytes()


def test_fal_request_it_no_longer_knows_is_a_clear_error(api, send, ready_clip, ledger_path):
    api.prediction_mode = "stay"
    with pytest.raises(ServiceError):
        send(ready_clip, provider="fal", poll_deadline_s=0.3)
    api.predictions.clear()  # fal forgot the request (expired, or another account's)
    with pytest.raises(ServiceError) as error:
        send(ready_clip, provider="fal")
    assert error.value.code == "request_unknown"
    assert "does not know request req_" in error.value.message
    assert "--force" in error.value.hint and api.create_calls == 1
