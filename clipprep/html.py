"""A self-contained, offline HTML report of a batch: one page, no external resources.

Per clip: the verdict, a strip of thumbnails from the chosen window, a timeline of the frame
scores with the window shaded and scene cuts marked, and the problems with their hints. The page
counts verdicts at the top and sorts by verdict with a click (a few lines of inline script).
Every string from a report is escaped: file names and messages may hold ``<`` or ``&``.
"""

from __future__ import annotations

from html import escape

_ORDER = {"error": 0, "unreadable": 1, "rejected": 2, "fixable": 3, "ready": 4}
_COLOURS = {
    "ready": "#1a7f37",
    "fixable": "#9a6700",
    "rejected": "#cf222e",
    "unreadable": "#8250df",
    "error": "#57606a",
}
_PLOT_W, _PLOT_H = 600, 90

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1f2328;background:#fff}
h1{font-size:20px;margin:0 0 8px}
.counts span{display:inline-block;margin-right:14px}
.badge{color:#fff;border-radius:10px;padding:1px 9px;font-weight:600;font-size:12px}
.clip{border:1px solid #d0d7de;border-radius:8px;padding:12px 14px;margin:14px 0}
.clip h2{font-size:15px;margin:0 0 6px;word-break:break-all}
.strip img{height:90px;margin-right:4px;border-radius:4px}
.problems{margin:6px 0 0;padding-left:18px}
.error-text{color:#cf222e}
.hint{color:#57606a}
button{margin:0 6px 8px 0}
svg{display:block;margin:6px 0}
"""

_SCRIPT = """
function sortBy(key){
  const list=document.getElementById('clips');
  const items=[...list.children];
  items.sort((a,b)=>key==='verdict'
    ? a.dataset.order-b.dataset.order || a.dataset.name.localeCompare(b.dataset.name)
    : a.dataset.name.localeCompare(b.dataset.name));
  items.forEach(i=>list.appendChild(i));
}
function broken(){document.body.classList.add('broken-image');}
"""


def render_html(entries: list[dict], *, title: str = "clipprep batch report") -> str:
    """One HTML page for many clip results (report JSON + ``thumbnails``, or error entries)."""
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry["verdict"]] = counts.get(entry["verdict"], 0) + 1
    ordered = sorted(entries, key=lambda e: (_ORDER.get(e["verdict"], 9), e["path"]))
    summary = "".join(
        f"<span>{_badge(v)} {n}</span>" for v, n in sorted(counts.items(), key=_verdict_order)
    )
    clips = "\n".join(_clip(entry) for entry in ordered)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{_STYLE}</style><script>{_SCRIPT}</script>"
        f"</head><body><h1>{escape(title)}</h1>"
        f"<p class='counts'>{len(entries)} clips: {summary}</p>"
        "<p><button onclick=\"sortBy('verdict')\">sort by verdict</button>"
        "<button onclick=\"sortBy('name')\">sort by name</button></p>"
        f"<div id='clips'>{clips}</div></body></html>\n"
    )


def _verdict_order(item: tuple[str, int]) -> int:
    return _ORDER.get(item[0], 9)


def _badge(verdict: str) -> str:
    colour = _COLOURS.get(verdict, "#57606a")
    return f"<span class='badge' style='background:{colour}'>{escape(verdict)}</span>"


def _clip(entry: dict) -> str:
    path = str(entry.get("path", ""))
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    verdict = entry["verdict"]
    head = (
        f"<div class='clip' data-order='{_ORDER.get(verdict, 9)}' data-name='{escape(name)}'>"
        f"<h2 title='{escape(path)}'>{_badge(verdict)} {escape(name)}</h2>"
    )
    if verdict == "error":
        error = entry.get("error") or {}
        body = (
            f"<p class='error-text'>[{escape(str(error.get('code', '')))}] "
            f"{escape(str(error.get('message', '')))}</p>"
        )
        return head + body + "</div>"
    return (
        head + _window_line(entry) + _strip(entry) + _timeline(entry) + _problems(entry) + "</div>"
    )


def _window_line(entry: dict) -> str:
    window = entry.get("best_window")
    if not window:
        return "<p>no 2–4 s window</p>"
    return (
        f"<p>best window {window['start']:.2f}–{window['end']:.2f} s "
        f"({window['duration']:.2f} s, score {window['score']:.2f})</p>"
    )


def _strip(entry: dict) -> str:
    images = "".join(
        f"<img src='{escape(uri)}' alt='frame {i + 1} of the window' onerror='broken()'>"
        for i, uri in enumerate(entry.get("thumbnails") or [])
        if str(uri).startswith("data:image/")
    )
    return f"<div class='strip'>{images}</div>" if images else ""


def _timeline(entry: dict) -> str:
    """Frame scores over time as an inline SVG: the window shaded, cuts as red lines."""
    frames = entry.get("frames") or []
    duration = (entry.get("probe") or {}).get("duration_s") or (
        frames[-1]["time_s"] if frames else 0
    )
    if not frames or not duration:
        return ""

    def x(t: float) -> float:
        return round(_PLOT_W * min(1.0, max(0.0, t / duration)), 1)

    def y(score: float) -> float:
        return round(_PLOT_H - 4 - (_PLOT_H - 8) * score, 1)

    parts = [f"<rect width='{_PLOT_W}' height='{_PLOT_H}' fill='#f6f8fa'/>"]
    window = entry.get("best_window")
    if window:
        left, right = x(window["start"]), x(window["end"])
        parts.append(
            f"<rect x='{left}' width='{round(right - left, 1)}' height='{_PLOT_H}' fill='#dafbe1'/>"
        )
    parts += [
        f"<line x1='{x(f['time_s'])}' x2='{x(f['time_s'])}' y2='{_PLOT_H}' stroke='#cf222e'/>"
        for f in frames
        if f.get("is_cut")
    ]
    points = " ".join(f"{x(f['time_s'])},{y(f.get('score', 0))}" for f in frames)
    parts.append(f"<polyline points='{points}' fill='none' stroke='#0969da' stroke-width='1.5'/>")
    label = "frame score over time; shaded: best window; red: scene cuts"
    return (
        f"<svg width='{_PLOT_W}' height='{_PLOT_H}' role='img' aria-label='{label}'>"
        + "".join(parts)
        + "</svg>"
    )


def _problems(entry: dict) -> str:
    items = "".join(
        f"<li><b>{escape(p['severity'])}</b> <code>{escape(p['code'])}</code> "
        f"{escape(p['message'])} <span class='hint'>→ {escape(p['hint'])}</span></li>"
        for p in entry.get("problems") or []
    )
    return f"<ul class='problems'>{items}</ul>" if items else "<p>no problems found</p>"
