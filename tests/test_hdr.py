"""HDR phone clips (HLG, PQ; 10-bit HEVC, BT.2020) are judged and prepared as SDR shows them.

The HDR clips are real SDR footage converted with the published transfer functions (BT.2100,
SDR white at BT.2408's 203 cd/m²), so the SDR original is the reference for what comes back.
"""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest
from synth import Segment, clip_frames, face_frame, hdr_frame, write_clip

from clipprep import _tonemap as tonemap
from clipprep._export import prepare
from clipprep._frames import iter_frames
from clipprep._probe import probe

CLOSE_UP = [Segment(3.0, "face", face_height=0.5)]
MEDIA_CODES = {"not_mp4", "unsupported_codec", "hdr"}  # what the container and codec change


def test_transfer_functions_meet_the_published_reference_points():
    # BT.2408: reference white is 203 cd/m², PQ signal 58 %, HLG signal 75 % (1000 cd/m² display).
    assert tonemap.pq_inverse_eotf(np.array(203.0)) == pytest.approx(0.58, abs=0.005)
    scene = tonemap.hlg_inverse_oetf(np.array(0.75))
    assert 1000 * scene**1.2 == pytest.approx(203, rel=0.01)
    assert tonemap.pq_eotf(np.array(1.0)) == pytest.approx(10000)
    assert tonemap.hlg_oetf(np.array(1 / 12)) == pytest.approx(0.5)
    signal = np.linspace(0, 1, 101)
    assert tonemap.pq_inverse_eotf(tonemap.pq_eotf(signal)) == pytest.approx(signal, abs=1e-6)
    assert tonemap.hlg_oetf(tonemap.hlg_inverse_oetf(signal)) == pytest.approx(signal, abs=1e-7)


def test_tone_curve_keeps_sdr_range_and_rolls_highlights_off():
    light = np.array([0.0, 0.1, 0.5, tonemap.KNEE, 1.0, 4.9, 50.0])
    mapped = tonemap.tone_curve(light)
    assert mapped[:4] == pytest.approx(light[:4])  # faces and midtones are not touched
    assert np.all(np.diff(mapped) > 0) and mapped[-1] <= 1.0
    assert mapped[4] > 0.9  # SDR white stays near white


@pytest.mark.parametrize("hdr", ["hlg", "pq"])
def test_hdr_frame_tone_maps_back_to_the_sdr_picture(hdr):
    picture = face_frame(640, 360, face_height=0.5)
    frame = hdr_frame(picture, hdr)
    assert frame.format.name == "yuv420p10le" and tonemap.hdr_of(frame) == hdr
    back = tonemap.sdr_rgb(frame).astype(int)
    assert np.abs(back - picture).mean() < 1.0
    # Naively read as SDR, the same frame is far off (the fault this module fixes).
    naive = frame.reformat(format="rgb24").to_ndarray().astype(int)
    assert np.abs(naive - picture).mean() > 10
    small = tonemap.sdr_rgb(frame, 320, 180).astype(int)
    expected = cv2.resize(picture, (320, 180), interpolation=cv2.INTER_AREA)
    assert np.abs(small - expected).mean() < 2.0


@pytest.mark.parametrize(
    "crop, size",
    [
        ((0, 0, 1280, 720), (640, 360)),  # shrunk whole: tone-mapped straight at 640x360
        ((160, 0, 960, 720), (960, 720)),  # cropped: tone-mapped whole, then cut
        ((0, 0, 1280, 720), (1280, 720)),  # kept as is
    ],
)
def test_prepare_transform_of_an_hdr_frame_matches_the_sdr_picture(crop, size):
    from clipprep._export import Plan, _transform

    picture = face_frame(1280, 720, face_height=0.5)
    ours = _transform(hdr_frame(picture, "hlg"), Plan(0.0, 3.0, crop, size, 30.0, "none"))
    x, y, w, h = crop
    expected = cv2.resize(picture[y : y + h, x : x + w], size, interpolation=cv2.INTER_AREA)
    assert ours.shape == (size[1], size[0], 3)
    assert np.abs(ours.astype(int) - expected).mean() < 1.5


@pytest.fixture(scope="module")
def clips(clip_dir):
    """The close-up as 8-bit H.264 MP4, and as HLG and PQ 10-bit HEVC MOV."""
    made = {"sdr": write_clip(clip_dir / "closeup_sdr.mp4", clip_frames(CLOSE_UP), 30)}
    for hdr in ("hlg", "pq"):
        made[hdr] = write_clip(
            clip_dir / f"closeup_{hdr}.mov", clip_frames(CLOSE_UP), 30, codec="libx265", hdr=hdr
        )
    return made


@pytest.mark.parametrize(
    "hdr, transfer", [("hlg", "arib-std-b67"), ("pq", "smpte2084"), ("sdr", None)]
)
def test_probe_reads_the_colour_tags(clips, hdr, transfer):
    video = probe(clips[hdr]).video
    assert video.color_transfer == transfer
    if transfer:
        assert (video.hdr, video.color_primaries, video.color_space) == (hdr, "bt2020", "bt2020nc")
        assert (video.codec, video.bit_depth) == ("hevc", 10)
    else:
        assert video.hdr is None


@pytest.mark.parametrize("hdr", ["hlg", "pq"])
def test_analysis_frames_of_hdr_clip_match_the_sdr_original(clips, hdr):
    # Every frame decoded, so both clips sample the same frames whatever their GOP structure.
    ours = [f.rgb.astype(int) for f in iter_frames(clips[hdr], skip_unreferenced=False)]
    reference = [f.rgb.astype(int) for f in iter_frames(clips["sdr"], skip_unreferenced=False)]
    assert len(ours) == len(reference) == 30
    diffs = [np.abs(a - b).mean() for a, b in zip(ours, reference, strict=True)]
    assert max(diffs) < 3.0, diffs


def decoded(path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def saturation(frames: list[np.ndarray]) -> float:
    return float(np.mean([cv2.cvtColor(f, cv2.COLOR_RGB2HSV)[..., 1].mean() for f in frames]))


@pytest.fixture(scope="module")
def sdr_prepared(analyzer, clips, tmp_path_factory):
    return prepare(clips["sdr"], tmp_path_factory.mktemp("sdr") / "out.mp4", analyzer=analyzer)


@pytest.mark.parametrize("hdr", ["hlg", "pq"])
def test_hdr_clip_prepares_to_the_colours_of_its_sdr_original(
    analyzer, clips, sdr_prepared, hdr, tmp_path
):
    before = analyzer.check(clips[hdr])
    sdr_before = analyzer.check(clips["sdr"])
    note = next(p for p in before.problems if p.code == "hdr")
    assert note.severity == "info" and "tone-mapped" in note.message
    assert before.verdict == "fixable"  # MOV and HEVC only: the picture is judged as in SDR
    assert {p.code for p in before.problems} - MEDIA_CODES == {p.code for p in sdr_before.problems}
    face = before.summary["face_luma"]["median"]
    assert face == pytest.approx(sdr_before.summary["face_luma"]["median"], abs=3)

    result = prepare(clips[hdr], tmp_path / "out.mp4", analyzer=analyzer)
    assert any(op["op"] == "tonemap" for op in result.plan.operations)
    assert result.after.video.hdr is None and result.after.video.bit_depth == 8
    assert result.verdict == sdr_prepared.verdict == "ready"
    assert [p.code for p in result.report.problems] == [
        p.code for p in sdr_prepared.report.problems
    ]
    ours, reference = decoded(result.output), decoded(sdr_prepared.output)
    assert len(ours) == len(reference)
    assert np.mean(ours) == pytest.approx(np.mean(reference), abs=1.5)
    assert saturation(ours) / saturation(reference) == pytest.approx(1.0, abs=0.04)
    diffs = [np.abs(a.astype(int) - b).mean() for a, b in zip(ours, reference, strict=True)]
    assert np.mean(diffs) < 3.0, diffs  # two lossy encodes (HEVC, H.264) vs one; was 20-37


def test_batch_thumbnails_of_hdr_clip_look_like_the_sdr_original(clips):
    import base64

    from clipprep._batch import thumbnails

    def pictures(path) -> list[np.ndarray]:
        return [
            cv2.imdecode(np.frombuffer(base64.b64decode(uri.split(",")[1]), np.uint8), 1)
            for uri in thumbnails(str(path), 0.0, 3.0, 2)
        ]

    for hdr in ("hlg", "pq"):
        ours, reference = pictures(clips[hdr]), pictures(clips["sdr"])
        assert len(ours) == len(reference) == 2
        for a, b in zip(ours, reference, strict=True):
            assert np.abs(a.astype(int) - b).mean() < 4.0  # JPEG and two encodes; was 20+
