"""What a new user meets at the terminal (issue 15): file names, encodings, pipes, Ctrl-C,
refusals and the batch summary, all through the installed ``clipprep`` command."""

from __future__ import annotations

import csv
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

from clipprep.cli import (
    EXIT_FIXABLE,
    EXIT_READY,
    EXIT_REJECTED,
    EXIT_USAGE,
)
from clipprep.synth import Segment

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
    """Too dark from start to end: rejected, nothing to keep."""
    return make_clip("dark.mp4", [Segment(2.5, "face", brightness=0.1)])


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
