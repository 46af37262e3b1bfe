"""Qwen2.5-VL vision tower, top to bottom.

pixel rows -> patch embed (no bias) -> reorder rows into 112 px windows -> 32 x [RMSNorm, attention
with 2D RoPE inside each window (blocks 7, 15, 23, 31: inside each frame), RMSNorm, SwiGLU MLP]
-> merger (RMSNorm, 4 rows -> 1 token, MLP) -> undo the window order -> tokens.

Reference: transformers 5.23 ``Qwen2_5_VisionTransformerPretrainedModel`` and
``vision_utils.get_vision_window_index``. Checkpoint names under ``visual.``: ``merger.ln_q``,
``merger.mlp.0``, ``merger.mlp.2`` (our ``merger.norm/fc1/fc2``).

Windows: a window is ``window_size / merge / patch = 112 / 2 / 14 = 4`` merged tokens a side (8x8
patches). Windows tile the merged grid the way merge blocks tile the patch grid, so the window order
is :func:`~qwenvl_viz.merge_order.merge_order` one level up, on the merged grid padded to whole
windows; padded cells are dropped, so edge windows are smaller. Worked example, grid [1, 16, 28]:
merged 8x14 -> 2x4 windows -> ``cu_window_seqlens = [0, 64, 128, 192, 224, 288, 352, 416, 448]``,
``window_index[:8] = [0, 1, 2, 3, 14, 15, 16, 17]``. That order is what the trace records; the blocks
run each frame's windows sorted by size (:func:`size_sorted_windows`, same numbers, fewer SDPA calls).

Worked shapes (Qwen2.5-VL-7B, grid [1, 16, 28]): ``pixel_values [448, 1176] -> patch_embed [448, 1280]
-> window order [448, 1280] -> blocks x32 [448, 1280] -> merger [112, 3584]``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..merge_order import merge_order
from .config import VisionConfig
from .layers import (
    Block,
    Merger,
    PatchEmbed,
    Progress,
    StageClock,
    SwiGLU,
    TowerOutput,
    VisionRotary,
    VisionTower,
    frame_cu_seqlens,
    patch_coords,
    plan_segments,
)

__all__ = ["Qwen2_5VisionTower", "window_partition", "size_sorted_windows"]


def window_partition(grid_thw: torch.Tensor, merge_size: int, window: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(window_index, cu_window_seqlens)`` as transformers 5.23 ``get_vision_window_index``.

    ``window_index[s]`` = the merged token (token order, offset over images) in window slot s;
    ``cu_window_seqlens`` = window boundaries in ROWS (patches) of the window-ordered sequence (int32).
    """
    index, lengths, offset = [], [], 0
    for t, gh, gw in grid_thw.tolist():
        hm, wm = gh // merge_size, gw // merge_size  # merged grid
        hp, wp = -(-hm // window) * window, -(-wm // window) * window  # padded to whole windows
        slots = merge_order(hp, wp, window)  # padded raster ids, window by window
        r, c = slots // wp, slots % wp
        real = (r < hm) & (c < wm)
        frame_index = (r * wm + c)[real]  # (hm*wm,) merged ids of one frame, window order
        window_of_slot = torch.arange(hp * wp) // (window * window)
        per_window = torch.bincount(window_of_slot[real], minlength=(hp // window) * (wp // window))
        per_window = per_window[per_window > 0]  # windows fully in the padding are dropped
        for k in range(t):
            index.append(frame_index + offset + k * hm * wm)
            lengths.append(per_window * merge_size**2)
        offset += t * hm * wm
    cu = F.pad(torch.cat(lengths).cumsum(0, dtype=torch.int32), (1, 0))
    return torch.cat(index), cu


def size_sorted_windows(
    window_index: torch.Tensor, cu_window_seqlens: torch.Tensor, cu_seqlens: torch.Tensor, unit: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The same windows with each frame's windows ordered by size (largest first, stable).

    Windows never see each other, so running them in another order computes the same numbers; with
    equal windows side by side each window size of a frame is one contiguous block of rows, attended
    by one SDPA call on a view (no gather). Frames stay contiguous for the full-attention blocks.
    """
    lengths = (cu_window_seqlens[1:] - cu_window_seqlens[:-1]).long()  # rows per window
    frame = torch.searchsorted(cu_seqlens[1:].long(), cu_window_seqlens[:-1].long(), right=True)
    longest = int(lengths.max())
    order = torch.sort(frame * (longest + 1) + (longest - lengths), stable=True).indices
    tokens = torch.split(window_index, (lengths // unit).tolist())  # merged tokens of each window
    index = torch.cat([tokens[i] for i in order.tolist()])
    return index, F.pad(lengths[order].cumsum(0).to(torch.int32), (1, 0))


class Qwen2_5VisionTower(VisionTower):
    kind = "qwen2_5_vl"
    checkpoint_renames = {
        "merger.norm.": "merger.ln_q.", "merger.fc1.": "merger.mlp.0.", "merger.fc2.": "merger.mlp.2.",
    }  # fmt: skip

    def __init__(self, config: VisionConfig) -> None:
        super().__init__(config)
        c = config
        self.patch_embed = PatchEmbed(c.in_channels, c.temporal_patch_size, c.patch_size, c.hidden_size, bias=False)
        self.rotary = VisionRotary(c.head_dim, c.rope_theta)
        self.blocks = nn.ModuleList(
            Block(c, "rmsnorm", SwiGLU(c.hidden_size, c.intermediate_size, c.hidden_act)) for _ in range(c.depth)
        )
        self.merger = Merger(c.hidden_size, c.out_hidden_size, c.spatial_merge_size, "rmsnorm")

    def forward(
        self,
        pixel_values: torch.Tensor,
        grid_thw: torch.Tensor,
        *,
        layers: tuple[int, ...] = (-1,),
        progress: Progress | None = None,
    ) -> TowerOutput:
        """pixel_values (N, C*Tp*p*p) rows in merge order; grid_thw (images, 3)."""
        keep = self._check_inputs(pixel_values, grid_thw, layers)
        c, dev = self.config, self.device
        unit = c.spatial_merge_size**2  # rows per merged token
        clock = StageClock(dev)
        stages = [("pixel_values", tuple(pixel_values.shape))]

        # Window order moves whole merged tokens (groups of `unit` consecutive rows) around; it is
        # recorded as transformers orders it, and run with each frame's windows sorted by size.
        window_index, cu_window_seqlens = window_partition(grid_thw, c.spatial_merge_size, c.window_merged)
        cu_seqlens = frame_cu_seqlens(grid_thw)  # frames stay contiguous in window order
        run_index, run_cu = size_sorted_windows(window_index, cu_window_seqlens, cu_seqlens, unit)
        rows = (run_index[:, None] * unit + torch.arange(unit)).reshape(-1)  # (N,) row held by each slot
        unwindow = torch.argsort(rows).to(dev)  # (N,) slot holding each row
        rows = rows.to(dev)
        frames = plan_segments(cu_seqlens, dev)
        windows = plan_segments(run_cu, dev)
        cos, sin = self.rotary(patch_coords(grid_thw, c.spatial_merge_size).to(dev)[rows])  # (N, hd), window order

        x = self.patch_embed(pixel_values.to(dev))  # (N, D), pixel_values order
        patch_embeds = x
        stages.append(("patch_embed", tuple(x.shape)))
        x = x[rows]  # (N, D), window order
        stages.append((f"window order ({len(cu_window_seqlens) - 1} windows)", tuple(x.shape)))
        clock.lap("patch_embed")

        hidden = {}
        for i, block in enumerate(self.blocks):
            x = block(x, cos, sin, frames if i in c.fullatt_block_indexes else windows)  # (N, D)
            if i in keep:
                hidden[i] = x[unwindow]  # back to pixel_values order
            if progress is not None:
                clock.lap("blocks")
                progress(i + 1, c.depth)
        stages.append((f"blocks x{c.depth} (full attention in {list(c.fullatt_block_indexes)})", tuple(x.shape)))
        clock.lap("blocks")

        tokens = self.merger(x)  # (N/4, out), window order
        tokens = tokens[torch.argsort(run_index).to(dev)]  # (N/4, out), token order
        stages.append(("merger + undo window order", tuple(tokens.shape)))
        clock.lap("merger")
        return TowerOutput(
            patch_embeds=patch_embeds, pos_embeds=None, hidden=hidden, cu_seqlens=cu_seqlens,
            window_index=window_index, cu_window_seqlens=cu_window_seqlens, embeddings=tokens,
            deepstack=(), stages=tuple(stages), timings=clock.times,
        )  # fmt: skip
