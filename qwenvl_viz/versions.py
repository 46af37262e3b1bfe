"""Where the tools and transformers versions disagree, with the numbers for THIS media and settings.

``version_differences(trace)`` returns one :class:`VersionDiff` per behaviour that applies to the
trace's family and media, each with the value every variant gives (``differs`` says whether they
disagree here) and which versions do what. Facts: shared/reference/qwen-vl-pipeline.md §2.5, §2.6,
§3.1, §6.1:

- text position after a vision block: ``max + 1`` (transformers 4.x and 5.0, the release code) vs
  ``s + max(h, w) / merge`` (5.12 .. 5.23, the temporal axis ignored);
- Qwen3-VL video prompt: 4.57 / 5.0 replace ``<|vision_start|><|video_pad|><|vision_end|>`` by the
  timestamped blocks, 5.12 .. 5.23 keep the outer pair (+2 tokens per video);
- Qwen2.5-VL time ids: float ``second_per_grid_t`` (4.49 release, 5.23) vs cast to int first
  (4.5x .. 5.0; ``int()`` on the interval in 5.12);
- Qwen2.5-VL ``second_per_grid_ts`` source in 5.x: ``video_metadata.sampled_fps``; without metadata it
  falls back to fps 24;
- video pixel budgets: qwen-vl-utils per frame vs the processor's Hub budget (Qwen3: whole clip
  T*H*W) vs the processor's opt-in ``cap_pixels_per_frame`` (5.2x);
- frame indices: qwen-vl-utils ``round(linspace)`` vs the processor's ``sample_frames``.

The other variants' numbers come from ``explain()`` with the other settings (metadata only, no pixels).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .errors import VizError
from .profiles import Pipeline
from .rope import qwen25_time_ids
from .words import join_texts, say

__all__ = ["Variant", "VersionDiff", "version_differences", "VERSION_KEYS"]

VERSION_KEYS = (
    "text_resume",
    "qwen3_outer_wrapper",
    "int_cast_time_ids",
    "second_per_grid_ts_source",
    "video_budget",
    "image_budget",
    "frame_indices",
    "video_backend",
)
FALLBACK_FPS = 24  # transformers VideoMetadata: fps missing -> 24


@dataclass(frozen=True)
class Variant:
    label: str  # short name of the behaviour ("release: max + 1")
    versions: str  # which tools / transformers versions behave so
    value: Any  # what it gives for this media (JSON-able); a str message when it cannot run
    shown: bool  # the page currently shows this variant


@dataclass(frozen=True)
class VersionDiff:
    key: str  # one of VERSION_KEYS
    view: str  # the view it affects: "rope", "prompt", "resize", "sampling"
    title: str
    differs: bool  # the variants give different numbers for this media and settings
    variants: tuple[Variant, ...]
    explanation: str


def _rerun(trace, **changes):
    """``explain()`` on the same media with some settings changed; a VizError comes back as its message."""
    from .trace import explain

    params = {k: v for k, v in dataclasses.asdict(trace.params).items() if v is not None}
    pipeline = changes.pop("pipeline", trace.pipeline)
    params.update(changes)
    try:
        return explain(trace.media, model=trace.model, pipeline=pipeline, **params)
    except VizError as e:
        return f"not available: {e}"


def _after_media(pos, trace) -> int | None:
    """Position id (T axis) of the token right after the last pad run: the first text after the media."""
    runs = trace.prompt.runs
    return int(pos[0, runs[-1].end]) if runs else None


def _text_resume(trace) -> VersionDiff:
    r = trace.rope
    main = {"next_text_position": _after_media(r.position_ids, trace), "rope_deltas": int(r.rope_deltas)}
    alt = {"next_text_position": _after_media(r.alt_position_ids, trace), "rope_deltas": int(r.alt_rope_deltas)}
    values = {r.text_resume: main, r.alt_text_resume: alt}
    differs = bool(r.differ_at.size)
    run = r.runs[-1] if r.runs else None
    how = ""
    if run is not None:
        _, hm, wm = run.llm_grid
        tmax = max(g.time_id for g in run.groups)
        how = say("vd_resume_how", s=run.start_position, grid=run.llm_grid, tmax=tmax, h=hm - 1, w=wm - 1,
                  release=run.resume_release, transformers=run.resume_transformers)
    expl = (say("vd_resume_differ", n=r.differ_at.size) if differs else say("vd_resume_same")) + how
    return VersionDiff(
        key="text_resume",
        view="rope",
        title="Text position after a vision block (MRoPE)",
        differs=differs,
        variants=(
            Variant(say("vd_release_rule"), say("vd_release_who"), values["release"], r.text_resume == "release"),
            Variant("s + max(h, w) / merge_size", say("vd_transformers_who"), values["transformers"],
                    r.text_resume == "transformers"),
        ),
        explanation=expl,
    )


def _outer_wrapper(trace) -> VersionDiff:
    cur = trace.prompt.qwen3_outer_wrapper
    other = _rerun(trace, qwen3_outer_wrapper=not cur)

    def value(t):
        if isinstance(t, str):
            return t
        return {"prompt_tokens": t.prompt.num_tokens, "rope_deltas": int(t.rope.rope_deltas),
                "vision_blocks": len(t.prompt.runs)}

    vals = {cur: value(trace), (not cur): value(other)}
    n_videos = sum(1 for it in trace.prompt.items if it.kind == "video")
    return VersionDiff(
        key="qwen3_outer_wrapper",
        view="prompt",
        title="Qwen3-VL: the outer <|vision_start|> / <|vision_end|> around a video's timestamped blocks",
        differs=True,
        variants=(
            Variant(say("vd_outer_replaced"), say("vd_outer_replaced_who"), vals[False], not cur),
            Variant(say("vd_outer_kept"), "transformers 5.12 .. 5.23", vals[True], cur),
        ),
        explanation=say("vd_outer_expl", n=2 * n_videos),
    )


def _int_cast(trace) -> VersionDiff:
    run = next(r for r in trace.rope.runs if r.kind == "video")
    spg = trace.prompt.items[run.item].second_per_grid_t
    tps = trace.profile.tokens_per_second
    floats = [g.time_id for g in run.groups]
    casted = [g.int_cast_time_id for g in run.groups]
    differs = floats != casted
    return VersionDiff(
        key="int_cast_time_ids",
        view="rope",
        title="Qwen2.5-VL: time ids of the temporal groups",
        differs=differs,
        variants=(
            Variant(f"long(k * {spg:.6g} * {tps})", say("vd_float_who"), floats, True),
            Variant(f"k * int({spg:.6g}) * {tps}", say("vd_cast_who"), casted, False),
        ),
        explanation=(
            f"second_per_grid_t = {spg:.6g} s; "
            + ((say("vd_cast_changes", n=int(spg)) + (say("vd_cast_zero") if int(spg) == 0 else ""))
               if differs else say("vd_cast_same"))
        ),
    )


def _spg_source(trace) -> VersionDiff:
    item = next(it for it in trace.prompt.items if it.kind == "video")
    tp = trace.profile.temporal_patch_size
    spg = item.second_per_grid_t
    fallback = tp / FALLBACK_FPS
    t = item.llm_grid[0]
    tps = trace.profile.tokens_per_second
    ids = qwen25_time_ids(t, spg, tps).tolist()
    ids_fb = qwen25_time_ids(t, fallback, tps).tolist()
    return VersionDiff(
        key="second_per_grid_ts_source",
        view="rope",
        title="Qwen2.5-VL: where second_per_grid_ts comes from",
        differs=ids != ids_fb,
        variants=(
            Variant("Tp / sample_fps", say("vd_meta_who"), {"second_per_grid_ts": spg, "time_ids": ids}, True),
            Variant(say("vd_fallback_rule", fps=FALLBACK_FPS), say("vd_fallback_who"),
                    {"second_per_grid_ts": fallback, "time_ids": ids_fb}, False),
        ),
        explanation=say("vd_spg_expl", tp=tp, sfps=f"{item.sample_fps:.6g}", spg=f"{spg:.6g}", fps=FALLBACK_FPS,
                        fb=f"{fallback:.4g}"),
    )


def _size(t) -> Any:
    if isinstance(t, str):
        return t
    return {"resized": [t.resize.height, t.resize.width], "grid_thw": list(t.patchify.grid_thw),
            "vision_tokens": t.num_vision_tokens, "nframes": t.patchify.nframes}


def _budgets(trace) -> VersionDiff:
    video = trace.kind == "video"
    qwen3 = trace.profile.processor_video_budget_whole_clip  # Qwen3-VL's whole-clip video budget
    cap = trace.params.cap_pixels_per_frame
    official = trace if trace.pipeline is Pipeline.OFFICIAL else _rerun(trace, pipeline=Pipeline.OFFICIAL)
    proc = (trace if trace.pipeline is Pipeline.PROCESSOR and not cap
            else _rerun(trace, pipeline=Pipeline.PROCESSOR, cap_pixels_per_frame=False))
    pf = trace.profile
    if video:
        lo, hi = pf.processor_video_min_pixels, pf.processor_video_max_pixels
        proc_rule = say("vd_whole_clip" if qwen3 else "vd_per_frame", lo=lo, hi=hi)
        variants = [
            Variant(say("vd_qvu_video"), say("vd_qvu_who"), _size(official), trace.pipeline is Pipeline.OFFICIAL),
            Variant("processor: " + proc_rule + say("vd_hub"),
                    ("transformers 4.57 .. 5.23 Qwen3VLVideoProcessor" if qwen3 else say("vd_qwen2_video_who")),
                    _size(proc), trace.pipeline is Pipeline.PROCESSOR and not cap),
        ]
        capped = (trace if trace.pipeline is Pipeline.PROCESSOR and cap
                  else _rerun(trace, pipeline=Pipeline.PROCESSOR, cap_pixels_per_frame=True))
        variants.append(Variant(say("vd_cap_rule"), say("vd_cap_who"), _size(capped),
                                trace.pipeline is Pipeline.PROCESSOR and cap))
        title = ("Qwen3-VL video budget: per frame (qwen-vl-utils) vs whole clip (processor)" if qwen3
                 else "Video pixel budget: qwen-vl-utils vs the processor")
    else:
        variants = [
            Variant(f"qwen-vl-utils: [{pf.qvu_image_min_pixels}, {pf.qvu_image_max_pixels}] px",
                    say("vd_qvu_who"), _size(official), trace.pipeline is Pipeline.OFFICIAL),
            Variant(f"processor: [{pf.processor_image_min_pixels}, {pf.processor_image_max_pixels}] px" + say("vd_hub"),
                    say("vd_image_proc_who"), _size(proc), trace.pipeline is Pipeline.PROCESSOR),
        ]
        title = "Image pixel budget: qwen-vl-utils vs the processor"
    sizes = [v.value for v in variants if isinstance(v.value, dict)]
    differs = any(s != sizes[0] for s in sizes[1:]) or len(sizes) < len(variants)
    return VersionDiff(
        key="video_budget" if video else "image_budget",
        view="resize",
        title=title,
        differs=differs,
        variants=tuple(variants),
        explanation=say("vd_budget_expl"),
    )


def _frame_indices(trace) -> VersionDiff:
    official = trace if trace.pipeline is Pipeline.OFFICIAL else _rerun(trace, pipeline=Pipeline.OFFICIAL)
    proc = trace if trace.pipeline is Pipeline.PROCESSOR else _rerun(trace, pipeline=Pipeline.PROCESSOR)

    def value(t):
        if isinstance(t, str):
            return t
        return {"nframes": t.sampling.nframes, "indices": list(t.sampling.indices), "sample_fps": t.sampling.sample_fps}

    a, b = value(official), value(proc)
    qwen3 = trace.profile.sampling_rule == "qwen3"
    differs = isinstance(a, str) or isinstance(b, str) or a["indices"] != b["indices"]
    return VersionDiff(
        key="frame_indices",
        view="sampling",
        title="Which frames are taken: qwen-vl-utils vs the processor",
        differs=differs,
        variants=(
            Variant("round(linspace(start, end, n)), " + say("vd_n_even"), say("vd_qvu_who"),
                    a, trace.pipeline is Pipeline.OFFICIAL),
            Variant("round(linspace(0, total - 1, n)), n = int(total / fps * fps), " + say("vd_odd_ok") if qwen3
                    else "int(arange(0, total, total / n)), " + say("vd_n_tp"),
                    "transformers 5.23 " + ("Qwen3VLVideoProcessor" if qwen3 else "Qwen2VLVideoProcessor")
                    + ".sample_frames (do_sample_frames=True)", b, trace.pipeline is Pipeline.PROCESSOR),
        ),
        explanation=say("vd_frames_expl"),
    )


def _video_backend(trace) -> VersionDiff:
    """The backend rows: the same request as torchcodec, decord and PyAV read the file."""
    from .decoders import DECODER_VERSIONS, compare_decoders

    rep = compare_decoders(trace)

    def value(r):
        if r.error:
            return r.error
        return {"frames": r.frames, "fps": r.fps, "rotation_applied": r.rotation_applied,
                "resized": list(r.resized), "tokens": r.tokens, "indices": list(r.indices)}

    vals = [value(r) for r in rep.rows]
    differs = any(v != vals[0] for v in vals[1:])
    return VersionDiff(
        key="video_backend",
        view="sampling",
        title="Which video decoder reads the file: torchcodec, decord or PyAV",
        differs=differs,
        variants=tuple(Variant(r.decoder.value, DECODER_VERSIONS[r.decoder], v, r.decoder is rep.follows)
                       for r, v in zip(rep.rows, vals)),
        explanation=say("vd_backend_expl") + (join_texts("; ", rep.differences) if rep.differences
                                               else say("vd_backend_agree")),
    )


def version_differences(trace) -> list[VersionDiff]:
    """Every version / tool difference that applies to this trace's family and media, in VERSION_KEYS order."""
    out = []
    video = trace.kind == "video"
    if trace.prompt.runs:
        out.append(_text_resume(trace))
    if video and trace.profile.timestamps:
        out.append(_outer_wrapper(trace))
    if video and trace.profile.tokens_per_second is not None:
        out.append(_int_cast(trace))
        out.append(_spg_source(trace))
    out.append(_budgets(trace))
    if video:
        out.append(_frame_indices(trace))
        out.append(_video_backend(trace))
    return out
