"""Server-side latency and payload of the app's ``update`` path (no assertions; prints numbers).

    .venv/bin/python bench/app_latency.py [--rounds 3]

For the bundled clip and image, a series of control changes (fps, max_pixels, model, pipeline, the
patch-grid group, the numbering order, ...) is replayed through the same ``update`` function the page
calls. Frames are decoded once up front ("frames cached"); before every measured change the Trace, view
and preview caches are cleared, so each number is the cost of a setting never seen before (a cached
setting costs ~1 ms). Payload = bytes the browser receives for the outputs that changed: the JSON of the
figures / HTML / text, plus the JPEG files served for the image outputs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gradio.components.plot import PlotData  # noqa: E402

from qwenvl_viz.media import iter_frames  # noqa: E402
from qwenvl_viz.ui import layout  # noqa: E402
from qwenvl_viz.ui.state import PREVIEWS, TRACES, VIEWS, Request, get_trace  # noqa: E402
from qwenvl_viz.ui.views import ViewOptions  # noqa: E402

CLIP_CHANGES = [
    dict(fps=1.0), dict(fps=3.0), dict(fps=4.0), dict(fps=2.0, max_pixels=200704.0), dict(max_pixels=401408.0),
    dict(model="qwen3-vl"), dict(model="qwen2-vl"), dict(pipeline="processor"), dict(sample_by="nframes", nframes=8),
    dict(group=3), dict(order="raster"), dict(windows=False), dict(context_len=8192), dict(video_start=2.0),
    dict(prompt="What happens?"),
]
IMAGE_CHANGES = [
    dict(max_pixels=200704.0), dict(max_pixels=401408.0), dict(min_pixels=802816.0, max_pixels=1605632.0),
    dict(model="qwen3-vl"), dict(model="qwen2-vl"), dict(pipeline="processor"), dict(order="raster"),
    dict(windows=False), dict(context_len=4096), dict(prompt="What is this?"),
    dict(pixel_unit="tokens", max_pixels=512.0),
]


def _args(media: str, lang: str = "English", last: dict | None = None, **kw) -> list:
    req = dataclasses.replace(Request(media=media), **{k: v for k, v in kw.items() if k in layout.REQUEST_FIELDS})
    view = dataclasses.replace(ViewOptions(), **{k: v for k, v in kw.items() if k in layout.VIEW_FIELDS})
    return ([lang] + [getattr(req, n) for n in layout.REQUEST_FIELDS] + [getattr(view, n) for n in layout.VIEW_FIELDS]
            + [last or {}])


def payload_bytes(outputs: tuple) -> int:
    """Bytes sent for the outputs that are not skipped (the gr.State value is not sent)."""
    total = 0
    for value in outputs[:-1]:
        if isinstance(value, dict) and value == {"__type__": "update"}:
            continue
        if isinstance(value, PlotData):
            total += len(value.plot.encode())
        elif isinstance(value, str) and value.endswith(".jpg") and os.path.exists(value):
            total += os.path.getsize(value)  # the image file, fetched by URL
        else:
            total += len(json.dumps(value, default=str).encode())
    return total


def run(media: str, changes: list[dict], update, rounds: int) -> None:
    base: dict = {}
    # decode every frame any change will use, once ("frames cached")
    for change in changes:
        kw = {**base, **change}
        try:
            _, trace = get_trace(Request(**{k: v for k, v in {"media": media, **kw}.items()
                                            if k in layout.REQUEST_FIELDS}))
            if trace.sampling:
                list(iter_frames(trace.media, trace.sampling.indices))
        except Exception as e:  # noqa: BLE001
            print("  (setting failed:", e, ")")
    out = update(*_args(media))
    first = payload_bytes(out)
    times, sizes, warm = [], [], []
    last = out[-1]
    for _ in range(rounds):
        for change in changes:
            TRACES.clear()
            VIEWS.clear()
            PREVIEWS.clear()
            t = time.perf_counter()
            out = update(*_args(media, last=last, **change))
            times.append((time.perf_counter() - t) * 1000)
            sizes.append(payload_bytes(out))
            last = out[-1]
            t = time.perf_counter()
            update(*_args(media, last={}, **change))  # same setting again, caches warm, full re-send
            warm.append((time.perf_counter() - t) * 1000)
    name = os.path.basename(media)
    print(f"{name}: {len(times)} control changes")
    print(f"  server time, new setting (trace + views + previews rebuilt): p50 {statistics.median(times):.0f} ms, "
          f"p90 {sorted(times)[int(0.9 * (len(times) - 1))]:.0f} ms, max {max(times):.0f} ms")
    print(f"  server time, setting seen before (caches warm): p50 {statistics.median(warm):.1f} ms")
    print(f"  payload per change: p50 {statistics.median(sizes) / 1024:.0f} kB, max {max(sizes) / 1024:.0f} kB; "
          f"full first paint {first / 1024:.0f} kB")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args()
    t = time.perf_counter()
    demo = layout.build_demo()
    print(f"build_demo: {time.perf_counter() - t:.2f} s")
    update = next(f for f in demo.fns.values() if f.api_name == "update").fn
    clip, image = layout.EXAMPLES
    t = time.perf_counter()
    update(*_args(clip))
    print(f"first update of the clip (probe, decode, render; cold process): {time.perf_counter() - t:.2f} s")
    run(image, IMAGE_CHANGES, update, args.rounds)
    run(clip, CLIP_CHANGES, update, args.rounds)


if __name__ == "__main__":
    main()
