"""Media badges: what the file is (fps, frames, duration, rotation / EXIF, coded vs displayed size)."""

from __future__ import annotations

from html import escape

from ..trace import Trace
from ..words import local, tr

__all__ = ["media_html"]


def _badge(name: str, value: str, warn: bool = False) -> str:
    cls = "badge badge-warn" if warn else "badge"
    return f'<span class="{cls}"><b>{escape(name)}</b> {escape(value)}</span>'


def media_html(trace: Trace, lang: str) -> str:
    m = trace.media
    b = [_badge(tr("b_kind", lang), tr("b_video" if m.kind == "video" else "b_image", lang)),
         _badge(tr("b_container", lang), m.container),
         _badge(tr("b_size", lang), f"{m.width}×{m.height}")]
    if (m.coded_width, m.coded_height) != (m.width, m.height):
        b.append(_badge(tr("b_coded", lang), f"{m.coded_width}×{m.coded_height}", warn=True))
    if m.kind == "video":
        b.append(_badge(tr("b_fps", lang), f"{m.fps:.3f}" if m.fps else "?"))
        b.append(_badge(tr("b_frames", lang), str(m.frames)))
        if m.frames_header not in (None, m.frames):
            b.append(_badge(tr("b_header", lang), f"{m.frames_header} {tr('frames_word', lang)}", warn=True))
        b.append(_badge(tr("b_duration", lang), f"{m.duration:.2f} s" if m.duration is not None else "?"))
        b.append(_badge(tr("b_rotation", lang), f"{m.rotation}°", warn=bool(m.rotation)))
    else:
        if m.exif_orientation in (None, 1):
            b.append(_badge(tr("b_exif", lang), tr("b_none", lang) if m.exif_orientation is None else "1"))
        else:
            how = tr("b_applied" if trace.exif_applied else "b_not_applied", lang)
            b.append(_badge(tr("b_exif", lang), f"{m.exif_orientation} ({how})", warn=True))
        b.append(_badge(tr("b_alpha", lang), "✓" if m.has_alpha else "—", warn=m.has_alpha))
    b.append(_badge(tr("b_mode", lang), m.mode))
    b.append(_badge(tr("b_hash", lang), m.content_hash[:10]))
    notes = list(m.notes) + list(trace.notes)
    details = ""
    if notes:
        items = "".join(f"<li>{escape(local(n, lang))}</li>" for n in notes)
        details = f'<div class="notes"><b>{escape(tr("details", lang))}</b><ul>{items}</ul></div>'
    return f'<div class="badges" id="media-badges">{"".join(b)}</div>{details}'
