"""How a figure stays within its point limit (``Budget.max_figure_points``): every point it still draws
is a real value of the trace, never an interpolation.

- a line keeps the min and the max of each of ``limit / 2`` equal buckets (its envelope: a staircase of
  position ids looks the same at plot width, and the extremes hover with their true token index);
- a grid keeps every ``k``-th cell on both axes (the cell at ``(k*i, k*j)`` with its own numbers);
- a row of equal marks (raw frames) keeps every ``k``-th.

Each helper returns what it kept; the figure then says so (``words.tr("sampled_line" / "sampled_grid")``).
"""

from __future__ import annotations

import math
import textwrap

import numpy as np

from ..params import DEFAULT_BUDGET

__all__ = ["DEFAULT_POINTS", "envelope", "grid_stride", "every_kth", "sampled_note_annotation", "SAMPLED_NOTE_NAME"]

SAMPLED_NOTE_NAME = "sampled-points"  # the annotation's name: what a test or a reader looks for

DEFAULT_POINTS: int | None = DEFAULT_BUDGET.max_figure_points


def envelope(y: np.ndarray, limit: int | None) -> np.ndarray | None:
    """Indices of ``y`` to draw (sorted, first and last included), or None when all ``len(y)`` fit ``limit``."""
    n = len(y)
    if limit is None or n <= limit:
        return None
    buckets = max(limit // 2, 1)
    k = -(-n // buckets)  # bucket length
    padded = np.concatenate([y, np.repeat(y[-1:], buckets * k - n)]).reshape(buckets, k)
    base = np.arange(buckets) * k
    picks = np.concatenate([base + padded.argmin(axis=1), base + padded.argmax(axis=1), [0, n - 1]])
    return np.unique(np.minimum(picks, n - 1))


def grid_stride(h: int, w: int, limit: int | None) -> int:
    """The smallest ``k`` with ``ceil(h / k) * ceil(w / k) <= limit`` (1 = every cell)."""
    if limit is None or h * w <= limit:
        return 1
    k = max(1, math.isqrt(h * w // max(limit, 1)))
    while -(-h // k) * -(-w // k) > limit:
        k += 1
    return k


def every_kth(n: int, limit: int | None) -> int:
    """The step that keeps at most ``limit`` of ``n`` equal marks (1 = all)."""
    return 1 if limit is None or n <= limit else -(-n // max(limit, 1))


def sampled_note_annotation(text: str, xref: str, yref: str, width: int = 64) -> dict:
    """The figure's own statement that it drew a sample, in the top-left corner of one panel."""
    lines = textwrap.wrap(text, width, break_on_hyphens=False) or [text]
    return dict(text="<br>".join(lines), xref=xref, yref=yref, x=0.01, y=0.99, xanchor="left", yanchor="top",
                showarrow=False, align="left", bgcolor="rgba(255,255,255,0.85)", bordercolor="#999", borderwidth=1,
                font=dict(size=11, color="#444"), name=SAMPLED_NOTE_NAME)
