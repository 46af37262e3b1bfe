"""smart_resize parity (qwen-vl-utils 0.0.14, transformers 5.23 image / Qwen3 video) and invariants."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from qwenvl_viz import VizError, get_profile
from qwenvl_viz.profiles import Pipeline
from qwenvl_viz.resize import (
    GROW,
    KEEP,
    SHRINK,
    plan_resize,
    resample,
    resample_chw,
    smart_resize_hf,
    smart_resize_hf_clip,
    smart_resize_qvu,
)

qvu = pytest.importorskip("qwen_vl_utils.vision_process")

sides = st.integers(min_value=1, max_value=6000)
factors = st.sampled_from([28, 32])


def _budget(draw_lo, draw_hi):
    lo, hi = sorted((draw_lo, draw_hi))
    return lo, hi


@settings(max_examples=400, deadline=None)
@given(h=sides, w=sides, f=factors, a=st.integers(1, 20000), b=st.integers(1, 20000))
def test_qvu_smart_resize_equals_reference(h, w, f, a, b):
    lo, hi = _budget(a * f, b * f)
    try:
        ref = qvu.smart_resize(h, w, factor=f, min_pixels=lo, max_pixels=hi)
    except ValueError:
        with pytest.raises(VizError, match="aspect ratio"):
            smart_resize_qvu(h, w, f, lo, hi)
        return
    assert smart_resize_qvu(h, w, f, lo, hi)[:2] == ref


@settings(max_examples=400, deadline=None)
@given(h=sides, w=sides, f=factors, a=st.integers(1, 20000), b=st.integers(1, 20000))
def test_transformers_smart_resize_equals_reference(h, w, f, a, b):
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

    lo, hi = _budget(a * f, b * f)
    try:
        ref = smart_resize(h, w, factor=f, min_pixels=lo, max_pixels=hi)
    except ValueError:
        with pytest.raises(VizError, match="aspect ratio"):
            smart_resize_hf(h, w, f, lo, hi)
        return
    assert smart_resize_hf(h, w, f, lo, hi)[:2] == ref


@settings(max_examples=300, deadline=None)
@given(t=st.integers(2, 800), h=sides, w=sides, a=st.integers(1, 30000), b=st.integers(1, 30000))
def test_qwen3_clip_smart_resize_equals_reference(t, h, w, a, b):
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import smart_resize

    lo, hi = _budget(a * 1024, b * 1024)
    try:
        ref = smart_resize(t, h, w, temporal_factor=2, factor=32, min_pixels=lo, max_pixels=hi)
    except ValueError:
        with pytest.raises(VizError):
            smart_resize_hf_clip(t, h, w, 32, 2, lo, hi)
        return
    assert smart_resize_hf_clip(t, h, w, 32, 2, lo, hi)[:2] == ref


@settings(max_examples=300, deadline=None)
@given(h=st.integers(28, 5000), w=st.integers(28, 5000), f=factors, a=st.integers(4, 20000), b=st.integers(4, 20000))
def test_resize_invariants(h, w, f, a, b):
    """Multiples of factor; inside the budget whenever the budget allows a factor-aligned size."""
    lo, hi = _budget(a * f * f, b * f * f)
    if max(h, w) / min(h, w) > 200:
        return
    rh, rw, branch, _ = smart_resize_hf(h, w, f, lo, hi)
    assert rh % f == 0 and rw % f == 0 and rh >= f and rw >= f
    if branch == SHRINK and rh > f and rw > f:
        assert rh * rw <= hi
    if branch == GROW:
        assert rh * rw >= lo
    if branch == KEEP:
        assert lo <= rh * rw <= hi
        assert abs(rh - h) <= f / 2 and abs(rw - w) <= f / 2


def test_rounding_is_half_to_even():
    assert smart_resize_qvu(70, 280, 28, 1, 10**9)[0] == 56  # 2.5 -> 2
    assert smart_resize_qvu(42, 280, 28, 1, 10**9)[0] == 56  # 1.5 -> 2
    assert smart_resize_qvu(126, 280, 28, 1, 10**9)[0] == 112  # 4.5 -> 4


def test_known_divergence_qvu_shrink_branch_has_no_clamp():
    """qwen-vl-utils 0.0.14 gives a 0 side where transformers clamps to the factor (pinned both ways)."""
    assert qvu.smart_resize(28, 5000, factor=28, min_pixels=784, max_pixels=3136) == (0, 728)
    assert smart_resize_qvu(28, 5000, 28, 784, 3136)[:2] == (0, 728)
    assert smart_resize_hf(28, 5000, 28, 784, 3136)[:2] == (28, 728)
    with pytest.raises(VizError, match="becomes 0"):
        plan_resize(get_profile("qwen2-vl"), Pipeline.OFFICIAL, "image", 28, 5000, min_pixels=784, max_pixels=3136)


def test_worked_numbers_video_and_image():
    p25, p3 = get_profile("qwen2.5-vl"), get_profile("qwen3-vl")
    r = plan_resize(p25, Pipeline.OFFICIAL, "video", 1280, 720, nframes=16)
    assert (r.height, r.width) == (1008, 560) and r.deciding_step.branch == SHRINK
    assert r.steps[0].max_pixels == 602112
    r3 = plan_resize(p3, Pipeline.OFFICIAL, "video", 1280, 720, nframes=16)
    assert (r3.height, r3.width) == (1152, 640) and len(r3.steps) == 1  # do_resize=False after qvu
    assert (plan_resize(p25, Pipeline.OFFICIAL, "image", 224, 392).height,
            plan_resize(p25, Pipeline.OFFICIAL, "image", 224, 392).width) == (224, 392)
    r3i = plan_resize(p3, Pipeline.OFFICIAL, "image", 224, 392)
    assert (r3i.height, r3i.width) == (224, 384)
    # Qwen3 processor: whole-clip budget (22.5 -> 22 -> 704) and the per-frame cap variant.
    assert (lambda r: (r.height, r.width))(plan_resize(p3, Pipeline.PROCESSOR, "video", 1280, 720, nframes=16)) == (1280, 704)
    capped = plan_resize(p3, Pipeline.PROCESSOR, "video", 1280, 720, nframes=16, cap_pixels_per_frame=True)
    assert (capped.height, capped.width) == (1152, 640)
    # 1 h at 30 fps -> 768 frames: per-frame max 235200 -> 644x336 (H x W 336x644 for landscape).
    long = plan_resize(p25, Pipeline.OFFICIAL, "video", 720, 1280, nframes=768)
    assert long.steps[0].max_pixels == 235200 and (long.height, long.width) == (336, 644)


def test_official_video_budget_matches_fetch_video_formula():
    p = get_profile("qwen2.5-vl")
    for nframes, total, user_max in [(16, None, None), (768, None, None), (64, 20_000_000, None), (16, None, 200_000)]:
        f = 28
        frame_min, frame_max = 128 * f * f, 768 * f * f
        t = total if total is not None else qvu.MODEL_SEQ_LEN * f * f * 0.9
        hi = max(min(frame_max, t / nframes * 2), int(frame_min * 1.05))
        if user_max is not None:
            hi = min(user_max, hi)
        r = plan_resize(p, Pipeline.OFFICIAL, "video", 1080, 1920, nframes=nframes, total_pixels=total, max_pixels=user_max)
        assert r.steps[0].max_pixels == hi
        assert (r.height, r.width) == qvu.smart_resize(1080, 1920, factor=f, min_pixels=frame_min, max_pixels=hi)


def test_processor_second_pass_is_identity_with_hub_budgets_but_reported_when_not():
    p = get_profile("qwen2.5-vl")
    r = plan_resize(p, Pipeline.OFFICIAL, "image", 853, 1280)
    assert r.resizes == 1 and len(r.steps) == 2 and not r.steps[1].changed
    tiny = plan_resize(p, Pipeline.OFFICIAL, "image", 100, 100, min_pixels=784, max_pixels=1000)
    assert tiny.steps[0].dst == (28, 28) and tiny.steps[1].dst == (56, 56) and tiny.resizes == 2


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"min_pixels": 10_000, "max_pixels": 5_000}, "min_pixels"),
        ({"max_pixels": 0}, "max_pixels"),
        ({"min_pixels": -5}, "min_pixels"),
        ({"total_pixels": float("inf")}, "total_pixels"),
    ],
)
def test_bad_budgets_name_the_field(kwargs, field):
    with pytest.raises(VizError) as e:
        plan_resize(get_profile("qwen2-vl"), Pipeline.OFFICIAL, "image", 500, 500, **kwargs)
    assert e.value.field == field


def test_aspect_ratio_over_200_is_a_clear_error():
    with pytest.raises(VizError, match=r"aspect ratio 5000.0 \(height=1, width=5000\) exceeds 200"):
        plan_resize(get_profile("qwen2-vl"), Pipeline.OFFICIAL, "image", 1, 5000)


@pytest.mark.parametrize("method", ["tv1", "tv2"])
def test_torch_resamplers_equal_torchvision_v1_and_v2_uint8_resize(method):
    """qwen-vl-utils uses torchvision v1 (float round trip), transformers v2 (native uint8): both copied."""
    import torchvision.transforms.functional as TF1
    import torchvision.transforms.v2.functional as TF2
    from torchvision.transforms import InterpolationMode

    fn = TF1.resize if method == "tv1" else TF2.resize
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (181, 307, 3), dtype=np.uint8)
    for size in [(112, 196), (252, 420), (28, 56), (168, 336), (200, 280)]:
        ref = fn(torch.from_numpy(frame).permute(2, 0, 1), list(size), InterpolationMode.BICUBIC, antialias=True)
        assert np.array_equal(resample(frame, size, method), ref.permute(1, 2, 0).numpy())


def test_the_two_torchvision_resizes_differ_somewhere():
    """Pinned divergence: same formula, different rounding paths (why both are kept)."""
    rng = np.random.default_rng(2)
    frame = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    assert not np.array_equal(resample(frame, (112, 168), "tv1"), resample(frame, (112, 168), "tv2"))


def test_pil_resample_equals_fetch_image_resize():
    from PIL import Image

    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (181, 307, 3), dtype=np.uint8)
    ref = np.asarray(Image.fromarray(frame).resize((280, 168)))
    assert np.array_equal(resample(frame, (168, 280), "pil"), ref)
    assert math.isclose(float(np.abs(resample(frame, (168, 280), "tv2").astype(int) - ref).mean()), 0, abs_tol=3)


@pytest.mark.parametrize("method", ["tv1", "tv2", "pil"])
def test_resample_chw_holds_the_same_values_as_resample(method):
    """The pixel path's float [3, h, w] form skips tv1's uint8 round trip; the values must not move."""
    rng = np.random.default_rng(3)
    frame = rng.integers(0, 256, (181, 307, 3), dtype=np.uint8)
    frame.setflags(write=False)  # as cached frames are
    for size in [(112, 196), (252, 420), (28, 56), (181, 307)]:
        got = resample_chw(frame, size, method)
        assert got.dtype == np.float32 and got.shape == (3, *size) and got.flags.c_contiguous
        want = torch.from_numpy(resample(frame, size, method).copy()).permute(2, 0, 1).float()
        assert torch.equal(torch.from_numpy(got), want)
