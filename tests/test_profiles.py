"""Service profiles as TOML files: the built-ins' rules judged on real clips, user files, errors.

Media rules are judged on real clips built here (real encodes, real probes); a clip that meets a
profile is checked in full (real face models); prepare for Kling is checked again on its output.
Clips are tiny and few: one per broken rule, shared by every profile it breaks.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest
from synth import Segment

from clipprep._errors import UsageError
from clipprep._options import Options
from clipprep._probe import probe
from clipprep._profiles import PROFILES, ImageRules, get_profile, load_profile
from clipprep._verdict import media_problems, name_problems, upload_size_problems

VIDEO = [p for p in PROFILES.values() if p.images is None]

# name -> (segments, build options): each breaks one rule (or more) of every video profile.
_CLIPS = {
    "short.mp4": ([Segment(1.0, "empty")], {"width": 320, "height": 180, "fps": 10}),
    "long.mp4": ([Segment(16.0, "empty")], {"width": 192, "height": 108, "fps": 6}),
    "other.mkv": ([Segment(2.1, "empty")], {"width": 320, "height": 180, "fps": 10}),
    "wide.mp4": ([Segment(2.1, "empty")], {"width": 1600, "height": 352, "fps": 10}),
    "tiny.mp4": ([Segment(2.1, "empty")], {"width": 160, "height": 90, "fps": 10}),
    "big.mp4": ([Segment(2.1, "empty")], {"width": 2048, "height": 1152, "fps": 6}),
    "fast.mp4": ([Segment(2.05, "empty")], {"width": 640, "height": 640, "fps": 62}),
}


def _broken(code: str, clip: str, *names: str):
    return [pytest.param(name, code, clip, id=f"{name}-{code}") for name in names]


_ALL = [p.name for p in VIDEO]
BROKEN = (
    _broken("too_short", "short.mp4", *_ALL)
    + _broken("too_long", "long.mp4", *_ALL)
    + _broken("not_mp4", "other.mkv", *_ALL)
    + _broken("aspect_ratio", "wide.mp4", *_ALL)
    + _broken("aspect_ratio", "fast.mp4", "kling-video-element")  # 1:1 is not 16:9 or 9:16
    + _broken("low_resolution", "tiny.mp4", *_ALL)
    + _broken("too_few_pixels", "tiny.mp4", "seedance-reference")
    + _broken("oversized", "big.mp4", "kling-video-element")  # refused there, scaled elsewhere
    + _broken("too_many_pixels", "big.mp4", "seedance-reference")
    + _broken("high_frame_rate", "fast.mp4", "seedance-reference")
    + _broken("low_frame_rate", "wide.mp4", "seedance-reference")  # 10 fps, 24 needed
)


@pytest.fixture(scope="module")
def rule_clips(make_clip):
    return lambda name: make_clip(f"rules-{name}", _CLIPS[name][0], **_CLIPS[name][1])


@pytest.mark.parametrize("profile_name, code, clip", BROKEN)
def test_each_video_profile_rejects_a_clip_that_breaks_a_rule(rule_clips, profile_name, code, clip):
    profile = PROFILES[profile_name]
    found = media_problems(probe(rule_clips(clip)), profile, None)
    assert code in {p.code for p in found if p.severity == "error"}, found


@pytest.mark.parametrize("profile", VIDEO, ids=lambda p: p.name)
def test_name_and_upload_size_rules(profile):
    assert [p.code for p in name_problems("", profile)] == ["invalid_name"]
    assert name_problems("Joe", profile) == []
    if profile.max_upload_bytes:
        over = upload_size_problems(profile.max_upload_bytes + 1, profile)
        assert [p.code for p in over] == ["file_too_large"]
        assert upload_size_problems(profile.max_upload_bytes, profile) == []


def test_rules_that_only_some_services_have_leave_the_others_alone(rule_clips):
    """The big 16:9 clip is only scaled down by Sora 2 (info), refused by Kling."""
    found = media_problems(probe(rule_clips("big.mp4")), PROFILES["sora2-characters"], None)
    assert [(p.code, p.severity) for p in found] == [("oversized", "info")]


@pytest.mark.parametrize("name", ["fal-sora2", "vidu-subject", "seedance-reference"])
def test_a_clip_that_meets_the_profile_is_ready(ready_clip, name):
    """A 3 s 1280×720 30 fps talking face: ready everywhere (Seedance warns of the real face)."""
    from clipprep import check

    report = check(ready_clip, profile=name)
    assert report.verdict == "ready", [p.to_dict() for p in report.problems]
    warnings = {p.code for p in report.problems}
    assert ("human_likeness" in warnings) == (name == "seedance-reference")


def test_kling_wants_a_humanoid(make_clip):
    cat = make_clip("rules-cat.mp4", [Segment(3.4, "object", face_height=0.5)], fps=10)
    from clipprep import check

    report = check(cat, profile="kling-video-element")
    assert "not_humanoid" in {p.code for p in report.problems}


def test_prepare_for_kling_crops_around_the_face_to_exactly_1080p(make_clip, tmp_path):
    """21:9 take, face right of centre: Kling gets exactly 1920×1080 cropped around the face,
    checked again on the output (real face detector) and ready."""
    from clipprep._export import prepare

    take = make_clip(
        "rules-take.mp4",
        [Segment(3.2, "face", face_height=0.4, center=(0.62, 0.45))],
        width=2560,
        height=1080,
        fps=6,
    )
    kling = prepare(take, tmp_path / "kling.mp4", options=Options(profile="kling-video-element"))
    assert (kling.after.video.width, kling.after.video.height) == (1920, 1080)
    assert kling.verdict == "ready", [p.to_dict() for p in kling.report.problems]
    centres = [m.face_x + m.face_w / 2 for m in kling.report.frames if m.face_x is not None]
    assert len(centres) >= 0.9 * len(kling.report.frames)
    # Cropped around the face (at 0.62 of 2560 px): it sits in the middle of the crop (a
    # centred crop would show it at 0.66).
    assert abs(statistics.median(centres) - 0.5) < 0.06
    assert "not_humanoid" not in {p.code for p in kling.report.problems}


def _user_profile(path: Path, name: str, extra: str = "") -> Path:
    path.write_text(
        f'name = "{name}"\ndescription = "a small service"\n'
        "min_duration_s = 2.0\nmax_duration_s = 2.5\nmin_short_side = 180\n"
        f'max_short_side = 180\naspects = ["16:9"]\nwants_audio = false\n{extra}'
        "[quality]\nyaw_max = 30.0\n"
        '[[sources]]\nrules = ["max_upload_bytes"]\nsource = "a test"\ndate = "2026-11"\n'
    )
    return path


def test_user_profiles_prepare_in_one_go_and_shrink_to_the_upload_limit(make_clip, tmp_path):
    """Two user TOML profiles with the same rules share one analysis; a third, with an upload
    limit under what CRF 18 gives, gets a file encoded again until it fits."""
    from clipprep._export import prepare_for_services

    take = make_clip(
        "rules-small.mp4", [Segment(3.0, "face")], width=320, height=180, fps=10, audio=False
    )
    a = load_profile(_user_profile(tmp_path / "a.toml", "service-a"))
    assert a.quality.yaw_max == 30.0 and a.sources[0].rules == ("max_upload_bytes",)
    assert get_profile(str(tmp_path / "a.toml")) == a
    b = str(_user_profile(tmp_path / "b.toml", "service-b"))
    first = prepare_for_services(take, tmp_path / "out", [a, b])
    assert [Path(r.output).name for r in first] == [
        "rules-small.service-a.mp4",
        "rules-small.service-b.mp4",
    ]
    assert [r.verdict for r in first] == ["ready", "ready"]
    assert first[0].plan == first[1].plan  # one analysis: the same window, crop and size
    limit = int(Path(first[0].output).stat().st_size * 0.8)
    c = _user_profile(tmp_path / "c.toml", "service-c", f"max_upload_bytes = {limit}\n")
    (shrunk,) = prepare_for_services(take, tmp_path / "out", [str(c)])
    assert Path(shrunk.output).stat().st_size <= limit
    assert any("instead of 18" in w for w in shrunk.warnings), shrunk.warnings
    assert shrunk.verdict == "ready", [p.to_dict() for p in shrunk.report.problems]


@pytest.mark.parametrize(
    "text, key",
    [
        ('name = "x"\ndescription = "d"\nfoo = 1\n', "foo"),
        ('name = "x"\ndescription = "d"\nmax_fps = "fast"\n', "max_fps"),
        ('name = "x"\ndescription = "d"\nmin_duration_s = 5\nmax_duration_s = 3\n', "min_dur"),
        ('name = "x"\ndescription = "d"\n[quality]\nyaw_maxx = 3.0\n', "quality.yaw_maxx"),
        ('name = "x"\ndescription = "d"\n[images]\nformats = ["gif"]\n', "images.formats"),
        ('name = "x"\ndescription = "d"\naspects = ["wide"]\n', "aspects"),
        ('name = "x"\ndescription = "d"\nlikeness = "cats"\n', "likeness"),
        ('name = "x"\ndescription = "d"\n[[sources]]\nrules = ["nope"]\n', "sources[1]"),
        ('description = "d"\n', "name"),
        ('name = "x\n', "not valid TOML"),
    ],
)
def test_a_broken_profile_file_names_the_file_and_the_key(tmp_path, text, key):
    path = tmp_path / "broken.toml"
    path.write_text(text)
    with pytest.raises(UsageError) as caught:
        load_profile(path)
    assert caught.value.code == "bad_profile"
    assert str(path) in caught.value.message and key in caught.value.message


def test_profile_cli_errors_and_listing(tmp_path):
    from click.testing import CliRunner

    from clipprep._cli import main

    broken = tmp_path / "broken.toml"
    broken.write_text('name = "x"\ndescription = "d"\nmin_fps = -1\n')
    result = CliRunner().invoke(main, ["check", "--profile", str(broken), "x.mp4"])
    assert result.exit_code == 2 and "min_fps" in result.output and "negative" in result.output
    image = CliRunner().invoke(main, ["check", "--profile", "veo-reference", "x.mp4"])
    assert image.exit_code == 2 and "still images" in image.output
    listing = CliRunner().invoke(main, ["profiles"])
    assert "kling-video-element (provisional" in listing.output


def test_image_profiles_parse_into_image_rules():
    kling = PROFILES["kling-image-element"].images
    assert isinstance(kling, ImageRules)
    assert (kling.min_count, kling.max_count, kling.min_side_px) == (2, 4, 300)
    assert PROFILES["veo-reference"].images.formats == ("jpeg", "png", "webp")
    assert PROFILES["minimax-subject"].images.max_count == 1
    assert all(p.provisional for p in PROFILES.values() if p.images is not None)
    assert PROFILES["sora2-characters"].images is None
