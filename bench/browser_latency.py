"""Browser latency of the glance (Playwright + Debian's chromium; not part of the test suite).

    .venv/bin/python bench/browser_latency.py [--runs 12] [--viewport 1920x1080]

Measures, in a real page served by this process:
- first paint: navigation -> the whole glance drawn, heatmaps included (bundled clip, warm server);
- FPS change -> all five glance cells updated, on the sample clip and on the sample image (p50 / p95);
- the details tab, which the page draws only once it is on screen: scroll -> its figures drawn;
- where the time goes: the server's share (the glance handler called directly, same inputs), the bytes
  the glance step sends, and the rest (transfer + the browser swapping images / tables).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu"]
CLIP = str(ROOT / "assets" / "sample_clip.mp4")
IMAGE = str(ROOT / "assets" / "sample_image.jpg")
# a change is "painted" when every glance cell shows the new numbers: the frames caption carries the count
MARK = """() => { const c = document.querySelector('#glance-frames');
  const p = document.querySelector('#glance-patches-pic img'), h = document.querySelector('#glance-time-ids');
  return c && p && h ? c.innerText + '|' + p.src + '|' + h.innerText + '|' +
    document.querySelector('#glance-timestamps').innerText + '|' +
    (document.querySelector('#glance-heatmaps-pic img') || {}).src : ''; }"""


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def server_share(media: str, fps_values: list[float], key: str = "fps", values: list | None = None
                 ) -> tuple[list[float], list[int]]:
    """The glance handler's own time (cached traces, as in the browser run) and its payload size."""
    from app_latency import payload_bytes  # the suite's JSON size measure

    from qwenvl_viz.ui.layout import build_demo

    demo = build_demo()
    fn = next(f for f in demo.fns.values() if f.api_name == "update_glance").fn
    from qwenvl_viz.ui.layout import REQUEST_FIELDS, VIEW_FIELDS

    base = dict(model="qwen2.5-vl", pipeline="official", sample_by="fps", pixel_unit="px", text_resume="release",
                order="merge", windows=True, context_len=32768, selected="", step=0, group=0,
                qwen3_outer_wrapper=False, cap_pixels_per_frame=False, prompt="")
    times, sizes = [], []
    last: dict = {}
    for v in values or fps_values:
        values_ = {**base, "media": media, "fps": 2.0, key: v}
        args = ["English", *(values_.get(n) for n in REQUEST_FIELDS), *(values_.get(n) for n in VIEW_FIELDS), last]
        t0 = time.perf_counter()
        out = fn(*args)
        times.append(time.perf_counter() - t0)
        sizes.append(payload_bytes(out))
        last = out[-1]
    return times, sizes


def browser_run(url: str, viewport: tuple[int, int], runs: int) -> dict:
    from playwright.sync_api import sync_playwright

    res: dict = {}
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = b.new_page(viewport={"width": viewport[0], "height": viewport[1]})
        page.set_default_timeout(60_000)
        page.goto(url)  # a first visit: the browser caches Gradio's scripts as a returning visitor has them
        page.wait_for_selector("#glance-heatmaps-pic img")
        t0 = time.perf_counter()
        page.reload()
        page.wait_for_selector("#glance-heatmaps-pic img")
        page.wait_for_function("() => document.querySelector('#glance-time-ids td.glance-tid')")
        res["first_paint_s"] = time.perf_counter() - t0
        for name, media_btn in (("clip", "sample_clip.mp4"), ("image", "sample_image.jpg")):
            page.locator("#examples button", has_text=media_btn).first.click()
            page.wait_for_function(f"() => document.querySelector('#banner').innerText.includes('{media_btn}')")
            page.wait_for_timeout(1500)
            # an image samples no frames, so an FPS change changes nothing on it (the handler skips every view):
            # on the image the measured change is max_pixels, which redraws the same glance cells
            box = page.locator("#fps input[type=number]" if name == "clip" else "#max-pixels input")
            lat = []
            for k in range(runs):
                # the page opens at FPS 2: start elsewhere, or the first "change" changes nothing
                fps = [4.0, 1.0, 3.0, 2.0][k % 4] if name == "clip" else [200704, 602112][k % 2]
                before = page.evaluate(MARK)
                box.fill(str(fps))
                t0 = time.perf_counter()
                box.press("Enter")
                page.wait_for_function(f"old => ({MARK})() !== old", arg=before, polling=5)
                lat.append(time.perf_counter() - t0)
                page.wait_for_timeout(700)  # let the details step finish: one change at a time
            res[name] = lat
        t0 = time.perf_counter()
        page.locator("#details, #details-wait").first.scroll_into_view_if_needed()
        page.wait_for_function("() => { const gd = document.querySelector('#rope-plot .js-plotly-plot');"
                               " return gd && gd.data && gd.data.length > 0; }")
        res["details_paint_s"] = time.perf_counter() - t0
        b.close()
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=12)
    ap.add_argument("--viewport", default="1920x1080")
    a = ap.parse_args()
    vw, vh = (int(x) for x in a.viewport.split("x"))
    import conftest  # noqa: F401  (the torchvision shim, offline env)
    from app_server import running_app

    url, _ = running_app()
    res = browser_run(url, (vw, vh), a.runs)
    s_clip, b_clip = server_share(CLIP, [2.0, 4.0, 1.0, 3.0] * 3)
    s_img, b_img = server_share(IMAGE, [2.0, 4.0] * 3, key="max_pixels", values=[200704, 602112] * 3)
    report = {
        "viewport": a.viewport,
        "first_paint_s": round(res["first_paint_s"], 3),
        "clip_fps_change_ms": {"p50": round(1000 * statistics.median(res["clip"])),
                               "p95": round(1000 * pct(res["clip"], 0.95))},
        "image_max_pixels_change_ms": {"p50": round(1000 * statistics.median(res["image"])),
                                "p95": round(1000 * pct(res["image"], 0.95))},
        "details_on_screen_to_drawn_s": round(res["details_paint_s"], 3),
        "server_glance_ms_clip": {"p50": round(1000 * statistics.median(s_clip[4:]), 1)},
        "server_glance_ms_image": {"p50": round(1000 * statistics.median(s_img[2:]), 1)},
        "glance_payload_bytes_clip": int(statistics.median(b_clip[4:])),
        "glance_payload_bytes_image": int(statistics.median(b_img[2:])),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
