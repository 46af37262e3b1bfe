"""Preprocessing speed and memory: ``explain()`` + ``pixel_values`` vs the reference stack, same run.

Reference = qwen-vl-utils 0.0.14 ``process_vision_info`` (decord backend) + transformers 5.23
``Qwen2VLVideoProcessor``, as ``tests/oracles.py`` runs it. Each measurement runs in its own
subprocess, after imports, so peak memory (``ru_maxrss`` high-water mark minus the RSS before the
call) is not polluted by the other side. The two sides alternate (ref, ours, ref, ours, ...) so
that a load spike from other processes hits both alike; the best time of each side is compared and
the spread (min-max) and CPU seconds are printed beside it. Prints numbers and ratios; asserts nothing.

    .venv/bin/python bench/preprocess.py              # sample clip + a generated 60 s 1080p clip
    .venv/bin/python bench/preprocess.py --quick      # sample clip only
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT / "assets" / "sample_clip.mp4"
CACHE = Path(os.environ.get("QWENVL_VIZ_BENCH_DIR", "/tmp/qwenvl_viz_bench"))


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_long_clip(seconds: int = 60) -> Path:
    """1920x1080, 30 fps, x264 default GOP (250): textured so that decoding costs what real video costs."""
    import av
    import numpy as np

    path = CACHE / f"clip_1080p_{seconds}s.mp4"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (1080 // 8, 1920 // 8, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
    tmp = path.with_suffix(".tmp.mp4")
    with av.open(str(tmp), "w") as out:
        s = out.add_stream("libx264", rate=30, options={"crf": "28", "preset": "ultrafast"})
        s.width, s.height, s.pix_fmt = 1920, 1080, "yuv420p"
        for i in range(seconds * 30):
            frame = np.roll(base, shift=4 * i, axis=1)
            frame[:40, : (i % 1920)] = 255
            out.mux(s.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(s.encode())
    tmp.rename(path)
    return path


def worker(side: str, clip: str, fps: float) -> dict:
    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
    if side == "ours":
        from PIL import Image

        import qwenvl_viz
        import qwenvl_viz.trace  # noqa: F401  (torch, PyAV: imports stay outside the timing)
        from qwenvl_viz import tv1_kernel
        from qwenvl_viz.prompt import load_tokenizer

        load_tokenizer()  # a start-up cost, like the reference's imports
        w0 = time.perf_counter()
        tv1_kernel.available()  # loads (or, the first time ever, compiles) the numba resampler
        warm_up = time.perf_counter() - w0
        Image.init()  # Pillow imports its format plugins on the first open: an import, not work
        rss0 = _rss_mb()
        t0, c0 = time.perf_counter(), time.process_time()
        t = qwenvl_viz.explain(clip, model="qwen2.5-vl", fps=fps)
        shape = tuple(t.pixel_values.shape)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        peak = _peak_mb() - rss0
        # Live controls on the opened clip: numbers only, no pixel tensor.
        t1 = time.perf_counter()
        t2 = qwenvl_viz.explain(clip, model="qwen2.5-vl", fps=fps * 1.5)
        dt_fps = time.perf_counter() - t1
        t1 = time.perf_counter()
        qwenvl_viz.explain(clip, model="qwen2.5-vl", fps=fps, max_pixels=200_000)
        dt_max = time.perf_counter() - t1
        return {"time": dt, "cpu": cpu, "peak_mb": peak, "shape": shape, "live_fps_ms": dt_fps * 1e3,
                "live_max_pixels_ms": dt_max * 1e3, "warm_up_s": warm_up, "nframes": t.sampling.nframes,
                "nframes_fps2": t2.sampling.nframes}
    import conftest  # noqa: F401  (torchvision shim, offline env)
    import oracles
    from qwen_vl_utils import process_vision_info  # noqa: F401  (import outside the timing)
    from transformers import Qwen2VLVideoProcessor  # noqa: F401

    rss0 = _rss_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    ref = oracles.official(clip, "video", "qwen2.5-vl", fps=fps)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"time": dt, "cpu": cpu, "peak_mb": _peak_mb() - rss0, "shape": tuple(ref["pixel_values"].shape)}


def run_side(side: str, clip: Path, fps: float) -> dict:
    env = dict(os.environ, FORCE_QWENVL_VIDEO_READER="decord", HF_HUB_OFFLINE="1", PYTHONWARNINGS="ignore")
    r = subprocess.run([sys.executable, __file__, "--worker", side, "--clip", str(clip), "--fps", str(fps)],
                       capture_output=True, text=True, env=env, timeout=1800)
    if r.returncode != 0:
        raise SystemExit(f"{side} worker failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", choices=["ours", "ref"])
    ap.add_argument("--clip")
    ap.add_argument("--fps", type=float, default=2.0)
    ap.add_argument("--quick", action="store_true", help="sample clip only")
    ap.add_argument("--repeat", type=int, default=3, help="runs per side, alternating; the best time is compared")
    ap.add_argument("--long-only", action="store_true", help="the 1080p clip only")
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.clip, args.fps)))
        return
    clips = [] if args.long_only else [("sample clip 720x1280, 249 frames", CLIP)]
    if not args.quick or args.long_only:
        print("generating / reusing the 60 s 1080p clip ...", flush=True)
        clips.append(("60 s 1920x1080 @ 30 fps, GOP 250", make_long_clip()))
    print(f"{'clip':<36}{'side':<6}{'best s':>8}{'min-max s':>14}{'cpu s':>8}{'peak MB':>9}  shape")
    for name, clip in clips:
        runs: dict[str, list[dict]] = {"ref": [], "ours": []}
        for _ in range(args.repeat):
            for side in runs:
                runs[side].append(run_side(side, clip, args.fps))
        res = {}
        for side, rs in runs.items():
            best = dict(min(rs, key=lambda r: r["time"]))
            best["peak_mb"] = max(r["peak_mb"] for r in rs)
            times = [r["time"] for r in rs]
            res[side] = best
            print(f"{name:<36}{side:<6}{best['time']:>8.3f}{f'{min(times):.2f}-{max(times):.2f}':>14}"
                  f"{best['cpu']:>8.2f}{best['peak_mb']:>9.0f}  {best['shape']}", flush=True)
        o, r = res["ours"], res["ref"]
        print(f"  -> speed-up {r['time'] / o['time']:.2f}x (cpu {r['cpu'] / o['cpu']:.2f}x), "
              f"peak memory ours/ref {o['peak_mb'] / max(r['peak_mb'], 1):.2f}"
              f" ({o['peak_mb']:.0f} MB vs {r['peak_mb']:.0f} MB); live fps change {o['live_fps_ms']:.1f} ms,"
              f" live max_pixels change {o['live_max_pixels_ms']:.1f} ms (no pixels); start-up of the"
              f" resampler (numba load + check against torch) {max(r['warm_up_s'] for r in runs['ours']):.2f} s,"
              f" not timed")


if __name__ == "__main__":
    main()
