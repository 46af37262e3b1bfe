"""Every labelled widget of the page, declared once: :data:`SPECS`.

A spec names the widget, its Gradio factory, where its words go (``{"label": key, "info": key}``, or
``{"value": key}`` for buttons, notes and headings) and its choices, taken from the vocabulary the
stages use (the profiles, :mod:`qwenvl_viz.params`, the enums). The layout builds a widget from its spec
(:func:`build`); the language switch relabels every widget from the same specs (:func:`relabel`).

Why not Gradio's ``gr.I18n`` (checked in Gradio 6.31): its translations are looked up in the browser, by
the locale Gradio takes from ``navigator.language`` (or from its footer's settings panel); no component
event and no Python call can change that locale, so it cannot serve the page's own 中文 / English switch
(``#lang``). It also translates static strings only, while most of the page's words are rendered on the
server with the live numbers of a Trace (narration, tables, figure titles) and need the language as a
handler input anyway: two sources of the language would drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from .. import params as vocab
from ..figures.patch_grid import ORDERS
from ..heatmaps import HeatmapKind
from ..profiles import PROFILES, Pipeline, default_profile
from ..words import LANGS, Lang, tr
from . import gallery

__all__ = ["Choices", "WidgetSpec", "SPECS", "BY_NAME", "build", "relabel", "texts", "MODEL_CHOICES", "LANG_CHOICES", "FAMILIES",
           "DEFAULT_MODEL", "COMPARE_MODEL"]


@dataclass(frozen=True)
class Choices:
    """A choice list: ``values`` from the vocabulary; each shown as the word ``key.format(value)``, or as
    ``names[value]`` when the names are not words (model families: their display names)."""

    values: tuple[str, ...]
    key: str | None = "{}"
    names: Mapping[str, str] | None = None

    def pairs(self, lang: Lang) -> list[tuple[str, str]]:
        if self.names is not None:
            return [(self.names[v], v) for v in self.values]
        return [(tr(self.key.format(v), lang), v) for v in self.values]


@dataclass(frozen=True)
class WidgetSpec:
    """One widget: ``name`` (its handle: a Request / ViewOptions field, or its own name), the factory, the
    word keys of its texts (prop -> key), its choices, and the factory's other arguments."""

    name: str
    factory: Callable[..., Any]
    words: Mapping[str, str]
    choices: Choices | None = None
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    fmt: str = "{}"  # how the "value" words are shown ("### {}": a heading)


def _c(name: str, factory, label: str, info: str | None = None, choices: Choices | None = None, **kw) -> WidgetSpec:
    words = {"label": label} | ({"info": info} if info else {})
    return WidgetSpec(name, factory, words, choices, {"elem_id": name.replace("_", "-")} | kw)


def _text(name: str, factory, key: str, fmt: str = "{}", **kw) -> WidgetSpec:
    return WidgetSpec(name, factory, {"value": key}, None, kw, fmt)


def _head(key: str, level: int = 3, **kw) -> WidgetSpec:
    return _text(key, gr.Markdown, key, "#" * level + " {}", **({"elem_classes": "view-title"} | kw))


def _section(key: str, factory, **kw) -> WidgetSpec:  # tabs and accordions: the label is their title
    return WidgetSpec(key, factory, {"label": key}, None, kw)


FAMILIES = tuple(p.family.value for p in PROFILES.values())
DEFAULT_MODEL = default_profile().family.value
COMPARE_MODEL = FAMILIES[(FAMILIES.index(DEFAULT_MODEL) + 1) % len(FAMILIES)]  # B opens on the next family
MODEL_CHOICES = Choices(FAMILIES,
                        names={p.family.value: p.display_name for p in PROFILES.values()})
PIPELINES = Choices(tuple(p.value for p in Pipeline))
LANG_CHOICES = list(LANGS)
_SAMPLING = tuple(p.name for p in vocab.PARAMS if p.group == "sampling")  # fps, nframes
_NUM = dict(precision=0)

SPECS: tuple[WidgetSpec, ...] = (
    # ---- the control column ------------------------------------------------------------------
    _head("title", elem_id="title", elem_classes=None),
    _c("lang", gr.Radio, "language", choices=Choices(tuple(LANG_CHOICES), names={k: k for k in LANGS}),
       value=LANG_CHOICES[0], show_label=False, container=False),
    _head("controls"),
    _c("media", gr.File, "media", file_count="single", type="filepath", height=110),
    _c("fps", gr.Slider, "fps", minimum=0.1, maximum=30.0, value=2.0, step=0.1),
    _c("model", gr.Radio, "model", choices=MODEL_CHOICES, value=DEFAULT_MODEL),
    _c("examples", gr.Examples, "examples"),
    _c("pipeline", gr.Radio, "pipeline", "pipeline_info", PIPELINES, value=Pipeline.OFFICIAL.value),
    _c("decoder", gr.Dropdown, "decoder", "decoder_info", Choices(vocab.BY_NAME["decoder"].choices, "dec_{}")),
    _head("sampling_group"),
    _c("sample_by", gr.Radio, "sampling_mode", choices=Choices(_SAMPLING, "by_{}"), value=_SAMPLING[0]),
    _c("nframes", gr.Number, "nframes", value=None, **_NUM),
    _c("min_frames", gr.Number, "min_frames", value=None, **_NUM),
    _c("max_frames", gr.Number, "max_frames", value=None, **_NUM),
    _c("video_start", gr.Number, "video_start", value=None),
    _c("video_end", gr.Number, "video_end", value=None),
    _head("budget_group"),
    _c("pixel_unit", gr.Radio, "pixel_unit", choices=Choices(vocab.PIXEL_UNITS, "unit_{}"), value="px"),
    _c("min_pixels", gr.Number, "min_pixels", value=None),
    _c("max_pixels", gr.Number, "max_pixels", value=None),
    _c("total_pixels", gr.Number, "total_pixels", value=None),
    WidgetSpec("prompt", gr.Textbox, {"label": "prompt_text", "placeholder": "prompt_placeholder"},
               kwargs=dict(value="", elem_id="prompt", lines=2)),
    _section("sizes_group", gr.Accordion, open=False),
    _c("patch_size", gr.Number, "patch_size", value=None, **_NUM),
    _c("merge_size", gr.Number, "merge_size", value=None, **_NUM),
    _c("temporal_patch_size", gr.Number, "temporal_patch_size", value=None, **_NUM),
    _section("versions_group", gr.Accordion, open=False),
    _c("text_resume", gr.Radio, "text_resume", choices=Choices(vocab.TEXT_RESUME), value=vocab.TEXT_RESUME[0]),
    _c("qwen3_outer_wrapper", gr.Checkbox, "qwen3_outer_wrapper", value=False, elem_id="outer-wrapper"),
    _c("cap_pixels_per_frame", gr.Checkbox, "cap_pixels_per_frame", value=False, elem_id="cap-pixels"),
    _head("view_group"),
    _c("group", gr.Slider, "group", minimum=0, maximum=1, value=0, step=1),
    _c("order", gr.Radio, "order", choices=Choices(ORDERS, "order_{}"), value=ORDERS[0]),
    _c("windows", gr.Checkbox, "windows", value=True),
    _c("context_len", gr.Number, "context_len", value=32768, **_NUM),
    # ---- tabs --------------------------------------------------------------------------------
    _section("mode_glance", gr.Tab, elem_id="tab-glance", id="glance"),
    _section("lesson_tab", gr.Tab, elem_id="tab-lesson", id="lesson"),
    _section("gallery_tab", gr.Tab, elem_id="tab-gallery", id="gallery"),
    _section("details_tab", gr.Tab, elem_id="tab-details"),
    _text("details_wait", gr.Markdown, "details_wait", elem_id="details-wait"),
    _section("compare_tab", gr.Tab, elem_id="tab-compare"),
    # ---- the glance's cell titles, the encoder button in cell (e) ----------------------------------
    *(_head(k, 4, elem_classes="glance-title")
      for k in ("glance_frames", "glance_patches", "glance_time_ids", "glance_timestamps", "glance_heatmaps")),
    _text("glance_run", gr.Button, "g_heat_run", size="sm", variant="primary", elem_id="glance-run"),
    # ---- lesson and gallery ------------------------------------------------------------------
    _text("lesson_prev", gr.Button, "l_prev", elem_id="lesson-prev", size="sm", scale=0, min_width=120),
    _text("lesson_next", gr.Button, "l_next", elem_id="lesson-next", size="sm", scale=0, variant="primary",
          min_width=120),
    _text("l_keys", gr.Markdown, "l_keys", elem_id="lesson-keys"),
    _text("gal_info", gr.Markdown, "gal_info", elem_id="gallery-info"),
    *(_text(f"case_{c.key}", gr.Button, f"gal_{c.key}", elem_id=f"case-{c.key}", size="sm", min_width=160)
      for c in gallery.CASES),
    # ---- details -----------------------------------------------------------------------------
    *(_head(k) for k in ("media_view", "resize_view", "timeline_view", "patch_view", "selection_view", "rope_view",
                         "prompt_view", "versions_view", "decoders_view", "encoder_view")),
    _section("reproduce_view", gr.Accordion, open=False, elem_id="reproduce"),
    _text("reproduce_info", gr.Markdown, "reproduce_info"),
    _c("snippet", gr.Code, "snippet", language="python", interactive=False, max_lines=28),
    _c("cli", gr.Code, "cli_line", language="shell", interactive=False, elem_id="cli-line"),
    _section("export_view", gr.Accordion, open=False, elem_id="export"),
    _text("export_info", gr.Markdown, "export_info"),
    _text("export_run", gr.Button, "export_run", elem_id="export-run"),
    _c("export_files", gr.File, "export_files", file_count="multiple", interactive=False),
    _section("summary", gr.Accordion, open=False),
    # ---- encoder -----------------------------------------------------------------------------
    _c("checkpoint", gr.Textbox, "checkpoint", scale=2),
    _c("tower", gr.Dropdown, "tower", "tower_info", scale=2),
    _text("run_encoder", gr.Button, "run_encoder", variant="primary", elem_id="run-encoder", scale=1),
    _c("heatmap_kind", gr.Radio, "heatmap_kind", choices=Choices(tuple(k.value for k in HeatmapKind), "hm_{}"),
       value=HeatmapKind.PCA.value),
    _c("layer", gr.Dropdown, "layer"),
    _c("token", gr.Number, "token", value=0, **_NUM),
    # ---- compare -----------------------------------------------------------------------------
    _section("compare_view", gr.Accordion, open=False, elem_id="compare"),
    _text("compare_info", gr.Markdown, "compare_info"),
    _c("b_model", gr.Radio, "cmp_b_model", choices=MODEL_CHOICES, value=COMPARE_MODEL),
    _c("b_pipeline", gr.Radio, "cmp_b_pipeline", choices=PIPELINES, value=Pipeline.OFFICIAL.value),
    _c("b_fps", gr.Number, "cmp_b_fps", value=0),
    _c("b_nframes", gr.Number, "cmp_b_nframes", value=0, **_NUM),
    _c("b_max_pixels", gr.Number, "cmp_b_max_pixels", value=0),
    _text("compare_run", gr.Button, "cmp_run", variant="primary", elem_id="compare-run"),
)
BY_NAME: dict[str, WidgetSpec] = {s.name: s for s in SPECS}
assert len(BY_NAME) == len(SPECS), "a widget is declared twice"


def texts(spec: WidgetSpec, lang: Lang) -> dict[str, Any]:
    """The widget's words in ``lang``, as the factory's / gr.update's keyword arguments."""
    out: dict[str, Any] = {prop: (spec.fmt if prop == "value" else "{}").format(tr(key, lang))
                           for prop, key in spec.words.items()}
    if spec.choices is not None:
        out["choices"] = spec.choices.pairs(lang)
    return out


def build(name: str, lang: Lang = Lang.EN, **overrides) -> Any:
    """The widget ``name`` as its spec declares it (``overrides``: a value known only when the page is built)."""
    spec = BY_NAME[name]
    return spec.factory(**texts(spec, lang), **{**spec.kwargs, **overrides})


def relabel(widgets: Mapping[str, Any], lang: Lang) -> list:
    """``gr.update``s that put every built widget's words in ``lang`` (in ``widgets``' order)."""
    return [gr.update(**texts(BY_NAME[name], lang)) for name in widgets]
