"""The events: which widget change calls which handler (:mod:`.handlers`) with which inputs and outputs.

- Page load and a control change: the glance (what the room looks at); then, in the browser, the details tab
  is marked out of date and redrawn only while it is on screen (``style.HEAD``'s ``qvDetails``, which presses
  the hidden ``#details-fill`` button). Glance and details keep what they sent in two session states, so
  the two events never overwrite each other's record.
- The language switch relabels every spec-built widget (:func:`.widgets.relabel`), then re-renders every view
  (``/update``, also the API's endpoint).
- The encoder runs one at a time; when a run ends, the glance's heatmap cell fills in.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import gradio as gr

from ..words import lang_of
from . import handlers as h
from .state import VISITORS
from .views import GLANCE_PATCH_SIDE, PATCH_FRAME_SIDE
from .widgets import relabel

__all__ = ["wire", "named"]

PAINT_NAMES = ["lang", *h.REQUEST_FIELDS, *h.VIEW_FIELDS, "sent"]
DETAILS_STALE = "() => { window.qvDetails && window.qvDetails.changed(); }"  # a browser-only step, no request


def named(fn: Callable, names: list[str], progress: bool = False) -> Callable:
    """Give a ``*values`` handler a real signature: gradio_client then shows named parameters, and a
    ``gr.Progress`` default makes Gradio pass a progress tracker (as the last positional value)."""
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    params = [inspect.Parameter(n, kind) for n in names]
    if progress:
        params.append(inspect.Parameter("progress", kind, default=gr.Progress()))
    fn.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return fn


def _bind(fn: Callable, cfg: h.AppConfig, names: list[str], progress: bool = False) -> Callable:
    """``fn`` with the app's settings bound, named for gradio_client."""
    def handler(*values):
        with VISITORS:  # background work (the warm-up) waits while a visitor is being served
            return fn(cfg, *values)

    handler.__name__ = fn.__name__
    return named(handler, names, progress)


def _outputs(ui, names: list[str]) -> list:
    """The widgets of a paint's output names (handlers.*_OUTPUTS), in order."""
    extra = {"banner": ui.banner, "group": ui.view_opts["group"], "tower": ui.encoder["tower"],
             "encoder_text": ui.encoder["text"], "selected": ui.view_opts["selected"],
             "details_shown": ui.teach["details"], "details_wait": ui.teach["details_wait"]}
    return [ui.errors[n[4:]] if n.startswith("err:") else extra.get(n) or ui.views[n] for n in names]


def wire(demo: gr.Blocks, ui, cfg: h.AppConfig) -> None:
    req_inputs = [ui.controls[n] for n in h.REQUEST_FIELDS]
    view_inputs = [ui.view_opts[n] for n in h.VIEW_FIELDS]
    inputs = [ui.lang, *req_inputs, *view_inputs, ui.last]
    update = _bind(h.update, cfg, PAINT_NAMES)
    glance = _bind(h.glance, cfg, PAINT_NAMES)
    paint = dict(inputs=inputs, outputs=[*_outputs(ui, h.UPDATE_OUTPUTS), ui.last], concurrency_id="preprocess",
                 api_visibility="private")
    glance_paint = dict(inputs=inputs, outputs=[*_outputs(ui, h.GLANCE_OUTPUTS), ui.last],
                        concurrency_id="preprocess", api_visibility="private")
    stale = dict(fn=None, js=DETAILS_STALE, queue=False)

    demo.load(glance, api_name="first_paint", show_progress="minimal", **glance_paint).then(**stale)
    triggers = [ui.controls["media"].change]
    triggers += [ui.controls[n].input for n in h.REQUEST_FIELDS if n != "media"]
    triggers += [ui.view_opts[n].input for n in h.VIEW_FIELDS]
    # what a visitor's page asks for on every change; callable by clients (bench/load.py), not documented
    gr.on(triggers, glance, api_name="update_glance", trigger_mode="always_last", concurrency_limit=cfg.concurrency,
          show_progress="minimal", **{**glance_paint, "api_visibility": "undocumented"}).then(**stale)
    ui.teach["details_fill"].click(
        _bind(h.details, cfg, PAINT_NAMES), inputs=[*inputs[:-1], ui.last_details],
        outputs=[*_outputs(ui, h.DETAILS_OUTPUTS), ui.last_details], api_name="details", trigger_mode="always_last",
        concurrency_limit=cfg.concurrency, concurrency_id="preprocess", show_progress="hidden",
        api_visibility="private")

    targets = list(ui.labelled.values())

    def relabel_all(lang_value):
        return tuple(relabel(ui.labelled, lang_of(lang_value)))

    # every view changes its words: one full paint (the API's /update)
    ui.lang.input(relabel_all, inputs=[ui.lang], outputs=targets, api_name="relabel", queue=False).then(
        update, api_name="update", concurrency_limit=cfg.concurrency, show_progress="hidden",
        **{**paint, "api_visibility": "public"})

    enc_inputs, enc_outputs = _wire_encoder(ui, cfg, req_inputs)
    ui.encoder["run_event"].then(glance, **glance_paint)  # the glance's heatmap cell fills in
    ui.encoder["glance_run"].click(ui.encoder["encode_run"], inputs=enc_inputs, outputs=enc_outputs,
                                   concurrency_limit=1, concurrency_id="gpu", api_visibility="private").then(
        glance, **glance_paint)
    _wire_teach(ui, cfg, req_inputs, glance, glance_paint, stale, enc_inputs, enc_outputs)


def _wire_encoder(ui, cfg: h.AppConfig, req_inputs: list) -> tuple[list, list]:
    e = ui.encoder
    enc_inputs = [ui.lang, *req_inputs, e["checkpoint"], e["tower"], e["kind"], e["layer"], e["token"]]
    enc_outputs = [e["banner"], e["stages"], e["text"], e["layer"], e["heatmap"], ui.errors["checkpoint"],
                   ui.errors["token"]]
    encode_run = _bind(h.encode_run, cfg, h.ENC_NAMES, progress=True)
    e["encode_run"] = encode_run
    e["run_event"] = e["run"].click(encode_run, inputs=enc_inputs, outputs=enc_outputs, api_name="run_encoder",
                                    concurrency_limit=1, concurrency_id="gpu")
    gr.on([e["kind"].input, e["layer"].input, e["token"].input], _bind(h.show_heatmap, cfg, h.ENC_NAMES),
          inputs=enc_inputs, outputs=enc_outputs, api_name="heatmap", trigger_mode="always_last",
          concurrency_limit=cfg.concurrency, concurrency_id="preprocess")
    return enc_inputs, enc_outputs


def _wire_teach(ui, cfg: h.AppConfig, req_inputs: list, glance, paint: dict, stale: dict, enc_inputs: list,
                enc_outputs: list) -> None:
    e, t = ui.encoder, ui.teach
    # linked selection: a click on the frame -> the selection string -> every view -> the heatmap
    sel_inputs = [ui.lang, *req_inputs, ui.view_opts["group"]]

    def select_on(side: int):
        def on_select(evt: gr.SelectData, *values):
            return h.select_patch(values, evt.index, side)
        return on_select

    select_heatmap = _bind(h.select_heatmap, cfg, [*h.ENC_NAMES, "selected"])
    for picture, side in ((ui.views["select_image"], PATCH_FRAME_SIDE), (ui.views["g_patches"], GLANCE_PATCH_SIDE)):
        picture.select(select_on(side), inputs=sel_inputs, outputs=[ui.view_opts["selected"]],
                       api_name="select" if side == PATCH_FRAME_SIDE else "select_glance",
                       concurrency_id="preprocess").then(glance, **paint).then(**stale).then(
            select_heatmap, inputs=[*enc_inputs, ui.view_opts["selected"]],
            outputs=[*enc_outputs, e["token"], e["kind"]], api_visibility="private", concurrency_id="preprocess")

    # compare: A = the page's settings, B = A with the changes of the compare panel
    b_inputs = [t["b_model"], t["b_pipeline"], t["b_fps"], t["b_nframes"], t["b_max_pixels"]]
    gr.on([t["compare_run"].click, *(w.input for w in b_inputs)], _bind(h.run_compare, cfg, h.COMPARE_NAMES),
          inputs=[ui.lang, *req_inputs, *b_inputs],
          outputs=[t["ledger_a"], t["ledger_b"], t["compare_table"], ui.errors["compare"]],
          api_name="compare", trigger_mode="always_last", concurrency_id="preprocess")

    t["export_run"].click(_bind(h.run_export, cfg, h.ENC_NAMES), inputs=enc_inputs,
                          outputs=[t["export_files"], t["export_err"]], api_name="export", concurrency_limit=1,
                          concurrency_id="export")

    # gallery: a case sets its controls and opens the glance
    case_outputs = [ui.controls[f] for f in h.CASE_FIELDS] + [t["case_note"], t["modes"]]
    for k, button in enumerate(t["cases"]):
        button.click(lambda lang, k=k: h.open_case(k, lang), inputs=[ui.lang], outputs=case_outputs, queue=False,
                     api_visibility="private").then(glance, **paint).then(**stale)
    ui.controls["media"].upload(lambda: "", outputs=[t["case_note"]], queue=False, api_visibility="private")

    step = ui.view_opts["step"]
    for button, fn in ((t["lesson_prev"], h.lesson_prev), (t["lesson_next"], h.lesson_next)):
        button.click(fn, inputs=[step], outputs=[step], queue=False, api_name=fn.__name__).then(glance, **paint)
