"""The glance: five small pictures / tables side by side, one per stage, drawn from one Trace.

(a) the sampled frames with raw index and time, (b) the patch grid of one temporal group in 2x2 merge
order, (c) the MRoPE time id of each temporal group, (d) the timestamp each group carries, (e) the
encoder heatmap of each group. Pictures are PIL images (a JPEG of a few tens of kB each, no plotly
trace), the two tables are small HTML: an FPS change re-sends ~100 kB and the browser only swaps images.

Every cell outlines the linked selection (a :class:`qwenvl_viz.selection.Selection`): its patch, its
temporal group's frames, time id, timestamp and heatmap tile.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

import numpy as np
from PIL import Image, ImageDraw

from ..trace import Trace
from ..words import tr
from ._style import PAD_COLOR, group_color
from .patch_grid import SELECT_COLOR, patch_layout
from .pictures import label_font

__all__ = ["GLANCE_BOX", "GroupRow", "group_rows", "tile_columns", "frames_picture", "frames_caption",
           "patches_picture", "patches_caption", "time_ids_html", "timestamps_html", "heatmaps_picture",
           "heatmaps_caption", "MAX_GLANCE_TILES"]

GLANCE_BOX = (330, 720)  # (w, h) px every glance picture is fitted into; the page scales it to the cell
MAX_GLANCE_TILES = 64  # frames drawn in cell (a); beyond this, every k-th (the caption says so)


@dataclass(frozen=True)
class GroupRow:
    """One temporal group as the glance tables show it."""

    group: int
    frames: tuple[int, ...]  # raw frame indices of its members (a padded group repeats the last one)
    padded: bool
    seconds: float  # the group's time as the prompt stage computes it (Qwen3: mean of its frames)
    time_id: int  # T position id of its tokens, relative to the run start (rope stage)
    position: int  # absolute T position id of the group's first token
    timestamp: str | None  # Qwen3: "<x.x seconds>"


def group_rows(trace: Trace) -> list[GroupRow]:
    """The temporal groups of the (single) visual item, read from the sampling, patchify, prompt and rope stages."""
    pt = trace.patchify
    groups = [g for run in trace.rope.runs for g in run.groups]
    ts = trace.prompt.timestamp_strings
    rows = []
    for k, members in enumerate(pt.groups):
        frames = tuple(trace.frame_indices[p] for p in members) if trace.sampling else (0,)
        padded = len(set(members)) < len(members)
        tg = groups[k] if k < len(groups) else None
        rows.append(GroupRow(
            group=k, frames=frames, padded=padded,
            seconds=float(tg.seconds) if tg is not None and tg.seconds is not None else 0.0,
            time_id=int(tg.time_id) if tg is not None else 0,
            position=int(tg.position) if tg is not None else 0,
            timestamp=ts[k] if ts and k < len(ts) else None,
        ))
    return rows


def tile_columns(n: int, tile_w: int, tile_h: int, box: tuple[int, int] = GLANCE_BOX, multiple: int = 1) -> int:
    """How many columns give the largest tiles when ``n`` tiles of aspect ``tile_w:tile_h`` fill ``box``.
    ``multiple``: columns are a multiple of it (the frames of a temporal group stay on one line)."""
    best, best_scale = 1, 0.0
    for cols in range(1, n + 1):
        if cols % multiple and cols != n:
            continue
        rows = -(-n // cols)
        scale = min(box[0] / (cols * tile_w), box[1] / (rows * tile_h))
        if scale > best_scale:
            best, best_scale = cols, scale
    return best


def _grid(tiles: Sequence[Image.Image], labels: Sequence[str], borders: Sequence[str], widths: Sequence[int],
          cols: int, box: tuple[int, int] = GLANCE_BOX, label_h: int = 15) -> Image.Image:
    """Tiles (all one size) scaled into ``box`` in ``cols`` columns, a one-line caption over each."""
    n = len(tiles)
    rows = -(-n // cols)
    gap = 4
    tw0, th0 = tiles[0].size
    s = min((box[0] - gap * (cols + 1)) / (cols * tw0), (box[1] - (label_h + gap) * rows - gap) / (rows * th0))
    tw, th = max(1, int(tw0 * s)), max(1, int(th0 * s))
    sheet = Image.new("RGB", (cols * (tw + gap) + gap, rows * (th + label_h + gap) + gap), "white")
    draw = ImageDraw.Draw(sheet)
    font = label_font(10)
    for i, (tile, label, colour, width) in enumerate(zip(tiles, labels, borders, widths)):
        r, c = divmod(i, cols)
        x, y = gap + c * (tw + gap), gap + r * (th + label_h + gap)
        draw.text((x, y), label, fill="#222", font=font)
        sheet.paste(tile.resize((tw, th), Image.Resampling.BILINEAR), (x, y + label_h))
        draw.rectangle([x - 1, y + label_h - 1, x + tw, y + label_h + th], outline=colour, width=width)
    return sheet


def _sel_box(sel, tile: Image.Image, frame_size: tuple[int, int]) -> tuple[float, float, float, float] | None:
    """The selected patch's box scaled from the resized frame (H, W) onto ``tile``."""
    if sel is None:
        return None
    h, w = frame_size
    sx, sy = tile.width / w, tile.height / h
    x0, y0, x1, y1 = sel.patch_box
    return x0 * sx, y0 * sy, x1 * sx, y1 * sy


def _mark(tile: Image.Image, box, width: int = 2) -> Image.Image:
    img = tile.copy()
    x0, y0, x1, y1 = box
    ImageDraw.Draw(img).rectangle([x0 - 1, y0 - 1, max(x1, x0 + 3), max(y1, y0 + 3)], outline=SELECT_COLOR,
                                  width=width)
    return img


def frames_picture(trace: Trace, thumbs: Sequence[Image.Image], positions: Sequence[int], sel=None) -> Image.Image:
    """Cell (a): the sampled frames at ``positions`` (``thumbs`` in the same order), captioned
    ``#k · f{raw} · {t}s``, bordered in their temporal group's colour; the selection's group in magenta."""
    tp = trace.patchify.temporal_patch_size
    group_of = {p: k for k, g in enumerate(trace.patchify.groups) for p in g}
    times = trace.sampling.times if trace.sampling else (0.0,)
    frame_size = (trace.resize.height, trace.resize.width)
    tiles, labels, borders, widths = [], [], [], []
    for pos, thumb in zip(positions, thumbs):
        g = group_of.get(pos, 0)
        chosen = sel is not None and sel.group == g
        tiles.append(_mark(thumb, _sel_box(sel, thumb, frame_size)) if chosen else thumb)
        if trace.sampling:
            labels.append(f"f{trace.frame_indices[pos]}·{times[pos]:.2f}s")
        else:
            labels.append("image")
        borders.append(SELECT_COLOR if chosen else group_color(g))
        widths.append(3 if chosen else 2)
    cols = tile_columns(len(tiles), *tiles[0].size, multiple=tp if len(positions) == len(times) else 1)
    return _grid(tiles, labels, borders, widths, cols)


def frames_caption(trace: Trace, lang: str, shown: int) -> str:
    """The live numbers of cell (a): count, raw indices, sample_fps."""
    s = trace.sampling
    if s is None:
        m = trace.media
        return f'<div class="glance-cap">{escape(tr("g_frames_image", lang, w=m.width, h=m.height))}</div>'
    idx = ", ".join(str(i) for i in s.indices)
    more = tr("g_every", lang, shown=shown) if shown < s.nframes else ""
    return ('<div class="glance-cap">'
            f'<b class="glance-num" data-n="{s.nframes}">{escape(tr("g_frames", lang, n=s.nframes))}</b> '
            f'<span class="glance-idx">[{escape(idx)}]</span> · sample_fps = {s.sample_fps:.4f}{escape(more)}</div>')


def patches_picture(trace: Trace, frame: Image.Image, group: int, sel=None) -> Image.Image:
    """Cell (b): the group's frame (at the resized aspect) with its patch grid, the 2x2 merge blocks, the
    reading order of the first blocks as a numbered path (0 1 2 3 | 4 5 6 7 ...), the selected patch outlined.

    The path follows ``patch_layout`` (the merge order of ``merge_order.py``): pixel_values row r is drawn at
    the patch that holds row r."""
    pt = trace.patchify
    _, gh, gw = pt.grid_thw
    m = pt.merge_size
    img = frame.convert("RGB").copy()
    draw = ImageDraw.Draw(img, "RGBA")
    sx, sy = img.width / gw, img.height / gh
    if min(sx, sy) >= 3:  # patch lines only where they stay readable
        for i in range(1, gw):
            if i % m:
                draw.line([(i * sx, 0), (i * sx, img.height)], fill=(255, 255, 255, 70), width=1)
        for j in range(1, gh):
            if j % m:
                draw.line([(0, j * sy), (img.width, j * sy)], fill=(255, 255, 255, 70), width=1)
    for i in range(0, gw + 1, m):
        draw.line([(i * sx, 0), (i * sx, img.height)], fill=(255, 255, 255, 170), width=1)
    for j in range(0, gh + 1, m):
        draw.line([(0, j * sy), (img.width, j * sy)], fill=(255, 255, 255, 170), width=1)
    _zoom_inset(img, trace, group, sx, sy)
    if sel is not None and sel.group == group:
        bx0, by0, bx1, by1 = sel.block_box
        x0, y0, x1, y1 = sel.patch_box
        fx, fy = img.width / trace.resize.width, img.height / trace.resize.height
        draw.rectangle([bx0 * fx, by0 * fy, bx1 * fx, by1 * fy], outline=(230, 0, 126, 255), width=1)
        draw.rectangle([x0 * fx - 1, y0 * fy - 1, x1 * fx + 1, y1 * fy + 1], outline=(230, 0, 126, 255), width=3)
    return img


def _zoom_inset(img: Image.Image, trace: Trace, group: int, sx: float, sy: float) -> None:
    """Paste, over the top-left corner, the first ``2m x 2m`` patches enlarged, each numbered with its
    pixel_values row (relative to the group) and joined by the reading path: 0 1 2 3 | 4 5 6 7 ..."""
    pt = trace.patchify
    _, gh, gw = pt.grid_thw
    k = min(2 * pt.merge_size, gh, gw)
    crop = img.crop((0, 0, max(1, round(k * sx)), max(1, round(k * sy))))
    side = max(60, int(min(img.width, img.height) * 0.5))
    cell = side / k
    zoom = crop.resize((side, side), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(zoom, "RGBA")
    draw.rectangle([0, 0, side, side], fill=(0, 0, 0, 90))
    for i in range(k + 1):
        w = 3 if i % pt.merge_size == 0 else 1
        draw.line([(i * cell, 0), (i * cell, side)], fill="white", width=w)
        draw.line([(0, i * cell), (side, i * cell)], fill="white", width=w)
    rows = patch_layout(trace, group).row[:k, :k] - group * gh * gw
    centre = {int(rows[h, w]): ((w + 0.5) * cell, (h + 0.5) * cell) for h in range(k) for w in range(k)}
    path = [centre[r] for r in sorted(centre)]
    draw.line(path, fill=(255, 230, 0, 230), width=2)
    font = label_font(max(10, int(cell * 0.42)))
    for r, (x, y) in centre.items():
        draw.text((x, y), str(r), fill="white", font=font, anchor="mm", stroke_width=2, stroke_fill="black")
    img.paste(zoom, (0, 0))
    ImageDraw.Draw(img).rectangle([0, 0, side, side], outline=(255, 230, 0), width=2)


def patches_caption(trace: Trace, lang: str, group: int, sel=None) -> str:
    pt = trace.patchify
    t, gh, gw = pt.grid_thw
    m = pt.merge_size
    text = tr("g_patches", lang, t=t, h=gh, w=gw, g=group, n=gh * gw, tok=gh * gw // (m * m), p=pt.patch_size, m=m)
    extra = ""
    if sel is not None:
        extra = " · " + tr("g_sel", lang, g=sel.group, ph=sel.patch[0], pw=sel.patch[1], row=sel.row,
                           tok=sel.row // (m * m))
    return f'<div class="glance-cap"><b class="glance-grid">{t}×{gh}×{gw}</b> {escape(text)}{escape(extra)}</div>'


def _row_class(k: int, sel) -> str:
    return ' class="glance-sel"' if sel is not None and sel.group == k else ""


def time_ids_html(trace: Trace, lang: str, sel=None) -> str:
    """Cell (c): per temporal group its frames, its MRoPE T id (relative and absolute) and its seconds."""
    rows = group_rows(trace)
    body = "".join(
        f'<tr{_row_class(r.group, sel)} data-group="{r.group}"><td style="color:{group_color(r.group)}">g{r.group}'
        f'{" ⧉" if r.padded else ""}</td>'
        f'<td class="glance-tid"><b>{r.time_id}</b></td><td>{r.position}</td><td>{r.seconds:.2f}</td></tr>'
        for r in rows)
    rope = trace.rope
    note = ""
    if rope.collisions:
        note = f'<div class="glance-warn" style="color:{PAD_COLOR}">{escape(tr("g_collide", lang, n=len(rope.collisions)))}</div>'
    head = "".join(f"<th>{escape(tr(k, lang))}</th>" for k in ("g_group", "g_tid", "g_tpos", "g_sec"))
    return (f'<div class="glance-cap">{escape(tr("g_time_rule", lang, rule=_time_rule(trace, lang)))}</div>'
            f'<table class="glance-table"><tr>{head}</tr>{body}</table>{note}')


def _time_rule(trace: Trace, lang: str) -> str:
    pf = trace.profile
    if trace.kind == "image":
        return tr("g_rule_image", lang)
    if trace.prompt.timestamp_strings:
        return tr("g_rule_qwen3", lang)
    if pf.tokens_per_second is not None:
        iv = trace.rope.time_interval[0] or 0.0
        return tr("g_rule_qwen25", lang, tps=pf.tokens_per_second, spg=trace.prompt.second_per_grid_ts or 0.0, iv=iv)
    return tr("g_rule_qwen2", lang)


def timestamps_html(trace: Trace, lang: str, sel=None) -> str:
    """Cell (d): what the model is told about time, per frame pair. Qwen3: the ``<x.x seconds>`` text in the
    prompt; Qwen2.5: the seconds its time id encodes (``time_id / tokens_per_second``); Qwen2: none."""
    rows = group_rows(trace)
    pf = trace.profile
    cells = []
    for r in rows:
        pair = "·".join(str(f) for f in r.frames)
        if r.timestamp is not None:
            value = f'<code class="glance-ts">{escape(r.timestamp)}</code>'
        elif trace.kind == "image":
            value = escape(tr("g_ts_image", lang))
        elif pf.tokens_per_second:
            value = f'<b title="{r.time_id}/{pf.tokens_per_second}">{r.time_id / pf.tokens_per_second:.2f} s</b>'
        else:
            value = escape(tr("g_ts_none", lang, k=r.time_id))
        cells.append(f'<tr{_row_class(r.group, sel)} data-group="{r.group}">'
                     f'<td style="color:{group_color(r.group)}">g{r.group}</td><td>{pair}</td><td>{value}</td></tr>')
    head = "".join(f"<th>{escape(tr(k, lang))}</th>" for k in ("g_group", "g_frames_col", "g_told"))
    rule = "g_ts_qwen3" if trace.prompt.timestamp_strings else ("g_ts_qwen25" if pf.tokens_per_second else "g_ts_qwen2")
    return (f'<div class="glance-cap">{escape(tr(rule, lang))}</div>'
            f'<table class="glance-table">{"<tr>" + head + "</tr>"}{"".join(cells)}</table>')


def heatmaps_picture(trace: Trace, rgb: Sequence[np.ndarray], tiles: Sequence[Image.Image], sel=None,
                     alpha: float = 0.6) -> Image.Image:
    """Cell (e): one tile per temporal group, its heatmap (``rgb[k]``: uint8 [gh', gw', 3]) over its first frame."""
    from .pictures import blend

    frame_size = (trace.resize.height, trace.resize.width)
    out, labels, borders, widths = [], [], [], []
    for k, (tile, colours) in enumerate(zip(tiles, rgb)):
        img = blend(tile, Image.fromarray(colours), alpha)
        chosen = sel is not None and sel.group == k
        out.append(_mark(img, _sel_box(sel, img, frame_size), 3) if chosen else img)
        labels.append(f"g{k}")
        borders.append(SELECT_COLOR if chosen else group_color(k))
        widths.append(3 if chosen else 2)
    cols = tile_columns(len(out), *out[0].size)
    return _grid(out, labels, borders, widths, cols)


def heatmaps_caption(lang: str, what: str | None, note: str = "") -> str:
    text = tr("g_heat_ready", lang, what=what) if what else tr("g_heat_missing", lang)
    text = f"{text} {note}" if note else text
    return f'<div class="glance-cap">{escape(text)}</div>'
