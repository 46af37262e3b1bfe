"""Patch grid over the resized frame: every patch numbered by its ``pixel_values`` row (2x2 merge order)
or by its raster index, merge blocks outlined, hover = row, (t, h, w), block / token, window; Qwen2.5-VL's
attention windows as an overlay.

The row -> (t, h, w) map is the library's (``Patchify.row_coords``, i.e. ``merge_order.row_coords``);
the windows are the encoder's own ``window_partition``. Nothing here re-derives the permute.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sequential
import torch
from PIL import Image

from ..encoder import DEFAULT_PRESET, get_preset, window_partition
from ..trace import Trace
from ..words import tr
from ._points import DEFAULT_POINTS, grid_stride, sampled_note_annotation
from ._style import figure
from .pictures import data_uri

__all__ = ["PatchLayout", "patch_layout", "patch_grid_figure", "Windows", "qwen25_windows", "ZOOM_PATCHES",
           "ORDERS", "SELECT_COLOR", "selection_shapes"]

ZOOM_PATCHES = 8  # the zoom panel shows the top-left 8 x 8 patches (4 x 4 merge blocks) with numbers
ORDERS = ("merge", "raster")
MAX_LINE_CELLS = 120  # draw per-patch lines only up to this many patches per side
# plotly.js knows fewer colourscale names than plotly.py: spell Turbo out
ORDER_COLORS = [[i / (len(sequential.Turbo) - 1), c] for i, c in enumerate(sequential.Turbo)]
BLOCK_COLORS = [[0, "#fde0c5"], [0.33, "#fde0c5"], [0.34, "#c9e4f6"], [0.66, "#c9e4f6"], [0.67, "#d7f0d2"],
                [0.99, "#d7f0d2"], [1, "#eadcf5"]]  # 4 pastel tones: neighbouring merge blocks always differ


@dataclass(frozen=True)
class Windows:
    """Qwen2.5-VL window attention on one frame: a window id per patch and the window geometry."""

    ids: np.ndarray  # int32 [gh, gw]
    count: int
    window_patches: int  # window side in patches (partial at the edges)
    window_px: int
    window_merged: int
    full_blocks: tuple[int, ...]


@dataclass(frozen=True)
class PatchLayout:
    """Per patch of one temporal group: its pixel_values row, token, raster index ([gh, gw] int32 each)."""

    row: np.ndarray
    token: np.ndarray
    raster: np.ndarray


# per-patch arrays of one geometry (a 131k-token image: 6 MB each); a page uses a few geometries
@lru_cache(maxsize=8)
def _layout(grid_thw: tuple[int, int, int], merge_size: int, group: int) -> PatchLayout:
    from ..merge_order import row_coords

    t, gh, gw = grid_thw
    coords = row_coords((1, gh, gw), merge_size).numpy()  # rows of one group, in merge order
    row = np.empty((gh, gw), dtype=np.int32)
    row[coords[:, 1], coords[:, 2]] = np.arange(gh * gw, dtype=np.int32) + group * gh * gw
    token = row // (merge_size * merge_size)  # token k = rows 4k..4k+3 (merge_order's definition)
    raster = np.arange(gh * gw, dtype=np.int32).reshape(gh, gw)
    return PatchLayout(row=row, token=token, raster=raster)


def patch_layout(trace: Trace, group: int) -> PatchLayout:
    return _layout(tuple(trace.patchify.grid_thw), trace.patchify.merge_size, group)


@lru_cache(maxsize=8)
def _windows(family, gh: int, gw: int, patch: int, merge: int, temporal: int) -> Windows:
    cfg = get_preset(DEFAULT_PRESET[family]).with_sizes(patch, merge, temporal)
    wm = cfg.window_merged
    index, cu = window_partition(torch.tensor([[1, gh, gw]]), merge, wm)
    m2 = merge * merge
    slot_window = np.searchsorted(cu.numpy()[1:] // m2, np.arange(index.numel()), side="right")
    token_window = np.empty(index.numel(), dtype=np.int32)
    token_window[index.numpy()] = slot_window  # merged token -> its window
    hm, wmm = gh // merge, gw // merge
    ids = token_window.reshape(hm, wmm).repeat(merge, axis=0).repeat(merge, axis=1)
    return Windows(ids=ids, count=int(cu.numel() - 1), window_patches=wm * merge, window_px=cfg.window_size,
                   window_merged=wm, full_blocks=tuple(cfg.fullatt_block_indexes))


def qwen25_windows(trace: Trace) -> Windows | None:
    """The attention windows of one frame, for a family with window attention (``profile.window_size``)."""
    pf = trace.profile
    if pf.window_size is None:
        return None
    _, gh, gw = trace.patchify.grid_thw
    return _windows(trace.model, gh, gw, pf.patch_size, pf.merge_size, pf.temporal_patch_size)


def _lines(n_h: int, n_w: int, step: int, x_off: float = -0.5, y_off: float = -0.5) -> tuple[list, list]:
    xs: list = []
    ys: list = []
    for c in range(0, n_w + 1, step):
        xs += [x_off + c, x_off + c, None]
        ys += [y_off, y_off + n_h, None]
    for r in range(0, n_h + 1, step):
        xs += [x_off, x_off + n_w, None]
        ys += [y_off + r, y_off + r, None]
    return xs, ys


def _window_edges(ids: np.ndarray) -> tuple[list, list]:
    """Segments on the borders between different windows (and the frame border)."""
    gh, gw = ids.shape
    xs: list = []
    ys: list = []
    vert = np.flatnonzero((ids[:, 1:] != ids[:, :-1]).any(axis=0)) + 1
    horiz = np.flatnonzero((ids[1:, :] != ids[:-1, :]).any(axis=1)) + 1
    for c in [0, *vert.tolist(), gw]:  # patch (h, w) is centred on (w, h): borders at -0.5 offsets
        xs += [c - 0.5, c - 0.5, None]
        ys += [-0.5, gh - 0.5, None]
    for r in [0, *horiz.tolist(), gh]:
        xs += [-0.5, gw - 0.5, None]
        ys += [r - 0.5, r - 0.5, None]
    return xs, ys


SELECT_COLOR = "#e6007e"  # the linked selection, the same colour in every view


def selection_shapes(sel, p: int, xref: str = "x", yref: str = "y") -> list[dict]:
    """Outlines of the selected patch, its merge block and (Qwen2.5-VL) its window, in patch units
    (patch (h, w) centred on (w, h)). ``sel`` is a :class:`qwenvl_viz.selection.Selection`."""
    def rect(box, **line):
        x0, y0, x1, y1 = (v / p - 0.5 for v in box)
        return dict(type="rect", x0=x0, y0=y0, x1=x1, y1=y1, xref=xref, yref=yref, line=line)

    out = []
    if sel.window is not None:
        out.append(rect(sel.window.box, color="#ffdd00", width=4, dash="dot"))
    out.append(rect(sel.block_box, color="white", width=3))
    out.append(rect(sel.patch_box, color=SELECT_COLOR, width=3))
    return out


def patch_grid_figure(trace: Trace, frame: Image.Image, group: int, order: str, windows: bool, lang: str,
                      selection=None, max_points: int | None = DEFAULT_POINTS) -> go.Figure:
    """``frame``: the group's first frame at the resized aspect (any display size); ``selection``: the
    linked selection to outline when it lies in this group; ``max_points``: most cells of the main grid
    (past it every k-th patch on each side, each with its own numbers; the zoom keeps every patch)."""
    pt = trace.patchify
    t, gh, gw = pt.grid_thw
    m = pt.merge_size
    group = min(max(int(group), 0), t - 1)
    lay = patch_layout(trace, group)
    win = qwen25_windows(trace) if windows else None
    label = lay.row if order == "merge" else lay.raster
    cols = [lay.row, lay.token, lay.raster] + ([win.ids] if win is not None else [])
    custom = np.stack(cols, axis=-1).astype(np.int32)
    hover = (f"{tr('hover_row', lang)} %{{customdata[0]}}<br>(t, h, w) = ({group}, %{{y}}, %{{x}})<br>"
             f"{tr('hover_block', lang)} %{{customdata[1]}}<br>{tr('hover_raster', lang)} %{{customdata[2]}}"
             + (f"<br>{tr('hover_window', lang)} %{{customdata[3]}}" if win is not None else "") + "<extra></extra>")
    colour_title = tr("order_colour" if order == "merge" else "raster_colour", lang)
    data: list[dict] = []
    # main panel: the whole frame; patch (h, w) is centred on (x=w, y=h) so hover reads integers and the
    # frame covers [-0.5, gw - 0.5] x [-0.5, gh - 0.5]
    data.append(dict(type="image", source=data_uri(frame), x0=0.5 * gw / frame.width - 0.5, dx=gw / frame.width,
                     y0=0.5 * gh / frame.height - 0.5, dy=gh / frame.height, hoverinfo="skip", xaxis="x", yaxis="y"))
    # cell (i, j) of the drawn grid = patch (k*i, k*j), centred on it; a cell is as many points as the
    # numbers it carries (its colour and its hover values)
    per_cell = 1 + custom.shape[-1]
    k = grid_stride(gh, gw, None if max_points is None else max(max_points // per_cell, 1))
    data.append(dict(type="heatmap", z=label[::k, ::k], x0=0, dx=k, y0=0, dy=k, customdata=custom[::k, ::k],
                     hovertemplate=hover, opacity=0.3, colorscale=ORDER_COLORS, showscale=False, xaxis="x", yaxis="y",
                     name=colour_title, zmin=int(label.min()), zmax=int(label.max())))
    if max(gh, gw) <= MAX_LINE_CELLS:
        bx, by = _lines(gh, gw, m)
        data.append(dict(type="scatter", x=bx, y=by, mode="lines", line=dict(color="rgba(255,255,255,0.75)", width=0.8),
                         hoverinfo="skip", showlegend=False, xaxis="x", yaxis="y"))
    if win is not None:
        wx, wy = _window_edges(win.ids)
        data.append(dict(type="scatter", x=wx, y=wy, mode="lines", line=dict(color="#ffdd00", width=2),
                         name=tr("windows", lang), hoverinfo="skip", xaxis="x", yaxis="y"))
    # zoom panel: the top-left patches with their numbers
    z = min(ZOOM_PATCHES, gh, gw)
    z -= z % m
    z = max(z, min(m, gh, gw))
    crop = frame.crop((0, 0, round(z * frame.width / gw), round(z * frame.height / gh)))
    data.append(dict(type="image", source=data_uri(crop), x0=0.5 * z / crop.width - 0.5, dx=z / crop.width,
                     y0=0.5 * z / crop.height - 0.5, dy=z / crop.height, hoverinfo="skip", xaxis="x2", yaxis="y2"))
    # zoom colours: a checkerboard of merge blocks (the 4 patches of one token share a colour), numbers on top
    hh, ww = np.mgrid[0:z, 0:z]
    checker = (hh // m % 2) * 2 + (ww // m % 2)
    data.append(dict(type="heatmap", z=checker, text=label[:z, :z].tolist(), x0=0, dx=1, y0=0, dy=1,
                     customdata=custom[:z, :z], hovertemplate=hover, opacity=0.55, colorscale=BLOCK_COLORS, zmin=0, zmax=3, showscale=False,
                     texttemplate="%{text}", textfont=dict(size=15, color="black"), xaxis="x2", yaxis="y2"))
    px_, py_ = _lines(z, z, 1)
    data.append(dict(type="scatter", x=px_, y=py_, mode="lines", line=dict(color="rgba(255,255,255,0.8)", width=0.7),
                     hoverinfo="skip", showlegend=False, xaxis="x2", yaxis="y2"))
    bx, by = _lines(z, z, m)
    data.append(dict(type="scatter", x=bx, y=by, mode="lines", line=dict(color="black", width=2.5), hoverinfo="skip",
                     showlegend=False, xaxis="x2", yaxis="y2"))
    frames = ", ".join(str(trace.frame_indices[i]) for i in dict.fromkeys(pt.groups[group])) \
        if trace.sampling else "0"
    portrait = gh > gw  # a tall frame hugs the zoom panel; a wide one takes more of the width
    layout = dict(
        xaxis=dict(domain=[0, 0.5 if portrait else 0.62], range=[-0.5, gw - 0.5], showgrid=False,
                   constrain="domain", constraintoward="right" if portrait else "left", title=dict(text="w")),
        yaxis=dict(range=[gh - 0.5, -0.5], scaleanchor="x", showgrid=False, constrain="domain", title=dict(text="h")),
        xaxis2=dict(domain=[0.56 if portrait else 0.67, 1], range=[-0.5, z - 0.5], showgrid=False,
                    constrain="domain", constraintoward="left", anchor="y2", showticklabels=False),
        yaxis2=dict(range=[z - 0.5, -0.5], scaleanchor="x2", showgrid=False, constrain="domain", anchor="x2",
                    showticklabels=False),
        annotations=[
            dict(text=tr("frame_title", lang, g=group, frames=frames, h=trace.resize.height, w=trace.resize.width),
                 x=0, y=1.0, xref="paper", yref="paper", yanchor="bottom", xanchor="left", showarrow=False),
            dict(text=tr("zoom_title", lang, n=z), x=0, y=1.0, xref="x2 domain", yref="y2 domain", yanchor="bottom",
                 xanchor="left", showarrow=False),
        ],
        legend=dict(orientation="h", y=-0.08, yanchor="top", x=0, xanchor="left"),
        margin=dict(t=36),
    )
    if k > 1:
        shown = label[::k, ::k].size
        layout["annotations"].append(sampled_note_annotation(
            tr("sampled_grid", lang, h=gh, w=gw, k=k, shown=shown, total=gh * gw), "x domain", "y domain"))
    if selection is not None and selection.group == group:
        layout["shapes"] = selection_shapes(selection, pt.patch_size)
        ph, pw = selection.patch
        layout["annotations"].append(dict(
            x=pw, y=ph, xref="x", yref="y", text=tr("sel_mark", lang, row=selection.row, token=selection.token),
            showarrow=True, arrowcolor=SELECT_COLOR, ax=30, ay=-30, bgcolor="white", bordercolor=SELECT_COLOR,
            font=dict(size=12, color=SELECT_COLOR)))
    return figure(data, layout, height=520, legend=win is not None)
