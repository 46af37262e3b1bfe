"""Resize: original vs resized size on the factor grid, and the token count as a function of max_pixels
with the current point and a line at a chosen context length."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..trace import Trace, token_curve
from ..words import tr
from ._style import ERROR_COLOR, figure

__all__ = ["resize_figure"]

def _grid_lines(w: int, h: int, step: int) -> tuple[list, list]:
    """One polyline (None-separated) drawing every ``step`` px line of a w x h rectangle."""
    xs: list = []
    ys: list = []
    for x in range(0, w + 1, step):
        xs += [x, x, None]
        ys += [0, h, None]
    for y in range(0, h + 1, step):
        xs += [0, w, None]
        ys += [y, y, None]
    return xs, ys


def resize_figure(trace: Trace, lang: str, context_len: int | None = None) -> go.Figure:
    rz, pf = trace.resize, trace.profile
    f = pf.factor
    data: list[dict] = []
    # left: the two rectangles in pixel units (image coordinates: y down)
    sw, sh = trace.input_width, trace.input_height
    data.append(dict(type="scatter", x=[0, sw, sw, 0, 0], y=[0, 0, sh, sh, 0], mode="lines",
                     name=tr("original", lang, w=sw, h=sh), line=dict(color="#555", width=2, dash="dash"),
                     xaxis="x", yaxis="y", hoverinfo="name"))
    data.append(dict(type="scatter", x=[0, rz.width, rz.width, 0, 0], y=[0, 0, rz.height, rz.height, 0],
                     mode="lines", fill="toself", fillcolor="rgba(31,119,180,0.12)",
                     name=tr("resized", lang, w=rz.width, h=rz.height), line=dict(color="#1f77b4", width=2),
                     xaxis="x", yaxis="y", hoverinfo="name"))
    if max(rz.width, rz.height) // f <= 400:  # beyond that the grid is a grey smear
        gx, gy = _grid_lines(rz.width, rz.height, f)
        data.append(dict(type="scatter", x=gx, y=gy, mode="lines", line=dict(color="rgba(31,119,180,0.35)", width=0.6),
                         name=tr("factor_grid", lang, f=f), xaxis="x", yaxis="y", hoverinfo="skip"))
    side = max(sw, sh, rz.width, rz.height) * 1.05
    # right: tokens vs max_pixels
    xs, ys = token_curve(trace)
    hover = "max_pixels %{x:,.0f} px → %{y:,} tokens<extra></extra>"
    data.append(dict(type="scatter", x=xs, y=ys, mode="lines", line=dict(color="#444", width=2, shape="hv"),
                     name=tr("curve", lang), xaxis="x2", yaxis="y2", hovertemplate=hover))
    data.append(dict(type="scatter", x=[float(rz.max_pixels)], y=[trace.num_vision_tokens], mode="markers+text",
                     marker=dict(size=13, color="#ff7f0e", line=dict(width=1, color="black")),
                     text=[f"{trace.num_vision_tokens:,}"], textposition="middle left", name=tr("current", lang),
                     xaxis="x2", yaxis="y2", hovertemplate=hover))
    top = max([trace.num_vision_tokens, *(ys.tolist() or [1])])
    low = min([trace.num_vision_tokens, *(ys.tolist() or [1])])
    shapes, notes = [], []
    if context_len:
        shapes.append(dict(type="line", xref="x2 domain", yref="y2", x0=0, x1=1, y0=context_len, y1=context_len,
                           line=dict(color=ERROR_COLOR, width=2, dash="dot")))
        # annotations on a log axis take log10 positions (shapes take data values)
        notes.append(dict(xref="x2 domain", yref="y2", x=0.02, y=float(np.log10(context_len)), yanchor="bottom",
                          xanchor="left",
                          text=tr("context_line", lang, n=f"{context_len:,}"), showarrow=False,
                          font=dict(color=ERROR_COLOR, size=12)))
        top = max(top, context_len)
    layout = dict(
        shapes=shapes, annotations=notes,
        xaxis=dict(domain=[0, 0.38], range=[-side * 0.02, side], title=dict(text=tr("pixels", lang)),
                   constrain="domain"),
        yaxis=dict(range=[side, -side * 0.02], scaleanchor="x", scaleratio=1, constrain="domain"),
        xaxis2=dict(domain=[0.5, 1], type="log", title=dict(text=tr("max_pixels_axis", lang)), anchor="y2"),
        # log: budgets span 4 .. 16384 tokens per image and the context line sits far above small inputs
        yaxis2=dict(anchor="x2", title=dict(text=tr("tokens_axis", lang)), type="log",
                    range=[np.log10(max(1, low) / 1.5), np.log10(top * 1.5)]),
    )
    return figure(data, layout, height=360)
