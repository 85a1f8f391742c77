"""`mixformerv2 app` in a real browser: headless Chromium (Debian's package) driven by Playwright.

It opens the page served on 127.0.0.1, picks the sample clip, draws the first box with the mouse, presses
Track and checks what a user sees: the video plays, the plot is shown, the downloaded boxes file has one line
per frame starting with the box drawn, and bad input gets a message in the page. Every request the page makes
must go to the app itself (it works offline). Skipped, with the reason, only where Chromium or Playwright is
absent, and never in CI (``CI`` set), where ``.ci/run`` installs both.
"""
from __future__ import annotations

import os
import re
import shutil

import pytest

from .conftest import start_app

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def chromium_binary() -> str:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    reason = "Chromium is not installed (Debian: apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(reason + "; .ci/run installs it in CI")
    pytest.skip(reason)


@pytest.fixture
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("playwright is not installed; the test extra installs it")
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    binary = chromium_binary()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=binary, headless=True,
                                             args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
        yield browser
        browser.close()


@pytest.fixture
def served(tmp_path):
    server, thread = start_app(tmp_path, max_upload_mb=2.0)
    yield server
    server.shutdown()
    thread.join(timeout=10)
    server.close()


def drag_box(page, box):
    """Press at the box's top-left corner on the frame canvas and release at its bottom-right (x, y, w, h px
    of the frame)."""
    canvas = page.locator("#frame")
    rect = canvas.bounding_box()
    width, height = page.evaluate("[document.getElementById('frame').width, document.getElementById('frame').height]")
    sx, sy = rect["width"] / width, rect["height"] / height
    x0, y0 = rect["x"] + box[0] * sx, rect["y"] + box[1] * sy
    x1, y1 = rect["x"] + (box[0] + box[2]) * sx, rect["y"] + (box[1] + box[3]) * sy
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=4)
    page.mouse.move(x1, y1, steps=4)
    page.mouse.up()
    return max(1 / sx, 1 / sy)             # frame pixels per screen pixel


def test_track_the_sample_clip_in_the_browser(browser, served, tmp_path):
    page = browser.new_page(viewport={"width": 1100, "height": 1500}, accept_downloads=True)
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page_errors = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    page.goto(served.url)

    page.click("#sample")
    page.wait_for_function("document.getElementById('clip-info').textContent.includes('300 frames')", timeout=120_000)
    page.wait_for_function("document.getElementById('frame').width === 480 && state.image !== null")
    truth = page.evaluate("state.clip.initial_box")
    pixel = drag_box(page, truth)
    drawn = page.evaluate("state.boxes")
    assert len(drawn) == 1 and all(abs(a - b) <= pixel + 0.5 for a, b in zip(drawn[0], truth)), (drawn, truth)
    assert "target 1" in page.inner_text("#targets")

    page.select_option("#backend", "torch")
    page.click("#track")
    page.wait_for_selector("#results", state="visible", timeout=240_000)
    assert page.is_hidden("#error")
    fps_text = page.inner_text("#fps")
    assert re.search(r"Tracked 300 frames, 1 target with default: tracker step [\d.]+ FPS", fps_text), fps_text
    assert "success AUC" in fps_text

    # The annotated video plays.
    page.wait_for_function("(() => { const v = document.getElementById('video'); "
                           "return v.readyState >= 2 && !v.error; })()", timeout=30_000)
    page.evaluate("document.getElementById('video').play()")
    page.wait_for_function("document.getElementById('video').currentTime > 0.3", timeout=30_000)
    assert page.evaluate("document.getElementById('video').videoWidth") == 480
    # The plot is shown.
    page.wait_for_function("document.getElementById('plot').complete && "
                           "document.getElementById('plot').naturalWidth > 0")
    assert page.locator("#plot").is_visible()
    # The boxes file: one line per frame, the first the box drawn.
    with page.expect_download() as info:
        page.click("a.download")
    saved = tmp_path / "boxes.txt"
    info.value.save_as(saved)
    lines = saved.read_text().splitlines()
    assert len(lines) == 300
    assert [float(v) for v in lines[0].split(",")] == pytest.approx(drawn[0], abs=1e-3)
    page.screenshot(path=str(tmp_path / "app.png"), full_page=True)
    if os.environ.get("MIXFORMERV2_APP_SCREENSHOT"):
        page.screenshot(path=os.environ["MIXFORMERV2_APP_SCREENSHOT"], full_page=True)
    assert (tmp_path / "app.png").stat().st_size > 10_000

    # Offline: every request went to the app.
    assert requests and all(url.startswith(served.url) for url in requests), \
        [url for url in requests if not url.startswith(served.url)]
    assert not page_errors, page_errors


def test_bad_input_gets_a_message_in_the_page(browser, served, tmp_path):
    page = browser.new_page(viewport={"width": 1100, "height": 1400})
    page.goto(served.url)
    # Not a video.
    fake = tmp_path / "holiday.mp4"
    fake.write_bytes(b"not a video at all\n" * 50)
    page.set_input_files("#clip-file", str(fake))
    page.wait_for_selector("#error", state="visible")
    assert "holiday.mp4 is not a video that can be read" in page.inner_text("#error")
    # Too large (the app was started with --max-upload-mb 2).
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * 2_500_000)
    page.set_input_files("#clip-file", str(big))
    page.wait_for_function("document.getElementById('error').textContent.includes('up to 2 MB')")
    # A box outside the frame, typed.
    page.click("#sample")
    page.wait_for_function("document.getElementById('clip-info').textContent.includes('300 frames')", timeout=120_000)
    page.wait_for_function("state.image !== null")
    page.fill("#box-text", "470, 10, 50, 50")
    page.click("#add-box")
    page.click("#track")
    page.wait_for_function("document.getElementById('error').textContent.includes('reaches outside')")
    text = page.inner_text("#error")
    assert "box 1 (470, 10, 50, 50) reaches outside the 480x360 frame" in text and "Traceback" not in text
    # Two clicks set a box too.
    page.click("#clear-boxes")
    rect = page.locator("#frame").bounding_box()
    scale = rect["width"] / 480
    page.mouse.click(rect["x"] + 100 * scale, rect["y"] + 100 * scale)
    page.mouse.click(rect["x"] + 160 * scale, rect["y"] + 140 * scale)
    boxes = page.evaluate("state.boxes")
    assert len(boxes) == 1 and boxes[0] == pytest.approx([100, 100, 60, 40], abs=1.5 / scale)


def test_track_an_uploaded_video_with_two_targets(browser, served, tmp_path):
    from .test_api import moving_square_video

    video = tmp_path / "my clip.avi"
    truth = moving_square_video(video, frames=15, size=(320, 240), start=(40, 60))
    page = browser.new_page(viewport={"width": 1100, "height": 1400}, accept_downloads=True)
    page.goto(served.url)
    page.set_input_files("#clip-file", str(video))
    page.wait_for_function("document.getElementById('clip-info').textContent.includes('15 frames of 320x240')")
    page.wait_for_function("state.image !== null && document.getElementById('frame').width === 320")
    drag_box(page, truth[0])
    drag_box(page, [200, 150, 50, 40])
    assert len(page.evaluate("state.boxes")) == 2
    page.select_option("#backend", "torch")
    page.click("#track")
    page.wait_for_selector("#results", state="visible", timeout=120_000)
    assert "Tracked 15 frames, 2 targets" in page.inner_text("#fps")
    page.wait_for_function("document.getElementById('video').readyState >= 2")
    assert page.locator("a.download").count() == 2
    for index in range(2):
        with page.expect_download() as info:
            page.locator("a.download").nth(index).click()
        saved = tmp_path / f"boxes_{index}.txt"
        info.value.save_as(saved)
        assert len(saved.read_text().splitlines()) == 15
