"""Benchmark: our vision towers against transformers 5.23's, on the same (random) weights.

    .venv/bin/python bench/encoder.py                 # CPU: Qwen2.5-VL-7B and Qwen3-VL-8B towers, sample image
    .venv/bin/python bench/encoder.py --grid 1,16,28  # CPU on a given grid (random pixel rows)
    .venv/bin/python bench/encoder.py --cuda          # + CUDA bf16 on the sample clip's grid [8, 72, 40]

Every (implementation, model) runs in its own subprocess so that memory figures do not leak
between runs. Each child builds the seeded random weights of the real architecture (our
``random_tower``), copies them into the other implementation by the checkpoint key map, then
times the forward pass only.

- CPU time: best of ``--repeat`` runs (default 1) after a warm-up on a 64-patch input.
- CPU peak memory: peak RSS delta of the forward pass, i.e. ``VmHWM - VmRSS`` after resetting the
  high-water mark (``echo 5 > /proc/self/clear_refs``) with the weights and inputs already in memory,
  measured in a separate run with ``MALLOC_MMAP_THRESHOLD_=65536`` so that freed tensors leave RSS
  (otherwise glibc's heap keeps them and the figure measures fragmentation, +-50% between runs).
- CUDA: ``torch.cuda.max_memory_allocated`` delta; tokens/s (patches/s); MFU = analytical FLOPs
  (all matmuls: 2*m*n*k; attention 4*L^2*D per segment) / time / the card's dense bf16 peak.

Timings are printed, never asserted. transformers' towers use ``attn_implementation="sdpa"``
(its per-segment loop), the default.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SAMPLE_IMAGE = ROOT / "assets" / "sample_image.jpg"
CUDA_GRID = (8, 72, 40)  # the sample clip through qwen-vl-utils: 16 frames at 1008x560 (Qwen2/2.5) / 1152x640 (Qwen3)
PEAK_BF16_TFLOPS = {"H100 PCIe": 756.0, "H100": 989.0, "H200": 989.0, "H800": 989.0, "A100": 312.0, "L40S": 362.0,
                    "L4": 121.0, "A10": 125.0, "4090": 165.0, "B200": 2250.0, "GH200": 989.0}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# FLOPs (analytical, multiply-add = 2)


def tower_flops(config, grid: tuple[int, int, int]) -> float:
    """Forward FLOPs of one tower on one grid: every matmul plus attention scores and values."""
    import torch

    from qwenvl_viz.encoder import window_partition

    t, gh, gw = grid
    n = t * gh * gw
    d, inter, out = config.hidden_size, config.intermediate_size, config.out_hidden_size
    m2 = config.spatial_merge_size**2
    mlp_mats = 3 if config.window_size is not None else 2  # SwiGLU has gate, up, down
    per_block = 2 * n * d * (3 * d + d + mlp_mats * inter)
    frame_attn = 4 * d * t * (gh * gw) ** 2  # QK^T and AV over each frame
    if config.window_size is not None:
        _, cu = window_partition(torch.tensor([grid]), config.spatial_merge_size, config.window_merged)
        lengths = (cu[1:] - cu[:-1]).double()
        window_attn = 4 * d * float((lengths**2).sum())
        full = len(config.fullatt_block_indexes)
        attn = full * frame_attn + (config.depth - full) * window_attn
    else:
        attn = config.depth * frame_attn
    patch = 2 * n * config.row_len * d
    merger = 2 * (n // m2) * (m2 * d) * (m2 * d + out)
    deepstack = len(config.deepstack_visual_indexes) * merger
    return config.depth * per_block + attn + patch + merger + deepstack


# ---------------------------------------------------------------------------------------------
# One measurement (runs in a child process)


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


def _inputs(family, grid, image):
    import torch

    if image is None:
        g = torch.tensor([grid])
        p = 16 if family.value == "qwen3-vl" else 14
        pv = torch.randn(g.prod().item(), 3 * 2 * p * p, generator=torch.Generator().manual_seed(0))
        return pv, g
    from PIL import Image
    from transformers import Qwen2VLImageProcessor

    qwen3 = family.value == "qwen3-vl"
    kw = dict(patch_size=16, image_mean=[0.5] * 3, image_std=[0.5] * 3) if qwen3 else dict(patch_size=14)
    budget = {"shortest_edge": 65536, "longest_edge": 16777216} if qwen3 else {"shortest_edge": 3136, "longest_edge": 12845056}
    proc = Qwen2VLImageProcessor(merge_size=2, temporal_patch_size=2, size=budget, **kw)
    out = proc(images=[Image.open(image).convert("RGB")], return_tensors="pt")
    return out["pixel_values"], out["image_grid_thw"]


def child(args: argparse.Namespace) -> dict:
    sys.path.insert(0, str(ROOT / "tests"))
    import conftest  # noqa: F401  (torchvision shim before transformers)
    import torch

    from qwenvl_viz.encoder import get_preset, random_tower

    torch.set_grad_enabled(False)
    config = get_preset(args.model)
    dev = torch.device(args.device)
    dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
    ours = random_tower(config, seed=0, device="cpu")
    pv, grid = _inputs(config.family, args.grid, args.image)
    if args.impl == "ours":
        model = ours.to(device=dev, dtype=dtype)

        def forward():  # the tower itself (run_tower adds copies of the kept hidden states to CPU)
            with torch.inference_mode():
                return model(pv.to(dev), grid).embeddings.float().cpu()
    else:
        import transformers
        from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VisionTransformerPretrainedModel
        from transformers.models.qwen2_vl.modeling_qwen2_vl import Qwen2VisionTransformerPretrainedModel
        from transformers.models.qwen3_vl.modeling_qwen3_vl import Qwen3VLVisionModel

        c = config
        if c.family.value == "qwen2-vl":
            cls, cfg = Qwen2VisionTransformerPretrainedModel, transformers.Qwen2VLVisionConfig(
                depth=c.depth, embed_dim=c.hidden_size, num_heads=c.num_heads, hidden_size=c.out_hidden_size,
                mlp_ratio=c.intermediate_size // c.hidden_size)
        elif c.family.value == "qwen2.5-vl":
            cls, cfg = Qwen2_5_VisionTransformerPretrainedModel, transformers.Qwen2_5_VLVisionConfig(
                depth=c.depth, hidden_size=c.hidden_size, num_heads=c.num_heads, intermediate_size=c.intermediate_size,
                out_hidden_size=c.out_hidden_size, fullatt_block_indexes=list(c.fullatt_block_indexes))
        else:
            cls, cfg = Qwen3VLVisionModel, transformers.Qwen3VLVisionConfig(
                depth=c.depth, hidden_size=c.hidden_size, num_heads=c.num_heads, intermediate_size=c.intermediate_size,
                out_hidden_size=c.out_hidden_size, deepstack_visual_indexes=list(c.deepstack_visual_indexes))  # fmt: skip
        with torch.device("meta"):
            model = cls._from_config(cfg, attn_implementation="sdpa")
        state = {ours.checkpoint_key(k): v for k, v in ours.state_dict().items()}
        model.load_state_dict(state, strict=True, assign=True)
        # Non-persistent rotary buffers were built on meta: rebuild that one module for real.
        model.rotary_pos_emb = type(model.rotary_pos_emb)(cfg)
        model = model.to(device=dev, dtype=dtype).eval()
        assert not any(t.is_meta for t in [*model.parameters(), *model.buffers()])

        def forward():
            with torch.inference_mode():
                return model(pv.to(dev), grid_thw=grid.to(dev)).pooler_output.float().cpu()
    del ours
    import gc

    gc.collect()

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    if dev.type == "cuda":
        forward()  # warm-up on the real input (kernel selection, allocator)
    else:  # a CPU forward on the sample image takes minutes: warm up on a 64-patch input instead
        full = (pv, grid)
        pv, grid = pv[:64], torch.tensor([[1, 8, 8]])
        forward()
        pv, grid = full
    sync()
    times = []
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        Path("/proc/self/clear_refs").write_text("5")  # reset the RSS high-water mark
        base = _status_kib("VmRSS") * 1024
    for _ in range(args.repeat):
        sync()
        start = time.perf_counter()
        emb = forward()
        sync()
        times.append(time.perf_counter() - start)
    peak = (torch.cuda.max_memory_allocated() if dev.type == "cuda" else _status_kib("VmHWM") * 1024) - base
    np_path = Path(args.out)
    torch.save(emb.float().cpu(), np_path)
    return {"time_s": min(times), "times_s": times, "peak_bytes": peak, "grid": grid.tolist()[0],
            "device_name": torch.cuda.get_device_name() if dev.type == "cuda" else "cpu",
            "threads": torch.get_num_threads()}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# The driver


def _run_child(impl: str, model: str, device: str, grid, image, repeat: int, out: Path, env: dict) -> dict:
    cmd = [sys.executable, __file__, "--child", impl, "--model", model, "--device", device,
           "--repeat", str(repeat), "--out", str(out)]  # fmt: skip
    cmd += ["--grid", ",".join(map(str, grid))] if image is None else ["--image", str(image)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1", **env})
    if proc.returncode != 0:
        raise SystemExit(f"{impl} {model} {device} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(impl: str, model: str, device: str, grid, image, repeat: int, tmp: Path) -> dict:
    out = tmp / f"{impl}-{model}-{device}.pt"
    result = _run_child(impl, model, device, grid, image, repeat, out, {})
    if device == "cpu":
        # glibc serves frees of up to 32 MiB from its heap and keeps the pages, so the RSS peak also
        # measures fragmentation. A fixed 64 KiB mmap threshold returns every tensor's pages on free,
        # making the peak RSS delta the peak of live memory; it slows allocation, so it gets its own run.
        mem = _run_child(impl, model, device, grid, image, 1, tmp / "mem.pt", {"MALLOC_MMAP_THRESHOLD_": "65536"})
        result["peak_bytes"] = mem["peak_bytes"]
    result["embeddings_path"] = str(out)
    return result


def compare(model: str, device: str, grid, image, repeat: int, tmp: Path) -> None:
    import torch

    from qwenvl_viz.encoder import get_preset

    ours = measure("ours", model, device, grid, image, repeat, tmp)
    theirs = measure("transformers", model, device, grid, image, repeat, tmp)
    a, b = torch.load(ours["embeddings_path"]), torch.load(theirs["embeddings_path"])
    diff = (a - b).abs().max().item()
    g = tuple(ours["grid"])
    n = g[0] * g[1] * g[2]
    print(f"\n{model} on {device} ({ours['device_name']}, {ours['threads']} threads), grid {list(g)} = {n} patches, "
          f"best of {repeat}")  # fmt: skip
    print(f"  {'':14}{'time s':>10}{'peak MiB':>12}{'patches/s':>12}")
    for name, r in (("ours", ours), ("transformers", theirs)):
        print(f"  {name:14}{r['time_s']:>10.3f}{r['peak_bytes'] / 2**20:>12.1f}{n / r['time_s']:>12.0f}")
    print(f"  ratio ours/transformers: time {ours['time_s'] / theirs['time_s']:.3f}, "
          f"peak memory {ours['peak_bytes'] / max(theirs['peak_bytes'], 1):.3f}; max |embedding diff| {diff:.2e}")  # fmt: skip
    if device == "cuda":
        flops = tower_flops(get_preset(model), g)
        name = ours["device_name"]
        peak = next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)
        for label, r in (("ours", ours), ("transformers", theirs)):
            achieved = flops / r["time_s"] / 1e12
            mfu = f"{achieved / peak:.1%} of {peak:.0f} TFLOPS" if peak else "peak unknown for this card"
            print(f"  {label:14}{flops / 1e12:.2f} TFLOP -> {achieved:.1f} TFLOPS, MFU {mfu}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="qwen2.5-vl-7b,qwen3-vl-8b")
    ap.add_argument("--grid", help="T,H,W patch grid with random pixel rows (default: the sample image)")
    ap.add_argument("--repeat", type=int, default=1, help="timed runs per measurement on CPU (CUDA: at least 5)")
    ap.add_argument("--cuda", action="store_true", help="also run the CUDA bf16 benchmark (grid 8,72,40)")
    ap.add_argument("--cuda-only", action="store_true")
    ap.add_argument("--child", choices=["ours", "transformers"], help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    ap.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    ap.add_argument("--image", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        args.impl = args.child
        args.grid = tuple(int(v) for v in args.grid.split(",")) if args.grid else None
        print(json.dumps(child(args)))
        return

    import tempfile

    grid = tuple(int(v) for v in args.grid.split(",")) if args.grid else None
    image = None if grid else (SAMPLE_IMAGE if SAMPLE_IMAGE.is_file() else None)
    grid = grid or (None if image else (1, 16, 28))
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models.split(","):
            if not args.cuda_only:
                compare(model, "cpu", grid, image, args.repeat, Path(tmp))
            if args.cuda or args.cuda_only:
                import torch

                if not torch.cuda.is_available():
                    print("\nCUDA not available: CUDA benchmark skipped")
                    continue
                compare(model, "cuda", CUDA_GRID, None, max(args.repeat, 5), Path(tmp))


if __name__ == "__main__":
    main()
