"""Lesson mode: the stages in the order a group meeting walks them, one screen each, narrated with the
live numbers of the current Trace.

A step is data (:data:`STEPS`): its title key, the narration functions that fill it, and which glance
view it shows beside the text. ``lesson_views`` only picks and joins what the views and narrations
already rendered; no number is computed here beyond formatting Trace fields.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..trace import Trace
from ..words import tr
from . import narration

__all__ = ["Step", "STEPS", "N_STEPS", "clamp_step", "move_step", "lesson_text", "lesson_views"]


def _sampling_lead(trace: Trace, lang: str) -> str:
    s = trace.sampling
    if s is None:
        return tr("l_sampling_image", lang)
    return tr("l_sampling_lead", lang, formula=s.formula, n=s.nframes, total=s.total_frames, fps=f"{s.video_fps:g}",
              sfps=f"{s.sample_fps:.4f}")


def _resize_lead(trace: Trace, lang: str) -> str:
    rz = trace.resize
    return tr("l_resize_lead", lang, w0=trace.input_width, h0=trace.input_height, w=rz.width, h=rz.height,
              f=rz.factor, tok=rz.tokens_per_group)


def _patch_lead(trace: Trace, lang: str) -> str:
    t, gh, gw = trace.patchify.grid_thw
    m = trace.patchify.merge_size
    return tr("l_patch_lead", lang, t=t, h=gh, w=gw, n=t * gh * gw, m=m, tok=t * gh * gw // (m * m))


def _prompt_lead(trace: Trace, lang: str) -> str:
    ts = trace.prompt.timestamp_strings
    if ts:
        return tr("l_prompt_ts", lang, n=len(ts), first=ts[0], last=ts[-1])
    return tr("l_prompt_lead", lang, n=f"{trace.prompt.num_vision_tokens:,}")


def _encoder_text(trace: Trace, lang: str) -> str:
    return tr("l_encoder_lead", lang, rows=f"{trace.patchify.rows:,}", tokens=f"{trace.num_vision_tokens:,}",
              m=trace.patchify.merge_size)


@dataclass(frozen=True)
class Step:
    key: str  # word-table key of its title
    texts: tuple[Callable[[Trace, str], str], ...]  # narration paragraphs, in order
    view: str  # the glance view shown beside the text
    caption: str = ""  # the glance caption that goes with it (what the picture is: e.g. random weights)


STEPS: tuple[Step, ...] = (
    Step("l_media", (narration.media_text,), "g_frames"),
    Step("l_sampling", (_sampling_lead, narration.timeline_text), "g_frames"),
    Step("l_resize", (_resize_lead, narration.resize_text, narration.budget_text), "g_patches"),
    Step("l_patch", (_patch_lead, narration.patch_text), "g_patches"),
    Step("l_prompt", (_prompt_lead, narration.prompt_text), "g_timestamps"),
    Step("l_rope", (narration.rope_text,), "g_time_ids"),
    Step("l_encoder", (_encoder_text,), "g_heatmaps", "g_heat_cap"),
)
N_STEPS = len(STEPS)


def clamp_step(step: float | int | None) -> int:
    return min(max(int(step or 0), 0), N_STEPS - 1)


def move_step(step: float | int | None, delta: int) -> int:
    """The step after ``delta`` presses of next (+1) or prev (-1), kept inside the lesson."""
    return clamp_step(clamp_step(step) + delta)


def lesson_text(trace: Trace, step: int, lang: str) -> str:
    """The step's Markdown: 'Step k / 7 · title', then its paragraphs with the live numbers."""
    st = STEPS[clamp_step(step)]
    head = tr("l_step", lang, k=clamp_step(step) + 1, n=N_STEPS, title=tr(st.key, lang))
    body = "\n\n".join(p for p in (fn(trace, lang) for fn in st.texts) if p)
    return f"### {head}\n\n{body}"


def lesson_views(trace: Trace, step: int, lang: str, rendered: dict) -> tuple[str, str | None, str]:
    """(Markdown, picture path or None, HTML table or "") of ``step``, from the glance views in ``rendered``
    ({name: value})."""
    st = STEPS[clamp_step(step)]
    value = rendered.get(st.view)
    is_picture = st.view in ("g_frames", "g_patches", "g_heatmaps")
    text = lesson_text(trace, step, lang)
    if st.caption and rendered.get(st.caption):
        text += "\n\n" + rendered[st.caption]  # the cell's own words: which tower, random weights or not
    return text, (value if is_picture else None), ("" if is_picture else (value or ""))
