"""Side-by-side comparison of two Traces (two families, two pipelines, or two settings).

``compare(a, b)`` lists every quantity a learner compares between two columns, with both values,
whether they differ, and a short detail (e.g. which frames only one side takes). Values are plain
JSON-able Python (numbers, strings, lists), ready for a table.

>>> c = compare(explain(clip, fps=2.0), explain(clip, fps=4.0))   # doctest: +SKIP
>>> [(r.key, r.a, r.b) for r in c.differences][:2]                 # doctest: +SKIP
[('nframes', 16, 32), ('frame_indices', [0, 17, ...], [0, 8, ...])]
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Row", "Comparison", "compare", "ROW_KEYS"]

# Row keys in table order; the UI's word table translates them.
ROW_KEYS = (
    "model",
    "pipeline",
    "media",
    "decoder",
    "video_frames",
    "video_fps",
    "nframes",
    "frame_indices",
    "sample_fps",
    "resized_size",
    "resize_rule",
    "pixel_budget",
    "grid_thw",
    "pixel_values_shape",
    "pixel_values",
    "vision_tokens",
    "tokens_per_group",
    "time_ids",
    "timestamps",
    "second_per_grid_ts",
    "special_ids",
    "prompt_tokens",
    "input_ids",
    "position_ids",
    "rope_deltas",
    "text_resume",
    "rope_layout",
)

LABELS = {
    "model": "model family",
    "pipeline": "pipeline",
    "media": "media",
    "decoder": "video decoder",
    "video_frames": "frame count the decoder reports",
    "video_fps": "fps the decoder reports",
    "nframes": "frames taken",
    "frame_indices": "frame indices",
    "sample_fps": "sample_fps",
    "resized_size": "resized size (H x W)",
    "resize_rule": "resize rule",
    "pixel_budget": "pixel budget [min, max] of the first resize",
    "grid_thw": "grid_thw",
    "pixel_values_shape": "pixel_values shape",
    "pixel_values": "pixel_values (digest of what makes them: media, frames, resizes, patch sizes, normalization)",
    "vision_tokens": "vision tokens",
    "tokens_per_group": "tokens per temporal group",
    "time_ids": "time ids (T offset per temporal group)",
    "timestamps": "timestamps",
    "second_per_grid_ts": "second_per_grid_ts",
    "special_ids": "vision_start / vision_end / image_pad / video_pad ids",
    "prompt_tokens": "prompt length (tokens)",
    "input_ids": "input_ids (digest)",
    "position_ids": "MRoPE position ids (digest)",
    "rope_deltas": "rope_deltas",
    "text_resume": "position id of the first text token after the media",
    "rope_layout": "how the LLM rotates by the position ids",
}

# Rows whose values are digests of long arrays: the detail names the first place the arrays differ.
_ARRAYS = {"input_ids": lambda t: np.asarray(t.input_ids), "position_ids": lambda t: np.asarray(t.rope.position_ids)}


@dataclass(frozen=True)
class Row:
    key: str  # one of ROW_KEYS
    label: str  # English label (the UI translates by key)
    a: Any  # value for the left trace (None: not applicable)
    b: Any
    differs: bool
    detail: str  # e.g. "only in a: [17, 50]; only in b: [15, 46]"; "" when equal


@dataclass(frozen=True)
class Comparison:
    a_label: str  # "Qwen2.5-VL · official · fps 2"
    b_label: str
    same_media: bool
    rows: tuple[Row, ...]  # every row, in ROW_KEYS order
    explanation: str

    @property
    def differences(self) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if r.differs)

    def as_table(self) -> list[list[Any]]:
        """``[[label, a, b, differs], ...]`` for a table widget."""
        return [[r.label, r.a, r.b, r.differs] for r in self.rows]


def _label(t) -> str:
    p = t.params
    bits = [t.profile.display_name, t.pipeline.value]
    if t.kind == "video":
        bits.append(f"nframes {p.nframes}" if p.nframes is not None else f"fps {p.fps if p.fps is not None else 2.0:g}")
        bits.append(p.decoder)
    for name in ("min_pixels", "max_pixels", "total_pixels"):
        v = getattr(p, name)
        if v is not None:
            bits.append(f"{name} {v:.0f}")
    return " · ".join(bits)


def _time_ids(t) -> list[int] | None:
    """T offset (``time_id``) of every temporal group of the first vision item."""
    ids = [g.time_id for r in t.rope.runs if r.item == 0 for g in r.groups]
    return ids or None


def _digest(x: np.ndarray) -> str:
    """12 hex digits of blake2b over dtype, shape and bytes: equal digests, equal arrays."""
    h = hashlib.blake2b(f"{x.dtype}{x.shape}".encode(), digest_size=6)
    h.update(np.ascontiguousarray(x).view(np.uint8))
    return h.hexdigest()


def _pixel_recipe(t) -> str:
    """A digest of everything ``pixel_values`` is made from, without making them (that decodes every frame):
    the media's content, the decoder, the frames taken, each resize actually done and its resampler, and the
    profile's ``pixel_format``. Equal recipes give equal rows (Qwen3-VL vs Qwen3.5: the same tensor)."""
    resizes = [(s.src, s.dst, m) for s, m in zip(t.resize.steps, t.resize.methods) if s.changed]
    recipe = (t.kind, t.media.content_hash, None if t.decoder is None else t.decoder.label, t.exif_applied,
              tuple(t.frame_indices), resizes, t.profile.pixel_format)
    return hashlib.blake2b(repr(recipe).encode(), digest_size=6).hexdigest()


def _first_difference(x: np.ndarray, y: np.ndarray) -> str:
    """Where two token arrays first differ, as a formula: ``token 0: 151644 ≠ 248045`` or, when one is a
    prefix of the other, ``tokens 0..5835 =; 5836 vs 5838``."""
    if x.ndim == 2:  # position ids (3, tokens): one (t, h, w) column per token
        x, y = x.T, y.T
    n = min(len(x), len(y))
    neq = np.nonzero((x[:n] != y[:n]).reshape(n, -1).any(axis=1))[0]
    if len(neq):
        k = int(neq[0])
        return f"token {k}: {x[k].tolist()} ≠ {y[k].tolist()}"
    return f"tokens 0..{n - 1} =; {len(x)} vs {len(y)}"


def _rope_layout(p) -> str:
    """``mrope_section [11, 11, 10] interleaved; rotary 64/256 dims; rope_theta 1e+07``."""
    order = "interleaved" if p.mrope_interleaved else "blocks"
    return (f"mrope_section {list(p.mrope_section)} {order}; rotary {p.rotary_dim}/{p.llm_head_dim} dims; "
            f"rope_theta {p.rope_theta:g}")


def _values(t) -> dict[str, Any]:
    s = t.sampling
    pr = t.prompt
    last_run = t.prompt.runs[-1] if t.prompt.runs else None
    return {
        "model": t.profile.display_name,
        "pipeline": t.pipeline.value,
        "media": os.path.basename(t.media.path),
        "decoder": None if t.decoder is None else t.decoder.label,
        "video_frames": None if t.decoder is None else t.decoder.frames,
        "video_fps": None if t.decoder is None else t.decoder.fps,
        "nframes": None if s is None else s.nframes,
        "frame_indices": None if s is None else list(s.indices),
        "sample_fps": None if s is None else s.sample_fps,
        "resized_size": [t.resize.height, t.resize.width],
        "resize_rule": t.resize.branch,
        "pixel_budget": [float(t.resize.min_pixels), float(t.resize.max_pixels)],
        "grid_thw": list(t.patchify.grid_thw),
        "pixel_values_shape": list(t.patchify.shape),
        "pixel_values": _pixel_recipe(t),
        **{key: _digest(get(t)) for key, get in _ARRAYS.items()},
        "vision_tokens": t.num_vision_tokens,
        "tokens_per_group": t.resize.tokens_per_group,
        "time_ids": _time_ids(t) if t.kind == "video" else None,
        "timestamps": None if pr.timestamp_strings is None else list(pr.timestamp_strings),
        "second_per_grid_ts": pr.second_per_grid_ts,
        "special_ids": list(t.profile.special_ids.values()),
        "prompt_tokens": pr.num_tokens,
        "rope_deltas": int(t.rope.rope_deltas),
        # the token right after the last pad run (its <|vision_end|>) is the first text token after the media
        "text_resume": None if last_run is None else int(t.rope.position_ids[0, last_run.end]),
        "rope_layout": _rope_layout(t.profile),
    }


def _equal(x, y) -> bool:
    if isinstance(x, float) and isinstance(y, float):
        return math.isclose(x, y, rel_tol=1e-12, abs_tol=0.0)
    return x == y


def _detail(key: str, x, y) -> str:
    if key == "frame_indices" and x is not None and y is not None:
        only_a = sorted(set(x) - set(y))
        only_b = sorted(set(y) - set(x))
        common = len(set(x) & set(y))
        return f"{common} in common; only in a: {only_a}; only in b: {only_b}"
    if key in ("vision_tokens", "prompt_tokens", "nframes") and isinstance(x, int) and isinstance(y, int):
        return f"b - a = {y - x:+d}" + (f" ({y / x:.2f}x)" if x else "")
    if key == "resized_size" and x and y:
        return f"{x[0] * x[1]} vs {y[0] * y[1]} px per frame"
    if key == "time_ids" and x is not None and y is not None and len(x) != len(y):
        return f"{len(x)} vs {len(y)} temporal groups"
    return ""


def compare(a, b) -> Comparison:
    """Every quantity of the two traces side by side, with ``differs`` set where they disagree."""
    va, vb = _values(a), _values(b)
    same_media = a.media.content_hash == b.media.content_hash  # the same file may sit at two paths
    rows = []
    for key in ROW_KEYS:
        x, y = va[key], vb[key]
        differs = not same_media if key == "media" else not _equal(x, y)
        detail = ""
        if differs:
            detail = _first_difference(_ARRAYS[key](a), _ARRAYS[key](b)) if key in _ARRAYS else _detail(key, x, y)
        rows.append(Row(key, LABELS[key], x, y, differs, detail))
    diffs = [r for r in rows if r.differs and r.key != "media"]
    lines = [f"a: {_label(a)}", f"b: {_label(b)}"]
    if not same_media:
        lines.append("note: the two columns show different media")
    if diffs:
        lines.append(f"{len(diffs)} differences: " + ", ".join(r.label for r in diffs))
    else:
        lines.append("no differences: both settings give the same numbers")
    return Comparison(_label(a), _label(b), same_media, tuple(rows), "\n".join(lines))
