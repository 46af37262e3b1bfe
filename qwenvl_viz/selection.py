"""Linked selection: one point on the resized frame, followed through every stage.

A click on the resized frame (``gr.Image.select`` gives pixel ``(x, y)``) picks a patch; from it:
its 2x2 merge block and the block's ``pixel_values`` rows, the temporal group and the raw frames
behind it (padding flagged), the vision token it merges into, where that token sits in
``input_ids``, its MRoPE ``(t, h, w)`` ids, and (Qwen2.5-VL) the attention window holding it.
Nothing is re-derived here: rows come from :mod:`qwenvl_viz.merge_order`, windows from the
encoder's :func:`~qwenvl_viz.encoder.window_partition`, positions from ``trace.rope``.

>>> sel = select(trace, x=300, y=500)          # doctest: +SKIP
>>> sel.patch, sel.row, sel.token, sel.position_ids  # doctest: +SKIP
((35, 21), 1403, 350, (15, 32, 25))

``Selection.remap(new_trace)`` keeps the selection across parameter changes (same relative place
in the frame, the group holding the same moment), ``Selection.still_valid(new_trace)`` says
whether that is possible.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
from dataclasses import dataclass

import torch

from .errors import VizError
from .merge_order import merge_order

__all__ = ["Selection", "Window", "SourceFrame", "select", "select_token", "select_relative"]


@dataclass(frozen=True)
class SourceFrame:
    """One member of the selected temporal group."""

    slot: int  # position inside the temporal patch (0 .. Tp-1)
    position: int  # index into the sampled frame list (0 for an image)
    raw_index: int  # frame index in the video (0 for an image)
    seconds: float | None  # raw_index / video fps; None for an image
    padding: bool  # a repeated copy: temporal padding of a video, or an image's duplicate


@dataclass(frozen=True)
class Window:
    """Qwen2.5-VL attention window holding the selected token (windowed blocks only)."""

    index: int  # window id over the whole input (all temporal groups), as in cu_window_seqlens
    index_in_frame: int  # window id inside this temporal group
    side: int  # window side in merged tokens (112 px / merge / patch = 4)
    slots: tuple[int, int]  # [start, end) of the window in the window-ordered token sequence
    rows: tuple[int, int]  # [start, end) in rows (patches) of the window-ordered sequence
    tokens: tuple[int, ...]  # vision tokens (token order) inside the window
    token_box: tuple[int, int, int, int]  # merged-grid (row0, col0, row1, col1), end exclusive
    box: tuple[int, int, int, int]  # resized-frame pixels (x0, y0, x1, y1)
    full_attention_blocks: tuple[int, ...]  # blocks that attend over the whole frame instead


@dataclass(frozen=True)
class Selection:
    """Everything the views highlight for one selected patch. Boxes are ``(x0, y0, x1, y1)`` pixels of
    the resized frame, end exclusive; ``source_box`` is the same patch on the frame before resizing."""

    x: float  # the click, resized-frame pixels
    y: float
    frame_size: tuple[int, int]  # resized (H, W)
    group: int  # temporal group (0 for an image)
    patch: tuple[int, int]  # (ph, pw) in the patch grid
    block: tuple[int, int]  # (bh, bw) merge block = (row, col) in the merged grid
    block_patches: tuple[tuple[int, int], ...]  # the m*m patches of the block, in merge (row) order
    row: int  # pixel_values row of the patch (over all temporal groups)
    block_rows: tuple[int, ...]  # pixel_values rows of the block (consecutive)
    patch_box: tuple[int, int, int, int]
    block_box: tuple[int, int, int, int]
    source_box: tuple[float, float, float, float]  # the patch on the original (pre-resize) frame
    frames: tuple[SourceFrame, ...]  # the Tp frames of the temporal group
    token: int  # vision token index (merged token, token order; = embeddings row)
    run: int  # which pad run of the prompt (Qwen3: one per temporal group)
    run_offset: int  # index inside that run
    input_index: int  # absolute position in input_ids
    position_ids: tuple[int, int, int]  # MRoPE (t, h, w) of the token
    time_id: int  # t_index of the group (T = s + time_id)
    seconds: float | None  # the time the model is told for this group (timestamp / k * second_per_grid_t)
    int_cast_time_id: int | None  # Qwen2.5 videos: the time id under transformers 4.5x .. 5.12
    window: Window | None  # Qwen2.5-VL only
    media_hash: str
    explanation: str

    # ---- keeping the selection across parameter changes -------------------------------------
    @property
    def relative(self) -> tuple[float, float]:
        """The click as a fraction of the resized frame (x / W, y / H): what survives a resize."""
        h, w = self.frame_size
        return (self.x / w, self.y / h)

    @property
    def anchor_frame(self) -> int:
        """The raw frame this selection is about: the group's first frame that is not padding."""
        return next((f.raw_index for f in self.frames if not f.padding), self.frames[0].raw_index)

    def still_valid(self, trace) -> bool:
        """Whether the selected place still exists in ``trace``: same media, and (videos) the selected
        frame inside the range the new settings sample from."""
        if trace.media.content_hash != self.media_hash:
            return False
        if trace.sampling is None:
            return True
        return trace.sampling.start_frame <= self.anchor_frame <= trace.sampling.end_frame

    def remap(self, trace) -> Selection | None:
        """The same place in ``trace`` (new settings, same media): same relative point; the group that
        holds the same raw frame, else the group nearest to it in time. ``None`` when it no longer exists."""
        if not self.still_valid(trace):
            return None
        rx, ry = self.relative
        return select_relative(trace, rx, ry, self.anchor_frame)


def select_relative(trace, rx: float, ry: float, anchor_frame: int = 0, media_hash: str | None = None
                    ) -> Selection | None:
    """The patch at ``(rx, ry)`` (fractions of the frame's width and height: what a resize keeps) in the
    temporal group holding raw frame ``anchor_frame`` (else the nearest one). ``None`` when that place
    no longer exists in ``trace``: other media (``media_hash``), or a frame outside the sampled range."""
    if media_hash is not None and trace.media.content_hash != media_hash:
        return None
    if not (0 <= rx < 1 and 0 <= ry < 1):
        return None
    if trace.sampling is not None and not trace.sampling.start_frame <= anchor_frame <= trace.sampling.end_frame:
        return None
    h, w = trace.resize.height, trace.resize.width
    return select(trace, rx * w, ry * h, group=_group_of_frame(trace, anchor_frame))


def _group_of_frame(trace, raw: int) -> int:
    """The temporal group holding raw frame ``raw``, else the one whose frames are nearest to it."""
    if trace.sampling is None:
        return 0
    idx = trace.sampling.indices
    best, best_d = 0, math.inf
    for g, members in enumerate(trace.patchify.groups):
        d = min(abs(idx[p] - raw) for p in members)
        if d < best_d:
            best, best_d = g, d
    return best


@functools.lru_cache(maxsize=8)
def _rows_of_raster(gh: int, gw: int, m: int) -> torch.Tensor:
    """Inverse of ``merge_order``: ``rows[ph * gw + pw]`` = the row holding that patch (one frame)."""
    order = merge_order(gh, gw, m)
    rows = torch.empty_like(order)
    rows[order] = torch.arange(order.numel())
    return rows


@functools.lru_cache(maxsize=8)
def _frame_windows(partition, gh: int, gw: int, m: int, side: int) -> tuple[torch.Tensor, torch.Tensor]:
    # One temporal group is enough: windows never cross frames, and the ids only shift per group.
    return partition(torch.tensor([[1, gh, gw]]), m, side)


def _window(trace, token_in_group: int, group: int, window_size: int | None) -> Window | None:
    pf = trace.profile
    if pf.window_size is None:  # full attention per frame: no windows to show
        return None
    from .encoder import DEFAULT_PRESET, PRESETS, window_partition  # the tower's own partition

    preset = PRESETS[DEFAULT_PRESET[trace.model]]
    config = preset.with_sizes(pf.patch_size, pf.merge_size, pf.temporal_patch_size)
    if window_size is not None:
        config = dataclasses.replace(config, window_size=window_size)
    side = config.window_merged
    if not side:
        return None
    _, gh, gw = trace.patchify.grid_thw
    m = pf.merge_size
    m2 = m * m
    index, cu = _frame_windows(window_partition, gh, gw, m, side)
    slot = int(torch.nonzero(index == token_in_group)[0, 0])
    win = int(torch.searchsorted(cu, torch.tensor(slot * m2, dtype=cu.dtype), right=True)) - 1
    r0, r1 = int(cu[win]), int(cu[win + 1])
    per_frame = len(cu) - 1
    tokens_per_group = gh * gw // m2
    members = index[r0 // m2 : r1 // m2]
    wm = gw // m
    rr, cc = members // wm, members % wm
    box_t = (int(rr.min()), int(cc.min()), int(rr.max()) + 1, int(cc.max()) + 1)
    unit = m * pf.patch_size  # pixels per merged token side
    shift_slots = group * tokens_per_group
    return Window(
        index=group * per_frame + win,
        index_in_frame=win,
        side=side,
        slots=(shift_slots + r0 // m2, shift_slots + r1 // m2),
        rows=(shift_slots * m2 + r0, shift_slots * m2 + r1),
        tokens=tuple(int(k) + shift_slots for k in members.tolist()),
        token_box=box_t,
        box=(box_t[1] * unit, box_t[0] * unit, box_t[3] * unit, box_t[2] * unit),
        full_attention_blocks=tuple(config.fullatt_block_indexes),
    )


def select(trace, x: float, y: float, group: int = 0, *, window_size: int | None = None) -> Selection:
    """The patch under pixel ``(x, y)`` of the resized frame in temporal group ``group``, followed
    through every stage. ``window_size`` (px) overrides Qwen2.5-VL's 112 (taken from the encoder preset)."""
    h_px, w_px = trace.resize.height, trace.resize.width
    for name, v, hi in (("x", x, w_px), ("y", y, h_px)):
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not (0 <= v < hi):
            raise VizError(
                f"selection {name}={v!r} is outside the resized frame ({w_px}x{h_px} px, WxH); "
                f"allowed: 0 <= {name} < {hi}",
                field="selection",
            )
    pt = trace.patchify
    t, gh, gw = pt.grid_thw
    if isinstance(group, bool) or not isinstance(group, numbers.Integral) or not (0 <= group < t):
        raise VizError(
            f"temporal group {group!r} does not exist; this input has {t} group(s): allowed 0..{t - 1}",
            field="selection",
        )
    p, m = pt.patch_size, pt.merge_size
    m2 = m * m
    group = int(group)
    ph, pw = int(y // p), int(x // p)
    rows_of = _rows_of_raster(gh, gw, m)
    local_row = int(rows_of[ph * gw + pw])
    per_group = gh * gw
    row = group * per_group + local_row
    token = row // m2
    block_rows = tuple(range(token * m2, token * m2 + m2))
    first = local_row // m2 * m2
    block_patches = tuple(divmod(int(r), gw) for r in merge_order(gh, gw, m)[first : first + m2].tolist())
    bh, bw = ph // m, pw // m

    # prompt and MRoPE: the pad run holding this group, then the token's column of position ids
    run_i, run = next((i, r) for i, r in enumerate(trace.prompt.runs) if r.item == 0 and group in r.groups)
    tokens_per_group = per_group // m2
    run_offset = run.groups.index(group) * tokens_per_group + (token - group * tokens_per_group)
    input_index = run.start + run_offset
    pos = trace.rope.position_ids[:, input_index]
    rope_run = trace.rope.runs[run_i]
    tg = rope_run.groups[run.groups.index(group)]

    # source frames of the temporal group
    frames = []
    n = pt.nframes
    for slot, position in enumerate(pt.groups[group]):
        if trace.sampling is None:
            frames.append(SourceFrame(slot, 0, 0, None, padding=slot > 0))
        else:
            raw = trace.sampling.indices[position]
            frames.append(SourceFrame(slot, position, raw, raw / trace.sampling.video_fps,
                                      padding=group * pt.temporal_patch_size + slot >= n))

    sy, sx = trace.input_height / h_px, trace.input_width / w_px
    patch_box = (pw * p, ph * p, (pw + 1) * p, (ph + 1) * p)
    block_box = (bw * m * p, bh * m * p, (bw + 1) * m * p, (bh + 1) * m * p)
    window = _window(trace, token - group * tokens_per_group, group, window_size)

    frame_text = ", ".join(
        f"{'pad copy of ' if f.padding else ''}frame {f.raw_index}" + (f" ({f.seconds:.2f} s)" if f.seconds is not None else "")
        for f in frames
    ) if trace.sampling is not None else f"the image, duplicated x{pt.temporal_patch_size}"
    lines = [
        f"pixel ({x:g}, {y:g}) -> patch (row {ph}, col {pw}) = ({int(y)} // {p}, {int(x)} // {p}); "
        f"merge block ({bh}, {bw}) holds patches {list(block_patches)}",
        f"pixel_values row {row} = group {group} x {per_group} + {local_row} (merge order); "
        f"the block is rows {block_rows[0]}..{block_rows[-1]} -> vision token {token} = row // {m2}",
        f"temporal group {group}: {frame_text}",
        f"input_ids[{input_index}] (pad run {run_i}, offset {run_offset}); MRoPE (t, h, w) = "
        f"({int(pos[0])}, {int(pos[1])}, {int(pos[2])}) = s {rope_run.start_position} + "
        f"({tg.time_id}, {bh}, {bw})",
    ]
    if window is not None:
        lines.append(
            f"attention window {window.index_in_frame} of this frame (id {window.index}): "
            f"{window.side}x{window.side} merged tokens, rows {window.token_box[0]}..{window.token_box[2] - 1}, "
            f"cols {window.token_box[1]}..{window.token_box[3] - 1} ({len(window.tokens)} tokens); "
            f"blocks {list(window.full_attention_blocks)} attend over the whole frame"
        )
    return Selection(
        x=float(x),
        y=float(y),
        frame_size=(h_px, w_px),
        group=group,
        patch=(ph, pw),
        block=(bh, bw),
        block_patches=block_patches,
        row=row,
        block_rows=block_rows,
        patch_box=patch_box,
        block_box=block_box,
        source_box=(patch_box[0] * sx, patch_box[1] * sy, patch_box[2] * sx, patch_box[3] * sy),
        frames=tuple(frames),
        token=token,
        run=run_i,
        run_offset=run_offset,
        input_index=input_index,
        position_ids=(int(pos[0]), int(pos[1]), int(pos[2])),
        time_id=tg.time_id,
        seconds=tg.seconds,
        int_cast_time_id=tg.int_cast_time_id,
        window=window,
        media_hash=trace.media.content_hash,
        explanation="\n".join(lines),
    )


def select_token(trace, token_index: int, *, absolute: bool = False) -> Selection:
    """The inverse: select vision token ``token_index`` (token order, as the embeddings' rows), or with
    ``absolute=True`` the token at that position of ``input_ids`` (it must be an image / video pad).
    The selected patch is the block's first (top-left) patch."""
    pt = trace.patchify
    t, gh, gw = pt.grid_thw
    m2 = pt.merge_size**2
    n = pt.num_tokens
    if absolute:
        runs = trace.prompt.runs
        hit = next((i for i, r in enumerate(runs) if r.start <= token_index < r.end), None)
        if hit is None:
            L = trace.prompt.num_tokens
            raise VizError(
                f"input_ids[{token_index}] is not a vision token (prompt of {L} tokens; vision pads at "
                + ", ".join(f"{r.start}..{r.end - 1}" for r in runs) + ")",
                field="selection",
            )
        run = runs[hit]
        per = gh * gw // m2
        k = token_index - run.start
        token_index = run.groups[k // per] * per + k % per
    if isinstance(token_index, bool) or not isinstance(token_index, numbers.Integral) or not (0 <= token_index < n):
        raise VizError(
            f"vision token {token_index!r} does not exist; this input has {n} vision tokens: allowed 0..{n - 1}",
            field="selection",
        )
    per_group = gh * gw
    group, local = divmod(token_index * m2, per_group)
    raster = int(merge_order(gh, gw, pt.merge_size)[local])
    ph, pw = divmod(raster, gw)
    p = pt.patch_size
    return select(trace, pw * p + p / 2, ph * p + p / 2, group=group)
