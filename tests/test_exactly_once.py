"""Exactly once across processes: real concurrent `clipprep submit` runs against the local fake
API, sharing one real SQLite ledger; the server's counters say what was created."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import threading
import time

import pytest
from fake_api import API_KEY, CHARACTER_PREFIX, ENTRY, KEY_VARIABLE

from clipprep._ledger import Ledger, process_started


def start(api, clip, ledger, name, *extra, key=API_KEY, provider="wavespeed"):
    env = {**os.environ, KEY_VARIABLE[provider]: key, "CLIPPREP_API_BASE": api.base_url}
    args = [ENTRY, "submit", str(clip), "--name", name, "--ledger", str(ledger), *extra]
    args += ["--provider", provider]
    return subprocess.Popen(
        args,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process, timeout=300):
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def wait_for_status(ledger, status, process, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"never reached {status}"
        if ledger.exists():
            try:
                with sqlite3.connect(ledger, timeout=1) as db:
                    row = db.execute(
                        "SELECT status FROM submissions ORDER BY id DESC LIMIT 1"
                    ).fetchone()
            except sqlite3.OperationalError:
                row = None
            if row and row[0] == status:
                return
        time.sleep(0.05)


def rows_named(ledger, name):
    with Ledger(ledger, read_only=True) as book:
        return [r for r in book.all() if r.name == name]


@pytest.mark.parametrize(
    ("provider", "processes"), [("wavespeed", 2), ("wavespeed", 4), ("fal", 3)]
)
def test_concurrent_submits_create_exactly_once(api, ready_clip, tmp_path, provider, processes):
    ledger = tmp_path / "ledger.sqlite3"
    api.polls_before_done = 2
    for round_ in range(3):
        name = f"Twin{processes}x{round_}"
        uploads_before = len(api.uploads)
        runs = [
            start(api, ready_clip, ledger, name, "--wait", "120", provider=provider)
            for _ in range(processes)
        ]
        results = [finish(run) for run in runs]
        for code, _, err in results:
            assert code == 0, err
            assert "lost" not in err and "Traceback" not in err
        ids = {out.split()[0] for _, out, _ in results}
        assert len(ids) == 1 and ids.pop().startswith(CHARACTER_PREFIX[provider])
        assert api.created_names[name] == 1, results
        assert len(api.uploads) - uploads_before == 1
        [row] = rows_named(ledger, name)
        assert row.status == "completed" and row.owner_pid is None
    assert api.create_calls == api.created == 3


def test_second_run_during_the_create_waits_for_it(api, ready_clip, tmp_path):
    ledger = tmp_path / "ledger.sqlite3"
    release = threading.Event()
    api.fault("create", ("hold", release))  # the create stays in flight until released
    first = start(api, ready_clip, ledger, "Joe")
    wait_for_status(ledger, "creating", first)
    second = start(api, ready_clip, ledger, "Joe", "--wait", "120", "--timeout", "30")
    said = second.stderr.readline()  # blocks until the second run says what it does
    release.set()
    (code1, out1, err1), (code2, out2, err2) = finish(first), finish(second)
    assert (code1, code2) == (0, 0), (err1, said + err2)
    assert out1.split()[0] == out2.split()[0]
    assert f"being submitted by another process (pid {first.pid})" in said
    assert "lost" not in said + err2
    assert api.create_calls == api.created == 1


@pytest.mark.parametrize("provider", ["wavespeed", "fal"])
def test_waiter_gives_up_clearly_and_a_dead_owner_is_taken_over(
    api, ready_clip, tmp_path, provider
):
    """The dead owner's recorded request id is adopted: polled, never submitted again."""
    ledger = tmp_path / "ledger.sqlite3"
    api.prediction_mode = "stay"
    owner = start(api, ready_clip, ledger, "Joe", "--wait", "300", provider=provider)
    wait_for_status(ledger, "pending", owner)
    impatient = start(
        api, ready_clip, ledger, "Joe", "--wait", "1", "--timeout", "1", provider=provider
    )
    code, out, err = finish(impatient)
    assert code == 8, err
    assert f"being submitted by another process (pid {owner.pid}" in err
    assert "error [in_progress]" in err and "Traceback" not in err
    owner.send_signal(signal.SIGKILL)  # its claim is now stale
    owner.wait()
    api.prediction_mode = "complete"
    code, out, err = finish(start(api, ready_clip, ledger, "Joe", provider=provider))
    assert code == 0, err
    assert out.startswith(CHARACTER_PREFIX[provider]) and "resuming ledger #1" in err
    [row] = rows_named(ledger, "Joe")
    assert f"waiting for {row.prediction_id}" in err  # the id the dead owner recorded
    assert api.create_calls == api.created == 1


def pending_claimed_by_this_test(api, clip, ledger, started_offset: float) -> None:
    """A pending submission whose claim names this test's pid, with its start time moved by
    ``started_offset`` (0: this very process, alive; otherwise a recycled pid)."""
    api.prediction_mode = "stay"
    owner = start(api, clip, ledger, "Joe", "--wait", "300")
    wait_for_status(ledger, "pending", owner)
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    with sqlite3.connect(ledger) as db:
        db.execute(
            "UPDATE submissions SET owner_pid = ?, owner_started = ?",
            (os.getpid(), process_started(os.getpid()) + started_offset),
        )


def test_claim_of_a_recycled_pid_is_stale(api, ready_clip, tmp_path):
    """A claim names a live pid (this test's), but a process started at another time."""
    ledger = tmp_path / "ledger.sqlite3"
    pending_claimed_by_this_test(api, ready_clip, ledger, started_offset=-1)
    api.prediction_mode = "complete"
    code, out, err = finish(start(api, ready_clip, ledger, "Joe", "--wait", "60"))
    assert code == 0, err
    assert out.startswith("char_pred_")
    assert api.create_calls == api.created == 1


def test_claim_of_a_live_process_is_respected(api, ready_clip, tmp_path):
    """The same pid and start time: the owner is alive, so nothing is sent."""
    ledger = tmp_path / "ledger.sqlite3"
    pending_claimed_by_this_test(api, ready_clip, ledger, started_offset=0)
    polls = api.requests.count("result")
    code, _, err = finish(start(api, ready_clip, ledger, "Joe", "--wait", "1", "--timeout", "1"))
    assert code == 8, err
    assert f"pid {os.getpid()}" in err
    assert api.requests.count("result") == polls


def test_concurrent_submits_of_a_rejected_clip_both_refuse_it(api, make_clip, tmp_path):
    from synth import Segment

    dark = make_clip("dark_submit.mp4", [Segment(3.0, "face", brightness=0.12)])
    ledger = tmp_path / "ledger.sqlite3"
    runs = [start(api, dark, ledger, "Joe", "--wait", "120") for _ in range(2)]
    for code, _, err in (finish(run) for run in runs):
        assert code == 4, err
        assert "error [preflight_rejected]" in err and "internal error" not in err
    assert api.requests == []
    assert rows_named(ledger, "Joe") == []  # nothing was sent, nothing is kept
