"""Probe + frame metrics + best window + profile -> problems and a verdict.

Frame problems are judged twice: on the part of the clip the service would use *as uploaded*
(its first ``max_duration_s`` seconds) and on the best window. A problem in the best window needs a
new recording; a problem only outside it is fixable by cutting the clip to the window. A span has
a problem when enough of its frames show it (``Quality.span_error_fraction`` /
``span_warn_fraction``), so one odd frame does not fail a clip.

Verdicts: ``ready`` (no errors), ``fixable`` (every error can be fixed by ``clipprep prepare``),
``rejected`` (some error needs a new recording or a different name), ``unreadable``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from . import _tonemap as tonemap
from ._cuts import Cut
from ._metrics import FrameMetrics
from ._probe import Probe
from ._profiles import Profile, ratio_value
from ._targets import Target, target_of
from ._targets.base import Describe, median
from ._vocab import Severity, SubjectMode, TargetKind, Verdict
from ._windows import Window


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a clip, with a stable ``code`` and a hint that says how to fix it."""

    code: str
    severity: str  # "error" (not uploadable as is), "warning" (worse character), "info"
    message: str
    hint: str
    fixable: bool  # clipprep prepare can fix it (trim, transcode, scale, crop)

    def to_dict(self) -> dict:
        """JSON-ready data."""
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "hint": self.hint,
            "fixable": self.fixable,
        }


def verdict_of(problems: Sequence[Problem]) -> str:
    """``ready`` / ``fixable`` / ``rejected`` from the problems found."""
    errors = [p for p in problems if p.severity == Severity.ERROR]
    if any(p.code == "unreadable" for p in errors):
        return Verdict.UNREADABLE
    if not errors:
        return Verdict.READY
    return Verdict.FIXABLE if all(p.fixable for p in errors) else Verdict.REJECTED


def name_problems(name: str | None, profile: Profile) -> list[Problem]:
    """Problems with the character's name (none when no name is given)."""
    if name is None:
        return []
    text = name.strip()
    low, high = profile.name_min_chars, profile.name_max_chars
    if low <= len(text) <= high and text.isprintable():
        return []
    why = f"{len(text)} characters" if text.isprintable() else "it holds control characters"
    return [
        Problem(
            "invalid_name",
            Severity.ERROR,
            f"the name must be {low}–{high} printable characters ({why})",
            f"choose a name of {low}–{high} characters",
            fixable=False,
        )
    ]


def media_problems(probe: Probe, profile: Profile, window: Window | None) -> list[Problem]:
    """Problems with the file itself: container, codec, duration, size, shape, audio."""
    video = probe.video
    if video is None:
        return [
            Problem(
                "no_video",
                Severity.ERROR,
                "the file has no video stream",
                "use a video file",
                fixable=False,
            )
        ]
    found: list[Problem] = []
    add = found.append
    if probe.container not in profile.containers:
        add(
            Problem(
                "not_mp4",
                Severity.ERROR,
                f"the container is {probe.container.upper()}, the service wants "
                f"{'/'.join(c.upper() for c in profile.containers)}",
                "`clipprep prepare` rewrites it as MP4",
                fixable=True,
            )
        )
    if video.codec not in profile.video_codecs or video.bit_depth > 8:
        add(
            Problem(
                "unsupported_codec",
                Severity.WARNING,
                f"the video is {video.codec} {video.pix_fmt} ({video.bit_depth}-bit); "
                "8-bit H.264 is what every service accepts",
                "`clipprep prepare` transcodes it to 8-bit H.264",
                fixable=True,
            )
        )
    if video.hdr:
        add(_hdr_note(video))
    found += _duration_problems(probe.duration_s, video.fps, profile, window)
    found += _frame_rate_problems(probe, profile)
    found += shape_problems(video.width, video.height, profile)
    found += upload_size_problems(probe.size_bytes, profile)
    if video.variable_frame_rate:
        add(
            Problem(
                "variable_frame_rate",
                Severity.WARNING,
                "the frame rate is variable",
                "`clipprep prepare` writes a constant frame rate",
                fixable=True,
            )
        )
    if video.interlaced:
        add(
            Problem(
                "interlaced",
                Severity.WARNING,
                "the video is interlaced",
                "export it progressive (deinterlaced)",
                fixable=False,
            )
        )
    if profile.wants_audio and probe.audio is None:
        add(
            Problem(
                "no_audio",
                Severity.WARNING,
                "the clip has no audio; the character's voice will not be learned",
                "record with sound if the character should speak",
                fixable=False,
            )
        )
    return found


def _frame_rate_problems(probe: Probe, profile: Profile) -> list[Problem]:
    """A frame rate far below video's: the header's average rate, or the frames there are for
    the duration (a clip whose timestamps were stretched shows either)."""
    video = probe.video
    rate = video.fps
    if probe.duration_s > 0 and video.frame_count:
        rate = min(rate, video.frame_count / probe.duration_s)
    if profile.max_fps and video.fps > profile.max_fps * 1.01:
        return [
            Problem(
                "high_frame_rate",
                Severity.ERROR,
                f"the clip has {video.fps:.3g} frames per second; the service takes at most "
                f"{profile.max_fps:g}",
                f"`clipprep prepare` converts it to {profile.max_fps:g} fps",
                fixable=True,
            )
        ]
    if rate >= profile.min_fps * 0.99:  # 1% for rounding: 1500 frames in 300.0x s is 5 fps
        return []
    return [
        Problem(
            "low_frame_rate",
            Severity.ERROR,
            f"the clip has {rate:.3g} frames per second (at least {profile.min_fps:g} needed); "
            "it would be judged on a frame or two",
            "export the original recording at its real frame rate (24–60 fps)",
            fixable=False,
        )
    ]


def shape_problems(width: int, height: int, profile: Profile) -> list[Problem]:
    """The profile's rules on the picture's shape (display size, after rotation): short side
    within ``min_short_side``..``max_short_side``, long over short side at most ``max_aspect``.

    One function for ``check`` and for ``prepare``'s plan, so a planned size is judged exactly
    as the prepared file will be."""
    found: list[Problem] = []
    add = found.append
    short_side, long_side = min(width, height), max(width, height)
    aspect = long_side / max(1, short_side)
    if short_side < profile.min_short_side:
        add(
            Problem(
                "low_resolution",
                Severity.ERROR,
                f"{width}×{height} is below {profile.min_short_side}p (short side {short_side} px)",
                f"record or export at {profile.min_short_side}p or more; upscaling adds no detail",
                fixable=False,
            )
        )
    elif short_side > profile.max_short_side:
        refused = profile.larger_pictures == "refused"
        add(
            Problem(
                "oversized",
                Severity.ERROR if refused else Severity.INFO,
                f"{width}×{height} is above {profile.max_short_side}p; the service "
                + ("refuses it" if refused else "scales it down"),
                "`clipprep prepare` scales it down with a sharper filter and a smaller upload",
                fixable=True,
            )
        )
    found += _pixel_problems(width, height, profile)
    if profile.aspects and not _exact_aspect(width, height, profile):
        add(
            Problem(
                "aspect_ratio",
                Severity.ERROR,
                f"the aspect ratio {width}:{height} is not one the service takes "
                f"({', '.join(profile.aspects)})",
                "`clipprep prepare` crops around the face",
                fixable=True,
            )
        )
    elif aspect > profile.max_aspect:
        add(
            Problem(
                "aspect_ratio",
                Severity.ERROR,
                f"the aspect ratio {aspect:.2f}:1 is wider than {profile.max_aspect}:1",
                "`clipprep prepare` crops around the face",
                fixable=True,
            )
        )
    return found


def _exact_aspect(width: int, height: int, profile: Profile) -> bool:
    """The picture is one of the profile's exact ratios, within 1% (1080×1920 is 9:16)."""
    ratio = width / max(1, height)
    return any(abs(ratio / ratio_value(r) - 1) <= 0.01 for r in profile.aspects)


def _pixel_problems(width: int, height: int, profile: Profile) -> list[Problem]:
    """The profile's pixels-per-frame range (0: no limit)."""
    pixels = width * height
    if pixels < profile.min_frame_pixels:
        return [
            Problem(
                "too_few_pixels",
                Severity.ERROR,
                f"{width}×{height} is {pixels:,} pixels per frame; the service needs at least "
                f"{profile.min_frame_pixels:,}",
                "record or export at a larger size; upscaling adds no detail",
                fixable=False,
            )
        ]
    if profile.max_frame_pixels and pixels > profile.max_frame_pixels:
        return [
            Problem(
                "too_many_pixels",
                Severity.ERROR,
                f"{width}×{height} is {pixels:,} pixels per frame; the service takes at most "
                f"{profile.max_frame_pixels:,}",
                "`clipprep prepare` scales it down",
                fixable=True,
            )
        ]
    return []


def upload_size_problems(size_bytes: int, profile: Profile) -> list[Problem]:
    """The file is over the service's upload limit (``max_upload_bytes``; 0: none)."""
    limit = profile.max_upload_bytes
    if not limit or size_bytes <= limit:
        return []
    return [
        Problem(
            "file_too_large",
            Severity.ERROR,
            f"the file is {size_bytes / 1e6:.1f} MB; "
            f"the service takes at most {limit / 1e6:.1f} MB",
            "`clipprep prepare` re-encodes it smaller",
            fixable=True,
        )
    ]


def _hdr_note(video) -> Problem:
    """Say that the clip is HDR and how it was judged: tone-mapped, as an SDR screen shows it."""
    return Problem(
        "hdr",
        Severity.INFO,
        f"the clip is HDR: {tonemap.describe(video.hdr)}, "
        f"{video.color_primaries or 'primaries untagged'}, {video.bit_depth}-bit; "
        "it was judged tone-mapped to SDR BT.709",
        "`clipprep prepare` writes it tone-mapped to SDR BT.709, as the service shows it",
        fixable=True,
    )


def _duration_problems(
    duration: float, fps: float, profile: Profile, window: Window | None
) -> list[Problem]:
    low, high = profile.min_duration_s, profile.max_duration_s
    # Half a frame of tolerance: 120 frames at 29.97 fps last 4.004 s, and that is a 4 s clip.
    slack = 0.5 / fps if fps > 0 else 0.0
    if duration < low - slack:
        return [
            Problem(
                "too_short",
                Severity.ERROR,
                f"the clip lasts {duration:.2f} s; the service needs at least {low:g} s",
                f"record {low:g}–{high:g} s of the character",
                fixable=False,
            )
        ]
    if duration <= high + slack:
        return []
    keep = f"keep {_span(window)}" if window else "no usable window was found"
    does = (
        f"refuses clips over {high:g} s"
        if profile.longer_clips == "refused"
        else f"keeps only its first {high:g} s"
    )
    return [
        Problem(
            "too_long",
            Severity.ERROR,
            f"the clip lasts {duration:.2f} s; the service {does}",
            f"{keep}: `clipprep prepare` cuts it there",
            fixable=window is not None,
        )
    ]


def _span(window: Window) -> str:
    return f"{window.start_s:.2f}–{window.end_s:.2f} s"


def _span_severities(
    flags: Sequence[dict[str, str]], codes: Iterable[str], profile: Profile
) -> dict[str, str]:
    """code -> severity for a span of frames, from the share of frames flagged."""
    q = profile.quality
    count = max(1, len(flags))
    result: dict[str, str] = {}
    for code in codes:
        errors = sum(1 for f in flags if f.get(code) == Severity.ERROR) / count
        any_flag = sum(1 for f in flags if code in f) / count
        if errors >= q.span_error_fraction:
            result[code] = Severity.ERROR
        elif any_flag >= q.span_warn_fraction:
            result[code] = Severity.WARNING
    return result


def frame_problems(
    metrics: Sequence[FrameMetrics],
    flags: Sequence[dict[str, str]],
    window: Window | None,
    profile: Profile,
    target: str = TargetKind.FACE,
) -> list[Problem]:
    """Problems in the pictures: judged on the clip as uploaded and on the best window.

    ``target`` (``face`` or ``subject``) is what the frames were judged by: its problems are
    the ones looked for, described its way."""
    if not metrics:
        return []
    judged = target_of(target)
    as_is = [i for i, m in enumerate(metrics) if m.time_s < profile.max_duration_s]
    span = range(window.first_sample, window.last_sample + 1) if window else as_is
    in_upload = _span_severities([flags[i] for i in as_is], judged.problems, profile)
    in_window = _span_severities([flags[i] for i in span], judged.problems, profile)
    found = []
    for code, (describe, hint) in judged.problems.items():
        hint = hint.format(noun=judged.name)
        if code in in_window:
            message = _described(describe, judged, code, metrics, flags, span)
            found.append(Problem(code, in_window[code], message, hint, False))
        elif code in in_upload and window is not None:
            share = _described(describe, judged, code, metrics, flags, as_is)
            message = f"{share} in the first {profile.max_duration_s:g} s"
            fix = f"keep {_span(window)}: `clipprep prepare` cuts it there"
            found.append(Problem(code, in_upload[code], message, fix, True))
    return found


def _described(describe: Describe, target: Target, code: str, metrics, flags, indices) -> str:
    """The problem described from the frames that show it, with how many of them do."""
    shown = [i for i in indices if code in flags[i]]
    share = len(shown) / max(1, len(indices))
    return f"{describe([metrics[i] for i in shown], target)} in {share:.0%} of the frames"


def cut_problems(cuts: Sequence[Cut], window: Window | None, profile: Profile) -> list[Problem]:
    """``scene_cut`` when the clip as uploaded (its first ``max_duration_s``) holds a hard cut.

    The cuts are located to the frame (_cuts.py), so a flash of another shot in the first or
    last frames counts: that is how the re-check of a prepared file catches a window a frame
    too long."""
    times = [c.start_s for c in cuts if c.start_s < profile.max_duration_s]
    if not times:
        return []
    where = ", ".join(f"{t:.2f} s" for t in times[:3])
    fix = f"keep {_span(window)} (no cut inside)" if window else "use one continuous shot"
    return [
        Problem(
            "scene_cut",
            Severity.ERROR,
            f"the clip cuts to another shot at {where}",
            fix,
            fixable=window is not None,
        )
    ]


def target_notes(subject_mode: str, target: str, face_share: float, profile: Profile):
    """The ``no_face`` note: ``auto`` found too little face and judged the main subject, so a
    user who expected a face learns why the report speaks of "the subject"."""
    if subject_mode != SubjectMode.AUTO or target == TargetKind.FACE:
        return []
    if face_share <= 0:
        found = "no face was found in the clip"
    else:
        needed = profile.quality.auto_face_share
        found = f"a face was found in only {face_share:.0%} of the frames (auto needs {needed:.0%})"
    return [
        Problem(
            "no_face",
            Severity.INFO,
            f"{found}, so the clip was judged by its main subject, whatever it is",
            "if the character is a person, film the face clearly and facing the camera; "
            "`--subject face` judges by the face only",
            fixable=False,
        )
    ]


def likeness_problems(
    metrics: Sequence[FrameMetrics], window: Window | None, profile: Profile
) -> list[Problem]:
    """The ``human_likeness`` warning, for services that refuse real human faces (and
    ``not_humanoid`` for those that take realistic humanoid figures only)."""
    if window is None:
        return []
    span = metrics[window.first_sample : window.last_sample + 1]
    scores = [m.face_score for m in span if m.face_score is not None]
    if profile.likeness == "realistic_humanoids":
        return _humanoid_problems(scores, span, profile)
    if not profile.warn_human_likeness:
        return []
    # The detector is trained on photographs of people: a confident, steady detection in most
    # frames is a real (or photoreal) human face far more often than a drawn or costumed one.
    if len(scores) < 0.5 * len(span) or median(scores) < 0.7:
        return []
    return [
        Problem(
            "human_likeness",
            Severity.WARNING,
            f"a photoreal human face is visible (detector confidence {median(scores):.2f}); "
            f"{profile.name} refuses real human likeness unless the account has access",
            "use a non-human character, or a provider that accepts people",
            fixable=False,
        )
    ]


def _humanoid_problems(scores: list[float], span, profile: Profile) -> list[Problem]:
    """A service that takes realistic humanoid figures only: warn when the face detector (trained
    on people) finds no face in most of the window."""
    if len(scores) >= 0.5 * len(span):
        return []
    return [
        Problem(
            "not_humanoid",
            Severity.WARNING,
            f"no human-like face in most of the window; {profile.name} takes realistic "
            "humanoid figures only",
            "use a clip of a realistic human-like character",
            fixable=False,
        )
    ]
