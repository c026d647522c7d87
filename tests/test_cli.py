"""The `clipprep` command through its real, installed entry point (a subprocess)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from clipprep._cli.exits import EXIT_FIXABLE, EXIT_READY, EXIT_UNREADABLE, EXIT_USAGE

ENTRY_POINT = shutil.which("clipprep", path=str(Path(sys.executable).parent)) or shutil.which(
    "clipprep"
)


def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    assert ENTRY_POINT, "the clipprep entry point is not installed (pip install -e .)"
    return subprocess.run(
        [ENTRY_POINT, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "120"},
        stdin=subprocess.DEVNULL,
    )


def test_help_lists_the_commands():
    result = run("--help")
    assert result.returncode == 0
    for command in ("check", "models", "profiles"):
        assert command in result.stdout


def test_check_ready_clip_exits_zero_with_a_summary(ready_clip):
    result = run("check", str(ready_clip))
    assert result.returncode == EXIT_READY, result.stdout + result.stderr
    assert "READY" in result.stdout
    assert "best window" in result.stdout
    assert "Traceback" not in result.stderr


def test_json_lines_for_several_clips_and_the_worst_exit_code(ready_clip, long_clip):
    result = run("check", "--json", str(ready_clip), str(long_clip))
    assert result.returncode == EXIT_FIXABLE, result.stderr
    lines = result.stdout.strip().splitlines()
    reports = [json.loads(line) for line in lines]
    assert [r["verdict"] for r in reports] == ["ready", "fixable"]
    assert all(r["schema_version"] == 1 for r in reports)


def test_unreadable_file_is_one_clear_line(tmp_path, ready_clip):
    bad = tmp_path / "-leading dash é.mp4"
    bad.write_bytes(b"not a video at all")
    result = run("check", "--", str(bad), str(ready_clip))
    assert result.returncode == EXIT_UNREADABLE
    assert "UNREADABLE" in result.stdout and "READY" in result.stdout  # the good one still ran
    assert "Traceback" not in result.stdout + result.stderr


def test_missing_file_and_bad_option_are_usage_or_input_errors(tmp_path):
    missing = run("check", str(tmp_path / "nope.mp4"))
    assert missing.returncode == EXIT_UNREADABLE
    assert "no such file" in missing.stdout
    bad_option = run("check", "--profile", "no-such-service", "x.mp4")
    assert bad_option.returncode == EXIT_USAGE
    assert "Traceback" not in bad_option.stderr


@pytest.mark.parametrize("name, ok", [("Joe", True), ("", False), ("n" * 81, False)])
def test_name_option(ready_clip, name, ok):
    result = run("check", "--json", "--name", name, str(ready_clip))
    report = json.loads(result.stdout)
    assert ("invalid_name" in {p["code"] for p in report["problems"]}) is not ok
