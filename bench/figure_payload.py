"""JSON payload of every view for a few heavy but allowed requests (prints sizes; asserts nothing).

    .venv/bin/python bench/figure_payload.py

Each request is rendered twice: with no figure point limit (every point drawn) and with the default
``max_figure_points``; the vision-token limit is lifted so that a request past it (patch 2) shows what a
raised ``--max-vision-tokens`` costs. A view's payload is what the app sends for it: a figure's JSON, an HTML or Markdown string, a file path
(pictures are served as files, not JSON). Also prints the render time of each request's views.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qwenvl_viz.params import DEFAULT_BUDGET, Budget  # noqa: E402
from qwenvl_viz.ui import state  # noqa: E402
from qwenvl_viz.ui.state import Request, get_trace  # noqa: E402
from qwenvl_viz.ui.views import ViewOptions, render_views  # noqa: E402

CLIP = str(ROOT / "assets" / "sample_clip.mp4")
IMAGE = str(ROOT / "assets" / "sample_image.jpg")
CASES = {
    "clip default": Request(media=CLIP),
    "clip processor qwen2-vl patch 4": Request(media=CLIP, model="qwen2-vl", pipeline="processor", patch_size=4.0),
    "clip processor qwen2.5-vl patch 4": Request(media=CLIP, model="qwen2.5-vl", pipeline="processor", patch_size=4.0),
    "clip official fps 8 max_frames 768": Request(media=CLIP, fps=8.0, max_frames=768.0),
    "clip processor qwen2-vl patch 2 (--max-vision-tokens 0)": Request(media=CLIP, model="qwen2-vl",
                                                                       pipeline="processor", patch_size=2.0),
    "image patch 2 max_pixels 16384 tokens": Request(media=IMAGE, patch_size=2.0, pixel_unit="tokens",
                                                      max_pixels=16384.0),
}


def size(value) -> int:
    if hasattr(value, "plot"):  # gradio PlotData: the figure's JSON
        return len(value.plot)
    if isinstance(value, str):
        return len(value.encode())
    return len(json.dumps(value, default=str).encode())


def main() -> None:
    for name, req in CASES.items():
        for points in (None, DEFAULT_BUDGET.max_figure_points):
            state.set_budget(Budget(max_vision_tokens=None, max_figure_points=points))
            state.VIEWS.clear()
            t0 = time.perf_counter()
            key, trace = get_trace(req)
            t1 = time.perf_counter()
            views = render_views(key, trace, ViewOptions(), "English")
            t2 = time.perf_counter()
            sizes = {v: size(val) for v, (_, val) in views.items()}
            total = sum(sizes.values())
            big = sorted(sizes.items(), key=lambda kv: -kv[1])[:4]
            print(f"{name} | max_figure_points {points}: grid {trace.patchify.grid_thw}, "
                  f"{trace.rope.position_ids.shape[1]:,} ids; views {t2 - t1:.2f} s, payload {total / 1e6:.2f} MB: "
                  + ", ".join(f"{v} {s / 1e3:,.0f} kB" for v, s in big))


if __name__ == "__main__":
    main()
