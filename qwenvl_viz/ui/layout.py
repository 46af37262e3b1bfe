"""The page's layout: where each widget sits. Controls in a column on the left; on the right the glance
(the shape ledger over five cells), the lesson and the gallery as tabs, then the details and compare tabs.

Labelled widgets are built from their specs (:mod:`.widgets`), the events are wired in :mod:`.wiring`,
the handlers live in :mod:`.handlers`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from ..decoders import default_decoder
from ..words import Lang, tr
from . import gallery
from .encoder_view import MERGED, default_tower, tower_choices
from .handlers import (ASSETS, DETAILS_OUTPUTS, ENCODER_OUTPUTS, EXAMPLES, GLANCE_OUTPUTS, REQUEST_FIELDS,
                       UPDATE_OUTPUTS, VIEW_FIELDS, AppConfig, banner, warm_up)
from .state import DELETE_CACHE
from .style import CSS, HEAD, launch_kwargs
from .widgets import DEFAULT_MODEL, build

__all__ = ["build_demo", "AppConfig", "CSS", "HEAD", "launch_kwargs", "ASSETS", "EXAMPLES", "warm_up", "REQUEST_FIELDS",
           "VIEW_FIELDS", "UPDATE_OUTPUTS", "GLANCE_OUTPUTS", "DETAILS_OUTPUTS", "ENCODER_OUTPUTS", "GLANCE_CELLS",
           "UI"]


@dataclass
class UI:
    """Handles on the widgets, by role; ``labelled`` holds every widget built from a spec (the relabel targets)."""

    lang: Any = None
    controls: dict[str, Any] = field(default_factory=dict)  # Request field -> widget
    views: dict[str, Any] = field(default_factory=dict)  # view name -> widget
    view_opts: dict[str, Any] = field(default_factory=dict)  # ViewOptions field -> widget
    errors: dict[str, Any] = field(default_factory=dict)  # field -> error slot
    encoder: dict[str, Any] = field(default_factory=dict)
    teach: dict[str, Any] = field(default_factory=dict)  # compare / export / lesson / gallery widgets
    labelled: dict[str, Any] = field(default_factory=dict)  # spec name -> widget
    banner: Any = None
    last: Any = None  # gr.State: what this session was last sent (the glance, and /update)
    last_details: Any = None  # gr.State: the same for the details tab, painted by its own event

    def make(self, name: str, **overrides) -> Any:
        widget = build(name, **overrides)
        self.labelled[name] = getattr(widget, "dataset", widget)  # gr.Examples: its dataset carries the label
        return widget


GLANCE_CELLS = (  # (elem id, title key, caption view, picture view or None: an HTML table fills the cell)
    ("glance-frames", "glance_frames", "g_frames_cap", "g_frames"),
    ("glance-patches", "glance_patches", "g_patches_cap", "g_patches"),
    ("glance-time-ids", "glance_time_ids", None, "g_time_ids"),
    ("glance-timestamps", "glance_timestamps", None, "g_timestamps"),
    ("glance-heatmaps", "glance_heatmaps", "g_heat_cap", "g_heatmaps"),
)
PICTURES = frozenset({"g_frames", "g_patches", "g_heatmaps"})


def build_demo(config: AppConfig | None = None) -> gr.Blocks:
    """The whole app, not launched (``demo.launch(**launch_kwargs())`` serves it)."""
    from .wiring import wire

    cfg = config or AppConfig()
    ui = UI()
    # Gradio copies every served file (pictures, exports) into its cache: files older than an hour go, hourly
    with gr.Blocks(title="qwenvl-viz", analytics_enabled=False, delete_cache=DELETE_CACHE) as demo:
        ui.last = gr.State({})
        ui.last_details = gr.State({})
        with gr.Row(elem_id="main-row"):
            with gr.Column(scale=1, min_width=210, elem_id="controls"):
                ui.make("title")
                ui.lang = build("lang")  # its label is in both languages: never relabelled
                _controls(ui)
            with gr.Column(scale=7, min_width=600, elem_id="views"):
                ui.banner = gr.HTML(banner("…", True), elem_id="banner", padding=False)
                ui.teach["case_note"] = gr.HTML("", elem_id="case-note", padding=False)
                with gr.Tabs(elem_id="modes") as modes:
                    ui.teach["modes"] = modes
                    with ui.make("mode_glance"):
                        ui.views["ledger"] = gr.HTML(elem_id="ledger", padding=False)
                        _glance(ui)
                    with ui.make("lesson_tab"):
                        _lesson(ui)
                    with ui.make("gallery_tab"):
                        _gallery(ui)
                with gr.Tabs(elem_id="detail-tabs"):
                    with ui.make("details_tab"):
                        # built hidden: its ~80 widgets would slow the page's first paint by a third; the
                        # details event shows it when the note above it comes on screen (style.HEAD)
                        ui.teach["details_wait"] = ui.make("details_wait")
                        with gr.Column(elem_id="details", visible=False) as details:
                            ui.teach["details"] = details
                            _views(ui)
                            _encoder_section(ui, cfg)
                    with ui.make("compare_tab"):
                        _compare_section(ui)
                # pressed by the page's script (style.HEAD) to paint the details tab; never shown
                ui.teach["details_fill"] = gr.Button("", elem_id="details-fill")
        wire(demo, ui, cfg)
    demo.ui = ui  # type: ignore[attr-defined]  # for tests
    return demo


def _slot(ui: UI, name: str) -> None:
    """The error slot under a control (empty: takes no room)."""
    ui.errors[name] = gr.HTML("", elem_id=f"err-{name.replace('_', '-')}", elem_classes="field-error",
                              padding=False)


def _control(ui: UI, name: str, slot: bool = True, **overrides) -> None:
    ui.controls[name] = ui.make(name, **overrides)
    if slot:
        _slot(ui, name)


def _controls(ui: UI) -> None:
    c = ui.controls
    ui.make("controls")
    _control(ui, "media", value=EXAMPLES[0] if os.path.exists(EXAMPLES[0]) else None)
    # FPS and the family first: the knobs a lesson turns live stay inside a projector's first screen
    _control(ui, "fps")
    _control(ui, "model")
    bundled = [p for p in EXAMPLES if os.path.exists(p)]
    ui.encoder["examples"] = ui.make("examples", examples=[[p] for p in bundled], inputs=[c["media"]],
                                     example_labels=[os.path.basename(p) for p in bundled])
    _control(ui, "pipeline")
    _control(ui, "decoder", value=default_decoder())
    with gr.Group():
        ui.make("sampling_group")
        _control(ui, "sample_by", slot=False)
        _control(ui, "nframes")
        with gr.Row():
            _control(ui, "min_frames", slot=False)
            _control(ui, "max_frames", slot=False)
        _slot(ui, "min_frames")
        _slot(ui, "max_frames")
        with gr.Row():
            _control(ui, "video_start", slot=False)
            _control(ui, "video_end", slot=False)
        _slot(ui, "video_start")
        _slot(ui, "video_end")
    with gr.Group():
        ui.make("budget_group")
        _control(ui, "pixel_unit", slot=False)
        for name in ("min_pixels", "max_pixels", "total_pixels"):
            _control(ui, name)
        ui.views["budget"] = gr.Markdown(elem_id="budget-now")
    _control(ui, "prompt")
    with ui.make("sizes_group"):
        for name in ("patch_size", "merge_size", "temporal_patch_size"):
            _control(ui, name)
    with ui.make("versions_group"):
        _control(ui, "text_resume")
        _control(ui, "qwen3_outer_wrapper", slot=False)
        _control(ui, "cap_pixels_per_frame", slot=False)
    with gr.Group():
        ui.make("view_group")
        v = ui.view_opts
        for name in ("group", "order", "windows", "context_len"):
            v[name] = ui.make(name)
        v["selected"] = gr.Textbox("", visible=False, elem_id="selected")  # the linked selection (teach.py)
        v["step"] = gr.Number(0, visible=False, elem_id="lesson-step", precision=0)  # lesson mode's step


def _glance(ui: UI) -> None:
    """The five cells side by side under the ledger: what a room compares without scrolling."""
    v = ui.views
    with gr.Row(equal_height=False, elem_id="glance"):
        for elem_id, title, cap, view in GLANCE_CELLS:
            with gr.Column(min_width=150, elem_classes="glance-cell", elem_id=elem_id):
                ui.make(title)
                if cap:
                    v[cap] = gr.HTML(elem_classes="glance-caption", padding=False)
                if view in PICTURES:
                    v[view] = gr.Image(type="filepath", interactive=False, show_label=False, container=False,
                                       buttons=["fullscreen"], elem_classes="glance-pic", elem_id=f"{elem_id}-pic")
                else:
                    v[view] = gr.HTML(elem_classes="glance-html", padding=False, elem_id=f"{elem_id}-table")
                if view == "g_heatmaps":
                    ui.encoder["glance_run"] = ui.make("glance_run")


def _lesson(ui: UI) -> None:
    """The stepper: prev / next (and the arrow keys, see HEAD), the step's narration in large type beside the
    glance picture or table it talks about."""
    v = ui.views
    with gr.Column(elem_id="lesson"):
        with gr.Row(equal_height=True):
            ui.teach["lesson_prev"] = ui.make("lesson_prev")
            ui.teach["lesson_next"] = ui.make("lesson_next")
            ui.make("l_keys")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                v["lesson_text"] = gr.Markdown(elem_id="lesson-text")
            with gr.Column(scale=2):
                v["lesson_pic"] = gr.Image(type="filepath", interactive=False, show_label=False, container=False,
                                           buttons=["fullscreen"], elem_id="lesson-pic", elem_classes="glance-pic")
                v["lesson_html"] = gr.HTML(elem_id="lesson-html", padding=False)


def _gallery(ui: UI) -> None:
    """One button per edge case (gallery.CASES); a click opens it on the glance, its note above."""
    ui.make("gal_info")
    with gr.Row(elem_id="gallery"):
        ui.teach["cases"] = [ui.make(f"case_{case.key}") for case in gallery.CASES]


def _views(ui: UI) -> None:
    v = ui.views
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=340):
            ui.make("media_view")
            v["media"] = gr.HTML(elem_id="media-view")
            v["media_text"] = gr.Markdown(elem_id="media-text")
        with gr.Column(scale=3, min_width=480):
            ui.make("resize_view")
            v["resize"] = gr.Plot(elem_id="resize-plot", show_label=False)
            v["resize_text"] = gr.Markdown(elem_id="resize-text")
    ui.make("timeline_view")
    v["timeline"] = gr.Plot(elem_id="timeline-plot", show_label=False)
    v["timeline_text"] = gr.Markdown(elem_id="timeline-text")
    v["frames"] = gr.Image(elem_id="frames-sheet", type="filepath", interactive=False, show_label=False,
                           buttons=["download", "fullscreen"])
    ui.make("patch_view")
    v["patch"] = gr.Plot(elem_id="patch-plot", show_label=False)
    v["patch_text"] = gr.Markdown(elem_id="patch-text")
    ui.make("selection_view")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300):
            v["select_image"] = gr.Image(elem_id="select-frame", type="filepath", interactive=False, show_label=False,
                                         buttons=["download", "fullscreen"], height=560)
        with gr.Column(scale=3, min_width=420):
            v["selection"] = gr.HTML(elem_id="selection-view")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=520):
            ui.make("rope_view")
            v["rope"] = gr.Plot(elem_id="rope-plot", show_label=False)
            v["rope_text"] = gr.Markdown(elem_id="rope-text")
        with gr.Column(scale=2, min_width=360):
            ui.make("prompt_view")
            v["prompt"] = gr.HTML(elem_id="prompt-view", max_height=460)
            v["prompt_text"] = gr.Markdown(elem_id="prompt-text-narration")
    ui.make("versions_view")
    v["versions"] = gr.HTML(elem_id="versions-panel")
    ui.make("decoders_view")
    v["decoders"] = gr.HTML(elem_id="decoders-panel")
    with ui.make("reproduce_view"):
        ui.make("reproduce_info")
        v["snippet"] = ui.make("snippet")
        v["cli"] = ui.make("cli")
    with ui.make("export_view"):
        ui.make("export_info")
        ui.teach["export_run"] = ui.make("export_run")
        ui.teach["export_err"] = gr.HTML("", elem_id="err-export", elem_classes="field-error", padding=False)
        ui.teach["export_files"] = ui.make("export_files")
    with ui.make("summary"):
        v["summary"] = gr.JSON(elem_id="summary", show_label=False)


def _encoder_section(ui: UI, cfg: AppConfig) -> None:
    e = ui.encoder
    ui.make("encoder_view")
    e["banner"] = gr.HTML(elem_id="encoder-banner")
    with gr.Row():
        e["checkpoint"] = ui.make("checkpoint", value=cfg.checkpoint or "")
        e["tower"] = ui.make("tower", choices=tower_choices(DEFAULT_MODEL), value=default_tower(DEFAULT_MODEL))
        e["run"] = ui.make("run_encoder")
    _slot(ui, "checkpoint")
    with gr.Row():
        e["kind"] = ui.make("heatmap_kind")
        e["layer"] = ui.make("layer", choices=[(tr("layer_merged", Lang.EN), MERGED)], value=MERGED)
        e["token"] = ui.make("token")
    _slot(ui, "token")
    e["text"] = gr.Markdown(elem_id="encoder-text")
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=340):
            e["stages"] = gr.HTML(elem_id="encoder-stages-view")
        e["heatmap"] = gr.Image(elem_id="heatmap", type="filepath", interactive=False, show_label=False, scale=3,
                                buttons=["download", "fullscreen"])


def _compare_section(ui: UI) -> None:
    t = ui.teach
    with ui.make("compare_view"):
        ui.make("compare_info")
        with gr.Row():
            t["b_model"] = ui.make("b_model")
            t["b_pipeline"] = ui.make("b_pipeline")
        with gr.Row():
            for name in ("b_fps", "b_nframes", "b_max_pixels"):
                t[name] = ui.make(name)
        t["compare_run"] = ui.make("compare_run")
        _slot(ui, "compare")
        with gr.Row(equal_height=False):
            t["ledger_a"] = gr.HTML(elem_id="compare-a")
            t["ledger_b"] = gr.HTML(elem_id="compare-b")
        t["compare_table"] = gr.HTML(elem_id="compare-view")
