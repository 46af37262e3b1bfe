"""Render every view of one Trace, cached; the layout's ``update`` only routes the results to widgets.

Each view has a cache key (view name, trace key, the view options it depends on, language). Within a
session the last key sent to each widget is remembered, and an unchanged view is not sent again
(``gr.skip()``): moving the group slider re-sends the patch grid only.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gradio.components.plot import PlotData

import numpy as np

from ..figures import encoder as enc_fig
from ..figures import glance
from ..decoders import compare_decoders
from ..figures.decoders import decoders_html
from ..figures.ledger import ledger_html
from ..figures.media import media_html
from ..figures.patch_grid import patch_grid_figure
from ..figures.pictures import jpeg_bytes
from ..figures.prompt import prompt_html
from ..figures.resize import resize_figure
from ..figures.rope import rope_figure
from ..figures.timeline import frames_sheet, sheet_positions, timeline_figure
from ..reproduce import cli_command, python_snippet
from ..trace import Trace
from ..versions import version_differences
from . import narration, teach
from . import state
from .state import PICTURES, VIEWS, previews

__all__ = ["ViewOptions", "VIEW_NAMES", "GLANCE_VIEWS", "GLANCE_PATCH_SIDE", "glance_encoding", "render_views", "sel_key", "display_size", "save_jpeg", "PATCH_FRAME_SIDE", "warm_glance_frames",
           "THUMB_SIDE", "plot_data"]

PATCH_FRAME_SIDE = 768  # long side of the patch-grid frame preview (px)
THUMB_SIDE = 132  # long side of a contact-sheet thumbnail (px)

GLANCE_VIEWS = ("g_frames_cap", "g_frames", "g_patches_cap", "g_patches", "g_time_ids", "g_timestamps", "g_heat_cap",
                "g_heatmaps")  # the five cells at the top of the page (captions + pictures / tables)
GLANCE_THUMB_SIDE = 150  # long side of a frame thumbnail in cell (a), px
GLANCE_PATCH_SIDE = 560  # long side of the group frame in cell (b), px (clicks on it select a patch)
GLANCE_HEAT_SIDE = 200  # long side of a heatmap tile in cell (e), px

LESSON_VIEWS = ("lesson_text", "lesson_pic", "lesson_html")  # built from the glance views (lesson.py)

VIEW_NAMES = GLANCE_VIEWS + LESSON_VIEWS + (
    "ledger", "media", "media_text", "timeline", "frames", "timeline_text", "resize", "resize_text", "budget",
    "patch", "patch_text", "select_image", "selection", "rope", "rope_text", "prompt", "prompt_text", "versions",
    "snippet", "cli", "summary", "decoders",
)


@dataclass(frozen=True)
class ViewOptions:
    """View-only controls: they change how a Trace is drawn, never the Trace."""

    group: int = 0
    order: str = "merge"  # "merge" | "raster"
    windows: bool = True
    context_len: int | None = 32768
    selected: str = ""  # the linked selection, "rx,ry,frame,hash" (see teach.py)
    step: int = 0  # lesson mode: the step shown (lesson.STEPS)


def display_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """(w, h) with the same aspect as ``width`` x ``height`` and the longer side ``long_side``."""
    s = long_side / max(width, height)
    return max(1, round(width * s)), max(1, round(height * s))


def plot_data(fig) -> PlotData:
    """A figure serialised once (the cache keeps the JSON, not the figure)."""
    return PlotData(type="plotly", plot=fig.to_json())


def save_jpeg(img, name: str) -> str:
    """Write a preview image once (a folder bounded in bytes); gr.Image serves the file (no pixels in the
    JSON payload)."""
    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(jpeg_bytes(img, quality=85))

    return PICTURES.write(f"{name}.jpg", write)


def _frames_view(trace: Trace, lang: str, key_hash: str) -> str:
    positions = sheet_positions(trace)
    w, h = display_size(trace.input_width, trace.input_height, THUMB_SIDE)
    thumbs = previews(trace, positions, w, h)
    return save_jpeg(frames_sheet(trace, thumbs, lang), f"frames_{key_hash}")


def _group_frame(trace: Trace, group: int):
    """The group's first frame at the resized aspect, PATCH_FRAME_SIDE on its long side."""
    w, h = display_size(trace.resize.width, trace.resize.height, PATCH_FRAME_SIDE)
    return previews(trace, [trace.patchify.groups[group][0]], w, h)[0]


def _patch_view(trace: Trace, view: ViewOptions, group: int, sel, lang: str) -> PlotData:
    frame = _group_frame(trace, group)
    return plot_data(patch_grid_figure(trace, frame, group, view.order, view.windows, lang, sel,
                                       max_points=state.BUDGET.max_figure_points))


def _select_image(trace: Trace, group: int, sel, name: str) -> str:
    return save_jpeg(teach.selection_image(_group_frame(trace, group), trace, sel, group), name)


def _glance_frames(trace: Trace, sel, name: str) -> str:
    n = len(trace.sampling.indices) if trace.sampling else 1
    positions = list(range(n)) if n <= glance.MAX_GLANCE_TILES else sheet_positions(trace)
    w, h = display_size(trace.input_width, trace.input_height, GLANCE_THUMB_SIDE)
    return save_jpeg(glance.frames_picture(trace, previews(trace, positions, w, h), positions, sel), name)


def warm_glance_frames(trace: Trace) -> None:
    """Cell (a)'s thumbnails of every frame ``trace`` samples, decoded in one pass into the preview cache
    (keyed by raw frame index): the warm-up runs this on a trace of (nearly) every frame of a bundled clip,
    so that any FPS then paints its sampled frames without decoding."""
    w, h = display_size(trace.input_width, trace.input_height, GLANCE_THUMB_SIDE)
    previews(trace, list(range(len(trace.frame_indices))), w, h)


def _glance_patches(trace: Trace, group: int, sel, name: str) -> str:
    w, h = display_size(trace.resize.width, trace.resize.height, GLANCE_PATCH_SIDE)
    frame = previews(trace, [trace.patchify.groups[group][0]], w, h)[0]
    return save_jpeg(glance.patches_picture(trace, frame, group, sel), name)


def glance_encoding(key: tuple, trace: Trace, checkpoint: str | None):
    """The encoding the glance shows: the configured checkpoint, else the family's default tower (cached only:
    the glance never starts a run)."""
    from . import towers
    from .encoder_view import cached_encoding, default_tower

    enc = cached_encoding(key, trace, checkpoint, default_tower(trace.model))
    if enc is None and not checkpoint:  # a real default not run yet (a CPU): the start-up's random preview
        enc = cached_encoding(key, trace, None, towers.precompute_choice(trace.model))
    return enc


def _pending_real(trace: Trace) -> tuple[str, int] | None:
    """(repo, download bytes) of the real default tower when it is not the one shown, else None."""
    from . import towers
    from .encoder_view import default_tower

    choice = default_tower(trace.model)
    repo = towers.hub_repo(None, choice)
    if repo is None:
        return None
    preset = dict(towers.HUB_TOWERS[trace.model]).get(repo)
    return repo, towers.download_bytes(preset) if preset else 0


def _glance_heatmaps(trace: Trace, enc, sel, name: str, lang: str, pending: tuple[str, int] | None = None
                     ) -> tuple[str, str | None]:
    """(caption HTML, picture path or None) of cell (e)."""
    from ..words import tr
    from .encoder_view import render_heatmap

    if enc is None:
        note = "" if pending is None else tr("g_heat_real_on_run", lang, repo=pending[0], gb=f"{pending[1] / 1e9:.2f}")
        return glance.heatmaps_caption(lang, None, note), None
    hm = render_heatmap(enc, "pca", None, None)
    rgb = [(np.clip(v, 0, 1) * 255).astype(np.uint8) for v in hm.values]
    firsts = [g[0] for g in trace.patchify.groups]
    w, h = display_size(trace.resize.width, trace.resize.height, GLANCE_HEAT_SIDE)
    tiles = previews(trace, firsts, w, h)
    what = tr("g_heat_what", lang, tower=enc.config.name, random=tr("g_random", lang) if enc.random_weights else "")
    if enc.random_weights and pending is not None:  # a random preview: say what Run brings instead
        what += " " + tr("g_heat_real_on_run", lang, repo=pending[0], gb=f"{pending[1] / 1e9:.2f}")
    return glance.heatmaps_caption(lang, what), save_jpeg(glance.heatmaps_picture(trace, rgb, tiles, sel), name)


def _decoder_tiles(trace: Trace, row) -> list:
    """Thumbnails of what one backend returns at the sheet's positions (cached by content, picture, rotation)."""
    from ..figures.decoders import SHEET_TILE, sheet_positions
    from ..figures.pictures import fit
    from PIL import Image

    from ..media import iter_frames
    from .state import PREVIEWS

    raw = bool(trace.media.rotation) and row.rotation_applied is False  # returned as stored, not as displayed
    pics = [row.pictures[p] for p in sheet_positions(len(row.pictures))]
    keys = {p: ("decoder-tile", trace.media.content_hash, p, raw, SHEET_TILE) for p in pics if p is not None}
    got = {p: PREVIEWS.get(k) for p, k in keys.items()}
    got[None] = Image.new("RGB", (SHEET_TILE[0] // 2, SHEET_TILE[1] // 2), "#bbb")  # a frame it does not return
    missing = sorted(p for p, v in got.items() if v is None)
    for p, frame in zip(missing, iter_frames(trace.media, missing) if missing else ()):
        if raw:
            frame = np.rot90(frame, trace.media.rotation // 90)
        h, w = frame.shape[:2]
        s = min(SHEET_TILE[0] / w, SHEET_TILE[1] / h)
        got[p] = fit(frame, max(1, round(w * s)), max(1, round(h * s)))
        PREVIEWS.put(keys[p], got[p])
    return [got[p] for p in pics]


def _decoders_view(trace: Trace, lang: str) -> str:
    """The decoders table, the per-backend frame sheet (as a data URI: one self-contained view) and notes."""
    from ..figures.decoders import MAX_SHEET_TILES, decoders_sheet
    from ..figures.pictures import data_uri
    from ..words import tr

    report = compare_decoders(trace)
    if report is None:
        return decoders_html(None, lang)
    tiles = {r.decoder: _decoder_tiles(trace, r) for r in report.rows if not r.error and r.pictures}
    n = max((len(r.pictures) for r in report.rows), default=0)
    note = tr("dec_sheet_some", lang, shown=MAX_SHEET_TILES, n=n) if n > MAX_SHEET_TILES else ""
    uri = data_uri(decoders_sheet(report, tiles), quality=80) if tiles else None
    return decoders_html(report, lang, uri, note)


def _with_note(text: str, note: str) -> str:
    return f"{text}\n\n{note}" if note else text


def _summary(trace: Trace) -> dict:
    """``trace.summary()`` for the page: the file's name instead of its server path (a dict with a "path"
    key also reads as a file to download in gradio_client)."""
    out = json.loads(json.dumps(trace.summary(), default=str))
    media = out.get("media", {})
    if "path" in media:
        media["file"] = os.path.basename(media.pop("path"))
    return out


def _view_specs(trace: Trace, view: ViewOptions, sel, lang: str, key_hash: str, enc=None, pending: bool = True
                ) -> dict[str, tuple[tuple, Callable[[], Any]]]:
    """name -> (the view options it depends on, how to render it)."""
    group = min(max(view.group, 0), trace.patchify.grid_thw[0] - 1)
    s = sel_key(sel)
    points = state.BUDGET.max_figure_points  # the app's limit (app.py --max-figure-points)
    diffs = functools.cache(lambda: version_differences(trace))  # only when a narration is rendered
    ek = None if enc is None else (enc.config.name, enc.weights_source)
    pend = _pending_real(trace) if pending else None  # the real default tower, when Run would fetch it
    heat = functools.cache(lambda: _glance_heatmaps(trace, enc, sel, f"gh_{key_hash}_{abs(hash(ek))}_{s}", lang,
                                                       pend))

    def note(name: str) -> str:
        return teach.version_note(diffs(), name, lang)

    return {
        "g_frames_cap": ((), lambda: glance.frames_caption(trace, lang, min(len(trace.frame_indices),
                                                                            glance.MAX_GLANCE_TILES))),
        "g_frames": ((s,), lambda: _glance_frames(trace, sel, f"gf_{key_hash}_{s}")),
        "g_patches_cap": ((group, s), lambda: glance.patches_caption(trace, lang, group, sel)),
        "g_patches": ((group, s), lambda: _glance_patches(trace, group, sel, f"gp_{key_hash}_{group}_{s}")),
        "g_time_ids": ((s,), lambda: glance.time_ids_html(trace, lang, sel)),
        "g_timestamps": ((s,), lambda: glance.timestamps_html(trace, lang, sel)),
        "g_heat_cap": ((ek, pend), lambda: heat()[0]),
        "g_heatmaps": ((ek, s), lambda: heat()[1]),
        "ledger": ((), lambda: ledger_html(trace, lang)),
        "media": ((), lambda: media_html(trace, lang)),
        "media_text": ((), lambda: narration.media_text(trace, lang)),
        "timeline": ((s,), lambda: plot_data(timeline_figure(trace, lang, sel, points))),
        "frames": ((), lambda: _frames_view(trace, lang, key_hash)),
        "timeline_text": ((), lambda: _with_note(narration.timeline_text(trace, lang), note("timeline_text"))),
        "resize": ((view.context_len,), lambda: plot_data(resize_figure(trace, lang, view.context_len))),
        "resize_text": ((), lambda: _with_note(narration.resize_text(trace, lang), note("resize_text"))),
        "budget": ((), lambda: narration.budget_text(trace, lang)),
        "patch": ((group, view.order, view.windows, s), lambda: _patch_view(trace, view, group, sel, lang)),
        "patch_text": ((), lambda: narration.patch_text(trace, lang)),
        "select_image": ((group, s), lambda: _select_image(trace, group, sel, f"sel_{key_hash}_{group}_{s}")),
        "selection": ((s,), lambda: teach.selection_html(trace, sel, lang)),
        "rope": ((s,), lambda: plot_data(rope_figure(trace, lang, sel, points))),
        "rope_text": ((), lambda: _with_note(narration.rope_text(trace, lang), note("rope_text"))),
        "prompt": ((s,), lambda: prompt_html(trace, lang, sel)),
        "prompt_text": ((), lambda: _with_note(narration.prompt_text(trace, lang), note("prompt_text"))),
        "versions": ((), lambda: teach.versions_html(diffs(), lang)),
        "decoders": ((), lambda: _decoders_view(trace, lang)),
        "snippet": ((), lambda: python_snippet(trace)),
        "cli": ((), lambda: cli_command(trace)),
        "summary": ((), lambda: _summary(trace)),
    }


# Views that show the file's name or path: cached per (content, path), never across sessions.
NAMED_VIEWS = frozenset({"media", "media_text", "snippet", "cli", "summary"})


def sel_key(sel) -> tuple | None:
    """What identifies a selection inside one trace (the cache keys of the views that outline it)."""
    return None if sel is None else (sel.group, sel.patch)


def render_views(key: tuple, trace: Trace, view: ViewOptions, lang: str, sel=None, checkpoint: str | None = None,
                 only: frozenset | None = None) -> dict[str, tuple[tuple, Any]]:
    """``{view name: (cache key, value)}`` for every view (or the ``only`` ones); values come from the shared
    cache when present. ``sel``: the linked selection (a :class:`qwenvl_viz.selection.Selection` of this
    trace) or None; ``checkpoint``: the weights the glance heatmaps are looked up for."""
    import hashlib

    from ..words import lang_of

    lang = lang_of(lang).value
    key_hash = hashlib.blake2b(repr((key, lang)).encode(), digest_size=10).hexdigest()
    out = {}
    enc = glance_encoding(key, trace, checkpoint)
    for name, (opts, make) in _view_specs(trace, view, sel, lang, key_hash, enc, not checkpoint).items():
        if only is not None and name not in only:
            continue
        ck = (name, key, opts, lang)
        if name in NAMED_VIEWS:  # shared by content, except what shows this session's own file
            ck += (trace.media.path,)
        out[name] = (ck, VIEWS.get_or(ck, make))
    if only is None or "lesson_text" in only:
        out.update(_lesson(key, trace, view, lang, out))
    return out


def _lesson(key: tuple, trace: Trace, view: ViewOptions, lang: str, out: dict) -> dict:
    """The lesson step's three views; their keys follow the glance view they show (same picture, no resend)."""
    from . import lesson

    step = lesson.clamp_step(view.step)
    shown = lesson.STEPS[step].view
    text, pic, table = lesson.lesson_views(trace, step, lang, {n: v for n, (_, v) in out.items()})
    base = out[shown][0] if shown in out else None
    cap = lesson.STEPS[step].caption
    cap_key = out[cap][0] if cap in out else None  # the text quotes the caption: a new caption, a new text
    return {"lesson_text": (("lesson_text", key, step, lang, cap_key), text),
            "lesson_pic": (("lesson_pic", base if pic is not None else None), pic),
            "lesson_html": (("lesson_html", base if table else None), table)}


def heatmap_image(hm, tiles, labels) -> str:
    """The heatmap sheet as a JPEG file, named after its content (same map, same file)."""
    import hashlib

    h = hashlib.blake2b(hm.values.tobytes(), digest_size=12)
    h.update(repr((hm.kind.value, hm.layer, hm.token, list(labels), [t.size for t in tiles])).encode())
    return save_jpeg(enc_fig.heatmap_sheet(hm, tiles, labels), f"hm_{h.hexdigest()}")
