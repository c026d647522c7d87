"""What a new user meets at the terminal (issue 15): file names, encodings, pipes, Ctrl-C,
refusals and the batch summary, all through the installed ``clipprep`` command."""

from __future__ import annotations

import csv
import functools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from synth import Segment

from clipprep._cli.exits import (
    EXIT_FIXABLE,
    EXIT_READY,
    EXIT_REJECTED,
    EXIT_UNREADABLE,
    EXIT_USAGE,
)

ENTRY_POINT = shutil.which("clipprep", path=str(Path(sys.executable).parent)) or shutil.which(
    "clipprep"
)


def run(*args, env: dict | None = None, cwd=None, timeout: float = 300):
    """The real command, output captured as bytes (so an encoding can be checked)."""
    assert ENTRY_POINT, "the clipprep entry point is not installed (pip install -e .)"
    environment = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run(
        [ENTRY_POINT, *map(str, args)],
        capture_output=True,
        timeout=timeout,
        env={**environment, **(env or {})},
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def dark_clip(make_clip) -> Path:
    """Too dark from start to end: rejected, nothing to keep (test_check's dark clip)."""
    return make_clip("dark.mp4", [Segment(3.0, "face", brightness=0.12)])


# --- 1. file names are text, not markup -------------------------------------------------------


def test_bracketed_file_names_are_printed_as_they_are(ready_clip, tmp_path):
    source = tmp_path / "take[final].mp4"
    shutil.copy(ready_clip, source)
    result = run("prepare", source.name, cwd=tmp_path)
    out = result.stdout.decode()
    assert result.returncode == EXIT_READY, result.stderr.decode()
    assert (tmp_path / "take[final].prepared.mp4").exists()
    assert "wrote take[final].prepared.mp4 (" in out and "of take[final].mp4;" in out


def test_a_path_holding_a_closing_tag_is_no_markup_error(ready_clip, tmp_path):
    folder = tmp_path / "[b]x[/x]"  # two folders: "[b]x[" holding "x]"
    folder.mkdir(parents=True)
    source = folder / "clip [b].mp4"
    shutil.copy(ready_clip, source)
    result = run("prepare", source, "-o", folder / "out[/].mp4".replace("/", "-"))
    err = result.stderr.decode()
    assert result.returncode == EXIT_READY, err
    assert "MarkupError" not in err and "internal error" not in err
    assert f"wrote {folder / 'out[-].mp4'} (" in result.stdout.decode()
    checked = run("check", source)
    assert checked.returncode == EXIT_READY
    assert checked.stdout.decode().splitlines()[0] == f"READY  {source}"


# --- 2. Ctrl-C at any moment ------------------------------------------------------------------


@pytest.fixture(scope="module")
def long_720p(make_clip) -> Path:
    """25 s of 720p: long enough that a Ctrl-C within 3 s lands while the command works."""
    return make_clip("long25.mp4", [Segment(25.0, "face")])


def test_ctrl_c_at_random_moments_always_exits_130_and_leaves_nothing(long_720p, tmp_path):
    """Start-up, model loading, decoding and analysis: wherever Ctrl-C lands, the command
    stops its threads and exits 130 (it used to die of SIGABRT now and then)."""
    rng = random.Random(15)
    failures = []
    for attempt in range(20):
        out_dir = tmp_path / f"run{attempt}"
        out_dir.mkdir()
        if attempt % 3:  # every sample analysed: the decoder thread works all along
            args = ["check", long_720p, "--sample-fps", "30"]
        else:
            args = ["prepare", long_720p, "-o", out_dir / "out.mp4"]
        process = subprocess.Popen(
            [ENTRY_POINT, *map(str, args)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        delay = rng.uniform(0.3, 3.0)
        time.sleep(delay)  # the random moment itself, not a wait for something
        assert process.poll() is None, f"{args[0]} ended within {delay:.2f} s: clip too short"
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=180)
        text = stderr.decode(errors="replace")
        clean = not any(
            bad in text for bad in ("Traceback", "Exception ignored", "terminate called")
        )
        left = sorted(p.name for p in out_dir.iterdir())
        if process.returncode != 130 or not clean or left:
            failures.append(
                f"{args[0]} at {delay:.2f} s: exit {process.returncode}, {left}, "
                f"stderr ...{text[-300:]!r}"
            )
    assert not failures, "\n".join(failures)


def test_a_ctrl_c_inside_a_callback_is_not_lost():
    # Seen once in the random Ctrl-C test: the interrupt landed in the import system's
    # module-lock weakref callback, Python printed "Exception ignored" and the command ran on
    # to exit 0 with its output written. A KeyboardInterrupt raised inside a real weakref
    # callback, as the started command has it (_startup.release()), must stop the main thread.
    script = """
import signal, sys, time, weakref
from clipprep import _startup
signal.signal(signal.SIGINT, _startup._exit_quietly)  # as install() leaves it in the command
_startup.release()
class Thing: pass
thing = Thing()
def callback(ref): raise KeyboardInterrupt
ref = weakref.ref(thing, callback)
try:
    del thing
    for _ in range(2000):
        time.sleep(0.001)
    print("ran on")
except KeyboardInterrupt:
    print("interrupted")
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert result.stdout.decode().strip() == "interrupted", result.stderr.decode()
    assert b"Exception ignored" not in result.stderr


def test_a_reader_that_goes_away_gets_no_error(long_clip):
    # `clipprep check ... | head -0`: the reader is gone before the report is written; the
    # command stops without "internal error" or a traceback.
    process = subprocess.Popen(
        [ENTRY_POINT, "check", "--json", "--frames", str(long_clip)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    process.stdout.close()  # the analysis takes a second or more: nobody reads the report
    _, stderr = process.communicate(timeout=180)
    text = stderr.decode(errors="replace")
    assert "internal error" not in text and "Traceback" not in text and "Exception" not in text
    assert process.returncode == 1, text


# --- 3. a terminal that cannot print · × – → ---------------------------------------------------


def test_an_ascii_only_terminal_gets_ascii(long_clip):
    result = run("check", long_clip, env={"PYTHONIOENCODING": "ascii"})
    assert result.returncode == EXIT_FIXABLE, result.stderr.decode()
    out = result.stdout.decode("ascii")  # raises if anything else came through
    assert "1280x720" in out and " | h264 " in out  # × and · stood in for
    assert "-> keep" in out  # → stood in for
    assert "UnicodeEncodeError" not in result.stderr.decode()


def test_ascii_only_json_escapes_instead_of_failing(ready_clip, tmp_path):
    source = tmp_path / "café–take.mp4"
    shutil.copy(ready_clip, source)
    result = run("check", "--json", source, env={"PYTHONIOENCODING": "ascii"})
    assert result.returncode == EXIT_READY, result.stderr.decode()
    assert json.loads(result.stdout.decode("ascii"))["path"] == str(source)


# --- 9. piped output is not wrapped -----------------------------------------------------------


def test_piped_output_is_not_wrapped_and_has_no_trailing_spaces(long_clip, tmp_path):
    deep = tmp_path / ("a-folder-with-a-rather-long-name-" * 3) / "and-another-level"
    deep.mkdir(parents=True)
    source = deep / "long.mp4"
    shutil.copy(long_clip, source)
    result = run("check", source)  # stdout is a pipe; COLUMNS unset
    lines = result.stdout.decode().splitlines()
    assert lines[0] == f"FIXABLE  {source}"  # longer than 80 columns, on one line
    assert any(len(line) > 80 for line in lines[1:])  # a problem message, not wrapped
    assert all(line == line.rstrip() for line in lines), lines


# --- 4. prepare refuses a rejected clip -------------------------------------------------------


def test_prepare_stops_before_encoding_a_rejected_clip(dark_clip, tmp_path):
    result = run("prepare", dark_clip, "-o", tmp_path / "out.mp4")
    err = result.stderr.decode()
    assert result.returncode == EXIT_REJECTED, err
    assert "nothing was written" in err and "too_dark" in err and "--even-if-rejected" in err
    assert list(tmp_path.iterdir()) == []
    forced = run("prepare", dark_clip, "-o", tmp_path / "out.mp4", "--even-if-rejected")
    assert forced.returncode == EXIT_REJECTED  # written, and still rejected
    assert (tmp_path / "out.mp4").exists()


def test_a_reversed_range_is_called_reversed(long_clip, tmp_path):
    result = run("prepare", long_clip, "--start", "3", "--end", "1", "-o", tmp_path / "o.mp4")
    err = result.stderr.decode()
    assert result.returncode == EXIT_USAGE
    assert "reversed" in err and "outside" not in err
    assert list(tmp_path.iterdir()) == []


# --- 5. batch -----------------------------------------------------------------------------------


def test_batch_on_a_missing_folder_is_a_usage_error(tmp_path):
    result = run("batch", tmp_path / "no-such-folder", "--out", tmp_path / "out")
    assert result.returncode == EXIT_USAGE
    assert "no such file or folder" in result.stderr.decode()
    assert not (tmp_path / "out").exists()  # no report about nothing


def test_batch_summary_in_input_order_with_verdicts_named(long_clip, ready_clip, tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video")
    named = tmp_path / "take[final].mp4"
    shutil.copy(ready_clip, named)
    # The long clip takes longest: the other two finish first on the second worker.
    inputs = [long_clip, junk, named]
    out = tmp_path / "out"
    result = run(
        "batch", *inputs, "--workers", "2", "--out", out, "--cache-dir", tmp_path / "cache"
    )
    assert result.returncode == 5, result.stderr.decode()
    assert result.stdout.decode().splitlines()[0] == "3 clips: 1 ready, 1 fixable, 1 unreadable"
    with open(out / "summary.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["path"] for row in rows] == [str(p) for p in inputs]
    one = run("batch", named, "--out", tmp_path / "one", "--cache-dir", tmp_path / "cache")
    assert one.stdout.decode().splitlines()[0] == "1 clip: 1 ready"
    assert "take[final].mp4" in one.stderr.decode()  # the progress bar's file name


# --- 7. check_many from a script without the __main__ guard ---------------------------------


def test_check_many_without_the_main_guard_explains_itself(ready_clip, tmp_path):
    script = tmp_path / "unguarded.py"
    script.write_text(
        "import clipprep\n"
        f"for result in clipprep.check_many([{str(ready_clip)!r}], workers=1,\n"
        f"                                  cache_folder={str(tmp_path / 'cache')!r}):\n"
        "    print(result.verdict)\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert 'if __name__ == "__main__":' in last, result.stderr
    assert "bootstrapping" not in result.stderr and "worker died" not in result.stderr


# --- 8. --frames needs --json -------------------------------------------------------------------


def test_frames_without_json_is_refused(ready_clip):
    result = run("check", "--frames", ready_clip)
    assert result.returncode == EXIT_USAGE
    assert "--frames" in result.stderr.decode() and "--json" in result.stderr.decode()
    assert result.stdout == b""


# --- features: schemas, profiles --json, progress, -q/-v, help --------------------------------


@functools.cache
def printed_schema(kind: str) -> dict:
    """The schema as ``clipprep schema KIND`` prints it (checked to be a valid schema); run
    once per kind and kept, not once per document validated (nothing changes it in between)."""
    from jsonschema import Draft202012Validator

    result = run("schema", kind)
    assert result.returncode == 0, result.stderr.decode()
    schema = json.loads(result.stdout)
    Draft202012Validator.check_schema(schema)
    return schema


def assert_valid(document: dict, kind: str) -> None:
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(printed_schema(kind))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
    assert not errors, errors


def test_check_reports_match_the_report_schema(ready_clip, long_clip, tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video")
    result = run("check", "--json", "--frames", ready_clip, long_clip, junk)
    reports = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [r["verdict"] for r in reports] == ["ready", "fixable", "unreadable"]
    for report in reports:
        assert_valid(report, "report")
    assert reports[0]["frames"]  # the per-frame part was checked too
    from jsonschema import Draft202012Validator

    broken = {**reports[0], "verdict": "great", "best_window": {"start": -1}}
    assert len(list(Draft202012Validator(printed_schema("report")).iter_errors(broken))) >= 2


def test_prepare_result_matches_the_prepare_schema(long_clip, tmp_path):
    result = run("prepare", "--json", long_clip, "-o", tmp_path / "out.mp4")
    assert result.returncode == EXIT_READY, result.stderr.decode()
    assert_valid(json.loads(result.stdout), "prepare")


def test_batch_lines_match_the_batch_schema(ready_clip, tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video")
    out = tmp_path / "out"
    result = run("batch", ready_clip, junk, "--out", out, "--cache-dir", tmp_path / "cache")
    assert result.returncode == 5, result.stderr.decode()
    lines = (out / "results.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    for line in lines:
        assert_valid(json.loads(line), "batch")
    error_entry = {
        "path": "x.mp4",
        "verdict": "error",
        "cached": False,
        "error": {"code": "worker_crashed", "message": "died", "hint": None},
    }
    assert_valid(error_entry, "batch")


def test_profiles_json_gives_every_rule_as_numbers():
    from clipprep._profiles import PROFILES

    result = run("profiles", "--json")
    assert result.returncode == 0
    printed = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [p["name"] for p in printed] == list(PROFILES)
    for data in printed:
        expected = PROFILES[data.pop("name")].to_dict()
        expected.pop("name")
        data.pop("default")
        assert data == json.loads(json.dumps(expected))
        for group in ("quality", "limits"):
            assert all(isinstance(v, int | float) for v in data[group].values()), group


def run_in_terminal(*args, timeout: float = 300) -> tuple[int, str]:
    """The command with stdin, stdout and stderr on a pseudo-terminal (120 columns)."""
    import fcntl
    import pty
    import select
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    environment = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR")}
    process = subprocess.Popen(
        [ENTRY_POINT, *map(str, args)],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env={**environment, "TERM": "xterm-256color"},
    )
    os.close(follower)
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 1.0)
        if not ready:
            if process.poll() is not None:
                break
            continue
        try:
            data = os.read(leader, 65536)
        except OSError:  # the command closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    return code, b"".join(chunks).decode(errors="replace")


def test_a_long_check_and_an_encode_show_progress_on_a_terminal(long_720p, tmp_path):
    code, shown = run_in_terminal("check", long_720p)
    assert code == EXIT_FIXABLE, shown
    assert "checking long25.mp4" in shown and "%" in shown
    code, shown = run_in_terminal("prepare", long_720p, "-o", tmp_path / "o.mp4")
    assert code == EXIT_READY, shown
    assert "checking long25.mp4" in shown  # prepare's first check of the long source
    assert "encoding" in shown and "%" in shown
    quiet_code, quiet = run_in_terminal("check", "-q", long_720p)
    assert quiet_code == EXIT_FIXABLE and "%" not in quiet and "checking" not in quiet
    piped = run("check", long_720p)  # not a terminal: no bar on stderr
    assert b"%" not in piped.stderr and b"checking" not in piped.stderr


def test_quiet_and_verbose(ready_clip, long_clip):
    quiet = run("check", "-q", ready_clip, long_clip).stdout.decode().splitlines()
    assert quiet == [f"READY  {ready_clip}", f"FIXABLE  {long_clip}  (too_long, too_dark)"]
    verbose = run("check", "-v", ready_clip).stdout.decode()
    assert "frames at 10 fps" in verbose and "window medians: face_h" in verbose
    assert "took" in verbose
    both = run("check", "-q", "-v", ready_clip)
    assert both.returncode == EXIT_USAGE


def test_check_on_a_folder_suggests_batch(tmp_path, ready_clip):
    folder = tmp_path / "my clips"
    folder.mkdir()
    result = run("check", folder, ready_clip)  # the folder is reported, the clip still checked
    assert result.returncode == EXIT_UNREADABLE
    out = result.stdout.decode()
    assert f"clipprep batch '{folder}'" in out and "READY" in out


def test_help_shows_examples_and_exit_codes():
    result = run("--help")
    out = result.stdout.decode()
    assert result.returncode == 0
    assert "clipprep check take3.mov" in out and "clipprep prepare take3.mov" in out
    for code in ("0 ready", "3 fixable", "4 rejected", "5 unreadable", "2 usage error", "130"):
        assert code in out
