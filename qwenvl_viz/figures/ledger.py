"""The shape ledger across the top: raw -> sampled -> resized -> pixel_values -> grid -> tokens -> embeddings.

Rows come from :func:`qwenvl_viz.trace.ledger` (shapes and formulas with the live numbers); this module
only lays them out as a strip of cards (HTML, readable from the back of a room).
"""

from __future__ import annotations

import re
from functools import cache
from html import escape

from ..trace import Trace, ledger
from ..words import LEDGER_ZH, WORDS, Lang, lang_of, tr

__all__ = ["ledger_html", "localize", "gist"]


@cache
def _zh_patterns() -> tuple[tuple[re.Pattern, str], ...]:
    return tuple((re.compile(p), r) for p, r in LEDGER_ZH)


def localize(text: str, lang: str) -> str:
    """The library's ledger phrase in ``lang`` (English as written; Chinese through ``words.LEDGER_ZH``)."""
    if lang_of(lang) is not Lang.ZH:
        return text
    for pattern, repl in _zh_patterns():
        text = pattern.sub(repl, text)
    return text


def _breakable(text: str) -> str:
    """HTML of ``text`` that a narrow card wraps after an underscore (``second_per_<wbr>grid_ts``), not
    inside a name; <wbr> adds nothing to copied text."""
    return escape(text).replace("_", "_<wbr>")


def gist(trace: Trace, stage: str, formula: str) -> str:
    """The card's short line for a ledger row: a few words a card ~100 px wide shows whole at 1366 px.
    Each "; " clause keeps its first and last terms ("nframes = floor(...) = 16" -> "nframes = 16"), at most
    two clauses, a trailing note in parentheses dropped; the resize is "W0xH0 -> WxH" and a list of
    timestamps its first and last. The full formula stays in the card's tooltip and on hover."""
    if stage == "resized":  # height x width, as the shape above it and the formula
        return f"{trace.input_height}x{trace.input_width} -> {trace.resize.height}x{trace.resize.width}"
    if stage == "pixel_values":
        t, h, w = trace.patchify.grid_thw
        return f"{t}x{h}x{w} patches x {trace.patchify.row_len}"
    if stage == "time" and formula.startswith("<"):
        stamps = formula.split("> <")
        return formula if len(stamps) < 3 else f"{stamps[0]}> … <{stamps[-1]}"
    clauses = []
    for clause in formula.split("; ")[:2]:
        clause = re.sub(r" \([^()]*:.*\)$", "", clause)  # "(decord: packets (len(vr)))": a note
        terms = clause.split(" = ")
        clauses.append(f"{terms[0]} = {terms[-1]}" if len(terms) > 2 else clause)
    return "; ".join(clauses)


def ledger_html(trace: Trace, lang: str) -> str:
    cards = []
    rows = ledger(trace)
    for row in rows:
        key = f"stage_{row.stage}"
        label = tr(key, lang) if key in WORDS else row.stage
        formula = localize(row.formula, lang)
        short = localize(gist(trace, row.stage, row.formula), lang)
        cards.append(
            f'<div class="ledger-card" data-stage="{escape(row.stage)}" title="{escape(formula)}">'
            f'<div class="ledger-stage">{escape(label)}</div>'
            f'<div class="ledger-shape">{escape(localize(row.shape, lang))}</div>'
            f'<div class="ledger-formula ledger-gist">{_breakable(short)}</div>'
            f'<div class="ledger-formula ledger-full">{escape(formula)}</div></div>'
        )
    m = trace.profile.merge_size
    cards.append(
        '<div class="ledger-card ledger-next" data-stage="embeddings">'
        f'<div class="ledger-stage">{escape(tr("stage_embeddings", lang))}</div>'
        f'<div class="ledger-shape">{escape(tr("embeddings_shape", lang, n=trace.num_vision_tokens))}</div>'
        f'<div class="ledger-formula ledger-gist">{_breakable(tr("embeddings_gist", lang, m=m))}</div>'
        f'<div class="ledger-formula ledger-full">{escape(tr("embeddings_formula", lang, m=m))}</div></div>'
    )
    arrow = '<div class="ledger-arrow">→</div>'
    return f'<div class="ledger" id="ledger-strip">{arrow.join(cards)}</div>'
