"""A self-contained, offline HTML report of checked clips: one page, nothing fetched.

Per clip: the verdict, the probe facts, the clip itself in a ``<video>`` (linked relative to the
page, the best thumbnail as poster), the problems with their hints, thumbnails of the chosen
window and a timeline: a time axis in seconds, the window shaded, scene cuts marked, and one lane
per measurement that decides the verdict (face size, head turn and tilt, light, sharpness; the
subject's size and clutter in subject mode) drawn against the profile's thresholds. Clicking the
timeline (or a thumbnail) seeks the video; a button plays just the window.

Lanes are inline SVGs with a ``viewBox`` stretched to the page width; text (labels, ticks) is
HTML, so it never shrinks on a phone. Every string from a report is escaped: file names and
messages may hold ``<`` or ``&``. The page links nothing but the clips and ships its CSS and
script inline, so it opens offline and prints.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from html import escape
from pathlib import Path
from urllib.parse import quote

from ._errors import UsageError
from ._profiles import Quality, get_profile
from ._vocab import Severity, TargetKind, Verdict

_ORDER = {
    Verdict.ERROR: 0,
    Verdict.UNREADABLE: 1,
    Verdict.REJECTED: 2,
    Verdict.FIXABLE: 3,
    Verdict.READY: 4,
}
_COLOURS = {
    Verdict.READY: "#1a7f37",
    Verdict.FIXABLE: "#9a6700",
    Verdict.REJECTED: "#cf222e",
    Verdict.UNREADABLE: "#8250df",
    Verdict.ERROR: "#57606a",
}
_SEVERITY_COLOURS = {
    Severity.ERROR: "#cf222e",
    Severity.WARNING: "#9a6700",
    Severity.INFO: "#0969da",
}
# Lane drawing space: the SVG is stretched to the page width (x) and a fixed CSS height (y).
_LANE_W, _LANE_H, _PAD = 1000, 40, 4
_WARN_ZONE, _BAD_ZONE = "#fff1c2", "#ffd8d3"
_TICK_STEPS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600)
_MAX_TICKS = 12

_STYLE = """
:root{--fg:#1f2328;--muted:#57606a;--line:#d0d7de;--soft:#f6f8fa;--blue:#0969da;
--ok:#1a7f37;--warn:#bf8700;--bad:#cf222e}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1400px;
padding:20px 24px;color:var(--fg);background:#fff}
h1{font-size:21px;margin:0 0 4px}
header p{margin:4px 0}
.counts>span{display:inline-block;margin-right:12px}
.badge{color:#fff;border-radius:10px;padding:1px 9px;font-weight:600;font-size:12px;
white-space:nowrap;-webkit-print-color-adjust:exact;print-color-adjust:exact}
.sort{display:flex;flex-wrap:wrap;gap:6px;align-items:center;margin:8px 0 4px}
button{font:inherit;font-size:13px;border:1px solid var(--line);background:var(--soft);
border-radius:6px;padding:3px 10px;cursor:pointer;color:var(--fg)}
button:hover{background:#eaeef2}
button:focus-visible,.tl:focus-visible{outline:2px solid var(--blue);outline-offset:2px}
button[aria-pressed=true]{background:#ddf4ff;border-color:#54aeff}
.clip{border:1px solid var(--line);border-radius:10px;padding:14px 16px;margin:16px 0;
min-width:0}
.clip h2{font-size:16px;margin:0 0 2px;overflow-wrap:anywhere}
.facts{color:var(--muted);margin:0 0 10px;font-size:13px}
.top{display:grid;grid-template-columns:minmax(0,1fr);gap:12px 18px}
@media (min-width:820px){.top{grid-template-columns:minmax(0,5fr) minmax(0,6fr)}}
.player video{display:block;width:100%;max-height:340px;background:#0d1117;border-radius:6px}
.player p{margin:6px 0 0}
.novideo{color:var(--muted);font-size:13px}
.window{margin:0 0 6px}
.problems{margin:0 0 8px;padding-left:18px}
.problems li{margin:2px 0;overflow-wrap:anywhere}
.sev{font-weight:600}
.hint{color:var(--muted)}
code{font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--soft);
border:1px solid #eaeef2;border-radius:4px;padding:0 4px;overflow-wrap:anywhere}
.ok{color:var(--ok)}
.error-text{color:var(--bad)}
.strip{display:flex;gap:6px;margin:4px 0 0}
.strip button{padding:0;border:0;background:none;flex:0 1 auto;min-width:0}
.strip img{display:block;height:auto;max-height:90px;max-width:100%;border-radius:4px}
.tl{display:grid;grid-template-columns:8.2em minmax(0,1fr);column-gap:10px;row-gap:3px;
margin:14px 0 0;position:relative;cursor:crosshair}
.lab{grid-column:1;font-size:12.5px;line-height:1.2;align-self:center;cursor:default}
.lab small{display:block;color:var(--muted);font-size:11px}
.tl svg{grid-column:2;display:block;width:100%;height:44px;border:1px solid var(--line);
border-radius:3px}
.marks{grid-column:2;position:relative;pointer-events:none;z-index:1}
.marks>*{position:absolute;top:0;bottom:0}
.win{background:rgba(45,164,78,.07);border:solid var(--ok);border-width:0 2px}
.win.poor{background:none;border-color:#57606a;border-style:dashed}
.winrow{grid-column:2;position:relative;height:22px}
.winbar{position:absolute;top:2px;bottom:2px;background:#dafbe1;border:1px solid var(--ok);
border-radius:4px;font-size:11.5px;line-height:16px;text-align:center;color:#116329;
white-space:nowrap;overflow:hidden;-webkit-print-color-adjust:exact;print-color-adjust:exact}
.winbar.poor{background:#f6f8fa;border:1px dashed #57606a;color:var(--muted)}
.winrow .none{font-size:12px;color:var(--muted)}
.cut{width:0;border-left:2px dashed var(--bad)}
.tick{width:0;border-left:1px solid rgba(31,35,40,.08)}
.head{width:0;border-left:2px solid #1f2328;display:none}
.axis{grid-column:2;position:relative;height:1.5em;font-size:11.5px;color:var(--muted)}
.axis span{position:absolute;top:1px;transform:translateX(-50%);white-space:nowrap}
.axis span:first-child{transform:none}
.axis span.end{transform:translateX(-100%)}
.axis-title{grid-column:1;font-size:11.5px;color:var(--muted);align-self:start}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;font-size:12px;color:var(--muted);margin:8px 0 0;
padding:0;list-style:none}
.legend i{display:inline-block;width:14px;height:10px;margin-right:5px;vertical-align:-1px;
-webkit-print-color-adjust:exact;print-color-adjust:exact}
.sw-win{background:rgba(45,164,78,.25);border:1px solid var(--ok)}
.sw-cut{border-left:2px dashed var(--bad);width:2px!important}
.sw-val{border-top:2px solid var(--blue);height:0!important;vertical-align:3px!important}
.sw-val2{border-top:2px solid #8250df;height:0!important;vertical-align:3px!important}
.sw-win.poor{background:none;border:1px dashed #57606a}
.sw-flag{background:#cf222e}.sw-warn{background:#fff1c2}.sw-bad{background:#ffd8d3}.sw-none{background:#eaeef2}
.sw-thr{border-top:1px dashed #57606a;height:0!important;vertical-align:3px!important}
@media (max-width:600px){
 body{padding:12px}
 .clip{padding:10px 10px 12px}
 .tl{grid-template-columns:6.4em minmax(0,1fr);column-gap:6px}
 .lab{font-size:11.5px}.lab small{font-size:10px}
 .axis span.minor{display:none}
}
@media print{
 body{max-width:none;padding:0;font-size:12px}
 .sort,.player,.noprint{display:none}
 .top{grid-template-columns:minmax(0,1fr)}
 .clip{break-inside:avoid;page-break-inside:avoid;border-color:#999}
 .tl{cursor:auto}
 .tl svg,.marks>*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
 a{color:inherit}
}
"""

_SCRIPT = """
function broken(){document.body.classList.add('broken-image');}
(function(){
const list=document.getElementById('clips');
const sorters=[...document.querySelectorAll('button[data-sort]')];
function sortBy(key){
  const items=[...list.children];
  const byName=(a,b)=>a.dataset.name.localeCompare(b.dataset.name);
  items.sort(key==='verdict'?(a,b)=>a.dataset.order-b.dataset.order||byName(a,b)
    :key==='score'?(a,b)=>b.dataset.score-a.dataset.score||byName(a,b):byName);
  items.forEach(i=>list.appendChild(i));
  sorters.forEach(b=>b.setAttribute('aria-pressed',String(b.dataset.sort===key)));
}
sorters.forEach(b=>b.addEventListener('click',()=>sortBy(b.dataset.sort)));
window.sortBy=sortBy;
document.querySelectorAll('article.clip').forEach(function(clip){
  const video=clip.querySelector('video'), tl=clip.querySelector('.tl');
  if(!video) return;
  const head=tl&&tl.querySelector('.head'), marks=tl&&tl.querySelector('.marks');
  const span=tl?+tl.dataset.duration:0;
  const poster=clip.querySelector('img[data-poster]');
  if(poster) video.poster=poster.src;
  let stopAt=null;
  function seek(t){
    const end=isFinite(video.duration)&&video.duration>0?video.duration:span;
    video.currentTime=Math.max(0,Math.min(t,end));
    stopAt=null; show();
  }
  function show(){
    if(!head||!span) return;
    head.style.display='block';
    head.style.left=Math.min(100,100*video.currentTime/span)+'%';
    tl.setAttribute('aria-valuenow',video.currentTime.toFixed(2));
    tl.setAttribute('aria-valuetext',video.currentTime.toFixed(2)+' s');
  }
  video.addEventListener('timeupdate',function(){
    if(stopAt!==null&&video.currentTime>=stopAt){video.pause();stopAt=null;}
    show();
  });
  video.addEventListener('seeked',show);
  video.addEventListener('error',function(){
    clip.querySelector('.novideo').hidden=false;
    clip.querySelectorAll('.needs-video').forEach(e=>e.disabled=true);
  });
  if(tl){
    tl.addEventListener('click',function(e){
      const r=marks.getBoundingClientRect();
      if(e.clientX<r.left) return;
      seek(span*(e.clientX-r.left)/r.width);
    });
    tl.addEventListener('keydown',function(e){
      const step=e.shiftKey?2:0.5, keys={ArrowLeft:-step,ArrowRight:step};
      if(e.key in keys){seek(video.currentTime+keys[e.key]);e.preventDefault();}
      else if(e.key==='Home'){seek(0);e.preventDefault();}
      else if(e.key==='End'){seek(span);e.preventDefault();}
    });
  }
  clip.querySelectorAll('[data-seek]').forEach(b=>b.addEventListener('click',
    ()=>seek(+b.dataset.seek)));
  const play=clip.querySelector('.play-window');
  if(play) play.addEventListener('click',function(){
    seek(+play.dataset.start);
    stopAt=+play.dataset.end;
    video.play().catch(function(){stopAt=null;});
  });
});
})();
"""


@dataclass(frozen=True)
class _Lane:
    """One measurement drawn over time, against its thresholds (bands shade the bad zones)."""

    label: str
    note: str  # the thresholds, in words
    field: str  # the frame field drawn
    top: float  # the scale's top (values above are drawn at the top edge)
    error_below: float | None = None
    warn_below: float | None = None
    warn_above: float | None = None
    error_above: float | None = None
    absolute: bool = False  # draw |value| (head angles: either side is as bad)
    flag: bool = False  # a count: samples above zero are marked, not drawn as a line


def render_html(
    entries: list[dict],
    *,
    title: str = "clipprep batch report",
    page: str | os.PathLike | None = None,
    quality: Quality | None = None,
) -> str:
    """One HTML page for many clip results (report JSON with ``frames`` + ``thumbnails``, or
    error entries ``{"path", "verdict": "error", "error": {...}}``).

    ``page`` is where the page will be written: the ``<video>`` elements link the clips
    relative to it (absolute ``file:`` URLs without it). ``quality`` gives the thresholds the
    lanes draw (default: those of each report's profile).
    """
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry["verdict"]] = counts.get(entry["verdict"], 0) + 1
    ordered = sorted(entries, key=lambda e: (_ORDER.get(e["verdict"], 9), str(e.get("path"))))
    summary = "".join(
        f"<span>{_badge(v)} {n}</span>" for v, n in sorted(counts.items(), key=_verdict_order)
    )
    folder = Path(page).resolve().parent if page is not None else None
    clips = "\n".join(
        _clip(entry, index, folder, quality) for index, entry in enumerate(ordered, start=1)
    )
    noun = "clip" if len(entries) == 1 else "clips"
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<header><h1>{escape(title)}</h1>"
        f"<p class='counts'>{len(entries)} {noun}: {summary}</p>"
        "<div class='sort' role='group' aria-label='sort the clips'>sort by "
        "<button type='button' data-sort='verdict' aria-pressed='true'>verdict</button>"
        "<button type='button' data-sort='name' aria-pressed='false'>name</button>"
        "<button type='button' data-sort='score' aria-pressed='false'>window score</button>"
        "</div></header>"
        f"<main id='clips'>{clips}</main><script>{_SCRIPT}</script></body></html>\n"
    )


def _verdict_order(item: tuple[str, int]) -> int:
    return _ORDER.get(item[0], 9)


def _badge(verdict: str) -> str:
    colour = _COLOURS.get(verdict, "#57606a")
    return f"<span class='badge' style='background:{colour}'>{escape(verdict)}</span>"


def _clip(entry: dict, index: int, folder: Path | None, quality: Quality | None) -> str:
    path = str(entry.get("path", ""))
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    verdict = entry["verdict"]
    window = entry.get("best_window") or {}
    head = (
        f"<article class='clip' id='clip-{index}' data-order='{_ORDER.get(verdict, 9)}' "
        f"data-name='{escape(name)}' data-score='{window.get('score', -1)}'>"
        f"<h2 title='{escape(path)}'>{_badge(verdict)} {escape(name)}</h2>"
    )
    if verdict == Verdict.ERROR:
        error = entry.get("error") or {}
        hint = error.get("hint")
        body = (
            f"<p class='error-text'>[{escape(str(error.get('code', '')))}] "
            f"{escape(str(error.get('message', '')))}</p>"
            + (f"<p class='hint'>→ {_with_code(str(hint))}</p>" if hint else "")
        )
        return head + body + "</article>"
    playable = bool((entry.get("probe") or {}).get("video"))
    side = _window_line(entry) + _problems(entry) + _strip(entry, playable)
    side += _stills(entry, folder)
    top = (
        f"<div class='top'>{_player(entry, folder) if playable else ''}"
        f"<div class='side'>{side}</div></div>"
    )
    return head + _facts(entry) + top + _timeline(entry, _quality(entry, quality)) + "</article>"


def _stills(entry: dict, folder: Path | None) -> str:
    """The clip's reference stills (``batch --stills``), linked from the page, each captioned
    with why it was chosen, its time and yaw; or why there are none."""
    stills = entry.get("stills")
    if not stills:
        return ""
    if stills.get("error"):
        error = stills["error"]
        return (
            f"<p class='hint'>no stills: [{escape(str(error.get('code', '')))}] "
            f"{escape(str(error.get('message', '')))}</p>"
        )
    figures = []
    for image in stills.get("images", []):
        yaw = "" if image.get("yaw") is None else f" · yaw {image['yaw']:+.0f}°"
        caption = f"{image['why']} · {image['time_s']:.2f} s{yaw}"
        figures.append(
            "<figure style='margin:0'>"
            f"<img src='{escape(_clip_url(str(image['path']), folder))}' alt='{escape(caption)}'"
            " loading='lazy' style='display:block;max-height:120px;border-radius:4px'>"
            f"<figcaption style='font-size:12px'>{escape(caption)}</figcaption></figure>"
        )
    return (
        "<div class='stills' style='display:flex;gap:6px;flex-wrap:wrap'>"
        + "".join(figures)
        + "</div>"
    )


def _quality(entry: dict, quality: Quality | None) -> Quality:
    if quality is not None:
        return quality
    try:
        return get_profile(entry.get("profile")).quality
    except UsageError:  # a report from a profile this version does not know
        return Quality()


def _facts(entry: dict) -> str:
    """One line of probe facts: container, codecs, size, rate, duration, audio, file size."""
    probe = entry.get("probe") or {}
    video = probe.get("video")
    if not video:
        return ""
    audio = probe.get("audio")
    sound = "no audio"
    if audio:
        channels = {1: "mono", 2: "stereo"}.get(
            audio.get("channels"), f"{audio.get('channels')} ch"
        )
        sound = f"{audio.get('codec')} {audio.get('sample_rate', 0) / 1000:g} kHz {channels}"
    codec = " ".join(str(v) for v in (video.get("codec"), video.get("profile")) if v)
    rotation = f" (turned {video['rotation']}°)" if video.get("rotation") else ""
    rate = f"{video.get('fps', 0):.3g} fps" + (
        " variable" if video.get("variable_frame_rate") else ""
    )
    parts = [
        str(probe.get("container", "")),
        f"{codec} {video.get('pix_fmt', '')}",
        f"{video.get('width')}×{video.get('height')}{rotation}",
        rate,
        f"{probe.get('duration_s', 0):.2f} s",
        sound,
        _size(probe.get("size_bytes")),
    ]
    return f"<p class='facts'>{escape(' · '.join(p for p in parts if p))}</p>"


def _size(size: int | None) -> str:
    if not size:
        return ""
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.3g} {unit}"
        size /= 1000
    return ""


def _clip_url(path: str, folder: Path | None) -> str:
    """The clip's address from the page: relative when both are on one drive, else a file URL."""
    target = Path(path).resolve()
    if folder is not None:
        try:
            return quote(os.path.relpath(target, folder).replace(os.sep, "/"))
        except ValueError:  # another drive (Windows): no relative path exists
            pass
    return target.as_uri()


def _player(entry: dict, folder: Path | None) -> str:
    """The clip in a ``<video>`` and a play-the-window button. Its poster, the best thumbnail,
    is set by the page's script from the strip's ``data-poster`` image: the same data URI twice
    would make the page a quarter heavier."""
    window = entry.get("best_window")
    button = ""
    if window:
        button = (
            f"<button type='button' class='play-window needs-video' data-start='{window['start']}'"
            f" data-end='{window['end']}'>▶ play the window "
            f"{window['start']:.2f}–{window['end']:.2f} s</button>"
        )
    src = escape(_clip_url(str(entry["path"]), folder))
    return (
        f"<div class='player'><video controls preload='metadata' playsinline src='{src}'>"
        "</video><p>"
        f"{button} <span class='novideo' hidden>this browser cannot play the clip here (moved, or "
        "a format it does not decode)</span></p></div>"
    )


def _thumbnails(entry: dict) -> list[tuple[float, str, float]]:
    """(time, data URI, score of the nearest sample) per thumbnail: they are spread evenly over
    the window (batch.thumbnails), or over the clip when there is none."""
    uris = [u for u in entry.get("thumbnails") or [] if str(u).startswith("data:image/")]
    if not uris:
        return []
    window = entry.get("best_window")
    start, end = (
        (window["start"], window["end"])
        if window
        else (0.0, (entry.get("probe") or {}).get("duration_s") or 0.0)
    )
    frames = entry.get("frames") or []
    found = []
    for i, uri in enumerate(uris):
        t = start + (end - start) * (i + 0.5) / len(uris)
        near = min(frames, key=lambda f: abs(f["time_s"] - t), default={})
        found.append((round(t, 3), uri, near.get("score", 0.0)))
    return found


def _best_thumbnail(thumbs: list[tuple[float, str, float]]) -> int:
    """The index of the thumbnail nearest the best-scoring sample (the middlemost on a tie)."""
    middle = (len(thumbs) - 1) / 2
    return max(range(len(thumbs)), key=lambda i: (thumbs[i][2], -abs(i - middle)))


def _window_line(entry: dict) -> str:
    window = entry.get("best_window")
    if not window:
        return "<p class='window'>no 2–4 s window</p>"
    judged = (entry.get("analysis") or {}).get("target")
    by = f", judged by the {escape(judged)}" if judged else ""
    poor = " — no span is usable" if _is_poor(entry) else ""
    return (
        f"<p class='window'><b>best window {window['start']:.2f}–{window['end']:.2f} s</b> "
        f"({window['duration']:.2f} s, score {window['score']:.2f}{by}){poor}</p>"
    )


def _is_poor(entry: dict) -> bool:
    """The best window is only the least bad one (most of its frames are bad)."""
    window = entry.get("best_window") or {}
    return window.get("score", 0.0) < _quality(entry, None).bad_frame_score


def _strip(entry: dict, playable: bool) -> str:
    """The window's thumbnails; with a video, each one a button that shows its moment."""
    thumbs = _thumbnails(entry)
    if not thumbs:
        return ""
    best = _best_thumbnail(thumbs)
    images = []
    for i, (t, uri, _) in enumerate(thumbs):
        poster = " data-poster" if i == best else ""
        image = f"<img src='{escape(uri)}' alt='frame at {t:.2f} s'{poster} onerror='broken()'>"
        if playable:
            image = (
                f"<button type='button' class='needs-video' data-seek='{t}' "
                f"title='show {t:.2f} s'>{image}</button>"
            )
        images.append(image)
    return f"<div class='strip'>{''.join(images)}</div>"


def _problems(entry: dict) -> str:
    items = "".join(
        f"<li><span class='sev' style='color:{_SEVERITY_COLOURS.get(p['severity'], '#57606a')}'>"
        f"{escape(p['severity'])}</span> <code>{escape(p['code'])}</code> "
        f"{escape(p['message'])}<br><span class='hint'>→ {_with_code(p['hint'])}</span></li>"
        for p in entry.get("problems") or []
    )
    return f"<ul class='problems'>{items}</ul>" if items else "<p class='ok'>no problems found</p>"


def _with_code(text: str) -> str:
    """Escape ``text`` and show its `backtick` spans as code."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escape(text))


# --- the timeline ----------------------------------------------------------------------------


def _lanes(target: str, q: Quality, frames: list[dict]) -> list[_Lane]:
    """What decides the verdict for this target, with the profile's thresholds."""
    score = _Lane(
        "frame score",
        f"bad below {q.bad_frame_score:g}",
        "score",
        1.0,
        error_below=q.bad_frame_score,
    )
    if target == TargetKind.SUBJECT:
        size = _Lane(
            "subject size",
            f"min {q.subject_size_min:.0%} · good {q.subject_size_good:.0%}",
            "subject_size",
            1.0,
            error_below=q.subject_size_min,
            warn_below=q.subject_size_good,
        )
        clutter = _Lane(
            "clutter",
            f"warn {q.clutter_warn:g} · max {q.clutter_max:g}",
            "subject_clutter",
            1.0,
            warn_above=q.clutter_warn,
            error_above=q.clutter_max,
        )
        return [
            score,
            size,
            clutter,
            _light_lane("subject light", "subject_luma", q),
            _sharpness_lane("subject_sharpness", q, frames),
        ]
    face_top = min(1.0, max([0.4] + [(f.get("face_h") or 0) * 1.15 for f in frames]))
    size = _Lane(
        "face height",
        f"min {q.face_height_min:.0%} · good {q.face_height_good:.0%}",
        "face_h",
        face_top,
        error_below=q.face_height_min,
        warn_below=q.face_height_good,
    )
    lanes = [
        score,
        size,
        _angle_lane("head turn", "yaw", q.yaw_warn, q.yaw_max),
        _angle_lane("head tilt", "pitch", q.pitch_warn, q.pitch_max),
        _light_lane("face light", "face_luma", q),
        _sharpness_lane("sharpness", q, frames),
    ]
    if any(f.get("competing_faces") for f in frames):
        lanes.insert(
            2, _Lane("other faces", "red: another face", "competing_faces", 1.0, flag=True)
        )
    return lanes


def _angle_lane(label: str, name: str, warn: float, most: float) -> _Lane:
    """A head angle: either side is as bad, so its size is drawn."""
    note = f"|{name}| warn {warn:g}° · max {most:g}°"
    top = max(60.0, most * 1.5)
    return _Lane(label, note, name, top, warn_above=warn, error_above=most, absolute=True)


def _light_lane(label: str, name: str, q: Quality) -> _Lane:
    note = f"dark {q.face_luma_dark:g} · dim {q.face_luma_dim:g} · bright {q.face_luma_bright:g}"
    return _Lane(
        label,
        note,
        name,
        255.0,
        error_below=q.face_luma_dark,
        warn_below=q.face_luma_dim,
        warn_above=q.face_luma_bright,
    )


def _sharpness_lane(name: str, q: Quality, frames: list[dict]) -> _Lane:
    top = max([100.0] + [f.get(name) or 0 for f in frames])
    note = f"blurry {q.sharpness_blurry:g} · soft {q.sharpness_soft:g}"
    return _Lane(
        "sharpness", note, name, top, error_below=q.sharpness_blurry, warn_below=q.sharpness_soft
    )


def _timeline(entry: dict, q: Quality) -> str:
    """The lanes over a shared time axis, the window and cuts laid over them, and a legend."""
    frames = entry.get("frames") or []
    duration = (entry.get("probe") or {}).get("duration_s") or (
        frames[-1]["time_s"] if frames else 0
    )
    if not frames or not duration:
        return ""
    target = (entry.get("analysis") or {}).get("target") or TargetKind.FACE
    lanes = _lanes(target, q, frames)
    window = entry.get("best_window")
    poor = _is_poor(entry)
    # Every cell is placed explicitly: the marks layer spans the lanes' rows in column 2.
    rows = _window_row(window, duration, poor) + "".join(
        f"<div class='lab' style='grid-row:{row}' title='{escape(lane.label)}: "
        f"{escape(lane.note)}'>{escape(lane.label)}<small>{escape(lane.note)}</small></div>"
        f"{_lane_svg(lane, frames, duration, row)}"
        for row, lane in enumerate(lanes, start=2)
    )
    ticks = _ticks(duration)
    marks = "".join(
        f"<div class='tick' style='left:{_pct(t, duration)}'></div>" for t in ticks[1:-1]
    )
    if window:
        left, right = window["start"], window["end"]
        marks += (
            f"<div class='win{' poor' if poor else ''}' style='left:{_pct(left, duration)};"
            f"width:{_pct(right - left, duration)}'></div>"
        )
    cuts = [f["time_s"] for f in frames if f.get("is_cut")]
    marks += "".join(f"<div class='cut' style='left:{_pct(t, duration)}'></div>" for t in cuts)
    marks += "<div class='head'></div>"
    axis = "".join(
        f"<span class='{_tick_class(i, ticks, duration)}' style='left:{_pct(t, duration)}'>"
        f"{_seconds(t)}</span>"
        for i, t in enumerate(ticks)
    )
    label = (
        f"timeline of the {escape(target)} measurements over {duration:.2f} s: click it, or "
        "use the arrow keys, to seek the video"
    )
    last = len(lanes) + 2
    return (
        f"<div class='tl' tabindex='0' role='slider' aria-label='{label}' aria-valuemin='0' "
        f"aria-valuemax='{duration:.2f}' aria-valuenow='0' data-duration='{duration}'>"
        f"{rows}<div class='marks' style='grid-row:1/{last}'>{marks}</div>"
        f"<div class='axis-title' style='grid-row:{last}'>seconds</div>"
        f"<div class='axis' style='grid-row:{last}'>{axis}</div></div>"
        + _legend(entry, target, bool(cuts))
    )


def _pct(t: float, duration: float) -> str:
    """A time as a CSS percentage of the timeline's width (clamped to it)."""
    return f"{100 * min(1.0, max(0.0, t / duration)):.3f}%"


def _window_row(window: dict | None, duration: float, poor: bool) -> str:
    """The first row: the chosen window as a labelled bar."""
    name = "least bad window" if poor else "best window"
    if not window:
        return (
            "<div class='lab' style='grid-row:1'>window</div>"
            "<div class='winrow' style='grid-row:1'><span class='none'>no 2–4 s window</span>"
            "</div>"
        )
    span = f"{window['start']:.2f}–{window['end']:.2f} s"
    return (
        f"<div class='lab' style='grid-row:1'>{name}<small>score {window['score']:.2f}</small>"
        f"</div><div class='winrow' style='grid-row:1'>"
        f"<span class='winbar{' poor' if poor else ''}' "
        f"style='left:{_pct(window['start'], duration)};"
        f"width:{_pct(window['end'] - window['start'], duration)}'>{span}</span></div>"
    )


def _lane_svg(lane: _Lane, frames: list[dict], duration: float, row: int) -> str:
    """One lane: bad zones as bands, thresholds dashed, the values as a line with gaps where a
    sample has no value (no face, no subject), shaded grey there."""

    def x(t: float) -> float:
        return round(_LANE_W * min(1.0, max(0.0, t / duration)), 1)

    def y(value: float) -> float:
        share = min(1.0, max(0.0, value / lane.top))
        return round(_LANE_H - _PAD - (_LANE_H - 2 * _PAD) * share, 2)

    parts = []
    for low, high, colour in _bands(lane):
        top = 0 if high >= lane.top else y(high)
        bottom = _LANE_H if low <= 0 else y(low)
        parts.append(
            f"<rect y='{top}' width='{_LANE_W}' height='{round(bottom - top, 2)}' fill='{colour}'/>"
        )
    for value in (lane.error_below, lane.warn_below, lane.warn_above, lane.error_above):
        if value is not None and value < lane.top and not lane.flag:
            parts.append(
                f"<line x2='{_LANE_W}' y1='{y(value)}' y2='{y(value)}' stroke='#8c959f' "
                "stroke-dasharray='4 3' vector-effect='non-scaling-stroke'/>"
            )
    spans = _sample_spans(frames, duration)
    runs: list[list[tuple[float, float]]] = [[]]
    for frame, (start, end) in zip(frames, spans, strict=True):
        value = frame.get(lane.field)
        if lane.flag and value:  # a sample where the flag is up: a red block
            parts.append(_block(x(start), x(end), "#cf222e"))
        if value is None:
            parts.append(_block(x(start), x(end), "#eaeef2"))
            runs.append([])
        elif not lane.flag:
            runs[-1].append((frame["time_s"], abs(value) if lane.absolute else float(value)))
    for run in filter(None, runs):
        points = " ".join(f"{x(t)},{y(v)}" for t, v in run)
        if len(run) == 1:  # a lone sample: a short dash so that it shows
            t, v = run[0]
            points = f"{x(t) - 3},{y(v)} {x(t) + 3},{y(v)}"
        parts.append(
            f"<polyline points='{points}' fill='none' stroke='#0969da' stroke-width='2' "
            "stroke-linejoin='round' stroke-linecap='round' "
            "vector-effect='non-scaling-stroke'/>"
        )
    return (
        f"<svg style='grid-row:{row}' viewBox='0 0 {_LANE_W} {_LANE_H}' "
        "preserveAspectRatio='none' role='img' "
        f"aria-label='{escape(lane.label)} over time'>{''.join(parts)}</svg>"
    )


def _block(left: float, right: float, colour: str) -> str:
    width = max(1.0, round(right - left, 1))
    return f"<rect x='{left}' width='{width}' height='{_LANE_H}' fill='{colour}'/>"


def _sample_spans(frames: list[dict], duration: float) -> list[tuple[float, float]]:
    """The stretch of time each sample stands for: from its time to the next sample's (the
    last one to the end of the clip, at most one sampling step)."""
    times = [f["time_s"] for f in frames]
    step = (times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else 0.1
    ends = [*times[1:], min(duration, times[-1] + step)]
    return list(zip(times, ends, strict=True))


def _bands(lane: _Lane) -> list[tuple[float, float, str]]:
    """(low, high, colour) of the lane's warning and error zones."""
    bands = []
    if lane.error_below is not None:
        bands.append((0.0, lane.error_below, _BAD_ZONE))
    if lane.warn_below is not None:
        bands.append((lane.error_below or 0.0, lane.warn_below, _WARN_ZONE))
    if lane.warn_above is not None:
        high = lane.error_above if lane.error_above is not None else lane.top
        bands.append((lane.warn_above, high, _WARN_ZONE))
    if lane.error_above is not None:
        bands.append((lane.error_above, lane.top, _BAD_ZONE))
    return bands


def _ticks(duration: float) -> list[float]:
    """Round tick times from 0 to the end (the end itself last, labelled with its value)."""
    step = next((s for s in _TICK_STEPS if duration / s <= _MAX_TICKS), _TICK_STEPS[-1])
    count = math.floor(duration / step + 1e-9)
    ticks = [round(i * step, 3) for i in range(count + 1)]
    if duration - ticks[-1] < step * 0.45:  # too close to the end label: drop it
        ticks.pop()
    return [*ticks, duration]


def _tick_class(index: int, ticks: list[float], duration: float) -> str:
    """``minor`` ticks hide on a phone; the end label hides there too when the last tick that
    stays is close to it."""
    if index < len(ticks) - 1:
        return "minor" if index % 2 else ""
    kept = ticks[-2 - (len(ticks) - 2) % 2] if len(ticks) > 1 else 0.0
    return "end" + (" minor" if duration - kept < 0.12 * duration else "")


def _seconds(t: float) -> str:
    return f"{t:.2f}".rstrip("0").rstrip(".") if t != round(t) else f"{t:.0f}"


def _legend(entry: dict, target: str, has_cuts: bool) -> str:
    poor = _is_poor(entry)
    items = [("sw-win" + (" poor" if poor else ""), "least bad window" if poor else "best window")]
    if not entry.get("best_window"):
        items = []
    items += [
        ("sw-val", "measured value"),
        ("sw-thr", "threshold"),
        ("sw-warn", "warning zone"),
        ("sw-bad", "error zone"),
        ("sw-none", f"no {target} found"),
    ]
    if has_cuts:
        items.insert(0, ("sw-cut", "scene cut"))
    if target == TargetKind.FACE and any(
        f.get("competing_faces") for f in entry.get("frames") or []
    ):
        items.append(("sw-flag", "another face"))
    return (
        "<ul class='legend' aria-label='legend'>"
        + "".join(f"<li><i class='{cls}'></i>{escape(text)}</li>" for cls, text in items)
        + "<li class='noprint'>click the timeline to seek the video; a thumbnail shows its "
        "moment</li></ul>"
    )
