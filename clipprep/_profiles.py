"""Service rules as data: every threshold clipprep judges a clip by lives in this file.

A :class:`Profile` describes one characters service (what it accepts) and the quality bar clipprep
holds a clip to. The built-in services are small TOML files shipped in ``clipprep/profile_data``
(loaded into :data:`PROFILES`); a user's own file is read with :func:`load_profile` (or passed as
``--profile path/to/service.toml``). A TOML key is a :class:`Profile` field; the ``[quality]``,
``[limits]`` and ``[images]`` tables override :class:`Quality`, :class:`Limits` and
:class:`ImageRules` defaults; each ``[[sources]]`` entry names the rules it documents. Changing a
default threshold is changing one number here (or passing ``dataclasses.replace(profile, ...)``
to :func:`clipprep.check`).
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
import typing
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10 has no TOML reader in the standard library
    import tomli as tomllib

from ._errors import UsageError
from ._vocab import SubjectMode


@dataclass(frozen=True)
class Quality:
    """Per-frame and per-window quality thresholds.

    Luma is 0–255; sizes are fractions of the frame height; angles are degrees.
    """

    # A face is "prominent" when its box height is at least this fraction of the frame height.
    face_height_min: float = 0.08  # below: error face_too_small
    face_height_good: float = 0.15  # below: warning face_too_small
    # A second face competes when its box is at least this fraction of the main face's height.
    competing_face_ratio: float = 0.5
    # The main face touches the frame edge when a box side is closer than this fraction.
    edge_margin: float = 0.01
    # Head pose: beyond "warn" the service sees a turned head, beyond "max" mostly a profile.
    yaw_warn: float = 25.0
    yaw_max: float = 40.0
    pitch_warn: float = 20.0
    pitch_max: float = 35.0
    # Mean luma on the face: below "dark" an error, below "dim" a warning; above "bright" blown out.
    face_luma_dark: float = 45.0
    face_luma_dim: float = 70.0
    face_luma_bright: float = 225.0
    # Fraction of face pixels clipped at the top (luma >= 250) that counts as overexposed.
    overexposed_fraction: float = 0.25
    # |left - right| / (left + right) of face luma above this is uneven (side-lit) lighting.
    lr_imbalance: float = 0.35
    # face luma / background luma below this means the subject is backlit.
    backlight_ratio: float = 0.55
    # Focus measure of the face crop (see _metrics.py; lighting-independent): below "blurry" an
    # error, below "soft" a warning. Measured: a sharp 720p face 67–82 at any brightness, the same
    # face after a 2 px Gaussian blur at analysis size 6–12.
    sharpness_blurry: float = 15.0
    sharpness_soft: float = 35.0
    # Eyes: an eye-aspect ratio below this is a closed eye (blink).
    eyes_closed_ear: float = 0.15
    # Something over the face (a hand, a microphone, a cup): the face mesh's face-presence
    # score (log-odds, _metrics.py) below "covered" an error, below "occluded" a warning.
    # Measured on real photos (the astronaut, Grace Hopper, carphone's man) with real objects
    # pasted over them: uncovered 16.8–33.9 (every carphone frame, dark, blurred, tilted 60°,
    # small and large faces); a hand, a cup or a cat's head over half the face −8.4–5.1, over
    # most of it −9.9–2.1; over the mouth or one eye only 7.0–22 (mostly not caught).
    face_covered_presence: float = 0.0
    face_occluded_presence: float = 8.0
    # ...or the mouth or an eye no longer looks like itself in the rest of the clip (the lowest
    # correlation of the three with their clip medians, _metrics.py): below "covered" an error,
    # below "occluded" a warning. Measured: uncovered, every carphone frame 0.60 or more, the
    # astronaut 0.94 or more; a real hand, a cup or a cat's head over carphone's mouth or one
    # eye −0.34–0.46 (one at 0.57); over the astronaut's mouth 0.29–0.47, her eye −0.13–−0.10.
    face_covered_match: float = 0.2
    face_occluded_match: float = 0.5
    # A span has a problem when at least this fraction of its sampled frames show it.
    span_error_fraction: float = 0.25
    span_warn_fraction: float = 0.10
    # Scene cut (_cuts.py), between two consecutive *decoded frames*: the structure changed
    # (correlation of the contrast-normalized luma thumbnails below the similarity), *and* the
    # pictures changed (mean absolute difference of the luma and chroma thumbnails, 0–255, at
    # least the threshold and ``scene_cut_relative_change`` times their contrast, the luma
    # standard deviation: a cut between two dim shots changes less), *and* both frames show
    # something (contrast at least the minimum: a frame going black in a fade has no structure
    # to compare), *and* the pair before or the pair after kept its structure better by at
    # least the dip (motion changes every pair around it; a cut is one frame).
    # Measured frame to frame and two frames apart (as the fast path decodes): the 5 cuts of
    # bikes.mp4 and the 3 of a Megamind trailer similarity -0.20–0.19, change 0.67–1.2 times
    # the contrast, dip 0.72–0.82; a face shot cut to a street shot at 0.2–0.5 of their
    # brightness 0.00, 1.15 times, dip 0.69–0.86; bikes.mp4's car passing the lens similarity
    # 0.37 (0.20–0.28 dimmed), 0.58 times at most, dip 0.28 at most; fades and dissolves of
    # 5–15 frames similarity 0.69 or more; a light switched on 0.71.
    scene_cut_max_similarity: float = 0.35
    scene_cut_threshold: float = 6.0
    scene_cut_relative_change: float = 0.4
    scene_cut_dip: float = 0.45
    scene_cut_min_contrast: float = 5.0
    # Subject mode (characters that are not human faces; see _subjects.py). The subject's
    # contrast is its mean Lab distance from the background's colours (~ΔE): below, nothing
    # stands out (no_subject). Its size is the geometric mean of its box's width and height
    # fractions. Measured (_subjects.py, 10 fps): the rabbit of bigbuckbunny.mp4 size 0.52–0.57,
    # contrast 19–22, box overlap with the previous sample 0.87–0.98 once it stands; bikes.mp4
    # size 0.13–0.41 and overlap 0.34–0.73.
    subject_contrast_min: float = 8.0
    # A region without texture or detail is a plain shape, not a character (no_subject): the
    # share of its inner pixels with texture or edges (_subjects.py) must reach this. Measured:
    # flat rectangles and ellipses of four colours and three sizes on a plain wall, a brick wall
    # and a coffee photo at most 0.001; bigbuckbunny's rabbit, carphone's man, the cat's head
    # (lit, dark, small, blurred) and the astronaut's head 0.54–0.85.
    subject_detail_min: float = 0.15
    subject_size_min: float = 0.15  # below: error subject_too_small
    subject_size_good: float = 0.25  # below: warning subject_too_small
    # Share of the frame's saliency outside the subject: above "warn" a warning, above "max" an
    # error (cluttered). A box that overlaps the previous sample's less than
    # ``subject_stability_min`` jumps between things: no single subject (cluttered as well).
    clutter_warn: float = 0.5
    clutter_max: float = 0.7
    subject_stability_min: float = 0.5
    # --subject auto judges faces when a face is found in at least this share of the samples.
    auto_face_share: float = 0.5
    # Frames scoring below this are "bad" and weigh against any window that holds them.
    bad_frame_score: float = 0.35
    # Windows are ranked by their score times 1 + this much for their length: 0 for the
    # shortest allowed, all of it for the longest (two more seconds of the same character are
    # worth a little quality: on carphone's talker the first 2 s score 0.91 and all 4 s 0.85).
    window_length_worth: float = 0.1
    # Windows ranked within this of the best are "equally good": the longest of them that shares
    # footage with the best wins (a near-tie lengthens the best window, never swaps its shot).
    window_tie: float = 0.02
    # Graded frame score (_windows.py): within the acceptable band a frame still scores higher
    # for a bigger face (subject), a more frontal pose, a sharper and better lit picture. Each
    # grade g runs 0..1 and multiplies the score by 1 - weight × (1 - g), so together they leave
    # an acceptable frame at least 0.8 × 0.8 × 0.9 × 0.9 × 0.9 = 0.47: enough that a 0.52-high
    # frontal close-up (0.99) beats a 0.29-high medium shot turned 17° (0.76), never enough to
    # make an acceptable frame "bad" (below bad_frame_score).
    face_height_best: float = 0.5  # face height (of the frame) that gets the full size grade
    subject_size_best: float = 0.5  # subject size that gets the full size grade
    sharpness_good: float = 60.0  # sharpness that gets the full sharpness grade
    face_luma_good: float = 100.0  # luma between "good" and "bright_good": full light grade
    face_luma_bright_good: float = 190.0
    grade_size: float = 0.2  # weight of the size grade: ramp from the "good" to the "best" size
    grade_yaw: float = 0.2  # weight of frontality: 1 at yaw 0, 0 at yaw_warn
    grade_pitch: float = 0.1  # the same for pitch (0 at pitch_warn)
    grade_sharpness: float = 0.1  # ramp from sharpness_soft to sharpness_good
    grade_light: float = 0.1  # ramp from face_luma_dim to face_luma_good, and down to bright


@dataclass(frozen=True)
class Limits:
    """What clipprep agrees to analyse: hostile or absurd files stop here with a clear error
    (code ``limit_exceeded``) instead of eating the machine."""

    max_file_bytes: int = 8 * 2**30  # 8 GiB
    max_duration_s: float = 15 * 60.0  # a characters clip is 2–4 s; 15 min is plenty of margin
    max_pixels: int = 7680 * 4320  # 8K
    max_seconds: float = 300.0  # wall-clock time for one file's analysis


@dataclass(frozen=True)
class ImageRules:
    """What an image-reference service accepts: how many stills, their size, shape and files."""

    min_count: int = 1
    max_count: int = 4
    min_side_px: int = 300
    min_aspect: float = 0.4  # width / height
    max_aspect: float = 2.5
    formats: tuple[str, ...] = ("jpeg", "png")
    max_bytes: int = 10 * 2**20


@dataclass(frozen=True)
class Source:
    """Where some rules of a profile come from, and when they were read there."""

    rules: tuple[str, ...]  # Profile field names ("max_fps", "images.max_bytes")
    source: str  # a page, or a description of it
    date: str  # when it was read (YYYY-MM or YYYY-MM-DD)
    note: str = ""


@dataclass(frozen=True)
class Profile:
    """What one characters service accepts, and what clipprep warns about for it."""

    name: str
    description: str
    containers: tuple[str, ...] = ("mp4",)
    video_codecs: tuple[str, ...] = ("h264",)
    min_duration_s: float = 2.0
    max_duration_s: float = 4.0
    min_short_side: int = 720
    max_short_side: int = 1080  # larger is scaled down by the service
    max_aspect: float = 2.67  # long side / short side, either orientation
    # Below this many frames per second a clip is a slideshow (or its timestamps are stretched):
    # the character would be judged on a frame or two. Real footage, even 10 fps webcams, is above.
    min_fps: float = 5.0
    name_min_chars: int = 1
    name_max_chars: int = 80
    wants_audio: bool = True  # no audio is a warning, never an error
    add_silent_audio: bool = False  # prepare gives a clip without audio a silent track
    # What prepare writes: H.264 quality (x264 CRF: lower is better and bigger) and speed.
    output_crf: int = 18
    output_preset: str = "medium"
    warn_human_likeness: bool = False
    # What the character is judged by: "face", "any" (the main subject, whatever it is) or
    # "auto" (faces when most samples show one, the subject otherwise).
    subject_mode: str = SubjectMode.AUTO
    quality: Quality = field(default_factory=Quality)
    limits: Limits = field(default_factory=Limits)
    # What the service does with a clip longer than max_duration_s: "trimmed" (keeps its start)
    # or "refused"; with a picture whose short side is above max_short_side: "scaled" or
    # "refused". Either way prepare cuts (scales) it; the verdict's message says which.
    longer_clips: str = "trimmed"
    larger_pictures: str = "scaled"
    # Pixels per frame (width × height) the service takes; 0: no limit.
    min_frame_pixels: int = 0
    max_frame_pixels: int = 0
    # Exact aspect ratios ("16:9", "9:16"), within 1%; empty: any up to max_aspect. With
    # min_short_side == max_short_side, prepare writes exactly that size (1080 -> 1920×1080).
    aspects: tuple[str, ...] = ()
    max_fps: float = 0.0  # 0: no limit; above it prepare converts the frame rate
    max_upload_bytes: int = 0  # the file-size limit of the upload; 0: none
    # Who the service takes as a character: "any", "no_real_humans" (photoreal people refused)
    # or "realistic_humanoids" (only realistic human-like figures).
    likeness: str = "any"
    provisional: bool = False  # the rules come from a reseller's copy of the vendor's docs
    sources: tuple[Source, ...] = ()
    images: ImageRules | None = None  # None for a video profile

    def to_dict(self) -> dict:
        """The profile as JSON-ready data."""
        return asdict(self)


DEFAULT_PROFILE = "sora2-characters"
SUBJECT_MODES = SubjectMode.ALL
# The values a few text fields may take (see Profile).
CHOICES = {
    "subject_mode": SUBJECT_MODES,
    "longer_clips": ("trimmed", "refused"),
    "larger_pictures": ("scaled", "refused"),
    "likeness": ("any", "no_real_humans", "realistic_humanoids"),
}
IMAGE_FORMATS = ("jpeg", "png", "webp")
# Pairs that must not cross (a max of 0 means "no limit" where the field says so).
_ORDERED = (
    ("min_duration_s", "max_duration_s"),
    ("min_short_side", "max_short_side"),
    ("min_frame_pixels", "max_frame_pixels"),
    ("min_fps", "max_fps"),
    ("name_min_chars", "name_max_chars"),
    ("images.min_count", "images.max_count"),
    ("images.min_aspect", "images.max_aspect"),
)
_ZERO_IS_UNLIMITED = {"max_frame_pixels", "max_fps", "max_upload_bytes"}
_RATIO = re.compile(r"^([1-9][0-9]*):([1-9][0-9]*)$")
# Built-ins in the order `clipprep profiles` lists them: the two original services first.
_BUILTINS = (
    "sora2-characters",
    "openai-characters",
    "fal-sora2",
    "kling-video-element",
    "vidu-subject",
    "seedance-reference",
    "kling-image-element",
    "veo-reference",
    "minimax-subject",
)


def ratio_value(text: str) -> float:
    """``"16:9"`` -> 1.777…"""
    width, height = _RATIO.match(text).groups()
    return int(width) / int(height)


def load_profile(path: str | os.PathLike) -> Profile:
    """Read a profile from a TOML file; :class:`UsageError` (code ``bad_profile``) naming the
    file and the key for anything wrong in it."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _bad(path, f"cannot read it ({exc.__class__.__name__}: {exc})") from None
    return profile_from_toml(text, str(path))


def profile_from_toml(text: str, origin: str = "<profile>") -> Profile:
    """Parse and validate one profile's TOML text (``origin`` names it in errors)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _bad(origin, f"not valid TOML: {exc}") from None
    return profile_from_dict(data, origin)


def profile_from_dict(data: dict, origin: str = "<profile>") -> Profile:
    """Build a validated :class:`Profile` from TOML-shaped data."""
    data = dict(data)
    for required in ("name", "description"):
        if required not in data:
            raise _bad(origin, f"the key {required!r} is missing")
    tables = {"quality": Quality, "limits": Limits, "images": ImageRules}
    values = {
        key: _dataclass_of(tables[key], data.pop(key), origin, key)
        for key in list(data)
        if key in tables
    }
    if "sources" in data:
        values["sources"] = _sources(data.pop("sources"), origin)
    values.update(_fields_of(Profile, data, origin, ""))
    profile = Profile(**values)
    _check_profile(profile, origin)
    return profile


def _bad(origin, problem: str, key: str | None = None) -> UsageError:
    where = f"{origin}: {key}: " if key else f"{origin}: "
    return UsageError(
        f"bad profile {where}{problem}",
        code="bad_profile",
        hint="see README, section Service profiles, for the keys and their types",
    )


def _dataclass_of(cls, table, origin, prefix: str):
    if not isinstance(table, dict):
        raise _bad(origin, f"must be a table, not {_type_name(table)}", prefix)
    return cls(**_fields_of(cls, table, origin, prefix + "."))


def _fields_of(cls, table: dict, origin, prefix: str) -> dict:
    """``table``'s values checked against ``cls``'s field types; unknown keys refused."""
    hints = typing.get_type_hints(cls)
    tables = {"quality", "limits", "images", "sources"}  # read apart, before the plain keys
    names = {f.name for f in dataclasses.fields(cls)} - tables
    values = {}
    for key, value in table.items():
        if key not in names:
            known = ", ".join(sorted(names | (tables if cls is Profile else set())))
            raise _bad(origin, f"unknown key (known: {known})", prefix + key)
        values[key] = _typed(value, hints[key], origin, prefix + key)
    return values


def _typed(value, hint, origin, key):
    """``value`` as the field type ``hint`` (int, float, str, bool or tuple[str, ...])."""
    if hint is bool or hint is str:
        ok = isinstance(value, hint)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    else:  # tuple[str, ...]
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        value = tuple(value) if ok else value
    if not ok:
        wanted = {bool: "true or false", str: "a string", int: "an integer", float: "a number"}
        raise _bad(
            origin,
            f"must be {wanted.get(hint, 'a list of strings')}, not {_type_name(value)}",
            key,
        )
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        raise _bad(origin, f"must not be negative ({value})", key)
    return value


def _type_name(value) -> str:
    return {bool: "true/false", str: "a string", int: "an integer", float: "a number"}.get(
        type(value), "a list" if isinstance(value, list) else "a table"
    )


def _sources(entries, origin) -> tuple[Source, ...]:
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise _bad(origin, "must be [[sources]] tables", "sources")
    found = []
    for number, entry in enumerate(entries, 1):
        key = f"sources[{number}]"
        for required in ("rules", "source", "date"):
            if required not in entry:
                raise _bad(origin, f"the key {required!r} is missing", key)
        found.append(Source(**_fields_of(Source, entry, origin, key + ".")))
    return tuple(found)


def _check_profile(profile: Profile, origin) -> None:
    """Cross-field rules: choices, ratios, image formats, min ≤ max, sources naming fields."""
    for key, allowed in CHOICES.items():
        if getattr(profile, key) not in allowed:
            raise _bad(origin, f"must be one of {', '.join(allowed)}", key)
    for ratio in profile.aspects:
        if not _RATIO.match(ratio):
            raise _bad(origin, f'{ratio!r} is not a ratio like "16:9"', "aspects")
    if profile.images is not None:
        for name in profile.images.formats:
            if name not in IMAGE_FORMATS:
                raise _bad(origin, f"{name!r}: one of {', '.join(IMAGE_FORMATS)}", "images.formats")
    for low_key, high_key in _ORDERED:
        low, high = _value(profile, low_key), _value(profile, high_key)
        if low is None or (high_key in _ZERO_IS_UNLIMITED and high == 0):
            continue
        if low > high:
            raise _bad(origin, f"{low_key} {low} is above {high_key} {high}", low_key)
    for source in profile.sources:
        for rule in source.rules:
            if _value(profile, rule, missing=KeyError) is KeyError:
                raise _bad(origin, f"{rule!r} is not a rule of a profile", "sources.rules")


def _value(profile: Profile, dotted: str, missing=None):
    """A field by its TOML path (``max_fps``, ``images.max_count``); ``missing`` if none."""
    value = profile
    for part in dotted.split("."):
        if value is None or not hasattr(value, part) or part.startswith("_"):
            return missing if value is not None else None
        value = getattr(value, part)
    return value


def _builtins() -> dict[str, Profile]:
    folder = resources.files("clipprep") / "profile_data"
    found = {}
    for name in _BUILTINS:
        entry = folder / f"{name}.toml"
        found[name] = profile_from_toml(entry.read_text(encoding="utf-8"), f"built-in {name}")
    return found


PROFILES: dict[str, Profile] = _builtins()


def video_profile(profile: Profile) -> Profile:
    """``profile``, or :class:`UsageError` if it is an image service's (those take stills)."""
    if profile.images is not None:
        raise UsageError(
            f"{profile.name} is a profile for still images, not for a video clip",
            code="bad_profile",
            hint="use `clipprep stills` with it, or a video profile for check and prepare",
        )
    return profile


def get_profile(profile: str | Profile | None = None) -> Profile:
    """Return the named profile (default ``sora2-characters``), or the one in a ``.toml`` file
    when given a path; a ``Profile`` passes through."""
    if isinstance(profile, Profile):
        return profile
    name = profile or DEFAULT_PROFILE
    if isinstance(name, os.PathLike) or str(name).endswith(".toml") or os.sep in str(name):
        return load_profile(name)
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise UsageError(
            f"unknown profile {name!r}", hint=f"choose one of: {known}, or a .toml file"
        ) from None


def profile_names() -> list[str]:
    """The names of the known profiles, in their order (the CLI's choices are read here)."""
    return list(PROFILES)


@dataclass(frozen=True)
class StillsQuality:
    """How ``clipprep stills`` picks reference images from a clip's sampled frames (_stills.py).

    Angles are degrees (_pose.py's signs); sizes are fractions of the frame height.
    """

    # Every picked image: eyes at least this open (eye aspect ratio; Quality.eyes_closed_ear is
    # 0.15 for a blink: a half-closed eye is no reference either), sharpness at least
    # Quality.sharpness_soft, face luma within Quality.face_luma_dim..face_luma_bright, face
    # unoccluded (Quality.face_occluded_*), one face, not cut off, at least face_height_min.
    eyes_open_min: float = 0.18
    # Beyond these the mesh reads the pose short and the far eye is hidden: no reference.
    yaw_max: float = 50.0
    pitch_max: float = 30.0
    # The frontal image: within these of facing the camera (else the most frontal, said so).
    frontal_yaw: float = 12.0
    frontal_pitch: float = 15.0
    # ...preferring a usual expression: eyes and mouth that look like themselves in the rest of
    # the clip (FrameMetrics.face_region_match up to this; carphone's talker reads 0.62 with
    # his mouth wide open, 0.86–0.97 talking calmly).
    frontal_neutral_match: float = 0.9
    # From this |yaw| an extra image is a three-quarter view; below it, "slightly turned".
    three_quarter_yaw: float = 20.0
    # Diversity: images are points (yaw, pitch, roll_weight × roll, size_weight × log2 face
    # height); an extra image
    # must lie at least min_distance from every picked one (fewer, rather than near-duplicates),
    # and farther than distance_enough counts no more: then quality decides.
    size_weight: float = 20.0  # a face twice as big is as new as a 20° turn
    roll_weight: float = 0.5  # a head tilted in the picture shows less that is new than a turn
    min_distance: float = 12.0
    distance_enough: float = 25.0
    # Candidates with a quality (0..1, _stills.py) below this are never picked.
    min_quality: float = 0.4
    # The crop: head and shoulders, this many face heights tall, the face box's top this many
    # face heights below the crop's top, width / height as close to portrait_aspect as the
    # service allows.
    crop_face_heights: float = 3.2
    crop_headroom: float = 0.7
    portrait_aspect: float = 0.8
    # A subject (no face) gets this much of its box's size added on each side.
    subject_margin: float = 0.15
    # JPEG: first quality, the step down while the file is over the size limit, and the floor.
    jpeg_quality: int = 95
    jpeg_quality_step: int = 10
    jpeg_quality_min: int = 40
