"""Linked selection: a click on the resized frame followed through rows, frames, prompt, MRoPE and windows.

The row a selection names is checked against the pixels themselves (the clicked patch of the resized
frames, normalised, laid out ``(C, Tp, p, p)``); windows against the reference's worked example
(grid [1, 16, 28], shared/reference/qwen-vl-pipeline.md §4.4); positions against ``trace.rope``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from media_factory import media_files  # noqa: F401  (fixture)
from qwenvl_viz import explain
from qwenvl_viz.errors import VizError
from qwenvl_viz.patchify import normalize
from qwenvl_viz.profiles import IMAGE_PAD_ID, VIDEO_PAD_ID
from qwenvl_viz.selection import select, select_token

MODELS = ("qwen2-vl", "qwen2.5-vl", "qwen3-vl")


@pytest.fixture(scope="module")
def clip(media_files):
    """20 frames @ 10 fps, 392x280: qwen-vl-utils takes 4 frames (2 temporal groups)."""
    return media_files.video("mp4", width=392, height=280, fps=10, frames=20, gop=5)


@pytest.fixture(scope="module")
def odd_clip(media_files):
    """25 frames @ 10 fps: the Qwen3 processor samples int(2.5 * 2) = 5 frames -> the last group is padded."""
    return media_files.video("mp4", width=200, height=136, fps=10, frames=25, gop=5)


@pytest.fixture(scope="module")
def traces(clip):
    return {m: explain(clip, model=m) for m in MODELS}


def patch_pixels(trace, sel) -> torch.Tensor:
    """The clicked patch cut straight from the resized frames of its group: ``(C * Tp * p * p,)``."""
    p = trace.patchify.patch_size
    ph, pw = sel.patch
    frames = []
    for f in sel.frames:
        img = trace.resized_frame(f.position)  # (H, W, 3) uint8
        x = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)  # (3, H, W)
        frames.append(x[:, ph * p : (ph + 1) * p, pw * p : (pw + 1) * p])
    x = normalize(torch.stack(frames), trace.patchify.image_mean, trace.patchify.image_std)  # (Tp, 3, p, p)
    return x.permute(1, 0, 2, 3).reshape(-1)  # (C, Tp, p, p)


@pytest.mark.parametrize("model", MODELS)
def test_selected_row_holds_the_clicked_patch_pixels(traces, model):
    trace = traces[model]
    h, w = trace.resize.height, trace.resize.width
    pv = trace.pixel_values
    for x, y, group in [(0, 0, 0), (w - 1, h - 1, 1), (w * 0.37, h * 0.61, 1), (w - 1, 3, 0)]:
        sel = select(trace, x, y, group=group)
        assert torch.equal(pv[sel.row], patch_pixels(trace, sel)), (model, x, y, group)


def test_padding_copy_is_flagged_and_holds_the_last_frame_twice(odd_clip):
    trace = explain(odd_clip, model="qwen3-vl", pipeline="processor")
    assert trace.sampling.nframes == 5 and trace.patchify.grid_thw[0] == 3
    sel = select(trace, 10, 10, group=2)
    assert [f.padding for f in sel.frames] == [False, True]
    assert sel.frames[0].raw_index == sel.frames[1].raw_index == trace.sampling.indices[-1]
    assert torch.equal(trace.pixel_values[sel.row], patch_pixels(trace, sel))
    assert [f.padding for f in select(trace, 10, 10, group=1).frames] == [False, False]


def test_image_group_is_the_image_and_its_duplicate(media_files):
    trace = explain(media_files.image("png", width=392, height=224), model="qwen2.5-vl")
    sel = select(trace, 100, 50)
    assert [(f.raw_index, f.seconds, f.padding) for f in sel.frames] == [(0, None, False), (0, None, True)]
    assert torch.equal(trace.pixel_values[sel.row], patch_pixels(trace, sel))
    assert sel.time_id == 0 and sel.seconds is None


@pytest.mark.parametrize("model", MODELS)
def test_block_rows_patches_and_boxes_agree(traces, model):
    trace = traces[model]
    p, m = trace.profile.patch_size, trace.profile.merge_size
    sel = select(trace, 123.5, 77.25, group=1)
    assert sel.patch == (77 // p, 123 // p)
    assert sel.block == (sel.patch[0] // m, sel.patch[1] // m)
    assert sel.block_rows == tuple(range(sel.token * m * m, (sel.token + 1) * m * m))
    assert sel.row in sel.block_rows and sel.patch in sel.block_patches
    assert {(ph // m, pw // m) for ph, pw in sel.block_patches} == {sel.block}
    assert sorted(sel.block_patches) == list(sel.block_patches)  # merge order = raster inside a 2x2 block
    x0, y0, x1, y1 = sel.patch_box
    assert x0 <= 123.5 < x1 and y0 <= 77.25 < y1 and x1 - x0 == p
    bx0, by0, bx1, by1 = sel.block_box
    assert bx0 <= x0 and by0 <= y0 and x1 <= bx1 and y1 <= by1 and bx1 - bx0 == m * p
    # the same patch on the frame before resizing
    sx = trace.input_width / trace.resize.width
    assert sel.source_box[0] == pytest.approx(x0 * sx)


@pytest.mark.parametrize("model", MODELS)
def test_token_is_a_pad_whose_position_ids_are_its_block(traces, model):
    trace = traces[model]
    sel = select(trace, 200, 150, group=1)
    ids = trace.input_ids
    assert ids[sel.input_index] == VIDEO_PAD_ID
    run = trace.prompt.runs[sel.run]
    assert run.start + sel.run_offset == sel.input_index
    pos = trace.rope.position_ids
    assert sel.position_ids == tuple(int(v) for v in pos[:, sel.input_index])
    s = trace.rope.runs[sel.run].start_position
    assert sel.position_ids == (s + sel.time_id, s + sel.block[0], s + sel.block[1])
    # token order: the number of vision pads before it (Qwen3's pads are split by timestamp blocks)
    assert np.isin(ids[: sel.input_index], [IMAGE_PAD_ID, VIDEO_PAD_ID]).sum() == sel.token
    assert sel.seconds == trace.rope.runs[sel.run].groups[run.groups.index(sel.group)].seconds


@pytest.mark.parametrize("model", MODELS)
@settings(max_examples=40, deadline=None)
@given(fx=st.floats(0, 0.999), fy=st.floats(0, 0.999), group=st.integers(0, 1))
def test_select_token_inverts_select(traces, model, fx, fy, group):
    trace = traces[model]
    sel = select(trace, fx * trace.resize.width, fy * trace.resize.height, group=group)
    back = select_token(trace, sel.token)
    assert (back.token, back.block, back.group, back.input_index) == (sel.token, sel.block, sel.group, sel.input_index)
    assert back.patch == sel.block_patches[0]
    assert select_token(trace, sel.input_index, absolute=True).token == sel.token


def test_every_token_round_trips_through_its_input_position(traces):
    trace = traces["qwen3-vl"]
    for k in range(0, trace.num_vision_tokens, 7):
        sel = select_token(trace, k)
        assert sel.token == k
        assert select_token(trace, sel.input_index, absolute=True).token == k


def test_qwen25_window_matches_the_reference_example(media_files):
    # grid [1, 16, 28]: merged 8 x 14 -> 2 x 4 windows of 4 x 4 tokens; cu_window_seqlens
    # [0, 64, 128, 192, 224, 288, 352, 416, 448]; window 0 = tokens [0..3, 14..17, 28..31, 42..45]
    trace = explain(media_files.image("png", width=392, height=224), model="qwen2.5-vl")
    assert trace.patchify.grid_thw == (1, 16, 28)
    first = select(trace, 0, 0).window
    assert first.index == 0 and first.side == 4 and first.rows == (0, 64)
    assert first.tokens == (0, 1, 2, 3, 14, 15, 16, 17, 28, 29, 30, 31, 42, 43, 44, 45)
    assert first.box == (0, 0, 112, 112) and first.full_attention_blocks == (7, 15, 23, 31)
    edge = select(trace, 391, 10).window  # the last window of the first row is 4 x 2 tokens
    assert edge.index == 3 and edge.rows == (192, 224) and edge.token_box == (0, 12, 4, 14)
    second_row = select(trace, 0, 223).window
    assert second_row.index == 4 and second_row.rows == (224, 288)
    for sel in (select(trace, 391, 10), select(trace, 200, 200)):
        assert sel.token in sel.window.tokens
        bx0, by0, bx1, by1 = sel.block_box
        wx0, wy0, wx1, wy1 = sel.window.box
        assert wx0 <= bx0 and wy0 <= by0 and bx1 <= wx1 and by1 <= wy1


def test_window_ids_continue_over_temporal_groups(traces):
    trace = traces["qwen2.5-vl"]
    a, b = select(trace, 50, 50, group=0).window, select(trace, 50, 50, group=1).window
    _, gh, gw = trace.patchify.grid_thw  # [2, 20, 28]: merged 10 x 14 -> 3 x 4 windows per frame
    assert b.index_in_frame == a.index_in_frame and b.index - a.index == -(-gh // 2 // 4) * -(-gw // 2 // 4) == 12
    assert b.tokens == tuple(k + trace.resize.tokens_per_group for k in a.tokens)
    assert select(traces["qwen2-vl"], 50, 50).window is None and select(traces["qwen3-vl"], 50, 50).window is None


def test_window_size_can_be_overridden(traces):
    sel = select(traces["qwen2.5-vl"], 50, 50, window_size=56)  # 56 px / 2 / 14 = 2 tokens a side
    assert sel.window.side == 2 and len(sel.window.tokens) == 4


@pytest.mark.parametrize(
    "call",
    [
        lambda t: select(t, -1, 0),
        lambda t: select(t, 0, t.resize.height),
        lambda t: select(t, "3", 0),
        lambda t: select(t, 0, 0, group=2),
        lambda t: select_token(t, t.num_vision_tokens),
        lambda t: select_token(t, 0, absolute=True),
    ],
)
def test_selection_outside_the_input_is_a_clear_error(traces, call):
    with pytest.raises(VizError) as e:
        call(traces["qwen2.5-vl"])
    assert e.value.field == "selection"


def test_selection_survives_an_fps_change_at_the_same_place(clip, traces):
    trace = traces["qwen2.5-vl"]
    sel = select(trace, 300, 200, group=1)  # frames 13, 19 of 0, 6, 13, 19
    denser = explain(clip, model="qwen2.5-vl", fps=4.0, min_pixels=20_000, max_pixels=60_000)  # 8 smaller frames
    assert sel.still_valid(denser)
    new = sel.remap(denser)
    rx, ry = sel.relative
    x0, y0, x1, y1 = new.patch_box
    assert x0 <= rx * denser.resize.width < x1 and y0 <= ry * denser.resize.height < y1
    # frame 13 is no longer sampled: the group nearest to it in time is taken
    nearest = min(abs(i - sel.anchor_frame) for i in denser.sampling.indices)
    assert min(abs(f.raw_index - sel.anchor_frame) for f in new.frames) == nearest
    first = select(trace, 300, 200, group=0).remap(denser)
    assert first.group == 0 and first.frames[0].raw_index == 0  # frame 0 is still sampled: same moment
    fewer = explain(clip, model="qwen2.5-vl", nframes=2)  # one group left: the nearest one is taken
    assert sel.remap(fewer).group == 0


def test_selection_is_gone_for_other_media_or_a_trimmed_range(clip, odd_clip, traces):
    sel = select(traces["qwen2.5-vl"], 300, 200, group=1)
    assert sel.anchor_frame > 10
    assert not sel.still_valid(explain(odd_clip, model="qwen2.5-vl"))
    trimmed = explain(clip, model="qwen2.5-vl", video_start=0.0, video_end=0.8)  # frames 0..8
    assert not sel.still_valid(trimmed) and sel.remap(trimmed) is None


def test_sample_clip_selection_explains_every_stage():
    trace = explain("assets/sample_clip.mp4", model="qwen2.5-vl")  # grid [8, 72, 40], 1008 x 560
    sel = select(trace, 300, 500, group=3)
    assert sel.patch == (35, 21) and sel.block == (17, 10)
    assert [f.raw_index for f in sel.frames] == [99, 116]
    assert sel.time_id == 6  # long(3 * 1.0375 * 2)
    assert sel.position_ids == (15 + 6, 15 + 17, 15 + 10)
    for needle in ("patch (row 35, col 21)", "frame 99", "input_ids[", "attention window"):
        assert needle in sel.explanation
