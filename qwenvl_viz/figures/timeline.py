"""Sampling timeline: every raw frame as a tick, the sampled ones with index and time, temporal groups,
the padding frame; and the sampled frames as a contact sheet of thumbnails."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from ..trace import Trace
from ..words import tr
from ._points import DEFAULT_POINTS, every_kth
from ._style import GROUP_COLORS, PAD_COLOR, figure, group_color
from .patch_grid import SELECT_COLOR
from .pictures import contact_sheet

__all__ = ["timeline_figure", "frames_sheet", "MAX_LABELLED", "sheet_positions"]

MAX_LABELLED = 40  # above this many sampled frames / groups, labels would overlap: hover only
MAX_TILES = 64  # thumbnails shown in the contact sheet (evenly chosen beyond this)


def timeline_figure(trace: Trace, lang: str, selection=None, max_points: int | None = DEFAULT_POINTS) -> go.Figure:
    """``selection``: the linked selection; the raw frames of its temporal group are ringed; ``max_points``:
    most raw-frame marks (past it every k-th, and the legend says so; the sampled frames are all drawn)."""
    if trace.sampling is None:
        note = dict(text=tr("n_timeline_image", lang, tp=trace.profile.temporal_patch_size), x=0.5, y=0.5,
                    xref="paper", yref="paper", showarrow=False, font=dict(size=14))
        return figure([], dict(annotations=[note], xaxis=dict(visible=False), yaxis=dict(visible=False)),
                      height=160, legend=False)
    s, m, pt = trace.sampling, trace.media, trace.patchify
    fps = s.video_fps
    n_raw = m.frames
    data: list[dict] = []
    # raw frames: x0 / dx instead of an x array keeps the payload flat for long videos
    step = every_kth(n_raw, max_points)
    data.append(dict(
        type="scatter", x0=0.0, dx=step / fps, y=np.zeros(-(-n_raw // step), dtype=np.int8), mode="markers",
        name=tr("raw_frames", lang) if step == 1 else tr("sampled_marks", lang, n=n_raw, k=step),
        marker=dict(symbol="line-ns-open", size=12, color="#9a9a9a", line=dict(width=1)),
        hovertemplate=("frame %{pointNumber}" if step == 1 else f"frame {step}·%{{pointNumber}}")
        + " · %{x:.3f} s<extra></extra>",
    ))
    times = np.asarray(s.times, dtype=np.float64)
    group_of = np.zeros(len(times), dtype=np.int64)
    for g, members in enumerate(pt.groups):
        for pos in members:
            group_of[pos] = g
    labelled = len(times) <= MAX_LABELLED
    data.append(dict(
        type="scatter", x=times, y=np.ones(len(times), dtype=np.int8),
        mode="markers+text" if labelled else "markers", name=tr("sampled_frames", lang),
        text=[str(i) for i in s.indices] if labelled else None, textposition="top center", textfont=dict(size=11),
        marker=dict(size=11, color=[group_color(int(g)) for g in group_of], line=dict(width=1, color="white")),
        customdata=np.stack([np.arange(len(times)), np.asarray(s.indices), group_of], axis=1),
        hovertemplate="#%{customdata[0]} · frame %{customdata[1]} · %{x:.3f} s · g%{customdata[2]}<extra></extra>",
    ))
    # temporal groups: a bar under each pair, labelled with its group / Qwen3 timestamp
    ts = trace.prompt.timestamp_strings
    pad_x, pad_text = [], []
    seen: set[int] = set()
    shapes: list[dict] = []
    notes: list[dict] = []
    for g, members in enumerate(pt.groups):
        x0, x1 = times[members[0]], times[members[-1]]
        width = max(x1 - x0, 0.5 / fps)
        shapes.append(dict(type="rect", x0=x0 - 0.25 / fps, x1=x0 + width + 0.25 / fps, y0=0.55, y1=0.8,
                           fillcolor=group_color(g), opacity=0.35, line=dict(width=0)))
        if len(pt.groups) <= MAX_LABELLED:
            # the exact prompt text while it fits; its seconds alone when the groups are close together
            stamp = ""
            if ts and g < len(ts):
                stamp = ts[g] if len(pt.groups) <= 10 else f"{trace.prompt.timestamps[g]:.1f}s"
            label = tr("group_short", lang, g=g) + (f"<br>{stamp}" if stamp else "")
            notes.append(dict(x=(x0 + x1) / 2, y=0.5, text=label, showarrow=False, yanchor="top",
                              font=dict(size=10, color=group_color(g))))
        for pos in members:
            if pos in seen:  # a position used twice = the padding copy of the last frame
                pad_x.append(times[pos])
                pad_text.append("pad")
            seen.add(pos)
    if s.start_frame != 0 or s.end_frame != n_raw - 1:
        shapes.append(dict(type="rect", x0=s.start_frame / fps, x1=s.end_frame / fps, y0=0, y1=1, yref="y domain",
                           fillcolor="rgba(44,160,44,0.12)", line=dict(width=0), layer="below"))
        notes.append(dict(x=s.start_frame / fps, y=1, yref="y domain", text=tr("trimmed", lang), showarrow=False,
                          xanchor="left", yanchor="top", font=dict(size=11, color="#2c7a2c")))
    if pad_x:
        data.append(dict(
            type="scatter", x=pad_x, y=[1.35] * len(pad_x), mode="markers+text", text=pad_text,
            textposition="top center", name=tr("padding_frame", lang),
            marker=dict(symbol="x", size=12, color=PAD_COLOR),
            textfont=dict(color=PAD_COLOR), hovertemplate="%{x:.3f} s: padding<extra></extra>",
        ))
    if selection is not None:
        real = [f for f in selection.frames if not f.padding]
        data.append(dict(
            type="scatter", x=[f.raw_index / fps for f in real], y=[1] * len(real), mode="markers",
            name=tr("sel_frames", lang, g=selection.group),
            marker=dict(size=22, symbol="circle-open", color=SELECT_COLOR, line=dict(width=3)),
            hovertemplate="frame %{customdata} · %{x:.3f} s<extra></extra>", customdata=[f.raw_index for f in real],
        ))
    duration = n_raw / fps
    layout = dict(
        shapes=shapes, annotations=notes,
        xaxis=dict(title=dict(text=tr("time_s", lang)), range=[-0.02 * duration, 1.02 * duration]),
        yaxis=dict(visible=False, range=[-0.3, 2.0] if len(pt.groups) <= MAX_LABELLED else [-0.3, 1.7]),
    )
    return figure(data, layout, height=260)


def sheet_positions(trace: Trace) -> list[int]:
    """Which sampled positions get a thumbnail (all of them up to MAX_TILES, then evenly spread)."""
    n = trace.sampling.nframes if trace.sampling else 1
    if n <= MAX_TILES:
        return list(range(n))
    return sorted(set(np.linspace(0, n - 1, MAX_TILES).round().astype(int).tolist()))


def frames_sheet(trace: Trace, thumbs: Sequence[Image.Image], lang: str) -> Image.Image:
    """Contact sheet of the sampled frames (``thumbs`` follow :func:`sheet_positions`), one border colour
    per temporal group, captions ``#k · frame i · t s``; a padded group's repeated frame is tagged."""
    positions = sheet_positions(trace)
    if trace.sampling is None:
        return contact_sheet(list(thumbs), ["image"], [GROUP_COLORS[0]], cols=1)
    s, pt = trace.sampling, trace.patchify
    group_of = {}
    for g, members in enumerate(pt.groups):
        for pos in members:
            group_of.setdefault(pos, g)
    padded = {members[-1] for members in pt.groups if len(set(members)) < len(members)}
    labels = [f"#{k} · f{s.indices[k]}\n{s.times[k]:.2f} s" for k in positions]
    borders = [group_color(group_of.get(k, 0)) for k in positions]
    marks = [f"+pad x{pt.pad_frames}" if k in padded else None for k in positions]
    cols = 8 if trace.media.width >= trace.media.height else 12
    return contact_sheet(list(thumbs), labels, borders, cols=min(cols, len(positions)), marks=marks)
