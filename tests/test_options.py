"""One Options object for every entry point; the CLI's analysis flags are its fields; exit codes
by error type; a batch's files and names from the library."""

from __future__ import annotations

import csv
import dataclasses
import json

import pytest

from clipprep._batch import BatchResult
from clipprep._batch_output import BatchWriter
from clipprep._cli.app import main
from clipprep._cli.exits import (
    EXIT_ATTENTION,
    EXIT_MODELS,
    EXIT_REJECTED,
    EXIT_SERVICE,
    EXIT_UNREADABLE,
    EXIT_USAGE,
    exit_code_for,
)
from clipprep._errors import (
    AuthError,
    ClipprepError,
    ClusterError,
    InputError,
    LedgerError,
    ModelError,
    OutcomeUnknown,
    PreflightError,
    PrepareError,
    StillPending,
    UsageError,
)
from clipprep._export import prepare
from clipprep._options import Options, options_of
from clipprep._profiles import get_profile
from clipprep._submission import character_names


def test_options_are_checked_when_made():
    for bad in (
        dict(profile="nope"),
        dict(subject="cat"),
        dict(sample_fps=0),
        dict(analysis_size=10_000),
        dict(time_limit=0.5),
    ):
        with pytest.raises(UsageError):
            Options(**bad)
    with pytest.raises(dataclasses.FrozenInstanceError):
        Options().thorough = True  # type: ignore[misc]
    with pytest.raises(TypeError, match="sample_rate"):
        options_of(sample_rate=5)


def test_rules_fold_in_the_subject_and_the_time_limit_only_when_given():
    default = get_profile(None)
    assert Options().rules() == default
    rules = Options(subject="any", time_limit=12).rules()
    assert (rules.subject_mode, rules.limits.max_seconds) == ("any", 12)
    assert rules.name == default.name and rules.quality == default.quality
    assert options_of(Options(sample_fps=5), thorough=True) == Options(sample_fps=5, thorough=True)


def test_every_analysing_command_has_the_same_analysis_flags():
    fields = {field.name for field in dataclasses.fields(Options)}
    for command in ("check", "prepare", "submit", "batch"):
        params = {p.name for p in main.commands[command].params}
        assert fields <= params, (command, fields - params)
        assert "options" not in params


def test_exit_codes_follow_the_error_type():
    expected = {
        ModelError: EXIT_MODELS,
        UsageError: EXIT_USAGE,
        ClusterError: EXIT_USAGE,
        OutcomeUnknown: EXIT_ATTENTION,
        StillPending: EXIT_ATTENTION,
        AuthError: EXIT_SERVICE,
        PrepareError: EXIT_REJECTED,
        PreflightError: EXIT_REJECTED,
        InputError: EXIT_UNREADABLE,
        LedgerError: EXIT_UNREADABLE,
        ClipprepError: EXIT_UNREADABLE,
    }
    for kind, code in expected.items():
        assert exit_code_for(kind("x")) == code, kind
    # The code string no longer decides: a still-pending submission under another code too.
    assert exit_code_for(StillPending("x", code="in_progress")) == EXIT_ATTENTION


def test_outcome_unknown_has_its_hint_unless_told_otherwise():
    assert "--force" in OutcomeUnknown("lost").hint
    assert OutcomeUnknown("lost", hint="keep this id").hint == "keep this id"


def test_prepare_refuses_options_and_an_analyzer_together(ready_clip, tmp_path):
    with pytest.raises(UsageError, match="both"):
        prepare(ready_clip, tmp_path / "out.mp4", options=Options(), analyzer=object())
    assert not (tmp_path / "out.mp4").exists()


def _entry(path: str, verdict: str) -> dict:
    if verdict == "error":
        return {"path": path, "verdict": "error", "error": {"code": "x", "message": "m"}}
    return {"path": path, "verdict": verdict, "problems": []}


def test_batch_writer_streams_lines_and_writes_summaries_in_input_order(tmp_path):
    clips = ["a.mp4", "b.mp4", "c.mp4"]
    out = tmp_path / "out"
    with BatchWriter(out, clips) as writer:
        writer.add(BatchResult("c.mp4", _entry("c.mp4", "error")))
        lines = (out / "results.jsonl").read_text().splitlines()
        assert [json.loads(line)["path"] for line in lines] == ["c.mp4"]  # there already
        writer.add(BatchResult("a.mp4", _entry("a.mp4", "rejected"), cached=True))
        assert not (out / "summary.csv").exists()
    with open(out / "summary.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["path"], r["verdict"], r["cached"]) for r in rows] == [
        ("a.mp4", "rejected", "True"),
        ("c.mp4", "error", "False"),
    ]
    assert writer.counts == {"ready": 0, "fixable": 0, "rejected": 1, "unreadable": 0, "errors": 1}
    assert "a.mp4" in (out / "report.html").read_text()


def test_character_names_by_policy(tmp_path):
    folder = tmp_path / "Joe"
    folder.mkdir()
    clip = folder / "take3.mp4"
    assert character_names([clip], "stem") == {str(clip): "take3"}
    assert character_names([clip], "parent") == {str(clip): "Joe"}
    table = tmp_path / "names.csv"
    table.write_text("file,name\ntake3.mp4, Captain Joe \n")
    assert character_names([clip], f"csv:{table}") == {str(clip): "Captain Joe"}
    with pytest.raises(UsageError, match="title") as unknown:
        character_names([clip], "title")
    assert unknown.value.hint == "stem, parent or csv:FILE"
    table.write_text("file,name\nother.mp4,Ann\n")  # take3.mp4 gets no name: refused
    with pytest.raises(UsageError, match="invalid character names"):
        character_names([clip], f"csv:{table}")


def test_the_public_api_is_one_list_and_every_name_resolves():
    import clipprep

    assert set(clipprep.__all__) == set(clipprep._EXPORTS) | {"__version__"}
    for name in clipprep.__all__:
        assert getattr(clipprep, name) is not None, name
    # The functions named like the modules they come from are the functions.
    assert callable(clipprep.probe) and callable(clipprep.stills) and callable(clipprep.check)
