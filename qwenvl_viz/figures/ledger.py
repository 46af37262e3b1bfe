"""The shape ledger across the top: raw -> sampled -> resized -> pixel_values -> grid -> tokens -> embeddings.

Rows come from :func:`qwenvl_viz.trace.ledger` (shapes and formulas with the live numbers); this module
only lays them out as a strip of cards (HTML, readable from the back of a room).
"""

from __future__ import annotations

from html import escape

from ..trace import Trace, ledger
from ..words import WORDS, tr

__all__ = ["ledger_html"]


def ledger_html(trace: Trace, lang: str) -> str:
    cards = []
    rows = ledger(trace)
    for row in rows:
        key = f"stage_{row.stage}"
        label = tr(key, lang) if key in WORDS else row.stage
        cards.append(
            f'<div class="ledger-card" data-stage="{escape(row.stage)}">'
            f'<div class="ledger-stage">{escape(label)}</div>'
            f'<div class="ledger-shape">{escape(row.shape)}</div>'
            f'<div class="ledger-formula">{escape(row.formula)}</div></div>'
        )
    m = trace.profile.merge_size
    cards.append(
        '<div class="ledger-card ledger-next" data-stage="embeddings">'
        f'<div class="ledger-stage">{escape(tr("stage_embeddings", lang))}</div>'
        f'<div class="ledger-shape">{escape(tr("embeddings_shape", lang, n=trace.num_vision_tokens))}</div>'
        f'<div class="ledger-formula">{escape(tr("embeddings_formula", lang, m=m))}</div></div>'
    )
    arrow = '<div class="ledger-arrow">→</div>'
    return f'<div class="ledger" id="ledger-strip">{arrow.join(cards)}</div>'
