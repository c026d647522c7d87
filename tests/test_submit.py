"""clipprep submit over real HTTP against a local fake API with injected faults."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from fake_api import API_KEY, FakeApi

from clipprep.errors import AuthError, OutcomeUnknown, ServiceError, ServiceGone, UsageError
from clipprep.ledger import Ledger
from clipprep.providers.http import RetryPolicy
from clipprep.submission import PreflightError, submit
from clipprep.synth import Segment

FAST = RetryPolicy(attempts=4, base_delay_s=0.01, max_delay_s=0.05)
ENTRY = os.path.join(os.path.dirname(sys.executable), "clipprep")


@pytest.fixture
def api():
    server = FakeApi().start()
    yield server
    server.stop()


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


def test_creates_once_and_answers_again_from_the_ledger(api, send, ready_clip, ledger_path):
    first = send(ready_clip)
    assert first.character_id.startswith("char_pred_")
    assert (api.create_calls, api.created) == (1, 1)
    assert api.requests[:2] == ["upload", "create"]
    seen = len(api.requests)
    again = send(ready_clip)
    assert again.reused and again.character_id == first.character_id
    assert len(api.requests) == seen  # no request at all
    [row] = rows(ledger_path)
    assert row.status == "completed" and row.upload_url and row.prediction_id


def test_openai_provider(api, send, ready_clip):
    result = send(ready_clip, name="Ann", provider="openai")
    assert result.character_id.startswith("char_oa")
    assert api.requests == ["openai"]


def test_rejected_key_is_a_clear_error_without_the_key(api, send, ready_clip):
    with pytest.raises(AuthError) as error:
        send(ready_clip, api_key="sk-wrong-Zq8SECRET-9999")
    text = f"{error.value.message} {error.value.hint}"
    assert "401" in text and "WAVESPEED_API_KEY" in text
    assert "sk-wrong-Zq8SECRET-9999" not in text
    assert api.created == 0


def test_missing_key_says_which_variable(send, ready_clip, monkeypatch):
    monkeypatch.delenv("WAVESPEED_API_KEY", raising=False)
    with pytest.raises(AuthError) as error:
        send(ready_clip, api_key=None)
    assert "WAVESPEED_API_KEY" in error.value.hint


def test_429_with_retry_after_is_honoured(api, send, ready_clip):
    api.fault("create", ("status", 429, {"Retry-After": "1"}))
    started = time.monotonic()
    result = send(ready_clip)
    assert time.monotonic() - started >= 1.0
    assert result.character_id and (api.create_calls, api.created) == (2, 1)


def test_503_is_retried_500_is_not(api, send, ready_clip, ledger_path):
    api.fault("create", ("status", 503), ("status", 503))
    assert send(ready_clip).character_id
    assert (api.create_calls, api.created) == (3, 1)
    api.fault("create", ("status", 500))
    with pytest.raises(OutcomeUnknown):
        send(ready_clip, name="Other")
    assert api.create_calls == 4  # a 500 may hide a created character: never re-sent


@pytest.mark.parametrize(
    "fault",
    [("slow", 3), ("reset",), ("malformed",), ("html",), ("huge", 20)],
    ids=lambda f: f[0],
)
def test_lost_create_answer_is_unknown_and_never_resent(api, send, ready_clip, ledger_path, fault):
    api.fault("create", fault)
    with pytest.raises(OutcomeUnknown) as error:
        send(ready_clip, timeout=1)
    assert "check your account" in error.value.hint
    assert (api.create_calls, api.created) == (1, 1)
    assert rows(ledger_path)[0].status == "unknown"
    # Running it again does not re-send: the ledger remembers the lost answer.
    with pytest.raises(OutcomeUnknown):
        send(ready_clip)
    assert api.create_calls == 1
    # --force creates anew, knowingly.
    assert send(ready_clip, force=True).character_id
    assert api.create_calls == 2


def test_flaky_polls_are_retried(api, send, ready_clip):
    api.polls_before_done = 2
    api.fault("result", ("status", 503), ("reset",), ("status", 502))
    assert send(ready_clip).character_id
    assert api.created == 1


def test_failed_prediction_then_a_new_attempt(api, send, ready_clip, ledger_path):
    api.prediction_mode = "fail"
    with pytest.raises(ServiceError) as error:
        send(ready_clip)
    assert error.value.code == "prediction_failed" and "no face found" in error.value.message
    assert rows(ledger_path)[0].status == "failed"
    api.prediction_mode = "complete"
    assert send(ready_clip).character_id
    assert api.created == 2


def test_prediction_that_stays_processing_keeps_its_place(api, send, ready_clip):
    api.prediction_mode = "stay"
    with pytest.raises(ServiceError) as error:
        send(ready_clip, poll_deadline_s=0.3)
    assert error.value.code == "still_pending"
    api.prediction_mode = "complete"
    result = send(ready_clip)
    assert result.reused and result.character_id
    assert api.create_calls == 1


def test_retired_route_says_so_at_once(api, send, ready_clip):
    api.fault("create", ("status", 410))
    with pytest.raises(ServiceGone) as error:
        send(ready_clip)
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


def cli(*args, env_extra=None, **kwargs):
    env = {**os.environ, "WAVESPEED_API_KEY": API_KEY, **(env_extra or {})}
    return subprocess.run(
        [ENTRY, *args],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=300,
        **kwargs,
    )


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


def test_huge_answer_to_a_read_is_refused_not_swallowed(api, send, ready_clip):
    api.fault("upload", ("huge", 20), ("huge", 20), ("huge", 20), ("huge", 20))
    with pytest.raises(ServiceError) as error:
        send(ready_clip)
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
