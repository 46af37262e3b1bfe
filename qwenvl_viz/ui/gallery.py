"""The edge-case gallery: one click opens a small file from ``assets/gallery/`` (made by
``assets/make_gallery.py``) with the settings that show its case; the page then shows, live, what the
reference does with it (error, upscale, padding, collision), and the case's note says why.

A case is data: its file, the controls it sets, and the word keys of its title and note; the note's
numbers come from the case's own Trace (:func:`case_facts`), never from the prose.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import VizError
from ..media import open_media
from ..profiles import FRAME_FACTOR, MAX_RATIO, default_profile
from ..words import tr

__all__ = ["Case", "CASES", "GALLERY_DIR", "case_settings", "case_facts", "case_note_html"]

GALLERY_DIR = Path(__file__).resolve().parents[2] / "assets" / "gallery"


@dataclass(frozen=True)
class Case:
    key: str  # word keys: gal_<key> (title), gal_<key>_why (what the reference does, and why)
    file: str  # in GALLERY_DIR
    settings: dict = field(default_factory=dict)  # Request fields the case sets (the rest: page defaults)

    @property
    def path(self) -> str:
        return str(GALLERY_DIR / self.file)


CASES: tuple[Case, ...] = (
    Case("tiny", "tiny_20x12.png"),
    Case("strip", "strip_2000x10.png"),
    Case("odd", "odd_9_frames.mp4", {"fps": 10.0}),
    Case("fast", "fast_120fps.mp4", {"model": "qwen2.5-vl", "fps": 8.0}),
    Case("short", "short_1_frame.mp4"),
    Case("exif", "exif_rotated.jpg"),
    Case("rgba", "logo_rgba.png"),
)

# what a case does not set goes back to the page defaults, so that one case never leaks into the next
DEFAULTS = {"model": default_profile().family.value, "pipeline": "official", "sample_by": "fps", "fps": 2.0, "nframes": None}


def case_settings(index: int) -> dict:
    """The control values case ``index`` opens with: media plus every field of DEFAULTS."""
    case = CASES[index]
    return {"media": case.path, **DEFAULTS, **case.settings}


def case_facts(index: int) -> dict:
    """The numbers case ``index``'s note quotes, read from its Trace (its media alone when the Trace is the
    reference's error)."""
    from .state import Request, get_trace

    info = open_media(CASES[index].path)
    facts = dict(w=info.width, h=info.height, frames=info.frames, mode=info.mode, ratio=MAX_RATIO,
                 ff=FRAME_FACTOR, orientation=info.exif_orientation, video_fps=info.fps or 0.0)
    try:
        _, trace = get_trace(Request(**case_settings(index)))
    except VizError:
        return facts  # the case IS the error (a one-frame clip)
    r, p = trace.resize, trace.profile
    _, gh, gw = trace.patchify.grid_thw
    facts.update(w=trace.input_width, h=trace.input_height, rw=r.width, rh=r.height, factor=p.factor,
                 tokens=trace.num_vision_tokens, rows=gh // p.merge_size, cols=gw // p.merge_size)
    if trace.sampling is not None:
        s = trace.sampling
        facts.update(fps=trace.params.fps or 0.0, n=s.nframes, total=info.frames, skipped=info.frames - s.nframes,
                     tp=p.temporal_patch_size, sfps=round(s.sample_fps, 4),
                     spg=round(p.temporal_patch_size / s.sample_fps, 4))
        if p.tokens_per_second is not None:
            facts.update(tps=p.tokens_per_second, step=round(trace.rope.time_interval[0] or 0.0, 4),
                         ids=", ".join(str(g.time_id) for g in trace.rope.runs[0].groups))
    return facts


def case_note_html(index: int, lang: str) -> str:
    case = CASES[index]
    why = tr("gal_" + case.key + "_why", lang, **case_facts(index))
    return (f'<div class="gallery-note" data-case="{case.key}"><b>{tr("gal_" + case.key, lang)}</b> · '
            f'<code>{case.file}</code><br>{why}</div>')
