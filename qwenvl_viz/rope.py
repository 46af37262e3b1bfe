"""MRoPE stage: the (T, H, W) position ids of the whole prompt, time ids and the frequency layout.

Rules (``get_rope_index`` of each family; shared/reference/qwen-vl-pipeline.md §3):
- Text tokens carry the same id on all three axes and advance by 1.
- A vision run starting at position ``s`` with merged grid ``(t, h/m, w/m)``, in (t, row, col) raster
  order, gets ``T = s + t_index(k)``, ``H = s + row``, ``W = s + col``.
  Qwen2-VL: ``t_index(k) = k``. Qwen2.5-VL: images 0, videos ``long(k * second_per_grid_t *
  tokens_per_second)`` in float32 (transformers 4.49 release and 5.23; 4.5x .. 5.12 cast
  ``second_per_grid_t`` to int first, reported as a variant). Qwen3-VL: every temporal group is its
  own ``[1, h, w]`` run with ``t_index = 0``; time is in the timestamp text.
- Text after a run resumes at
  ``release``: ``max(everything so far) + 1`` (transformers 4.x and 5.0, the code the models were
  released with: ``st_idx = llm_pos_ids_list[-1].max() + 1``), or
  ``transformers``: ``s + max(h, w) // m`` (5.12 .. 5.23 ``get_rope_index``: ``current_pos +=
  max(grid_thw[1], grid_thw[2]) // spatial_merge_size``), which ignores the temporal axis.
- ``rope_deltas = max(position_ids) + 1 - L``.
- LLM frequency layout (``recomposition_frequencies`` of the text rotary embedding): the rotary dims
  are ``int(head_dim * partial_rotary_factor)``, half as many frequencies ``1 / rope_theta ** (2i / dim)``
  (Qwen2/2.5/3-VL: 128 dims, 64 frequencies; Qwen3.5: 256 * 0.25 = 64 dims, 32 frequencies). Qwen2/2.5
  split them in chunks ``mrope_section = [16, 24, 24]`` (T, H, W); Qwen3-VL and Qwen3.5 interleave ``THW``
  over the first ``3 * mrope_section[1]`` and give the rest to T.
- Four rows (transformers 5.23 ``_prepare_position_ids_for_generation`` of every family here, Qwen2-VL to
  Qwen3.5): ``torch.cat([text_positions, vision_positions])`` puts the plain text position 0..L-1 on top of
  the three MRoPE rows; the text model splits row 0 off (``text_position_ids``, for the causal mask and,
  in Qwen3.5's linear-attention layers, the decoder layers) and rotates with rows 1..3.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from .errors import VizError
from .profiles import ModelProfile
from .prompt import Prompt, VisionInput

__all__ = [
    "TextResume",
    "TEXT_RESUME_CHOICES",
    "TemporalGroup",
    "RunRope",
    "Collision",
    "Rope",
    "compute_rope",
    "qwen25_time_ids",
    "mrope_layout",
]

TextResume = Literal["release", "transformers"]
TEXT_RESUME_CHOICES: tuple[str, ...] = ("release", "transformers")


@dataclass(frozen=True)
class TemporalGroup:
    """One temporal group of a vision run: its time id and the seconds it stands for."""

    group: int
    time_id: int  # t_index: T = s + time_id
    position: int  # the T id itself
    seconds: float | None  # Qwen2.5: k * second_per_grid_t; Qwen3: its timestamp; Qwen2 video: k * Tp / sample_fps
    int_cast_time_id: int | None  # Qwen2.5 videos under transformers 4.5x .. 5.12 (int(second_per_grid_t))


@dataclass(frozen=True)
class RunRope:
    """Positions of one vision run (a whole image / Qwen2-2.5 video, or one Qwen3 temporal group)."""

    item: int
    kind: Literal["image", "video"]
    start: int  # token index of the first pad
    end: int
    start_position: int  # s
    llm_grid: tuple[int, int, int]  # (groups, h/m, w/m)
    groups: tuple[TemporalGroup, ...]
    resume_release: int  # where text after this run would resume, per rule
    resume_transformers: int


@dataclass(frozen=True)
class Collision:
    """Qwen2.5-VL temporal groups of one video that share a time id (``time_interval < 1``)."""

    item: int
    time_id: int
    groups: tuple[int, ...]


@dataclass(frozen=True, eq=False)
class Rope:
    position_ids: np.ndarray  # int64 [3, L]: T, H, W
    rope_deltas: int
    text_resume: TextResume
    alt_text_resume: TextResume
    alt_position_ids: np.ndarray  # int64 [3, L] under the other text_resume rule
    alt_rope_deltas: int
    differ_at: np.ndarray  # int64 token positions where the two rules differ (empty if identical)
    runs: tuple[RunRope, ...]
    collisions: tuple[Collision, ...]
    int_cast_differs: bool  # Qwen2.5: the 4.5x .. 5.12 int-cast time ids differ from the float ones
    time_interval: tuple[float | None, ...]  # per item: tokens_per_second * second_per_grid_t (Qwen2.5 videos)
    mrope_section: tuple[int, int, int]
    mrope_interleaved: bool
    mrope_layout: tuple[str, ...]  # rotary_dim / 2 entries, "T" / "H" / "W": the axis that drives each frequency
    explanation: str
    text_position_ids: np.ndarray  # int64 [L]: row 0 of the 4-row layout, the plain position 0..L-1
    rotary_dim: int  # int(head_dim * partial_rotary_factor)
    inv_freq: np.ndarray  # float64 [rotary_dim / 2]: 1 / rope_theta ** (2i / rotary_dim)

    @property
    def position_ids_4(self) -> np.ndarray:
        """int64 [4, L]: text row, then T, H, W, as transformers 5.23 hands them to the language model."""
        return np.vstack([self.text_position_ids[None], self.position_ids])


def qwen25_time_ids(t: int, second_per_grid_t: float, tokens_per_second: int) -> np.ndarray:
    """``long(k * tokens_per_second * second_per_grid_t)`` for k < t, in float32 as the model does.

    transformers 5.23: ``(torch.arange(t) * (tokens_per_second * second_per_grid_ts[i])).long()`` on a
    float32 ``second_per_grid_ts`` tensor (the processor's output); 4.49 multiplied in the other order,
    equal for the power-of-two ``tokens_per_second`` of every Hub config. ``.long()`` truncates.
    """
    interval = np.float32(second_per_grid_t) * np.float32(tokens_per_second)
    return (np.arange(t, dtype=np.float32) * interval).astype(np.int64)


def mrope_layout(profile: ModelProfile) -> tuple[str, ...]:
    """For each LLM rotary frequency (rotary_dim / 2 of them) the axis whose position drives it."""
    n = profile.rotary_dim // 2
    sec = profile.mrope_section
    if not profile.mrope_interleaved:  # Qwen2/2.5: freq.split(mrope_section) -> chunk i from axis i % 3
        layout = [axis for axis, size in zip("THW", sec) for _ in range(size)]
    else:  # Qwen3: start from T, overwrite H at 1, 4, ... and W at 2, 5, ... below 3 * section
        layout = ["T"] * n
        for dim, axis in ((1, "H"), (2, "W")):
            for i in range(dim, sec[dim] * 3, 3):
                layout[i] = axis
    if len(layout) != n:
        raise ValueError(f"mrope_section {sec} does not cover {n} frequencies")
    return tuple(layout)


def _fmt_list(values: Sequence[int], limit: int = 8) -> str:
    values = list(values)
    if len(values) <= limit:
        return "[" + ", ".join(map(str, values)) + "]"
    return "[" + ", ".join(map(str, values[: limit - 2])) + ", ..., " + ", ".join(map(str, values[-1:])) + "]"


def _run_time(profile: ModelProfile, prompt: Prompt, item: VisionInput, run, item_index: int):
    """(time ids per group, seconds per group, int-cast ids or None, formula text)."""
    rec = prompt.items[item_index]
    tp = profile.temporal_patch_size
    k = np.asarray(run.groups, dtype=np.int64)
    if rec.kind == "image":
        return np.zeros(len(k), np.int64), [None] * len(k), None, "T = s (image)"
    if profile.timestamps:  # Qwen3: one timestamped block per group
        secs = [rec.timestamps[g] for g in run.groups]
        return np.zeros(len(k), np.int64), secs, None, "T = s (Qwen3: time is in the timestamp text)"
    if profile.tokens_per_second is not None:  # Qwen2.5-VL video
        spg, tps = rec.second_per_grid_t, profile.tokens_per_second
        ids = qwen25_time_ids(rec.llm_grid[0], spg, tps)[k]
        casted = k * int(spg) * tps
        secs = [g * spg for g in run.groups]
        return ids, secs, casted, f"T = s + long(k * {spg:.6g} * {tps}) = s + {_fmt_list(ids.tolist())}"
    sample_fps = item.sample_fps
    secs = [g * tp / sample_fps if sample_fps else None for g in run.groups]
    return k.copy(), secs, None, "T = s + k (Qwen2-VL)"


def _positions(length: int, blocks: list[tuple[int, int, np.ndarray, int, int]], m: int, rule: str) -> np.ndarray:
    """Position ids [3, L]. ``blocks``: (start, end, time ids per group, h/m, w/m) per vision run."""
    pos = np.empty((3, length), dtype=np.int64)
    nxt = cursor = 0
    for start, end, time_ids, hm, wm in blocks:
        pos[:, cursor:start] = nxt + np.arange(start - cursor)
        s = nxt + start - cursor
        per = hm * wm
        pos[0, start:end] = s + np.repeat(time_ids, per)
        pos[1, start:end] = s + np.tile(np.repeat(np.arange(hm), wm), len(time_ids))
        pos[2, start:end] = s + np.tile(np.arange(wm), len(time_ids) * hm)
        if rule == "release":
            nxt = int(pos[:, start:end].max()) + 1
        else:  # merged grid * m = the processor's grid_thw h, w
            nxt = s + max(hm * m, wm * m) // m
        cursor = end
    pos[:, cursor:] = nxt + np.arange(length - cursor)
    return pos


def compute_rope(
    profile: ModelProfile,
    prompt: Prompt,
    items: Sequence[VisionInput],
    *,
    text_resume: TextResume = "release",
) -> Rope:
    """MRoPE position ids of ``prompt`` (both text-resume rules; ``text_resume`` picks the main one).

    >>> from qwenvl_viz.profiles import get_profile
    >>> from qwenvl_viz.prompt import build_prompt
    >>> prof = get_profile("qwen2-vl")
    >>> img = [VisionInput("image", (1, 4, 6))]
    >>> r = compute_rope(prof, build_prompt(prof, img, "Hi"), img)
    >>> r.position_ids[:, 14:23].tolist(), r.rope_deltas
    ([[14, 15, 15, 15, 15, 15, 15, 18, 19], [14, 15, 15, 15, 16, 16, 16, 18, 19], [14, 15, 16, 17, 15, 16, 17, 18, 19]], -3)
    """
    if text_resume not in TEXT_RESUME_CHOICES:
        raise VizError(
            f"text_resume must be one of {', '.join(TEXT_RESUME_CHOICES)}, got {text_resume!r}", field="text_resume"
        )
    if len(items) != len(prompt.items):
        raise ValueError(f"{len(items)} items given, the prompt was built for {len(prompt.items)}")
    m = profile.merge_size
    length = prompt.num_tokens

    blocks = []
    timing = []
    for run in prompt.runs:
        ids, secs, casted, formula = _run_time(profile, prompt, items[run.item], run, run.item)
        _, hm, wm = run.llm_grid
        blocks.append((run.start, run.end, ids, hm, wm))
        timing.append((ids, secs, casted, formula))

    release = _positions(length, blocks, m, "release")
    transformers = _positions(length, blocks, m, "transformers")
    main, alt = (release, transformers) if text_resume == "release" else (transformers, release)
    alt_rule: TextResume = "transformers" if text_resume == "release" else "release"
    for arr in (main, alt):
        arr.flags.writeable = False
    differ_at = np.flatnonzero((release != transformers).any(axis=0))
    deltas = int(main.max()) + 1 - length if length else 0
    alt_deltas = int(alt.max()) + 1 - length if length else 0

    runs = []
    collisions = []
    int_cast_differs = False
    lines = []
    for run, (ids, secs, casted, formula) in zip(prompt.runs, timing):
        s_main = int(main[1, run.start])  # H of the run's first token is s
        t, hm, wm = run.llm_grid
        groups = tuple(
            TemporalGroup(
                group=g, time_id=int(ids[j]), position=s_main + int(ids[j]), seconds=secs[j],
                int_cast_time_id=None if casted is None else int(casted[j]),
            )
            for j, g in enumerate(run.groups)
        )
        if casted is not None and not np.array_equal(casted, ids):
            int_cast_differs = True
        res_release = s_main + max(int(ids.max()), hm - 1, wm - 1) + 1
        res_transformers = s_main + max(hm * m, wm * m) // m
        runs.append(RunRope(run.item, run.kind, run.start, run.end, s_main, run.llm_grid, groups,
                            res_release, res_transformers))
        if profile.tokens_per_second is not None and run.kind == "video":
            uniq, counts = np.unique(ids, return_counts=True)
            for tid in uniq[counts > 1].tolist():
                collisions.append(Collision(run.item, int(tid), tuple(g for g, i in zip(run.groups, ids) if i == tid)))
        label = f"{run.kind} {run.item}" + (f" group {run.groups[0]}" if profile.timestamps
                                             and run.kind == "video" else "")
        lines.append(
            f"{label} (tokens {run.start}..{run.end - 1}): s = {s_main}, merged grid {t}x{hm}x{wm}; "
            f"{formula}; H = s + row (0..{hm - 1}); W = s + col (0..{wm - 1}); next text: "
            f"release max + 1 = {s_main} + {max(int(ids.max()), hm - 1, wm - 1)} + 1 = {res_release}, "
            f"transformers 5.12+ s + max({hm * m}, {wm * m}) / {m} = {res_transformers}"
        )
    if len(lines) > 4:  # Qwen3: one line per frame block is too much to read
        lines = lines[:2] + [f"... {len(lines) - 3} more runs ..."] + lines[-1:]

    time_interval = tuple(
        (profile.tokens_per_second * rec.second_per_grid_t)
        if profile.tokens_per_second is not None and rec.second_per_grid_t is not None else None
        for rec in prompt.items
    )
    for rec, interval in zip(prompt.items, time_interval):
        if interval is not None and interval < 1:
            lines.append(
                f"time_interval = {profile.tokens_per_second} * {rec.second_per_grid_t:.4f} = {interval:.4f} < 1: "
                "neighbouring temporal groups can share a time id"
            )
    for c in collisions:
        lines.append(f"collision: video {c.item} groups {list(c.groups)} share time id {c.time_id}")
    if int_cast_differs:
        casts = [r for r in runs if r.groups and r.groups[0].int_cast_time_id is not None]
        for r in casts:
            spg = prompt.items[r.item].second_per_grid_t
            lines.append(
                f"transformers 4.5x .. 5.12 cast second_per_grid_t to int first ({spg:.4f} -> {int(spg)}): time ids "
                f"{_fmt_list([g.int_cast_time_id for g in r.groups])} instead of "
                f"{_fmt_list([g.time_id for g in r.groups])}"
            )
    lines.append(f"rope_deltas = max + 1 - L = {int(main.max()) if length else -1} + 1 - {length} = {deltas}"
                 f" ({text_resume} text resume)")
    if differ_at.size:
        lines.append(
            f"the release and transformers 5.12+ text-resume rules differ at {differ_at.size} tokens "
            f"(from token {int(differ_at[0])}): a video's time ids outrun its spatial extent, and 5.12+ resumes the "
            f"text inside them; rope_deltas {deltas} ({text_resume}) vs {alt_deltas} ({alt_rule})"
        )
    else:
        lines.append("the release and transformers 5.12+ text-resume rules agree on this prompt")
    layout = mrope_layout(profile)
    rd = profile.rotary_dim
    inv_freq = 1.0 / profile.rope_theta ** (np.arange(0, rd, 2, dtype=np.float64) / rd)
    text_row = np.arange(length, dtype=np.int64)
    text_row.flags.writeable = False
    lines.append(
        f"position_ids as the language model gets them: 4 x {length} = text row 0..{max(length - 1, 0)} "
        f"(causal mask) on top of T, H, W (transformers 5.23)"
    )
    lines.append(
        f"rotary dims = head_dim {profile.llm_head_dim} x partial_rotary_factor {profile.partial_rotary_factor:g} = "
        f"{rd}: {rd // 2} frequencies 1 / {profile.rope_theta:g}^(2i/{rd}), "
        f"wavelengths {2 * np.pi / inv_freq[0]:.3g} .. {2 * np.pi / inv_freq[-1]:.3g} positions"
    )
    if profile.mrope_interleaved:
        k = 0
        while layout[3 * k : 3 * k + 3] == ("T", "H", "W"):
            k += 1
        lines.append(
            f"LLM rotary frequencies ({len(layout)}): interleaved THW x {k} + {''.join(layout[3 * k:])} "
            f"(mrope_section {list(profile.mrope_section)})"
        )
    else:
        a, b, _ = profile.mrope_section
        lines.append(
            f"LLM rotary frequencies ({len(layout)}): chunked {list(profile.mrope_section)}: "
            f"0..{a - 1} T, {a}..{a + b - 1} H, {a + b}..{len(layout) - 1} W"
        )

    return Rope(
        position_ids=main,
        rope_deltas=deltas,
        text_resume=text_resume,
        alt_text_resume=alt_rule,
        alt_position_ids=alt,
        alt_rope_deltas=alt_deltas,
        differ_at=differ_at,
        runs=tuple(runs),
        collisions=tuple(collisions),
        int_cast_differs=int_cast_differs,
        time_interval=time_interval,
        mrope_section=profile.mrope_section,
        mrope_interleaved=profile.mrope_interleaved,
        mrope_layout=layout,
        explanation="\n".join(lines),
        text_position_ids=text_row,
        rotary_dim=rd,
        inv_freq=inv_freq,
    )
