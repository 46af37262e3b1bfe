"""The glance, the lesson and the gallery in a real browser, at 1920x1080 and at 1366x768 (a projector).

The five cells must lie inside the first screen, without scrolling, and carry the live numbers of the
sample clip (checked against ``explain`` in the same test). Screenshots go to artifacts/screenshots/
(and, when /work/notes/shots exists, there too, for the closing note).
"""

from __future__ import annotations

import os
import re
import shutil

import pytest

from app_server import ROOT, running_app
from qwenvl_viz import explain
from qwenvl_viz.errors import VizError
from qwenvl_viz.ui import gallery

CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "artifacts" / "screenshots"
NOTES_SHOTS = "/work/notes/shots"
CLIP = str(ROOT / "assets" / "sample_clip.mp4")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
CELLS = ("glance-frames", "glance-patches", "glance-time-ids", "glance-timestamps", "glance-heatmaps")
VIEWPORTS = [(1920, 1080), (1366, 768)]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is missing (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def open_page(browser, size):
    url, _ = running_app()
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    page.set_default_timeout(30_000)
    page.js_errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda e: page.js_errors.append(str(e)))
    page.goto(url)
    page.wait_for_selector("#glance-frames-pic img")
    page.wait_for_selector("#glance-heatmaps-pic img")  # bundled example: heatmaps at first paint
    return page


def shot(page, name: str) -> None:
    page.wait_for_timeout(300)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path))  # the first screen only: what a projector shows
    if os.path.isdir(NOTES_SHOTS):
        shutil.copy(path, os.path.join(NOTES_SHOTS, path.name))


def wait_text(page, selector: str, pattern: str) -> None:
    page.wait_for_function(
        "([sel, pat]) => { const e = document.querySelector(sel); return !!e && new RegExp(pat).test(e.innerText); }",
        arg=[selector, pattern])


def inside_first_screen(page, elem_id: str, size) -> None:
    box = page.locator(f"#{elem_id}").bounding_box()
    assert box is not None, elem_id
    assert box["x"] >= 0 and box["y"] >= 0, (elem_id, box)
    assert box["x"] + box["width"] <= size[0] + 1 and box["y"] + box["height"] <= size[1] + 1, (elem_id, box, size)
    # inside the box is not enough: an element clipped by a scrolling column or covered by another is not seen
    seen = page.evaluate("([id, x, y]) => { const e = document.elementFromPoint(x, y);"
                         " return !!e && document.getElementById(id).contains(e); }",
                         [elem_id, box["x"] + box["width"] / 2, box["y"] + min(box["height"] / 2, 12)])
    assert seen, (elem_id, "hidden under another element", box)


@pytest.mark.parametrize("size", VIEWPORTS, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_five_cells_fit_the_first_screen_with_the_live_numbers(browser, size):
    page = open_page(browser, size)
    trace = explain(CLIP, fps=2.0)
    s = trace.sampling
    for elem_id in ("ledger-strip", "fps", "model", "lang", *CELLS):
        inside_first_screen(page, elem_id, size)
    frames = page.locator("#glance-frames").inner_text()
    assert f"{s.nframes} frames" in frames and s.nframes == 16
    assert "[" + ", ".join(map(str, s.indices)) + "]" in re.sub(r"\s+", " ", frames)
    assert (s.indices[0], s.indices[-1]) == (0, 248)
    t, h, w = trace.patchify.grid_thw
    assert f"{t}×{h}×{w}" in page.locator("#glance-patches").inner_text() and (t, h, w) == (8, 72, 40)
    ids = page.locator("#glance-time-ids td.glance-tid").all_inner_texts()
    assert [int(x) for x in ids] == [g.time_id for run in trace.rope.runs for g in run.groups]
    assert "random weights" in page.locator("#glance-heatmaps").inner_text()
    assert not page.js_errors
    shot(page, f"glance_{size[0]}x{size[1]}_en")

    # Qwen3-VL: the timestamp strings beside their frame pairs
    q3 = explain(CLIP, model="qwen3-vl", fps=2.0)
    page.locator("#model label", has_text=re.compile(r"^\s*Qwen3-VL\s*$")).click()
    wait_text(page, "#glance-timestamps", re.escape(q3.prompt.timestamp_strings[-1]))
    got = page.locator("#glance-timestamps code.glance-ts").all_inner_texts()
    assert got == list(q3.prompt.timestamp_strings)
    assert got[0] == "<0.3 seconds>" and got[-1] == "<8.0 seconds>" and len(got) == 8
    for elem_id in CELLS:
        inside_first_screen(page, elem_id, size)
    shot(page, f"glance_{size[0]}x{size[1]}_qwen3")

    # 中文: the glance in Chinese, no English prose left in it
    page.locator("#lang label", has_text="中文").click()
    wait_text(page, "#glance-frames", "16 帧")
    wait_text(page, "#ledger-strip", "个视觉 token")
    for elem_id in CELLS:
        inside_first_screen(page, elem_id, size)
    text = page.locator("#views").evaluate("e => e.querySelector('#modes').innerText")
    assert english_prose(text) == []
    shot(page, f"glance_{size[0]}x{size[1]}_zh")
    page.close()


# identifiers and the model's own strings that stay as they are in Chinese
KEEP = re.compile(r"<\d+\.\d seconds>|qwen[\w.-]*|Qwen[\w.-]*|[a-z_]+\([^)]*\)|\b\w*_\w*\b|PCA|RGB|JPEG|PNG|token|"
                  r"fps|FPS|tiny", re.I)


def english_prose(text: str) -> list[str]:
    """Runs of three or more English words (identifiers removed): what a 中文 page must not show."""
    return re.findall(r"[A-Za-z]{2,}(?:[ ,;:]+[A-Za-z]{2,}){2,}", KEEP.sub(" ", text))


def test_lesson_steps_forward_and_back_with_buttons_and_arrow_keys(browser):
    size = (1366, 768)
    page = open_page(browser, size)
    trace = explain(CLIP, fps=2.0)
    s = trace.sampling
    page.get_by_role("tab", name="Lesson").click()
    wait_text(page, "#lesson-text", r"Step 1 / 7")
    page.locator("#lesson-next").click()
    wait_text(page, "#lesson-text", r"Step 2 / 7")
    lesson = page.locator("#lesson-text").inner_text()
    assert s.formula in lesson  # nframes = floor(...) = 16, with the live numbers
    assert f"sample_fps = {s.nframes}/{s.total_frames}·30 = {s.sample_fps:.4f}" in lesson
    assert "1.9277" in lesson
    inside_first_screen(page, "lesson-text", size)
    shot(page, "lesson_1366x768_en_step2")
    page.locator("body").click(position={"x": 5, "y": 700})  # focus off any field: the keys go to the page
    for k in range(3, 8):
        page.keyboard.press("ArrowRight")
        wait_text(page, "#lesson-text", rf"Step {k} / 7")
    page.keyboard.press("ArrowRight")  # the last step stays the last
    page.wait_for_timeout(300)
    wait_text(page, "#lesson-text", r"Step 7 / 7")
    page.keyboard.press("ArrowLeft")
    wait_text(page, "#lesson-text", r"Step 6 / 7")
    page.locator("#lesson-prev").click()
    wait_text(page, "#lesson-text", r"Step 5 / 7")
    # the live controls still work inside a step: Qwen3 puts its timestamps into the prompt step
    page.locator("#model label", has_text=re.compile(r"^\s*Qwen3-VL\s*$")).click()
    wait_text(page, "#lesson-text", re.escape("<8.0 seconds>"))
    page.locator("#lang label", has_text="中文").click()
    wait_text(page, "#lesson-text", r"第 5 / 7 步")
    assert english_prose(page.locator("#lesson-text").inner_text()) == []
    shot(page, "lesson_1366x768_zh_step5")
    page.close()


def test_each_gallery_case_opens_with_what_the_reference_does(browser):
    page = open_page(browser, (1366, 768))
    for k, case in enumerate(gallery.CASES):
        page.get_by_role("tab", name="Edge cases").click()
        page.locator(f"#case-{case.key}").click()
        wait_text(page, "#case-note", re.escape(case.file))
        settings = gallery.case_settings(k)
        kw = {n: settings[n] for n in ("model", "pipeline", "fps")}
        try:
            trace = explain(case.path, **kw)
        except VizError as err:  # the page shows the reference's refusal, in the banner
            wait_text(page, "#banner", re.escape(str(err)[:40]))
            assert "banner-error" in page.locator("#banner .banner").get_attribute("class")
        else:
            wait_text(page, "#banner", re.escape(case.file))
            t, h, w = trace.patchify.grid_thw
            wait_text(page, "#glance-patches", f"{t}×{h}×{w}")
            if trace.rope.collisions:
                wait_text(page, "#glance-time-ids", f"{len(trace.rope.collisions)} time ids shared")
        shot(page, f"gallery_{case.key}")
    assert not page.js_errors
    page.close()
