"""Stage 3: smart resize to multiples of ``factor = patch * merge`` within the pixel budgets.

Three variants of the same formula, each copied operation for operation (Python ``round`` is
half-to-even, and ``floor(height / beta / factor)`` keeps the reference's operation order):
- qwen-vl-utils 0.0.14 ``smart_resize``: ``max(factor, round(..))`` first, NO clamp on the shrink
  branch (so a side can become 0; the reference then fails, and so do we, with a clear message).
- transformers 5.23 ``smart_resize`` (image and Qwen2/2.5 video processors): no clamp first,
  ``max(factor, floor(..))`` on the shrink branch.
- transformers 5.23 Qwen3 video ``smart_resize(num_frames, ...)``: the budget covers the whole clip
  (``t_bar * h_bar * w_bar``), and sides under ``factor`` are first scaled up with ``int()``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from .words import join_texts, say
from . import tv1_kernel
from .errors import VizError
from .profiles import FRAME_FACTOR, MAX_RATIO, MODEL_SEQ_LEN, ModelProfile, Pipeline

if TYPE_CHECKING:
    import torch

__all__ = [
    "Resize",
    "ResizeStep",
    "plan_resize",
    "smart_resize_qvu",
    "smart_resize_hf",
    "smart_resize_hf_clip",
    "KEEP",
    "SHRINK",
    "GROW",
    "resample",
    "resample_chw",
    "RESAMPLERS",
    "frame_tensor",
]

# which branch of smart_resize fired (str values; the words say them in either language)
KEEP = say("rz_keep")
SHRINK = say("rz_shrink")
GROW = say("rz_grow")

QWEN2_MAX_VIDEO_TOKENS = 128000  # Qwen2VLVideoProcessor.max_video_tokens (cap_pixels_per_frame)
QWEN3_MAX_VIDEO_TOKENS = 768  # Qwen3VLVideoProcessor.max_video_tokens (per-frame cap)


@dataclass(frozen=True)
class ResizeStep:
    who: str
    src: tuple[int, int]  # (H, W)
    dst: tuple[int, int]
    factor: int
    min_pixels: float
    max_pixels: float
    branch: str
    formula: str
    budget: str  # how min/max pixels were obtained, numbers filled in

    @property
    def changed(self) -> bool:
        return self.src != self.dst


@dataclass(frozen=True)
class Resize:
    height: int
    width: int
    src_height: int
    src_width: int
    factor: int
    steps: tuple[ResizeStep, ...]  # the whole chain (qwen-vl-utils, then the processor's pass)
    methods: tuple[str, ...]  # resampler of each step, a key of RESAMPLERS
    tokens_per_group: int  # LLM tokens per temporal group: (H/p)*(W/p)/m^2

    @property
    def branch(self) -> str:
        return self.deciding_step.branch

    @property
    def deciding_step(self) -> ResizeStep:
        changed = [s for s in self.steps if s.changed]
        return changed[-1] if changed else self.steps[0]

    @property
    def min_pixels(self) -> float:
        return self.steps[0].min_pixels

    @property
    def max_pixels(self) -> float:
        return self.steps[0].max_pixels

    @property
    def resampler(self) -> str:
        used = [RESAMPLERS[m] for s, m in zip(self.steps, self.methods) if s.changed]
        return join_texts(say("rs_then"), used) if used else say("rs_none")

    @property
    def resizes(self) -> int:
        """How many times the pixels are actually resampled (a same-size resize is an identity)."""
        return sum(s.changed for s in self.steps)

    @property
    def scale(self) -> float:
        return math.sqrt(self.height * self.width / (self.src_height * self.src_width))

    @property
    def aspect_change(self) -> float:
        """Relative change of the aspect ratio W/H caused by rounding each side on its own."""
        return (self.width / self.height) / (self.src_width / self.src_height) - 1.0


def _check_aspect(height: int, width: int) -> None:
    if min(height, width) <= 0:
        raise VizError(f"the media has a zero side (height={height}, width={width})", field="media")
    ratio = max(height, width) / min(height, width)
    if ratio > MAX_RATIO:
        raise VizError(
            f"aspect ratio {ratio:.1f} (height={height}, width={width}) exceeds {MAX_RATIO} "
            f"('absolute aspect ratio must be smaller than {MAX_RATIO}' in both references); "
            "crop, pad or tile the image first",
            field="media",
        )


def _branch_formula(height, width, factor, h0, w0, h, w, branch, lo, hi, t=None) -> str:
    tt = f"{t}*" if t is not None else ""
    head = f"round({height}/{factor})*{factor} x round({width}/{factor})*{factor} = {h0}x{w0}"
    if branch == SHRINK:
        beta = math.sqrt((t or 1) * height * width / hi)
        return (
            f"{head}; {tt}{h0}*{w0} > max_pixels {hi:.0f} -> beta = sqrt({tt}{height}*{width}/{hi:.0f}) = {beta:.5f}; "
            f"floor({height}/beta/{factor})*{factor} = {h}, floor({width}/beta/{factor})*{factor} = {w}"
        )
    if branch == GROW:
        beta = math.sqrt(lo / ((t or 1) * height * width))
        return (
            f"{head}; {tt}{h0}*{w0} < min_pixels {lo:.0f} -> beta = sqrt({lo:.0f}/({tt}{height}*{width})) = {beta:.5f}; "
            f"ceil({height}*beta/{factor})*{factor} = {h}, ceil({width}*beta/{factor})*{factor} = {w}"
        )
    return f"{head}; within [{lo:.0f}, {hi:.0f}] -> {h}x{w}"


def smart_resize_qvu(height: int, width: int, factor: int, min_pixels: float, max_pixels: float):
    """qwen-vl-utils 0.0.14 ``smart_resize`` -> ``(h, w, branch, (h0, w0))``."""
    _check_aspect(height, width)
    h0 = h = max(factor, round(height / factor) * factor)
    w0 = w = max(factor, round(width / factor) * factor)
    branch = KEEP
    if h * w > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h = math.floor(height / beta / factor) * factor
        w = math.floor(width / beta / factor) * factor
        branch = SHRINK
    elif h * w < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h = math.ceil(height * beta / factor) * factor
        w = math.ceil(width * beta / factor) * factor
        branch = GROW
    return h, w, branch, (h0, w0)


def smart_resize_hf(height: int, width: int, factor: int, min_pixels: float, max_pixels: float):
    """transformers 5.23 ``smart_resize`` (Qwen2VLImageProcessor / Qwen2VLVideoProcessor)."""
    _check_aspect(height, width)
    h0 = h = round(height / factor) * factor
    w0 = w = round(width / factor) * factor
    branch = KEEP
    if h * w > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h = max(factor, math.floor(height / beta / factor) * factor)
        w = max(factor, math.floor(width / beta / factor) * factor)
        branch = SHRINK
    elif h * w < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h = math.ceil(height * beta / factor) * factor
        w = math.ceil(width * beta / factor) * factor
        branch = GROW
    return h, w, branch, (h0, w0)


def smart_resize_hf_clip(
    num_frames: int, height: int, width: int, factor: int, temporal_factor: int,
    min_pixels: float, max_pixels: float,
):
    """transformers 5.23 Qwen3-VL video ``smart_resize``: a whole-clip ``T*H*W`` budget."""
    if num_frames < temporal_factor:
        raise VizError(
            f"the Qwen3-VL video processor needs at least temporal_factor={temporal_factor} frames, "
            f"got t={num_frames} ('t must be larger than temporal_factor')",
            field="nframes",
        )
    if height < factor or width < factor:  # 5.x scales tiny clips up instead of failing
        scale = max(factor / height, factor / width)
        height, width = int(height * scale), int(width * scale)
    _check_aspect(height, width)
    h0 = h = round(height / factor) * factor
    w0 = w = round(width / factor) * factor
    t_bar = round(num_frames / temporal_factor) * temporal_factor
    branch = KEEP
    if t_bar * h * w > max_pixels:
        beta = math.sqrt((num_frames * height * width) / max_pixels)
        h = max(factor, math.floor(height / beta / factor) * factor)
        w = max(factor, math.floor(width / beta / factor) * factor)
        branch = SHRINK
    elif t_bar * h * w < min_pixels:
        beta = math.sqrt(min_pixels / (num_frames * height * width))
        h = math.ceil(height * beta / factor) * factor
        w = math.ceil(width * beta / factor) * factor
        branch = GROW
    return h, w, branch, (h0, w0)


def _step(who, fn, src, factor, lo, hi, budget, t=None, tf=None) -> ResizeStep:
    height, width = src
    if t is None:
        h, w, branch, (h0, w0) = fn(height, width, factor, lo, hi)
    else:
        h, w, branch, (h0, w0) = fn(t, height, width, factor, tf, lo, hi)
    formula = _branch_formula(height, width, factor, h0, w0, h, w, branch, lo, hi, t=t)
    return ResizeStep(who, (height, width), (h, w), factor, lo, hi, branch, formula, budget)


def _check_budget(min_pixels, max_pixels, total_pixels) -> None:
    for name, v in (("min_pixels", min_pixels), ("max_pixels", max_pixels), ("total_pixels", total_pixels)):
        if v is not None and not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
            raise VizError(f"{name} must be a positive number of pixels, got {v}", field=name)
    if min_pixels is not None and max_pixels is not None and min_pixels > max_pixels:
        raise VizError(
            f"min_pixels ({min_pixels:.0f}) is larger than max_pixels ({max_pixels:.0f}); "
            "min_pixels must be <= max_pixels (in pixels: N tokens = N x factor^2 px)",
            field="min_pixels",
        )


def plan_resize(
    profile: ModelProfile,
    pipeline: Pipeline,
    kind: str,
    height: int,
    width: int,
    *,
    nframes: int = 1,
    min_pixels: float | None = None,
    max_pixels: float | None = None,
    total_pixels: float | None = None,
    cap_pixels_per_frame: bool = False,
    model_seq_len: int = MODEL_SEQ_LEN,
) -> Resize:
    """The resize chain for one image (``kind="image"``) or one video's frames, sizes only (no pixels)."""
    _check_budget(min_pixels, max_pixels, total_pixels)
    f = profile.factor
    src = (height, width)
    steps: list[ResizeStep] = []
    if pipeline is Pipeline.OFFICIAL:
        if kind == "image":
            lo = profile.qvu_image_min_pixels if min_pixels is None else min_pixels
            hi = profile.qvu_image_max_pixels if max_pixels is None else max_pixels
            budget = (
                f"image budget [{lo:.0f}, {hi:.0f}] px"
                + (" (defaults: 4 .. 16384 tokens x factor^2)" if min_pixels is None and max_pixels is None else "")
            )
            _check_budget(lo, hi, None)
        else:
            frame_min = profile.qvu_video_frame_min_pixels
            frame_max = profile.qvu_video_frame_max_pixels
            lo = frame_min if min_pixels is None else min_pixels
            # qvu's default total is a float (MODEL_SEQ_LEN * factor**2 * 0.9); keep it so.
            total = model_seq_len * f * f * 0.9 if total_pixels is None else total_pixels
            hi = max(min(frame_max, total / nframes * FRAME_FACTOR), int(lo * 1.05))
            budget = (
                f"per-frame max = max(min({frame_max}, total_pixels {total:.0f} / nframes {nframes} x {FRAME_FACTOR}), "
                f"int(min_pixels {lo:.0f} x 1.05)) = {hi:.0f}"
            )
            if max_pixels is not None:
                if max_pixels > hi:
                    budget += f"; your max_pixels {max_pixels:.0f} exceeds that limit and is ignored"
                else:
                    budget += f"; your max_pixels {max_pixels:.0f} is lower and wins"
                hi = min(max_pixels, hi)
            if lo > hi:
                raise VizError(
                    f"min_pixels ({lo:.0f}) is larger than the per-frame max_pixels ({hi:.0f}); "
                    "min_pixels must be <= max_pixels",
                    field="min_pixels",
                )
        first = _step("qwen-vl-utils smart_resize", smart_resize_qvu, src, f, lo, hi, budget)
        if 0 in first.dst:
            raise VizError(
                f"qwen-vl-utils 0.0.14 resizes this {height}x{width} (HxW) media to {first.dst[0]}x{first.dst[1]}: "
                "its shrink branch has no max(factor, ...) clamp, so a side becomes 0 and the reference fails; "
                f"allowed: a max_pixels large enough to keep every side >= {f} px, or pad the media",
                field="max_pixels",
            )
        steps.append(first)
        if profile.official_processor_resize:
            # Qwen2/2.5 recipes call the processor after qwen-vl-utils; it re-runs smart_resize with the
            # Hub config's budget (videos fall back to the image config's size). Usually an identity.
            plo = profile.processor_image_min_pixels if kind == "image" else profile.processor_video_min_pixels
            phi = profile.processor_image_max_pixels if kind == "image" else profile.processor_video_max_pixels
            steps.append(
                _step("processor smart_resize (Hub config)", smart_resize_hf, first.dst, f, plo, phi,
                      f"processor budget [{plo}, {phi}] px per {'image' if kind == 'image' else 'frame'}")
            )
        # Qwen3 recipe: processor(..., do_resize=False): qwen-vl-utils' size is final.
    else:
        if kind == "image":
            lo = profile.processor_image_min_pixels if min_pixels is None else min_pixels
            hi = profile.processor_image_max_pixels if max_pixels is None else max_pixels
            _check_budget(lo, hi, None)
            steps.append(_step("processor smart_resize", smart_resize_hf, src, f, lo, hi,
                               f"image size {{shortest_edge: {lo:.0f}, longest_edge: {hi:.0f}}}"))
        elif profile.processor_video_budget_whole_clip:
            lo = profile.processor_video_min_pixels if min_pixels is None else min_pixels
            hi = profile.processor_video_max_pixels if max_pixels is None else max_pixels
            _check_budget(lo, hi, None)
            budget = f"whole-clip budget size {{shortest_edge: {lo:.0f}, longest_edge: {hi:.0f}}} over T*H*W"
            if cap_pixels_per_frame:
                frame_cap = QWEN3_MAX_VIDEO_TOKENS * f * f
                per_frame = max(min(frame_cap, int(hi) // nframes), int(lo * 1.05))
                budget += (
                    f"; cap_pixels_per_frame: per frame max(min({frame_cap}, {hi:.0f} // {nframes}), "
                    f"int({lo:.0f} x 1.05)) = {per_frame}, x {nframes} frames"
                )
                hi = per_frame * nframes
            steps.append(_step("processor smart_resize (Qwen3 video)", smart_resize_hf_clip, src, f, lo, hi,
                               budget, t=nframes, tf=profile.temporal_patch_size))
        else:
            lo = profile.processor_video_min_pixels if min_pixels is None else min_pixels
            hi = profile.processor_video_max_pixels if max_pixels is None else max_pixels
            _check_budget(lo, hi, None)
            budget = f"per-frame size {{shortest_edge: {lo:.0f}, longest_edge: {hi:.0f}}}"
            if cap_pixels_per_frame:
                total = int(QWEN2_MAX_VIDEO_TOKENS * f * f * 0.9)
                capped = max(min(hi, total * profile.temporal_patch_size // nframes), int(lo * 1.05))
                budget += (
                    f"; cap_pixels_per_frame: max(min({hi:.0f}, {total} x {profile.temporal_patch_size} // {nframes}), "
                    f"int({lo:.0f} x 1.05)) = {capped}"
                )
                hi = capped
            steps.append(_step("processor smart_resize", smart_resize_hf, src, f, lo, hi, budget))
    h, w = steps[-1].dst
    # Which resampler each step uses: qwen-vl-utils' own (PIL for images, torchvision v1 for videos),
    # the processor's torchvision v2 for everything it resizes.
    methods = tuple(
        ("pil" if kind == "image" else "tv1") if (pipeline is Pipeline.OFFICIAL and i == 0) else "tv2"
        for i in range(len(steps))
    )
    p, m = profile.patch_size, profile.merge_size
    if h % p or w % p or (h // p) % m or (w // p) % m:
        raise VizError(
            f"resized size {h}x{w} is not a multiple of patch_size x merge_size = {p}x{m}", field="patch_size"
        )
    return Resize(
        height=h,
        width=w,
        src_height=height,
        src_width=width,
        factor=f,
        steps=tuple(steps),
        methods=methods,
        tokens_per_group=(h // p) * (w // p) // (m * m),
    )


def frame_tensor(frame: np.ndarray) -> "torch.Tensor":
    """A uint8 ``[H, W, 3]`` frame as a tensor sharing its memory."""
    import torch

    # Cached frames are read-only; torch warns on those although nothing writes into them.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(np.ascontiguousarray(frame))


RESAMPLERS = {name: say(f"rs_{name}") for name in ("pil", "tv1", "tv2")}


def resample(frame: np.ndarray, size: tuple[int, int], method: str) -> np.ndarray:
    """Resample one uint8 ``[H, W, 3]`` frame to ``size = (h, w)`` exactly as one reference does.

    The three references differ in the last bit, so each is copied (torchvision 0.28):
    ``"pil"``: Pillow ``Image.resize`` default BICUBIC (qwen-vl-utils images).
    ``"tv1"``: ``transforms.functional.resize`` casts uint8 to float32, interpolates, clamps and
    rounds half-to-even (qwen-vl-utils videos).
    ``"tv2"``: ``transforms.v2.functional.resize`` hands uint8 BICUBIC to torch's native uint8
    kernel on CPU (transformers image and video processors).
    A same-size resize is an identity in all three, so it is skipped.
    """
    h, w = size
    if frame.shape[:2] == (h, w):
        return frame
    if method == "pil":
        return np.asarray(Image.fromarray(frame).resize((w, h), Image.Resampling.BICUBIC))
    if method == "tv1" and (fast := tv1_kernel.resample_chw(frame, size)) is not None:
        return np.ascontiguousarray(fast.astype(np.uint8).transpose(1, 2, 0))  # integers 0..255: exact
    import torch
    import torch.nn.functional as F

    x = frame_tensor(frame).permute(2, 0, 1)[None]  # (1, 3, H, W) uint8, channels-last
    if method == "tv1":
        x = F.interpolate(x.float(), size=(h, w), mode="bicubic", align_corners=False, antialias=True)
        x = x.clamp_(0, 255).round_().to(torch.uint8)
    elif method == "tv2":
        x = F.interpolate(x, size=(h, w), mode="bicubic", align_corners=False, antialias=True)
    else:
        raise ValueError(f"unknown resampler {method!r}; one of {', '.join(RESAMPLERS)}")
    return x[0].permute(1, 2, 0).contiguous().numpy()


def resample_chw(frame: np.ndarray, size: tuple[int, int], method: str) -> np.ndarray:
    """``resample(frame, size, method)`` as a new float32 ``[3, h, w]`` array (values 0..255, integers).

    The pixel path's form: ``tv1`` keeps its rounded float32 result instead of a uint8 round trip,
    and channels come first for ``pixel_values``. The values equal ``resample``'s exactly.
    """
    h, w = size
    if method == "tv1" and frame.shape[:2] != (h, w):
        if (fast := tv1_kernel.resample_chw(frame, size)) is not None:
            return fast  # the same bits, ~3.5x faster (see tv1_kernel)
        import torch.nn.functional as F

        # Transposing the uint8 frame first (a quarter of the bytes; torch's copy is ~2x numpy's) and
        # interpolating contiguous planes costs less than resample's channels-last float; same bits.
        x = frame_tensor(frame).permute(2, 0, 1).contiguous()[None].float()  # (1, 3, H, W)
        x = F.interpolate(x, size=(h, w), mode="bicubic", align_corners=False, antialias=True)
        return x[0].clamp_(0, 255).round_().numpy()  # torchvision v1: clamp, round, (cast to uint8: exact)
    return resample(frame, size, method).transpose(2, 0, 1).astype(np.float32, order="C")
