"""Qwen3-VL vision tower, top to bottom; also Qwen3-VL-MoE's, and Qwen3.5's / Qwen4-Exp's without deepstack.

pixel rows -> patch embed (with bias) + learned 48x48 position table resampled to the grid ->
27 x [LayerNorm, attention with 2D RoPE over each frame, LayerNorm, tanh-GELU MLP], with a deepstack
merger tapping blocks 8, 16, 24 -> merger (LayerNorm, 4 rows -> 1 token, MLP) -> tokens.

Qwen3.5 (``Qwen3_5VisionModel(Qwen3VLVisionModel)`` deletes ``deepstack_merger_list``; Qwen3.5-MoE and
Qwen4-Exp subclass it unchanged) is this tower with ``deepstack_visual_indexes = ()``: no deepstack
mergers, nothing else differs.

Reference: transformers 5.23 ``Qwen3VLVisionModel`` and
``vision_utils.get_vision_interpolation_indices_and_weights`` (bilinear, align_corners=True).
Checkpoint names under ``model.visual.``: ``mlp.linear_fc1/2``, ``merger.linear_fc1/2``,
``deepstack_merger_list.{j}`` (our ``fc1/fc2`` and ``deepstack_mergers.{j}``).

Worked shapes (Qwen3-VL-8B, a 384x224 image, grid [1, 14, 24]): ``pixel_values [336, 1536] ->
patch_embed [336, 1152] -> + pos_embed [336, 1152] -> blocks x27 [336, 1152] -> merger [84, 4096]``,
plus deepstack [84, 4096] after blocks 8, 16 and 24.
"""

from __future__ import annotations

import torch
from torch import nn

from ..merge_order import row_coords
from .config import VisionConfig
from .layers import (
    MLP,
    Block,
    Merger,
    PatchEmbed,
    Progress,
    StageClock,
    TowerOutput,
    VisionRotary,
    VisionTower,
    frame_cu_seqlens,
    patch_coords,
    plan_segments,
)

__all__ = ["Qwen3VisionTower", "position_taps"]


def position_taps(grid_thw: torch.Tensor, merge_size: int, side: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Bilinear resampling of the ``side x side`` table onto each grid (align_corners=True).

    Patch row h of a grid gh high reads table row ``r = h * (side-1) / (gh-1)`` (0 when gh = 1),
    likewise for columns; ``r0 = floor(r)``, ``r1 = min(r0+1, side-1)``, ``dr = r - r0``. Returns the four
    table ids per row ``[r0c0, r0c1, r1c0, r1c1]`` and their weights ``(1-dr)(1-dc), (1-dr)dc, dr(1-dc), dr*dc``,
    both ``[N, 4]``, rows in merge order (from :func:`row_coords`).
    """
    ids, weights = [], []
    for t, gh, gw in grid_thw.tolist():
        hw = row_coords((t, gh, gw), merge_size)[:, 1:].float()  # (t*gh*gw, 2)
        src_r = hw[:, 0] * (side - 1) / max(gh - 1, 1)
        src_c = hw[:, 1] * (side - 1) / max(gw - 1, 1)
        r0, c0 = src_r.floor(), src_c.floor()
        dr, dc = src_r - r0, src_c - c0
        r = torch.stack([r0, r0 + 1], 1).long().clamp(max=side - 1)  # (n, 2)
        c = torch.stack([c0, c0 + 1], 1).long().clamp(max=side - 1)  # (n, 2)
        wr, wc = torch.stack([1 - dr, dr], 1), torch.stack([1 - dc, dc], 1)  # (n, 2)
        ids.append((r[:, :, None] * side + c[:, None, :]).reshape(-1, 4))  # (n, 4)
        weights.append((wr[:, :, None] * wc[:, None, :]).reshape(-1, 4))  # (n, 4)
    return torch.cat(ids), torch.cat(weights)


class Qwen3VisionTower(VisionTower):
    kind = "qwen3_vl"
    checkpoint_renames = {
        ".fc1.": ".linear_fc1.", ".fc2.": ".linear_fc2.", "deepstack_mergers.": "deepstack_merger_list.",
    }  # fmt: skip

    def __init__(self, config: VisionConfig) -> None:
        super().__init__(config)
        c = config
        self.side = int(c.num_position_embeddings**0.5)  # 48
        self.patch_embed = PatchEmbed(c.in_channels, c.temporal_patch_size, c.patch_size, c.hidden_size, bias=True)
        self.pos_embed = nn.Embedding(c.num_position_embeddings, c.hidden_size)
        self.rotary = VisionRotary(c.head_dim, c.rope_theta)
        self.blocks = nn.ModuleList(
            Block(c, "layernorm", MLP(c.hidden_size, c.intermediate_size, c.hidden_act)) for _ in range(c.depth)
        )
        self.merger = Merger(c.hidden_size, c.out_hidden_size, c.spatial_merge_size, "layernorm")
        self.deepstack_mergers = nn.ModuleList(
            Merger(c.hidden_size, c.out_hidden_size, c.spatial_merge_size, "layernorm", postshuffle=True)
            for _ in c.deepstack_visual_indexes
        )

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
        clock = StageClock(dev)
        stages = [("pixel_values", tuple(pixel_values.shape))]

        cu_seqlens = frame_cu_seqlens(grid_thw)
        frames = plan_segments(cu_seqlens, dev)
        cos, sin = self.rotary(patch_coords(grid_thw, c.spatial_merge_size).to(dev))  # (N, hd) each
        tap_ids, tap_w = position_taps(grid_thw, c.spatial_merge_size, self.side)  # (N, 4) each

        x = self.patch_embed(pixel_values.to(dev))  # (N, D)
        patch_embeds = x
        stages.append(("patch_embed", tuple(x.shape)))
        # Weights stay float32 (table rows times float32 weights), cast once after the sum, as 5.23 does.
        pos = (self.pos_embed(tap_ids.to(dev)) * tap_w.to(dev)[:, :, None]).sum(1).to(x.dtype)  # (N, D)
        x = x + pos
        stages.append((f"+ pos_embed ({self.side}x{self.side} table, bilinear)", tuple(x.shape)))
        clock.lap("patch_embed")

        hidden, deepstack = {}, []
        for i, block in enumerate(self.blocks):
            x = block(x, cos, sin, frames)  # (N, D)
            if i in keep:
                hidden[i] = x
            if i in c.deepstack_visual_indexes:
                j = c.deepstack_visual_indexes.index(i)
                deepstack.append(self.deepstack_mergers[j](x))  # (N/4, out)
                stages.append((f"deepstack[{j}] after block {i}", tuple(deepstack[-1].shape)))
            if progress is not None:
                clock.lap("blocks")
                progress(i + 1, c.depth)
        stages.append((f"blocks x{c.depth}", tuple(x.shape)))
        clock.lap("blocks")

        tokens = self.merger(x)  # (N/4, out)
        stages.append(("merger", tuple(tokens.shape)))
        clock.lap("merger")
        return TowerOutput(
            patch_embeds=patch_embeds, pos_embeds=pos, hidden=hidden, cu_seqlens=cu_seqlens,
            window_index=None, cu_window_seqlens=None, embeddings=tokens, deepstack=tuple(deepstack),
            stages=tuple(stages), timings=clock.times,
        )  # fmt: skip
