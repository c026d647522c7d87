"""Fuzzing: a valid MP4, mutated (bit flips, truncations, inserted and overwritten bytes), must
always give a report (or a clean error verdict) within a time bound — never an exception, never
a hang. CLIPPREP_FUZZ_EXAMPLES sets how many cases (default 60; CI runs the default)."""

from __future__ import annotations

import collections
import os
import signal
import time
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from synth import Segment, build_clip

EXAMPLES = int(os.environ.get("CLIPPREP_FUZZ_EXAMPLES", "60"))
BOUND_S = 60  # one mutated 2 s clip; a healthy run takes well under a second
SEEN: collections.Counter = collections.Counter()

position = st.integers(min_value=0, max_value=2**31)
mutation = st.one_of(
    st.tuples(st.just("flip"), position, st.integers(0, 7)),
    st.tuples(st.just("truncate"), position),
    st.tuples(st.just("insert"), position, st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("overwrite"), position, st.binary(min_size=1, max_size=16)),
)


def mutate(data: bytes, mutations) -> bytes:
    buffer = bytearray(data)
    for kind, where, *rest in mutations:
        at = where % max(1, len(buffer))
        if kind == "flip" and buffer:
            buffer[at] ^= 1 << rest[0]
        elif kind == "truncate":
            del buffer[at:]
        elif kind == "insert":
            buffer[at:at] = rest[0]
        elif kind == "overwrite":
            buffer[at : at + len(rest[0])] = rest[0]
    return bytes(buffer)


@contextmanager
def hard_bound(seconds: int):
    """Fail instead of hanging: SIGALRM interrupts the analysis if it runs past the bound."""

    def expired(signum, frame):
        raise TimeoutError(f"analysis ran past {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def valid_mp4(tmp_path_factory) -> bytes:
    folder = tmp_path_factory.mktemp("fuzz")
    path = build_clip(folder / "base.mp4", [Segment(2.2, "face")], width=480, height=270, fps=15)
    return path.read_bytes()


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same cases on every CI run; raise the count locally to explore
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(mutations=st.lists(mutation, min_size=1, max_size=4))
def test_mutated_mp4_always_ends_in_a_report(analyzer, valid_mp4, tmp_path, mutations):
    path = tmp_path / "mutated.mp4"
    path.write_bytes(mutate(valid_mp4, mutations))
    started = time.monotonic()
    with hard_bound(BOUND_S):
        report = analyzer.check(path)
    assert time.monotonic() - started < BOUND_S
    assert report.verdict in {"ready", "fixable", "rejected", "unreadable"}
    if report.verdict == "unreadable":
        assert report.problems and report.problems[0].hint
    report.to_dict(include_frames=True)
    SEEN[report.verdict] += 1


def test_fuzz_ran(capsys):
    """Runs after the property test (file order): the cases were really run."""
    assert sum(SEEN.values()) >= min(EXAMPLES, 20)
    with capsys.disabled():
        print(f"\nfuzz: {sum(SEEN.values())} mutated MP4s -> {dict(SEEN)}")
