"""The expanded prompt with pad runs collapsed (``<|video_pad|> × 720``), Qwen3 timestamps next to their
frame pairs, and the token count of every segment."""

from __future__ import annotations

from html import escape

from ..prompt import SegmentLabel, load_tokenizer
from ..trace import Trace
from ..words import tr

__all__ = ["prompt_html", "MAX_GROUP_BLOCKS"]

MAX_GROUP_BLOCKS = 8  # Qwen3 videos: show this many timestamped blocks, then "... n more ..."
_PAD = {SegmentLabel.IMAGE_PAD: "<|image_pad|>", SegmentLabel.VIDEO_PAD: "<|video_pad|>"}


def _text(s: str) -> str:
    return escape(s).replace("\n", '<span class="nl">↵</span><br>')


def prompt_html(trace: Trace, lang: str, selection=None) -> str:
    """``selection``: the linked selection; its pad run is outlined and its token's place written in."""
    pr = trace.prompt
    tok, _ = load_tokenizer(trace.params.tokenizer_dir, trace.profile)
    ids = pr.input_ids
    groups = sorted({s.group for s in pr.segments if s.group is not None})
    keep = set(groups)
    if len(groups) > MAX_GROUP_BLOCKS:
        keep = set(groups[: MAX_GROUP_BLOCKS - 2] + groups[-2:])
    hidden_reported = False
    out = []
    for seg in pr.segments:
        n = seg.end - seg.start
        hit = selection is not None and seg.label in _PAD and seg.start <= selection.input_index < seg.end
        if seg.group is not None and seg.group not in keep and not hit:
            if not hidden_reported:
                out.append(f'<span class="chip chip-more">{escape(tr("more_blocks", lang, n=len(groups) - len(keep)))}'
                           "</span><br>")
                hidden_reported = True
            continue
        cls = f"chip chip-{seg.label.value}" + (" chip-selected" if hit else "")
        title = tr("run_tokens", lang, a=seg.start, b=seg.end - 1)
        if seg.label in _PAD:
            body = f"{escape(_PAD[seg.label])} × {n}"
            if seg.group is not None and trace.sampling is not None:
                members = dict.fromkeys(trace.patchify.groups[seg.group])
                frames = ", ".join(str(trace.sampling.indices[i]) for i in members)
                body += f' <span class="frames">({tr("frames_word", lang)} {frames})</span>'
        else:
            body = _text(tok.decode(ids[seg.start : seg.end].tolist(), skip_special_tokens=False))
        if hit:
            mark = tr("sel_in_prompt", lang, k=selection.input_index - seg.start, i=selection.input_index,
                      token=selection.token)
            body += f' <span class="sel-token">★ {escape(mark)}</span>'
        count = "" if seg.label in _PAD else f'<sup class="count">{n}</sup>'
        out.append(f'<span class="{cls}" title="{escape(title)}">{body}{count}</span>')
        if seg.label is SegmentLabel.VISION_END and seg.group is not None:
            out.append("<br>")
    return f'<div class="prompt-view" id="prompt-text">{"".join(out)}</div>'
