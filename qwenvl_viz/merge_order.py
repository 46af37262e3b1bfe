"""The 2x2 merge order of ``pixel_values`` rows, defined once.

Every consumer (patchify's pixel rows, MRoPE, the encoder's rotary / window / position-table code,
the figures) gets the order from :func:`to_merge_blocks`, so they cannot drift apart.

Rows are grouped by merge block: for a 4x4 patch grid and m = 2 the raster indices of rows 0..15 are
``0 1 4 5 2 3 6 7 8 9 12 13 10 11 14 15`` (row ``r = ((bh*(gw/m) + bw)*m + mh)*m + mw``).
Within a row the values are laid out ``(C, Tp, p_y, p_x)``, as in transformers 5.23
(``video_processing_qwen2_vl.py`` permute ``(0,1,4,7,5,8,3,2,6,9)``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["to_merge_blocks", "merge_order", "row_coords", "row_coords_array"]

MERGE_AXES = (2, 5, 3, 6, 1, 0, 4, 7)  # (Tp, C, bh, mh, py, bw, mw, px) -> (bh, bw, mh, mw, C, Tp, py, px)


def to_merge_blocks(x, patch_size: int, merge_size: int):
    """``[Tp, C, gh*p, gw*p]`` -> ``[gh*gw, C*Tp*p*p]``, rows in merge order. THE definition.

    ``x`` is a torch tensor or a numpy array; the result is of the same kind.
    """
    tp, c, height, width = x.shape
    p, m = patch_size, merge_size
    gh, gw = height // p, width // p
    x = x.reshape(tp, c, gh // m, m, p, gw // m, m, p)  # (Tp, C, bh, mh, py, bw, mw, px)
    x = np.transpose(x, MERGE_AXES) if isinstance(x, np.ndarray) else x.permute(*MERGE_AXES)  # (bh, bw, mh, mw, C, Tp, py, px)
    return x.reshape(gh * gw, c * tp * p * p)


def merge_order(gh: int, gw: int, merge_size: int) -> "torch.Tensor":
    """``order[r]`` = raster index ``ph*gw + pw`` of the patch held by row ``r`` (int64 ``[gh*gw]``)."""
    import torch

    return torch.from_numpy(_merge_order_array(gh, gw, merge_size))


def _merge_order_array(gh: int, gw: int, merge_size: int) -> np.ndarray:
    raster = np.arange(gh * gw, dtype=np.int64).reshape(1, 1, gh, gw)
    return to_merge_blocks(raster, 1, merge_size).reshape(-1)


def row_coords_array(grid_thw: tuple[int, int, int], merge_size: int) -> np.ndarray:
    """``[t*gh*gw, 3]`` int64: the patch-grid ``(t, h, w)`` of every row of one image / video."""
    t, gh, gw = grid_thw
    order = _merge_order_array(gh, gw, merge_size)
    hw = np.stack([order // gw, order % gw], axis=1)  # (gh*gw, 2)
    tt = np.repeat(np.arange(t, dtype=np.int64), gh * gw)[:, None]  # (t*gh*gw, 1)
    return np.concatenate([tt, np.tile(hw, (t, 1))], axis=1)


def row_coords(grid_thw: tuple[int, int, int], merge_size: int) -> "torch.Tensor":
    """:func:`row_coords_array` as a torch tensor (the encoder and heatmaps index tensors with it)."""
    import torch

    return torch.from_numpy(row_coords_array(grid_thw, merge_size))
