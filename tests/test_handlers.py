"""The app's handlers called as plain functions (no server, no browser), and the widget specs they relabel."""

from __future__ import annotations

import dataclasses

import pytest

from app_server import ROOT
from qwenvl_viz import explain
from qwenvl_viz.profiles import PROFILES, Decoder, default_profile
from qwenvl_viz.ui import gallery, handlers as h, lesson, widgets
from qwenvl_viz.ui.state import Request
from qwenvl_viz.words import WORDS, Lang

CLIP = str(ROOT / "assets" / "sample_clip.mp4")
CFG = h.AppConfig()


def _skipped(v) -> bool:
    return isinstance(v, dict) and v.get("__type__") == "update" and len(v) == 1


def test_update_sends_every_view_once_then_only_what_changed():
    req = Request(media=CLIP)
    out = h.outputs_by_name(h.update(CFG, *h.update_inputs(req)))
    trace = explain(CLIP, fps=2.0)
    assert f"{trace.num_vision_tokens:,}" in out["banner"] and out["ledger"] and out["g_time_ids"]
    again = h.outputs_by_name(h.update(CFG, *h.update_inputs(req, sent=out["sent"])))
    assert all(_skipped(again[n]) for n in ("ledger", "g_frames", "g_time_ids", "timeline"))
    faster = h.outputs_by_name(h.update(CFG, *h.update_inputs(dataclasses.replace(req, fps=4.0), sent=out["sent"])))
    assert not _skipped(faster["ledger"]) and not _skipped(faster["g_time_ids"])


def test_the_glance_and_the_details_tab_paint_apart_each_with_its_own_record():
    inputs = h.update_inputs(Request(media=CLIP, fps=3.0))
    glance = h.outputs_by_name(h.glance(CFG, *inputs), h.GLANCE_OUTPUTS)
    assert not _skipped(glance["g_frames"]) and "ledger" in glance and "timeline" not in glance
    details = h.outputs_by_name(h.details(CFG, *inputs), h.DETAILS_OUTPUTS)
    assert details["timeline"] and details["rope"] and "g_frames" not in details and "banner" not in details
    again = h.outputs_by_name(h.details(CFG, *inputs[:-1], details["sent"]), h.DETAILS_OUTPUTS)
    assert all(_skipped(again[n]) for n in ("timeline", "rope", "prompt"))
    assert set(h.GLANCE_OUTPUTS) | set(h.DETAILS_OUTPUTS) == set(h.UPDATE_OUTPUTS) | {"details_shown", "details_wait"}


def test_a_bad_setting_leaves_the_details_tab_as_it_was():
    out = h.outputs_by_name(h.details(CFG, *h.update_inputs(Request(media=CLIP, max_pixels=-5))), h.DETAILS_OUTPUTS)
    assert all(_skipped(out[n]) for n in h.DETAILS_OUTPUTS)  # the tab stays as it was, hidden or not


def test_a_bad_setting_fills_its_error_slot_and_sends_no_view():
    out = h.outputs_by_name(h.update(CFG, *h.update_inputs(Request(media=CLIP, max_pixels=-5))))
    assert "max_pixels" in out["err:max_pixels"] and "banner-error" in out["banner"]
    assert _skipped(out["ledger"])


def test_lesson_steps_stop_at_both_ends():
    assert h.lesson_prev(0) == 0 and h.lesson_next(0) == 1
    assert h.lesson_next(lesson.N_STEPS - 1) == lesson.N_STEPS - 1


def test_a_gallery_case_sets_its_controls_and_its_note_quotes_its_trace():
    k = next(i for i, c in enumerate(gallery.CASES) if c.key == "tiny")
    media, model, *_, note, _tabs = h.open_case(k, "English")
    trace = explain(media, model=model)
    assert f"{trace.resize.width}×{trace.resize.height}" in note and f"({trace.num_vision_tokens} tokens)" in note


def test_compare_returns_both_ledgers_and_the_table():
    values = (Lang.EN.value, *(getattr(Request(media=CLIP), n) for n in h.REQUEST_FIELDS), "qwen3-vl", "", 0, 0, 0)
    a, b, table, err = h.run_compare(CFG, *values)
    assert "A ·" in a and "B ·" in b and "compare-table" in table and err == ""


def test_widget_choices_come_from_the_vocabulary_and_every_word_exists():
    assert widgets.MODEL_CHOICES.values == tuple(p.family.value for p in PROFILES.values())
    assert widgets.BY_NAME["model"].kwargs["value"] == default_profile().family.value
    assert widgets.BY_NAME["decoder"].choices.values == tuple(d.value for d in Decoder)
    for spec in widgets.SPECS:
        assert all(key in WORDS for key in spec.words.values()), spec.name
        zh = widgets.texts(spec, Lang.ZH)
        assert zh != widgets.texts(spec, Lang.EN) or spec.name in {"lang", "dec_fps"} or all(
            WORDS[k][0] == WORDS[k][1] for k in spec.words.values()), spec.name


def test_each_ledger_card_has_a_short_line_and_keeps_the_full_formula():
    from qwenvl_viz.figures.ledger import gist, ledger_html
    from qwenvl_viz.trace import ledger

    trace = explain(CLIP, fps=2.0)
    short = {row.stage: gist(trace, row.stage, row.formula) for row in ledger(trace)}
    assert short["sampled"] == "nframes = 16; sample_fps = 1.9277"
    assert short["resized"] == f"1280x720 -> {trace.resize.height}x{trace.resize.width}"
    assert short["raw"] == "249 frames @ 30.000 fps = 8.30 s"
    assert max(map(len, short.values())) <= 40  # three lines of a card ~100 px wide at 1366 px
    html = ledger_html(trace, "en")
    assert all(row.formula.replace(">", "&gt;") in html for row in ledger(trace))  # on hover and in the tooltip


def test_in_chinese_an_error_names_its_control_in_chinese_before_the_librarys_message():
    req = Request(media=CLIP, max_pixels=-5)
    zh = h.outputs_by_name(h.glance(CFG, *h.update_inputs(req, lang="中文")), h.GLANCE_OUTPUTS)
    en = h.outputs_by_name(h.glance(CFG, *h.update_inputs(req)), h.GLANCE_OUTPUTS)
    assert "「max_pixels（0 = 默认）」出错" in zh["banner"] and "「max_pixels（0 = 默认）」出错" in zh["err:max_pixels"]
    assert "出错" not in en["banner"] and "max_pixels" in en["err:max_pixels"]
    too_long = h.outputs_by_name(h.glance(h.AppConfig(max_duration_s=5.0), *h.update_inputs(Request(media=CLIP),
                                                                                       lang="中文")), h.GLANCE_OUTPUTS)
    assert "视频时长" in too_long["banner"] and "出错" not in too_long["banner"]  # already Chinese: as it is


def test_the_word_table_names_each_key_once():
    """A repeated key in words.py silently keeps only its last text (step 7's title once showed the
    encoder paragraph with its raw {rows} placeholders): every key is written once."""
    import ast
    from collections import Counter

    from qwenvl_viz import words

    tree = ast.parse(open(words.__file__, encoding="utf-8").read())
    keys = [k.value for node in ast.walk(tree) if isinstance(node, ast.Dict)
            for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]
    assert [k for k, n in Counter(keys).items() if n > 1] == []


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_lesson_step_has_its_title_and_live_numbers(lang):
    trace = explain(CLIP, fps=2.0)
    for k, step in enumerate(lesson.STEPS):
        head = lesson.lesson_text(trace, k, lang).splitlines()[0]
        assert "{" not in head and len(head) < 80, head
        assert lesson.tr(step.key, lang) in head
    assert f"{trace.patchify.rows:,}" in lesson.lesson_text(trace, lesson.N_STEPS - 1, lang)


def test_the_encoder_step_says_what_its_heatmaps_are():
    """Step 7 quotes cell (e)'s caption, so a lesson on a projector says "random weights" as the glance does."""
    trace = explain(CLIP, fps=2.0)
    cap = '<div class="glance-cap">Heatmaps of the tower (random weights)</div>'
    text, pic, _ = lesson.lesson_views(trace, lesson.N_STEPS - 1, "en", {"g_heatmaps": "/tmp/h.jpg", "g_heat_cap": cap})
    assert pic == "/tmp/h.jpg" and text.endswith(cap)
    text, _, _ = lesson.lesson_views(trace, 0, "en", {"g_frames": "/tmp/f.jpg", "g_heat_cap": cap})
    assert cap not in text
