"""``check``: probe → frames → faces → metrics → windows → verdict → Report, for one clip.

:class:`Analyzer` loads the face models once and checks any number of clips with them (the CLI
and batch runs use one per process); :func:`check` is the one-call form.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ._cuts import Cut, CutFinder, cuts_between
from ._errors import InputError, UsageError
from ._faces import FaceFinder, faces_along
from ._frames import (
    DecodeStats,
    iter_frames,
    spare_cores,
)
from ._metrics import FrameMeasurer, FrameMetrics, with_region_matches
from ._options import Options, options_of
from ._pose import smooth_angles
from ._probe import Probe, checked_size, limit_error, probe
from ._profiles import SUBJECT_MODES, Profile, video_profile
from ._report import Report, summarize
from ._subjects import Subject, SubjectFinder
from ._targets import frame_flags, frame_score
from ._verdict import (
    Problem,
    cut_problems,
    frame_problems,
    likeness_problems,
    media_problems,
    name_problems,
    target_notes,
    verdict_of,
)
from ._vocab import Severity, SubjectMode, TargetKind, Verdict
from ._windows import best_window

# Head pose is smoothed over this many seconds of samples (a running median): landmark fits
# jitter by a few degrees per frame. In seconds, not samples, so every sampling rate smooths
# alike (5 samples at 30 fps flagged carphone's talker as turned away twice as often).
_POSE_SMOOTHING_S = 0.5
# The face detector runs on every other sample; the samples between take the face interpolated
# between their neighbours' when those agree, and are detected too when they do not
# (faces.faces_along). ``thorough`` detects on every sample.
_DETECT_EVERY = 2
# The face mesh (2.8 ms) runs on at most every other sample with a detected face; the samples
# between take the smoothed pose of their neighbours. ``thorough`` runs it on every sample.
_MESH_EVERY = 2
# --subject auto: while a face is in view, the subject is located on every this-many-th sample
# and carried between (it only counts if faces lose; 1.1 s of CPU on a 30 s clip otherwise).
_SUBJECT_EVERY_WITH_FACE = 3


class Analyzer:
    """Checks clips with one set of :class:`Options`, loading the face models once.

    ``Analyzer(options)``, or ``Analyzer(thorough=True)``: the options' fields as keywords
    change the given options (default: the defaults). ``thumbnails``: reports carry this many
    thumbnails of the best window, taken from the analysed samples.
    """

    def __init__(self, options: Options | None = None, *, thumbnails: int = 0, **changes):
        self.options = options_of(options, **changes)
        self.profile = video_profile(self.options.rules())
        # What the character is judged by: auto, face or any (the options' or the profile's).
        self.subject_mode = _subject_mode(self.profile.subject_mode)
        self.sample_fps = self.options.sample_fps
        self.analysis_long_side = self.options.analysis_size
        # Every frame decoded, every model on every sample: slow, the reference for the
        # shortcuts (skipped frames, followed faces, mesh every other sample).
        self.thorough = self.options.thorough
        self._model_dir = self.options.model_dir
        self._finder: FaceFinder | None = None
        # Reports carry this many thumbnails of the best window, taken from the analysed samples
        # (a batch's HTML page shows them; decoding each clip again for them cost a 13-clip
        # batch 0.8 s of its 7.7 s of CPU).
        self.thumbnails = thumbnails
        self._kept: _Thumbnails | None = None

    def __enter__(self) -> Analyzer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Release the face models."""
        if self._finder is not None:
            self._finder.close()
            self._finder = None

    def check(
        self,
        path: str | os.PathLike,
        *,
        name: str | None = None,
        progress: Callable[[float, float], None] | None = None,
    ) -> Report:
        """Analyse one clip. Unreadable input gives a report with verdict ``unreadable``.

        ``progress(done_s, duration_s)`` is called as each sampled frame is analysed.
        """
        started = time.perf_counter()
        path_text = os.fspath(path)
        try:
            self._check_size(Path(path))
            facts = probe(path, max_pixels=self.profile.limits.max_pixels)
            self._check_extent(facts)
            report = self._check_probed(Path(path), facts, name, started, progress)
        except InputError as exc:
            report = _unreadable(path_text, exc, self.profile, name)
        report.analysis["elapsed_s"] = round(time.perf_counter() - started, 3)
        return report

    def _check_size(self, path: Path) -> None:
        limit = self.profile.limits.max_file_bytes
        size = checked_size(path)  # missing, empty, a FIFO...: the InputError says which
        if size > limit:
            raise limit_error(
                f"{path.name}: {size / 2**30:.1f} GiB is over the {limit / 2**30:g} GiB limit"
            )

    def _check_extent(self, facts: Probe) -> None:
        limits = self.profile.limits
        if facts.duration_s > limits.max_duration_s:
            raise limit_error(
                f"{Path(facts.path).name}: {facts.duration_s:.0f} s is over the "
                f"{limits.max_duration_s:g} s analysis limit"
            )

    def _check_probed(
        self, path: Path, facts: Probe, name: str | None, started: float, progress=None
    ) -> Report:
        profile = self.profile
        if facts.video is None:
            problems = name_problems(name, profile) + media_problems(facts, profile, None)
            return Report(
                str(path), verdict_of(problems), profile.name, problems, facts, None, name
            )
        deadline = started + self.profile.limits.max_seconds
        metrics, stats, cuts = self._measure(path, facts, deadline, progress)
        quality = profile.quality
        face_share = sum(m.face_h is not None for m in metrics) / len(metrics)
        target = self._target(face_share)
        flags = [frame_flags(m, quality, target) for m in metrics]
        scores = [frame_score(m, quality, target) for m in metrics]
        window = self._window(metrics, scores, cuts, facts)
        problems = _ordered(
            name_problems(name, profile)
            + media_problems(facts, profile, window)
            + frame_problems(metrics, flags, window, profile, target)
            + cut_problems(cuts, window, profile)
            + likeness_problems(metrics, window, profile)
            + target_notes(self.subject_mode, target, face_share, profile)
        )
        span = slice(window.first_sample, window.last_sample + 1) if window else slice(None)
        shown = (window.start_s, window.end_s) if window else (0.0, facts.duration_s)
        return Report(
            path=str(path),
            verdict=verdict_of(problems),
            profile=profile.name,
            problems=problems,
            probe=facts,
            best_window=window,
            name=name,
            summary=summarize(metrics[span], scores[span]),
            analysis={
                "subject_mode": self.subject_mode,
                "target": target,
                "face_share": round(face_share, 4),
                "sample_fps": self.sample_fps,
                "analysis_long_side": self.analysis_long_side,
                "frames_decoded": stats.decoded,
                "frames_sampled": stats.sampled,
                "thorough": self.thorough,
                "decode_errors": stats.errors,
                "cuts": [cut.to_dict() for cut in cuts],
                "face_models": [
                    "face_detection_full_range_sparse",
                    "face_detection_short_range",
                    "face_landmark",
                ],
            },
            frames=metrics,
            scores=scores,
            thumbnails=self._kept.spread(*shown, self.thumbnails) if self._kept else [],
        )

    def _measure(
        self, path: Path, facts: Probe, deadline: float, progress=None
    ) -> tuple[list[FrameMetrics], DecodeStats, list[Cut]]:
        """Every sample's metrics (is_cut marked), the decoder's stats, and the scene cuts."""
        finder = self._face_finder()
        finder.reset()
        self._kept = _Thumbnails() if self.thumbnails else None
        stats = DecodeStats()
        fps = facts.video.fps
        cut_finder = CutFinder(self.profile.quality, 1.0 / fps if fps > 0 else 0.0)
        measurer = FrameMeasurer((facts.video.width, facts.video.height), self.profile.quality)
        decoded = iter_frames(
            path,
            sample_fps=self.sample_fps,
            long_side=self.analysis_long_side,
            stats=stats,
            skip_unreferenced=not self.thorough,
            on_decoded=cut_finder.add,
            duration_s=facts.duration_s,
            prepare=measurer.plain,  # on the decoding thread: the face models' thread is busier
        )
        # Closing the frames stops and joins the decoding thread now, whatever ends the loop:
        # left to the garbage collector after Ctrl-C, it was still inside FFmpeg or OpenCV when
        # the interpreter exited, and the process died of SIGABRT instead of exiting 130.
        with _opencv_threads(spare_cores()), contextlib.closing(decoded):
            frames = _until(deadline, decoded, path, self.profile)
            if progress is not None:
                frames = _reporting(frames, progress, facts.duration_s)
            metrics = self._measure_frames(frames, finder, measurer)
        if not metrics:
            raise InputError(f"{path.name}: no frame could be decoded", code="unreadable")
        metrics = with_region_matches(metrics, measurer.regions)
        cuts = cut_finder.cuts
        flags = cuts_between(np.array([m.time_s for m in metrics]), cuts)
        metrics = [
            dataclasses.replace(m, is_cut=bool(flag))
            for m, flag in zip(metrics, flags, strict=True)
        ]
        pose_span = _samples_in(metrics, _POSE_SMOOTHING_S)
        metrics = [
            m for shot in _shots(metrics) for m in _filled_presence(_smoothed_pose(shot, pose_span))
        ]
        return metrics, stats, cuts

    def _measure_frames(
        self, frames, finder: FaceFinder, measurer: FrameMeasurer
    ) -> list[FrameMetrics]:
        """Faces, landmarks, subject and metrics of each frame, in order."""
        subjects = _Subjects(self.subject_mode, self.thorough)
        mesh_every = 1 if self.thorough else _MESH_EVERY
        since_mesh = mesh_every
        stride = 1 if self.thorough else _DETECT_EVERY
        metrics = []
        for sample in faces_along(frames, finder, stride=stride):
            frame, faces = sample.frame, sample.faces
            if self._kept is not None:
                self._kept.add(frame)
            wants_pose = bool(faces) and sample.detected and since_mesh >= mesh_every
            landmarks = finder.landmarks(frame.rgb, faces[0]) if wants_pose else None
            since_mesh = 1 if wants_pose else since_mesh + 1
            subject = subjects.locate(frame.rgb, face_in_view=bool(faces))
            metrics.append(
                measurer.measure(frame, faces, landmarks, subject=subject, estimate_pose=wants_pose)
            )
        return metrics

    def _target(self, face_share: float) -> str:
        """What this clip's frames are judged by: its face or its main subject."""
        if self.subject_mode == SubjectMode.FACE:
            return TargetKind.FACE
        if self.subject_mode == SubjectMode.ANY:
            return TargetKind.SUBJECT
        auto_face = face_share >= self.profile.quality.auto_face_share
        return TargetKind.FACE if auto_face else TargetKind.SUBJECT

    def _face_finder(self) -> FaceFinder:
        if self._finder is None:
            self._finder = FaceFinder(self._model_dir, thorough=self.thorough)
        return self._finder

    def _window(self, metrics: list[FrameMetrics], scores: list[float], cuts, facts: Probe):
        times = np.array([m.time_s for m in metrics])
        return best_window(
            times,
            np.array(scores),
            cuts,
            clip_duration=facts.duration_s,
            min_s=self.profile.min_duration_s,
            max_s=self.profile.max_duration_s,
            quality=self.profile.quality,
        )


def check(
    path: str | os.PathLike,
    options: Options | None = None,
    *,
    name: str | None = None,
    **changes,
) -> Report:
    """Check one clip against a service profile and find its best 2–4 s window.

    Returns a :class:`Report` (``verdict`` is ``ready``, ``fixable``, ``rejected`` or
    ``unreadable``). ``options`` (:class:`~clipprep._options.Options`) say how: the profile, the
    subject mode (``face``, ``any``: the main subject whatever it is, or ``auto``: faces when
    most samples show one), the sampling, ``thorough`` (every frame decoded, every model on
    every sample: several times slower; the fast path is tested to pick the same window)...;
    its fields as keywords change them (``check(path, profile="openai-characters")``). Raises
    :class:`~clipprep._errors.ModelError` when the face models cannot be found or fetched, and
    :class:`~clipprep._errors.UsageError` for an unknown profile or subject mode.
    """
    with Analyzer(options, **changes) as analyzer:
        return analyzer.check(path, name=name)


@contextlib.contextmanager
def _opencv_threads(count: int):
    """Limit OpenCV's thread pool to ``count`` while the block runs, then restore it.

    OpenCV sizes its pool to every core, but the decoder thread already keeps one busy: on 2
    cores the face mesh took 2.8 ms of wall time and 5.4 ms of CPU a call with 2 threads, 3.2 ms
    of both with one, and a 30 s check used 0.6 s less CPU.
    """
    import cv2

    before = cv2.getNumThreads()
    cv2.setNumThreads(count)
    try:
        yield
    finally:
        cv2.setNumThreads(before)


def _until(deadline: float, frames, path: Path, profile: Profile):
    """``frames``, stopped with a ``time_limit`` error once the clock passes ``deadline``."""
    for frame in frames:
        if time.perf_counter() > deadline:
            raise InputError(
                f"{path.name}: analysis stopped after {profile.limits.max_seconds:g} s",
                code="time_limit",
                hint="a damaged or hostile file can be slow to decode; raise --time-limit",
            )
        yield frame


def _reporting(frames, progress: Callable[[float, float], None], duration_s: float):
    """``frames``, telling ``progress`` how far into the clip each one is."""
    for frame in frames:
        progress(frame.time_s, duration_s)
        yield frame


def _samples_in(metrics: list[FrameMetrics], seconds: float) -> int:
    """How many samples (odd, at least 1) span ``seconds`` at the clip's sampling rate."""
    if len(metrics) < 2:
        return 1
    period = float(np.median(np.diff([m.time_s for m in metrics])))
    count = max(1, round(seconds / period)) if period > 0 else 1
    return count if count % 2 else count + 1


THUMBNAIL_HEIGHT = 120  # pixels; the HTML page shows them at most 90 px high


class _Thumbnails:
    """A small JPEG of every analysed sample (upright and SDR like the analysis frames), from
    which the best window's thumbnails are picked once it is known. Kept as JPEG (~5-9 kB) so a
    long clip costs little memory; 0.5 ms a sample, where decoding a 3 s clip again took 60 ms."""

    def __init__(self):
        self._times: list[float] = []
        self._jpegs: list[str] = []

    def add(self, frame) -> None:
        """Keep ``frame`` (a frames.Frame) in brief."""
        self._times.append(frame.time_s)
        self._jpegs.append(jpeg_uri(thumbnail_size(frame.rgb)))

    def spread(self, start: float, end: float, count: int) -> list[str]:
        """``count`` thumbnails at the middles of ``count`` equal parts of [start, end]: each the
        sample nearest that moment."""
        if not self._times:
            return []
        times = np.array(self._times)
        moments = [start + (end - start) * (i + 0.5) / count for i in range(count)]
        nearest = [self._jpegs[int(np.argmin(np.abs(times - t)))] for t in moments]
        return [uri for uri in nearest if uri]


def thumbnail_size(rgb: np.ndarray, height: int = THUMBNAIL_HEIGHT) -> np.ndarray:
    """``rgb`` scaled to ``height`` rows. Halved by area averaging while at least twice as
    tall (OpenCV's fast integer path: 0.2 ms at 640 x 360, where one area resize to 213 x 120
    took 3 ms), then bilinear to the exact size."""
    import cv2

    while rgb.shape[0] >= 2 * height:
        rgb = cv2.resize(rgb, (rgb.shape[1] // 2, rgb.shape[0] // 2), interpolation=cv2.INTER_AREA)
    width = max(2, round(rgb.shape[1] * height / rgb.shape[0]))
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_LINEAR)


def jpeg_uri(rgb: np.ndarray) -> str:
    """An RGB picture as a JPEG data URI ("" if it cannot be encoded)."""
    import base64

    import cv2

    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode() if ok else ""


class _Subjects:
    """The main subject of each sample, when the subject mode asks for it."""

    def __init__(self, mode: str, thorough: bool):
        self._finder = SubjectFinder() if mode != SubjectMode.FACE else None
        self._every = 1 if mode == SubjectMode.ANY or thorough else _SUBJECT_EVERY_WITH_FACE
        self._since = self._every
        self._last: Subject | None = None

    def locate(self, rgb: np.ndarray, *, face_in_view: bool) -> Subject | None:
        """This sample's subject (None when not looked for, or none stands out)."""
        if self._finder is None:
            return None
        if face_in_view and self._since < self._every:
            self._since += 1
            return self._last
        self._last, self._since = self._finder.locate(rgb), 1
        return self._last


def _subject_mode(mode: str) -> str:
    if mode not in SUBJECT_MODES:
        raise UsageError(
            f"unknown subject mode {mode!r}", hint=f"choose one of: {', '.join(SUBJECT_MODES)}"
        )
    return mode


def _shots(metrics: list[FrameMetrics]) -> list[list[FrameMetrics]]:
    """The samples split at scene cuts: what is smoothed or filled in from neighbouring samples
    must never be carried from one shot into another."""
    shots: list[list[FrameMetrics]] = []
    for m in metrics:
        if m.is_cut or not shots:
            shots.append([])
        shots[-1].append(m)
    return shots


def _smoothed_pose(metrics: list[FrameMetrics], window: int) -> list[FrameMetrics]:
    """Smooth head pose over neighbouring samples; samples with a face but no pose estimate
    (the mesh skipped them) take their neighbours' median and the source ``interpolated``."""
    missing = [m.face_h is not None and m.pose_source is None for m in metrics]
    smoothed = {
        axis: smooth_angles(
            [np.nan if getattr(m, axis) is None else getattr(m, axis) for m in metrics],
            window,
            fill=missing,
        )
        for axis in ("yaw", "pitch", "roll")
    }
    return [
        dataclasses.replace(
            m,
            pose_source="interpolated"
            if missing[i] and not np.isnan(smoothed["yaw"][i])
            else m.pose_source,
            **{axis: None if np.isnan(v[i]) else float(v[i]) for axis, v in smoothed.items()},
        )
        if m.face_h is not None
        else m
        for i, m in enumerate(metrics)
    ]


_OCCLUSION_FIELDS = ("face_presence", "face_region_match")


def _filled_presence(metrics: list[FrameMetrics]) -> list[FrameMetrics]:
    """Samples with a face the mesh skipped take the lower face-presence score and region
    match of their two neighbours (a hand over the face is seen on either side of it; never
    smoothed away)."""
    filled = list(metrics)
    for i, m in enumerate(metrics):
        if m.face_h is None or m.face_presence is not None:
            continue
        around = [metrics[j] for j in (i - 1, i + 1) if 0 <= j < len(metrics)]
        values = {}
        for name in _OCCLUSION_FIELDS:
            known = [getattr(n, name) for n in around if getattr(n, name) is not None]
            if known:
                values[name] = min(known)
        if values:
            filled[i] = dataclasses.replace(m, **values)
    return filled


_SEVERITY_ORDER = {severity: rank for rank, severity in enumerate(Severity.ORDER)}


def _ordered(problems: list[Problem]) -> list[Problem]:
    """Errors first, then warnings, then notes; stable within a severity."""
    return sorted(problems, key=lambda p: _SEVERITY_ORDER.get(p.severity, 3))


# Input errors that are about the file being unusable as a clip, not unreadable.
_REJECTING_CODES = ("no_video", "limit_exceeded", "time_limit")


def _unreadable(path: str, exc: InputError, profile: Profile, name: str | None) -> Report:
    code = exc.code if exc.code in _REJECTING_CODES else "unreadable"
    problem = Problem(
        code, Severity.ERROR, exc.message, exc.hint or "check the file", fixable=False
    )
    verdict = Verdict.UNREADABLE if code == "unreadable" else verdict_of([problem])
    return Report(path, verdict, profile.name, [problem], name=name)
