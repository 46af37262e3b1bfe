"""The reference stack, run the way the model cards run it. Tests only (imports the oracles).

``official(...)``: qwen-vl-utils 0.0.14 ``process_vision_info`` then the transformers 5.23 processor
(Qwen3: ``do_resize=False`` and qvu's metadata, as the Qwen3-VL recipe). ``processor(...)``: the
transformers processor alone (its own frame sampling and resize) on the decoded clip.
``load_video_processor(...)``: transformers' ``load_video`` with a backend, then its video processor.
"""

from __future__ import annotations

import numpy as np
import torch

HUB_SIZES = {  # Hub preprocessor_config.json / video_preprocessor_config.json budgets
    "qwen2-vl": ({"shortest_edge": 3136, "longest_edge": 12845056}, {"shortest_edge": 3136, "longest_edge": 12845056}),
    "qwen2.5-vl": ({"shortest_edge": 3136, "longest_edge": 12845056}, {"shortest_edge": 3136, "longest_edge": 12845056}),
    "qwen3-vl": ({"shortest_edge": 65536, "longest_edge": 16777216}, {"shortest_edge": 4096, "longest_edge": 25165824}),
}


def _family_kwargs(model: str) -> dict:
    if model == "qwen3-vl":
        return dict(patch_size=16, image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5])
    return dict(patch_size=14)


def image_processor(model: str, size: dict | None = None):
    from transformers import Qwen2VLImageProcessor

    return Qwen2VLImageProcessor(size=size or HUB_SIZES[model][0], **_family_kwargs(model))


def video_processor(model: str, size: dict | None = None, **kw):
    from transformers import Qwen2VLVideoProcessor, Qwen3VLVideoProcessor

    cls = Qwen3VLVideoProcessor if model == "qwen3-vl" else Qwen2VLVideoProcessor
    return cls(size=size or HUB_SIZES[model][1], **_family_kwargs(model), **kw)


def official(path, kind: str, model: str, **ele) -> dict:
    """qwen-vl-utils -> processor. Returns pixel_values, grid_thw, and (videos) indices, sample_fps."""
    from qwen_vl_utils import process_vision_info

    patch = 16 if model == "qwen3-vl" else 14
    msgs = [{"role": "user", "content": [{"type": kind, kind: str(path), **ele}]}]
    images, videos, kwargs = process_vision_info(
        msgs, return_video_kwargs=True, return_video_metadata=True, image_patch_size=patch
    )
    qwen3 = model == "qwen3-vl"
    if kind == "image":
        out = image_processor(model)(images=images, do_resize=not qwen3, return_tensors="pt")
        return {"pixel_values": out["pixel_values"], "grid_thw": out["image_grid_thw"], "image": images[0]}
    video, meta = videos[0]
    out = video_processor(model)(
        videos=[video], video_metadata=[meta], do_sample_frames=False, do_resize=not qwen3,
        cap_pixels_per_frame=False, return_tensors="pt",
    )
    idx = meta["frames_indices"]
    idx = idx.tolist() if isinstance(idx, torch.Tensor) else list(idx)
    return {
        "pixel_values": out["pixel_values_videos"],
        "grid_thw": out["video_grid_thw"],
        "indices": idx,
        "sample_fps": len(idx) / meta["total_num_frames"] * meta["fps"],
        "video_fps": meta["fps"],
        "resized": tuple(video.shape[-2:]),
    }


def processor(path, kind: str, model: str, frames: np.ndarray | None = None, video_fps: float | None = None,
              fps: float = 2.0, nframes: int | None = None, cap_pixels_per_frame: bool = False) -> dict:
    """The transformers processor alone: ``load_image`` + image processor, or sample_frames on all frames."""
    from transformers.image_utils import load_image
    from transformers.video_utils import VideoMetadata

    if kind == "image":
        out = image_processor(model)(images=[load_image(str(path))], return_tensors="pt")
        return {"pixel_values": out["pixel_values"], "grid_thw": out["image_grid_thw"]}
    video = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)  # (T, C, H, W) uint8
    meta = VideoMetadata(total_num_frames=len(frames), fps=video_fps)
    vp = video_processor(model)
    kwargs = {"num_frames": nframes, "fps": None} if nframes is not None else {"fps": fps}
    out = vp(videos=[video], video_metadata=[meta], do_sample_frames=True, cap_pixels_per_frame=cap_pixels_per_frame,
             return_tensors="pt", **kwargs)
    return {"pixel_values": out["pixel_values_videos"], "grid_thw": out["video_grid_thw"]}


def load_video_processor(path, model: str, backend: str, fps: float = 2.0):
    """(processor outputs, metadata): transformers' ``load_video(backend=...)`` sampling with the video
    processor's own ``sample_frames``, then that processor; a backend's failure is raised as it comes."""
    from functools import partial

    from transformers.video_utils import load_video

    vp = video_processor(model)
    video, meta = load_video(str(path), backend=backend, sample_indices_fn=partial(vp.sample_frames, fps=fps))
    video = torch.as_tensor(np.asarray(video))
    if video.shape[-1] == 3:
        video = video.permute(0, 3, 1, 2)
    if len(video) != len(meta.frames_indices):
        raise IndexError(f"{len(video)} frames for {len(meta.frames_indices)} indices")
    out = vp(videos=[video], video_metadata=[meta], do_sample_frames=False, return_tensors="pt")
    return out, meta
