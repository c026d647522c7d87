"""The submissions ledger when things go wrong: random bytes, damage, read-only files, a full
disk, another schema version; and how it is created (private). Real SQLite files, the real
`clipprep` command, the local fake API."""

from __future__ import annotations

import ctypes
import os
import resource
import sqlite3
import stat
import subprocess

import pytest
from fake_api import API_KEY, ENTRY, run_clipprep

from clipprep._files import sha256_file
from clipprep._ledger import SCHEMA_VERSION, Ledger, Owner

_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH, _CAP_FOWNER = 1, 2, 3


def _without_permission_bypass():
    """In the child before exec: root's power to ignore file permissions is dropped, so a
    0444 file is read-only for it too (tests run as root in CI)."""
    if os.geteuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH, _CAP_FOWNER):
            if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def cli(*args, api=None, read_only=False):
    base = {"CLIPPREP_API_BASE": api.base_url} if api is not None else {}
    preexec = _without_permission_bypass if read_only else None
    return run_clipprep(*args, env_extra=base, preexec_fn=preexec)


def assert_one_clear_error(result, code):
    assert result.returncode not in (0, 1), result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert f"error [{code}]" in result.stderr and "hint:" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 2, result.stderr


def completed_ledger(path, clip, name="Joe"):
    with Ledger(path) as book:
        claim = book.claim(
            clip_sha256=sha256_file(clip),
            clip_path=str(clip),
            name=name,
            provider="wavespeed",
            api_base="http://127.0.0.1:9",
            owner=Owner.me(),
        )
        book.update(claim.submission, status="completed", character_id="char_done1")
        book.release(claim.submission, Owner.me())
        # Fill a few pages, so damage in the middle of the file hits rows.
        for i in range(300):
            other = book.claim(
                clip_sha256=f"{i:064x}",
                clip_path=f"/clips/{i}.mp4",
                name=f"Filler {i}",
                provider="wavespeed",
                api_base="http://127.0.0.1:9",
                owner=Owner.me(),
            )
            book.release(other.submission, Owner.me())
    return path


@pytest.mark.parametrize("command", [["list"], ["show", "1"]])
def test_random_bytes(tmp_path, command, ready_clip, api):
    ledger = tmp_path / "noise.sqlite3"
    ledger.write_bytes(os.urandom(64 * 1024))
    result = cli("characters", *command, "--ledger", str(ledger))
    assert_one_clear_error(result, "ledger_unreadable")
    submitted = cli("submit", str(ready_clip), "--name", "Joe", "--ledger", str(ledger), api=api)
    assert_one_clear_error(submitted, "ledger_unreadable")
    assert api.requests == []


@pytest.mark.parametrize("command", [["list"], ["show", "char_done1"]])
def test_damaged_ledger(tmp_path, ready_clip, command):
    ledger = completed_ledger(tmp_path / "damaged.sqlite3", ready_clip)
    data = bytearray(ledger.read_bytes())
    assert len(data) > 8 * 4096
    data[2 * 4096 : 6 * 4096] = os.urandom(4 * 4096)  # pages of rows and index
    ledger.write_bytes(bytes(data))
    result = cli("characters", *command, "--ledger", str(ledger))
    assert_one_clear_error(result, "ledger_unreadable")


def test_a_ledger_that_cannot_be_created(tmp_path, ready_clip, api):
    ledger = "/proc/clipprep-ledger/characters.sqlite3"  # read-only for root too
    listing = cli("characters", "list", "--ledger", ledger)
    assert listing.returncode == 0 and "no submissions yet" in listing.stdout
    result = cli("submit", str(ready_clip), "--name", "Joe", "--ledger", ledger, api=api)
    assert_one_clear_error(result, "ledger_read_only")
    assert api.requests == []


def test_read_only_ledger_still_answers(tmp_path, ready_clip, api):
    folder = tmp_path / "ro"
    folder.mkdir()
    ledger = completed_ledger(folder / "characters.sqlite3", ready_clip)
    ledger.chmod(0o444)
    folder.chmod(0o555)
    try:
        listing = cli("characters", "list", "--ledger", str(ledger), read_only=True)
        assert listing.returncode == 0, listing.stderr
        assert "char_done1" in listing.stdout
        shown = cli("characters", "show", "char_done1", "--ledger", str(ledger), read_only=True)
        assert shown.returncode == 0 and "completed" in shown.stdout
        args = ("submit", str(ready_clip), "--ledger", str(ledger))
        answered = cli(*args, "--name", "Joe", api=api, read_only=True)
        assert answered.returncode == 0, answered.stderr
        assert answered.stdout.startswith("char_done1") and "from the ledger" in answered.stdout
        refused = cli(*args, "--name", "Ann", api=api, read_only=True)
        assert_one_clear_error(refused, "ledger_read_only")
        assert api.requests == []  # refused before anything was sent
    finally:
        folder.chmod(0o755)


def test_full_disk_after_the_create_keeps_the_prediction_id(tmp_path, ready_clip, api):
    """The file-size limit of the submitting process drops to 0 the moment the service acts on
    the create: every later ledger write fails with EFBIG, as on a full disk."""
    ledger = tmp_path / "full.sqlite3"
    env = {**os.environ, "WAVESPEED_API_KEY": API_KEY, "CLIPPREP_API_BASE": api.base_url}
    process = subprocess.Popen(
        [ENTRY, "submit", str(ready_clip), "--name", "Joe", "--ledger", str(ledger)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    api.on_create = lambda name: resource.prlimit(process.pid, resource.RLIMIT_FSIZE, (0, 0))
    _, err = process.communicate(timeout=300)
    assert api.created == 1
    [prediction] = list(api.predictions)
    assert process.returncode not in (0, 1), err
    assert "Traceback" not in err and "cannot rollback" not in err
    assert f"working on it ({prediction})" in err
    assert "error [ledger_write_failed]" in err and prediction in err.split("error [")[1]


def test_newer_schema_is_refused(tmp_path, ready_clip):
    ledger = completed_ledger(tmp_path / "future.sqlite3", ready_clip)
    with sqlite3.connect(ledger) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 7}")
    for args in (["characters", "list"], ["submit", str(ready_clip), "--name", "Joe"]):
        result = cli(*args, "--ledger", str(ledger))
        assert_one_clear_error(result, "ledger_version")


_VERSION_1 = """
CREATE TABLE submissions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, clip_sha256 TEXT NOT NULL, clip_path TEXT NOT NULL,
    name TEXT NOT NULL, provider TEXT NOT NULL, api_base TEXT NOT NULL, status TEXT NOT NULL,
    upload_url TEXT, prediction_id TEXT, character_id TEXT, error TEXT,
    created_at REAL NOT NULL, updated_at REAL NOT NULL);
CREATE INDEX submissions_key ON submissions (clip_sha256, name, provider);
"""


def test_version_1_ledger_is_read_and_migrated(tmp_path, ready_clip, api):
    ledger = tmp_path / "v1.sqlite3"
    with sqlite3.connect(ledger) as db:
        db.executescript(_VERSION_1)
        db.execute(
            "INSERT INTO submissions (clip_sha256, clip_path, name, provider, api_base, status,"
            " character_id, created_at, updated_at) VALUES (?, ?, 'Joe', 'wavespeed', 'x',"
            " 'completed', 'char_old1', 1, 1)",
            (sha256_file(ready_clip), str(ready_clip)),
        )
    listing = cli("characters", "list", "--ledger", str(ledger))
    assert "char_old1" in listing.stdout
    with sqlite3.connect(ledger) as db:  # reading changed nothing
        assert db.execute("PRAGMA user_version").fetchone()[0] == 0
    answered = cli("submit", str(ready_clip), "--name", "Joe", "--ledger", str(ledger), api=api)
    assert answered.returncode == 0 and answered.stdout.startswith("char_old1")
    with sqlite3.connect(ledger) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        columns = {r[1] for r in db.execute("PRAGMA table_info(submissions)")}
    assert {"owner_pid", "owner_started", "owner_host"} <= columns
    assert api.requests == []


def test_ledger_is_private(tmp_path):
    old = os.umask(0o022)
    try:
        ledger = tmp_path / "new" / "deeper" / "characters.sqlite3"
        Ledger(ledger).close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(ledger.stat().st_mode) == 0o600
    assert stat.S_IMODE(ledger.parent.stat().st_mode) == 0o700


def test_empty_ledger_says_so(tmp_path):
    result = cli("characters", "list", "--ledger", str(tmp_path / "none.sqlite3"))
    assert result.returncode == 0
    assert "no submissions yet" in result.stdout
    assert not (tmp_path / "none.sqlite3").exists()  # listing creates nothing


def test_show_prints_iso_times(tmp_path, ready_clip):
    ledger = completed_ledger(tmp_path / "l.sqlite3", ready_clip)
    result = cli("characters", "show", "char_done1", "--ledger", str(ledger))
    import re

    stamps = re.findall(r"created_at: (\S+)", result.stdout)
    assert stamps and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", stamps[0])


def test_fifo_ledger_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "ledger.sqlite3"
    os.mkfifo(fifo)
    assert_one_clear_error(cli("characters", "list", "--ledger", str(fifo)), "ledger_unreadable")


def test_an_older_world_readable_ledger_is_made_private(tmp_path, ready_clip):
    ledger = completed_ledger(tmp_path / "old.sqlite3", ready_clip)
    ledger.chmod(0o644)
    Ledger(ledger).close()
    assert stat.S_IMODE(ledger.stat().st_mode) == 0o600
