"""The decoders view: the same request under torchcodec, decord and PyAV, side by side.

Rows come from :func:`qwenvl_viz.decoders.compare_decoders` (counts, fps, rotation, resized size,
tokens, the sampled indices and the pictures they name); this module only lays them out: a table
with the backend the page follows marked, a strip per backend over the frame timeline with the
sampled frames whose picture differs from the followed backend's highlighted, and the differences
as sentences.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

import numpy as np
from PIL import Image, ImageDraw

from ..decoders import DecodersReport
from ..profiles import Decoder
from ..words import local, tr
from .pictures import label_font

__all__ = ["decoders_html", "decoders_sheet", "sheet_positions", "MAX_SHEET_TILES", "SHEET_TILE"]

MAX_SHEET_TILES = 24  # sampled frames drawn per backend; beyond this every k-th (the caption says so)
SHEET_TILE = (96, 72)  # (w, h) box each thumbnail is fitted into
DIFF_COLOR, SAME_COLOR, FOLLOW_COLOR = "#d62728", "#9aa0a6", "#1f77b4"


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, tuple):
        return "×".join(str(x) for x in v)
    if isinstance(v, bool):
        return "✓" if v else "✗"
    return str(v)


def _strip(row, follows_pictures: set[int], total: int) -> str:
    """The sampled frames of one backend on a 0..total timeline; marks where its picture is not one the
    followed backend shows."""
    if row.error or not total:
        return ""
    ticks = []
    for k, pic in zip(row.indices, row.pictures):
        left = 100.0 * k / max(total - 1, 1)
        cls = "dec-tick" + ("" if pic in follows_pictures else " dec-diff")
        ticks.append(f'<span class="{cls}" style="left:{left:.2f}%" title="frame {k} → picture {pic}"></span>')
    return f'<div class="dec-strip">{"".join(ticks)}</div>'


def sheet_positions(n: int, limit: int = MAX_SHEET_TILES) -> list[int]:
    """Which of ``n`` sampled positions the sheet draws: all, or ``limit`` spread evenly (first and last kept)."""
    if n <= limit:
        return list(range(n))
    return sorted({int(round(x)) for x in np.linspace(0, n - 1, limit)})


def decoders_sheet(report: DecodersReport, tiles: Mapping[Decoder, Sequence[Image.Image]]) -> Image.Image:
    """One row per backend: the pictures it returns for its sampled frames, as it returns them (rotated or
    not), at the positions :func:`sheet_positions` picks. A red border marks a picture the followed backend
    does not show; the caption under a tile is the sampled index, with ``→ p`` when the picture is another
    frame ``p``. ``tiles[d]`` holds one thumbnail per drawn position of backend ``d``."""
    follows = set(report.row(report.follows).pictures)
    font = label_font(11)
    gap, label_w, cap_h = 4, 84, 14
    tw, th = SHEET_TILE
    cols = max([len(v) for v in tiles.values()] + [1])
    row_h = th + cap_h + 2 * gap
    sheet = Image.new("RGB", (label_w + cols * (tw + gap) + gap, len(report.rows) * row_h + gap), "white")
    draw = ImageDraw.Draw(sheet)
    for r, row in enumerate(report.rows):
        y = gap + r * row_h
        me = row.decoder is report.follows
        draw.text((gap, y + th // 2 - 6), row.decoder.value, fill=FOLLOW_COLOR if me else "#222", font=font)
        if row.error:
            draw.text((label_w, y + th // 2 - 6), "fails: " + row.error[:90], fill=DIFF_COLOR, font=font)
            continue
        shown = sheet_positions(len(row.pictures))
        for c, (pos, tile) in enumerate(zip(shown, tiles.get(row.decoder, ()))):
            x = label_w + c * (tw + gap)
            k, pic = row.indices[pos], row.pictures[pos]
            ox, oy = x + (tw - tile.width) // 2, y + (th - tile.height) // 2
            sheet.paste(tile, (ox, oy))
            colour = FOLLOW_COLOR if me else (SAME_COLOR if pic in follows else DIFF_COLOR)
            draw.rectangle([ox - 2, oy - 2, ox + tile.width + 1, oy + tile.height + 1], outline=colour,
                           width=3 if colour == DIFF_COLOR else 1)
            draw.text((x, y + th + 2), str(k) if pic == k else f"{k}→{pic}", fill="#222", font=font)
    return sheet


def decoders_html(report: DecodersReport | None, lang: str, sheet_uri: str | None = None,
                  sheet_note: str = "") -> str:
    if report is None:
        return f'<div class="decoders" id="decoders-view">{escape(tr("dec_none", lang))}</div>'
    follows = report.row(report.follows)
    total = max((r.frames or 0) for r in report.rows)
    heads = ["decoder", "dec_frames", "dec_fps", "dec_rotation", "dec_resized", "dec_grid", "dec_tokens", "dec_timeline"]
    out = ['<div class="decoders" id="decoders-view"><table class="dec-table"><tr>']
    out += [f"<th>{escape(tr(h, lang))}</th>" for h in heads]
    out.append("</tr>")
    for r in report.rows:
        me = r.decoder is report.follows
        name = escape(r.decoder.value) + (f' <b>({escape(tr("dec_follows", lang))})</b>' if me else "")
        if r.error:
            out.append(f'<tr class="dec-fail"><td>{name}</td><td colspan="7">{escape(r.error)}</td></tr>')
            continue
        cells = [r.frames, r.fps, r.rotation_applied, r.resized, r.grid_thw, r.tokens]
        out.append(f'<tr{" class=dec-follows" if me else ""}><td>{name}</td>'
                   + "".join(f"<td>{escape(_fmt(c))}</td>" for c in cells)
                   + f"<td>{_strip(r, set(follows.pictures), total)}</td></tr>")
    out.append("</table>")
    if sheet_uri:
        cap = tr("dec_sheet", lang) + (f" {sheet_note}" if sheet_note else "")
        out.append(f'<figure class="dec-sheet"><img id="decoders-sheet" src="{sheet_uri}" alt="{escape(cap)}">'
                   f"<figcaption>{escape(cap)}</figcaption></figure>")
    if report.differences:
        out.append("<ul class='dec-diffs'>" + "".join(f"<li>{escape(local(d, lang))}</li>" for d in report.differences) + "</ul>")
    else:
        out.append(f"<p>{escape(tr('dec_same', lang))}</p>")
    late = [(k, ref, real) for k, ref, real in report.playback if real is not None and abs(real - ref) > 1e-3]
    if late:
        out.append(f"<p>{escape(tr('dec_playback', lang))}</p><table class='dec-table'><tr><th>index</th>"
                   "<th>index / fps (s)</th><th>pts (s)</th></tr>"
                   + "".join(f"<tr><td>{k}</td><td>{ref:.3f}</td><td>{real:.3f}</td></tr>" for k, ref, real in late)
                   + "</table>")
    out.append("</div>")
    return "".join(out)
