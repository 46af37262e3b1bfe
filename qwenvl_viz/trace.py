"""``explain()``: run every stage on one image or video and gather the records in a ``Trace``.

Everything but the pixel tensor is arithmetic on metadata (milliseconds once the media is probed);
``Trace.pixel_values`` is computed on first access, decoding only the sampled frames. The app and
the CLI render a Trace; they compute nothing themselves.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from functools import cached_property, partial

from typing import TYPE_CHECKING

import numpy as np

from . import media as media_stage
from . import tv1_kernel
from . import params as vocab
from .decoders import DecoderView, compare_decoders, decoder_view, default_decoder
from .words import say
from .errors import VizError
from .media import MediaInfo
from .patchify import Patchify, build_pixel_values, plan_patchify
from .profiles import (IMAGE_MAX_TOKEN_NUM, IMAGE_MIN_TOKEN_NUM, MODEL_SEQ_LEN, Family, ModelProfile, Pipeline,
                       get_profile)
from .prompt import Prompt, VisionInput, build_prompt
from .params import Budget, DEFAULT_BUDGET
from .resize import Resize, plan_resize, resample, resample_chw
from .rope import Rope, compute_rope
from .sampling import Sampling, sample_frames

if TYPE_CHECKING:
    import torch

__all__ = ["Params", "Trace", "explain", "ledger", "LedgerRow", "DEFAULT_PROMPTS", "token_curve", "CURVE_POINTS"]

DEFAULT_PROMPTS = {"image": "Describe this image.", "video": "Describe this video."}
TEXT_RESUME = vocab.TEXT_RESUME
# Workers that resize frames for pixel_values (torch single-threaded in each), beside the decoders.
PIXEL_THREADS = 4
# Decoders side by side for pixel_values, each over its own run of keyframes with one FFmpeg thread
# (up to half the CPUs, at least 2): on the 60 s 1080p clip one decoder with FFmpeg's threads kept ~1.5
# of 2 cores busy and cost 0.3 CPU-s more. Decoding and resizing then cost about the same, so the
# workers get the CPUs the decoders leave, at least one: on 2 cores, 2 decoders and 1 worker took a
# median 2.29 s against 2.42 s with 2 workers (8 alternating pairs).
DECODE_PARTS = 4


def _usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):  # Linux: the CPUs this process may run on (containers)
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@dataclass(frozen=True)
class Params:
    """The user's knobs. ``None`` means "the reference default for this family and pipeline"."""

    fps: float | None = None
    nframes: int | None = None
    min_frames: int | None = None
    max_frames: int | None = None
    min_pixels: float | None = None
    max_pixels: float | None = None
    total_pixels: float | None = None
    video_start: float | None = None
    video_end: float | None = None
    patch_size: int | None = None
    merge_size: int | None = None
    temporal_patch_size: int | None = None
    prompt: str | None = None
    cap_pixels_per_frame: bool = False  # processor pipeline, transformers >= 5.2x opt-in
    text_resume: str = "release"  # "release" (max + 1) or "transformers" (>= 5.12: s + max(h, w)/m)
    qwen3_outer_wrapper: bool = False  # True: transformers 5.12+ keeps the outer vision_start/end
    tokenizer_dir: str | None = None
    model_seq_len: int = MODEL_SEQ_LEN
    # whose frames and metadata a video follows (decoders.Decoder); default torchcodec or $FORCE_QWENVL_VIDEO_READER
    decoder: str = field(default_factory=default_decoder)

    def validate(self) -> "Params":
        """The same knobs, type-checked, range-checked and combination-checked by the vocabulary
        (:mod:`qwenvl_viz.params`); whole-valued floats become ints. Raises VizError."""
        return Params(**{k: v for k, v in vocab.check(asdict(self)).items() if v is not None})


@dataclass(frozen=True)
class Trace:
    model: Family
    pipeline: Pipeline
    profile: ModelProfile  # with the user's patch / merge / temporal sizes
    params: Params
    media: MediaInfo
    exif_applied: bool  # images: transformers' load_image applies EXIF orientation, qwen-vl-utils does not
    input_height: int  # the size that enters the resize stage (after rotation / EXIF, if applied)
    input_width: int
    sampling: Sampling | None  # None for images
    resize: Resize
    patchify: Patchify
    prompt: Prompt
    rope: Rope
    notes: tuple[str, ...] = field(default=())
    ignored: tuple[str, ...] = field(default=())  # knobs given that this media / pipeline does not read
    decoder: DecoderView | None = None  # videos: the backend's count, fps, rotation and frame mapping
    budget: Budget = DEFAULT_BUDGET  # the limits it was built under; re-runs with other settings keep them

    # ---- the plain answers -------------------------------------------------------------------
    @property
    def kind(self) -> str:
        return self.media.kind

    @property
    def grid_thw(self) -> "torch.Tensor":
        import torch

        return torch.tensor([self.patchify.grid_thw], dtype=torch.int64)

    @property
    def input_ids(self) -> np.ndarray:
        return self.prompt.input_ids

    @property
    def position_ids(self) -> np.ndarray:
        return self.rope.position_ids

    @property
    def frame_indices(self) -> tuple[int, ...]:
        return self.sampling.indices if self.sampling else (0,)

    @property
    def num_vision_tokens(self) -> int:
        return self.patchify.num_tokens

    @property
    def pixel_values(self) -> "torch.Tensor":
        """float32 ``[rows, 3*Tp*p*p]``, rows in 2x2 merge order; computed once, on first access.

        A torch view of :attr:`pixel_array` (the same memory; only the array is kept on the trace, so
        a cache that sizes traces counts the bytes once).
        """
        import torch

        return torch.from_numpy(self.pixel_array)

    @cached_property
    def pixel_array(self) -> np.ndarray:
        """``pixel_values`` as a numpy array, built without torch where numpy / numba reproduce it.

        Frames are decoded on background threads (``DECODE_PARTS`` decoders, each over its own run of
        keyframes, where a seek is exact) and resized on ``PIXEL_THREADS`` workers as they come, in
        any order; never more than a few frames are held besides the output.
        """
        n = self.patchify.nframes
        cpus = _usable_cpus()
        parts = 1 if cpus < 2 else min(DECODE_PARTS, max(2, cpus // 2))
        pictures = self._pictures() if self.kind == "video" else []
        runs = media_stage.decoder_runs(self.media, pictures, parts) if pictures else 0
        # the CPUs the decoders leave: one decoder with FFmpeg's threads leaves most of them
        threads = max(1, min(PIXEL_THREADS, cpus if runs <= 1 else cpus - runs)) if n > 1 else 1
        if threads > 1 and self._resizes_with_torch():
            import torch  # noqa: F401  (loaded before the workers, so each runs it single-threaded)
        return build_pixel_values(self.patchify, self._numbered_source_frames(pictures, parts), prepare=self._resized_chw,
                                  threads=threads, fused=self._fused_writer(), numbered=True)

    def _numbered_source_frames(self, pictures: list[int], parts: int):
        """``(j, frame)`` for each sampled frame ``j`` (as ``iter_source_frames``; ``pictures`` are
        ``_pictures()``), in any order."""
        if self.kind == "image":
            yield 0, media_stage.load_image(self.media, apply_exif=self.exif_applied)
            return
        for j, frame in media_stage.iter_frames_unordered(self.media, pictures, parts=parts):
            yield j, self._as_decoder_returns(frame)

    def _resizes_with_torch(self) -> bool:
        """Whether a resample of this trace runs on torch (``tv2``, or a ``tv1`` geometry not verified)."""
        for step, method in zip(self.resize.steps, self.resize.methods):
            if step.changed and (method == "tv2" or (method == "tv1" and not tv1_kernel.ready(step.src, step.dst))):
                return True
        return False

    # ---- frames, for the pixel tensor and for the figures -------------------------------------
    def iter_source_frames(self):
        """The frames that enter the resize stage, uint8 ``[H, W, 3]``, one per sampled frame."""
        if self.kind == "image":
            yield media_stage.load_image(self.media, apply_exif=self.exif_applied)
        else:
            for frame in media_stage.iter_frames(self.media, self._pictures()):
                yield self._as_decoder_returns(frame)

    @property
    def pictures(self) -> tuple[int, ...]:
        """The media frames (presentation order) the decoder returns for the sampled indices: after a
        seek in a B-frame AVI, decord and torchcodec return other pictures than the index names."""
        return tuple(self._pictures()) if self.sampling else (0,)

    def as_decoder_returns(self, frame: np.ndarray) -> np.ndarray:
        """A decoded media frame (display-rotated) as the trace's decoder returns it."""
        return self._as_decoder_returns(frame)

    def _pictures(self) -> list[int]:
        """The media frames (presentation order) that the decoder returns for the sampled indices."""
        view = self.decoder
        if view is None:
            return list(self.sampling.indices)
        return view.pictures(self.sampling.indices)

    def _as_decoder_returns(self, frame: np.ndarray) -> np.ndarray:
        # media frames are display-rotated; a backend that ignores the display matrix returns them as stored
        if self.decoder is not None and not self.decoder.rotation_applied and self.media.rotation:
            return np.ascontiguousarray(np.rot90(frame, self.media.rotation // 90))
        return frame

    def _resize_chain(self, frame: np.ndarray) -> np.ndarray:
        # An image with a colour key (P / L / RGB + tRNS, transparent GIF) keeps it through Pillow's
        # convert("RGB") and resize; the processor's convert_to_rgb then whitens that colour. It sees
        # the image after qwen-vl-utils' resize (official) or before its own resize (processor).
        key = self.media.transparency_key if self.kind == "image" else None
        key_at = 1 if self.pipeline is Pipeline.OFFICIAL else 0
        for i, (step, method) in enumerate(zip(self.resize.steps, self.resize.methods)):
            if i == key_at:
                frame = media_stage.whiten_transparency_key(frame, key)
            if step.changed:
                frame = resample(frame, step.dst, method)
        if key_at >= len(self.resize.steps):
            frame = media_stage.whiten_transparency_key(frame, key)
        return frame

    def _fused_writer(self):
        """Resize + normalize + write in one pass (``tv1_kernel.resample_into_patches``) for the usual
        case, one ``tv1`` resample and no colour key; None elsewhere."""
        changed = [i for i, s in enumerate(self.resize.steps) if s.changed]
        key = self.media.transparency_key if self.kind == "image" else None
        if key is not None or len(changed) != 1 or self.resize.methods[changed[0]] != "tv1":
            return None
        return partial(tv1_kernel.resample_into_patches, size=self.resize.steps[changed[0]].dst)

    def _resized_chw(self, frame: np.ndarray) -> np.ndarray:
        """``_resize_chain(frame)`` as a new float32 ``[3, H, W]`` array, for ``pixel_values``."""
        changed = [i for i, s in enumerate(self.resize.steps) if s.changed]
        key = self.media.transparency_key if self.kind == "image" else None
        if key is None and len(changed) == 1:  # the usual case: one resample, done straight to float
            step = self.resize.steps[changed[0]]
            return resample_chw(frame, step.dst, self.resize.methods[changed[0]])
        return self._resize_chain(frame).transpose(2, 0, 1).astype(np.float32, order="C")

    def iter_resized_frames(self):
        for frame in self.iter_source_frames():
            yield self._resize_chain(frame)

    def source_frame(self, i: int = 0) -> np.ndarray:
        """Sampled frame ``i`` before resizing (decoded once, then served from the media cache)."""
        if self.kind == "image":
            return media_stage.load_image(self.media, apply_exif=self.exif_applied)
        pic = self._pictures()[i]
        return self._as_decoder_returns(next(iter(media_stage.iter_frames(self.media, [pic], prefetch=False))))

    def resized_frame(self, i: int = 0) -> np.ndarray:
        return self._resize_chain(self.source_frame(i))

    # ---- export ------------------------------------------------------------------------------
    def summary(self) -> dict:
        """The JSON object of ``python -m qwenvl_viz explain --json``: JSON types only (no NaN / inf)."""
        m = self.media
        s = self.sampling
        return json_safe({
            "model": self.model.value,
            "pipeline": self.pipeline.value,
            "media": {
                "kind": m.kind,
                "path": m.path,
                "width": m.width,
                "height": m.height,
                "coded_width": m.coded_width,
                "coded_height": m.coded_height,
                "frames": m.frames,
                "frames_header": m.frames_header,
                "fps": m.fps,
                "duration": m.duration,
                "rotation": m.rotation,
                "exif_orientation": m.exif_orientation,
                "exif_applied": self.exif_applied,
                "mode": m.mode,
            },
            "sampling": None
            if s is None
            else {
                "nframes": s.nframes,
                "indices": list(s.indices),
                "sample_fps": s.sample_fps,
                "video_fps": s.video_fps,
                "total_frames": s.total_frames,
                "decided_by": s.decided_by,
                "formula": s.formula,
                "rule": s.rule,
            },
            "resize": {
                "height": self.resize.height,
                "width": self.resize.width,
                "input_height": self.input_height,
                "input_width": self.input_width,
                "branch": self.resize.branch,
                "min_pixels": self.resize.min_pixels,
                "max_pixels": self.resize.max_pixels,
                "resizes": self.resize.resizes,
                "steps": [
                    {"who": st.who, "src": list(st.src), "dst": list(st.dst), "branch": st.branch,
                     "formula": st.formula, "budget": st.budget}
                    for st in self.resize.steps
                ],
            },
            "pixel_values_shape": list(self.patchify.shape),
            "grid_thw": list(self.patchify.grid_thw),
            "num_vision_tokens": self.num_vision_tokens,
            "pad_frames": self.patchify.pad_frames if self.kind == "video" else 0,
            "second_per_grid_ts": self.prompt.second_per_grid_ts,
            "timestamps": None if self.prompt.timestamps is None else list(self.prompt.timestamps),
            "num_tokens": int(len(self.prompt.input_ids)),
            "special_ids": dict(self.profile.special_ids),  # Qwen3.5 / Qwen4-Exp ids differ from Qwen2's
            "rope_deltas": int(self.rope.rope_deltas),
            "decoder": None if self.decoder is None else {
                "name": self.decoder.label,
                "frames": self.decoder.frames,
                "count_source": self.decoder.count_source,
                "fps": self.decoder.fps,
                "rotation_applied": self.decoder.rotation_applied,
                "width": self.decoder.width,
                "height": self.decoder.height,
                "decodable": self.decoder.decodable,
                "pictures": self._pictures(),
            },
            "decoders": None if self.decoder is None else compare_decoders(self).as_dict(),
            "params": {k: v for k, v in asdict(self.params).items() if v is not None and k not in self.ignored},
            "ignored": list(self.ignored),
            "notes": list(self.notes),
        })


def json_safe(obj):
    """``obj`` with only JSON types: numpy scalars and arrays as Python values, a non-finite float as
    None (``json.dumps(..., allow_nan=False)`` accepts the result), bytes / complex / others as text."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    if hasattr(obj, "tolist") and hasattr(obj, "shape"):  # numpy arrays and torch tensors, torch never imported
        return json_safe(obj.tolist())
    if isinstance(obj, dict):
        return {str(json_safe(k)) if not isinstance(k, str) else k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [json_safe(v) for v in obj]
    if hasattr(obj, "value") and isinstance(getattr(obj, "value"), (str, int)):  # enums
        return obj.value
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "replace")
    return str(obj)


# What each decoder does when the reference's sampler asks for a frame past the end (torchcodec 0.13,
# decord 0.6, transformers 5.23 load_video(backend="pyav")).
_PAST_END = {
    "torchcodec": "torchcodec raises IndexError 'Invalid frame index={k} for streamIndex=0; must be less than {n}'",
    "decord": "decord raises IndexError 'Out of bound indices: [{k}]'",
    "pyav": "PyAV returns only the frames that exist, {got} for {want} indices, and the processor fails on the mismatch",
}


def _reference_index_failure(sampling: Sampling, view: DecoderView, past: list[int]) -> str:
    n = view.frames
    nxt = _PAST_END.get(view.decoder.value, "the decoder fails").format(
        k=past[0], n=n, got=len(sampling.indices) - len(past), want=len(sampling.indices))
    return (f"the reference itself fails here: {sampling.rule} picks frame index {past[0]} of a {n}-frame video "
            f"(indices go to {n - 1}; {sampling.steps[-1]}). This is transformers' own out-of-range index, not ours; "
            f"what it does next: {nxt}. Allowed: settings whose indices stay below {n}, e.g. another min_frames "
            f"or fps")


def _coerce_source(source) -> str:
    if isinstance(source, MediaInfo):
        return source.path
    if not isinstance(source, (str, os.PathLike)):
        raise VizError(f"media must be a file path, got {type(source).__name__}", field="media")
    return os.fspath(source)


def explain(
    source: str | os.PathLike | MediaInfo,
    model: str | Family = "qwen2.5-vl",
    pipeline: str | Pipeline = "official",
    *,
    budget: Budget | None = None,
    **params,
) -> Trace:
    """Every intermediate of the vision input pipeline for ``source``, as the reference computes it.

    ``params`` are the knobs of :data:`qwenvl_viz.params.PARAMS`; ``budget`` bounds the work
    (default :data:`~qwenvl_viz.params.DEFAULT_BUDGET`; ``Budget.unlimited()`` lifts it). Only
    :class:`VizError` leaves this function.

    >>> t = explain("assets/sample_clip.mp4", model="qwen2.5-vl", fps=2.0)   # doctest: +SKIP
    >>> t.sampling.nframes, t.patchify.grid_thw, tuple(t.pixel_values.shape)  # doctest: +SKIP
    (16, (8, 72, 40), (23040, 1176))
    """
    try:
        return _explain(source, model, pipeline, DEFAULT_BUDGET if budget is None else budget, params)
    except VizError:
        raise
    except MemoryError:
        raise VizError("out of memory while planning this request; lower the settings (max_pixels, fps, "
                       "patch_size) or the budget limits", field="budget") from None
    except Exception as e:  # a bug of ours: still a VizError for the caller, marked so tests can tell
        err = VizError(f"could not explain this input ({type(e).__name__}: {e}); this is a qwenvl-viz bug, "
                       "please report it with the settings", field="media")
        err.internal = True
        raise err from e


def _explain(source, model, pipeline, budget: Budget, params: dict) -> Trace:
    if not isinstance(budget, Budget):
        raise VizError(f"budget must be a qwenvl_viz.params.Budget, got {type(budget).__name__}", field="budget")
    given = {k: v for k, v in vocab.check(params).items() if v is not None}
    p = Params(**given)  # a knob not given (or None) takes its dataclass default
    base = get_profile(model)
    try:
        pipe = Pipeline(pipeline)
    except ValueError:
        raise VizError(
            f"unknown pipeline {pipeline!r}; allowed: {', '.join(x.value for x in Pipeline)}", field="pipeline"
        ) from None
    profile = base.with_sizes(p.patch_size, p.merge_size, p.temporal_patch_size)
    info = source if isinstance(source, MediaInfo) else media_stage.open_media(_coerce_source(source))
    notes: list[str] = []

    # Knobs this media / pipeline does not read: reported, and reset so they are not echoed as values.
    ignored = vocab.ignored(given, info.kind, pipe.value)
    notes.extend(vocab.ignored_note(n, info.kind, pipe.value) for n in ignored)
    p = vocab.replace_ignored(p, ignored)

    if info.kind == "image":
        exif_applied = pipe is Pipeline.PROCESSOR
        h, w = media_stage.exif_size(info) if exif_applied else (info.height, info.width)
        if info.exif_orientation not in (None, 1):
            notes.append(say("tr_exif_applied" if exif_applied else "tr_exif_not", o=info.exif_orientation))
        sampling = None
        nframes = 1
        view = None
    else:
        exif_applied = False
        view = decoder_view(info, p.decoder)
        if view.error:
            raise VizError(f"{view.label}: {view.error}", field="decoder")
        h, w = view.height, view.width
        sampling = sample_frames(
            profile, pipe, total_frames=view.frames, video_fps=view.fps, fps=p.fps, nframes=p.nframes,
            min_frames=p.min_frames, max_frames=p.max_frames, video_start=p.video_start, video_end=p.video_end,
        )
        nframes = sampling.nframes
        past = [k for k in sampling.indices if k >= view.frames]
        if past:
            raise VizError(_reference_index_failure(sampling, view, past), field="fps" if p.fps else "min_frames")
        view = view.sampled(sampling.indices)
        missing = [k for k, pic in zip(sampling.indices, view.pictures(sampling.indices)) if pic is None]
        if missing:
            raise VizError(
                f"{view.label}: sampled frames {missing[:6]} of the {view.frames} its metadata lists cannot be "
                f"decoded{f' (only {view.decodable} decode)' if view.decodable < view.frames else ''}: "
                f"{view.missing_error}. Try another decoder",
                field="decoder")
        notes.extend(f"{view.label}: {n}" for n in view.notes)
        if info.rotation:
            notes.append(
                f"display rotation {info.rotation} deg "
                + (f"applied by {view.label}: coded {info.coded_width}x{info.coded_height} -> displayed "
                   f"{info.width}x{info.height}" if view.rotation_applied
                   else f"NOT applied by {view.label}: frames as stored, {info.coded_width}x{info.coded_height}")
            )

    resize = plan_resize(
        profile, pipe, info.kind, h, w, nframes=nframes, min_pixels=p.min_pixels, max_pixels=p.max_pixels,
        total_pixels=p.total_pixels, cap_pixels_per_frame=p.cap_pixels_per_frame, model_seq_len=p.model_seq_len,
    )
    if resize.resizes > 1:
        notes.append(f"resized {resize.resizes} times: " + " -> ".join(
            f"{s.dst[0]}x{s.dst[1]} ({s.who})" for s in resize.steps if s.changed))
    # The budget, on sizes alone (grid_t x gh x gw rows): before the patch plan, the prompt, the rope.
    gt = 1 if info.kind == "image" else -(-nframes // profile.temporal_patch_size)
    rows = gt * (resize.height // profile.patch_size) * (resize.width // profile.patch_size)
    vocab.check_budget(budget, nframes=nframes, tokens=rows // profile.merge_size**2, rows=rows,
                       row_len=profile.row_len)
    patch = plan_patchify(profile, info.kind, nframes, resize.height, resize.width)
    item = VisionInput(
        kind=info.kind,
        grid_thw=patch.grid_thw,
        frame_indices=sampling.indices if sampling else (),
        video_fps=info.fps,
        sample_fps=sampling.sample_fps if sampling else None,
    )
    text = p.prompt if p.prompt is not None else DEFAULT_PROMPTS[info.kind]
    prompt = build_prompt(
        profile, [item], text, qwen3_outer_wrapper=p.qwen3_outer_wrapper, tokenizer_dir=p.tokenizer_dir
    )
    rope = compute_rope(profile, prompt, [item], text_resume=p.text_resume)
    if getattr(prompt, "note", None):
        notes.append(prompt.note)
    return Trace(
        model=profile.family,
        pipeline=pipe,
        profile=profile,
        params=p,
        media=info,
        exif_applied=exif_applied,
        input_height=h,
        input_width=w,
        sampling=sampling,
        resize=resize,
        patchify=patch,
        prompt=prompt,
        rope=rope,
        notes=tuple(notes),
        ignored=ignored,
        decoder=view,
        budget=budget,
    )


@dataclass(frozen=True)
class LedgerRow:
    stage: str  # key into the UI's word table: raw, sampled, resized, pixel_values, grid_thw, tokens, time, prompt
    shape: str
    formula: str


def ledger(trace: Trace) -> list[LedgerRow]:
    """The shape ledger: raw -> sampled -> resized -> pixel_values -> grid -> tokens, with formulas."""
    t = trace
    pf, pt, rz, s = t.profile, t.patchify, t.resize, t.sampling
    p, m, tp = pf.patch_size, pf.merge_size, pf.temporal_patch_size
    gt, gh, gw = pt.grid_thw
    rows: list[LedgerRow] = []
    if s is None:
        rows.append(LedgerRow("raw", f"[1, 3, {t.media.height}, {t.media.width}]",
                              f"{t.media.container}, mode {t.media.mode}"))
        nf = 1
    else:
        v = t.decoder
        n, fps = (v.frames, v.fps) if v is not None else (t.media.frames, t.media.fps)
        rows.append(LedgerRow("raw", f"[{n}, 3, {t.input_height}, {t.input_width}]",
                              f"{n} frames @ {fps:.3f} fps = {n / fps:.2f} s"
                              + (f" ({v.label}: {v.count_source})" if v is not None else "")))
        rows.append(LedgerRow("sampled", f"[{s.nframes}, 3, {t.input_height}, {t.input_width}]",
                              f"{s.formula}; sample_fps = {s.nframes}/{s.total_frames} x {s.video_fps:.4g} = {s.sample_fps:.4f}"))
        nf = s.nframes
    rows.append(LedgerRow("resized", f"[{nf}, 3, {rz.height}, {rz.width}]", rz.deciding_step.formula))
    rows.append(LedgerRow(
        "pixel_values", f"[{pt.rows}, {pt.row_len}]",
        f"{gt}x{gh}x{gw} patches x (3*{tp}*{p}*{p} = {pt.row_len}); {pt.padding_note()}"))
    rows.append(LedgerRow(
        "grid_thw", f"[{gt}, {gh}, {gw}]",
        f"[{pt.nframes + (pt.pad_frames if t.kind == 'video' else 0)}/{tp}, {rz.height}/{p}, {rz.width}/{p}]"
        if t.kind == "video" else f"[1, {rz.height}/{p}, {rz.width}/{p}]"))
    rows.append(LedgerRow("tokens", f"{pt.num_tokens}", f"{pt.rows} / ({m}*{m}) = {pt.num_tokens} vision tokens"))
    if t.prompt.second_per_grid_ts is not None:
        rows.append(LedgerRow("time", f"{t.prompt.second_per_grid_ts:.4f} s/grid",
                              f"second_per_grid_ts = {tp} / {s.sample_fps:.4f} = {t.prompt.second_per_grid_ts:.4f}"))
    if t.prompt.timestamps:
        rows.append(LedgerRow("time", f"{len(t.prompt.timestamps)} timestamps",
                              " ".join(f"<{x:.1f} seconds>" for x in t.prompt.timestamps)))
    rows.append(LedgerRow("prompt", f"{len(t.prompt.input_ids)} tokens",
                          f"rope_deltas = {t.rope.rope_deltas}"))
    return rows


CURVE_POINTS = 40


def token_curve(trace: Trace, points: int = CURVE_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """``(max_pixels, vision tokens)`` for the same media and settings, max_pixels swept on a log scale.

    Each point is the library's own resize plan (``plan_resize`` + ``plan_patchify``); settings the
    reference rejects (min_pixels above max_pixels, a side shrunk to 0) are left out.
    """
    p, pf = trace.params, trace.profile
    f2 = pf.factor**2
    lo = IMAGE_MIN_TOKEN_NUM * f2
    hi = max(IMAGE_MAX_TOKEN_NUM * f2, 4 * float(trace.resize.max_pixels))
    xs = np.unique(np.geomspace(lo, hi, points).round())
    nframes = trace.sampling.nframes if trace.sampling else 1
    out_x, out_y = [], []
    for x in xs.tolist():
        try:
            rz = plan_resize(pf, trace.pipeline, trace.kind, trace.input_height, trace.input_width,
                             nframes=nframes, min_pixels=p.min_pixels, max_pixels=x, total_pixels=p.total_pixels,
                             cap_pixels_per_frame=p.cap_pixels_per_frame, model_seq_len=p.model_seq_len)
        except VizError:
            continue
        out_x.append(x)
        out_y.append(plan_patchify(pf, trace.kind, nframes, rz.height, rz.width).num_tokens)
    return np.asarray(out_x, dtype=np.float64), np.asarray(out_y, dtype=np.int64)
