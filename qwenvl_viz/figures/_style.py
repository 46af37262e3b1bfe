"""Shared look of every figure: fonts that carry Chinese, colours with a meaning, a base layout."""

from __future__ import annotations

import plotly.graph_objects as go

__all__ = ["FONT", "AXIS_COLORS", "GROUP_COLORS", "PAD_COLOR", "VISION_FILL", "ERROR_COLOR", "base_layout",
           "group_color"]

# Noto Sans CJK is what Debian's fonts-noto-cjk installs; the others cover macOS / Windows viewers.
FONT = "'Noto Sans', 'Noto Sans CJK SC', 'PingFang SC', 'Microsoft YaHei', 'Helvetica Neue', Arial, sans-serif"
AXIS_COLORS = {"T": "#d62728", "H": "#1f77b4", "W": "#2ca02c"}  # MRoPE axes, everywhere the same
GROUP_COLORS = ("#1f77b4", "#ff7f0e")  # temporal groups alternate between these two
PAD_COLOR = "#d62728"  # padding frames, collisions, errors
ERROR_COLOR = PAD_COLOR
VISION_FILL = "rgba(255, 127, 14, 0.12)"  # shading of vision-token runs


def group_color(g: int) -> str:
    return GROUP_COLORS[g % len(GROUP_COLORS)]


def base_layout(fig: go.Figure, *, height: int, title: str | None = None, legend: bool = True) -> go.Figure:
    """Big readable text (the app is projected in meetings), tight margins, white background."""
    fig.update_layout(
        height=height,
        title=dict(text=title, x=0.01, xanchor="left", font=dict(size=15)) if title else None,
        font=dict(family=FONT, size=13),
        margin=dict(l=55, r=15, t=40 if title else 15, b=45),
        plot_bgcolor="white",
        paper_bgcolor="white",
        showlegend=legend,
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0, font=dict(size=12)),
        hoverlabel=dict(font=dict(family=FONT, size=13)),
        template="none",  # the default template adds ~7 kB of JSON to every figure
    )
    fig.update_xaxes(showline=True, linecolor="#888", gridcolor="#eee", zeroline=False)
    fig.update_yaxes(showline=True, linecolor="#888", gridcolor="#eee", zeroline=False)
    return fig
