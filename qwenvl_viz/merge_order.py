"""The 2x2 merge order of ``pixel_values`` rows, defined once.

Every consumer (patchify's pixel rows, MRoPE, the encoder's rotary / window / position-table code,
the figures) gets the order from :func:`to_merge_blocks`, so they cannot drift apart.

Rows are grouped by merge block: for a 4x4 patch grid and m = 2 the raster indices of rows 0..15 are
``0 1 4 5 2 3 6 7 8 9 12 13 10 11 14 15`` (row ``r = ((bh*(gw/m) + bw)*m + mh)*m + mw``).
Within a row the values are laid out ``(C, Tp, p_y, p_x)``, as in transformers 5.23
(``video_processing_qwen2_vl.py`` permute ``(0,1,4,7,5,8,3,2,6,9)``).
"""

from __future__ import annotations

import torch

__all__ = ["to_merge_blocks", "merge_order", "row_coords"]


def to_merge_blocks(x: torch.Tensor, patch_size: int, merge_size: int) -> torch.Tensor:
    """``[Tp, C, gh*p, gw*p]`` -> ``[gh*gw, C*Tp*p*p]``, rows in merge order. THE definition."""
    tp, c, height, width = x.shape
    p, m = patch_size, merge_size
    gh, gw = height // p, width // p
    x = x.reshape(tp, c, gh // m, m, p, gw // m, m, p)  # (Tp, C, bh, mh, py, bw, mw, px)
    x = x.permute(2, 5, 3, 6, 1, 0, 4, 7)  # (bh, bw, mh, mw, C, Tp, py, px)
    return x.reshape(gh * gw, c * tp * p * p)


def merge_order(gh: int, gw: int, merge_size: int) -> torch.Tensor:
    """``order[r]`` = raster index ``ph*gw + pw`` of the patch held by row ``r`` (int64 ``[gh*gw]``)."""
    raster = torch.arange(gh * gw, dtype=torch.int64).view(1, 1, gh, gw)
    return to_merge_blocks(raster, 1, merge_size).view(-1)


def row_coords(grid_thw: tuple[int, int, int], merge_size: int) -> torch.Tensor:
    """``[t*gh*gw, 3]`` int64: the patch-grid ``(t, h, w)`` of every row of one image / video."""
    t, gh, gw = grid_thw
    order = merge_order(gh, gw, merge_size)
    hw = torch.stack([order // gw, order % gw], dim=1)  # (gh*gw, 2)
    tt = torch.arange(t, dtype=torch.int64).repeat_interleave(gh * gw)[:, None]
    return torch.cat([tt, hw.repeat(t, 1)], dim=1)
