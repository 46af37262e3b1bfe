"""The Gradio Blocks: controls on the left, the stages side by side on the right, the ledger on top.

One ``update`` path serves every control (pipeline knobs and view options alike) and the page load;
the encoder has its own Run button (progress bar, cached result); the language switch relabels the
widgets and then re-renders through ``update``.

Named endpoints (gradio_client): ``/update``, ``/run_encoder``, ``/heatmap``, ``/relabel``.
"""

from __future__ import annotations

import dataclasses
import html
import logging
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import gradio as gr

from .. import tv1_kernel
from ..compare import compare as compare_traces
from ..errors import VizError
from ..figures.encoder import stages_html
from ..figures.ledger import ledger_html
from ..decoders import default_decoder
from ..profiles import Decoder, Family, Pipeline
from ..trace import Trace
from . import gallery, lesson, narration, teach, towers
from .encoder_view import (MERGED, cached_encoding, default_tower, heatmap_tiles, render_heatmap, run_encoder,
                           tower_choices)
from ..words import LANGS, Lang, lang_of, tr
from .state import FIELDS, Request, get_trace
from .views import GLANCE_PATCH_SIDE, GLANCE_VIEWS, LESSON_VIEWS, PATCH_FRAME_SIDE, VIEW_NAMES, ViewOptions, display_size, heatmap_image, render_views

__all__ = ["build_demo", "AppConfig", "CSS", "HEAD", "launch_kwargs", "ASSETS", "EXAMPLES", "warm_up", "REQUEST_FIELDS",
           "VIEW_FIELDS", "UPDATE_OUTPUTS", "ENCODER_OUTPUTS"]

log = logging.getLogger("qwenvl_viz.app")

ASSETS = Path(__file__).resolve().parents[2] / "assets"
EXAMPLES = [str(ASSETS / "sample_clip.mp4"), str(ASSETS / "sample_image.jpg")]

MODEL_CHOICES = [(f.value.replace("qwen", "Qwen").replace("-vl", "-VL"), f.value) for f in Family]
LANG_CHOICES = list(LANGS)


@dataclass(frozen=True)
class AppConfig:
    checkpoint: str | None = None  # --checkpoint DIR: real encoder weights
    max_duration_s: float = 600.0  # --max-duration-s
    max_upload_mb: float = 200.0  # --max-upload-mb (enforced by launch(max_file_size=...))
    concurrency: int = 4  # preprocessing events served at once


@dataclass
class _UI:
    """Handles on the widgets (kept so issue-5 features can wire into the same page)."""

    lang: Any = None
    controls: dict[str, Any] = field(default_factory=dict)  # Request field -> widget
    views: dict[str, Any] = field(default_factory=dict)  # view name -> widget
    view_opts: dict[str, Any] = field(default_factory=dict)  # ViewOptions field -> widget
    errors: dict[str, Any] = field(default_factory=dict)  # field -> error slot
    headers: dict[str, Any] = field(default_factory=dict)  # word key -> gr.Markdown heading
    encoder: dict[str, Any] = field(default_factory=dict)
    banner: Any = None
    last: Any = None  # gr.State: what this session was last sent
    teach: dict[str, Any] = field(default_factory=dict)  # compare / export widgets
    notes: dict[str, Any] = field(default_factory=dict)  # word key -> gr.Markdown paragraph (no heading)


CSS = """
.gradio-container { max-width: 100% !important; padding: 4px 12px !important; }
.gradio-container > .main, .gradio-container .wrap.fillable { padding: 0 !important; }
#title h3 { margin: 0 !important; font-size: 16px; line-height: 1.25; }
.dec-table { border-collapse: collapse; font-size: 14px; }
.dec-table td, .dec-table th { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
.dec-follows { background: #eef6ff; }
.dec-fail td { color: #a00; }
.dec-strip { position: relative; width: 260px; height: 14px; background: #eee; border-radius: 3px; }
.dec-tick { position: absolute; top: 1px; width: 3px; height: 12px; background: #36c; }
.dec-tick.dec-diff { background: #d22; width: 4px; }
#lang .wrap { flex-wrap: nowrap; }
#case-note:not(:has(.gallery-note)) { display: none !important; }
#modes > div:first-child button[role=tab] { padding-top: 2px !important; padding-bottom: 2px !important; }
#views { gap: 4px !important; }
#modes .tabitem, #modes [role=tabpanel] { padding-top: 4px !important; }
#banner .banner { padding: 4px 10px !important; font-size: 14px !important; }
#main-row { gap: 8px; }
#controls { max-height: calc(100vh - 64px); overflow-y: auto; flex-wrap: nowrap; }  /* scroll, never wrap into hidden columns */
#controls > * { flex-shrink: 0; }
#ledger .ledger { flex-wrap: nowrap; gap: 2px; }
#ledger .ledger-card { padding: 2px 5px; min-width: 0; }
#ledger .ledger-stage { font-size: 10px; }
#ledger .ledger-shape { font-size: 13px; overflow-wrap: anywhere; }
#ledger .ledger-arrow { font-size: 13px; }
#ledger .ledger-formula { max-height: 1.3em; overflow: hidden; font-size: 10px; }
#ledger .ledger-formula:hover { max-height: 12em; overflow-y: auto; }
#glance { gap: 6px; flex-wrap: nowrap; }
.glance-cell { border: 1px solid #dde3ea; border-radius: 8px; padding: 4px !important; gap: 2px !important;
  min-width: 0 !important; }
.glance-title h4 { margin: 0 !important; font-size: 14px; }
.glance-cap { font-size: 12px; line-height: 1.3; color: #234; overflow-wrap: anywhere; }
.glance-idx { font-family: 'DejaVu Sans Mono', monospace; font-size: 10px; letter-spacing: -0.3px; }
.glance-pic { height: calc(100vh - var(--glance-top, 345px)) !important; min-height: 160px !important; }
#glance-heatmaps-pic:not(:has(img)), #lesson-pic:not(:has(img)) { height: 0 !important; min-height: 0 !important;
  overflow: hidden; }
.glance-pic img { height: 100% !important; width: 100% !important; object-fit: contain; object-position: top; }
.glance-html { max-height: calc(100vh - var(--glance-top, 345px) + 40px); overflow-y: auto; }
.glance-table { font-size: 12px; border-collapse: collapse; width: 100%; }
.glance-table td, .glance-table th { padding: 1px 4px !important; border-bottom: 1px solid #eef; text-align: left; }
.glance-table tr.glance-sel td { background: #fde4f1; outline: 1px solid #e6007e; }
.glance-table td { white-space: nowrap; }
.glance-ts { font-size: 11px; font-weight: 700; color: #5e35b1; letter-spacing: -0.4px; }
#glance-timestamps .glance-table td, #glance-timestamps .glance-table th { padding: 1px 2px !important; font-size: 11px; }
#glance-run { margin-top: 4px; }
#modes > .tab-wrapper, #modes [role=tablist] { min-height: 0; }
#lesson-text, #lesson-text .prose, #lesson-text p, #lesson-text li { font-size: 22px !important; line-height: 1.45; }
#lesson-text h3 { font-size: 28px !important; margin: 4px 0 10px 0 !important; }
#lesson-text code { font-size: 20px; }
#case-note .gallery-note { background: #fff8ec; border: 1px solid #f0c987; border-radius: 8px; padding: 4px 10px;
  font-size: 14px; margin: 2px 0; }
#lesson-html .glance-table { font-size: 18px; }
#lesson-html .glance-cap { font-size: 16px; }
#banner .banner { padding: 8px 14px; border-radius: 8px; font-size: 16px; }
#banner .banner-ok { background: #eef6ee; border: 1px solid #9c9; }
.banner-warn { background: #fff6dd; border: 1px solid #f0b44c; color: #6b4a00; padding: 8px 14px;
  border-radius: 8px; font-weight: 600; }
#banner .banner-error { background: #fdecea; border: 1px solid #e57373; color: #8b1a1a; font-weight: 600; }
.field-error { min-height: 0 !important; }
.field-error:not(:has(.err)) { display: none !important; }  /* an empty slot takes no room */
.field-error .err { color: #b71c1c; font-size: 13px; font-weight: 600; padding: 2px 4px; overflow-wrap: anywhere; }
#banner .banner { overflow-wrap: anywhere; }
.ledger { display: flex; flex-wrap: wrap; align-items: stretch; gap: 4px; }
.ledger-card { flex: 1 1 0; background: #f5f8fc; border: 1px solid #c9d6e8; border-radius: 8px; padding: 6px 8px;
  min-width: 118px; }
.ledger-next { background: #fff8ec; border-color: #f0c987; }
.ledger-stage { font-size: 12px; text-transform: uppercase; color: #456; letter-spacing: .03em; }
.ledger-shape { font-family: 'DejaVu Sans Mono', monospace; font-size: 16px; font-weight: 700; color: #123;
  margin: 2px 0; }
.ledger-formula { font-family: 'DejaVu Sans Mono', monospace; font-size: 11px; color: #345; word-break: break-word;
  max-height: 12em; overflow-y: auto; }
.ledger-arrow { align-self: center; font-size: 18px; color: #89a; flex: 0 0 auto; }
.badges { display: flex; flex-wrap: wrap; gap: 6px; }
.badge { background: #eef2f7; border-radius: 12px; padding: 3px 10px; font-size: 14px; }
.badge-warn { background: #fff1d6; border: 1px solid #f0b44c; }
.notes { font-size: 13px; margin-top: 6px; color: #444; }
.prompt-view { font-family: 'DejaVu Sans Mono', 'Noto Sans Mono CJK SC', monospace; font-size: 13px; line-height: 2.1; }
.chip { border-radius: 5px; padding: 2px 4px; margin: 0 1px; white-space: pre-wrap; }
.chip .count { font-size: 10px; color: #666; margin-left: 2px; }
.chip-system, .chip-user_start, .chip-user_end, .chip-assistant_start { background: #eceff1; color: #455a64; }
.chip-text { background: #e8f5e9; }
.chip-vision_start, .chip-vision_end { background: #ffe0b2; }
.chip-image_pad, .chip-video_pad { background: #ff9800; color: white; font-weight: 700; }
.chip-video_pad .frames { font-weight: 400; }
.chip-timestamp { background: #7e57c2; color: white; font-weight: 700; }
.chip-more { background: #fff; border: 1px dashed #999; }
.nl { color: #999; }
table.stages td, table.stages th { padding: 2px 10px; font-size: 13px; }
table.stages code { white-space: nowrap; }
.view-title h3 { margin: 6px 0 0 0 !important; }
.sel-panel { font-size: 14px; }
.sel-empty { color: #555; padding: 10px; border: 1px dashed #bbb; border-radius: 8px; }
.sel-table th { text-align: left; white-space: nowrap; color: #456; padding: 3px 10px 3px 0; vertical-align: top; }
.sel-table td { padding: 3px 0; }
.chip-selected { outline: 3px solid #e6007e; }
.sel-token { color: #e6007e; font-weight: 700; }
.ver { border: 1px solid #dde; border-radius: 8px; padding: 6px 10px; margin: 6px 0; }
.ver-differs { border-color: #f0b44c; background: #fffaf0; }
.ver-title { font-weight: 700; }
.ver-badge { font-weight: 400; font-size: 12px; background: #eef2f7; border-radius: 10px; padding: 1px 8px; }
.ver-differs .ver-badge { background: #f0b44c; color: #3b2a00; }
.ver-table td, .ver-table th, .cmp-table td, .cmp-table th { padding: 2px 8px; font-size: 13px; vertical-align: top; }
.ver-shown td { font-weight: 600; }
.ver-note, .ver-legend { font-size: 12px; color: #555; }
.cmp-diff { background: #fff3e0; }
.cmp-table td { font-family: 'DejaVu Sans Mono', monospace; font-size: 12px; overflow-wrap: anywhere; }
"""

# Chinese fonts: Debian's fonts-noto-cjk is found by name; nothing is fetched from the network.
HEAD = '<meta name="viewport" content="width=device-width, initial-scale=1">' + """<script>
// lesson mode: the arrow keys press prev / next while the lesson is on screen and no field has the focus
document.addEventListener('keydown', (e) => {
  if (e.target.closest && e.target.closest('input, textarea, select, [contenteditable="true"]')) return;
  const lesson = document.querySelector('#lesson');
  if (!lesson || lesson.offsetParent === null) return;
  const id = e.key === 'ArrowRight' ? '#lesson-next' : e.key === 'ArrowLeft' ? '#lesson-prev' : null;
  if (id) { e.preventDefault(); document.querySelector(id)?.click(); }
});
</script>"""


def _head() -> str:
    """HEAD plus a modulepreload of Gradio's plotly.js chunk (1.3 MB): Gradio fetches it only once the first
    figure arrives; preloading it with the page lets the first figures paint earlier."""
    assets = Path(gr.__file__).parent / "templates" / "frontend" / "assets"
    chunks = sorted(assets.glob("PlotlyPlot-*.js"))
    return HEAD + "".join(f'<link rel="modulepreload" href="assets/{p.name}">' for p in chunks)


def launch_kwargs() -> dict:
    """What Blocks.launch() needs besides host / port (Gradio 6 takes css and theme there)."""
    return dict(css=CSS, head=_head(), theme=gr.themes.Default(font=["Noto Sans", "Noto Sans CJK SC", "sans-serif"]))


# ---- helpers ---------------------------------------------------------------------------------

def _banner(text: str, ok: bool, warn: bool = False) -> str:
    cls = "banner banner-warn" if warn else ("banner banner-ok" if ok else "banner banner-error")
    return f'<div class="{cls}" role="{"status" if ok else "alert"}">{html.escape(text)}</div>'


def _err(msg: str) -> str:
    return f'<div class="err" role="alert">⚠ {html.escape(msg)}</div>' if msg else ""


PLOTS = frozenset({"timeline", "resize", "patch", "rope"})  # plotly figures: the slow part of a paint
GLANCE = frozenset({"ledger", "budget", *GLANCE_VIEWS, *LESSON_VIEWS})  # painted first; the rest waits for its turn
DETAILS = frozenset(VIEW_NAMES) - GLANCE
BELOW_FOLD = frozenset({"patch", "patch_text", "select_image", "selection", "rope", "rope_text", "prompt",
                        "prompt_text", "versions", "snippet", "cli", "summary"})
REQUEST_FIELDS = [f.name for f in fields(Request)]
VIEW_FIELDS = [f.name for f in fields(ViewOptions)]
# What /update returns, in order (the session gr.State is not part of the API).
UPDATE_OUTPUTS = ["banner", *(f"err:{f}" for f in FIELDS), *VIEW_NAMES, "group", "tower", "encoder_text", "selected"]
ENC_NAMES = ["lang", *REQUEST_FIELDS, "checkpoint", "tower", "heatmap_kind", "layer", "token"]  # their inputs
ENCODER_OUTPUTS = ["encoder_banner", "stages", "encoder_text", "layer", "heatmap", "err:checkpoint", "err:token"]


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


# ---- the page ----------------------------------------------------------------------------------

def build_demo(config: AppConfig | None = None) -> gr.Blocks:
    """The whole app, not launched (``demo.launch(**launch_kwargs())`` serves it)."""
    cfg = config or AppConfig()
    ui = _UI()
    en = Lang.EN
    with gr.Blocks(title="qwenvl-viz", analytics_enabled=False) as demo:
        ui.last = gr.State({})
        with gr.Row(elem_id="main-row"):
            with gr.Column(scale=1, min_width=210, elem_id="controls"):
                ui.headers["title"] = gr.Markdown(f"### {tr('title', en)}", elem_id="title")
                ui.lang = gr.Radio(LANG_CHOICES, value=LANG_CHOICES[0], label=tr("language", en), elem_id="lang",
                                   show_label=False, container=False)
                _controls(ui, cfg)
            with gr.Column(scale=7, min_width=600, elem_id="views"):
                ui.banner = gr.HTML(_banner("…", True), elem_id="banner", padding=False)
                ui.teach["case_note"] = gr.HTML("", elem_id="case-note", padding=False)
                with gr.Tabs(elem_id="modes") as modes:
                    ui.teach["modes"] = modes
                    with gr.Tab(tr("mode_glance", en), elem_id="tab-glance", id="glance") as tab:
                        ui.headers["mode_glance"] = tab
                        ui.views["ledger"] = gr.HTML(elem_id="ledger", padding=False)
                        _glance(ui)
                    with gr.Tab(tr("lesson_tab", en), elem_id="tab-lesson", id="lesson") as tab:
                        ui.headers["lesson_tab"] = tab
                        _lesson(ui)
                    with gr.Tab(tr("gallery_tab", en), elem_id="tab-gallery", id="gallery") as tab:
                        ui.headers["gallery_tab"] = tab
                        _gallery(ui)
                with gr.Tabs(elem_id="detail-tabs"):
                    with gr.Tab(tr("details_tab", en), elem_id="tab-details") as tab:
                        ui.headers["details_tab"] = tab
                        _views(ui)
                        _encoder_section(ui, cfg)
                    with gr.Tab(tr("compare_tab", en), elem_id="tab-compare") as tab:
                        ui.headers["compare_tab"] = tab
                        _compare_section(ui)
        _wire(demo, ui, cfg)
    demo.ui = ui  # type: ignore[attr-defined]  # for tests and issue-5 extensions
    return demo


def _header(ui: _UI, key: str) -> gr.Markdown:
    ui.headers[key] = gr.Markdown(f"### {tr(key, Lang.EN)}", elem_classes="view-title")
    return ui.headers[key]


def _slot(ui: _UI, name: str) -> None:
    ui.errors[name] = gr.HTML("", elem_id=f"err-{name.replace('_', '-')}", elem_classes="field-error",
                              padding=False)


def _controls(ui: _UI, cfg: AppConfig) -> None:
    en = Lang.EN
    c = ui.controls
    _header(ui, "controls")
    c["media"] = gr.File(value=EXAMPLES[0] if os.path.exists(EXAMPLES[0]) else None, label=tr("media", en), elem_id="media", file_count="single",
                         type="filepath", height=110)
    _slot(ui, "media")
    # FPS and the family first: the knobs a lesson turns live stay inside a projector's first screen
    c["fps"] = gr.Slider(0.1, 30.0, value=2.0, step=0.1, label=tr("fps", en), elem_id="fps")
    _slot(ui, "fps")
    c["model"] = gr.Radio(MODEL_CHOICES, value=Family.QWEN2_5_VL.value, label=tr("model", en), elem_id="model")
    _slot(ui, "model")
    bundled = [p for p in EXAMPLES if os.path.exists(p)]
    ui.encoder["examples"] = gr.Examples(examples=[[p] for p in bundled], inputs=[c["media"]], label=tr("examples", en),
                                         elem_id="examples", example_labels=[os.path.basename(p) for p in bundled])
    c["pipeline"] = gr.Radio([(tr(p.value, en), p.value) for p in Pipeline], value=Pipeline.OFFICIAL.value,
                             label=tr("pipeline", en), info=tr("pipeline_info", en), elem_id="pipeline")
    _slot(ui, "pipeline")
    c["decoder"] = gr.Dropdown([(tr(f"dec_{d.value}", en), d.value) for d in Decoder], value=default_decoder(),
                               label=tr("decoder", en), info=tr("decoder_info", en), elem_id="decoder")
    _slot(ui, "decoder")
    with gr.Group():
        _header(ui, "sampling_group")
        c["sample_by"] = gr.Radio([(tr("by_fps", en), "fps"), (tr("by_nframes", en), "nframes")], value="fps",
                                  label=tr("sampling_mode", en), elem_id="sample-by")
        c["nframes"] = gr.Number(None, label=tr("nframes", en), elem_id="nframes", precision=0)
        _slot(ui, "nframes")
        with gr.Row():
            c["min_frames"] = gr.Number(None, label=tr("min_frames", en), elem_id="min-frames", precision=0)
            c["max_frames"] = gr.Number(None, label=tr("max_frames", en), elem_id="max-frames", precision=0)
        _slot(ui, "min_frames")
        _slot(ui, "max_frames")
        with gr.Row():
            c["video_start"] = gr.Number(None, label=tr("video_start", en), elem_id="video-start")
            c["video_end"] = gr.Number(None, label=tr("video_end", en), elem_id="video-end")
        _slot(ui, "video_start")
        _slot(ui, "video_end")
    with gr.Group():
        _header(ui, "budget_group")
        c["pixel_unit"] = gr.Radio([(tr("unit_px", en), "px"), (tr("unit_tokens", en), "tokens")], value="px",
                                   label=tr("pixel_unit", en), elem_id="pixel-unit")
        c["min_pixels"] = gr.Number(None, label=tr("min_pixels", en), elem_id="min-pixels")
        _slot(ui, "min_pixels")
        c["max_pixels"] = gr.Number(None, label=tr("max_pixels", en), elem_id="max-pixels")
        _slot(ui, "max_pixels")
        c["total_pixels"] = gr.Number(None, label=tr("total_pixels", en), elem_id="total-pixels")
        _slot(ui, "total_pixels")
        ui.views["budget"] = gr.Markdown(elem_id="budget-now")
    c["prompt"] = gr.Textbox(value="", label=tr("prompt_text", en), elem_id="prompt", lines=2,
                             placeholder="Describe this video.")
    _slot(ui, "prompt")
    with gr.Accordion(tr("sizes_group", en), open=False) as acc:
        ui.headers["sizes_group"] = acc
        c["patch_size"] = gr.Number(None, label=tr("patch_size", en), elem_id="patch-size", precision=0)
        _slot(ui, "patch_size")
        c["merge_size"] = gr.Number(None, label=tr("merge_size", en), elem_id="merge-size", precision=0)
        _slot(ui, "merge_size")
        c["temporal_patch_size"] = gr.Number(None, label=tr("temporal_patch_size", en), elem_id="temporal-patch-size",
                                             precision=0)
        _slot(ui, "temporal_patch_size")
    with gr.Accordion(tr("versions_group", en), open=False) as acc:
        ui.headers["versions_group"] = acc
        c["text_resume"] = gr.Radio([(tr("release", en), "release"), (tr("transformers", en), "transformers")],
                                    value="release", label=tr("text_resume", en), elem_id="text-resume")
        _slot(ui, "text_resume")
        c["qwen3_outer_wrapper"] = gr.Checkbox(False, label=tr("qwen3_outer_wrapper", en), elem_id="outer-wrapper")
        c["cap_pixels_per_frame"] = gr.Checkbox(False, label=tr("cap_pixels_per_frame", en), elem_id="cap-pixels")
    with gr.Group():
        _header(ui, "view_group")
        v = ui.view_opts
        v["group"] = gr.Slider(0, 1, value=0, step=1, label=tr("group", en), elem_id="group")
        v["order"] = gr.Radio([(tr("order_merge", en), "merge"), (tr("order_raster", en), "raster")], value="merge",
                              label=tr("order", en), elem_id="order")
        v["windows"] = gr.Checkbox(True, label=tr("windows", en), elem_id="windows")
        v["context_len"] = gr.Number(32768, label=tr("context_len", en), elem_id="context-len", precision=0)
        v["selected"] = gr.Textbox("", visible=False, elem_id="selected")  # the linked selection (teach.py)
        v["step"] = gr.Number(0, visible=False, elem_id="lesson-step", precision=0)  # lesson mode's step


GLANCE_CELLS = (  # (elem id, title key, caption view, picture view or None: an HTML table fills the cell)
    ("glance-frames", "glance_frames", "g_frames_cap", "g_frames"),
    ("glance-patches", "glance_patches", "g_patches_cap", "g_patches"),
    ("glance-time-ids", "glance_time_ids", None, "g_time_ids"),
    ("glance-timestamps", "glance_timestamps", None, "g_timestamps"),
    ("glance-heatmaps", "glance_heatmaps", "g_heat_cap", "g_heatmaps"),
)
PICTURES = frozenset({"g_frames", "g_patches", "g_heatmaps"})


def _glance(ui: _UI) -> None:
    """The five cells side by side under the ledger: what a room compares without scrolling."""
    v = ui.views
    with gr.Row(equal_height=False, elem_id="glance"):
        for elem_id, title, cap, view in GLANCE_CELLS:
            with gr.Column(min_width=150, elem_classes="glance-cell", elem_id=elem_id):
                ui.headers[title] = gr.Markdown(f"#### {tr(title, Lang.EN)}", elem_classes="glance-title")
                if cap:
                    v[cap] = gr.HTML(elem_classes="glance-caption", padding=False)
                if view in PICTURES:
                    v[view] = gr.Image(type="filepath", interactive=False, show_label=False, container=False,
                                       buttons=["fullscreen"], elem_classes="glance-pic", elem_id=f"{elem_id}-pic")
                else:
                    v[view] = gr.HTML(elem_classes="glance-html", padding=False, elem_id=f"{elem_id}-table")
                if view == "g_heatmaps":
                    ui.encoder["glance_run"] = gr.Button(tr("g_heat_run", Lang.EN), size="sm", variant="primary",
                                                         elem_id="glance-run")


def _lesson(ui: _UI) -> None:
    """The stepper: prev / next (and the arrow keys, see HEAD), the step's narration in large type beside the
    glance picture or table it talks about."""
    v, en = ui.views, Lang.EN
    with gr.Column(elem_id="lesson"):
        with gr.Row(equal_height=True):
            ui.teach["lesson_prev"] = gr.Button(tr("l_prev", en), elem_id="lesson-prev", size="sm", scale=0,
                                                min_width=120)
            ui.teach["lesson_next"] = gr.Button(tr("l_next", en), elem_id="lesson-next", size="sm", scale=0,
                                                variant="primary", min_width=120)
            ui.notes["l_keys"] = gr.Markdown(tr("l_keys", en), elem_id="lesson-keys")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                v["lesson_text"] = gr.Markdown(elem_id="lesson-text")
            with gr.Column(scale=2):
                v["lesson_pic"] = gr.Image(type="filepath", interactive=False, show_label=False, container=False,
                                           buttons=["fullscreen"], elem_id="lesson-pic", elem_classes="glance-pic")
                v["lesson_html"] = gr.HTML(elem_id="lesson-html", padding=False)


def _gallery(ui: _UI) -> None:
    """One button per edge case (gallery.CASES); a click opens it on the glance, its note above."""
    ui.notes["gal_info"] = gr.Markdown(tr("gal_info", Lang.EN), elem_id="gallery-info")
    buttons = []
    with gr.Row(elem_id="gallery"):
        for k, case in enumerate(gallery.CASES):
            buttons.append(gr.Button(tr("gal_" + case.key, Lang.EN), elem_id=f"case-{case.key}", size="sm",
                                     min_width=160))
    ui.teach["cases"] = buttons


def _views(ui: _UI) -> None:
    v = ui.views
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=340):
            _header(ui, "media_view")
            v["media"] = gr.HTML(elem_id="media-view")
            v["media_text"] = gr.Markdown(elem_id="media-text")
        with gr.Column(scale=3, min_width=480):
            _header(ui, "resize_view")
            v["resize"] = gr.Plot(elem_id="resize-plot", show_label=False)
            v["resize_text"] = gr.Markdown(elem_id="resize-text")
    _header(ui, "timeline_view")
    v["timeline"] = gr.Plot(elem_id="timeline-plot", show_label=False)
    v["timeline_text"] = gr.Markdown(elem_id="timeline-text")
    v["frames"] = gr.Image(label="frames_view", elem_id="frames-sheet", type="filepath", interactive=False,
                           show_label=False, buttons=["download", "fullscreen"])
    _header(ui, "patch_view")
    v["patch"] = gr.Plot(elem_id="patch-plot", show_label=False)
    v["patch_text"] = gr.Markdown(elem_id="patch-text")
    _header(ui, "selection_view")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300):
            v["select_image"] = gr.Image(elem_id="select-frame", type="filepath", interactive=False, show_label=False,
                                         buttons=["download", "fullscreen"], height=560)
        with gr.Column(scale=3, min_width=420):
            v["selection"] = gr.HTML(elem_id="selection-view")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=520):
            _header(ui, "rope_view")
            v["rope"] = gr.Plot(elem_id="rope-plot", show_label=False)
            v["rope_text"] = gr.Markdown(elem_id="rope-text")
        with gr.Column(scale=2, min_width=360):
            _header(ui, "prompt_view")
            v["prompt"] = gr.HTML(elem_id="prompt-view", max_height=460)
            v["prompt_text"] = gr.Markdown(elem_id="prompt-text-narration")
    _header(ui, "versions_view")
    v["versions"] = gr.HTML(elem_id="versions-panel")
    _header(ui, "decoders_view")
    v["decoders"] = gr.HTML(elem_id="decoders-panel")
    with gr.Accordion(tr("reproduce_view", Lang.EN), open=False, elem_id="reproduce") as acc:
        ui.headers["reproduce_view"] = acc
        ui.notes["reproduce_info"] = gr.Markdown(tr("reproduce_info", Lang.EN))
        v["snippet"] = gr.Code(language="python", label=tr("snippet", Lang.EN), elem_id="snippet", interactive=False,
                               max_lines=28)
        v["cli"] = gr.Code(language="shell", label=tr("cli_line", Lang.EN), elem_id="cli-line", interactive=False)
    with gr.Accordion(tr("export_view", Lang.EN), open=False, elem_id="export") as acc:
        ui.headers["export_view"] = acc
        ui.notes["export_info"] = gr.Markdown(tr("export_info", Lang.EN))
        ui.teach["export_run"] = gr.Button(tr("export_run", Lang.EN), elem_id="export-run")
        ui.teach["export_err"] = gr.HTML("", elem_id="err-export", elem_classes="field-error", padding=False)
        ui.teach["export_files"] = gr.File(label=tr("export_files", Lang.EN), file_count="multiple",
                                           elem_id="export-files", interactive=False)
    with gr.Accordion(tr("summary", Lang.EN), open=False) as acc:
        ui.headers["summary"] = acc
        v["summary"] = gr.JSON(elem_id="summary", show_label=False)


def _encoder_section(ui: _UI, cfg: AppConfig) -> None:
    en = Lang.EN
    e = ui.encoder
    _header(ui, "encoder_view")
    e["banner"] = gr.HTML(elem_id="encoder-banner")
    with gr.Row():
        e["checkpoint"] = gr.Textbox(cfg.checkpoint or "", label=tr("checkpoint", en), elem_id="checkpoint", scale=2)
        fam = Family.QWEN2_5_VL
        e["tower"] = gr.Dropdown(tower_choices(fam), value=default_tower(fam), label=tr("tower", en),
                                 info=tr("tower_info", en), elem_id="tower", scale=2)
        e["run"] = gr.Button(tr("run_encoder", en), variant="primary", elem_id="run-encoder", scale=1)
    ui.errors["checkpoint"] = gr.HTML("", elem_id="err-checkpoint", elem_classes="field-error", padding=False)
    with gr.Row():
        e["kind"] = gr.Radio([(tr("hm_norm", en), "norm"), (tr("hm_pca", en), "pca"), (tr("hm_cosine", en), "cosine")],
                             value="pca", label=tr("heatmap_kind", en), elem_id="heatmap-kind")
        e["layer"] = gr.Dropdown([(tr("layer_merged", en), MERGED)], value=MERGED, label=tr("layer", en),
                                 elem_id="layer")
        e["token"] = gr.Number(0, label=tr("token", en), elem_id="token", precision=0)
    ui.errors["token"] = gr.HTML("", elem_id="err-token", elem_classes="field-error", padding=False)
    e["text"] = gr.Markdown(elem_id="encoder-text")
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=340):
            e["stages"] = gr.HTML(elem_id="encoder-stages-view")
        e["heatmap"] = gr.Image(elem_id="heatmap", type="filepath", interactive=False, show_label=False, scale=3,
                                buttons=["download", "fullscreen"])


def _compare_section(ui: _UI) -> None:
    en = Lang.EN
    t = ui.teach
    with gr.Accordion(tr("compare_view", en), open=False, elem_id="compare") as acc:
        ui.headers["compare_view"] = acc
        ui.notes["compare_info"] = gr.Markdown(tr("compare_info", en))
        with gr.Row():
            t["b_model"] = gr.Radio(MODEL_CHOICES, value=Family.QWEN3_VL.value, label=tr("cmp_b_model", en),
                                    elem_id="b-model")
            t["b_pipeline"] = gr.Radio([(tr(p.value, en), p.value) for p in Pipeline], value=Pipeline.OFFICIAL.value,
                                       label=tr("cmp_b_pipeline", en), elem_id="b-pipeline")
        with gr.Row():
            t["b_fps"] = gr.Number(0, label=tr("cmp_b_fps", en), elem_id="b-fps")
            t["b_nframes"] = gr.Number(0, label=tr("cmp_b_nframes", en), elem_id="b-nframes", precision=0)
            t["b_max_pixels"] = gr.Number(0, label=tr("cmp_b_max_pixels", en), elem_id="b-max-pixels")
        t["compare_run"] = gr.Button(tr("cmp_run", en), variant="primary", elem_id="compare-run")
        ui.errors["compare"] = gr.HTML("", elem_id="err-compare", elem_classes="field-error", padding=False)
        with gr.Row(equal_height=False):
            t["ledger_a"] = gr.HTML(elem_id="compare-a")
            t["ledger_b"] = gr.HTML(elem_id="compare-b")
        t["compare_table"] = gr.HTML(elem_id="compare-view")


# ---- encoder rendering (shared by the encoder and selection handlers) ---------------------------

def _enc_parse(values):
    """The encoder handlers' inputs: lang, the Request fields, checkpoint, tower, kind, layer, token."""
    lang, req = lang_of(values[0]), _request(values)
    checkpoint, tower, kind, layer, token = values[1 + len(REQUEST_FIELDS) :]
    return lang, req, (checkpoint or "").strip() or None, tower, kind, layer, token

def _enc_error(e: VizError) -> tuple:
    msg = _err(str(e))
    on_token = e.field in ("token", "layer", "heatmap")
    return (_banner(tr("error_banner", Lang.EN, message=str(e)), ok=False), gr.skip(), gr.skip(), gr.skip(),
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
    banner = tr("random_banner", lang, source=seed) if enc.random_weights else \
        tr("weights_banner", lang, source=enc.weights_source)
    return (_banner(banner, ok=True, warn=enc.random_weights), stages_html(enc.stages, lang), text, layer_update,
            img, "", "")


# ---- events ------------------------------------------------------------------------------------

def _wire(demo: gr.Blocks, ui: _UI, cfg: AppConfig) -> None:
    """Every control change -> update (all views), the language switch, then the encoder and teaching handlers."""
    req_inputs = [ui.controls[n] for n in REQUEST_FIELDS]
    view_inputs = [ui.view_opts[n] for n in VIEW_FIELDS]
    inputs = [ui.lang, *req_inputs, *view_inputs, ui.last]
    slots = [ui.errors[f] for f in FIELDS]
    view_outputs = [ui.views[n] for n in VIEW_NAMES]
    outputs = [ui.banner, *slots, *view_outputs, ui.view_opts["group"], ui.encoder["tower"], ui.encoder["text"],
               ui.view_opts["selected"], ui.last]

    def update(*values):
        return _update(values, frozenset())

    def first_paint(*values):
        """Page load and every control change, step 1: the ledger and the glance (pictures and small tables,
        the browser swaps them at once)."""
        return _update(values, DETAILS)

    def first_paint_plots(*values):
        """Step 2: the figures of the details tab (plotly draws them one by one, ~0.3 s each on a laptop)."""
        return _update(values, BELOW_FOLD)

    def _update(values, defer: frozenset):
        log.debug("update inputs %r", values[:-1])
        lang, req, view, last = _parse(list(values))
        out: dict[str, Any] = {}
        try:
            return _render(lang, req, view, last, out, defer)
        except VizError as e:
            out.clear()  # a view may have rendered before the error: send none of a half-updated page
            field_name = e.field if e.field in FIELDS else "media"
            text = str(e)
            stale = f" — {tr('stale_views', lang)}" if last.get("trace") else ""
            out["banner"] = _banner(tr("error_banner", lang, message=text) + stale, ok=False)
            for f in FIELDS:
                out[f"err:{f}"] = _err(text) if f == field_name else ""
            return _emit(out, last)
        except Exception as e:  # a bug, not a user mistake: log it, keep serving, no traceback in the page
            log.exception("update failed")
            out.clear()
            out["banner"] = _banner(tr("internal_error", lang, kind=type(e).__name__), ok=False)
            return _emit(out, last)

    def _render(lang: Lang, req: Request, view: ViewOptions, last: dict, out: dict, defer: frozenset) -> tuple:
        key, trace = get_trace(req)
        _check_limits(trace, lang, cfg.max_duration_s)
        out["banner"] = _banner(narration.banner_text(trace, lang), ok=True)
        for f in FIELDS:
            out[f"err:{f}"] = ""
        slider = view.group
        view, sel = _follow_selection(trace, key, view, last, out)
        for name, (ck, value) in render_views(key, trace, view, lang, sel, cfg.checkpoint).items():
            out[name] = (ck, value)
        t = trace.patchify.grid_thw[0]
        forced = view.group if view.group != slider else None  # the selection moved the slider
        out["group"] = (("group", t, forced), gr.update(maximum=max(t - 1, 1), interactive=t > 1,
                                                           value=min(view.group, t - 1)))
        out["tower"] = (("tower", trace.model.value), gr.update(choices=tower_choices(trace.model),
                                                                value=default_tower(trace.model)))
        enc_key = ("encoder_text", key, lang)
        out["encoder_text"] = (enc_key, tr("encoder_idle", lang, rows=f"{trace.patchify.rows:,}"))
        for name in defer:
            out.pop(name, None)
        return _emit(out, last, key)

    def _follow_selection(trace: Trace, key: tuple, view: ViewOptions, last: dict, out: dict):
        """The linked selection in this trace. Same trace and another group on the slider: the selection
        moves to that group (same place in the picture). New settings: it stays on the same moment of the
        video and the slider follows it. Gone (other media, frame no longer sampled): cleared."""
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

    def _emit(out: dict, last: dict, key: tuple | None = None) -> tuple:
        """The outputs in order; a value whose key this session already has is skipped."""
        values = []
        new_last = dict(last)

        def put(name: str, item):
            if name not in out:
                values.append(gr.skip())
                return
            ck, value = item if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], tuple) \
                else ((name, item if isinstance(item, str) else repr(item)), item)
            if new_last.get(name) == ck:
                values.append(gr.skip())
            else:
                new_last[name] = ck
                values.append(value)

        put("banner", out.get("banner"))
        for f in FIELDS:
            put(f"err:{f}", out.get(f"err:{f}"))
        for n in VIEW_NAMES:
            put(n, out.get(n))
        put("group", out.get("group"))
        put("tower", out.get("tower"))
        put("encoder_text", out.get("encoder_text"))
        # the selection field is also written by clicks (not through here): what this session holds is
        # unknown, so a new value is always sent
        values.append(out["selected"][1] if "selected" in out else gr.skip())
        if key is not None:
            new_last["trace"] = repr(key)
        values.append(new_last)
        return tuple(values)

    _named(update, ["lang", *REQUEST_FIELDS, *VIEW_FIELDS, "sent"])
    _named(first_paint, ["lang", *REQUEST_FIELDS, *VIEW_FIELDS, "sent"])
    _named(first_paint_plots, ["lang", *REQUEST_FIELDS, *VIEW_FIELDS, "sent"])
    # first paint: the top of the page at once, the rest right after (plotly draws figures one by one)
    # first paint in three steps, each drawn before the next arrives: text and pictures, the top figures, the rest
    demo.load(first_paint, inputs=inputs, outputs=outputs, api_name="first_paint", api_visibility="private",
              concurrency_id="preprocess", show_progress="minimal").then(
        first_paint_plots, inputs=inputs, outputs=outputs, api_name="first_paint_plots", api_visibility="private",
        concurrency_id="preprocess", show_progress="hidden").then(
        update, inputs=inputs, outputs=outputs, api_name="first_paint_rest", api_visibility="private",
        concurrency_id="preprocess", show_progress="hidden")
    triggers = [ui.controls["media"].change]
    for name in REQUEST_FIELDS:
        if name != "media":
            triggers.append(ui.controls[name].input)
    for name in VIEW_FIELDS:
        triggers.append(ui.view_opts[name].input)
    # a control change: the glance first (what the room looks at), then the details tab
    gr.on(triggers, first_paint, inputs=inputs, outputs=outputs, api_name="update_glance", trigger_mode="always_last",
          concurrency_limit=cfg.concurrency, concurrency_id="preprocess", show_progress="minimal",
          api_visibility="private").then(
        update, inputs=inputs, outputs=outputs, api_name="update", concurrency_limit=cfg.concurrency,
        concurrency_id="preprocess", show_progress="hidden")

    # language: relabel the widgets, then re-render everything through update
    relabel_targets, relabel_fns = _relabel_table(ui)

    def relabel(lang_value):
        lang = lang_of(lang_value)
        return tuple(fn(lang) for fn in relabel_fns)

    ui.lang.input(relabel, inputs=[ui.lang], outputs=relabel_targets, api_name="relabel", queue=False).then(
        update, inputs=inputs, outputs=outputs, api_name="relabel_update", api_visibility="private",
        concurrency_id="preprocess")

    enc_inputs, enc_outputs = _wire_encoder(ui, cfg, req_inputs)
    # when a run ends, the glance's heatmap cell fills in (its view key includes the cached encoding)
    ui.encoder["run_event"].then(first_paint, inputs=inputs, outputs=outputs, api_visibility="private",
                                 concurrency_id="preprocess")
    ui.encoder["glance_run"].click(ui.encoder["encode_run"], inputs=enc_inputs, outputs=enc_outputs,
                                   concurrency_limit=1, concurrency_id="gpu", api_visibility="private").then(
        first_paint, inputs=inputs, outputs=outputs, api_visibility="private", concurrency_id="preprocess")
    _wire_teach(ui, req_inputs, update, first_paint, inputs, outputs, enc_inputs, enc_outputs)
    case_outputs = [ui.controls[f] for f in CASE_FIELDS] + [ui.teach["case_note"], ui.teach["modes"]]
    for k, button in enumerate(ui.teach["cases"]):
        button.click(lambda lang, k=k: open_case(k, lang), inputs=[ui.lang], outputs=case_outputs, queue=False,
                     api_visibility="private").then(
            first_paint, inputs=inputs, outputs=outputs, api_visibility="private", concurrency_id="preprocess").then(
            update, inputs=inputs, outputs=outputs, api_visibility="private", concurrency_id="preprocess")
    ui.controls["media"].upload(lambda: "", outputs=[ui.teach["case_note"]], queue=False, api_visibility="private")
    step = ui.view_opts["step"]
    for button, fn in ((ui.teach["lesson_prev"], lesson_prev), (ui.teach["lesson_next"], lesson_next)):
        button.click(fn, inputs=[step], outputs=[step], queue=False, api_name=fn.__name__).then(
            first_paint, inputs=inputs, outputs=outputs, api_visibility="private", concurrency_id="preprocess")


def _wire_encoder(ui: _UI, cfg: AppConfig, req_inputs: list) -> tuple[list, list]:
    """Run the encoder (serialized: one at a time) and redraw its heatmap; returns (inputs, outputs)."""
    e = ui.encoder
    enc_inputs = [ui.lang, *req_inputs, e["checkpoint"], e["tower"], e["kind"], e["layer"], e["token"]]
    enc_outputs = [e["banner"], e["stages"], e["text"], e["layer"], e["heatmap"], ui.errors["checkpoint"],
                   ui.errors["token"]]

    def encode_run(*values):
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
            return _enc_error(err)
        except Exception as err:
            log.exception("encoder failed")
            return _enc_error(VizError(tr("internal_error", lang, kind=type(err).__name__), field="checkpoint"))

    def show_heatmap(*values):
        lang, req, checkpoint, tower, kind, layer, token = _enc_parse(values)
        try:
            key, trace = get_trace(req)
            enc = cached_encoding(key, trace, checkpoint, tower)
            if enc is None:
                return (gr.skip(), gr.skip(), tr("encoder_stale", lang), gr.skip(), gr.skip(), "", "")
            return _enc_render(lang, trace, enc, kind, layer, token, gr.skip())
        except VizError as err:
            return _enc_error(err)
        except Exception as err:
            log.exception("heatmap failed")
            return _enc_error(VizError(tr("internal_error", lang, kind=type(err).__name__), field="token"))

    _named(encode_run, ENC_NAMES, progress=True)
    _named(show_heatmap, ENC_NAMES)
    e["encode_run"] = encode_run
    e["run_event"] = e["run"].click(encode_run, inputs=enc_inputs, outputs=enc_outputs, api_name="run_encoder",
                                    concurrency_limit=1, concurrency_id="gpu")
    gr.on([e["kind"].input, e["layer"].input, e["token"].input], show_heatmap, inputs=enc_inputs,
          outputs=enc_outputs, api_name="heatmap", trigger_mode="always_last", concurrency_limit=cfg.concurrency,
          concurrency_id="preprocess")
    return enc_inputs, enc_outputs


CASE_FIELDS = ("media", "model", "pipeline", "sample_by", "fps", "nframes")  # what a gallery case sets


def open_case(index: int, lang_value: str) -> tuple:
    """Gallery case ``index``: the values of CASE_FIELDS, its note, and the glance tab selected."""
    lang = lang_of(lang_value)
    values = gallery.case_settings(index)
    return (*(values[f] for f in CASE_FIELDS), gallery.case_note_html(index, lang.value), gr.Tabs(selected="glance"))


def lesson_prev(step: float | None) -> int:
    return lesson.move_step(step, -1)


def lesson_next(step: float | None) -> int:
    return lesson.move_step(step, +1)


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


def _wire_teach(ui: _UI, req_inputs: list, update, first_paint, inputs: list, outputs: list, enc_inputs: list,
                enc_outputs: list) -> None:
    """The teaching features: linked selection, compare, exports (rendered by teach.py)."""
    e = ui.encoder
    # linked selection: a click on the frame -> the selection string -> every view (update) -> the heatmap
    sel_inputs = [ui.lang, *req_inputs, ui.view_opts["group"]]

    def select_on(side: int):
        def on_select(evt: gr.SelectData, *values):
            return select_patch(values, evt.index, side)
        return on_select

    def select_heatmap(*values):
        """Once the encoder has run: the cosine heatmap to the selected token; otherwise nothing changes."""
        lang, req, checkpoint, tower, kind, layer, token = _enc_parse(values[:-1])
        skip = tuple(gr.skip() for _ in range(len(enc_outputs) + 2))
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

    for picture, side in ((ui.views["select_image"], PATCH_FRAME_SIDE), (ui.views["g_patches"], GLANCE_PATCH_SIDE)):
        picture.select(select_on(side), inputs=sel_inputs, outputs=[ui.view_opts["selected"]],
                       api_name="select" if side == PATCH_FRAME_SIDE else "select_glance",
                       concurrency_id="preprocess").then(
            first_paint, inputs=inputs, outputs=outputs, api_visibility="private", concurrency_id="preprocess").then(
            update, inputs=inputs, outputs=outputs, api_visibility="private", concurrency_id="preprocess").then(
            select_heatmap, inputs=[*enc_inputs, ui.view_opts["selected"]],
            outputs=[*enc_outputs, e["token"], e["kind"]], api_visibility="private", concurrency_id="preprocess")

    # compare: A = the page's settings, B = A with the changes of the compare panel
    t = ui.teach
    b_inputs = [t["b_model"], t["b_pipeline"], t["b_fps"], t["b_nframes"], t["b_max_pixels"]]

    def run_compare(*values):
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
            return gr.skip(), gr.skip(), gr.skip(), _err(str(err))
        except Exception as err:
            log.exception("compare failed")
            return gr.skip(), gr.skip(), gr.skip(), _err(tr("internal_error", lang, kind=type(err).__name__))

    _named(run_compare, ["lang", *REQUEST_FIELDS, "b_model", "b_pipeline", "b_fps", "b_nframes", "b_max_pixels"])
    gr.on([t["compare_run"].click, *(w.input for w in b_inputs)], run_compare,
          inputs=[ui.lang, *req_inputs, *b_inputs], outputs=[t["ledger_a"], t["ledger_b"], t["compare_table"],
                                                             ui.errors["compare"]],
          api_name="compare", trigger_mode="always_last", concurrency_id="preprocess")

    # exports: JSON / NPZ / CSV of the current trace (with the embeddings when the encoder has run)
    def run_export(*values):
        lang, req, checkpoint, tower, *_ = _enc_parse(values)
        try:
            key, trace = get_trace(req)
            return teach.export_files(trace, cached_encoding(key, trace, checkpoint, tower)), ""
        except VizError as err:
            return gr.skip(), _err(str(err))
        except Exception as err:
            log.exception("export failed")
            return gr.skip(), _err(tr("internal_error", lang, kind=type(err).__name__))

    _named(run_export, ENC_NAMES)
    t["export_run"].click(run_export, inputs=enc_inputs, outputs=[t["export_files"], t["export_err"]],
                          api_name="export", concurrency_limit=1, concurrency_id="export")


def _named(fn, names: list[str], progress: bool = False):
    """Give a ``*values`` handler a real signature: gradio_client then shows named parameters, and a
    ``gr.Progress`` default makes Gradio pass a progress tracker (as the last positional value)."""
    import inspect

    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    params = [inspect.Parameter(n, kind) for n in names]
    if progress:
        params.append(inspect.Parameter("progress", kind, default=gr.Progress()))
    fn.__signature__ = inspect.Signature(params)
    return fn


def _relabel_table(ui: _UI) -> tuple[list, list]:
    """(widgets, functions lang -> gr.update) for the language switch."""
    targets: list = []
    fns: list = []

    def add(widget, fn):
        targets.append(widget)
        fns.append(fn)

    c, v, e = ui.controls, ui.view_opts, ui.encoder
    add(ui.headers["title"], lambda L: gr.update(value=f"### {tr('title', L)}"))
    for key, head in ui.headers.items():
        if key == "title":
            continue
        if key.startswith("glance_"):
            add(head, lambda L, k=key: gr.update(value=f"#### {tr(k, L)}"))
        elif isinstance(head, (gr.Accordion, gr.Tab)):
            add(head, lambda L, k=key: gr.update(label=tr(k, L)))
        else:
            add(head, lambda L, k=key: gr.update(value=f"### {tr(k, L)}"))
    for key, note in ui.notes.items():
        add(note, lambda L, k=key: gr.update(value=tr(k, L)))
    simple = {"media": "media", "fps": "fps", "nframes": "nframes", "min_frames": "min_frames",
              "max_frames": "max_frames", "video_start": "video_start", "video_end": "video_end",
              "min_pixels": "min_pixels", "max_pixels": "max_pixels", "total_pixels": "total_pixels",
              "prompt": "prompt_text", "patch_size": "patch_size", "merge_size": "merge_size",
              "temporal_patch_size": "temporal_patch_size", "qwen3_outer_wrapper": "qwen3_outer_wrapper",
              "cap_pixels_per_frame": "cap_pixels_per_frame", "model": "model"}
    for name, key in simple.items():
        add(c[name], lambda L, k=key: gr.update(label=tr(k, L)))
    add(c["pipeline"], lambda L: gr.update(label=tr("pipeline", L), info=tr("pipeline_info", L),
                                           choices=[(tr(p.value, L), p.value) for p in Pipeline]))
    add(c["decoder"], lambda L: gr.update(label=tr("decoder", L), info=tr("decoder_info", L),
                                          choices=[(tr(f"dec_{d.value}", L), d.value) for d in Decoder]))
    add(c["sample_by"], lambda L: gr.update(label=tr("sampling_mode", L),
                                            choices=[(tr("by_fps", L), "fps"), (tr("by_nframes", L), "nframes")]))
    add(c["pixel_unit"], lambda L: gr.update(label=tr("pixel_unit", L),
                                             choices=[(tr("unit_px", L), "px"), (tr("unit_tokens", L), "tokens")]))
    add(c["text_resume"], lambda L: gr.update(label=tr("text_resume", L), choices=[
        (tr("release", L), "release"), (tr("transformers", L), "transformers")]))
    add(v["group"], lambda L: gr.update(label=tr("group", L)))
    add(v["order"], lambda L: gr.update(label=tr("order", L), choices=[
        (tr("order_merge", L), "merge"), (tr("order_raster", L), "raster")]))
    add(v["windows"], lambda L: gr.update(label=tr("windows", L)))
    add(v["context_len"], lambda L: gr.update(label=tr("context_len", L)))
    add(e["examples"].dataset, lambda L: gr.update(label=tr("examples", L)))
    add(e["checkpoint"], lambda L: gr.update(label=tr("checkpoint", L)))
    add(e["tower"], lambda L: gr.update(label=tr("tower", L), info=tr("tower_info", L)))
    add(e["run"], lambda L: gr.update(value=tr("run_encoder", L)))
    add(e["glance_run"], lambda L: gr.update(value=tr("g_heat_run", L)))
    add(ui.teach["lesson_prev"], lambda L: gr.update(value=tr("l_prev", L)))
    for case, button in zip(gallery.CASES, ui.teach["cases"]):
        add(button, lambda L, k=case.key: gr.update(value=tr("gal_" + k, L)))
    add(ui.teach["lesson_next"], lambda L: gr.update(value=tr("l_next", L)))
    add(e["kind"], lambda L: gr.update(label=tr("heatmap_kind", L), choices=[
        (tr("hm_norm", L), "norm"), (tr("hm_pca", L), "pca"), (tr("hm_cosine", L), "cosine")]))
    add(e["layer"], lambda L: gr.update(label=tr("layer", L)))
    add(e["token"], lambda L: gr.update(label=tr("token", L)))
    t, views = ui.teach, ui.views
    add(t["b_model"], lambda L: gr.update(label=tr("cmp_b_model", L)))
    add(t["b_pipeline"], lambda L: gr.update(label=tr("cmp_b_pipeline", L),
                                             choices=[(tr(p.value, L), p.value) for p in Pipeline]))
    for name in ("b_fps", "b_nframes", "b_max_pixels"):
        add(t[name], lambda L, k=name: gr.update(label=tr(f"cmp_{k}", L)))
    add(t["compare_run"], lambda L: gr.update(value=tr("cmp_run", L)))
    add(t["export_run"], lambda L: gr.update(value=tr("export_run", L)))
    add(t["export_files"], lambda L: gr.update(label=tr("export_files", L)))
    add(views["snippet"], lambda L: gr.update(label=tr("snippet", L)))
    add(views["cli"], lambda L: gr.update(label=tr("cli_line", L)))
    return targets, fns


def warm_up(paths: list[str] | None = None, checkpoint: str | None = None, encode: bool = True,
            families: tuple[str, ...] = (Family.QWEN2_5_VL.value,)) -> None:
    """Probe, trace and render the bundled examples once, so the first page paints at once; with ``encode``,
    also run the default tower (the tiny random one on a CPU, or ``checkpoint``) so that the glance shows
    their heatmaps at first paint."""
    tv1_kernel.available()  # load (first time ever: compile) the video resampler and check it against torch
    for family in families:  # every bundled example in the default family first: the first paints
        for path in paths or EXAMPLES:
            if not os.path.exists(path):
                continue
            try:
                key, trace = get_trace(Request(media=path, model=family))
                if encode:
                    run_encoder(key, trace, checkpoint, towers.precompute_choice(trace.model, checkpoint))
                render_views(key, trace, ViewOptions(), Lang.EN.value, checkpoint=checkpoint)
            except Exception:  # warming is best effort; the page reports real errors itself
                log.exception("warm-up of %s (%s) failed", path, family)
