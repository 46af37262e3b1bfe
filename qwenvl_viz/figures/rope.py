"""MRoPE ids: T / H / W position ids along the prompt with the vision runs shaded; the time id of each
temporal group with its seconds (collisions in red, the int-cast variant marked); the LLM frequency layout.
The dotted grey line is row 0 of the four rows the language model gets (the text position)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..trace import Trace
from ..words import tr
from ._points import DEFAULT_POINTS, envelope, sampled_note_annotation
from ._style import AXIS_COLORS, ERROR_COLOR, VISION_FILL, figure, group_color
from .patch_grid import SELECT_COLOR

__all__ = ["rope_figure"]

MAX_SHADED_RUNS = 400
ZOOM_TEXT = 6  # text tokens shown before / after the zoomed vision rows
ZOOM_ROWS = 2
FREQ_COLS = 16  # the LLM rotary frequencies drawn in rows of 16 (64: 4 rows; Qwen3.5's 32: 2 rows)
TEXT_ROW_COLOR = "#888888"


def rope_figure(trace: Trace, lang: str, selection=None, max_points: int | None = DEFAULT_POINTS) -> go.Figure:
    """``selection``: the linked selection; its token is marked and the zoom panel centres on it.
    ``max_points``: the overview's four lines share it (past it each keeps its min / max envelope)."""
    rope = trace.rope
    pos = rope.position_ids
    data: list[dict] = []
    # overview: the whole prompt; T drawn last so its staircase stays visible over H / W, and row 0 of the
    # four rows the language model gets: the plain text position (causal mask). The four lines share the limit.
    lines = [(pos[1], "H"), (pos[2], "W"), (pos[0], "T"), (rope.text_position_ids, "text")]
    per_line = None if max_points is None else max(max_points // len(lines), 2)
    n = pos.shape[1]
    shown = 0
    for y, axis in lines:
        keep = envelope(y, per_line)
        xy = dict(x0=0, dx=1, y=y.astype(np.int32)) if keep is None else \
            dict(x=keep.astype(np.int32), y=y[keep].astype(np.int32))
        shown += n if keep is None else len(keep)
        if axis == "text":
            data.append(dict(
                type="scatter", **xy, mode="lines", name=tr("text_row", lang), legendgroup="text",
                line=dict(color=TEXT_ROW_COLOR, width=1, dash="dot"), xaxis="x", yaxis="y",
                hovertemplate="token %{x}: text position %{y}<extra></extra>",
            ))
            continue
        data.append(dict(
            type="scatter", **xy, mode="lines", name=axis, legendgroup=axis,
            line=dict(color=AXIS_COLORS[axis], width=2 if axis == "T" else 1), opacity=1 if axis == "T" else 0.55,
            xaxis="x", yaxis="y", hovertemplate=f"token %{{x}}: {axis} %{{y}}<extra></extra>",
        ))
    sampled_note = None
    if shown < len(lines) * n:
        sampled_note = tr("sampled_line", lang, n=n, b=per_line // 2, shown=shown, total=len(lines) * n)
    # zoom: the text before the first vision run and its first rows, token by token
    first = rope.runs[0] if rope.runs else None
    if selection is not None:
        lo = max(selection.input_index - 12, 0)
        hi = min(selection.input_index + 13, pos.shape[1])
    elif first is not None:
        lo = max(first.start - ZOOM_TEXT, 0)
        hi = min(first.start + min(first.end - first.start, ZOOM_ROWS * first.llm_grid[2]) + ZOOM_TEXT, pos.shape[1])
    else:
        lo, hi = 0, min(pos.shape[1], 40)
    data.append(dict(
        type="scatter", x0=lo, dx=1, y=rope.text_position_ids[lo:hi].astype(np.int32), mode="lines",
        legendgroup="text", showlegend=False, line=dict(color=TEXT_ROW_COLOR, width=1, dash="dot"),
        xaxis="x4", yaxis="y4", hovertemplate="token %{x}: text position %{y}<extra></extra>",
    ))
    for axis in "THW":
        k = "THW".index(axis)
        data.append(dict(
            type="scatter", x0=lo, dx=1, y=pos[k, lo:hi].astype(np.int32), mode="lines+markers", name=axis,
            legendgroup=axis, showlegend=False, line=dict(color=AXIS_COLORS[axis], width=1.5), marker=dict(size=4),
            xaxis="x4", yaxis="y4", hovertemplate=f"token %{{x}}: {axis} %{{y}}<extra></extra>",
        ))
    shapes = []
    for run in rope.runs[:MAX_SHADED_RUNS]:
        for xref, yref in (("x", "y domain"), ("x4", "y4 domain")):
            shapes.append(dict(type="rect", x0=run.start - 0.5, x1=run.end - 0.5, y0=0, y1=1, xref=xref, yref=yref,
                               fillcolor=VISION_FILL, line=dict(width=0), layer="below"))
    layout: dict = {}
    if selection is not None:
        i = selection.input_index
        for xref, yref in (("x", "y domain"), ("x4", "y4 domain")):
            shapes.append(dict(type="line", x0=i, x1=i, y0=0, y1=1, xref=xref, yref=yref,
                               line=dict(color=SELECT_COLOR, width=2, dash="dot")))
        data.append(dict(
            type="scatter", x=[i, i, i], y=list(selection.position_ids), mode="markers+text",
            text=[f"{a}={v}" for a, v in zip("THW", selection.position_ids)], textposition="middle right",
            marker=dict(size=11, symbol="circle-open", color=SELECT_COLOR, line=dict(width=3)),
            name=tr("sel_token", lang, i=i), xaxis="x4", yaxis="y4", textfont=dict(color=SELECT_COLOR),
            hovertemplate=f"input_ids[{i}] · vision token {selection.token}: %{{text}}<extra></extra>",
        ))
    groups = [g for r in rope.runs if r.kind == "video" for g in r.groups]
    has_time = bool(groups)
    if has_time:
        collided = {g for c in rope.collisions for g in c.groups}
        xs = [g.group for g in groups]
        text = [f"{g.seconds:.1f}s" if g.seconds is not None else "" for g in groups]
        data.append(dict(
            type="bar", x=xs, y=[g.time_id for g in groups], name=tr("time_id", lang), xaxis="x2", yaxis="y2",
            marker=dict(color=[ERROR_COLOR if g.group in collided else group_color(g.group) for g in groups]),
            text=text if len(groups) <= 24 else None, textposition="outside", cliponaxis=False, textfont=dict(size=10),
            customdata=[[g.position, g.seconds if g.seconds is not None else float("nan")] for g in groups],
            hovertemplate="g%{x}: time id %{y} · T = %{customdata[0]} · %{customdata[1]:.3f} s<extra></extra>",
            showlegend=False,
        ))
        if rope.int_cast_differs:
            data.append(dict(type="scatter", x=xs, y=[g.int_cast_time_id for g in groups], mode="markers",
                             name=tr("int_cast", lang), marker=dict(symbol="x", size=9, color="black"),
                             xaxis="x2", yaxis="y2"))
        if collided:
            data.append(dict(type="scatter", x=[None], y=[None], mode="markers", name=tr("collision", lang),
                             marker=dict(color=ERROR_COLOR, symbol="square"), xaxis="x2", yaxis="y2"))
        ymax = max([g.time_id for g in groups] + [g.int_cast_time_id or 0 for g in groups] + [1])
        layout["xaxis2"] = dict(domain=[0, 0.62], anchor="y2", title=dict(text=tr("group_axis", lang)))
        layout["yaxis2"] = dict(domain=[0, 0.25], anchor="x2", title=dict(text=tr("time_id", lang)),
                                range=[0, ymax * 1.4])
    # LLM frequency layout: rotary_dim / 2 frequencies in rows of 16, letter = the axis that drives it
    axes = np.array(rope.mrope_layout)
    side = FREQ_COLS
    codes = {"T": 0, "H": 1, "W": 2}
    rows = -(-len(axes) // side)
    z = np.full(rows * side, np.nan)
    z[: len(axes)] = [codes[a] for a in axes]
    letters = np.full(rows * side, "", dtype=object)
    letters[: len(axes)] = axes
    scale = [[0, AXIS_COLORS["T"]], [0.33, AXIS_COLORS["T"]], [0.34, AXIS_COLORS["H"]], [0.66, AXIS_COLORS["H"]],
             [0.67, AXIS_COLORS["W"]], [1, AXIS_COLORS["W"]]]
    data.append(dict(
        type="heatmap", z=z.reshape(rows, side), text=letters.reshape(rows, side).tolist(), texttemplate="%{text}",
        zmin=0, zmax=2, colorscale=scale, showscale=False, xgap=1, ygap=1, opacity=0.8, xaxis="x3", yaxis="y3",
        hovertemplate="frequency %{customdata}: %{text}<extra></extra>",
        customdata=np.arange(rows * side).reshape(rows, side), textfont=dict(color="white", size=9),
    ))
    top = [0.5, 1.0]
    layout.update(
        shapes=shapes,
        xaxis=dict(domain=[0, 0.6], anchor="y", title=dict(text=tr("token_pos", lang))),
        yaxis=dict(domain=top, anchor="x", title=dict(text=tr("position_id", lang))),
        xaxis4=dict(domain=[0.68, 1], anchor="y4", range=[lo - 0.5, hi - 0.5],
                    title=dict(text=tr("zoom_tokens", lang, a=lo, b=hi - 1))),
        yaxis4=dict(domain=top, anchor="x4"),
        xaxis3=dict(domain=[0.72, 1] if has_time else [0, 0.4], anchor="y3", showticklabels=False, showgrid=False,
                    showline=False),
        yaxis3=dict(domain=[0, 0.2], anchor="x3", showticklabels=False, showgrid=False, autorange="reversed",
                    showline=False),
        hovermode="closest",
        annotations=[dict(text=tr("freq_layout", lang), xref="x3 domain", yref="y3 domain", x=0, y=1.02,
                          xanchor="left", yanchor="bottom", showarrow=False, font=dict(size=11))],
    )
    if sampled_note:
        layout["annotations"].append(sampled_note_annotation(sampled_note, "x domain", "y domain"))
    return figure(data, layout, height=500)
