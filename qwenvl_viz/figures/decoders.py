"""The decoders view: the same request under torchcodec, decord and PyAV, side by side.

Rows come from :func:`qwenvl_viz.decoders.compare_decoders` (counts, fps, rotation, resized size,
tokens, the sampled indices and the pictures they name); this module only lays them out: a table
with the backend the page follows marked, a strip per backend over the frame timeline with the
sampled frames whose picture differs from the followed backend's highlighted, and the differences
as sentences.
"""

from __future__ import annotations

from html import escape

from ..decoders import DecodersReport
from ..words import local, tr

__all__ = ["decoders_html"]


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


def decoders_html(report: DecodersReport | None, lang: str) -> str:
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
