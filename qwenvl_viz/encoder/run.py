"""Run a tower on pixel rows and keep what it did: :func:`encode` -> :class:`EncoderTrace`.

``encode(trace, tower)`` takes anything with ``.profile``, ``.pixel_values`` and ``.grid_thw`` (the
preprocessing Trace); :func:`run_tower` is the same run on bare tensors. Tensors in the result are on
CPU in float32 whatever device and dtype the tower ran in, so they can be cached, drawn and saved.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import torch

from ..profiles import Family
from .config import VisionConfig, pixel_mismatch
from .layers import Progress, VisionTower

__all__ = ["EncoderTrace", "run_tower", "encode", "describe", "RANDOM_NOTE"]

RANDOM_NOTE = "no checkpoint given; embeddings are not meaningful"


@dataclass(frozen=True)
class EncoderTrace:
    """One encoder run. Rows of ``patch_embeds`` / ``hidden[k]`` are in ``pixel_values`` order (merge
    order, never Qwen2.5's window order); ``embeddings`` / ``deepstack`` rows are merged tokens in
    token order (token k = rows 4k..4k+3)."""

    family: Family
    config: VisionConfig
    weights_source: str  # "random (seed N)" or the checkpoint folder
    random_weights: bool
    device: str
    dtype: str  # what the tower computed in ("float32", "bfloat16")
    grid_thw: tuple[tuple[int, int, int], ...]
    patch_embeds: torch.Tensor  # (N, D)
    pos_embeds: torch.Tensor | None  # (N, D) Qwen3-VL's resampled position table
    hidden: dict[int, torch.Tensor]  # block index -> (N, D)
    cu_seqlens: torch.Tensor  # (frames+1,) per-frame attention segments
    window_index: torch.Tensor | None  # (N/4,) Qwen2.5-VL
    cu_window_seqlens: torch.Tensor | None  # (windows+1,) Qwen2.5-VL, in rows
    embeddings: torch.Tensor  # (N/4, out)
    deepstack: tuple[torch.Tensor, ...]  # Qwen3-VL, one (N/4, out) per deepstack block
    deepstack_layers: tuple[int, ...]
    stages: tuple[tuple[str, tuple[int, ...]], ...]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def patch_size(self) -> int:
        return self.config.patch_size

    @property
    def merge_size(self) -> int:
        return self.config.spatial_merge_size

    @property
    def temporal_patch_size(self) -> int:
        return self.config.temporal_patch_size

    @property
    def last_hidden(self) -> torch.Tensor:
        """Output of the last block, (N, D), pixel_values order."""
        return self.hidden[self.config.depth - 1]

    @property
    def weights_label(self) -> str:
        """How to show the weights everywhere: ``RANDOM (seed 0) — ...`` or the checkpoint."""
        if self.random_weights:
            return f"RANDOM ({self.weights_source.removeprefix('random ').strip('()')}) — {RANDOM_NOTE}"
        return self.weights_source


def _cpu(x: torch.Tensor | None) -> torch.Tensor | None:
    if x is None:
        return None
    return x.detach().to("cpu", torch.float32) if x.is_floating_point() else x.detach().cpu()


def run_tower(
    tower: VisionTower,
    pixel_values: torch.Tensor,
    grid_thw: torch.Tensor,
    *,
    layers: tuple[int, ...] | list[int] = (-1,),
    progress: Progress | None = None,
) -> EncoderTrace:
    """Run ``tower`` on ``pixel_values [N, C*Tp*p*p]`` with ``grid_thw [images, 3]``.

    ``layers``: blocks whose output to keep (0-based, negatives count from the end); the last block is
    always kept. ``progress(done, depth)`` is called after every block.
    """
    c = tower.config
    grid_thw = torch.as_tensor(grid_thw, dtype=torch.int64).reshape(-1, 3).cpu()
    layers = tuple(layers) + (-1,)
    start = time.perf_counter()
    with torch.no_grad():  # not inference_mode: callers may edit the returned tensors in place
        out = tower(pixel_values, grid_thw, layers=layers, progress=progress)
        result = EncoderTrace(
            family=c.family,
            config=c,
            weights_source=tower.weights_source,
            random_weights=tower.random_weights,
            device=str(tower.device),
            dtype=str(tower.dtype).removeprefix("torch."),
            grid_thw=tuple(tuple(g) for g in grid_thw.tolist()),
            patch_embeds=_cpu(out.patch_embeds),
            pos_embeds=_cpu(out.pos_embeds),
            hidden={k: _cpu(v) for k, v in out.hidden.items()},
            cu_seqlens=_cpu(out.cu_seqlens),
            window_index=_cpu(out.window_index),
            cu_window_seqlens=_cpu(out.cu_window_seqlens),
            embeddings=_cpu(out.embeddings),
            deepstack=tuple(_cpu(d) for d in out.deepstack),
            deepstack_layers=tuple(c.deepstack_visual_indexes),
            stages=out.stages,
            timings={**out.timings, "total": time.perf_counter() - start},
        )
    return result


def encode(
    trace: Any,
    tower: VisionTower,
    *,
    layers: tuple[int, ...] | list[int] = (-1,),
    progress: Progress | None = None,
) -> EncoderTrace:
    """Encode a preprocessing trace (anything with ``.profile``, ``.pixel_values``, ``.grid_thw``) with any
    tower that reads its pixel rows (:func:`~qwenvl_viz.encoder.config.pixel_mismatch`)."""
    err = pixel_mismatch(tower.config, trace.profile)
    if err is not None:
        raise err
    return run_tower(tower, trace.pixel_values, trace.grid_thw, layers=layers, progress=progress)


def _shape(s: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(d) for d in s) + "]"


def describe(enc: EncoderTrace) -> list[str]:
    """A readable stage-by-stage walkthrough with this run's shapes (for the CLI and the app)."""
    c = enc.config
    n = enc.patch_embeds.shape[0]
    m2 = c.spatial_merge_size**2
    lines = [
        f"{c.family.value} vision tower '{c.name}': depth {c.depth}, width D={c.hidden_size}, "
        f"{c.num_heads} heads x {c.head_dim}, MLP {c.intermediate_size}, out {c.out_hidden_size}",
        f"weights: {enc.weights_label}",
        f"device: {enc.device} ({enc.dtype})",
        f"grid_thw: {[list(g) for g in enc.grid_thw]}",
    ]
    notes = {
        "pixel_values": f"{n} patches x ({c.in_channels} ch x {c.temporal_patch_size} frames x "
        f"{c.patch_size}x{c.patch_size} px), rows in {c.spatial_merge_size}x{c.spatial_merge_size} merge order",
        "patch_embed": f"Conv3d k=s=({c.temporal_patch_size},{c.patch_size},{c.patch_size}) = one matmul per row",
        "merger": f"{m2} consecutive rows -> 1 token: {n} / {m2} = {n // m2} tokens",
    }
    width = max(len(name) for name, _ in enc.stages)
    for name, shape in enc.stages:
        note = next((v for k, v in notes.items() if name.startswith(k)), "")
        lines.append(f"  {name:<{width}}  {_shape(shape):<14} {note}".rstrip())
    frame_lengths = (enc.cu_seqlens[1:] - enc.cu_seqlens[:-1]).tolist()
    sizes = " / ".join(str(v) for v in sorted(set(frame_lengths), reverse=True))
    lines.append(f"attention: each of {len(frame_lengths)} frame(s) attends within itself ({sizes} patches)")
    if enc.cu_window_seqlens is not None:
        lengths = (enc.cu_window_seqlens[1:] - enc.cu_window_seqlens[:-1]).tolist()
        lines.append(
            f"windows: {len(lengths)} of {c.window_merged}x{c.window_merged} tokens ({c.window_size} px); "
            f"sizes {sorted(set(lengths), reverse=True)} patches; full attention in blocks "
            f"{list(c.fullatt_block_indexes)}"
        )
    if enc.deepstack:
        lines.append(f"deepstack: {len(enc.deepstack)} x {_shape(tuple(enc.deepstack[0].shape))} after blocks "
                     f"{list(enc.deepstack_layers)}, added to LLM layers 0..{len(enc.deepstack) - 1}")  # fmt: skip
    t = enc.timings
    lines.append("time: " + ", ".join(f"{k} {v:.3f} s" for k, v in t.items()))
    return lines
