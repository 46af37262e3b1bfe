"""Shared look of every figure: fonts that carry Chinese, colours with a meaning, and :func:`figure`,
which assembles a plotly figure from plain dicts.

Figures are built as dicts and wrapped once with ``go.Figure(..., _validate=False)``: plotly.py's
per-property validation costs 10-50x the rest of a render (tens of ms per figure), and the app redraws
on every control change. The tests round-trip every figure through the validating constructor instead.
"""

from __future__ import annotations

import re

import plotly.graph_objects as go

__all__ = ["FONT", "AXIS_COLORS", "GROUP_COLORS", "PAD_COLOR", "VISION_FILL", "ERROR_COLOR", "figure", "group_color"]

# Noto Sans CJK is what Debian's fonts-noto-cjk installs; the others cover macOS / Windows viewers.
FONT = "'Noto Sans', 'Noto Sans CJK SC', 'PingFang SC', 'Microsoft YaHei', 'Helvetica Neue', Arial, sans-serif"
AXIS_COLORS = {"T": "#d62728", "H": "#1f77b4", "W": "#2ca02c"}  # MRoPE axes, everywhere the same
GROUP_COLORS = ("#1f77b4", "#ff7f0e")  # temporal groups alternate between these two
PAD_COLOR = "#d62728"  # padding frames, collisions, errors
ERROR_COLOR = PAD_COLOR
VISION_FILL = "rgba(255, 127, 14, 0.12)"  # shading of vision-token runs

_AXIS = re.compile(r"^[xy]axis\d*$")
_AXIS_STYLE = dict(showline=True, linecolor="#888", gridcolor="#eee", zeroline=False)


def group_color(g: int) -> str:
    return GROUP_COLORS[g % len(GROUP_COLORS)]


def figure(data: list[dict], layout: dict, *, height: int, title: str | None = None, legend: bool = True) -> go.Figure:
    """A figure with the app's look: big readable text (it is projected in meetings), white background,
    tight margins; ``layout`` keys win over these defaults."""
    base = dict(
        height=height,
        font=dict(family=FONT, size=13),
        margin=dict(l=55, r=15, t=40 if title else 15, b=45),
        plot_bgcolor="white",
        paper_bgcolor="white",
        showlegend=legend,
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0, font=dict(size=12)),
        hoverlabel=dict(font=dict(family=FONT, size=13)),
        # an empty template: plotly.py would otherwise inject its default one (~7 kB of JSON per figure)
        template=dict(layout={}),
    )
    if title:
        base["title"] = dict(text=title, x=0.01, xanchor="left", font=dict(size=15))
    for key, value in layout.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    for key in list(base):
        if _AXIS.match(key):
            base[key] = {**_AXIS_STYLE, **base[key]}
    if "xaxis" not in base:
        base["xaxis"] = dict(_AXIS_STYLE)
    if "yaxis" not in base:
        base["yaxis"] = dict(_AXIS_STYLE)
    return go.Figure(dict(data=data, layout=base), _validate=False, skip_invalid=False)
