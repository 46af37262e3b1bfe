"""Qwen2-VL vision tower, top to bottom.

pixel rows -> patch embed (Conv3d as matmul, no bias) -> 32 x [LayerNorm, attention with 2D RoPE
over each frame, LayerNorm, quick_gelu MLP] -> merger (LayerNorm, 4 rows -> 1 token, MLP) -> tokens.

Reference: transformers 5.23 ``Qwen2VisionTransformerPretrainedModel``. Checkpoint names under
``visual.``: ``merger.ln_q``, ``merger.mlp.0``, ``merger.mlp.2`` (our ``merger.norm/fc1/fc2``).

Worked shapes (Qwen2-VL-7B, a 392x224 image, grid [1, 16, 28]):
``pixel_values [448, 1176] -> patch_embed [448, 1280] -> blocks x32 [448, 1280] -> merger [112, 3584]``.
"""

from __future__ import annotations

import torch
from torch import nn

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

__all__ = ["Qwen2VisionTower"]


class Qwen2VisionTower(VisionTower):
    kind = "qwen2_vl"
    checkpoint_renames = {
        "merger.norm.": "merger.ln_q.", "merger.fc1.": "merger.mlp.0.", "merger.fc2.": "merger.mlp.2.",
    }  # fmt: skip

    def __init__(self, config: VisionConfig) -> None:
        super().__init__(config)
        c = config
        self.patch_embed = PatchEmbed(c.in_channels, c.temporal_patch_size, c.patch_size, c.hidden_size, bias=False)
        self.rotary = VisionRotary(c.head_dim, c.rope_theta)
        self.blocks = nn.ModuleList(
            Block(c, "layernorm", MLP(c.hidden_size, c.intermediate_size, c.hidden_act)) for _ in range(c.depth)
        )
        self.merger = Merger(c.hidden_size, c.out_hidden_size, c.spatial_merge_size, "layernorm")

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

        # Per-frame attention segments and each row's (h, w) patch coordinates, both in merge order.
        cu_seqlens = frame_cu_seqlens(grid_thw)
        frames = plan_segments(cu_seqlens, dev)
        cos, sin = self.rotary(patch_coords(grid_thw, c.spatial_merge_size).to(dev))  # (N, hd) each

        x = self.patch_embed(pixel_values.to(dev))  # (N, D)
        patch_embeds = x
        stages.append(("patch_embed", tuple(x.shape)))
        clock.lap("patch_embed")

        hidden = {}
        for i, block in enumerate(self.blocks):
            x = block(x, cos, sin, frames)  # (N, D)
            if i in keep:
                hidden[i] = x
            if progress is not None:
                clock.lap("blocks")
                progress(i + 1, c.depth)
        stages.append((f"blocks x{c.depth}", tuple(x.shape)))
        clock.lap("blocks")

        tokens = self.merger(x)  # (N/4, out)
        stages.append(("merger", tuple(tokens.shape)))
        clock.lap("merger")
        return TowerOutput(
            patch_embeds=patch_embeds, pos_embeds=None, hidden=hidden, cu_seqlens=cu_seqlens,
            window_index=None, cu_window_seqlens=None, embeddings=tokens, deepstack=(),
            stages=tuple(stages), timings=clock.times,
        )  # fmt: skip
