"""One paragraph per view, in the chosen language, with the live numbers of the Trace filled in.

Only formatting: every number is a Trace field (or a string the library built, e.g. a formula).
"""

from __future__ import annotations

import html

from ..trace import Trace
from ..words import local, tr

__all__ = ["media_text", "timeline_text", "resize_text", "patch_text", "rope_text", "prompt_text", "budget_text",
           "banner_text"]


def banner_text(trace: Trace, lang: str) -> str:
    import os

    return tr("ok_banner", lang, model=trace.profile.display_name, pipeline=tr(trace.pipeline.value, lang),
              media=os.path.basename(trace.media.path), tokens=f"{trace.num_vision_tokens:,}",
              total=f"{trace.prompt.num_tokens:,}")


def media_text(trace: Trace, lang: str) -> str:
    m = trace.media
    if m.kind == "video":
        rot = tr("n_rot", lang, r=m.rotation, cw=m.coded_width, ch=m.coded_height, w=m.width, h=m.height) \
            if m.rotation else ""
        return tr("n_media_video", lang, container=m.container, w=m.width, h=m.height, frames=m.frames,
                  fps=m.fps or 0.0, duration=m.duration or 0.0, rot=rot)
    if m.exif_orientation in (None, 1):
        exif = tr("n_exif_none", lang)
    else:
        exif = tr("n_exif", lang, o=m.exif_orientation,
                  how=tr("b_applied" if trace.exif_applied else "b_not_applied", lang))
    return tr("n_media_image", lang, container=m.container, w=m.width, h=m.height, mode=m.mode, exif=exif)


def timeline_text(trace: Trace, lang: str) -> str:
    s, pt = trace.sampling, trace.patchify
    if s is None:
        return tr("n_timeline_image", lang, tp=pt.temporal_patch_size)
    req = f"nframes {s.requested_nframes}" if s.requested_nframes is not None else f"fps {s.requested_fps:g}"
    pad = tr("n_pad", lang, k=pt.pad_frames) if pt.pad_frames else ""
    return tr("n_timeline", lang, rule=s.rule, fps=s.video_fps, req=req, formula=s.formula, n=s.nframes,
              total=s.total_frames, by=s.decided_by, sfps=s.sample_fps, tp=pt.temporal_patch_size,
              groups=pt.grid_thw[0], pad=pad)


def resize_text(trace: Trace, lang: str) -> str:
    rz, pf = trace.resize, trace.profile
    step = rz.deciding_step
    return tr("n_resize", lang, src_w=trace.input_width, src_h=trace.input_height, w=rz.width, h=rz.height,
              f=rz.factor, p=pf.patch_size, m=pf.merge_size, branch=local(step.branch, lang), budget=step.budget,
              resizes=rz.resizes, resampler=local(rz.resampler, lang), scale=rz.scale, aspect=rz.aspect_change,
              tpg=rz.tokens_per_group)


def budget_text(trace: Trace, lang: str) -> str:
    rz, pf = trace.resize, trace.profile
    return tr("budget_now", lang, lo=f"{rz.min_pixels:,.0f}", lo_t=f"{pf.pixels_to_tokens(rz.min_pixels):,.1f}",
              hi=f"{rz.max_pixels:,.0f}", hi_t=f"{pf.pixels_to_tokens(rz.max_pixels):,.1f}", f=pf.factor,
              f2=pf.factor**2)


def patch_text(trace: Trace, lang: str) -> str:
    from ..figures.patch_grid import qwen25_windows

    pt, rz = trace.patchify, trace.resize
    _, gh, gw = pt.grid_thw
    win = ""
    w = qwen25_windows(trace)
    if w is not None:
        win = tr("n_windows", lang, wp=w.window_patches, wpx=w.window_px, wm=w.window_merged, nw=w.count,
                 full=", ".join(str(b) for b in w.full_blocks))
    return tr("n_patch", lang, h=rz.height, w=rz.width, gh=gh, gw=gw, p=pt.patch_size, tp=pt.temporal_patch_size,
              m=pt.merge_size, rows=f"{pt.rows:,}", row_len=pt.row_len, tokens=f"{pt.num_tokens:,}", win=win)


def rope_text(trace: Trace, lang: str) -> str:
    rope, pr = trace.rope, trace.prompt
    if trace.kind == "image":
        time = tr("n_time_image", lang)
    elif trace.profile.timestamps:
        ts = pr.timestamp_strings or ("", "")
        time = tr("n_time_qwen3", lang, model=trace.profile.display_name, first=f"`{ts[0]}`", last=f"`{ts[-1]}`")
    elif trace.profile.tokens_per_second is not None:
        time = tr("n_time_qwen25", lang, spg=pr.second_per_grid_ts, tps=trace.profile.tokens_per_second,
                  iv=rope.time_interval[0] or 0.0)
    else:
        time = tr("n_time_qwen2", lang)
    last = rope.runs[-1] if rope.runs else None
    resume = "—"
    if last is not None:
        resume = last.resume_release if rope.text_resume == "release" else last.resume_transformers
    coll = ""
    if rope.collisions:
        coll = tr("n_collide", lang, n=len(rope.collisions), iv=rope.time_interval[0] or 0.0)
    pf = trace.profile
    rows = tr("n_rope_rows", lang, last=max(len(rope.text_position_ids) - 1, 0), model=pf.display_name,
              rd=rope.rotary_dim, hd=pf.llm_head_dim, prf=pf.partial_rotary_factor, nf=len(rope.inv_freq),
              theta=pf.rope_theta, sec=list(rope.mrope_section))
    return tr("n_rope", lang, time=time + " ", resume=resume, rule=tr(rope.text_resume, lang),
              deltas=rope.rope_deltas, coll=coll) + rows


def prompt_text(trace: Trace, lang: str) -> str:
    pr = trace.prompt
    pad = "`<|image_pad|>`" if trace.kind == "image" else "`<|video_pad|>`"
    ts = tr("n_prompt_ts", lang, model=trace.profile.display_name) if pr.timestamp_strings else ""
    pf = trace.profile
    pad_id = pf.image_pad_id if trace.kind == "image" else pf.video_pad_id
    ids = tr("n_prompt_ids", lang, model=pf.display_name, vs="`<|vision_start|>`", vs_id=pf.vision_start_id,
             pad=pad, pad_id=pad_id, ve="`<|vision_end|>`", ve_id=pf.vision_end_id)
    text = tr("n_prompt", lang, n=f"{pr.num_vision_tokens:,}", pad=pad, tokens=f"{pr.num_tokens:,}",
              vision=f"{pr.num_vision_tokens:,}", text=f"{pr.num_tokens - pr.num_vision_tokens:,}", ts=ts) + ids
    if pr.note and pr.timestamp_strings:  # the Qwen3 outer-wrapper difference, told from the Prompt's fields
        which = tr("n_wrap_kept" if pr.qwen3_outer_wrapper else "n_wrap_release", lang)
        note = tr("n_prompt_wrapper", lang, d=abs(pr.alt_num_tokens - pr.num_tokens), which=which,
                  n=pr.num_tokens, alt=pr.alt_num_tokens)
        text += f"\n\n<small>{html.escape(note)}</small>"
    elif pr.note:
        text += f"\n\n<small>{html.escape(pr.note)}</small>"
    return text
