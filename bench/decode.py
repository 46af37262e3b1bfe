"""Selective decoding: time to open and decode the sampled frames, and how much decoding was saved.

Prints numbers, asserts nothing. The 60 s 1080p clips (GOP 250 = x264's default, and GOP 30) are made
once under /tmp (minutes on 2 cores).

    .venv/bin/python bench/decode.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from media_factory import MediaFactory  # noqa: E402
from qwenvl_viz.media import clear_cache, decode_stats, iter_frames, open_media  # noqa: E402


def measure(name: str, path: Path, want: list[int]) -> None:
    clear_cache()
    before = decode_stats()
    t0, c0 = time.perf_counter(), time.process_time()
    info = open_media(path)
    t1 = time.perf_counter()
    n = sum(1 for _ in iter_frames(info, want))
    t2, c2 = time.perf_counter(), time.process_time()
    d = {k: decode_stats()[k] - before.get(k, 0) for k in ("frames_decoded", "frames_skipped", "seeks")}
    print(f"{name:<34} open {t1 - t0:6.3f} s  {n} frames {t2 - t1:6.2f} s (cpu {c2 - c0:5.2f} s)  "
          f"of {info.frames}: {d}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    spread16 = np.round(np.linspace(0, 248, 16)).astype(int).tolist()
    measure("sample_clip.mp4, 16 frames", ROOT / "assets" / "sample_clip.mp4", spread16)
    if args.quick:
        return
    factory = MediaFactory(Path(tempfile.gettempdir()) / "qwenvl-viz-long-clips")
    want = np.round(np.linspace(0, 1799, 120)).astype(int).tolist()
    for gop in (250, 30):
        path = factory.video("mp4", width=1920, height=1080, fps=30, frames=1800, gop=gop, crf=28, threads=2)
        measure(f"60 s 1080p GOP {gop}, 120 frames", path, want)


if __name__ == "__main__":
    main()
