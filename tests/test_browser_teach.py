"""The teaching features in a real browser (Debian's chromium through Playwright): click a patch of the
sample clip and follow it through every view, keep it across a parameter change, compare Qwen2.5-VL
with Qwen3-VL, read the reproduce-in-code snippet, download the exports and a figure as PNG.
Expected numbers come from the library in the same test. Screenshots go to artifacts/screenshots/.
"""

from __future__ import annotations

import csv
import io
import re

# the same page fixture (one browser page per module): a fresh page of the shared server
from test_browser import CLIP, page, pytestmark, shot, wait_text  # noqa: F401
from qwenvl_viz import explain
from qwenvl_viz.compare import compare
from qwenvl_viz.figures.patch_grid import SELECT_COLOR
from qwenvl_viz.selection import select, select_relative


def panel(page) -> dict[str, str]:
    return page.locator("#selection-panel").evaluate("e => Object.assign({}, e.dataset)")


def click_frame(page, fx: float, fy: float) -> dict[str, str]:
    """Click the clickable frame at a fraction (fx, fy) of its size; returns the panel's numbers."""
    page.locator("#selection-view").scroll_into_view_if_needed()
    page.wait_for_function("() => { const i = document.querySelector('#select-frame img');"
                           " return i && i.complete && i.naturalWidth > 0; }")
    img = page.locator("#select-frame img")
    box = img.bounding_box()
    before = page.locator("#selection-panel").get_attribute("data-row")
    page.frame_box = box  # type: ignore[attr-defined]
    img.click(position={"x": box["width"] * fx, "y": box["height"] * fy})
    page.wait_for_function("old => { const p = document.querySelector('#selection-panel');"
                           " return p && p.dataset.row !== undefined && p.dataset.row !== old; }", arg=before)
    return panel(page)


def test_clicking_a_patch_follows_it_through_every_view(page):
    trace = explain(CLIP, model="qwen2.5-vl", fps=2.0)
    got = click_frame(page, 0.3, 0.6)
    x, y = float(got["x"]), float(got["y"])
    px = trace.resize.width / page.frame_box["width"]  # resized pixels per screen pixel
    assert abs(x - 0.3 * trace.resize.width) < 2 * px and abs(y - 0.6 * trace.resize.height) < 2 * px
    sel = select(trace, x, y, group=int(got["group"]))
    assert int(got["row"]) == sel.row and int(got["token"]) == sel.token
    assert int(got["inputIndex"]) == sel.input_index
    assert (int(got["t"]), int(got["h"]), int(got["w"])) == sel.position_ids
    assert int(got["window"]) == sel.window.index
    table = page.locator("#selection-panel").inner_text()
    assert f"row {sel.row} of {trace.patchify.rows}" in table
    assert f"(t, h, w) = {sel.position_ids}".replace("'", "") in table
    # the other views outline the same thing
    wait_text(page, "#prompt-view", re.escape(f"input_ids[{sel.input_index}]"))
    assert page.locator("#prompt-view .chip-selected").count() == 1
    shapes = page.evaluate("() => document.querySelector('#patch-plot .js-plotly-plot').layout.shapes || []")
    outlined = [s for s in shapes if s.get("line", {}).get("color") == SELECT_COLOR]
    assert outlined and outlined[0]["x0"] == sel.patch_box[0] / trace.patchify.patch_size - 0.5
    marks = page.evaluate("c => document.querySelector('#rope-plot .js-plotly-plot').data"
                          ".filter(t => t.marker && t.marker.color === c).map(t => [Array.from(t.x), Array.from(t.y)])",
                          SELECT_COLOR)
    assert marks == [[[sel.input_index] * 3, list(sel.position_ids)]]
    assert not page.js_errors
    shot(page, "09_linked_selection")


def test_the_selection_survives_a_new_max_pixels(page):
    first = panel(page)
    t_old = explain(CLIP, model="qwen2.5-vl", fps=2.0)
    rx, ry = float(first["x"]) / t_old.resize.width, float(first["y"]) / t_old.resize.height
    anchor = t_old.frame_indices[t_old.patchify.groups[int(first["group"])][0]]
    box = page.locator("#max-pixels input")
    box.fill("200704")
    box.press("Enter")
    page.wait_for_function("old => document.querySelector('#selection-panel').dataset.row !== old", arg=first["row"])
    t_new = explain(CLIP, model="qwen2.5-vl", fps=2.0, max_pixels=200_704)
    expected = select_relative(t_new, rx, ry, anchor)
    got = panel(page)
    assert int(got["row"]) == expected.row and int(got["inputIndex"]) == expected.input_index
    assert (int(got["t"]), int(got["h"]), int(got["w"])) == expected.position_ids
    box.fill("0")
    box.press("Enter")
    page.wait_for_function("old => document.querySelector('#selection-panel').dataset.row === old", arg=first["row"])


def test_once_the_encoder_has_run_a_click_shows_the_cosine_map_to_that_token(page):
    trace = explain(CLIP, model="qwen2.5-vl", fps=2.0)
    page.locator("#run-encoder").click()
    page.wait_for_selector("#heatmap img")
    wait_text(page, "#encoder-banner", "RANDOM")
    got = click_frame(page, 0.7, 0.2)
    sel = select(trace, float(got["x"]), float(got["y"]), group=int(got["group"]))
    page.wait_for_function("t => document.querySelector('#token input').value === String(t)", arg=sel.token)
    assert page.locator("#heatmap-kind input[value=cosine]").is_checked()
    wait_text(page, "#encoder-text", re.escape(f"token {sel.token}"))
    page.locator("#heatmap").scroll_into_view_if_needed()
    shot(page, "10_cosine_to_selected_token")


def test_compare_qwen25_with_qwen3_side_by_side(page):
    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare").get_by_text("Compare two settings").click()
    page.locator("#compare-run").click()
    page.wait_for_selector("#compare-table")
    c = compare(explain(CLIP, model="qwen2.5-vl", fps=2.0), explain(CLIP, model="qwen3-vl", fps=2.0))
    differing = page.evaluate("() => Array.from(document.querySelectorAll('#compare-table tr[data-differs=true]'))"
                              ".map(r => r.dataset.key)")
    assert set(differing) == {r.key for r in c.differences}
    assert "Qwen3-VL" in page.locator("#compare-b").inner_text()
    tokens_row = page.locator('#compare-table tr[data-key="prompt_tokens"]').inner_text()
    row = next(r for r in c.rows if r.key == "prompt_tokens")
    assert str(row.a) in tokens_row and str(row.b) in tokens_row
    page.locator("#compare-table").scroll_into_view_if_needed()
    shot(page, "11_compare")


def test_reproduce_in_code_shows_the_snippet_and_the_command(page):
    page.get_by_role("tab", name="Stage details").click()
    page.locator("#reproduce").get_by_text("Reproduce in code").click()
    wait_text(page, "#snippet", "process_vision_info")
    wait_text(page, "#cli-line", re.escape("python -m qwenvl_viz explain"))
    assert "--model qwen2.5-vl" in page.locator("#cli-line").inner_text()


def test_exports_download_as_json_npz_csv_and_figures_as_png(page):
    trace = explain(CLIP, model="qwen2.5-vl", fps=2.0)
    page.locator("#export").get_by_text("Export").first.click()
    page.locator("#export-run").click()
    page.wait_for_function("() => document.querySelectorAll('#export-files a').length >= 3", timeout=120_000)
    names = page.evaluate("() => Array.from(document.querySelectorAll('#export-files a')).map(a => a.href)")
    assert sorted(n.rsplit("/", 1)[-1] for n in names) == [f"sample_clip_qwen2.5-vl_official.{e}" for e in
                                                            ("csv", "json", "npz")]
    link = page.locator('#export-files a[href$=".csv"]').first
    with page.expect_download() as dl:
        link.click()
    rows = list(csv.DictReader(io.StringIO(open(dl.value.path(), encoding="utf-8").read())))
    assert len(rows) == trace.prompt.num_tokens
    # a figure as PNG, from its own toolbar
    plot = page.locator("#rope-plot .js-plotly-plot")
    plot.scroll_into_view_if_needed()
    plot.hover()
    with page.expect_download() as dl:
        page.locator('#rope-plot .modebar-btn[data-title="Download plot as a PNG"], '
                     '#rope-plot .modebar-btn[data-title="Download plot as a png"]').first.click()
    assert open(dl.value.path(), "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    page.locator("#export-files").scroll_into_view_if_needed()
    shot(page, "12_exports")
