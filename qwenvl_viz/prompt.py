"""Prompt stage: chat template, placeholder expansion, Qwen3 timestamps and exact token ids.

What the reference does (cited once here):
- Chat templates, one user turn with the media first and the text after, generation prompt on:
  Qwen2-VL / Qwen2.5-VL Hub ``chat_template.json`` add a default system turn
  ``<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n`` when the first message is not a
  system message; Qwen3-VL's (``Qwen/Qwen3-VL-*-Instruct``) writes a system turn only when one is
  given. Every family renders an image as ``<|vision_start|><|image_pad|><|vision_end|>`` and a
  video as ``<|vision_start|><|video_pad|><|vision_end|>``, content items in message order.
- Expansion (transformers 5.23 ``processing_qwen2_vl.py``, ``processing_qwen2_5_vl.py``,
  ``processing_qwen3_vl.py``): one pad becomes ``t*h*w / m**2`` pads; Qwen2.5-VL adds
  ``second_per_grid_ts = temporal_patch_size / metadata.sampled_fps``; Qwen3-VL writes, per temporal
  group k, ``f"<{ts_k:.1f} seconds>" + <|vision_start|> + <|video_pad|> * (h*w/m**2) + <|vision_end|>``
  with ``ts`` from ``Qwen3VLProcessor._calculate_timestamps``.
- Qwen3-VL release behaviour (transformers 4.57 and 5.0 ``Qwen3VLProcessor.__call__``): the blocks
  replace the whole ``<|vision_start|><|video_pad|><|vision_end|>``. transformers 5.12 .. 5.23 replace
  only the ``<|video_pad|>``, so the outer pair stays (+2 tokens per video).

Token ids come from the family's own tokenizer, offline (:mod:`qwenvl_viz.tokens`); the special ids
and the generation prompt are profile fields (Qwen3.5's template opens ``<think>\\n``). The pad runs are spliced in as id runs instead of tokenising a 20k-token string; since the pads are
special (added) tokens, the tokenizer splits the text at them first, so the result is identical to
tokenising the whole expanded text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Literal

import numpy as np

from .words import say
from .errors import VizError
from .profiles import IMAGE_PAD_ID, PROFILES, VIDEO_PAD_ID, Family, ModelProfile
from .tokens import TOKENIZER_INSTALL_HINT, TextTokenizer, load_tokenizer

__all__ = [
    "VisionInput",
    "SegmentLabel",
    "Segment",
    "VisionRun",
    "ItemPrompt",
    "Prompt",
    "build_prompt",
    "load_tokenizer",
    "calculate_timestamps",
    "timestamp_text",
    "TOKENIZER_INSTALL_HINT",
    "VISION_START",
    "VISION_END",
    "IMAGE_PAD",
    "VIDEO_PAD",
]

VISION_START = "<|vision_start|>"
VISION_END = "<|vision_end|>"
IMAGE_PAD = "<|image_pad|>"
VIDEO_PAD = "<|video_pad|>"
_SPECIAL = (VISION_START, VISION_END, IMAGE_PAD, VIDEO_PAD)

# Hub chat templates (see the module docstring): Qwen2/2.5 add this system turn, Qwen3-VL adds none.
DEFAULT_SYSTEM: dict[Family, str | None] = {f: p.default_system for f, p in PROFILES.items()}

# transformers VideoMetadata: fps missing -> 24 (with a warning), for sampled_fps and timestamps alike.
FALLBACK_FPS = 24


@dataclass(frozen=True)
class VisionInput:
    """What the prompt and rope stages need to know about one image / video."""

    kind: Literal["image", "video"]
    grid_thw: tuple[int, int, int]  # after temporal padding (t = ceil(nframes / Tp))
    frame_indices: tuple[int, ...] = ()  # absolute raw-frame indices of the sampled frames, before padding
    video_fps: float | None = None  # the ORIGINAL average fps of the video
    sample_fps: float | None = None  # nframes / total_frames * video_fps (= metadata.sampled_fps)


class SegmentLabel(str, Enum):
    SYSTEM = "system"  # <|im_start|>system\n...<|im_end|>\n
    USER_START = "user_start"  # <|im_start|>user\n
    TEXT = "text"  # the user's text (before or after the media)
    VISION_START = "vision_start"
    IMAGE_PAD = "image_pad"
    VIDEO_PAD = "video_pad"
    TIMESTAMP = "timestamp"  # Qwen3-VL "<0.3 seconds>"
    VISION_END = "vision_end"
    USER_END = "user_end"  # <|im_end|>\n
    ASSISTANT_START = "assistant_start"  # <|im_start|>assistant\n


@dataclass(frozen=True)
class Segment:
    """Tokens ``[start, end)`` of one piece of the prompt. Segments tile the whole sequence."""

    label: SegmentLabel
    start: int
    end: int
    item: int | None = None  # which VisionInput, for media pieces
    group: int | None = None  # Qwen3 temporal group; None for a whole item (or its outer wrapper)


@dataclass(frozen=True)
class VisionRun:
    """One run of pad tokens: a whole image / Qwen2-2.5 video, or one Qwen3 temporal group."""

    item: int
    kind: Literal["image", "video"]
    start: int  # token index of the first pad
    end: int  # one past the last pad
    groups: tuple[int, ...]  # temporal groups held by this run
    llm_grid: tuple[int, int, int]  # (groups, h/m, w/m): the merged grid of this run

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class ItemPrompt:
    """The expansion of one image / video."""

    kind: Literal["image", "video"]
    grid_thw: tuple[int, int, int]
    llm_grid: tuple[int, int, int]  # (t, h/m, w/m)
    num_tokens: int  # t*h*w / m**2
    tokens_per_group: int  # h*w / m**2
    sample_fps: float | None  # as used (after the transformers fallback, if it fired)
    second_per_grid_t: float | None  # Qwen2.5-VL videos: Tp / sample_fps
    timestamps: tuple[float, ...] | None  # Qwen3-VL videos: seconds per temporal group
    timestamp_strings: tuple[str, ...] | None  # "<0.3 seconds>", ...
    explanation: str


@dataclass(frozen=True, eq=False)
class Prompt:
    """Token ids of the whole prompt and where each piece lies.

    ``second_per_grid_ts`` / ``timestamps`` are those of the first video (the common one-video
    case); every item's own values are in ``items``.
    """

    family: Family
    template_text: str  # the chat template's text, one placeholder per item
    expanded_text: str  # after placeholder expansion: what the tokenizer sees
    input_ids: np.ndarray  # int64 [L]
    segments: tuple[Segment, ...]
    runs: tuple[VisionRun, ...]
    items: tuple[ItemPrompt, ...]
    second_per_grid_ts: float | None
    timestamps: tuple[float, ...] | None
    timestamp_strings: tuple[str, ...] | None
    num_vision_tokens: int
    tokenizer_source: str  # path of the tokenizer.json used
    qwen3_outer_wrapper: bool
    alt_num_tokens: int  # length under the other Qwen3 wrapper choice (= L when it makes no difference)
    note: str | None  # how the release and transformers 5.x texts differ, where they do
    explanation: str
    image_pad_id: int = IMAGE_PAD_ID  # the family's pad ids (profile.image_pad_id / video_pad_id)
    video_pad_id: int = VIDEO_PAD_ID

    @property
    def num_tokens(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def mm_token_type_ids(self) -> np.ndarray:
        """int64 [L]: 0 text, 1 image pad, 2 video pad (as transformers' processors return)."""
        types = np.zeros(self.input_ids.shape, dtype=np.int64)
        types[self.input_ids == self.image_pad_id] = 1
        types[self.input_ids == self.video_pad_id] = 2
        return types


# ---- time -----------------------------------------------------------------------------------

def calculate_timestamps(indices: Sequence[int], video_fps: float, merge_size: int = 2) -> list[float]:
    """Seconds per temporal group, as transformers 5.23 ``Qwen3VLProcessor._calculate_timestamps``.

    Pad the indices to a multiple of ``merge_size`` by repeating the last one, convert with the
    ORIGINAL fps (``idx / video_fps``), then average the first and last frame of each group.
    """
    indices = list(indices)
    if len(indices) % merge_size != 0:
        indices.extend(indices[-1] for _ in range(merge_size - len(indices) % merge_size))
    seconds = [idx / video_fps for idx in indices]
    return [(seconds[i] + seconds[i + merge_size - 1]) / 2 for i in range(0, len(seconds), merge_size)]


def timestamp_text(seconds: float) -> str:
    """``<0.3 seconds>``: Python's ``.1f`` (correctly rounded), as the processor formats it."""
    return f"<{seconds:.1f} seconds>"


# ---- building -------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Part:
    """A piece of the expanded prompt: text to tokenise, or a run of one pad id."""

    label: SegmentLabel
    text: str
    item: int | None = None
    group: int | None = None
    pad_id: int | None = None
    pad_count: int = 0


def _check_text(text: str, what: str) -> None:
    if not isinstance(text, str):
        raise VizError(f"{what} must be text, got {type(text).__name__}", field="prompt")
    for token in _SPECIAL:
        if token in text:
            raise VizError(
                f"{what} contains {token}, which the processor would count as a media placeholder; "
                "remove it (the media placeholders are written for you)",
                field="prompt",
            )


def _check_item(profile: ModelProfile, index: int, item: VisionInput) -> tuple[int, int, int]:
    t, h, w = (int(v) for v in item.grid_thw)
    m = profile.merge_size
    if item.kind not in ("image", "video"):
        raise ValueError(f"item {index}: kind must be 'image' or 'video', got {item.kind!r}")
    if min(t, h, w) < 1 or h % m or w % m:
        raise ValueError(f"item {index}: grid_thw {item.grid_thw} must be positive with h and w divisible by {m}")
    if item.kind == "image" and t != 1:
        raise ValueError(f"item {index}: an image has grid t = 1, got {item.grid_thw}")
    return t, h, w


def _expand_item(
    profile: ModelProfile, index: int, item: VisionInput, outer_wrapper: bool
) -> tuple[list[_Part], ItemPrompt]:
    t, h, w = _check_item(profile, index, item)
    m, tp = profile.merge_size, profile.temporal_patch_size
    per_group = h * w // (m * m)
    total = t * per_group
    llm_grid = (t, h // m, w // m)
    start, end = _Part(SegmentLabel.VISION_START, VISION_START, index), _Part(SegmentLabel.VISION_END, VISION_END, index)
    head = f"{item.kind} {index}: grid [{t}, {h}, {w}] -> {t}*{h}*{w} / {m}^2 = {total} "
    sample_fps = spg = None
    timestamps = strings = None

    if item.kind == "image":
        parts = [start, _Part(SegmentLabel.IMAGE_PAD, IMAGE_PAD, index, pad_id=profile.image_pad_id, pad_count=total), end]
        explanation = head + f"{IMAGE_PAD} tokens"
    elif not profile.timestamps:
        parts = [start, _Part(SegmentLabel.VIDEO_PAD, VIDEO_PAD, index, pad_id=profile.video_pad_id, pad_count=total), end]
        explanation = head + f"{VIDEO_PAD} tokens ({t} temporal groups of {per_group})"
        if profile.tokens_per_second is not None:  # Qwen2.5-VL
            sample_fps = item.sample_fps
            fallback = ""
            if sample_fps is None:  # transformers VideoMetadata.sampled_fps: `self.fps or 24`
                sample_fps = item.video_fps or FALLBACK_FPS
                fallback = f" (no sample_fps: transformers falls back to fps or {FALLBACK_FPS})"
            spg = tp / sample_fps
            explanation += f"; second_per_grid_t = Tp / sample_fps = {tp} / {sample_fps:.4f} = {spg:.4f} s{fallback}"
    else:  # Qwen3-VL: one timestamped block per temporal group
        if not item.frame_indices:
            raise ValueError(f"item {index}: Qwen3-VL timestamps need the sampled frame_indices")
        fps = item.video_fps or FALLBACK_FPS
        timestamps = tuple(calculate_timestamps(item.frame_indices, fps, tp))
        if len(timestamps) < t:
            raise ValueError(
                f"item {index}: {len(item.frame_indices)} frame indices give {len(timestamps)} timestamps "
                f"for {t} temporal groups"
            )
        timestamps = timestamps[:t]  # the processor reads curr_timestamp[0..t-1]
        strings = tuple(timestamp_text(s) for s in timestamps)
        parts = []
        for k, label in enumerate(strings):
            parts += [
                _Part(SegmentLabel.TIMESTAMP, label, index, k),
                _Part(SegmentLabel.VISION_START, VISION_START, index, k),
                _Part(SegmentLabel.VIDEO_PAD, VIDEO_PAD, index, k, profile.video_pad_id, per_group),
                _Part(SegmentLabel.VISION_END, VISION_END, index, k),
            ]
        if outer_wrapper:
            parts = [start, *parts, end]
        first = (list(item.frame_indices) + [item.frame_indices[-1]] * tp)[:tp]
        explanation = (
            head + f"{VIDEO_PAD} tokens in {t} blocks of {per_group}, each '<t seconds>{VISION_START}' + "
            f"{per_group} x {VIDEO_PAD} + '{VISION_END}'; t = mean of idx / fps over the first and last frame "
            f"of each group of {tp}: ({first[0]}/{fps:g} + {first[-1]}/{fps:g}) / 2 = {timestamps[0]:.4f} -> "
            f"{strings[0]} ... {strings[-1]}"
            + ("" if item.video_fps else f" (no video fps: transformers falls back to {FALLBACK_FPS})")
            # 4.57 / 5.0 passed merge_size as the group size; equal to Tp in every released config
            + ("" if m == tp else f" (transformers 4.57 / 5.0 grouped the frames by merge_size = {m} instead)")
        )
    record = ItemPrompt(
        kind=item.kind, grid_thw=(t, h, w), llm_grid=llm_grid, num_tokens=total, tokens_per_group=per_group,
        sample_fps=sample_fps, second_per_grid_t=spg, timestamps=timestamps, timestamp_strings=strings,
        explanation=explanation,
    )
    return parts, record


def _tokenize(tokenizer: TextTokenizer, parts: list[_Part]) -> tuple[np.ndarray, np.ndarray]:
    """Token ids and, per token, the index of the part it starts in.

    Consecutive text parts are tokenised together (exactly as in the full string); a pad run is an
    id run. Equal to tokenising the whole text because the pads are added tokens, split out first.
    """
    ids: list[np.ndarray] = []
    owner: list[np.ndarray] = []
    chunk: list[int] = []  # indices of the text parts waiting to be tokenised together

    def flush() -> None:
        if not chunk:
            return
        texts = [parts[i].text for i in chunk]
        starts = np.cumsum([0] + [len(s) for s in texts[:-1]])
        enc_ids, offsets = tokenizer.encode("".join(texts))
        if enc_ids:
            first_char = np.asarray(offsets, dtype=np.int64)
            ids.append(np.asarray(enc_ids, dtype=np.int64))
            owner.append(np.asarray(chunk, dtype=np.int64)[np.searchsorted(starts, first_char, side="right") - 1])
        chunk.clear()

    for i, part in enumerate(parts):
        if part.pad_id is None:
            chunk.append(i)
            continue
        flush()
        ids.append(np.full(part.pad_count, part.pad_id, dtype=np.int64))
        owner.append(np.full(part.pad_count, i, dtype=np.int64))
    flush()
    if not ids:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(ids), np.concatenate(owner)


def _segments(parts: list[_Part], owner: np.ndarray) -> tuple[Segment, ...]:
    if owner.size == 0:
        return ()
    cuts = np.flatnonzero(np.diff(owner)) + 1
    starts = np.concatenate([[0], cuts])
    ends = np.concatenate([cuts, [owner.size]])
    out = []
    for s, e in zip(starts.tolist(), ends.tolist()):
        p = parts[int(owner[s])]
        out.append(Segment(p.label, s, e, p.item, p.group))
    return tuple(out)


def _render(parts: list[_Part]) -> str:
    return "".join(p.text * p.pad_count if p.pad_id is not None else p.text for p in parts)


def build_prompt(
    profile: ModelProfile,
    items: Sequence[VisionInput],
    text: str,
    *,
    text_before: str = "",
    chat_template: bool = True,
    qwen3_outer_wrapper: bool = False,
    tokenizer_dir: str | None = None,
) -> Prompt:
    """The prompt the processor would tokenise for one user turn: ``text_before``, the media, ``text``.

    ``chat_template=False`` leaves out the chat turns (raw ``text_before + media + text``).
    ``qwen3_outer_wrapper``: False = release behaviour (transformers 4.57 / 5.0: the timestamped blocks
    replace the whole ``<|vision_start|><|video_pad|><|vision_end|>``), True = transformers 5.12 .. 5.23
    (outer pair kept). ``tokenizer_dir``: a checkpoint folder whose tokenizer.json wins.

    >>> from qwenvl_viz.profiles import get_profile
    >>> p = build_prompt(get_profile("qwen2.5-vl"), [VisionInput("image", (1, 4, 6))], "Hi")
    >>> p.num_vision_tokens, p.input_ids[14:22].tolist()
    (6, [151652, 151655, 151655, 151655, 151655, 151655, 151655, 151653])
    """
    _check_text(text, "prompt text")
    _check_text(text_before, "text before the media")
    tokenizer, source = load_tokenizer(tokenizer_dir, profile)
    family = profile.family

    head: list[_Part] = []
    tail: list[_Part] = []
    if chat_template:
        system = profile.default_system
        if system is not None:
            head.append(_Part(SegmentLabel.SYSTEM, f"<|im_start|>system\n{system}<|im_end|>\n"))
        head.append(_Part(SegmentLabel.USER_START, "<|im_start|>user\n"))
        tail = [_Part(SegmentLabel.USER_END, "<|im_end|>\n"), _Part(SegmentLabel.ASSISTANT_START, profile.generation_prompt)]
    before = [_Part(SegmentLabel.TEXT, text_before)] if text_before else []
    after = [_Part(SegmentLabel.TEXT, text)] if text else []

    placeholders: list[str] = []
    media_parts: list[_Part] = []
    records: list[ItemPrompt] = []
    for i, item in enumerate(items):
        parts, record = _expand_item(profile, i, item, qwen3_outer_wrapper)
        placeholders.append(VISION_START + (IMAGE_PAD if item.kind == "image" else VIDEO_PAD) + VISION_END)
        media_parts += parts
        records.append(record)

    template_text = _render(head + before) + "".join(placeholders) + _render(after + tail)
    parts = head + before + media_parts + after + tail
    expanded_text = _render(parts)
    input_ids, owner = _tokenize(tokenizer, parts)
    input_ids.flags.writeable = False
    segments = _segments(parts, owner)

    runs = []
    for seg in segments:
        if seg.label in (SegmentLabel.IMAGE_PAD, SegmentLabel.VIDEO_PAD):
            rec = records[seg.item]
            groups = (seg.group,) if seg.group is not None else tuple(range(rec.llm_grid[0]))
            runs.append(VisionRun(seg.item, rec.kind, seg.start, seg.end, groups,
                                  (len(groups), rec.llm_grid[1], rec.llm_grid[2])))

    videos = [r for r in records if r.kind == "video"]
    first_video = videos[0] if videos else None
    n_vision = sum(r.num_tokens for r in records)
    num_tokens = int(input_ids.shape[0])

    note = None
    alt = num_tokens
    if profile.timestamps and videos:  # the outer-wrapper choice only exists for timestamped blocks
        n = len(videos)
        alt = num_tokens - 2 * n if qwen3_outer_wrapper else num_tokens + 2 * n
        note = say("pr_outer_note", n=2 * n, start=VISION_START, end=VISION_END, tokens=num_tokens, alt=alt,
                   follows=say("pr_follows_new" if qwen3_outer_wrapper else "pr_follows_release"))

    lines = [r.explanation for r in records]
    lines.append(
        f"{num_tokens} tokens = {n_vision} vision pads + {num_tokens - n_vision} text / special tokens "
        f"(tokenizer {source})"
    )
    if note:
        lines.append(note)
    return Prompt(
        family=family,
        template_text=template_text,
        expanded_text=expanded_text,
        input_ids=input_ids,
        segments=segments,
        runs=tuple(runs),
        items=tuple(records),
        second_per_grid_ts=first_video.second_per_grid_t if first_video else None,
        timestamps=first_video.timestamps if first_video else None,
        timestamp_strings=first_video.timestamp_strings if first_video else None,
        num_vision_tokens=n_vision,
        tokenizer_source=source,
        qwen3_outer_wrapper=qwen3_outer_wrapper,
        alt_num_tokens=alt,
        note=note,
        explanation="\n".join(lines),
        image_pad_id=profile.image_pad_id,
        video_pad_id=profile.video_pad_id,
    )
