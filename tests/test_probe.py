"""probe() facts on clips written with known properties (container, codec, rotation, audio)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from synth import face_frame, write_clip

from clipprep._errors import InputError
from clipprep._probe import probe


def frames(count: int, width: int = 320, height: int = 240):
    background = face_frame(width, height)
    for i in range(count):
        yield np.roll(background, i, axis=1)


@pytest.mark.parametrize(
    ("name", "codec", "pix_fmt", "container", "decoded_as", "depth"),
    [
        ("clip.mp4", "libx264", "yuv420p", "mp4", "h264", 8),
        ("clip.mov", "libx264", "yuv420p", "mov", "h264", 8),
        ("clip.webm", "libvpx-vp9", "yuv420p", "webm", "vp9", 8),
        ("clip.mkv", "libx265", "yuv420p10le", "matroska", "hevc", 10),
    ],
)
def test_container_codec_and_depth(tmp_path, name, codec, pix_fmt, container, decoded_as, depth):
    audio_codec = "libopus" if name.endswith(".webm") else "aac"
    path = write_clip(
        tmp_path / name, frames(30), 15, codec=codec, pix_fmt=pix_fmt, audio_codec=audio_codec
    )
    facts = probe(path)
    assert facts.container == container
    assert facts.video.codec == decoded_as
    assert facts.video.bit_depth == depth
    assert facts.duration_s == pytest.approx(2.0, abs=0.1)
    assert facts.audio is not None
    assert facts.is_mp4 == (container == "mp4")


@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_rotation_gives_the_display_size(tmp_path, rotation):
    path = write_clip(tmp_path / "rot.mp4", frames(10, 320, 240), 10, rotation=rotation)
    video = probe(path).video
    assert video.rotation == rotation % 360
    assert (video.coded_width, video.coded_height) == (320, 240)
    expected = (240, 320) if rotation % 180 else (320, 240)
    assert (video.width, video.height) == expected


def test_constant_rate_clip_without_audio(tmp_path):
    path = write_clip(tmp_path / "silent.mp4", frames(25), 25, audio=False)
    facts = probe(path)
    assert facts.audio is None
    assert facts.video.fps == pytest.approx(25)
    assert facts.video.frame_count == 25
    assert not facts.video.variable_frame_rate


def test_variable_frame_rate_is_detected(tmp_path):
    times = np.cumsum([0.0] + [1 / 30 if i % 2 else 1 / 15 for i in range(39)])
    path = write_clip(tmp_path / "vfr.mp4", frames(40), 30, frame_times=times, audio=False)
    assert probe(path).video.variable_frame_rate
    steady = write_clip(tmp_path / "cfr.mp4", frames(40), 30, audio=False)
    assert not probe(steady).video.variable_frame_rate


@pytest.mark.parametrize(
    ("setup", "words"),
    [
        (lambda p: None, "no such file"),
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.mkdir(), "folder"),
        (lambda p: p.write_bytes(b"\x00" * 4096), "not a readable media file"),
    ],
    ids=["missing", "empty", "folder", "zeros"],
)
def test_bad_inputs_raise_input_error(tmp_path, setup, words):
    path = tmp_path / "input.mp4"
    setup(path)
    with pytest.raises(InputError) as error:
        probe(path)
    assert words in error.value.message
    assert error.value.hint


def test_truncated_clip_still_probes_or_fails_cleanly(tmp_path):
    whole = write_clip(tmp_path / "whole.mp4", frames(60), 30)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    try:
        facts = probe(cut)
    except InputError as error:
        assert error.code == "unreadable"
    else:
        assert facts.video is not None


def test_track_with_a_broken_handler_found_by_fuzzing(tmp_path):
    """Regression: one flipped bit in the size of the audio track's hdlr box left PyAV without
    a codec context for that track, and probe crashed with AttributeError."""
    data = bytearray(write_clip(tmp_path / "good.mp4", frames(20), 10).read_bytes())
    sound = data.index(b"soun")
    handler = data.rindex(b"hdlr", 0, sound)
    data[handler - 4] ^= 1  # the size's top byte: the box now claims 16 MiB
    broken = tmp_path / "broken_handler.mp4"
    broken.write_bytes(bytes(data))
    facts = probe(broken)
    assert facts.video is not None and facts.video.codec == "h264"
    assert facts.audio is None or facts.audio.codec == "unknown"


def _without_file_override() -> None:
    """In the child: drop the capabilities that let root read any file (the bounding set is
    inherited through exec, so the checker runs as root that obeys file permissions)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop, cap_dac_override, cap_dac_read_search = 24, 1, 2
    for capability in (cap_dac_override, cap_dac_read_search):
        if libc.prctl(pr_capbset_drop, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


@pytest.mark.skipif(os.geteuid() != 0, reason="as a normal user, chmod 000 is enough by hand")
@pytest.mark.parametrize("where", ["unreadable file", "closed folder"])
def test_unreadable_inputs(tmp_path, where):
    import subprocess
    import sys

    folder = tmp_path / "clips"
    folder.mkdir()
    clip = write_clip(folder / "clip.mp4", frames(5), 5, audio=False)
    if where == "unreadable file":
        clip.chmod(0o000)
    else:
        folder.chmod(0o000)
    code = (
        "import sys\nfrom clipprep._probe import probe\nfrom clipprep._errors import InputError\n"
        "try:\n    probe(sys.argv[1])\nexcept InputError as e:\n    print(e.code, e.message)\n"
    )
    try:
        result = subprocess.run(
            [sys.executable, "-c", code, str(clip)],
            capture_output=True,
            text=True,
            timeout=60,
            preexec_fn=_without_file_override,
        )
    finally:
        folder.chmod(0o755)
        clip.chmod(0o644)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("unreadable") and "permission denied" in result.stdout


# VmHWM, not ru_maxrss: the latter keeps the parent's peak across fork and exec.
_PEAK_MEMORY = """
import sys
from clipprep._pipeline import Analyzer
with Analyzer() as analyzer:
    report = analyzer.check(sys.argv[1])
with open("/proc/self/status") as status:
    peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
print(report.problems[0].code, peak // 1024)
"""


def _mjpeg_16000(path):
    """A real 16000×16000 MJPEG frame (one 256 MB plane when decoded), three times."""
    from fractions import Fraction

    import av
    import cv2

    side = 16000
    ok, jpeg = cv2.imencode(".jpg", np.full((side, side), 128, np.uint8))
    assert ok
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mjpeg", rate=25)
        stream.width, stream.height, stream.pix_fmt = side, side, "yuvj420p"
        for i in range(3):
            packet = av.Packet(jpeg.tobytes())
            packet.stream, packet.pts, packet.dts = stream, i, i
            packet.time_base = Fraction(1, 25)
            out.mux(packet)
    return path


def _h264_8192(path):
    """8192×8192 H.264: FFmpeg decodes some frames just to open it (find_stream_info)."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25, options={"preset": "ultrafast", "crf": "40"})
        stream.width, stream.height, stream.pix_fmt = 8192, 8192, "yuv420p"
        image = np.full((8192, 8192, 3), 100, np.uint8)
        for i in range(4):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


@pytest.mark.parametrize(
    ("build", "size"),
    [(_mjpeg_16000, "16000×16000"), (_h264_8192, "8192×8192")],
    ids=["mjpeg_16000", "h264_8192"],
)
def test_huge_coded_size_is_refused_before_any_frame_is_decoded(tmp_path, build, size):
    import subprocess
    import sys

    path = build(tmp_path / "huge.mkv")
    result = subprocess.run(
        [sys.executable, "-c", _PEAK_MEMORY, str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    code, peak_mb = result.stdout.split()
    assert code == "limit_exceeded", result.stderr
    # Measured: MJPEG 322 MB before (one frame decoded), H.264 223 MB (frames decoded while
    # opening); with the size read from the header and max_pixels given to FFmpeg: 71 / 87 MB.
    assert int(peak_mb) < 150, peak_mb
    with pytest.raises(InputError) as error:
        probe(path, max_pixels=7680 * 4320)
    assert error.value.code == "limit_exceeded" and size in error.value.message
