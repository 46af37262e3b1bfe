"""The teaching panels: the linked selection, version differences, the comparison of two settings and
the exports. Only rendering: every number comes from :mod:`qwenvl_viz.selection`,
:mod:`qwenvl_viz.versions`, :mod:`qwenvl_viz.compare` and :mod:`qwenvl_viz.export`.

The selection travels between requests as a short string, ``"rx,ry,frame,hash"``: the click as a
fraction of the resized frame, the raw frame it was made on and the media's content hash. That is what
survives a parameter change (a new max_pixels keeps the same place in the picture, a new fps the group
holding the same moment); :func:`qwenvl_viz.selection.select_relative` turns it back into a Selection.
"""

from __future__ import annotations

import os
import uuid
from html import escape
from typing import Any

from PIL import Image, ImageDraw

from ..compare import Comparison
from ..errors import VizError
from ..figures.patch_grid import SELECT_COLOR
from ..selection import Selection, select_relative
from ..trace import Trace
from ..versions import VersionDiff
from ..words import WORDS, local, tr
from .state import EXPORTS

__all__ = ["encode_selection", "decode_selection", "resolve_selection", "selection_html", "selection_image",
           "versions_html", "version_note", "compare_html", "export_files", "VIEW_OF_DIFF", "regroup_selection"]

# versions.VersionDiff.view -> the narration that carries its note
VIEW_OF_DIFF = {"rope": "rope_text", "prompt": "prompt_text", "resize": "resize_text", "sampling": "timeline_text"}
MAX_LIST = 12  # longer lists are shown as their first items and a count


# ---- the selection as a string ------------------------------------------------------------------

def _anchor(trace: Trace, group: int) -> int:
    """The raw frame that stands for temporal group ``group`` (its first; 0 for an image)."""
    g = min(max(int(group), 0), trace.patchify.grid_thw[0] - 1)
    return trace.frame_indices[trace.patchify.groups[g][0]] if trace.sampling is not None else 0


def encode_selection(trace: Trace, group: int, x: float, y: float, width: int, height: int) -> str:
    """A click at ``(x, y)`` of a ``width`` x ``height`` picture of temporal group ``group``."""
    rx = min(max((x + 0.5) / width, 0.0), 1 - 1e-9)  # the centre of the clicked display pixel
    ry = min(max((y + 0.5) / height, 0.0), 1 - 1e-9)
    return f"{rx:.6f},{ry:.6f},{_anchor(trace, group)},{trace.media.content_hash}"


def decode_selection(text: str | None) -> tuple[float, float, int, str] | None:
    if not text:
        return None
    try:
        rx, ry, frame, media_hash = text.split(",", 3)
        return float(rx), float(ry), int(frame), media_hash
    except ValueError:
        return None


def resolve_selection(trace: Trace, text: str | None) -> Selection | None:
    """The Selection a string stands for in ``trace``, or None (none made, other media, frame not sampled)."""
    parsed = decode_selection(text)
    if parsed is None:
        return None
    rx, ry, frame, media_hash = parsed
    try:
        return select_relative(trace, rx, ry, frame, media_hash)
    except VizError:
        return None


def regroup_selection(trace: Trace, text: str | None, group: int) -> str | None:
    """The same point moved to temporal group ``group`` (the user moved the group slider)."""
    parsed = decode_selection(text)
    if parsed is None:
        return None
    rx, ry, _, media_hash = parsed
    return f"{rx:.6f},{ry:.6f},{_anchor(trace, group)},{media_hash}"


# ---- the selection panel -------------------------------------------------------------------------

def _row(key: str, label: str, value: str) -> str:
    return f'<tr data-key="{key}"><th>{escape(label)}</th><td>{value}</td></tr>'


def selection_html(trace: Trace, sel: Selection | None, lang: str) -> str:
    """Where the selected patch goes, stage by stage; ``data-*`` attributes carry the raw numbers."""
    if sel is None:
        return f'<div class="sel-panel sel-empty" id="selection-panel">{escape(tr("sel_hint", lang))}</div>'
    pt = trace.patchify
    _, gh, gw = pt.grid_thw
    h_px, w_px = sel.frame_size
    m = pt.merge_size
    frames = []
    for f in sel.frames:
        if trace.sampling is None:
            frames.append(tr("sel_image_copy", lang) if f.padding else tr("sel_image", lang))
        else:
            text = tr("sel_frame", lang, i=f.raw_index, s=f"{f.seconds:.2f}")
            frames.append(tr("sel_pad", lang, what=text) if f.padding else text)
    t, h, w = sel.position_ids
    rope_run = trace.rope.runs[sel.run]
    time = tr("sel_time", lang, tid=sel.time_id, s=rope_run.start_position, t=t, h=h, w=w, bh=sel.block[0],
              bw=sel.block[1])
    if sel.seconds is not None:
        time += " · " + tr("sel_seconds", lang, s=f"{sel.seconds:.2f}")
    if sel.int_cast_time_id is not None and sel.int_cast_time_id != sel.time_id:
        time += " · " + tr("sel_int_cast", lang, v=sel.int_cast_time_id)
    rows = [
        _row("patch", tr("sel_k_patch", lang), tr("sel_patch", lang, x=f"{sel.x:.0f}", y=f"{sel.y:.0f}", W=w_px,
                                                          H=h_px, ph=sel.patch[0], pw=sel.patch[1], gh=gh, gw=gw)),
        _row("block", tr("sel_k_block", lang), tr("sel_block", lang, bh=sel.block[0], bw=sel.block[1], m=m,
                                                          patches=", ".join(f"({a}, {b})" for a, b in sel.block_patches))),
        _row("row", tr("sel_k_row", lang), tr("sel_rows", lang, row=f"<b>{sel.row}</b>", a=sel.block_rows[0],
                                                      b=sel.block_rows[-1], n=pt.rows)),
        _row("frames", tr("sel_k_frames", lang), tr("sel_group", lang, g=sel.group) + ": " + ", ".join(frames)),
        _row("token", tr("sel_k_token", lang), tr("sel_token_at", lang, token=f"<b>{sel.token}</b>",
                                                          i=f"<b>{sel.input_index}</b>", run=sel.run, k=sel.run_offset,
                                                          n=pt.num_tokens)),
        _row("position", tr("sel_k_position", lang), f"<b>(t, h, w) = ({t}, {h}, {w})</b> = {escape(time)}"),
    ]
    if sel.window is not None:
        win = sel.window
        rows.append(_row("window", tr("sel_k_window", lang), tr(
            "sel_window", lang, k=win.index_in_frame, side=win.side, r0=win.token_box[0], r1=win.token_box[2] - 1,
            c0=win.token_box[1], c1=win.token_box[3] - 1, n=len(win.tokens),
            full=", ".join(map(str, win.full_attention_blocks)))))
    rows.append(_row("heatmap", tr("sel_k_heatmap", lang), escape(tr("sel_heat", lang, token=sel.token))))
    attrs = dict(x=f"{sel.x:.3f}", y=f"{sel.y:.3f}", group=sel.group, row=sel.row, token=sel.token,
                 input_index=sel.input_index, t=t, h=h, w=w, ph=sel.patch[0], pw=sel.patch[1],
                 window=sel.window.index if sel.window is not None else "")
    data = " ".join(f'data-{k.replace("_", "-")}="{v}"' for k, v in attrs.items())
    derivation = escape(sel.explanation)
    return (f'<div class="sel-panel" id="selection-panel" {data}><table class="sel-table">{"".join(rows)}</table>'
            f'<details><summary>{escape(tr("sel_derivation", lang))}</summary><pre>{derivation}</pre></details></div>')


def selection_image(frame: Image.Image, trace: Trace, sel: Selection | None, group: int) -> Image.Image:
    """The resized frame of ``group`` at display size, merge blocks faintly ruled, the selection outlined
    (patch in magenta, its block in white, its Qwen2.5-VL window dotted yellow)."""
    img = frame.convert("RGB").copy()
    draw = ImageDraw.Draw(img, "RGBA")
    pt = trace.patchify
    _, gh, gw = pt.grid_thw
    W, H = img.size
    sx, sy = W / trace.resize.width, H / trace.resize.height
    unit = pt.patch_size * pt.merge_size
    if max(gh, gw) // pt.merge_size <= 96:  # finer rules would grey the picture out
        for c in range(0, trace.resize.width + 1, unit):
            draw.line([(c * sx, 0), (c * sx, H)], fill=(255, 255, 255, 70), width=1)
        for r in range(0, trace.resize.height + 1, unit):
            draw.line([(0, r * sy), (W, r * sy)], fill=(255, 255, 255, 70), width=1)
    if sel is not None and sel.group == group:
        def box(b):
            return [b[0] * sx, b[1] * sy, b[2] * sx - 1, b[3] * sy - 1]

        if sel.window is not None:
            draw.rectangle(box(sel.window.box), outline=(255, 221, 0, 255), width=3)
        draw.rectangle(box(sel.block_box), outline=(255, 255, 255, 255), width=2)
        draw.rectangle(box(sel.patch_box), outline=SELECT_COLOR, width=3)
    return img


# ---- version differences -------------------------------------------------------------------------

def _compact(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, tuple)):
        items = [_compact(x) for x in v[:MAX_LIST]]
        more = f", … ({len(v)})" if len(v) > MAX_LIST else ""
        return "[" + ", ".join(items) + more + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_compact(x)}" for k, x in v.items()) + "}"
    if isinstance(v, str) and os.path.isabs(v):
        return os.path.basename(v)
    return str(v)


def versions_html(diffs: list[VersionDiff], lang: str) -> str:
    """One table per behaviour: every variant, which versions do it, and its value for this media."""
    if not diffs:
        return f'<div class="versions">{escape(tr("ver_none", lang))}</div>'
    out = ['<div class="versions" id="versions-view">']
    for d in diffs:
        badge = tr("ver_differs", lang) if d.differs else tr("ver_same", lang)
        cls = "ver ver-differs" if d.differs else "ver"
        out.append(f'<div class="{cls}" data-key="{d.key}" data-differs="{str(d.differs).lower()}">'
                   f'<div class="ver-title">{escape(tr("ver_" + d.key, lang))} <span class="ver-badge">{badge}'
                   f'</span></div><table class="ver-table"><tr><th>{escape(tr("ver_rule", lang))}</th>'
                   f'<th>{escape(tr("ver_versions", lang))}</th><th>{escape(tr("ver_value", lang))}</th></tr>')
        for v in d.variants:
            shown = ' class="ver-shown"' if v.shown else ""
            mark = " ✓" if v.shown else ""
            out.append(f"<tr{shown}><td>{escape(local(v.label, lang))}{mark}</td><td>{escape(local(v.versions, lang))}</td>"
                       f"<td><code>{escape(_compact(v.value))}</code></td></tr>")
        out.append(f'</table><div class="ver-note">{escape(local(d.explanation, lang))}</div></div>')
    out.append(f'<div class="ver-legend">✓ {escape(tr("ver_shown", lang))}</div></div>')
    return "".join(out)


def version_note(diffs: list[VersionDiff], view: str, lang: str) -> str:
    """A line for the narration of ``view`` for each difference that changes its numbers here."""
    lines = []
    for d in diffs:
        if VIEW_OF_DIFF.get(d.view) != view or not d.differs:
            continue
        shown = next((v for v in d.variants if v.shown), d.variants[0])
        others = "; ".join(f"{local(v.label, lang)} ({local(v.versions, lang)}): `{_compact(v.value)}`"
                           for v in d.variants if v is not shown)
        lines.append(tr("ver_note", lang, title=tr("ver_" + d.key, lang), shown=local(shown.label, lang),
                        value=_compact(shown.value), others=others))
    return "\n\n".join(lines)


# ---- compare ---------------------------------------------------------------------------------------

def compare_html(c: Comparison, lang: str) -> str:
    """Both columns' values of every quantity, the differing rows first and marked."""
    rows = sorted(c.rows, key=lambda r: not r.differs)
    out = [f'<div class="compare" id="compare-table"><div class="cmp-summary">'
           f'{escape(tr("cmp_summary", lang, n=len(c.differences)))}</div><table class="cmp-table">'
           f'<tr><th></th><th>A · {escape(c.a_label)}</th><th>B · {escape(c.b_label)}</th>'
           f'<th>{escape(tr("cmp_detail", lang))}</th></tr>']
    for r in rows:
        cls = ' class="cmp-diff"' if r.differs else ""
        a = "—" if r.a is None else escape(_compact(r.a))
        b = "—" if r.b is None else escape(_compact(r.b))
        out.append(f'<tr{cls} data-key="{r.key}" data-differs="{str(r.differs).lower()}"><th>'
                   f'{escape(tr("cmp_" + r.key, lang) if "cmp_" + r.key in WORDS else r.key)}</th><td>{a}</td><td>{b}</td><td>{escape(r.detail)}</td></tr>')
    out.append("</table></div>")
    return "".join(out)


# ---- exports ----------------------------------------------------------------------------------------

def export_files(trace: Trace, enc=None) -> list[str]:
    """The trace as JSON, its tensors as NPZ (with the embeddings when the encoder has run) and the token
    table as CSV, written to a fresh folder; the file names say which media and model."""
    from ..export import to_csv, to_json, to_npz

    stem = os.path.splitext(os.path.basename(trace.media.path))[0] or "media"
    name = f"{stem}_{trace.model.value}_{trace.pipeline.value}"
    folder = uuid.uuid4().hex  # one folder per export: the names stay the media's (a bounded SpillDir)

    def json_file(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(to_json(trace, enc, indent=1))

    return [EXPORTS.write(f"{folder}/{name}.json", json_file),
            EXPORTS.write(f"{folder}/{name}.npz", lambda tmp: to_npz(trace, tmp, enc, compressed=True)),
            EXPORTS.write(f"{folder}/{name}.csv", lambda tmp: to_csv(trace, tmp))]

