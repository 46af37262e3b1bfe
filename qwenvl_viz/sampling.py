"""Stage 2: which raw frames of a video are taken, and the resulting ``sample_fps``.

Two references, both reproduced operation for operation:
- ``official``: qwen-vl-utils 0.0.14 ``smart_nframes`` + ``calculate_video_frame_range`` (decord /
  torchcodec semantics: absolute indices, ``round(linspace(start, end, n))``).
- ``processor``: transformers 5.23 ``sample_frames``: Qwen2/2.5 (``Qwen2VLVideoProcessor``, the
  ``arange`` rule) and Qwen3 (``Qwen3VLVideoProcessor``, ``int()`` floor, odd counts allowed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import VizError
from .profiles import FPS, FPS_MAX_FRAMES, FPS_MIN_FRAMES, FRAME_FACTOR, ModelProfile, Pipeline

__all__ = ["Sampling", "sample_frames"]


@dataclass(frozen=True)
class Sampling:
    pipeline: Pipeline
    rule: str  # which reference function
    video_fps: float  # the video's own average fps
    total_frames: int  # frames in the considered range (the clip length when trimmed)
    start_frame: int
    end_frame: int
    requested_fps: float | None
    requested_nframes: int | None
    nframes: int
    indices: tuple[int, ...]  # absolute raw-frame indices
    sample_fps: float  # nframes / total_frames * video_fps
    decided_by: str  # "fps x duration", "min_frames", "max_frames", "total_frames", "nframes"
    formula: str  # the count formula with the numbers filled in
    steps: tuple[str, ...]  # the clamp chain, one line each

    @property
    def times(self) -> tuple[float, ...]:
        """Seconds of each sampled frame (index / video_fps)."""
        return tuple(i / self.video_fps for i in self.indices)


def _round_by(n: float, k: int) -> int:
    return round(n / k) * k  # Python round: half to even, as the reference


def _ceil_by(n: float, k: int) -> int:
    return math.ceil(n / k) * k


def _floor_by(n: float, k: int) -> int:
    return math.floor(n / k) * k


# An index is taken from exact arithmetic only when every float32 evaluation order lands on the same
# integer: within this many float32 ulps of (|start| + |end| + 1) of a rounding boundary, torch decides.
LINSPACE_ULPS = 16


def linspace_indices(start: int, end: int, n: int) -> list[int]:
    """``torch.linspace(start, end, n).round().long().tolist()`` (float32), without loading torch.

    torch's CPU kernel computes ``start + step * i`` for the first half and ``end - step * (n - 1 - i)``
    for the rest, in float32, vectorised in blocks whose width depends on the CPU (and with FMA where
    the compiler fused). Every such order is within a few ulps of the exact value
    ``start + i * (end - start) / (n - 1)``; where that value is farther than ``LINSPACE_ULPS`` ulps
    from a half-integer, all of them round to the same index, which exact integer arithmetic gives.
    Closer to one (long clips with many frames), torch itself is asked.
    """
    if n == 1:
        return [start]
    d = n - 1
    eps = LINSPACE_ULPS * (abs(start) + abs(end) + 1) / 2**24
    out = []
    for i in range(n):
        num = start * d + i * (end - start)  # value = num / d
        rem = num % d
        if abs(2 * rem - d) <= 2 * d * eps or abs(end) >= 2**24:  # near x.5, or past float32's integers
            import torch

            return torch.linspace(start, end, n).round().long().tolist()
        out.append(num // d + (2 * rem > d))
    return out


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _check_request(fps: float | None, nframes: int | None) -> None:
    if fps is not None and nframes is not None:
        raise VizError(
            f"fps ({fps}) and nframes ({nframes}) were both given; they are mutually exclusive: "
            "give either a sampling rate or a frame count",
            field="fps",
        )
    if fps is not None and not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise VizError(f"fps must be a positive number of frames per second, got {fps}", field="fps")
    if nframes is not None and (not isinstance(nframes, (int, np.integer)) or nframes < 1):
        raise VizError(f"nframes must be a positive whole number, got {nframes}", field="nframes")


def _frame_range(
    total: int, video_fps: float, video_start: float | None, video_end: float | None
) -> tuple[int, int, int]:
    """qwen-vl-utils ``calculate_video_frame_range`` (decord / torchcodec backends)."""
    if video_start is None and video_end is None:
        return 0, total - 1, total
    for name, v in (("video_start", video_start), ("video_end", video_end)):
        if v is not None and not (math.isfinite(v) and v >= 0):
            raise VizError(f"{name} must be a time in seconds >= 0, got {v}", field=name)
    max_duration = total / video_fps
    start = 0
    if video_start is not None:
        start = math.ceil(max(0.0, min(video_start, max_duration)) * video_fps)
    end = total - 1
    if video_end is not None:
        end = min(math.floor(max(0.0, min(video_end, max_duration)) * video_fps), total - 1)
    if start >= end:
        raise VizError(
            f"video_start={video_start} s / video_end={video_end} s select frames {start}..{end}, an empty range; "
            f"the video lasts {max_duration:.2f} s ({total} frames @ {video_fps:.3f} fps): "
            "video_start must be before video_end and inside the video",
            field="video_start",
        )
    return start, end, end - start + 1


def _official(
    total_all: int,
    video_fps: float,
    fps: float | None,
    nframes: int | None,
    min_frames: int | None,
    max_frames: int | None,
    video_start: float | None,
    video_end: float | None,
    frame_factor: int,
) -> Sampling:
    start, end, total = _frame_range(total_all, video_fps, video_start, video_end)
    steps: list[str] = []
    if start != 0 or end != total_all - 1:
        steps.append(f"range: frames {start}..{end} ({total} frames) from video_start/video_end")
    if nframes is not None:
        n = _round_by(nframes, frame_factor)
        decided = "nframes"
        formula = f"nframes = round({nframes} / {frame_factor}) * {frame_factor} = {n}"
        steps.append(formula)
    else:
        f = FPS if fps is None else fps
        lo = _ceil_by(FPS_MIN_FRAMES if min_frames is None else min_frames, frame_factor)
        hi = _floor_by(min(FPS_MAX_FRAMES, total) if max_frames is None else max_frames, frame_factor)
        raw = total / video_fps * f
        clamped = min(min(max(raw, lo), hi), total)
        n = _floor_by(clamped, frame_factor)
        if clamped == total and total < min(max(raw, lo), hi):
            decided = "total_frames"
        elif clamped == hi and raw > hi:
            decided = "max_frames"
        elif clamped == lo and raw < lo:
            decided = "min_frames"
        else:
            decided = "fps x duration"
        steps += [
            f"fps x duration = {total}/{_fmt(video_fps)} x {_fmt(f)} = {_fmt(raw)}",
            f"clamp to [min_frames {lo}, max_frames {hi}] and <= total {total}: {_fmt(clamped)}",
            f"floor to a multiple of FRAME_FACTOR {frame_factor}: {n}",
        ]
        formula = (
            f"nframes = floor(min(max({total}/{_fmt(video_fps)}*{_fmt(f)}, {lo}), {hi}, {total}) / {frame_factor})"
            f" * {frame_factor} = {n}"
        )
    if not (frame_factor <= n <= total):
        raise VizError(
            f"the sampling gives nframes = {n}, but it must be in [{frame_factor}, {total}] "
            f"(qwen-vl-utils: 'nframes should in interval [{frame_factor}, {total}]'); "
            + (
                f"the video has only {total} frame(s)"
                if total < frame_factor
                else "ask for fewer frames or a lower fps"
            ),
            field="nframes" if nframes is not None else "fps",
        )
    # torch.linspace in float32 then round half-to-even, exactly as qwen-vl-utils.
    idx = linspace_indices(start, end, n)
    sample_fps = n / max(total, 1e-6) * video_fps
    return Sampling(
        pipeline=Pipeline.OFFICIAL,
        rule="qwen-vl-utils 0.0.14 smart_nframes + round(linspace(start, end, n))",
        video_fps=video_fps,
        total_frames=total,
        start_frame=start,
        end_frame=end,
        requested_fps=None if nframes is not None else (FPS if fps is None else fps),
        requested_nframes=nframes,
        nframes=n,
        indices=tuple(idx),
        sample_fps=sample_fps,
        decided_by=decided,
        formula=formula,
        steps=tuple(steps),
    )


def _processor_qwen2(
    total: int, video_fps: float, fps: float | None, nframes: int | None,
    min_frames: int | None, max_frames: int | None, tp: int,
) -> tuple[list[int], int, str, str, list[str]]:
    """transformers 5.23 ``Qwen2VLVideoProcessor.sample_frames`` (Qwen2-VL and Qwen2.5-VL)."""
    lo = FPS_MIN_FRAMES if min_frames is None else min_frames
    hi = FPS_MAX_FRAMES if max_frames is None else max_frames
    steps: list[str] = []
    if nframes is not None:
        n = round(nframes / tp) * tp
        decided, formula = "nframes", f"num_frames = round({nframes} / {tp}) * {tp} = {n}"
        steps.append(formula)
    else:
        f = FPS if fps is None else fps
        hi2 = math.floor(min(hi, total) / tp) * tp
        raw = total / video_fps * f
        clamped = min(max(raw, lo), hi2, total)
        n = math.floor(clamped / tp) * tp
        decided = (
            "max_frames" if raw > hi2 and clamped == hi2 else "min_frames" if raw < lo else "fps x duration"
        )
        steps += [
            f"fps x duration = {total}/{_fmt(video_fps)} x {_fmt(f)} = {_fmt(raw)}",
            f"clamp to [min_frames {lo}, floor(min(max_frames {hi}, total {total}) / {tp}) * {tp} = {hi2}]: "
            f"{_fmt(clamped)}",
            f"floor to a multiple of temporal_patch_size {tp}: {n}",
        ]
        formula = f"num_frames = floor(min(max({total}/{_fmt(video_fps)}*{_fmt(f)}, {lo}), {hi2}) / {tp}) * {tp} = {n}"
    if n > total:
        raise VizError(
            f"the processor would sample num_frames = {n} but the video has only {total} frames "
            "(transformers: 'Video can't be sampled'); ask for fewer frames or a lower fps",
            field="nframes" if nframes is not None else "fps",
        )
    if n < 1:
        raise VizError(
            f"the processor samples num_frames = {n} from a {total}-frame video; at least 1 is needed "
            f"(temporal_patch_size {tp}); the video is too short for these settings",
            field="fps",
        )
    # float32 arange then int() truncation, exactly as transformers (differs from qvu's linspace). Its
    # values sit on integers, where float32 evaluation orders differ, so torch computes them; this
    # pipeline resizes with torch anyway.
    import torch

    idx = torch.arange(0, total, total / n).int().tolist()
    steps.append(f"indices = int(arange(0, {total}, {total}/{n} = {_fmt(total / n)}))")
    if len(idx) != n:  # float32 steps can overshoot by one: the count used is len(indices), say so
        steps.append(f"float32 arange gives {len(idx)} indices, not {n}; last index {idx[-1]}"
                     + (f" (past the last frame {total - 1})" if idx[-1] >= total else ""))
        formula += f"; float32 arange(0, {total}, {_fmt(total / n)}) gives {len(idx)} indices"
    return idx, n, decided, formula, steps


def _processor_qwen3(
    total: int, video_fps: float, fps: float | None, nframes: int | None,
    min_frames: int | None, max_frames: int | None,
) -> tuple[list[int], int, str, str, list[str]]:
    """transformers 5.23 ``Qwen3VLVideoProcessor.sample_frames``: ``int()`` floor, odd counts allowed."""
    lo = FPS_MIN_FRAMES if min_frames is None else min_frames
    hi = FPS_MAX_FRAMES if max_frames is None else max_frames
    steps: list[str] = []
    if nframes is not None:
        n = nframes
        decided, formula = "nframes", f"num_frames = {n} (used as given)"
        steps.append(formula)
    else:
        f = FPS if fps is None else fps
        raw = total / video_fps * f
        n0 = int(raw)
        n = min(max(n0, lo), hi, total)
        decided = (
            "total_frames" if n == total and total < min(max(n0, lo), hi)
            else "max_frames" if n0 > hi else "min_frames" if n0 < lo else "fps x duration"
        )
        steps += [
            f"fps x duration = {total}/{_fmt(video_fps)} x {_fmt(f)} = {_fmt(raw)} -> int() = {n0}",
            f"clamp to [min_frames {lo}, max_frames {hi}] and <= total {total}: {n}",
        ]
        formula = f"num_frames = min(max(int({total}/{_fmt(video_fps)}*{_fmt(f)}), {lo}), {hi}, {total}) = {n}"
    if n > total or n < 1:
        raise VizError(
            f"the processor would sample num_frames = {n} from a {total}-frame video; "
            f"allowed: 1..{total}",
            field="nframes" if nframes is not None else "fps",
        )
    idx = np.linspace(0, total - 1, n).round().astype(int).tolist()
    steps.append(f"indices = round(linspace(0, {total - 1}, {n}))")
    return idx, n, decided, formula, steps


def sample_frames(
    profile: ModelProfile,
    pipeline: Pipeline,
    *,
    total_frames: int,
    video_fps: float,
    fps: float | None = None,
    nframes: int | None = None,
    min_frames: int | None = None,
    max_frames: int | None = None,
    video_start: float | None = None,
    video_end: float | None = None,
) -> Sampling:
    """Frame count, indices and ``sample_fps`` for one video, as the chosen reference computes them."""
    _check_request(fps, nframes)
    if not (video_fps and math.isfinite(video_fps) and video_fps > 0):
        raise VizError(
            f"the video reports an average frame rate of {video_fps}; a positive fps is needed to sample by time",
            field="media",
        )
    if total_frames < 2:
        raise VizError(
            f"the video has {total_frames} frame(s); Qwen-VL video input needs at least 2 "
            f"(frames go in temporal pairs); send a single frame as an image instead",
            field="media",
        )
    for name, v in (("min_frames", min_frames), ("max_frames", max_frames)):
        if v is not None and v < 1:
            raise VizError(f"{name} must be >= 1, got {v}", field=name)
    if min_frames is not None and max_frames is not None and min_frames > max_frames:
        raise VizError(
            f"min_frames ({min_frames}) is larger than max_frames ({max_frames}); min_frames must be <= max_frames",
            field="min_frames",
        )
    if pipeline is Pipeline.OFFICIAL:
        return _official(
            total_frames, video_fps, fps, nframes, min_frames, max_frames, video_start, video_end, FRAME_FACTOR
        )
    if video_start is not None or video_end is not None:
        raise VizError(
            "video_start / video_end are a qwen-vl-utils option; the transformers processor has no trimming: "
            "choose the official pipeline to trim",
            field="video_start",
        )
    if profile.sampling_rule == "qwen3":
        idx, n, decided, formula, steps = _processor_qwen3(
            total_frames, video_fps, fps, nframes, min_frames, max_frames
        )
        rule = "transformers 5.23 Qwen3VLVideoProcessor.sample_frames"
    else:
        idx, n, decided, formula, steps = _processor_qwen2(
            total_frames, video_fps, fps, nframes, min_frames, max_frames, profile.temporal_patch_size
        )
        rule = "transformers 5.23 Qwen2VLVideoProcessor.sample_frames"
    return Sampling(
        pipeline=Pipeline.PROCESSOR,
        rule=rule,
        video_fps=video_fps,
        total_frames=total_frames,
        start_frame=0,
        end_frame=total_frames - 1,
        requested_fps=None if nframes is not None else (FPS if fps is None else fps),
        requested_nframes=nframes,
        nframes=len(idx),
        indices=tuple(int(i) for i in idx),
        # VideoMetadata.sampled_fps in 5.23: len(frames_indices) / total_num_frames * fps
        sample_fps=len(idx) / total_frames * video_fps,
        decided_by=decided,
        formula=formula,
        steps=tuple(steps),
    )
