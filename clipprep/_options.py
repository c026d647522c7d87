"""How a clip is analysed: one frozen :class:`Options`, the same for ``check``, ``Analyzer``,
``check_many``, ``prepare``, ``submit`` and every ``clipprep`` command.

An analysis depends on exactly these settings; everything else a command takes (output paths,
names, providers) is about what to do with the result. The flags of the CLI are made from this
class's fields and bounds, so the library and the command line cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from ._errors import UsageError
from ._frames import DEFAULT_ANALYSIS_LONG_SIDE, DEFAULT_SAMPLE_FPS
from ._profiles import DEFAULT_PROFILE, SUBJECT_MODES, Profile, get_profile

# The bounds the values are checked against (the CLI's flags take the same).
SAMPLE_FPS_RANGE = (0.5, 60)
ANALYSIS_SIZE_RANGE = (160, 1920)
MIN_TIME_LIMIT_S = 1


@dataclass(frozen=True)
class Options:
    """The analysis settings, checked when made (a bad value is a :class:`UsageError`).

    ``profile``: the service rules (a name from ``PROFILES`` or a :class:`Profile`).
    ``subject``: what the character is judged by, ``auto``, ``face`` or ``any`` (None: the
    profile's). ``sample_fps``: frames per second analysed. ``analysis_size``: the long side
    (px) frames are scaled to. ``thorough``: decode every frame and run every model on every
    sample (slower; the reference the fast path is tested against). ``model_dir``: the folder of
    the face models (None: the default). ``time_limit``: seconds one clip's analysis may take
    (None: the profile's).
    """

    profile: str | Profile = DEFAULT_PROFILE
    subject: str | None = None
    sample_fps: float = DEFAULT_SAMPLE_FPS
    analysis_size: int = DEFAULT_ANALYSIS_LONG_SIDE
    thorough: bool = False
    model_dir: str | None = None
    time_limit: float | None = None

    def __post_init__(self) -> None:
        get_profile(self.profile)  # an unknown name fails here, not in the middle of a batch
        if self.subject is not None and self.subject not in SUBJECT_MODES:
            raise UsageError(
                f"unknown subject mode {self.subject!r}",
                hint=f"choose one of: {', '.join(SUBJECT_MODES)}",
            )
        _check_range("sample_fps", self.sample_fps, *SAMPLE_FPS_RANGE)
        _check_range("analysis_size", self.analysis_size, *ANALYSIS_SIZE_RANGE)
        if self.time_limit is not None:
            _check_range("time_limit", self.time_limit, MIN_TIME_LIMIT_S, float("inf"))
        if self.model_dir is not None:  # a path object would make two equal options unequal
            object.__setattr__(self, "model_dir", os.fspath(self.model_dir))

    def rules(self) -> Profile:
        """The profile the analysis applies: the named one, with the subject mode and the time
        limit of these options when they are given."""
        profile = get_profile(self.profile)
        if self.time_limit is not None:
            limits = dataclasses.replace(profile.limits, max_seconds=self.time_limit)
            profile = dataclasses.replace(profile, limits=limits)
        if self.subject is not None:
            profile = dataclasses.replace(profile, subject_mode=self.subject)
        return profile


def options_of(options: Options | None = None, **changes) -> Options:
    """``options`` (default: the defaults) with ``changes``: the form the library's functions
    take, ``check(path, options)`` or ``check(path, thorough=True)``."""
    unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(Options)})
    if unknown:
        raise TypeError(f"unknown analysis option(s): {', '.join(unknown)}")
    options = options or Options()
    return dataclasses.replace(options, **changes) if changes else options


def refuse_both(options: Options | None, analyzer) -> None:
    """``prepare`` and ``submit`` take options or an analyzer (made from options), not both: the
    two could disagree about the rules."""
    if options is not None and analyzer is not None:
        raise UsageError(
            "both options and an analyzer were given",
            hint="pass one: the analyzer already has its options (analyzer.options)",
        )


def _check_range(field: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        bounds = f"at least {low:g}" if high == float("inf") else f"from {low:g} to {high:g}"
        raise UsageError(f"{field} {value!r} is out of range", hint=f"{field} is {bounds}")
