"""The app's handlers: top-level functions of the widgets' values, callable without a browser.

Each takes the page's settings (:class:`AppConfig`) and the values Gradio passes, in the order of the
lists below (``lang`` first, then the :class:`~qwenvl_viz.ui.state.Request` fields, ...), and returns the
outputs in the order of ``UPDATE_OUTPUTS`` / ``ENCODER_OUTPUTS``. Numbers come from the Trace
(``get_trace``) and the views from ``render_views``; nothing here computes a pipeline number.
``update_inputs`` builds the positional values from a Request (tests use it).

The page paints in two events: ``glance`` (the ledger, the five cells, the lesson, the banner and error slots)
on every change, and ``details`` (the details tab) only while that tab is on screen (see ``style.HEAD``).
``update`` renders both at once: the language switch and API clients use it.

Named endpoints (gradio_client): ``/update``, ``/run_encoder``, ``/heatmap``, ``/relabel``, ``/compare``,
``/export``, ``/select``.
"""

from __future__ import annotations

import dataclasses
import html
import logging
import os
import re
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import gradio as gr

from .. import tv1_kernel
from ..compare import compare as compare_traces
from ..errors import VizError
from ..figures.encoder import stages_html
from ..figures.ledger import ledger_html
from ..profiles import PROFILES, default_profile
from ..trace import Trace
from ..words import Lang, lang_of, tr
from . import gallery, lesson, narration, teach, towers, widgets
from .encoder_view import MERGED, cached_encoding, default_tower, heatmap_tiles, render_heatmap, run_encoder, tower_choices
from .state import FIELDS, VISITORS, Request, get_trace
from .views import (GLANCE_VIEWS, LESSON_VIEWS, VIEW_NAMES, ViewOptions, display_size, heatmap_image, render_views,
                    warm_glance_frames)

__all__ = ["AppConfig", "ASSETS", "EXAMPLES", "REQUEST_FIELDS", "VIEW_FIELDS", "UPDATE_OUTPUTS", "ENC_NAMES",
           "ENCODER_OUTPUTS", "CASE_FIELDS", "GLANCE_OUTPUTS", "DETAILS_OUTPUTS", "ALWAYS_SENT", "update", "glance",
           "details", "error_text", "encode_run", "show_heatmap", "select_patch", "select_heatmap", "run_compare", "run_export", "open_case",
           "lesson_prev", "lesson_next", "update_inputs", "outputs_by_name", "warm_up"]

log = logging.getLogger("qwenvl_viz.app")

ASSETS = Path(__file__).resolve().parents[2] / "assets"
EXAMPLES = [str(ASSETS / "sample_clip.mp4"), str(ASSETS / "sample_image.jpg")]


@dataclass(frozen=True)
class AppConfig:
    checkpoint: str | None = None  # --checkpoint DIR: real encoder weights
    max_duration_s: float = 600.0  # --max-duration-s
    max_upload_mb: float = 200.0  # --max-upload-mb (enforced by launch(max_file_size=...))
    concurrency: int = 4  # preprocessing events served at once


GLANCE = ("ledger", "budget", *GLANCE_VIEWS, *LESSON_VIEWS)  # the first screen, repainted on every change
DETAILS = tuple(n for n in VIEW_NAMES if n not in GLANCE)  # the details tab, painted while it is on screen
ERRORS = tuple(f"err:{f}" for f in FIELDS)
REQUEST_FIELDS = [f.name for f in fields(Request)]
VIEW_FIELDS = [f.name for f in fields(ViewOptions)]
# What each paint returns, in order (the session gr.State is the last output, not part of the API).
UPDATE_OUTPUTS = ["banner", *ERRORS, *VIEW_NAMES, "group", "tower", "encoder_text", "selected"]  # /update
GLANCE_OUTPUTS = ["banner", *ERRORS, *GLANCE, "group", "tower", "selected"]
DETAILS_OUTPUTS = ["details_shown", "details_wait", *DETAILS, "encoder_text"]  # the tab is built hidden
# Always sent: a few hundred bytes, and a skipped output costs Gradio more (it rebuilds the component).
ALWAYS_SENT = frozenset({"banner", *ERRORS})
ENC_NAMES = ["lang", *REQUEST_FIELDS, "checkpoint", "tower", "heatmap_kind", "layer", "token"]  # their inputs
ENCODER_OUTPUTS = ["encoder_banner", "stages", "encoder_text", "layer", "heatmap", "err:checkpoint", "err:token"]
COMPARE_NAMES = ["lang", *REQUEST_FIELDS, "b_model", "b_pipeline", "b_fps", "b_nframes", "b_max_pixels"]
CASE_FIELDS = ("media", "model", "pipeline", "sample_by", "fps", "nframes")  # what a gallery case sets


def update_inputs(req: Request, view: ViewOptions | None = None, lang: str = "English", sent: dict | None = None
                  ) -> tuple:
    """The positional values ``update`` takes for ``req`` and ``view`` (what the page would send)."""
    view = view or ViewOptions()
    return (lang, *(getattr(req, n) for n in REQUEST_FIELDS), *(getattr(view, n) for n in VIEW_FIELDS), sent or {})


def outputs_by_name(out: tuple, names: list[str] = UPDATE_OUTPUTS) -> dict[str, Any]:
    """A paint's outputs by name (``names``: its output list), the session state under ``"sent"``."""
    return {**dict(zip(names, out)), "sent": out[-1]}


# ---- small pieces ------------------------------------------------------------------------------

def banner(text: str, ok: bool, warn: bool = False) -> str:
    cls = "banner banner-warn" if warn else ("banner banner-ok" if ok else "banner banner-error")
    return f'<div class="{cls}" role="{"status" if ok else "alert"}">{html.escape(text)}</div>'


def error_html(msg: str) -> str:
    return f'<div class="err" role="alert">⚠ {html.escape(msg)}</div>' if msg else ""


_CJK = re.compile(r"[\u4e00-\u9fff]")


def error_text(message: str, field: str, lang: Lang) -> str:
    """A user error as the page shows it. The library and the CLI write their messages in English (one
    source, quoted in issues and logs); in 中文 a Chinese lead-in names the control at fault, and the message
    follows as written (its numbers, parameter names and fix). A message already in Chinese stays as it is."""
    if lang is not Lang.ZH or _CJK.search(message):
        return message
    spec = widgets.BY_NAME.get(field)
    if spec is not None and "label" in spec.words:
        return tr("error_lead_field", lang, field=tr(spec.words["label"], lang), message=message)
    return tr("error_lead", lang, message=message)


def _request(values) -> Request:
    """The Request of a handler's positional inputs (``lang`` first, then the Request fields)."""
    return Request(**dict(zip(REQUEST_FIELDS, values[1 : 1 + len(REQUEST_FIELDS)])))


def _parse(values: list) -> tuple[Lang, Request, ViewOptions, dict]:
    """update()'s positional inputs: lang, the Request fields, the ViewOptions fields, the session state."""
    lang = lang_of(values[0])
    n_req, n_view = len(REQUEST_FIELDS), len(VIEW_FIELDS)
    req = _request(values)
    raw_view = dict(zip(VIEW_FIELDS, values[1 + n_req : 1 + n_req + n_view]))
    ctx = raw_view.get("context_len")
    view = ViewOptions(
        group=int(raw_view.get("group") or 0),
        order=raw_view.get("order") or "merge",
        windows=bool(raw_view.get("windows")),
        context_len=int(ctx) if ctx else None,
        selected=raw_view.get("selected") or "",
        step=lesson.clamp_step(raw_view.get("step")),
    )
    last = values[1 + n_req + n_view] or {}
    return lang, req, view, dict(last)


def _check_limits(trace: Trace, lang: Lang, max_duration_s: float) -> None:
    d = trace.media.duration
    if trace.kind == "video" and d is not None and d > max_duration_s:
        raise VizError(tr("too_long", lang, duration=d, limit=max_duration_s), field="media")


# ---- update: every control change and the page load ----------------------------------------------

def update(cfg: AppConfig, *values) -> tuple:
    """Every view (UPDATE_OUTPUTS), each sent only when this session does not have it yet."""
    return _update(cfg, values, UPDATE_OUTPUTS)


def glance(cfg: AppConfig, *values) -> tuple:
    """The first screen (GLANCE_OUTPUTS): pictures and small tables, the browser swaps them at once."""
    return _update(cfg, values, GLANCE_OUTPUTS)


def details(cfg: AppConfig, *values) -> tuple:
    """The details tab (DETAILS_OUTPUTS): its plotly figures cost the browser most, so the page asks for them
    only while the tab is on screen. Errors are the glance's to show: on one, nothing here changes."""
    return _update(cfg, values, DETAILS_OUTPUTS)


def _update(cfg: AppConfig, values, names: list[str]) -> tuple:
    log.debug("update inputs %r", values[:-1])
    lang, req, view, last = _parse(list(values))
    out: dict[str, Any] = {}
    try:
        return _render(cfg, lang, req, view, last, out, names)
    except VizError as e:
        out.clear()  # a view may have rendered before the error: send none of a half-updated page
        field_name = e.field if e.field in FIELDS else "media"
        text = error_text(str(e), field_name, lang)
        stale = f" — {tr('stale_views', lang)}" if last.get("trace") else ""
        out["banner"] = banner(tr("error_banner", lang, message=text) + stale, ok=False)
        for f in FIELDS:
            out[f"err:{f}"] = error_html(text) if f == field_name else ""
        return _emit(out, last, names)
    except Exception as e:  # a bug, not a user mistake: log it, keep serving, no traceback in the page
        log.exception("update failed")
        out.clear()
        out["banner"] = banner(tr("internal_error", lang, kind=type(e).__name__), ok=False)
        return _emit(out, last, names)


def _render(cfg: AppConfig, lang: Lang, req: Request, view: ViewOptions, last: dict, out: dict,
            names: list[str]) -> tuple:
    key, trace = get_trace(req)
    _check_limits(trace, lang, cfg.max_duration_s)
    out["banner"] = banner(narration.banner_text(trace, lang), ok=True)
    for f in FIELDS:
        out[f"err:{f}"] = ""
    slider = view.group
    view, sel = _follow_selection(trace, key, view, last, out)
    only = frozenset(names) & frozenset(VIEW_NAMES)
    for name, (ck, value) in render_views(key, trace, view, lang, sel, cfg.checkpoint, only=only).items():
        out[name] = (ck, value)
    t = trace.patchify.grid_thw[0]
    forced = view.group if view.group != slider else None  # the selection moved the slider
    out["group"] = (("group", t, forced), gr.update(maximum=max(t - 1, 1), interactive=t > 1,
                                                       value=min(view.group, t - 1)))
    out["tower"] = (("tower", trace.model.value), gr.update(choices=tower_choices(trace.model),
                                                            value=default_tower(trace.model)))
    out["encoder_text"] = (("encoder_text", key, lang), tr("encoder_idle", lang, rows=f"{trace.patchify.rows:,}"))
    out["details_shown"] = (("details_shown",), gr.update(visible=True))
    out["details_wait"] = (("details_wait",), gr.update(visible=False))
    return _emit(out, last, names, key)


def _follow_selection(trace: Trace, key: tuple, view: ViewOptions, last: dict, out: dict):
    """The linked selection in this trace. Same trace and another group on the slider: the selection moves
    to that group (same place in the picture). New settings: it stays on the same moment of the video and
    the slider follows it. Gone (other media, frame no longer sampled): cleared."""
    sel = teach.resolve_selection(trace, view.selected)
    if sel is None:
        if view.selected:
            out["selected"] = (None, "")
        return view, None
    if sel.group != view.group:
        if last.get("trace") == repr(key):
            moved = teach.regroup_selection(trace, view.selected, view.group)
            out["selected"] = (None, moved)
            sel = teach.resolve_selection(trace, moved)
        else:
            view = dataclasses.replace(view, group=sel.group)
    return view, sel


def _emit(out: dict, last: dict, names: list[str], key: tuple | None = None) -> tuple:
    """The outputs of ``names`` in order, then the new session state; a view whose key this session already
    has is skipped."""
    values = []
    new_last = dict(last)

    def put(name: str, item):
        if name not in out:
            values.append(gr.skip())
            return
        ck, value = item if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], tuple) \
            else ((name, item if isinstance(item, str) else repr(item)), item)
        if new_last.get(name) == ck and name not in ALWAYS_SENT:
            values.append(gr.skip())
        else:
            new_last[name] = ck
            values.append(value)

    for name in names:
        if name == "selected":
            # also written by clicks (not through here): what this session holds is unknown, so a new
            # value is always sent
            values.append(out["selected"][1] if "selected" in out else gr.skip())
        else:
            put(name, out.get(name))
    if key is not None:
        new_last["trace"] = repr(key)
    values.append(new_last)
    return tuple(values)


# ---- encoder -------------------------------------------------------------------------------------

def _enc_parse(values):
    """The encoder handlers' inputs: lang, the Request fields, checkpoint, tower, kind, layer, token."""
    lang, req = lang_of(values[0]), _request(values)
    checkpoint, tower, kind, layer, token = values[1 + len(REQUEST_FIELDS) : 1 + len(REQUEST_FIELDS) + 5]
    return lang, req, (checkpoint or "").strip() or None, tower, kind, layer, token


def _enc_error(e: VizError, lang: Lang) -> tuple:
    text = error_text(str(e), e.field, lang)
    msg = error_html(text)
    on_token = e.field in ("token", "layer", "heatmap")
    return (banner(tr("error_banner", lang, message=text), ok=False), gr.skip(), gr.skip(), gr.skip(),
            gr.skip(), "" if on_token else msg, msg if on_token else "")


def _enc_render(lang, trace, enc, kind, layer, token, layer_update) -> tuple:
    """The encoder outputs (banner, stages, text, layer, heatmap, two error slots) for one heatmap."""
    hm = render_heatmap(enc, kind, layer, token)
    tiles, labels = heatmap_tiles(trace)
    img = heatmap_image(hm, tiles, labels)
    c = enc.config
    text = tr("n_encoder", lang, family=c.family.value, name=c.name, depth=c.depth, d=c.hidden_size,
              heads=c.num_heads, rows=f"{enc.patch_embeds.shape[0]:,}", tokens=f"{enc.embeddings.shape[0]:,}",
              out=c.out_hidden_size, kind=hm.explanation)
    seed = enc.weights_source.removeprefix("random").strip(" ()")  # "random (seed 0)" -> "seed 0"
    words = tr("random_banner", lang, source=seed) if enc.random_weights else \
        tr("weights_banner", lang, source=enc.weights_source)
    return (banner(words, ok=True, warn=enc.random_weights), stages_html(enc.stages, lang), text, layer_update,
            img, "", "")


def encode_run(cfg: AppConfig, *values) -> tuple:
    """Run the encoder (progress bar; a gr.Progress may come last) and show its first heatmap."""
    progress = values[-1] if values and isinstance(values[-1], gr.Progress) else (lambda *a, **k: None)
    values = values[:-1] if values and isinstance(values[-1], gr.Progress) else values
    lang, req, checkpoint, tower, kind, layer, token = _enc_parse(values)
    try:
        key, trace = get_trace(req)
        _check_limits(trace, lang, cfg.max_duration_s)
        progress(0, desc="encoder")

        def tick(done: int, depth: int) -> None:
            progress((done, depth), desc=f"block {done}/{depth}")

        def fetching(done: int, total: int) -> None:  # a Hub tower's first use: megabytes
            progress((done // 10**6, max(total // 10**6, 1)), desc=tr("fetching_tower", lang), unit="MB")

        enc = run_encoder(key, trace, checkpoint, tower, tick, fetching)
        choices = [(tr("layer_merged", lang), MERGED)] + [
            (tr("layer_block", lang, k=k), str(k)) for k in sorted(enc.hidden)]
        layer = layer if layer in {v for _, v in choices} else MERGED
        return _enc_render(lang, trace, enc, kind, layer, token, gr.update(choices=choices, value=layer))
    except VizError as err:
        return _enc_error(err, lang)
    except Exception as err:
        log.exception("encoder failed")
        return _enc_error(VizError(tr("internal_error", lang, kind=type(err).__name__), field="checkpoint"), lang)


def show_heatmap(cfg: AppConfig, *values) -> tuple:
    """Another kind / layer / token of the cached run (no new run)."""
    lang, req, checkpoint, tower, kind, layer, token = _enc_parse(values)
    try:
        key, trace = get_trace(req)
        enc = cached_encoding(key, trace, checkpoint, tower)
        if enc is None:
            return (gr.skip(), gr.skip(), tr("encoder_stale", lang), gr.skip(), gr.skip(), "", "")
        return _enc_render(lang, trace, enc, kind, layer, token, gr.skip())
    except VizError as err:
        return _enc_error(err, lang)
    except Exception as err:
        log.exception("heatmap failed")
        return _enc_error(VizError(tr("internal_error", lang, kind=type(err).__name__), field="token"), lang)


# ---- teaching: selection, compare, export, gallery, lesson --------------------------------------

def select_patch(values, index, side: int):
    """A click at pixel ``index`` = (x, y) of a group's frame drawn ``side`` px on its long side -> the linked
    selection string (``values``: lang, the Request fields, the group shown)."""
    lang = lang_of(values[0])
    try:
        _, trace = get_trace(_request(values))
        x, y = index
        w, h = display_size(trace.resize.width, trace.resize.height, side)
        return teach.encode_selection(trace, values[-1] or 0, float(x), float(y), w, h)
    except VizError:
        return gr.skip()  # the page already shows what is wrong with the settings
    except Exception:
        log.exception("select failed (lang %s)", lang.value)
        return gr.skip()


def select_heatmap(cfg: AppConfig, *values) -> tuple:
    """Once the encoder has run: the cosine heatmap to the selected token (inputs: the encoder's, then the
    selection); otherwise nothing changes."""
    lang, req, checkpoint, tower, kind, layer, token = _enc_parse(values[:-1])
    skip = tuple(gr.skip() for _ in range(len(ENCODER_OUTPUTS) + 2))
    try:
        key, trace = get_trace(req)
        sel = teach.resolve_selection(trace, values[-1])
        enc = cached_encoding(key, trace, checkpoint, tower)
        if sel is None or enc is None:
            return skip
        target = sel.token if layer == MERGED else sel.row  # a block's hidden states are per patch row
        return (*_enc_render(lang, trace, enc, "cosine", layer, target, gr.skip()), target, "cosine")
    except VizError:
        return skip
    except Exception:
        log.exception("selection heatmap failed")
        return skip


def run_compare(cfg: AppConfig, *values) -> tuple:
    """A = the page's settings, B = A with the compare panel's changes: (ledger A, ledger B, table, error)."""
    lang, req_a = lang_of(values[0]), _request(values)
    b_model, b_pipeline, b_fps, b_nframes, b_max_pixels = values[1 + len(REQUEST_FIELDS) :]
    changes: dict[str, Any] = dict(model=b_model or req_a.model, pipeline=b_pipeline or req_a.pipeline)
    if b_nframes:
        changes.update(sample_by="nframes", nframes=b_nframes)
    elif b_fps:
        changes.update(sample_by="fps", fps=b_fps)
    if b_max_pixels:
        changes.update(max_pixels=b_max_pixels)
    try:
        _, ta = get_trace(req_a)
        try:
            _, tb = get_trace(dataclasses.replace(req_a, **changes))
        except VizError as err:
            raise VizError(f"B: {err}", field="compare") from None
        c = compare_traces(ta, tb)
        return (f"<h4>A · {html.escape(c.a_label)}</h4>" + ledger_html(ta, lang.value),
                f"<h4>B · {html.escape(c.b_label)}</h4>" + ledger_html(tb, lang.value),
                teach.compare_html(c, lang.value), "")
    except VizError as err:
        return gr.skip(), gr.skip(), gr.skip(), error_html(error_text(str(err), err.field, lang))
    except Exception as err:
        log.exception("compare failed")
        return gr.skip(), gr.skip(), gr.skip(), error_html(tr("internal_error", lang, kind=type(err).__name__))


def run_export(cfg: AppConfig, *values) -> tuple:
    """JSON / NPZ / CSV of the current trace (with the embeddings when the encoder has run), and an error slot."""
    lang, req, checkpoint, tower, *_ = _enc_parse(values)
    try:
        key, trace = get_trace(req)
        return teach.export_files(trace, cached_encoding(key, trace, checkpoint, tower)), ""
    except VizError as err:
        return gr.skip(), error_html(error_text(str(err), err.field, lang))
    except Exception as err:
        log.exception("export failed")
        return gr.skip(), error_html(tr("internal_error", lang, kind=type(err).__name__))


def open_case(index: int, lang_value: str) -> tuple:
    """Gallery case ``index``: the values of CASE_FIELDS, its note, and the glance tab selected."""
    lang = lang_of(lang_value)
    values = gallery.case_settings(index)
    return (*(values[f] for f in CASE_FIELDS), gallery.case_note_html(index, lang.value), gr.Tabs(selected="glance"))


def lesson_prev(step: float | None) -> int:
    return lesson.move_step(step, -1)


def lesson_next(step: float | None) -> int:
    return lesson.move_step(step, +1)


# ---- start-up ------------------------------------------------------------------------------------

def warm_up(paths: list[str] | None = None, checkpoint: str | None = None, encode: bool = True,
            families: tuple[str, ...] | None = None) -> None:
    """Probe, trace and render the bundled examples once, so the first page paints at once; with ``encode``,
    also run the default tower of the first family (the tiny random one on a CPU, or ``checkpoint``) so that
    the glance shows their heatmaps at first paint. ``families``: the page's opening family by default."""
    t0 = time.monotonic()
    tv1_kernel.available()  # load (first time ever: compile) the video resampler and check it against torch
    order = families or (default_profile().family.value,)
    for family in order:  # the opening family first: the first paints
        for path in paths or EXAMPLES:
            if not os.path.exists(path):
                continue
            try:
                # each step waits for a moment without visitor requests: the warm-up never slows a visitor
                VISITORS.wait_quiet()
                key, trace = get_trace(Request(media=path, model=family))
                if encode and family == order[0]:
                    # the opening family's heatmaps only: the encoder cache keeps 4 runs (a run of the clip is
                    # 65-90 MB even with the tiny tower), so warming every family would evict these
                    VISITORS.wait_quiet()
                    run_encoder(key, trace, checkpoint, towers.precompute_choice(trace.model, checkpoint))
                VISITORS.wait_quiet()
                render_views(key, trace, ViewOptions(), Lang.EN.value, checkpoint=checkpoint)
                if trace.sampling is not None and family == order[0]:
                    VISITORS.wait_quiet()
                    # the thumbnails of every frame (the family does not change them): an FPS change
                    # on the bundled clip then paints cell (a) without decoding
                    fps = min(trace.sampling.video_fps, 30.0)
                    warm_glance_frames(get_trace(Request(media=path, model=family, fps=fps))[1])
            except Exception:  # warming is best effort; the page reports real errors itself
                log.exception("warm-up of %s (%s) failed", path, family)
    for family in order:  # the tower picker's download sizes (meta towers, ~1 s for a family's sizes)
        VISITORS.wait_quiet()
        tower_choices(family)
    log.info("warm-up finished in %.1f s", time.monotonic() - t0)


def all_families() -> tuple[str, ...]:
    """Every family, the opening one first (what ``python app.py`` warms up)."""
    first = default_profile().family.value
    return (first, *(p.family.value for p in PROFILES.values() if p.family.value != first))
