"""Stage 4: normalize, pad time to whole temporal patches, cut patches in 2x2 merge order.

The plan (grid, padding, which frames form each temporal group) is arithmetic on sizes; the pixel
tensor is built frame pair by frame pair from resized uint8 frames, so memory stays at the output
plus one group. Reference: transformers 5.23 ``Qwen2VLImageProcessor`` / ``Qwen2VLVideoProcessor``
(``rescale_and_normalize`` fused as ``(x - 255*mean) / (255*std)`` in float32; temporal padding
repeats the last frame; images are duplicated ``temporal_patch_size`` times).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch

from .merge_order import row_coords, to_merge_blocks
from .profiles import ModelProfile
from .resize import frame_tensor

__all__ = ["Patchify", "plan_patchify", "build_pixel_values", "normalize"]

RESCALE_FACTOR = 1 / 255  # Hub configs: rescale_factor 0.00392156862745098


@dataclass(frozen=True)
class Patchify:
    kind: str
    grid_thw: tuple[int, int, int]
    patch_size: int
    merge_size: int
    temporal_patch_size: int
    nframes: int  # frames in (1 for an image)
    pad_frames: int  # copies of the last frame appended (an image: Tp - 1 duplicates)
    groups: tuple[tuple[int, ...], ...]  # per temporal group: positions in the sampled frame list
    image_mean: tuple[float, float, float]
    image_std: tuple[float, float, float]

    @property
    def rows(self) -> int:
        t, h, w = self.grid_thw
        return t * h * w

    @property
    def row_len(self) -> int:
        return 3 * self.temporal_patch_size * self.patch_size * self.patch_size

    @property
    def shape(self) -> tuple[int, int]:
        return (self.rows, self.row_len)

    @property
    def num_tokens(self) -> int:
        return self.rows // (self.merge_size**2)

    @property
    def rows_per_group(self) -> int:
        return self.grid_thw[1] * self.grid_thw[2]

    def row_coords(self) -> torch.Tensor:
        """``[rows, 3]``: patch-grid ``(t, h, w)`` of every ``pixel_values`` row."""
        return row_coords(self.grid_thw, self.merge_size)

    def padding_note(self) -> str:
        tp = self.temporal_patch_size
        if self.kind == "image":
            return f"one image = one frame, duplicated x{tp} to fill a temporal patch of {tp}"
        if self.pad_frames:
            return (
                f"{self.nframes} frames is not a multiple of temporal_patch_size {tp}: the last frame is repeated "
                f"{self.pad_frames}x"
            )
        return f"{self.nframes} frames = {self.grid_thw[0]} temporal groups of {tp}, no padding"


def plan_patchify(profile: ModelProfile, kind: str, nframes: int, height: int, width: int) -> Patchify:
    """Grid and temporal grouping, from sizes only."""
    p, m, tp = profile.patch_size, profile.merge_size, profile.temporal_patch_size
    if kind == "image":
        groups = (tuple([0] * tp),)
        pad = tp - 1
    else:
        pad = -nframes % tp
        padded = list(range(nframes)) + [nframes - 1] * pad
        groups = tuple(tuple(padded[i : i + tp]) for i in range(0, len(padded), tp))
    return Patchify(
        kind=kind,
        grid_thw=(len(groups), height // p, width // p),
        patch_size=p,
        merge_size=m,
        temporal_patch_size=tp,
        nframes=1 if kind == "image" else nframes,
        pad_frames=pad,
        groups=groups,
        image_mean=profile.image_mean,
        image_std=profile.image_std,
    )


def _norm_constants(mean, std) -> tuple[torch.Tensor, torch.Tensor]:
    # The processor's fused rescale + normalize: mean * (1 / rescale_factor), in float32.
    return torch.tensor(mean) * (1.0 / RESCALE_FACTOR), torch.tensor(std) * (1.0 / RESCALE_FACTOR)


def normalize(frames: torch.Tensor, mean, std) -> torch.Tensor:
    """``[..., 3, H, W]`` uint8-valued -> float32 ``(x - 255*mean) / (255*std)``, the processor's fused form."""
    mean_t, std_t = _norm_constants(mean, std)
    x = frames.to(torch.float32)
    return x.sub_(mean_t.view(-1, 1, 1)).div_(std_t.view(-1, 1, 1))


def build_pixel_values(plan: Patchify, resized_frames: Iterable[np.ndarray]) -> torch.Tensor:
    """``pixel_values`` float32 ``[rows, 3*Tp*p*p]`` from resized uint8 ``[H, W, 3]`` frames, in order.

    Frames are consumed one temporal group at a time (a generator keeps memory flat). Patches are cut
    from the uint8 frames and normalized in place in the output: the same float32 operations per
    value as ``normalize`` then cut, with a quarter of the memory traffic.
    """
    out = torch.empty(plan.shape, dtype=torch.float32)
    n = plan.rows_per_group
    mean_t, std_t = _norm_constants(plan.image_mean, plan.image_std)
    mean_t, std_t = mean_t.view(1, 3, 1), std_t.view(1, 3, 1)
    it = iter(resized_frames)
    pending: list[torch.Tensor] = []
    seen = 0
    for g, members in enumerate(plan.groups):
        need = max(members) + 1
        while seen < need:
            pending.append(frame_tensor(next(it)).permute(2, 0, 1))  # (3, H, W) uint8
            seen += 1
        base = min(members)
        stack = torch.stack([pending[i - base] for i in members])  # (Tp, 3, H, W); padding repeats the last
        rows = out[g * n : (g + 1) * n]
        rows.copy_(to_merge_blocks(stack, plan.patch_size, plan.merge_size))  # uint8 -> float32
        rows.view(n, 3, -1).sub_(mean_t).div_(std_t)  # a row is laid out (C, Tp, p, p)
        pending = pending[max(members) + 1 - base :]
    return out
