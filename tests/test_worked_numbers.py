"""The group-meeting notes' worked numbers, through explain() AND the reference stack in the same test."""

from pathlib import Path

import numpy as np
import pytest

import oracles
from qwenvl_viz import explain

ASSETS = Path(__file__).resolve().parent.parent / "assets"
CLIP = ASSETS / "sample_clip.mp4"

pytest.importorskip("qwen_vl_utils")


def test_sample_clip_is_the_one_in_the_notes():
    t = explain(CLIP)
    m = t.media
    assert (m.width, m.height, m.fps, m.frames) == (720, 1280, 30.0, 249)


def test_qwen25_sample_clip_249_frames_at_30fps():
    t = explain(CLIP, model="qwen2.5-vl", fps=2.0)
    ref = oracles.official(CLIP, "video", "qwen2.5-vl", fps=2.0)
    assert t.sampling.nframes == 16 == len(ref["indices"])
    assert list(t.sampling.indices) == ref["indices"]
    assert round(t.sampling.sample_fps, 4) == 1.9277
    assert (t.resize.height, t.resize.width) == (1008, 560) == ref["resized"]
    assert tuple(t.pixel_values.shape) == (23040, 1176) == tuple(ref["pixel_values"].shape)
    assert t.patchify.grid_thw == (8, 72, 40) == tuple(ref["grid_thw"][0].tolist())
    assert round(t.prompt.second_per_grid_ts, 4) == 1.0375
    assert t.prompt.second_per_grid_ts == pytest.approx(2 / ref["sample_fps"])
    assert t.num_vision_tokens == 5760


def test_qwen3_sample_clip_timestamps_and_sizes():
    t = explain(CLIP, model="qwen3-vl", fps=2.0)
    ref = oracles.official(CLIP, "video", "qwen3-vl", fps=2.0)
    assert (t.resize.height, t.resize.width) == (1152, 640) == ref["resized"]
    assert t.patchify.grid_thw == (8, 72, 40)
    assert tuple(t.patchify.shape) == (23040, 1536)
    assert [f"{x:.1f}" for x in t.prompt.timestamps] == ["0.3", "1.4", "2.5", "3.6", "4.7", "5.8", "6.9", "8.0"]


def test_392x224_image(tmp_path):
    from PIL import Image

    path = tmp_path / "img392x224.png"
    Image.new("RGB", (392, 224), (10, 120, 200)).save(path)
    t = explain(path, model="qwen2.5-vl")
    ref = oracles.official(path, "image", "qwen2.5-vl")
    assert tuple(t.pixel_values.shape) == (448, 1176) == tuple(ref["pixel_values"].shape)
    assert t.patchify.grid_thw == (1, 16, 28) == tuple(ref["grid_thw"][0].tolist())
    t3 = explain(path, model="qwen3-vl")
    assert tuple(t3.patchify.shape) == (336, 1536) and t3.patchify.grid_thw == (1, 14, 24)


@pytest.mark.parametrize("model", ["qwen2.5-vl", "qwen3-vl"])
@pytest.mark.parametrize("media", ["sample_clip.mp4", "sample_image.jpg"])
def test_token_curve_points_are_what_explain_gives(model, media):
    from qwenvl_viz.trace import token_curve

    path = str(ASSETS / media)
    trace = explain(path, model=model)
    xs, ys = token_curve(trace)
    assert len(xs) >= 20 and (np.diff(ys) >= 0).all()  # more pixels never means fewer tokens
    for i in (0, len(xs) // 2, len(xs) - 1):
        assert explain(path, model=model, max_pixels=float(xs[i])).num_vision_tokens == ys[i]
    # the current setting lies on the curve
    here = float(trace.resize.max_pixels)
    if xs[0] <= here <= xs[-1]:
        assert ys[np.searchsorted(xs, here, side="right") - 1] <= trace.num_vision_tokens
