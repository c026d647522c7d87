"""HDR (HLG or PQ, BT.2020) to SDR (BT.709) for the analysis and for the prepared file.

Phones record HDR by default: 10-bit HEVC with the HLG or PQ transfer and BT.2020 primaries.
Read as if it were SDR, its code values look dim and grey (an SDR close-up converted to PQ was
prepared at 0.60× its saturation and mean RGB 91 instead of 122; HLG 0.88×, 102), so brightness
thresholds were judged on the wrong scale and the prepared file looked flat. Here each HDR
frame goes, in display light:

    Y'CbCr (BT.2020 matrix) -> R'G'B' -> linear light (BT.2100 EOTF; for HLG the inverse OETF
    and the OOTF of a 1000 cd/m² display) -> BT.2020 to BT.709 primaries -> tone curve -> SDR.

HDR reference white (BT.2408: 203 cd/m², HLG 75 %, PQ 58 %) becomes SDR white, so SDR-range
content comes back as it was graded; brighter highlights roll off smoothly into the top of the
SDR range above ``KNEE``. Colours outside BT.709 are clipped. The SDR signal is the inverse of
the BT.1886 display (a 2.4 power): what an SDR screen then shows is the light the HDR display
would have shown, up to reference white.

Speed: the planes are scaled to the wanted size before any colour math (swscale, YUV to YUV);
the transfer functions are 65536-entry tables applied with OpenCV's 16-bit LUT (numpy's fancy
indexing was 3× slower), the last one indexed by the square root of light so dark tones keep
fine steps; the matrices run in OpenCV, on bands of rows that fit the cache. CPU per 1080p
source frame: 3.3-5 ms (HLG) and 2.7-3.2 ms (PQ) to the 640 px analysis size, where reading it
as SDR took 1.7-2.7 ms; 17-27 ms at full size for ``prepare`` (``benchmarks/hdr.py``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ._probe import HDR_TRANSFERS, TRANSFERS

HLG, PQ = "hlg", "pq"
_TRANSFER_NAMES = {HLG: "HLG (ARIB STD-B67)", PQ: "PQ (SMPTE ST 2084)"}
# AVColorPrimaries / AVColorSpace / AVColorRange values read from frames.
_PRIMARIES_BT709 = 1
SPACE_BT709 = 1
_RANGE_FULL = 2

REFERENCE_WHITE = 203.0  # cd/m², BT.2408 HDR reference white, shown as SDR 100 %
HLG_PEAK = 1000.0  # cd/m², the nominal HLG display: system gamma 1.2 (BT.2100)
HLG_GAMMA = 1.2
PQ_PEAK = 10000.0  # cd/m², the top of the PQ scale
SDR_GAMMA = 2.4  # BT.1886
KNEE = 0.75  # fraction of SDR white (linear) where highlights start to roll off

# Luma coefficients (Kr, Kb) of the Y'CbCr matrices.
_KR_KB_BT2020 = (0.2627, 0.0593)
_KR_KB_BT709 = (0.2126, 0.0722)

BT2020_LUMA = np.array(  # R, G, B weights of Y
    [_KR_KB_BT2020[0], 1 - sum(_KR_KB_BT2020), _KR_KB_BT2020[1]]
)

# Linear RGB in BT.2020 primaries -> linear RGB in BT.709 primaries (BT.2087), and back.
BT2020_TO_BT709 = np.array(
    [
        [1.6604910, -0.5876411, -0.0728499],
        [-0.1245505, 1.1328999, -0.0083494],
        [-0.0181508, -0.1005789, 1.1187297],
    ]
)
BT709_TO_BT2020 = np.linalg.inv(BT2020_TO_BT709)

_STEPS = 65535  # the tables are indexed by 16-bit values (OpenCV's LUT takes them)
_BAND_PIXELS = 32768  # pixels converted at a time: ~0.4 MB per float image, cache-sized
_OUT_TOP = 8.0  # light (1 = reference white) at the SDR table's last step; above is white


# --- BT.2100 transfer functions (numpy, any shape, float64) -----------------------------------

_PQ_M1, _PQ_M2 = 2610 / 16384, 2523 / 4096 * 128
_PQ_C1, _PQ_C2, _PQ_C3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
_HLG_A = 0.17883277
_HLG_B = 1 - 4 * _HLG_A
_HLG_C = 0.5 - _HLG_A * np.log(4 * _HLG_A)


def pq_eotf(signal: np.ndarray) -> np.ndarray:
    """PQ signal (0..1) -> display light in cd/m² (0..10000)."""
    power = np.power(np.clip(signal, 0.0, 1.0), 1 / _PQ_M2)
    ratio = np.maximum(power - _PQ_C1, 0.0) / (_PQ_C2 - _PQ_C3 * power)
    return PQ_PEAK * np.power(ratio, 1 / _PQ_M1)


def pq_inverse_eotf(light: np.ndarray) -> np.ndarray:
    """Display light in cd/m² -> PQ signal (0..1)."""
    power = np.power(np.clip(light / PQ_PEAK, 0.0, 1.0), _PQ_M1)
    return np.power((_PQ_C1 + _PQ_C2 * power) / (1 + _PQ_C3 * power), _PQ_M2)


def hlg_oetf(scene: np.ndarray) -> np.ndarray:
    """Scene light (0..1) -> HLG signal (0..1)."""
    scene = np.clip(scene, 0.0, 1.0)
    log = _HLG_A * np.log(np.maximum(12 * scene - _HLG_B, 1e-12)) + _HLG_C
    return np.where(scene <= 1 / 12, np.sqrt(3 * scene), log)


def hlg_inverse_oetf(signal: np.ndarray) -> np.ndarray:
    """HLG signal (0..1) -> scene light (0..1)."""
    signal = np.clip(signal, 0.0, 1.0)
    return np.where(
        signal <= 0.5, signal**2 / 3, (np.exp((signal - _HLG_C) / _HLG_A) + _HLG_B) / 12
    )


def tone_curve(light: np.ndarray) -> np.ndarray:
    """Linear light (1 = reference white) -> SDR linear light (0..1): unchanged up to ``KNEE``,
    then an exponential shoulder with slope 1 at the knee that approaches SDR white."""
    light = np.maximum(light, 0.0)
    room = 1.0 - KNEE
    shoulder = KNEE + room * (1.0 - np.exp(-(light - KNEE) / room))
    return np.where(light <= KNEE, light, shoulder)


# --- What a stream is -------------------------------------------------------------------------


@dataclass(frozen=True)
class Colour:
    """The colour description of a stream or frame, as FFmpeg tags it (enum values)."""

    transfer: int
    primaries: int
    space: int
    full_range: bool

    @property
    def hdr(self) -> str | None:
        """``"hlg"`` or ``"pq"`` for an HDR transfer, None for SDR (or untagged)."""
        return HDR_TRANSFERS.get(TRANSFERS.get(self.transfer))


def colour_of(frame) -> Colour:
    """The colour tags of a decoded PyAV frame."""
    return Colour(
        transfer=int(frame.color_trc or 0),
        primaries=int(frame.color_primaries or 0),
        space=int(frame.colorspace or 0),
        full_range=int(frame.color_range or 0) == _RANGE_FULL,
    )


def hdr_of(frame) -> str | None:
    """``"hlg"``/``"pq"`` when a decoded frame is HDR, else None."""
    return colour_of(frame).hdr


def describe(hdr: str) -> str:
    """A transfer's name for messages: ``HLG (ARIB STD-B67)``, ``PQ (SMPTE ST 2084)``."""
    return _TRANSFER_NAMES[hdr]


# --- The conversion ---------------------------------------------------------------------------


def sdr_rgb(frame, width: int | None = None, height: int | None = None) -> np.ndarray:
    """An HDR PyAV frame as 8-bit SDR BT.709 RGB (H x W x 3), scaled to ``width`` x ``height``
    (its own size when not given) before any colour math."""
    import cv2

    colour = colour_of(frame)
    width, height = width or frame.width, height or frame.height
    yuv = cv2.merge(_yuv_planes(frame, width, height))
    out = np.empty((height, width, 3), np.uint8)
    # Band by band, so the float intermediates stay in the CPU cache: a whole 1080p frame's
    # (24 MB each) made every step wait for memory (1080p HLG inside prepare: 55 -> 27 ms of CPU).
    rows = max(1, _BAND_PIXELS // width)
    for top in range(0, height, rows):
        out[top : top + rows] = _band_to_sdr(yuv[top : top + rows], colour)
    return out


def _band_to_sdr(yuv: np.ndarray, colour: Colour) -> np.ndarray:
    """Rows of 16-bit Y'CbCr -> 8-bit SDR RGB."""
    import cv2

    # Y'CbCr -> R'G'B' as 16-bit table steps (OpenCV saturates: out-of-range values clip).
    to_rgb = yuv_to_rgb_matrix(colour.space, colour.full_range, 16) * _STEPS
    linear = cv2.LUT(cv2.transform(yuv, to_rgb), _eotf_table(colour.hdr))
    gamut = np.eye(3) if colour.primaries == _PRIMARIES_BT709 else BT2020_TO_BT709
    # Light relative to reference white, pre-scaled so that its square root is the table step.
    scale = _STEPS**2 / _OUT_TOP / REFERENCE_WHITE
    if colour.hdr == HLG:
        light = cv2.transform(linear, gamut * (scale * HLG_PEAK))
        # The OOTF scales each pixel by a power of its scene luminance (BT.2100), looked up; the
        # luminance (0..1, never negative) scaled to table steps needs no clipping.
        luminance = cv2.transform(linear, (BT2020_LUMA * _STEPS)[None, :])
        gain = cv2.LUT(luminance.astype(np.uint16), _ootf_gain_table())
        light = cv2.multiply(light, cv2.merge([gain, gain, gain]))
    else:
        light = cv2.transform(linear, gamut * (scale * PQ_PEAK))
    # Colours outside BT.709 go negative; light beyond the table's top is white anyway.
    np.clip(light, 0.0, float(_STEPS) ** 2, out=light)
    return cv2.LUT(cv2.sqrt(light).astype(np.uint16), _sdr_table())


def _yuv_planes(frame, width: int, height: int) -> list[np.ndarray]:
    """The Y, Cb and Cr planes at ``width`` x ``height`` as 16-bit values.

    swscale scales and brings the chroma to full size in one pass (area filter; 0.8 ms for a
    1080p frame to 640 px, OpenCV's resizes of 16-bit planes took 2 ms), without touching the
    colours: YUV to YUV."""
    same = (width, height) == (frame.width, frame.height)
    frame = frame.reformat(
        width=width,
        height=height,
        format="yuv444p16le",
        interpolation="BILINEAR" if same else "AREA",
    )
    return [
        np.frombuffer(plane, np.uint16).reshape(plane.height, -1)[:, : plane.width]
        for plane in frame.planes
    ]


@functools.lru_cache(maxsize=16)
def yuv_to_rgb_matrix(space: int, full_range: bool, bits: int) -> np.ndarray:
    """3 x 4 affine matrix: Y'CbCr code values -> R'G'B' in 0..1 (BT.2020 unless ``space`` is
    :data:`SPACE_BT709`); the analysis uses it for SDR BT.709 frames too."""
    kr, kb = _KR_KB_BT709 if space == SPACE_BT709 else _KR_KB_BT2020
    kg = 1 - kr - kb
    # Normalised Y' (0..1) and Cb, Cr (-0.5..0.5) from code values.
    top = 2**bits - 1
    if full_range:
        y_scale, c_scale, y_zero = 1 / top, 1 / top, 0.0
    else:
        unit = 2 ** (bits - 8)
        y_scale, c_scale, y_zero = 1 / (219 * unit), 1 / (224 * unit), 16 * unit
    c_zero = 2 ** (bits - 1)
    mix = np.array(
        [
            [1, 0, 2 * (1 - kr)],
            [1, -2 * kb * (1 - kb) / kg, -2 * kr * (1 - kr) / kg],
            [1, 2 * (1 - kb), 0],
        ]
    )
    scale = mix * np.array([y_scale, c_scale, c_scale])
    offset = -(scale @ np.array([y_zero, c_zero, c_zero]))
    return np.hstack([scale, offset[:, None]])


@functools.lru_cache(maxsize=2)
def _eotf_table(hdr: str) -> np.ndarray:
    """R'G'B' step -> linear light: scene light (0..1) for HLG, cd/m² / 10000 for PQ."""
    signal = np.arange(_STEPS + 1) / _STEPS
    linear = hlg_inverse_oetf(signal) if hdr == HLG else pq_eotf(signal) / PQ_PEAK
    return linear.astype(np.float32)


@functools.lru_cache(maxsize=1)
def _ootf_gain_table() -> np.ndarray:
    """Scene luminance step -> the HLG OOTF's gain, luminance ** (gamma - 1)."""
    luminance = np.arange(_STEPS + 1) / _STEPS
    return np.power(luminance, HLG_GAMMA - 1).astype(np.float32)


@functools.lru_cache(maxsize=1)
def _sdr_table() -> np.ndarray:
    """Step (square root of light) -> 8-bit SDR code: the tone curve, then the inverse of the
    BT.1886 display. Square-root steps keep dark tones fine: the first is 2e-9 of white."""
    light = (np.arange(_STEPS + 1) / _STEPS) ** 2 * _OUT_TOP
    signal = np.power(tone_curve(light), 1 / SDR_GAMMA)
    return np.clip(np.round(signal * 255), 0, 255).astype(np.uint8)
