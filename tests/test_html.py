"""The batch HTML report: escaping, self-containment, and a real render in headless Chromium."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess

import cv2
import pytest
from skimage import data

from clipprep.html import render_html

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def jpeg_uri() -> str:
    ok, jpeg = cv2.imencode(".jpg", cv2.resize(data.astronaut(), (160, 160)))
    assert ok
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()


def entries() -> list[dict]:
    frames = [
        {"time_s": t / 10, "score": 0.2 if t < 20 else 0.9, "is_cut": t == 30} for t in range(60)
    ]
    report = {
        "path": "/clips/take <1> & co.mp4",
        "verdict": "fixable",
        "best_window": {"start": 2.0, "end": 6.0, "duration": 4.0, "score": 0.9},
        "probe": {"duration_s": 6.0},
        "frames": frames,
        "problems": [
            {
                "code": "too_long",
                "severity": "error",
                "fixable": True,
                "message": "lasts <script>alert(1)</script> & more",
                "hint": "cut it",
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
    assert page.count("<img ") == 8
    assert "3 clips" in page


def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium)")
        pytest.skip("Debian's chromium is not installed here (apt-get install chromium)")
    return found


def body_tag_after_scripts(page, tmp_path) -> tuple[str, str]:
    """(the <body> tag, the whole DOM) once the page's scripts ran in headless Chromium."""
    base = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'dom-profile'}"]
    dom = subprocess.run(
        [*base, "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    ).stdout
    body = re.search(r"<body[^>]*>", dom)
    assert body is not None, dom[:500]
    return body.group(0), dom


def test_renders_in_headless_chromium_with_images_loaded(tmp_path):
    page = tmp_path / "report.html"
    page.write_text(render_html(entries()), encoding="utf-8")
    base = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    shot = tmp_path / "shot.png"
    subprocess.run(
        [*base, f"--screenshot={shot}", "--window-size=1000,1200", page.as_uri()],
        capture_output=True,
        timeout=90,
        check=False,
    )
    image = cv2.imread(str(shot))
    assert image is not None and shot.stat().st_size > 10_000
    assert image.std() > 10  # not a blank page
    body, dom = body_tag_after_scripts(page, tmp_path)
    assert "broken-image" not in body  # every <img> loaded
    assert dom.count("<img ") == 8


def test_a_broken_thumbnail_is_detected(tmp_path):
    """The check above can fail: a corrupt image marks the page."""
    broken = entries()
    broken[0]["thumbnails"] = ["data:image/jpeg;base64,AAAAAAAA"]
    page = tmp_path / "broken.html"
    page.write_text(render_html(broken), encoding="utf-8")
    body, _ = body_tag_after_scripts(page, tmp_path)
    assert "broken-image" in body
