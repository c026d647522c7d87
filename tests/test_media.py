"""The media gateway (clipprep/_media.py) and the measures prepared on the decoding thread."""

from __future__ import annotations

import numpy as np
import pytest
from synth import carphone_path

from clipprep import _media as media
from clipprep._errors import InputError
from clipprep._frames import iter_frames
from clipprep._metrics import FrameMeasurer
from clipprep._profiles import get_profile


def test_a_file_that_is_not_media_is_an_input_error(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("not a video at all\n" * 100)
    with pytest.raises(InputError, match="not a readable media file"):
        media.open_clip(path)


def test_rotated_clip_comes_out_upright(rotated_clip):
    with media.open_clip(rotated_clip) as container:
        stream = media.video_stream(container, threads=media.AUTO)
        frame = next(container.decode(stream))
        stored = frame.to_ndarray(format="rgb24")
        turns = media.quarter_turns(frame)
        upright = media.upright(stored, frame)
    assert turns in (1, 3)
    assert upright.shape[:2] == stored.shape[1::-1]
    assert np.array_equal(upright, np.rot90(stored, k=turns))


def test_measures_prepared_on_the_decoding_thread_equal_those_made_in_turn():
    """Motion compares each frame with the one before: prepared in the decoding thread, in
    order, the figures must be exactly those measured one frame after another here."""
    quality = get_profile().quality
    ahead, in_turn = FrameMeasurer((176, 144), quality), FrameMeasurer((176, 144), quality)
    frames = list(iter_frames(carphone_path(), prepare=ahead.plain))
    assert len(frames) > 30
    motions = []
    for frame in frames:
        expected = in_turn.plain(frame.rgb)
        assert np.array_equal(frame.prepared.gray, expected.gray)
        assert frame.prepared.change == expected.change
        assert frame.prepared.lighting == expected.lighting
        motions.append(expected.change[0])
    assert max(motions) > 0  # real footage moves: the comparison with the previous frame ran
