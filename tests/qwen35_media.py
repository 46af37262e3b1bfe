"""Shared by the Qwen3.5-style parity tests: small media and the traces the transformers processor is
compared with (its 5.23 choices: the outer video wrapper kept, text resumed at s + max(h, w) / m)."""

from __future__ import annotations

import functools

import pytest

from media_factory import make_image, make_video
from qwenvl_viz import explain

# transformers 5.23's processor keeps the outer video wrapper and resumes text at s + max(h, w) / m
HF = dict(text_resume="transformers", qwen3_outer_wrapper=True)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    root = tmp_path_factory.mktemp("qwen35")
    return {"image": make_image(root / "i.png", width=84, height=56),
            "video": make_video(root / "v.mp4", width=64, height=48, fps=4, frames=8)}


@functools.lru_cache(maxsize=None)
def traces(path: str, model: str):
    return explain(path, model=model, **HF)


def processor_inputs(t) -> dict:
    """The processor's arguments for trace ``t``: our template text and seeded random frames of our
    resized size, with the sampling's metadata (frames already sampled)."""
    import torch
    from transformers.video_utils import VideoMetadata

    gen = torch.Generator().manual_seed(0)
    h, w = t.resize.height, t.resize.width
    kwargs = dict(text=[t.prompt.template_text], return_tensors="pt")
    if t.kind == "image":
        kwargs["images"] = [torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=gen)]
    else:
        s = t.sampling
        kwargs.update(videos=[torch.randint(0, 256, (s.nframes, 3, h, w), dtype=torch.uint8, generator=gen)],
                      video_metadata=[VideoMetadata(fps=s.video_fps, total_num_frames=s.total_frames,
                                                    frames_indices=list(s.indices))],
                      do_sample_frames=False)
    return kwargs
