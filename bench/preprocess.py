"""Preprocessing speed and memory against the reference stack, both sides in the same run.

Reference = qwen-vl-utils 0.0.14 ``process_vision_info`` + transformers 5.23, as ``tests/oracles.py`` runs
it, with the video reader users get: torchcodec (qwen-vl-utils' first choice on a current install), and
decord for older setups; our side follows the same backend (``explain(decoder=...)``), so each pair
computes the same frames. Three measurements, each side in its own fresh process, the two sides
alternating (ref, ours, ref, ours, ...) so that a load spike from other processes hits both alike; the
best time of each side is compared and the spread (min-max) is printed beside it:

1. whole process, sample clip: ``python -m qwenvl_viz explain CLIP --save OUT.npz`` against
   ``python bench/preprocess.py --reference-cli CLIP OUT.npz``, which does the same work with the
   reference (process_vision_info, ``Qwen2_5_VLProcessor`` with the same tokenizer.json, ``get_rope_index``,
   ``np.savez`` of the same tensors); the two files are compared (they must be equal). Wall time from
   spawn to exit, and each process's peak RSS (``wait4``).
2. warm, in-process (imports and one-time loads done, outside the timing): ``explain()`` +
   ``pixel_array`` (``pixel_values`` is a torch view of it) against ``process_vision_info`` + the video processor, on the sample clip and on a
   generated 60 s 1080p clip. Peak = ``ru_maxrss`` high-water mark (whole process, and above the RSS
   before the call).
3. peak RSS of a CLI process that handles only the 1080p clip (``explain CLIP --save OUT.npz``).

Our start-up caches (``qwenvl_viz.disk_cache``: checked resampler taps, tokenizer answers) are filled
by one untimed run first, as after a user's first run; that first ("cold") run's time is printed too.
Prints numbers and ratios; asserts nothing.

    .venv/bin/python bench/preprocess.py              # all three (makes the 1080p clip once, ~1 min)
    .venv/bin/python bench/preprocess.py --quick      # sample clip only (1 and 2)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT / "assets" / "sample_clip.mp4"
CACHE = Path(os.environ.get("QWENVL_VIZ_BENCH_DIR", "/tmp/qwenvl_viz_bench"))
FPS = 2.0
PROMPT = "Describe this video."  # explain()'s default video prompt, in the default chat template
ENV = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONWARNINGS="ignore")
DECODERS = ("torchcodec", "decord")  # the reference's reader and ours, per pair; the first is the default


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


# ---- the reference, as a user's script would run it ---------------------------------------------

def reference_cli(clip: str, out_path: str) -> None:
    """What ``explain CLIP --save OUT.npz`` computes, with the reference stack: pixel_values, grid,
    input_ids and MRoPE position ids of Qwen2.5-VL's default chat prompt, written with ``np.savez``."""
    import types

    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
    import conftest  # noqa: F401  (the torchvision shim this machine needs; offline env)
    import numpy as np
    from qwen_vl_utils import process_vision_info
    from transformers import (Qwen2_5_VLConfig, Qwen2_5_VLProcessor, Qwen2TokenizerFast, Qwen2VLImageProcessor,
                              Qwen2VLVideoProcessor)
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VLModel

    from qwenvl_viz.profiles import get_profile
    from qwenvl_viz.tokens import _bundled_path

    msgs = [{"role": "user", "content": [{"type": "video", "video": clip, "fps": FPS}, {"type": "text", "text": PROMPT}]}]
    _, videos, kwargs = process_vision_info(msgs, return_video_kwargs=True, return_video_metadata=True,
                                            image_patch_size=14)
    video, meta = videos[0]
    size = {"shortest_edge": 3136, "longest_edge": 12845056}  # the Hub preprocessor_config.json
    proc = Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(size=size, patch_size=14),
        tokenizer=Qwen2TokenizerFast(tokenizer_file=str(_bundled_path(get_profile("qwen2.5-vl")))),
        video_processor=Qwen2VLVideoProcessor(size=size, patch_size=14),
    )
    text = ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<|vision_start|>"
            f"<|video_pad|><|vision_end|>{PROMPT}<|im_end|>\n<|im_start|>assistant\n")
    out = proc(text=[text], videos=[video], video_metadata=[meta], return_tensors="pt", return_mm_token_type_ids=True,
               **kwargs)
    holder = types.SimpleNamespace(config=Qwen2_5_VLConfig(vision_config={"tokens_per_second": 2}))  # Hub configs
    holder.get_vision_position_ids = types.MethodType(Qwen2_5_VLModel.get_vision_position_ids, holder)
    pos, _ = types.MethodType(Qwen2_5_VLModel.get_rope_index, holder)(
        out["input_ids"], out["mm_token_type_ids"], video_grid_thw=out["video_grid_thw"],
        second_per_grid_ts=out["second_per_grid_ts"])
    np.savez(out_path, pixel_values=out["pixel_values_videos"].numpy(), grid_thw=out["video_grid_thw"].numpy(),
             input_ids=out["input_ids"][0].numpy(), position_ids=pos[:, 0].numpy(),
             frame_indices=np.asarray(meta["frames_indices"]))


def _env(decoder: str) -> dict:
    return dict(ENV, FORCE_QWENVL_VIDEO_READER=decoder)  # read by qwen-vl-utils' get_video_reader_backend


def run_process(argv: list[str], decoder: str = DECODERS[0]) -> dict:
    """Wall time from spawn to exit and the child's own peak RSS."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, env=_env(decoder), cwd=ROOT)
        _, status, usage = os.wait4(p.pid, 0)
        dt = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            err.seek(0)
            raise SystemExit(f"{' '.join(argv)} failed:\n{err.read().decode()[-3000:]}")
    return {"time": dt, "cpu": usage.ru_utime + usage.ru_stime, "peak_mb": usage.ru_maxrss / 1024}


def cli_argv(side: str, clip: Path, out: Path, decoder: str = DECODERS[0]) -> list[str]:
    if side == "ours":
        return [sys.executable, "-m", "qwenvl_viz", "explain", str(clip), "--fps", str(FPS), "--decoder", decoder,
                "--save", str(out)]
    return [sys.executable, str(Path(__file__).resolve()), "--reference-cli", str(clip), str(out)]


def same_outputs(ours: Path, ref: Path) -> str:
    import numpy as np

    with np.load(ours) as a, np.load(ref) as b:
        bad = [k for k in b.files if not (a[k].shape == b[k].shape and np.array_equal(a[k], b[k]))]
    return "equal (" + ", ".join(b.files) + ")" if not bad else f"DIFFERENT: {bad}"


# ---- warm, in-process ---------------------------------------------------------------------------

def worker(side: str, clip: str, fps: float, decoder: str) -> dict:
    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
    if side == "ours":
        from PIL import Image

        import qwenvl_viz
        from qwenvl_viz import media, tv1_kernel
        from qwenvl_viz.prompt import load_tokenizer

        # One-time loads, like the reference's imports: the tokenizer's answers, the resampler's
        # checked taps for this geometry (from the disk cache once a run has checked them).
        w0 = time.perf_counter()
        load_tokenizer()
        t = qwenvl_viz.explain(clip, model="qwen2.5-vl", fps=fps, decoder=decoder)
        for step, method in zip(t.resize.steps, t.resize.methods):
            if step.changed and method == "tv1":
                tv1_kernel.ready(step.src, step.dst)
        warm_up = time.perf_counter() - w0
        media.clear_cache()  # the timed call probes and decodes again
        Image.init()  # Pillow imports its format plugins on the first open: an import, not work
        rss0 = _rss_mb()
        t0, c0 = time.perf_counter(), time.process_time()
        t = qwenvl_viz.explain(clip, model="qwen2.5-vl", fps=fps, decoder=decoder)
        shape = tuple(t.pixel_array.shape)  # pixel_values is a torch view of it (no copy; torch not needed)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        peak = _peak_mb()
        # Live controls on the opened clip: numbers only, no pixel tensor.
        t1 = time.perf_counter()
        t2 = qwenvl_viz.explain(clip, model="qwen2.5-vl", fps=fps * 1.5, decoder=decoder)
        dt_fps = time.perf_counter() - t1
        t1 = time.perf_counter()
        qwenvl_viz.explain(clip, model="qwen2.5-vl", fps=fps, max_pixels=200_000, decoder=decoder)
        dt_max = time.perf_counter() - t1
        return {"time": dt, "cpu": cpu, "peak_mb": peak, "delta_mb": peak - rss0, "shape": shape,
                "live_fps_ms": dt_fps * 1e3, "live_max_pixels_ms": dt_max * 1e3, "warm_up_s": warm_up,
                "torch_loaded": "torch" in sys.modules, "nframes": t.sampling.nframes, "nframes_fps2": t2.sampling.nframes}
    import conftest  # noqa: F401  (torchvision shim, offline env)
    import oracles
    from qwen_vl_utils import process_vision_info  # noqa: F401  (import outside the timing)
    from transformers import Qwen2VLVideoProcessor  # noqa: F401

    rss0 = _rss_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    ref = oracles.official(clip, "video", "qwen2.5-vl", fps=fps)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = _peak_mb()
    return {"time": dt, "cpu": cpu, "peak_mb": peak, "delta_mb": peak - rss0, "shape": tuple(ref["pixel_values"].shape)}


def run_side(side: str, clip: Path, fps: float, decoder: str) -> dict:
    r = subprocess.run([sys.executable, __file__, "--worker", side, "--clip", str(clip), "--fps", str(fps),
                        "--decoder", decoder], capture_output=True, text=True, env=_env(decoder), timeout=1800)
    if r.returncode != 0:
        raise SystemExit(f"{side} worker failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def _best(rs: list[dict]) -> dict:
    best = dict(min(rs, key=lambda r: r["time"]))
    best["peak_mb"] = max(r["peak_mb"] for r in rs)
    best["spread"] = f"{min(r['time'] for r in rs):.2f}-{max(r['time'] for r in rs):.2f}"
    return best


def bench_cli(clip: Path, repeat: int, decoder: str) -> None:
    print(f"\n1. whole process, {clip.name}: `python -m qwenvl_viz explain CLIP --decoder {decoder} --save OUT.npz` "
          f"vs the reference script (reader {decoder})")
    tmp = Path(tempfile.mkdtemp(prefix="qwenvl_viz_bench_"))
    outs = {side: tmp / f"{side}.npz" for side in ("ref", "ours")}
    runs: dict[str, list[dict]] = {"ref": [], "ours": []}
    for _ in range(repeat):
        for side in runs:
            runs[side].append(run_process(cli_argv(side, clip, outs[side], decoder), decoder))
    res = {side: _best(rs) for side, rs in runs.items()}
    print(f"   {'side':<6}{'best s':>8}{'min-max s':>14}{'cpu s':>8}{'peak RSS MB':>13}")
    for side, b in res.items():
        print(f"   {side:<6}{b['time']:>8.3f}{b['spread']:>14}{b['cpu']:>8.2f}{b['peak_mb']:>13.0f}")
    o, r = res["ours"], res["ref"]
    print(f"   -> speed-up {r['time'] / o['time']:.2f}x end to end (cpu {r['cpu'] / o['cpu']:.2f}x); "
          f"outputs {same_outputs(outs['ours'], outs['ref'])}")
    for f in outs.values():
        f.unlink(missing_ok=True)
    tmp.rmdir()


def bench_warm(name: str, clip: Path, repeat: int, decoder: str) -> None:
    print(f"\n2. warm, in-process: {name}; reader {decoder} on both sides")
    runs: dict[str, list[dict]] = {"ref": [], "ours": []}
    for _ in range(repeat):
        for side in runs:
            runs[side].append(run_side(side, clip, FPS, decoder))
    res = {side: _best(rs) for side, rs in runs.items()}
    print(f"   {'side':<6}{'best s':>8}{'min-max s':>14}{'cpu s':>8}{'peak RSS MB':>13}{'above start':>13}  shape")
    for side, b in res.items():
        print(f"   {side:<6}{b['time']:>8.3f}{b['spread']:>14}{b['cpu']:>8.2f}{b['peak_mb']:>13.0f}"
              f"{max(r['delta_mb'] for r in runs[side]):>13.0f}  {tuple(b['shape'])}")
    o, r = res["ours"], res["ref"]
    print(f"   -> speed-up {r['time'] / o['time']:.2f}x (cpu {r['cpu'] / o['cpu']:.2f}x); live fps change "
          f"{o['live_fps_ms']:.1f} ms, live max_pixels change {o['live_max_pixels_ms']:.1f} ms (no pixels); "
          f"one-time loads {max(x['warm_up_s'] for x in runs['ours']):.2f} s, not timed; torch loaded in ours: "
          f"{any(x['torch_loaded'] for x in runs['ours'])}")


def bench_cli_rss(clip: Path, repeat: int, decoder: str) -> None:
    print(f"\n3. peak RSS of a CLI process that handles only {clip.name} (explain --decoder {decoder} --save)")
    out = Path(tempfile.mkdtemp(prefix="qwenvl_viz_bench_")) / "ours.npz"
    rs = [run_process(cli_argv("ours", clip, out, decoder), decoder) for _ in range(repeat)]
    each = ", ".join(f"{r['peak_mb']:.0f}" for r in rs)
    print(f"   peak RSS {max(r['peak_mb'] for r in rs):.0f} MB (max of {repeat}: {each}), "
          f"wall {min(r['time'] for r in rs):.2f} s best")
    out.unlink(missing_ok=True)
    out.parent.rmdir()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", choices=["ours", "ref"])
    ap.add_argument("--reference-cli", nargs=2, metavar=("CLIP", "OUT"), help="the reference side of measurement 1")
    ap.add_argument("--clip")
    ap.add_argument("--fps", type=float, default=FPS)
    ap.add_argument("--quick", action="store_true", help="sample clip only")
    ap.add_argument("--repeat", type=int, default=3, help="runs per side, alternating; the best time is compared")
    ap.add_argument("--long-only", action="store_true", help="the 1080p clip only")
    ap.add_argument("--decoders", default=",".join(DECODERS),
                    help="video readers to pair, comma-separated (measurement 2 runs each; 1 and 3 the first)")
    ap.add_argument("--decoder", default=DECODERS[0], help=argparse.SUPPRESS)  # a worker's reader
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.clip, args.fps, args.decoder)))
        return
    if args.reference_cli:
        reference_cli(*args.reference_cli)
        return
    prime = Path(tempfile.mkdtemp(prefix="qwenvl_viz_bench_")) / "prime.npz"
    cold = run_process(cli_argv("ours", CLIP, prime))
    prime.unlink()
    prime.parent.rmdir()
    print(f"our start-up caches filled by one untimed run: {cold['time']:.2f} s (cold; "
          f"a no-op when already filled)")
    decoders = [d for d in args.decoders.split(",") if d]
    if not args.long_only:
        bench_cli(CLIP, args.repeat, decoders[0])
        for decoder in decoders:
            bench_warm("sample clip 720x1280, 249 frames", CLIP, args.repeat, decoder)
    if not args.quick or args.long_only:
        print("\ngenerating / reusing the 60 s 1080p clip ...", flush=True)
        long_clip = make_long_clip()
        run_process(cli_argv("ours", long_clip, Path(os.devnull)))  # its geometry's checked taps
        for decoder in decoders:
            bench_warm("60 s 1920x1080 @ 30 fps, GOP 250", long_clip, args.repeat, decoder)
        bench_cli_rss(long_clip, args.repeat, decoders[0])


if __name__ == "__main__":
    main()
