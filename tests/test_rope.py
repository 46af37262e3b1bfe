"""Rope stage: MRoPE position ids against transformers 5.23 ``get_rope_index`` (bound to a config only).

``get_rope_index`` and its helper ``get_vision_position_ids`` are bound to an object that holds only the
family's config (no weights). Our ``text_resume="transformers"`` must equal it exactly; the release rule
(max + 1, transformers 4.x / 5.0) is pinned where it differs, with the expected text positions derived by
applying that rule to the oracle's own vision ids.
"""

from __future__ import annotations

import functools
import types

import numpy as np
import pytest

# shared oracle helpers (pytest puts tests/ on sys.path: rootdir-relative "prepend" import mode)
from test_prompt import CASES, FAMILIES, Video, run_processor, vision_inputs, without_qwen3_outer_wrapper
from qwenvl_viz.errors import VizError
from qwenvl_viz.profiles import get_profile
from qwenvl_viz.prompt import VisionInput, build_prompt
from qwenvl_viz.rope import compute_rope, mrope_layout, qwen25_time_ids


@functools.lru_cache(maxsize=None)
def rope_oracle(family: str):
    """``get_rope_index(input_ids, mm_token_type_ids, ...)`` of the family's 5.23 model, weights-free."""
    from transformers import Qwen2_5_VLConfig, Qwen2VLConfig, Qwen3VLConfig
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VLModel
    from transformers.models.qwen2_vl.modeling_qwen2_vl import Qwen2VLModel
    from transformers.models.qwen3_vl.modeling_qwen3_vl import Qwen3VLModel

    prof = get_profile(family)
    model, config = {
        "qwen2-vl": (Qwen2VLModel, lambda: Qwen2VLConfig()),
        # tokens_per_second: 2 in every Hub config (the class default is 4)
        "qwen2.5-vl": (Qwen2_5_VLModel, lambda: Qwen2_5_VLConfig(vision_config={"tokens_per_second": 2})),
        "qwen3-vl": (Qwen3VLModel, lambda: Qwen3VLConfig()),
    }[family]
    holder = types.SimpleNamespace(config=config())
    assert holder.config.vision_config.spatial_merge_size == prof.merge_size
    holder.get_vision_position_ids = types.MethodType(model.get_vision_position_ids, holder)
    return types.MethodType(model.get_rope_index, holder)


def oracle_positions(family, input_ids, mm_types, image_grids=None, video_grids=None, spg=None):
    import torch

    kwargs = {}
    if image_grids:
        kwargs["image_grid_thw"] = torch.tensor(image_grids, dtype=torch.int64)
    if video_grids:
        kwargs["video_grid_thw"] = torch.tensor(video_grids, dtype=torch.int64)
    if spg is not None:
        kwargs["second_per_grid_ts"] = torch.tensor(spg, dtype=torch.float32)  # as the processor returns it
    pos, delta = rope_oracle(family)(torch.tensor(np.array(input_ids))[None],
                                     torch.tensor(np.array(mm_types))[None], **kwargs)
    return pos[:, 0].numpy(), int(delta[0, 0])


def oracle_for_processor_output(family, out):
    spg = out["second_per_grid_ts"].tolist() if "second_per_grid_ts" in out else None
    return oracle_positions(
        family, out["input_ids"][0], out["mm_token_type_ids"][0],
        out["image_grid_thw"].tolist() if "image_grid_thw" in out else None,
        out["video_grid_thw"].tolist() if "video_grid_thw" in out else None, spg)


def release_rule(oracle_pos: np.ndarray, mm_types: np.ndarray) -> np.ndarray:
    """The 4.x / 5.0 rule applied to the oracle's vision ids: text resumes at max(so far) + 1."""
    pos = oracle_pos.copy()
    nxt = 0
    i = 0
    while i < len(mm_types):
        if mm_types[i] == 0:
            pos[:, i] = nxt
            nxt += 1
            i += 1
            continue
        j = i
        while j < len(mm_types) and mm_types[j] == mm_types[i]:
            j += 1
        shift = nxt - oracle_pos[1, i]  # re-base the oracle's run on where the release rule starts it
        pos[:, i:j] = oracle_pos[:, i:j] + shift
        nxt = int(pos[:, i:j].max()) + 1
        i = j
    return pos


# ---- parity with get_rope_index -----------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("family", FAMILIES)
def test_position_ids_equal_get_rope_index(family, case):
    media = CASES[case]
    items = vision_inputs(family, media)
    prof = get_profile(family)
    prompt = build_prompt(prof, items, "Describe this.", qwen3_outer_wrapper=family == "qwen3-vl")
    out = run_processor(family, media, prompt.template_text)
    assert prompt.input_ids.tolist() == out["input_ids"][0].tolist()
    theirs, delta = oracle_for_processor_output(family, out)

    ours = compute_rope(prof, prompt, items, text_resume="transformers")
    assert np.array_equal(ours.position_ids, theirs)
    assert ours.rope_deltas == delta
    release = compute_rope(prof, prompt, items)
    assert np.array_equal(release.alt_position_ids, theirs)
    assert np.array_equal(release.position_ids, release_rule(theirs, out["mm_token_type_ids"][0].numpy()))
    assert release.rope_deltas == int(release.position_ids.max()) + 1 - prompt.num_tokens


@pytest.mark.parametrize("case", ["odd_video", "image_two_videos", "worked_clip"])
def test_qwen3_release_prompt_positions_equal_get_rope_index(case):
    """5.23's get_rope_index groups by token type, so it also runs on the release (no outer wrapper) ids."""
    media = CASES[case]
    items = vision_inputs("qwen3-vl", media)
    prof = get_profile("qwen3-vl")
    prompt = build_prompt(prof, items, "Describe this.")
    out = run_processor("qwen3-vl", media, prompt.template_text)
    assert np.array_equal(prompt.input_ids, without_qwen3_outer_wrapper(out["input_ids"][0].numpy()))
    theirs, delta = oracle_positions(
        "qwen3-vl", prompt.input_ids, prompt.mm_token_type_ids,
        [list(it.grid_thw) for it in items if it.kind == "image"] or None,
        [list(it.grid_thw) for it in items if it.kind == "video"] or None)
    for rule in ("release", "transformers"):  # t_index is 0 everywhere: both rules agree
        ours = compute_rope(prof, prompt, items, text_resume=rule)
        assert np.array_equal(ours.position_ids, theirs) and ours.rope_deltas == delta
        assert ours.differ_at.size == 0
    seconds = [g.seconds for r in ours.runs if r.kind == "video" for g in r.groups]
    assert seconds == [t for rec in prompt.items if rec.kind == "video" for t in rec.timestamps]


# ---- the release divergence ---------------------------------------------------------------------

@pytest.mark.parametrize("family, video", [
    # Qwen2-VL: 12 frames -> t = 6 time ids 0..5 on a 2x2 merged grid
    ("qwen2-vl", Video(tuple(range(0, 120, 10)), total=120, fps=30.0, gh=4, gw=4)),
    # Qwen2.5-VL: 8 frames of 240 @ 30 fps -> sampled_fps 1, spg 2.0, time ids 0, 4, 8, 12 on a 2x2 grid
    ("qwen2.5-vl", Video(tuple(range(0, 240, 30)), total=240, fps=30.0, gh=4, gw=4)),
])
def test_release_text_resume_differs_after_a_long_video(family, video):
    prof = get_profile(family)
    items = vision_inputs(family, [video])
    prompt = build_prompt(prof, items, "What happens?")
    out = run_processor(family, [video], prompt.template_text)
    theirs, delta = oracle_for_processor_output(family, out)
    mm = out["mm_token_type_ids"][0].numpy()
    expected = release_rule(theirs, mm)
    end = int(np.flatnonzero(mm)[-1]) + 1
    s = int(theirs[1, end - 1]) - (video.gh // 2 - 1)

    rope = compute_rope(prof, prompt, items)  # release is the default
    assert rope.text_resume == "release" and rope.alt_text_resume == "transformers"
    assert np.array_equal(rope.position_ids, expected)
    assert np.array_equal(rope.alt_position_ids, theirs) and rope.alt_rope_deltas == delta
    assert rope.differ_at.tolist() == list(range(end, prompt.num_tokens))
    # transformers 5.12+ resumes inside the video's time ids: s + max(h, w) / 2 <= the last T id
    assert int(theirs[0, end]) == s + 2 <= int(theirs[0, end - 1])
    assert int(expected[0, end]) == int(theirs[0, end - 1]) + 1
    assert rope.runs[0].resume_release == int(expected[0, end])
    assert rope.runs[0].resume_transformers == int(theirs[0, end])
    assert rope.rope_deltas > delta
    assert "differ at" in rope.explanation


# ---- worked numbers -----------------------------------------------------------------------------

@pytest.mark.parametrize("family", FAMILIES)
def test_worked_example_image_1x4x6_gives_12_positions_and_delta_minus_3(family):
    """pipeline.md §3.3: [t0, t1, <|vision_start|>, img x 6, <|vision_end|>, t2, t3], grid [1, 4, 6]."""
    prof = get_profile(family)
    items = [VisionInput("image", (1, 4, 6))]
    prompt = build_prompt(prof, items, "Hello world", text_before="Hello world", chat_template=False)
    assert prompt.num_tokens == 12
    theirs, delta = oracle_positions(family, prompt.input_ids, prompt.mm_token_type_ids, [[1, 4, 6]])
    assert theirs.tolist() == [
        [0, 1, 2, 3, 3, 3, 3, 3, 3, 6, 7, 8],
        [0, 1, 2, 3, 3, 3, 4, 4, 4, 6, 7, 8],
        [0, 1, 2, 3, 4, 5, 3, 4, 5, 6, 7, 8],
    ]
    assert delta == -3
    for rule in ("release", "transformers"):
        ours = compute_rope(prof, prompt, items, text_resume=rule)
        assert np.array_equal(ours.position_ids, theirs) and ours.rope_deltas == -3


def test_qwen25_worked_clip_time_ids_step_by_two():
    """Grid [8, 72, 40], second_per_grid_t = 2 / (16/249*30) = 1.0375, tokens_per_second 2."""
    prof = get_profile("qwen2.5-vl")
    indices = tuple(int(i) for i in np.round(np.linspace(0, 248, 16)))
    items = [VisionInput("video", (8, 72, 40), indices, 30.0, 16 / 249 * 30)]
    prompt = build_prompt(prof, items, "Describe this video.")
    theirs, delta = oracle_positions("qwen2.5-vl", prompt.input_ids, prompt.mm_token_type_ids,
                                     video_grids=[[8, 72, 40]], spg=[prompt.second_per_grid_ts])
    run = prompt.runs[0]
    s = int(theirs[1, run.start])
    oracle_time_ids = sorted(set((theirs[0, run.start:run.end] - s).tolist()))
    assert oracle_time_ids == list(range(0, 16, 2))

    ours = compute_rope(prof, prompt, items)
    assert np.array_equal(ours.position_ids, theirs) and ours.rope_deltas == delta  # both rules agree here
    assert [g.time_id for g in ours.runs[0].groups] == oracle_time_ids
    assert [g.int_cast_time_id for g in ours.runs[0].groups] == oracle_time_ids  # int(1.0375) * 2 = 2, same
    assert not ours.int_cast_differs and ours.collisions == ()
    assert ours.runs[0].resume_release == ours.runs[0].resume_transformers == s + 36


def test_qwen25_groups_collide_at_fps_5():
    """qwen-vl-utils fps=5 on 249 frames @ 30 fps samples 40 frames: spg 0.415, interval 0.83 < 1."""
    prof = get_profile("qwen2.5-vl")
    n = 40
    indices = tuple(int(i) for i in np.round(np.linspace(0, 248, n)))
    items = [VisionInput("video", (n // 2, 4, 4), indices, 30.0, n / 249 * 30)]
    prompt = build_prompt(prof, items, "x")
    theirs, _ = oracle_positions("qwen2.5-vl", prompt.input_ids, prompt.mm_token_type_ids,
                                 video_grids=[[n // 2, 4, 4]], spg=[prompt.second_per_grid_ts])
    run = prompt.runs[0]
    t_ids = (theirs[0, run.start:run.end:4] - theirs[1, run.start]).tolist()  # one per group (2x2 tokens each)
    shared = {tid: tuple(k for k, x in enumerate(t_ids) if x == tid) for tid in set(t_ids) if t_ids.count(tid) > 1}

    rope = compute_rope(prof, prompt, items)
    assert [g.time_id for g in rope.runs[0].groups] == t_ids
    assert {c.time_id: c.groups for c in rope.collisions} == shared and shared
    assert rope.int_cast_differs  # 4.5x .. 5.12: int(0.415) = 0 -> every group at time id 0
    assert {g.int_cast_time_id for g in rope.runs[0].groups} == {0}
    assert "collision" in rope.explanation


def test_qwen25_float32_time_ids_equal_get_vision_position_ids():
    """The float32 product and the truncation, over many sampling rates.

    The last three cases are ones where a float64 product truncates differently (e.g. 24 of 240 frames
    @ 24 fps: interval 5/3, k = 9 -> 14.999999999999998 in float64 (14) but 15.0 in float32 (15)).
    """
    import torch

    oracle = rope_oracle("qwen2.5-vl")
    holder = oracle.__self__
    for nframes, total, fps in [(16, 249, 30.0), (40, 249, 30.0), (8, 240, 30.0), (30, 90, 29.97), (12, 37, 25.0),
                                (768, 108000, 30.0), (6, 10, 3.0), (64, 300, 23.976), (2, 7, 60.0), (20, 60, 24.0),
                                (24, 240, 24.0), (50, 165, 24.0), (20, 200, 24.0)]:
        spg = 2 / (nframes / total * fps)
        t = nframes // 2
        interval = 2 * torch.tensor([spg], dtype=torch.float32)[0]
        theirs = holder.get_vision_position_ids(0, torch.tensor([t, 2, 2]), 1, 2, interval)[0]  # 1x1 merged per group
        assert qwen25_time_ids(t, spg, 2).tolist() == theirs.tolist(), (nframes, total, fps)
    float64 = [int(k * 2 * (2 / (24 / 240 * 24.0))) for k in range(12)]
    assert qwen25_time_ids(12, 2 / (24 / 240 * 24.0), 2).tolist() != float64


# ---- frequency layout ---------------------------------------------------------------------------

@pytest.mark.parametrize("family", FAMILIES)
def test_mrope_layout_equals_recomposition_frequencies(family):
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2VLConfig, Qwen3VLConfig
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VLRotaryEmbedding
    from transformers.models.qwen2_vl.modeling_qwen2_vl import Qwen2VLRotaryEmbedding
    from transformers.models.qwen3_vl.modeling_qwen3_vl import Qwen3VLTextRotaryEmbedding

    cls, cfg = {"qwen2-vl": (Qwen2VLRotaryEmbedding, Qwen2VLConfig),
                "qwen2.5-vl": (Qwen2_5_VLRotaryEmbedding, Qwen2_5_VLConfig),
                "qwen3-vl": (Qwen3VLTextRotaryEmbedding, Qwen3VLConfig)}[family]
    rotary = cls(config=cfg().text_config)
    prof = get_profile(family)
    assert tuple(rotary.mrope_section) == prof.mrope_section
    freq = torch.arange(3, dtype=torch.float32).view(3, 1, 1, 1).expand(3, 1, 1, 64).clone()  # axis a -> value a
    axes = rotary.recomposition_frequencies(freq)[0, 0, :64].long().tolist()
    assert mrope_layout(prof) == tuple("THW"[a] for a in axes)
    assert compute_rope(prof, build_prompt(prof, [], "x"), []).mrope_layout == mrope_layout(prof)


def test_text_only_prompt_counts_up_and_bad_rule_is_rejected():
    prof = get_profile("qwen2-vl")
    p = build_prompt(prof, [], "Hello")
    r = compute_rope(prof, p, [])
    assert np.array_equal(r.position_ids, np.tile(np.arange(p.num_tokens), (3, 1))) and r.rope_deltas == 0
    with pytest.raises(VizError, match="text_resume"):
        compute_rope(prof, p, [], text_resume="4.x")  # type: ignore[arg-type]
