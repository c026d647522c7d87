"""The HTML report: escaping and drawing (as text), then the real page in headless Chromium.

The browser tests build real clips, run the real ``clipprep batch`` and ``clipprep check --html``
commands, open the pages in Debian's Chromium over the DevTools protocol (tests/cdp.py) and
look: the page fits a 1400 px desktop and a 390 px phone without sideways scrolling, every
image loads, every ``<video>`` loads its clip, the timeline and the window button seek and play
it, sorting works from the keyboard, and nothing is fetched from the network.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest
from cdp import Browser, chromium
from skimage import data
from synth import Segment, build_clip

from clipprep._html import render_html
from clipprep._profiles import Quality

ENTRY = os.path.join(os.path.dirname(sys.executable), "clipprep")
# Where the browser tests also leave their screenshots (to look at them), when set.
SHOTS = os.environ.get("CLIPPREP_SCREENSHOTS")


def jpeg_uri() -> str:
    ok, jpeg = cv2.imencode(".jpg", cv2.resize(data.astronaut(), (160, 160)))
    assert ok
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()


def entries() -> list[dict]:
    frames = [
        {
            "time_s": t / 10,
            "score": 0.2 if t < 20 else 0.9,
            "is_cut": t == 30,
            "face_h": None if t < 5 else 0.3,
            "yaw": -30.0,
            "face_luma": 120.0,
        }
        for t in range(60)
    ]
    report = {
        "path": "/clips/take <1> & co.mp4",
        "verdict": "fixable",
        "profile": "sora2-characters",
        "best_window": {"start": 2.0, "end": 6.0, "duration": 4.0, "score": 0.9},
        "probe": {
            "duration_s": 6.0,
            "container": "mp4",
            "size_bytes": 1_234_567,
            "video": {"codec": "h264", "pix_fmt": "yuv420p", "width": 1280, "height": 720},
            "audio": None,
        },
        "analysis": {"target": "face"},
        "frames": frames,
        "problems": [
            {
                "code": "too_long",
                "severity": "error",
                "fixable": True,
                "message": "lasts <script>alert(1)</script> & more",
                "hint": "keep 2–6 s: `clipprep prepare <take>` cuts it there",
            }
        ],
        "thumbnails": [jpeg_uri() for _ in range(4)],
    }
    error = {
        "path": "/clips/broken.mp4",
        "verdict": "error",
        "error": {"code": "worker_crashed", "message": "boom <b>", "hint": None},
    }
    ready = {**report, "path": "/clips/ok.mp4", "verdict": "ready", "problems": []}
    return [report, error, ready]


def test_page_is_escaped_and_self_contained():
    page = render_html(entries())
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "take &lt;1&gt; &amp; co.mp4" in page
    assert "http://" not in page and "https://" not in page
    assert page.count("<img ") == 8 and page.count(" data-poster ") == 2
    assert "3 clips" in page
    assert "name='viewport' content='width=device-width" in page
    assert "@media print" in page
    # the probe facts
    assert "mp4 · h264 yuv420p · 1280×720" in page and "no audio · 1.23 MB" in page


def test_hints_show_backticks_as_escaped_code():
    page = render_html(entries())
    assert "<code>clipprep prepare &lt;take&gt;</code> cuts it there" in page
    assert "`" not in page.split("<script>")[0].split("</style>")[1]  # no raw backtick shown


def lane(page: str, label: str) -> str:
    """The SVG drawn right after a lane's label."""
    found = re.search(
        r"<div class='lab'[^>]*>" + re.escape(label) + r"<small>.*?(<svg.*?</svg>)", page
    )
    assert found, label
    return found.group(1)


def test_lanes_draw_the_profile_thresholds():
    """The thresholds come from the profile: another Quality moves the zones and the notes."""
    default = render_html(entries()[:1])
    strict = render_html(entries()[:1], quality=Quality(face_height_min=0.25, yaw_max=28.0))
    assert "min 8% · good 15%" in default and "min 25% · good 15%" in strict
    assert "|yaw| warn 25° · max 40°" in default and "max 28°" in strict
    assert lane(default, "face height") != lane(strict, "face height")
    # The values are drawn: |yaw| of -30° is a line in the yaw lane, not at its bottom edge.
    points = re.search(r"<polyline points='([^']+)'", lane(default, "head turn")).group(1)
    ys = {float(p.split(",")[1]) for p in points.split()}
    assert ys == {round(40 - 4 - 32 * 30 / 60, 2)}
    # Samples without a face are shaded, and the line starts where the face does.
    face = lane(default, "face height")
    assert face.count("fill='#eaeef2'") == 5
    first_x = float(re.search(r"<polyline points='([\d.]+),", face).group(1))
    assert first_x == pytest.approx(1000 * 0.5 / 6.0, abs=0.2)


def test_a_poor_window_is_outlined_and_a_zero_score_stays_visible():
    rejected = entries()[0]
    rejected["verdict"] = "rejected"
    rejected["best_window"] = {"start": 0.0, "end": 6.0, "duration": 6.0, "score": 0.0}
    for frame in rejected["frames"]:
        frame["score"] = 0.0
    page = render_html([rejected])
    assert "class='winbar poor'" in page and "least bad window" in page
    assert "class='win poor'" in page
    points = re.search(r"<polyline points='([^']+)'", lane(page, "frame score")).group(1)
    # A score of 0 is drawn above the lane's bottom edge (40), not lost on it.
    assert {float(p.split(",")[1]) for p in points.split()} == {36.0}
    good = render_html(entries()[:1])
    assert "class='winbar'" in good and "class='win'" in good


def test_time_axis_has_round_ticks_and_cuts_are_marked():
    page = render_html(entries()[:1])
    axis = re.search(r"<div class='axis'[^>]*>(.*?)</div>", page).group(1)
    labels = re.findall(r">([\d.]+)</span>", axis)
    assert labels == ["0", "0.5", "1", "1.5", "2", "2.5", "3", "3.5", "4", "4.5", "5", "5.5", "6"]
    assert page.count("<div class='cut' style='left:50.000%'>") == 1
    assert "scene cut" in page  # in the legend


def test_video_links_are_relative_to_the_page(tmp_path):
    entry = entries()[0]
    entry["path"] = str(tmp_path / "clips" / "good take #1.mp4")
    page = render_html([entry], page=tmp_path / "out" / "report.html")
    assert "src='../clips/good%20take%20%231.mp4'" in page


# --- in the browser ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium()
    opened = Browser(tmp_path_factory.mktemp("chromium") / "profile", timeout=120)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    """Real clips: one with a scene cut (and a name to encode), a dark one (score 0), a long
    one with a good middle."""
    root = tmp_path_factory.mktemp("report clips")
    build_clip(root / "take #1 & co.mp4", [Segment(1.5, "face"), Segment(1.5, "carphone")])
    build_clip(root / "dark.mp4", [Segment(2.5, "face", brightness=0.1)])
    build_clip(
        root / "long.mp4",
        [Segment(1.5, "face", brightness=0.12), Segment(3.5, "face"), Segment(1.5, "empty")],
    )
    return root


@pytest.fixture(scope="module")
def batch_page(clips, tmp_path_factory) -> Path:
    """report.html written by the real ``clipprep batch``."""
    out = tmp_path_factory.mktemp("batch out")
    result = subprocess.run(
        [ENTRY, "batch", str(clips), "--out", str(out), "--cache-dir", str(out / "cache")],
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert result.returncode == 4, result.stderr  # the dark clip is rejected
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert any(f["is_cut"] for r in results if r["path"].endswith("co.mp4") for f in r["frames"])
    return out / "report.html"


def clip_state(browser: Browser) -> dict:
    return browser.evaluate(
        """({
        scroll: document.scrollingElement.scrollWidth, width: innerWidth,
        images: [...document.images].map(i => i.complete && i.naturalWidth > 0),
        videos: [...document.querySelectorAll('video')].map(v => v.readyState),
        posters: [...document.querySelectorAll('video')].map(v => v.poster.slice(0, 11)),
        resources: performance.getEntriesByType('resource').map(r => r.name),
        })"""
    )


def wait_for_videos(browser: Browser) -> None:
    browser.wait_until(
        "[...document.querySelectorAll('video')].every(v => v.readyState >= 1 || v.error)"
    )


def save(shot: Path, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(SHOTS) / name)


@pytest.mark.parametrize("width", [1400, 390])
def test_page_fits_loads_and_fetches_nothing_at_desktop_and_phone_widths(
    browser, batch_page, tmp_path, width
):
    phone = width < 600
    browser.requests.clear()
    browser.open(batch_page.as_uri(), width, 900 if not phone else 844, mobile=phone)
    wait_for_videos(browser)
    state = clip_state(browser)
    assert state["width"] == width  # on the phone: the viewport meta is honoured
    assert state["scroll"] <= state["width"]  # no sideways scrolling
    assert len(state["images"]) == 12 and all(state["images"])  # 4 thumbnails per clip
    assert len(state["videos"]) == 3 and all(r >= 1 for r in state["videos"])
    assert state["posters"] == ["data:image/"] * 3
    requested = [*browser.requests, *state["resources"]]
    assert any(url.endswith(".mp4") for url in requested)
    assert all(url.startswith(("file:", "data:")) for url in requested), requested
    shot = tmp_path / f"report-{width}.png"
    time.sleep(2)  # for the picture only: the players' loading spinners fade out
    browser.screenshot(shot)
    image = cv2.imread(str(shot))
    assert image is not None and image.shape[1] == width and image.std() > 20
    save(shot, shot.name)


def test_no_sideways_scrolling_from_phone_to_wide_desktop(browser, batch_page):
    """Every layout step (the phone rules below 600 px, two columns from 820 px) fits."""
    for width in (390, 480, 600, 601, 700, 819, 820, 1024, 1600):
        browser.open(batch_page.as_uri(), width, 900, mobile=width < 600)
        state = clip_state(browser)
        assert state["width"] == width
        assert state["scroll"] <= width, width


def timeline_box(browser: Browser, index: int) -> dict:
    """Bring clip ``index``'s timeline into view; its plot area's box in the viewport."""
    return browser.evaluate(
        f"""(() => {{
        const tl = document.querySelectorAll('.tl')[{index}];
        tl.scrollIntoView({{block: 'center'}});
        const r = tl.querySelector('.marks').getBoundingClientRect();
        return {{left: r.left, top: r.top, width: r.width, height: r.height,
                 duration: +tl.dataset.duration}};
        }})()"""
    )


def test_clicking_the_timeline_seeks_the_video(browser, batch_page):
    browser.open(batch_page.as_uri(), 1400)
    wait_for_videos(browser)
    box = timeline_box(browser, 0)
    browser.click(box["left"] + 0.75 * box["width"], box["top"] + box["height"] / 2)
    expected = 0.75 * box["duration"]
    seeked = browser.wait_until(
        f"(() => {{ const v = document.querySelector('video'); "
        f"return !v.seeking && Math.abs(v.currentTime - {expected}) < 0.2 && v.currentTime; }})()"
    )
    assert seeked == pytest.approx(expected, abs=0.2)
    head = browser.evaluate("document.querySelector('.head').style.left")
    assert float(head.rstrip("%")) == pytest.approx(75, abs=3)
    # The keyboard: the timeline is focusable; an arrow key steps half a second.
    browser.evaluate("document.querySelector('.tl').focus()")
    browser.key("ArrowLeft", "ArrowLeft", 37)
    stepped = browser.wait_until(
        f"(() => {{ const v = document.querySelector('video'); "
        "return !v.seeking && "
        f"Math.abs(v.currentTime - {expected - 0.5}) < 0.2 && v.currentTime; }})()"
    )
    assert stepped == pytest.approx(expected - 0.5, abs=0.2)
    # A thumbnail shows its moment.
    browser.evaluate("document.querySelector('.strip button').click()")
    first = browser.evaluate("+document.querySelector('.strip button').dataset.seek")
    browser.wait_until(f"Math.abs(document.querySelector('video').currentTime - {first}) < 0.05")


def test_the_window_button_plays_just_the_window(browser, batch_page):
    browser.open(batch_page.as_uri(), 1400)
    wait_for_videos(browser)
    index = browser.evaluate(
        "[...document.querySelectorAll('article.clip')]"
        ".findIndex(a => a.dataset.name === 'long.mp4')"
    )
    start, end = browser.evaluate(
        f"(() => {{ const b = document.querySelectorAll('article.clip')[{index}]"
        ".querySelector('.play-window'); b.scrollIntoView({block: 'center'});"
        "return [+b.dataset.start, +b.dataset.end]; })()"
    )
    assert end - start >= 2.0
    box = browser.evaluate(
        f"(() => {{ const r = document.querySelectorAll('article.clip')[{index}]"
        ".querySelector('.play-window').getBoundingClientRect();"
        "return {x: r.left + r.width / 2, y: r.top + r.height / 2}; })()"
    )
    browser.click(box["x"], box["y"])  # a real click: playing needs no other permission
    video = f"document.querySelectorAll('article.clip')[{index}].querySelector('video')"
    browser.wait_until(f"{video}.currentTime > {start + 0.5}")  # it plays, from the start
    stopped = browser.wait_until(f"{video}.paused && {video}.currentTime")
    # It stops at the window's end (a timeupdate comes every quarter second or so).
    assert end - 0.05 <= stopped <= end + 0.6
    played = browser.evaluate(f"[{video}.played.start(0), {video}.played.end(0)]")
    assert played[0] == pytest.approx(start, abs=0.1)


def test_sort_buttons_work_from_the_keyboard(browser, batch_page):
    browser.open(batch_page.as_uri(), 1400)
    order = "[...document.querySelectorAll('article.clip')].map(a => a.dataset.name)"
    assert browser.evaluate(order)[0] == "dark.mp4"  # by verdict: rejected first
    browser.evaluate("document.querySelector(\"button[data-sort='score']\").focus()")
    browser.key("Enter", "Enter", 13)
    by_score = browser.wait_until(f"{order}[0] === 'dark.mp4' ? null : {order}")
    # The dark clip's window scores 0; the clip cut in two has no window at all.
    assert by_score == ["long.mp4", "dark.mp4", "take #1 & co.mp4"]
    scores = browser.evaluate(
        "[...document.querySelectorAll('article.clip')].map(a => +a.dataset.score)"
    )
    assert scores == sorted(scores, reverse=True)
    pressed = browser.evaluate(
        "[...document.querySelectorAll('button[data-sort]')].map(b => b.ariaPressed)"
    )
    assert pressed == ["false", "false", "true"]


def test_print_hides_the_player_and_keeps_the_timeline(browser, batch_page, tmp_path):
    browser.open(batch_page.as_uri(), 1400)
    browser.call("Emulation.setEmulatedMedia", media="print")
    try:
        shown = browser.evaluate(
            """({video: document.querySelector('video').getClientRects().length ? 'shown' : 'none',
            sort: getComputedStyle(document.querySelector('.sort')).display,
            timeline: getComputedStyle(document.querySelector('.tl')).display,
            strip: getComputedStyle(document.querySelector('.strip')).display})"""
        )
        assert shown == {"video": "none", "sort": "none", "timeline": "grid", "strip": "flex"}
    finally:
        browser.call("Emulation.setEmulatedMedia", media="")
    pdf = base64.b64decode(browser.call("Page.printToPDF")["data"])
    assert pdf.startswith(b"%PDF") and len(pdf) > 20_000


def test_a_broken_thumbnail_and_a_network_fetch_are_seen(browser, tmp_path):
    """The checks above can fail: a corrupt image and a fetch from the network are caught."""
    broken = entries()
    broken[0]["thumbnails"] = ["data:image/jpeg;base64,AAAAAAAA"]
    page = tmp_path / "broken.html"
    page.write_text(
        render_html(broken).replace("</main>", "</main><img src='http://127.0.0.1:9/x.png'>"),
        encoding="utf-8",
    )
    browser.requests.clear()
    browser.open(page.as_uri(), 1400)
    browser.wait_until("[...document.images].every(i => i.complete)")
    state = clip_state(browser)
    assert not all(state["images"])
    assert browser.evaluate("document.body.classList.contains('broken-image')")
    assert "http://127.0.0.1:9/x.png" in browser.requests


def test_check_html_writes_the_page_for_the_clips_checked(browser, clips, tmp_path):
    page = tmp_path / "pages" / "check.html"
    page.parent.mkdir()
    named = [str(clips / "dark.mp4"), str(clips / "take #1 & co.mp4")]
    result = subprocess.run(
        [ENTRY, "check", *named, "--html", str(page)],
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert result.returncode == 4, result.stderr
    html = page.read_text(encoding="utf-8")
    assert "2 clips" in html and "clipprep check report" in html
    assert html.count("<article class='clip'") == 2 and html.count("class='tl'") == 2
    assert "src='../../" in html and "take%20%231%20%26%20co.mp4" in html
    assert sorted(p.name for p in page.parent.iterdir()) == ["check.html"]  # no temporary left
    browser.open(page.as_uri(), 390, 844, mobile=True)
    wait_for_videos(browser)
    state = clip_state(browser)
    assert all(r >= 1 for r in state["videos"]) and len(state["videos"]) == 2
    assert state["scroll"] <= state["width"] == 390
    # A page in a folder that does not exist: a usage error, and nothing written.
    missing = subprocess.run(
        [ENTRY, "check", named[0], "--html", str(tmp_path / "nowhere" / "p.html")],
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert missing.returncode == 2 and "no folder" in missing.stderr
