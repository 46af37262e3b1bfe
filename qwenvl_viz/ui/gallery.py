"""The edge-case gallery: one click opens a small file from ``assets/gallery/`` (made by
``assets/make_gallery.py``) with the settings that show its case; the page then shows, live, what the
reference does with it (error, upscale, padding, collision), and the case's note says why.

A case is data: its file, the controls it sets, and the word keys of its title and note.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..words import tr

__all__ = ["Case", "CASES", "GALLERY_DIR", "case_settings", "case_note_html"]

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
DEFAULTS = {"model": "qwen2.5-vl", "pipeline": "official", "sample_by": "fps", "fps": 2.0, "nframes": None}


def case_settings(index: int) -> dict:
    """The control values case ``index`` opens with: media plus every field of DEFAULTS."""
    case = CASES[index]
    return {"media": case.path, **DEFAULTS, **case.settings}


def case_note_html(index: int, lang: str) -> str:
    case = CASES[index]
    return (f'<div class="gallery-note" data-case="{case.key}"><b>{tr("gal_" + case.key, lang)}</b> · '
            f'<code>{case.file}</code><br>{tr("gal_" + case.key + "_why", lang)}</div>')
