"""中文 mode leaves no English prose: every view of the sample clip and image (each lesson step, both timestamp
families), every widget's words, the gallery notes and the compare table, rendered in 中文, are scanned for
runs of English words. Identifiers, code, formulas and the model's own text (the prompt's chips, the
``<x.x seconds>`` strings) stay as they are and are not prose.
"""

from __future__ import annotations

import html
import json
import re

import pytest

from app_server import ROOT
from qwenvl_viz.ui import gallery, lesson, teach, widgets
from qwenvl_viz.ui.state import Request, get_trace
from qwenvl_viz.ui.views import ViewOptions, render_views
from qwenvl_viz.words import Lang

CLIP = str(ROOT / "assets" / "sample_clip.mp4")
IMAGE = str(ROOT / "assets" / "sample_image.jpg")
CODE_VIEWS = {"snippet", "cli", "summary"}  # Python, shell and JSON: code in both languages

# three or more English words in a row (words of 3+ letters first, joined by spaces / light punctuation),
# not part of an identifier (snake_case, dotted names, <|tokens|>, file names)
PROSE = re.compile(r"(?<![\w./<|{$(-])[A-Za-z][a-z]{2,}(?:[ ,;:]+[A-Za-z][a-z]+){2,}(?![\w(|])")


def english_prose(text: str) -> list[str]:
    """The runs of English prose in an HTML / Markdown string, once code and the model's text are removed."""
    text = re.sub(r"<code>.*?</code>|<pre>.*?</pre>", " ", text, flags=re.S)
    text = re.sub(r'<span class="chip chip-(?:text|system)"[^>]*>.*?</span>', " ", text, flags=re.S)
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"<[^>]+>", " ", text)
    text = html.unescape(text)
    text = re.sub(r"<[^<>]*seconds>", " ", text)  # Qwen3's timestamp strings are model input
    return [m.group(0) for m in PROSE.finditer(text)]


def _strings(value) -> list[str]:
    """The human-readable strings of a view: HTML / Markdown as is; of a plotly figure its titles, axis titles,
    annotations, trace names and hover templates."""
    if isinstance(value, str):
        return [value]
    if hasattr(value, "plot"):
        fig = json.loads(value.plot)
        lay = fig.get("layout", {})
        out = [a.get("text", "") for a in lay.get("annotations", [])]
        out += [t.get("text", "") if isinstance(t, dict) else str(t) for t in
                [lay.get("title")] + [ax.get("title") for k, ax in lay.items() if k[1:5] == "axis"] if t]
        out += [str(d.get(k) or "") for d in fig.get("data", []) for k in ("name", "hovertemplate")]
        return out
    return []


def test_the_check_finds_english_prose_and_passes_code():
    assert english_prose("采样帧：the frames are taken evenly") == ["the frames are taken evenly"]
    assert english_prose("<p>每边取整到 factor 的倍数</p>") == []
    assert english_prose("<code>round(linspace(start, end, n))</code> 与 qwen-vl-utils fetch_video") == []
    assert english_prose("<span class=\"chip chip-text\">Describe this video.</span>") == []
    assert english_prose("&lt;0.3 seconds&gt; 时间戳") == []


@pytest.mark.parametrize("media,model", [(CLIP, "qwen2.5-vl"), (CLIP, "qwen3-vl"), (IMAGE, "qwen2-vl")])
def test_every_view_in_chinese_has_no_english_prose(media, model):
    key, trace = get_trace(Request(media=media, model=model))
    found = {}
    for step in range(lesson.N_STEPS):
        for name, (_, value) in render_views(key, trace, ViewOptions(step=step), "zh").items():
            if name in CODE_VIEWS:
                continue
            for s in _strings(value):
                for run in english_prose(s):
                    found.setdefault(name, set()).add(run)
    assert not found, f"English prose in 中文 mode: {found}"


def test_every_widget_and_gallery_note_in_chinese_has_no_english_prose():
    found = []
    for spec in widgets.SPECS:
        words = widgets.texts(spec, Lang.ZH)
        texts = [v for k, v in words.items() if k != "choices"] + [label for label, _ in words.get("choices", [])]
        found += [(spec.name, run) for t in texts for run in english_prose(t)]
    for k, _ in enumerate(gallery.CASES):
        found += [("gallery", run) for run in english_prose(gallery.case_note_html(k, "zh"))]
    assert not found, f"English prose in 中文 mode: {found}"


def test_the_compare_table_in_chinese_has_no_english_prose():
    from qwenvl_viz.compare import compare

    _, a = get_trace(Request(media=CLIP, model="qwen2.5-vl"))
    _, b = get_trace(Request(media=CLIP, model="qwen3-vl"))
    found = english_prose(teach.compare_html(compare(a, b), "zh"))
    assert not found, f"English prose in 中文 mode: {found}"


@pytest.mark.parametrize("index", [k for k, c in enumerate(gallery.CASES) if c.key != "short"],
                         ids=[c.key for c in gallery.CASES if c.key != "short"])
def test_each_gallery_case_in_chinese_has_no_english_prose(index):
    key, trace = get_trace(Request(**gallery.case_settings(index)))
    found = {name: runs for name, (_, value) in render_views(key, trace, ViewOptions(), "zh").items()
             if name not in CODE_VIEWS and (runs := [r for s in _strings(value) for r in english_prose(s)])}
    assert not found, f"English prose in 中文 mode: {found}"
