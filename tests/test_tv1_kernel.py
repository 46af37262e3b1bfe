"""The numba tv1 resampler against torchvision v1 ``resize`` (what qwen-vl-utils calls), run here.

Equality is exact (``np.array_equal`` on the uint8 result, ``torch.equal`` on the float planes): the
fast path exists only because it is bit-identical.
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from qwenvl_viz import resize, tv1_kernel

TF1 = pytest.importorskip("torchvision.transforms.functional")
from torchvision.transforms import InterpolationMode  # noqa: E402


def _tv1(frame: np.ndarray, size) -> np.ndarray:
    x = TF1.resize(torch.from_numpy(frame).permute(2, 0, 1), list(size), InterpolationMode.BICUBIC, antialias=True)
    return x.permute(1, 2, 0).numpy()


def _frame(h, w, seed=0, smooth=False):
    rng = np.random.default_rng(seed)
    if not smooth:
        return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    # flat areas and gradients: values land on exact halves more often than noise does
    y, x = np.mgrid[0:h, 0:w]
    f = np.stack([(x * 255 // max(w - 1, 1)), (y * 255 // max(h - 1, 1)), ((x // 7 + y // 5) % 2) * 255], -1)
    return f.astype(np.uint8)


def test_this_torch_build_is_reproduced():
    """The calibration found the fused-add pattern of this torch build (else every frame goes to torch)."""
    assert tv1_kernel.available(), "no candidate FMA pattern reproduced torch; the fast path is off"
    assert tv1_kernel._unroll in tv1_kernel.UNROLL_CANDIDATES


@pytest.mark.parametrize(
    "src,dst",
    [
        ((1080, 1920), (448, 784)),  # the 1080p bench clip at 2 fps
        ((1280, 720), (1008, 560)),  # the sample clip
        ((720, 1280), (448, 252)),  # different factors per axis
        ((181, 307), (252, 420)),  # upscale
        ((181, 307), (181, 420)),  # width only (torch skips the height pass)
        ((181, 307), (28, 307)),  # height only
        ((3, 5), (28, 28)),  # tiny source
        ((37, 1000), (28, 644)),
    ],
)
@pytest.mark.parametrize("smooth", [False, True])
def test_fast_path_equals_torchvision_v1_resize(src, dst, smooth):
    frame = _frame(*src, seed=sum(src), smooth=smooth)
    fast = tv1_kernel.resample_chw(frame, dst)
    assert fast is not None, "the fast path declined a size it should handle"
    want = _tv1(frame, dst)
    assert isinstance(fast, np.ndarray) and fast.dtype == np.float32
    assert torch.equal(torch.from_numpy(fast), torch.from_numpy(want).permute(2, 0, 1).float())
    assert np.array_equal(resize.resample(frame, dst, "tv1"), want)
    assert np.array_equal(resize.resample_chw(frame, dst, "tv1"), fast)


@settings(max_examples=150, deadline=None)
@given(
    h=st.integers(1, 160), w=st.integers(1, 160), oh=st.integers(1, 160), ow=st.integers(1, 160),
    seed=st.integers(0, 2**16),
)
def test_fast_path_equals_torchvision_v1_resize_on_any_size(h, w, oh, ow, seed):
    frame = _frame(h, w, seed)
    got = resize.resample(frame, (oh, ow), "tv1")
    assert np.array_equal(got, _tv1(frame, (oh, ow)))


def test_the_check_rejects_a_wrong_fused_add_pattern():
    """Plain adds everywhere (what a straightforward port does) and FMA everywhere both differ from
    torch somewhere on a 1080p frame, and the check catches it: the safety net works."""
    src, dst = (1080, 1920), (448, 784)
    chosen = tv1_kernel._calibrate()
    for wrong in {1, 0, 8} - {chosen}:
        assert not tv1_kernel._check(tv1_kernel._axes(*src, *dst, wrong), src, dst, seed=1)
    assert tv1_kernel._check(tv1_kernel._axes(*src, *dst, chosen), src, dst, seed=1)


def test_an_unverified_axis_falls_back_to_torch(monkeypatch):
    frame = _frame(90, 160, seed=4)
    monkeypatch.setattr(tv1_kernel, "_plan", lambda *a: None)
    assert tv1_kernel.resample_chw(frame, (56, 112)) is None
    want = torch.from_numpy(_tv1(frame, (56, 112))).permute(2, 0, 1).float()
    assert torch.equal(torch.from_numpy(resize.resample_chw(frame, (56, 112), "tv1")), want)


def test_read_only_cached_frames_are_accepted():
    frame = _frame(120, 200, seed=9)
    frame.setflags(write=False)
    got = torch.from_numpy(tv1_kernel.resample_chw(frame, (56, 84)))
    assert torch.equal(got, torch.from_numpy(_tv1(frame, (56, 84))).permute(2, 0, 1).float())


@pytest.mark.parametrize("src, dst, patch, nframes", [
    ((1080, 1920), (560, 1008), (14, 2, 2), 3),  # Qwen2.5-VL video, an odd count: the last frame fills two slots
    ((480, 640), (448, 608), (16, 2, 2), 2),  # Qwen3-VL's patch 16: both axes shrink a little
    ((364, 640), (364, 672), (14, 2, 2), 2),  # one axis kept (no height pass), the other grows
])
def test_fused_write_equals_resize_normalize_and_copy(src, dst, patch, nframes):
    """``resample_into_patches`` (resize + normalize + write into the slots at once) gives the bits of
    ``patchify.build_pixel_values`` on the torch path: torchvision v1 resize, the processor's normalize, the
    merge-order copy."""
    from qwenvl_viz import patchify

    p, m, tp = patch
    h, w = dst
    groups = tuple(tuple(min(g * tp + t, nframes - 1) for t in range(tp)) for g in range(-(-nframes // tp)))
    plan = patchify.Patchify(kind="video", grid_thw=(len(groups), h // p, w // p), patch_size=p, merge_size=m,
                             temporal_patch_size=tp, nframes=nframes, pad_frames=len(groups) * tp - nframes,
                             groups=groups, image_mean=(0.48145466, 0.4578275, 0.40821073),
                             image_std=(0.26862954, 0.26130258, 0.27577711))
    frames = [_frame(*src, seed=i) for i in range(nframes)]

    def torch_chw(f):
        x = torch.from_numpy(f).permute(2, 0, 1)[None].float()
        x = torch.nn.functional.interpolate(x, size=dst, mode="bicubic", align_corners=False, antialias=True)
        return x[0].clamp_(0, 255).round_().numpy()

    want = patchify.build_pixel_values(plan, frames, prepare=torch_chw)
    got = patchify.build_pixel_values(plan, frames, prepare=torch_chw,
                                      fused=lambda *a: tv1_kernel.resample_into_patches(*a, size=dst) or pytest.fail())
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))


def test_fused_write_declines_what_it_does_not_cover():
    """A size that is no whole number of merged patches, or an unchanged frame: the caller takes the long way."""
    out = np.zeros((4, 3 * 2 * 14 * 14), np.float32)
    args = (out, np.array([0]), np.array([0]), (14, 2, 2), np.zeros(3, np.float32), np.ones(3, np.float32))
    assert not tv1_kernel.resample_into_patches(_frame(100, 100), *args, size=(30, 56))
    assert not tv1_kernel.resample_into_patches(_frame(28, 56), *args, size=(28, 56))
    assert not out.any()


def test_fused_write_refuses_slots_outside_the_tensor():
    """The kernel writes without bounds checks, so a layout that does not fit is refused before it runs."""
    out = np.zeros((4, 3 * 2 * 14 * 14), np.float32)  # room for 4 rows; a 56x56 frame needs 16
    args = (np.zeros(3, np.float32), np.ones(3, np.float32))
    with pytest.raises(ValueError, match="do not fit"):
        tv1_kernel.resample_into_patches(_frame(100, 100), out, np.array([0]), np.array([0]), (14, 2, 2), *args,
                                         size=(56, 56))
    with pytest.raises(ValueError, match="do not fit"):
        tv1_kernel.resample_into_patches(_frame(100, 100), np.zeros((16, 3 * 2 * 14 * 14), np.float32),
                                         np.array([0]), np.array([2]), (14, 2, 2), *args, size=(56, 56))
    assert not out.any()
