"""prepare's plan meets the profile by construction: every planned output size passes the same
shape rule ``check`` applies (verdict.shape_problems), for any input size, orientation and
``--aspect``. No encoding: the plan is decided from the probe alone."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clipprep._errors import UsageError
from clipprep._export import ASPECTS, plan
from clipprep._probe import Probe, VideoInfo
from clipprep._profiles import PROFILES, get_profile
from clipprep._report import Report
from clipprep._verdict import shape_problems

SIDE = st.integers(min_value=320, max_value=4096)


def _report(width: int, height: int, rotation: int) -> Report:
    """A checked 10 s clip of ``width``×``height`` (display size, after ``rotation``)."""
    stored = (height, width) if rotation in (90, 270) else (width, height)
    video = VideoInfo(
        codec="h264",
        profile="High",
        pix_fmt="yuv420p",
        bit_depth=8,
        coded_width=stored[0],
        coded_height=stored[1],
        rotation=rotation,
        width=width,
        height=height,
        fps=30.0,
        variable_frame_rate=False,
        frame_count=300,
        bit_rate=None,
        interlaced=False,
    )
    facts = Probe("clip.mp4", 1, "mp4", "MP4", 10.0, "header", video, None)
    return Report("clip.mp4", "fixable", "sora2-characters", [], probe=facts)


def _planned(width, height, rotation, aspect, allow_upscale, profile_name):
    profile = get_profile(profile_name)
    chosen, _ = plan(
        _report(width, height, rotation),
        profile,
        start=1.0,
        end=4.0,
        aspect=aspect,
        allow_upscale=allow_upscale,
    )
    return chosen, profile


@settings(max_examples=400, deadline=None)
@given(
    width=SIDE,
    height=SIDE,
    rotation=st.sampled_from([0, 90, 180, 270]),
    aspect=st.sampled_from([None, *ASPECTS]),
    profile_name=st.sampled_from(sorted(PROFILES)),
)
def test_upscaled_plan_always_passes_the_shape_rule(width, height, rotation, aspect, profile_name):
    allowed = PROFILES[profile_name].aspects
    if aspect is not None and allowed and aspect not in allowed:  # a shape the service refuses
        with pytest.raises(UsageError, match="takes only"):
            _planned(width, height, rotation, aspect, True, profile_name)
        return
    chosen, profile = _planned(width, height, rotation, aspect, True, profile_name)
    out_w, out_h = chosen.size
    assert out_w % 2 == 0 and out_h % 2 == 0
    assert shape_problems(out_w, out_h, profile) == []
    x, y, crop_w, crop_h = chosen.crop
    assert min(x, y) >= 0 and x + crop_w <= width and y + crop_h <= height
    # The picture is scaled, not stretched: output and crop have the same shape to a pixel.
    assert abs(out_w / out_h - crop_w / crop_h) <= 2 / min(out_w, out_h) + 2 / min(crop_w, crop_h)
    if aspect is not None:
        assert out_w / out_h == pytest.approx(ASPECTS[aspect], rel=0.01)


@settings(max_examples=300, deadline=None)
@given(
    width=SIDE,
    height=SIDE,
    rotation=st.sampled_from([0, 90, 180, 270]),
    aspect=st.sampled_from([None, *ASPECTS]),
)
def test_plan_without_upscale_breaks_only_the_resolution_rule(width, height, rotation, aspect):
    """Without --allow-upscale a crop below 720p is kept as it is (with a warning): that is the
    only rule the plan may leave broken, and only when the crop itself is below 720p."""
    chosen, profile = _planned(width, height, rotation, aspect, False, "sora2-characters")
    out_w, out_h = chosen.size
    assert out_w % 2 == 0 and out_h % 2 == 0
    codes = [p.code for p in shape_problems(out_w, out_h, profile)]
    small_crop = min(chosen.crop[2:]) < profile.min_short_side
    assert codes == (["low_resolution"] if small_crop else [])


@pytest.mark.parametrize("size", [(2880, 960), (960, 2880), (4096, 1080), (1081, 2887)])
def test_too_wide_sizes_from_the_issue(size):
    chosen, profile = _planned(*size, 0, None, False, "sora2-characters")
    assert shape_problems(*chosen.size, profile) == []
    assert max(chosen.size) / min(chosen.size) <= profile.max_aspect
