"""Stage 4: normalize, pad time to whole temporal patches, cut patches in 2x2 merge order.

The plan (grid, padding, which frames form each temporal group) is arithmetic on sizes; the pixel
tensor is preallocated and each frame, once resized and normalized, is written into its rows, so
memory stays at the output plus the frames in flight. Reference: transformers 5.23 ``Qwen2VLImageProcessor`` / ``Qwen2VLVideoProcessor``
(``rescale_and_normalize`` fused as ``(x - 255*mean) / (255*std)`` in float32; temporal padding
repeats the last frame; images are duplicated ``temporal_patch_size`` times).
"""

from __future__ import annotations

import mmap
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .merge_order import row_coords
from .profiles import ModelProfile

if TYPE_CHECKING:
    import torch

__all__ = ["Patchify", "plan_patchify", "build_pixel_values", "normalize"]

RESCALE_FACTOR = 1 / 255  # Hub configs: rescale_factor 0.00392156862745098


@dataclass(frozen=True)
class Patchify:
    kind: str
    grid_thw: tuple[int, int, int]
    patch_size: int
    merge_size: int
    temporal_patch_size: int
    nframes: int  # frames in (1 for an image)
    pad_frames: int  # copies of the last frame appended (an image: Tp - 1 duplicates)
    groups: tuple[tuple[int, ...], ...]  # per temporal group: positions in the sampled frame list
    image_mean: tuple[float, float, float]
    image_std: tuple[float, float, float]

    @property
    def rows(self) -> int:
        t, h, w = self.grid_thw
        return t * h * w

    @property
    def row_len(self) -> int:
        return 3 * self.temporal_patch_size * self.patch_size * self.patch_size

    @property
    def shape(self) -> tuple[int, int]:
        return (self.rows, self.row_len)

    @property
    def num_tokens(self) -> int:
        return self.rows // (self.merge_size**2)

    @property
    def rows_per_group(self) -> int:
        return self.grid_thw[1] * self.grid_thw[2]

    def row_coords(self) -> "torch.Tensor":
        """``[rows, 3]``: patch-grid ``(t, h, w)`` of every ``pixel_values`` row."""
        return row_coords(self.grid_thw, self.merge_size)

    def padding_note(self) -> str:
        tp = self.temporal_patch_size
        if self.kind == "image":
            return f"one image = one frame, duplicated x{tp} to fill a temporal patch of {tp}"
        if self.pad_frames:
            return (
                f"{self.nframes} frames is not a multiple of temporal_patch_size {tp}: the last frame is repeated "
                f"{self.pad_frames}x"
            )
        return f"{self.nframes} frames = {self.grid_thw[0]} temporal groups of {tp}, no padding"


def plan_patchify(profile: ModelProfile, kind: str, nframes: int, height: int, width: int) -> Patchify:
    """Grid and temporal grouping, from sizes only."""
    p, m, tp = profile.patch_size, profile.merge_size, profile.temporal_patch_size
    if kind == "image":
        groups = (tuple([0] * tp),)
        pad = tp - 1
    else:
        pad = -nframes % tp
        padded = list(range(nframes)) + [nframes - 1] * pad
        groups = tuple(tuple(padded[i : i + tp]) for i in range(0, len(padded), tp))
    return Patchify(
        kind=kind,
        grid_thw=(len(groups), height // p, width // p),
        patch_size=p,
        merge_size=m,
        temporal_patch_size=tp,
        nframes=1 if kind == "image" else nframes,
        pad_frames=pad,
        groups=groups,
        image_mean=profile.image_mean,
        image_std=profile.image_std,
    )


def _norm_constants(mean, std) -> tuple[np.ndarray, np.ndarray]:
    # The processor's fused rescale + normalize: mean * (1 / rescale_factor), in float32 (torch
    # multiplies a float32 tensor by a Python scalar in float32, the scalar rounded first).
    scale = np.float32(1.0 / RESCALE_FACTOR)
    return np.asarray(mean, np.float32) * scale, np.asarray(std, np.float32) * scale


def normalize(frames: "torch.Tensor", mean, std) -> "torch.Tensor":
    """``[..., 3, H, W]`` uint8-valued -> float32 ``(x - 255*mean) / (255*std)``, the processor's fused form."""
    import torch

    mean_t, std_t = (torch.from_numpy(c) for c in _norm_constants(mean, std))
    x = frames.to(torch.float32)
    return x.sub_(mean_t.view(-1, 1, 1)).div_(std_t.view(-1, 1, 1))


def _frame_slots(plan: Patchify) -> dict[int, list[tuple[int, int]]]:
    """Frame position -> every ``(group, t)`` it fills (padding and image duplication: several)."""
    slots: dict[int, list[tuple[int, int]]] = {}
    for g, members in enumerate(plan.groups):
        for t, j in enumerate(members):
            slots.setdefault(j, []).append((g, t))
    return slots


def _slot_view(out: np.ndarray, plan: Patchify, g: int, t: int) -> np.ndarray:
    """The values of frame slot ``t`` of group ``g`` in ``out``, as a ``[3, H, W]``-shaped view.

    The inverse of ``to_merge_blocks`` for one time step: row ``((bh*(gw/m) + bw)*m + mh)*m + mw``,
    column ``((c*Tp + t)*p + py)*p + px`` holds pixel ``(c, (bh*m + mh)*p + py, (bw*m + mw)*p + px)``.
    """
    p, m, tp = plan.patch_size, plan.merge_size, plan.temporal_patch_size
    _, gh, gw = plan.grid_thw
    n = plan.rows_per_group
    rows = out[g * n : (g + 1) * n].reshape(gh // m, gw // m, m, m, 3, tp, p, p)  # (bh, bw, mh, mw, C, Tp, py, px)
    return rows[:, :, :, :, :, t].transpose(4, 0, 2, 5, 1, 3, 6)  # (C, bh, mh, py, bw, mw, px)


def empty_pixels(shape: tuple[int, int]) -> np.ndarray:
    """A new float32 array for ``pixel_values``, in a private anonymous mapping of its own (ordinary
    4 KiB pages; unmapped when the last array or view on it goes).

    numpy asks the kernel for transparent huge pages for any array over 4 MiB. On the 2-core VMs this
    project runs on (Dec 2026) a fresh 2 MiB page is often much slower to fault in than 512 small
    ones: the first write to a 1080p clip's 813 MB took 0.19-1.4 s with huge pages, 0.34-0.36 s
    with 4 KiB pages, and its whole ``pixel_values`` 2.55-2.78 s against 2.25-2.50 s (5 runs each,
    alternating). Elsewhere numpy's own array.
    """
    nbytes = int(np.prod(shape)) * 4
    if nbytes < 4 * 2**20 or not hasattr(mmap, "MAP_PRIVATE"):
        return np.empty(shape, np.float32)
    return np.frombuffer(mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS), np.float32).reshape(shape)


def build_pixel_values(
    plan: Patchify,
    frames: Iterable[np.ndarray],
    prepare: Callable[[np.ndarray], np.ndarray] | None = None,
    threads: int = 1,
    fused: Callable[..., bool] | None = None,
    numbered: bool = False,
) -> np.ndarray:
    """``pixel_values`` float32 ``[rows, 3*Tp*p*p]`` (a numpy array) from the sampled frames, in order.

    ``prepare(frame)`` turns one frame into its resized form, a new float32 ``[3, H, W]`` array of
    uint8 values (``resize.resample_chw``); without it the frames are resized uint8 ``[H, W, 3]``.
    Each frame is prepared, normalized in place (the processor's fused float32
    ``(x - 255*mean) / (255*std)``, the same operations per value as ``normalize``) and written into
    its slots of the preallocated output, so frames are independent: with ``threads > 1`` they are
    prepared on that many threads (single-threaded torch each, which beats torch's own threads on
    many frames), at most ``threads + 1`` in flight, so memory stays at the output plus a few frames.
    ``fused(frame, out, rows0, ts, patch, mean, std)`` may do all three at once for a frame
    (``tv1_kernel.resample_into_patches``); where it returns False the frame takes the path above.
    With ``numbered``, ``frames`` yields ``(j, frame)`` pairs in any order, each ``j`` once.
    """
    out = empty_pixels(plan.shape)
    p, m = plan.patch_size, plan.merge_size
    _, gh, gw = plan.grid_thw
    mean, std = (c.reshape(3, 1, 1) for c in _norm_constants(plan.image_mean, plan.image_std))
    slots = _frame_slots(plan)
    n = plan.rows_per_group
    targets = {j: (np.array([g * n for g, _ in gt], np.int64), np.array([t for _, t in gt], np.int64))
               for j, gt in slots.items()}
    flat_mean, flat_std = mean.reshape(3), std.reshape(3)
    patch = (p, m, plan.temporal_patch_size)

    seen: set[int] = set()

    def checked(pairs: Iterable[tuple[int, np.ndarray]]) -> Iterator[tuple[int, np.ndarray]]:
        for j, frame in pairs:
            if j not in slots:
                raise ValueError(f"got frame {j}, more frames than the plan's {plan.nframes}")
            if j in seen:
                raise ValueError(f"got frame {j} twice")
            seen.add(j)
            yield j, frame

    def fill(j: int, frame: np.ndarray) -> None:
        if fused is not None and fused(frame, out, *targets[j], patch, flat_mean, flat_std):
            return
        x = prepare(frame) if prepare is not None else frame.transpose(2, 0, 1).astype(np.float32, order="C")
        np.subtract(x, mean, out=x)  # float32, value by value as torch's sub_ / div_
        np.divide(x, std, out=x)
        x = x.reshape(3, gh // m, m, p, gw // m, m, p)  # (C, bh, mh, py, bw, mw, px)
        for g, t in slots[j]:
            np.copyto(_slot_view(out, plan, g, t), x)

    it = iter(frames)
    pairs = checked(it if numbered else enumerate(it))
    try:
        if threads <= 1:
            for j, frame in pairs:
                fill(j, frame)
        else:
            _run_threaded(fill, pairs, threads)
    finally:
        close = getattr(it, "close", None)
        if close is not None:
            close()  # stops a decoder thread behind the frames early on an error
    if len(seen) != len(slots):
        raise ValueError(f"got {len(seen)} frames, the plan needs {len(slots)}")
    return out


_torch_threads_lock = threading.Lock()
_torch_threads_users = 0
_torch_threads_saved = 1


@contextmanager
def single_threaded_torch() -> Iterator[None]:
    """torch's thread count is 1 while any caller is inside; the first one in saves it, the last one out
    restores it (the app builds pixel_values for several sessions at once: a per-call save / restore
    could interleave and leave the whole process at 1 thread).

    Set before the workers start: a thread takes torch's count when it first runs an op (threads that
    already ran one keep theirs; one starting its first op in this window gets 1)."""
    global _torch_threads_users, _torch_threads_saved
    import torch

    with _torch_threads_lock:
        if _torch_threads_users == 0:
            _torch_threads_saved = torch.get_num_threads()
            torch.set_num_threads(1)
        _torch_threads_users += 1
    try:
        yield
    finally:
        with _torch_threads_lock:
            _torch_threads_users -= 1
            if _torch_threads_users == 0:
                torch.set_num_threads(_torch_threads_saved)


def _run_threaded(fill: Callable[[int, np.ndarray], None], pairs: Iterable[tuple[int, np.ndarray]], threads: int) -> None:
    """``fill(j, frame)`` for every pair on ``threads`` workers."""
    # torch resizes only where numpy / numba cannot (the caller loads it first then); untouched otherwise
    with single_threaded_torch() if "torch" in sys.modules else nullcontext():
        with ThreadPoolExecutor(threads, thread_name_prefix="qwenvl-viz-pixels") as pool:
            pending: deque[Future] = deque()
            try:
                for j, frame in pairs:
                    pending.append(pool.submit(fill, j, frame))
                    while len(pending) > threads or (pending and pending[0].done()):
                        pending.popleft().result()
                while pending:
                    pending.popleft().result()
            finally:
                for f in pending:
                    f.cancel()
