"""The app in a real browser (Debian's headless chromium through Playwright).

One server and one page for the module; the steps follow a first-time user: the example clip paints,
FPS changes the ledger and the timeline, Qwen3-VL shows timestamps, the language switches, a corrupt
upload shows an error and a good one works again. Screenshots go to artifacts/screenshots/.
"""

from __future__ import annotations

import os
import re
import time

import pytest

from app_server import ROOT, running_app
from qwenvl_viz import explain

CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "artifacts" / "screenshots"
CLIP = str(ROOT / "assets" / "sample_clip.mp4")
IMAGE = str(ROOT / "assets" / "sample_image.jpg")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
WAIT_MS = 30_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is missing (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def page():
    from playwright.sync_api import sync_playwright

    url, _ = running_app()
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = browser.new_page(viewport={"width": 1600, "height": 1000})
        pg.set_default_timeout(WAIT_MS)
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        start = time.perf_counter()
        pg.goto(url)
        pg.wait_for_selector("#ledger-strip")
        show_details(pg)
        pg.wait_for_selector("#patch-plot .js-plotly-plot")
        pg.first_paint_s = time.perf_counter() - start  # type: ignore[attr-defined]
        pg.js_errors = errors  # type: ignore[attr-defined]
        yield pg
        browser.close()


def show_details(page) -> None:
    """Scroll the details tab onto the screen: the page draws it only while it is seen (built hidden, it
    stands as a one-line note until then)."""
    page.locator("#details, #details-wait").first.scroll_into_view_if_needed()
    page.wait_for_selector("#details")


def shot(page, name: str) -> None:
    page.wait_for_timeout(400)  # let plotly finish its transition
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def text(page, selector: str) -> str:
    return page.locator(selector).inner_text()


def wait_text(page, selector: str, pattern: str) -> None:
    """Wait until the element's text matches ``pattern`` (a regex)."""
    page.wait_for_function(
        "([sel, pat]) => { const e = document.querySelector(sel); return !!e && new RegExp(pat).test(e.innerText); }",
        arg=[selector, pattern],
    )


def sampled_count(page) -> int:
    return page.evaluate(
        """() => { const gd = document.querySelector('#timeline-plot .js-plotly-plot');
                   const t = gd._fullData.find(d => (d.mode || '').startsWith('markers+text'));
                   return t ? t._length : -1; }"""
    )


def test_the_example_clip_paints_on_load(page):
    trace = explain(CLIP, fps=2.0)
    ledger = text(page, "#ledger-strip")
    assert re.sub(r"\s+", " ", f"[{trace.sampling.nframes}, 3, 1280, 720]") in re.sub(r"\s+", " ", ledger)
    assert sampled_count(page) == trace.sampling.nframes
    assert page.locator("#frames-sheet img").count() == 1
    assert not page.js_errors
    print(f"first paint {page.first_paint_s:.2f} s")
    shot(page, "01_example_clip")


def test_changing_fps_changes_the_ledger_and_the_timeline(page):
    trace = explain(CLIP, fps=4.0)
    box = page.locator("#fps input[type=number]")
    box.fill("4")
    box.press("Enter")
    wait_text(page, "#ledger-strip", re.escape(f"[{trace.sampling.nframes}, 3, 1280, 720]"))
    show_details(page)
    page.wait_for_function(
        "n => { const gd = document.querySelector('#timeline-plot .js-plotly-plot');"
        " const t = gd && gd._fullData.find(d => (d.mode || '').startsWith('markers+text'));"
        " return t && t._length === n; }", arg=trace.sampling.nframes)
    shot(page, "02_fps_4")


def test_qwen3_shows_timestamps_in_the_prompt_and_the_timeline(page):
    trace = explain(CLIP, model="qwen3-vl", fps=4.0)
    page.locator("#model label", has_text=re.compile(r"^\s*Qwen3-VL\s*$")).click()
    show_details(page)
    wait_text(page, "#prompt-view", re.escape(trace.prompt.timestamp_strings[0]))
    prompt = text(page, "#prompt-view")
    assert trace.prompt.timestamp_strings[1] in prompt
    timeline = page.locator("#timeline-plot").inner_text()  # 16 groups: each labelled with its seconds
    assert all(f"{s:.1f}s" in timeline for s in trace.prompt.timestamps)
    shot(page, "03_qwen3_timestamps")


def test_switching_language_relabels_the_page_in_chinese(page):
    page.locator("#lang label", has_text="中文").click()
    wait_text(page, "#views", "采样时间线")
    wait_text(page, "#banner", "视觉 token")
    wait_text(page, "#timeline-text", "实际 sample_fps")
    assert page.evaluate("() => document.fonts.check('16px \"Noto Sans CJK SC\"', '采样时间线')")
    shot(page, "04_chinese")
    page.locator("#lang label", has_text="English").click()
    wait_text(page, "#views", "Sampling timeline")


def test_a_corrupt_upload_shows_an_error_and_a_good_file_then_works(page, tmp_path):
    bad = tmp_path / "broken_clip.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4096))
    page.locator("#media button[aria-label='Clear']").first.click()
    page.locator("#media input[type=file]").set_input_files(str(bad))
    wait_text(page, "#err-media", "broken_clip.mp4")
    assert "banner-error" in page.locator("#banner .banner").get_attribute("class")
    assert "Traceback" not in page.locator("body").inner_text()
    shot(page, "05_corrupt_upload")
    page.locator("#media button[aria-label='Clear']").first.click()
    page.locator("#media input[type=file]").set_input_files(IMAGE)
    wait_text(page, "#banner", "sample_image.jpg")
    wait_text(page, "#err-media", r"^\s*$")  # the error is cleared (a progress timer may show a moment)
    trace = explain(IMAGE, model="qwen3-vl")
    wait_text(page, "#ledger-strip", re.escape(f"[{', '.join(map(str, trace.patchify.grid_thw))}]"))
    shot(page, "06_good_image_after_error")


def test_the_encoder_runs_on_demand_and_draws_heatmaps(page):
    page.locator("#run-encoder").click()
    page.wait_for_selector("#heatmap img")
    wait_text(page, "#encoder-banner", "RANDOM")
    trace = explain(IMAGE, model="qwen3-vl")
    assert f"[{trace.patchify.rows}, {trace.patchify.row_len}]" in text(page, "#encoder-stages-view")
    shot(page, "07_encoder")


def test_picking_the_example_clip_brings_it_back(page):
    page.locator("#examples button", has_text="sample_clip.mp4").first.click()
    wait_text(page, "#banner", "sample_clip.mp4")
    show_details(page)
    page.wait_for_function("""() => { const gd = document.querySelector('#timeline-plot .js-plotly-plot');
        const t = gd && gd._fullData && gd._fullData.find(d => (d.mode || '').startsWith('markers+text'));
        return t && t._length > 0; }""")  # the details tab's figures follow the glance
    shot(page, "08_example_again")
