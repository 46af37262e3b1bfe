"""Encoder view: per-stage shapes of one run and heatmaps (norm, PCA-RGB, cosine) laid over the frames."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from html import escape

import numpy as np
import torch
from PIL import Image, ImageDraw
from plotly.colors import hex_to_rgb, sequential

from ..heatmaps import Heatmap, HeatmapKind, to_patch_grid
from ..words import tr
from ._style import group_color
from .patch_grid import SELECT_COLOR
from .pictures import blend, contact_sheet

__all__ = ["heatmap_sheet", "stages_html", "colorize", "MAX_HEATMAP_TILES"]

MAX_HEATMAP_TILES = 32
HEATMAP_ALPHA = 0.6


@lru_cache(maxsize=1)
def _viridis_lut() -> np.ndarray:
    stops = np.asarray([hex_to_rgb(c) for c in sequential.Viridis], dtype=np.float64)  # (k, 3)
    pos = np.linspace(0, 1, len(stops))
    grid = np.linspace(0, 1, 256)
    return np.stack([np.interp(grid, pos, stops[:, c]) for c in range(3)], axis=1).astype(np.uint8)


def colorize(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``[..]`` floats -> ``[.., 3]`` uint8 viridis, ``lo..hi`` mapped to the ends."""
    span = hi - lo if hi > lo else 1.0
    idx = np.clip((values - lo) / span * 255.0, 0, 255).astype(np.uint8)
    return _viridis_lut()[idx]


def heatmap_sheet(hm: Heatmap, tiles: Sequence[Image.Image], labels: Sequence[str]) -> Image.Image:
    """One tile per temporal group (``tiles[k]`` = the group's first frame at display size), map blended over it."""
    maps = hm.values
    target = _target_cells(hm)
    out = []
    for k, tile in enumerate(tiles[:MAX_HEATMAP_TILES]):
        grid = maps[k]
        rgb = (np.clip(grid, 0, 1) * 255).astype(np.uint8) if hm.kind is HeatmapKind.PCA else \
            colorize(grid, *hm.value_range)
        img = blend(tile, Image.fromarray(rgb), HEATMAP_ALPHA)
        if target is not None and target[0] == k:  # outline the vector every other one is compared with
            _, y0, x0, y1, x1 = target
            sy, sx = img.height / grid.shape[0], img.width / grid.shape[1]
            ImageDraw.Draw(img).rectangle([x0 * sx - 1, y0 * sy - 1, x1 * sx, y1 * sy], outline=SELECT_COLOR, width=3)
        out.append(img)
    n = len(out)
    cols = min(n, 4 if tiles and tiles[0].width >= tiles[0].height else 8)
    return contact_sheet(out, list(labels[:n]), [group_color(k) for k in range(n)], cols=max(cols, 1))


def _target_cells(hm: Heatmap) -> tuple[int, int, int, int, int] | None:
    """Cosine maps: ``(group, h0, w0, h1, w1)`` of the chosen token's (or row's) patches, end exclusive."""
    if hm.kind is not HeatmapKind.COSINE or hm.token is None:
        return None
    onehot = torch.zeros(hm.per_item.shape[0])
    onehot[hm.token] = 1
    t, hh, ww = np.nonzero(to_patch_grid(onehot, hm.grid_thw, hm.merge_size, hm.level))
    return int(t[0]), int(hh.min()), int(ww.min()), int(hh.max()) + 1, int(ww.max()) + 1


def stages_html(stages: Sequence[tuple[str, tuple[int, ...]]], lang: str) -> str:
    rows = "".join(
        f"<tr><td>{escape(name)}</td><td><code>[{', '.join(str(d) for d in shape)}]</code></td></tr>"
        for name, shape in stages
    )
    return (f'<table class="stages" id="encoder-stages"><tr><th>{escape(tr("stage", lang))}</th>'
            f"<th>{escape(tr('shape', lang))}</th></tr>{rows}</table>")
