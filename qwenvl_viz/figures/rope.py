"""MRoPE ids: T / H / W position ids along the prompt with the vision runs shaded; the time id of each
temporal group with its seconds (collisions in red, the int-cast variant marked); the LLM frequency layout."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..trace import Trace
from ..ui.i18n import tr
from ._style import AXIS_COLORS, ERROR_COLOR, VISION_FILL, base_layout, group_color

__all__ = ["rope_figure"]

MAX_SHADED_RUNS = 400


def rope_figure(trace: Trace, lang: str) -> go.Figure:
    rope = trace.rope
    pos = rope.position_ids
    fig = go.Figure()
    for k, axis in enumerate("THW"):
        fig.add_trace(go.Scatter(
            x0=0, dx=1, y=pos[k].astype(np.int32), mode="lines", name=axis, line=dict(color=AXIS_COLORS[axis],
            width=1.6 if axis == "T" else 1.2), xaxis="x", yaxis="y",
            hovertemplate=f"{axis} %{{y}}<extra></extra>",
        ))
    for run in rope.runs[:MAX_SHADED_RUNS]:
        fig.add_vrect(x0=run.start - 0.5, x1=run.end - 0.5, fillcolor=VISION_FILL, line_width=0, layer="below",
                      xref="x", yref="y domain")
    video_runs = [r for r in rope.runs if r.kind == "video"]
    groups = [g for r in video_runs for g in r.groups]
    has_time = bool(groups)
    top = [0.45, 1.0] if has_time else [0.35, 1.0]
    if has_time:
        collided = {g for c in rope.collisions for g in c.groups}
        xs = [g.group for g in groups]
        text = []
        for g in groups:
            if trace.prompt.timestamp_strings:
                text.append(trace.prompt.timestamp_strings[g.group])
            elif g.seconds is not None:
                text.append(f"{g.seconds:.2f}s")
            else:
                text.append("")
        fig.add_trace(go.Bar(
            x=xs, y=[g.time_id for g in groups], name=tr("time_id", lang), xaxis="x2", yaxis="y2",
            marker_color=[ERROR_COLOR if g.group in collided else group_color(g.group) for g in groups],
            text=text if len(groups) <= 40 else None, textposition="outside", cliponaxis=False,
            customdata=[[g.position, g.seconds if g.seconds is not None else float("nan")] for g in groups],
            hovertemplate="g%{x}: time id %{y} · T = %{customdata[0]} · %{customdata[1]:.3f} s<extra></extra>",
            showlegend=False,
        ))
        if rope.int_cast_differs:
            fig.add_trace(go.Scatter(
                x=xs, y=[g.int_cast_time_id for g in groups], mode="markers", name=tr("int_cast", lang),
                marker=dict(symbol="x", size=9, color="black"), xaxis="x2", yaxis="y2",
            ))
        if collided:
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", marker=dict(color=ERROR_COLOR, symbol="square"),
                                     name=tr("collision", lang), xaxis="x2", yaxis="y2"))
        ymax = max([g.time_id for g in groups] + [g.int_cast_time_id or 0 for g in groups] + [1])
        fig.update_layout(
            xaxis2=dict(domain=[0, 0.62], anchor="y2", title_text=tr("group_axis", lang)),
            yaxis2=dict(domain=[0, 0.27], anchor="x2", title_text=tr("time_id", lang), range=[0, ymax * 1.35]),
        )
    # LLM frequency layout: 64 frequencies as an 8 x 8 tile, letter = the axis that drives it
    layout = np.array(rope.mrope_layout)
    side = int(np.ceil(np.sqrt(len(layout))))
    codes = {"T": 0, "H": 1, "W": 2}
    z = np.full(side * side, np.nan)
    z[: len(layout)] = [codes[a] for a in layout]
    letters = np.full(side * side, "", dtype=object)
    letters[: len(layout)] = layout
    scale = [[0, AXIS_COLORS["T"]], [0.33, AXIS_COLORS["T"]], [0.34, AXIS_COLORS["H"]], [0.66, AXIS_COLORS["H"]],
             [0.67, AXIS_COLORS["W"]], [1, AXIS_COLORS["W"]]]
    fig.add_trace(go.Heatmap(
        z=z.reshape(side, side), text=letters.reshape(side, side), texttemplate="%{text}", zmin=0, zmax=2,
        colorscale=scale, showscale=False, xgap=1, ygap=1, opacity=0.8, xaxis="x3", yaxis="y3",
        hovertemplate="frequency %{customdata}: %{text}<extra></extra>",
        customdata=np.arange(side * side).reshape(side, side), textfont=dict(color="white", size=10),
    ))
    fig.update_layout(
        xaxis=dict(domain=[0, 1], anchor="y", title_text=tr("token_pos", lang)),
        yaxis=dict(domain=top, anchor="x", title_text=tr("position_id", lang)),
        xaxis3=dict(domain=[0.72, 1] if has_time else [0.8, 1], anchor="y3", showticklabels=False, showgrid=False,
                    showline=False, title=dict(text=tr("freq_layout", lang), font=dict(size=11))),
        yaxis3=dict(domain=[0, 0.27], anchor="x3", showticklabels=False, showgrid=False, autorange="reversed",
                    showline=False, scaleanchor="x3"),
        hovermode="closest",
    )
    if not has_time:
        fig.update_layout(xaxis=dict(domain=[0, 0.72]), yaxis=dict(domain=[0, 1]),
                          yaxis3=dict(domain=[0.3, 0.9]))
    return base_layout(fig, height=460)
