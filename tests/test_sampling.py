"""Frame sampling parity: qwen-vl-utils 0.0.14 (official) and transformers 5.23 sample_frames (processor)."""

import math

import pytest
import torch

from qwenvl_viz import VizError, get_profile
from qwenvl_viz.profiles import Pipeline
from qwenvl_viz.sampling import sample_frames

qvu = pytest.importorskip("qwen_vl_utils.vision_process")

# (total_frames, video_fps, request) — short, long, odd, high-fps, trimmed, min/max-clamped clips.
OFFICIAL_CASES = [
    (249, 30.0, {"fps": 2.0}),
    (249, 30.0, {"fps": 1.0}),
    (249, 30.0, {"fps": 4.0}),
    (249, 30.0, {"nframes": 7}),
    (249, 30.0, {"nframes": 5}),
    (31, 30.0, {"fps": 2.0}),
    (3, 30.0, {"fps": 2.0}),
    (240, 120.0, {"fps": 2.0}),
    (108000, 30.0, {"fps": 2.0}),
    (900, 29.97, {"fps": 2.0, "max_frames": 15}),
    (900, 25.0, {"fps": 0.1, "min_frames": 9}),
    (225, 30.0, {"fps": 2.0}),
    (249, 30.0, {"fps": 2.0, "video_start": 1.0, "video_end": 5.5}),
    (249, 30.0, {"fps": 2.0, "video_start": 2.01}),
    (249, 30.0, {"nframes": 8, "video_end": 3.0}),
    (1800, 59.94, {"fps": 3.5}),
]


def _qvu(total, video_fps, req):
    start, end, n_total = qvu.calculate_video_frame_range(req, total, video_fps)
    n = qvu.smart_nframes(req, total_frames=n_total, video_fps=video_fps)
    idx = torch.linspace(start, end, n).round().long().tolist()
    return n, idx, n / max(n_total, 1e-6) * video_fps


@pytest.mark.parametrize("total,video_fps,req", OFFICIAL_CASES)
@pytest.mark.parametrize("model", ["qwen2.5-vl", "qwen3-vl"])
def test_official_sampling_equals_qwen_vl_utils(total, video_fps, req, model):
    n, idx, sfps = _qvu(total, video_fps, req)
    s = sample_frames(get_profile(model), Pipeline.OFFICIAL, total_frames=total, video_fps=video_fps, **req)
    assert s.nframes == n
    assert list(s.indices) == idx
    assert s.sample_fps == sfps


PROCESSOR_CASES = [
    (249, 30.0, {"fps": 2.0}),
    (249, 30.0, {"fps": 1.0}),
    (225, 30.0, {"fps": 2.0}),
    (31, 30.0, {"fps": 2.0}),
    (240, 120.0, {"fps": 2.0}),
    (108000, 30.0, {"fps": 2.0}),
    (249, 30.0, {"nframes": 9}),
    (900, 29.97, {"fps": 3.0, "max_frames": 15}),
]


@pytest.mark.parametrize("total,video_fps,req", PROCESSOR_CASES)
@pytest.mark.parametrize("model", ["qwen2-vl", "qwen2.5-vl", "qwen3-vl"])
def test_processor_sampling_equals_transformers(total, video_fps, req, model):
    from transformers import Qwen2VLVideoProcessor, Qwen3VLVideoProcessor
    from transformers.video_utils import VideoMetadata

    if model == "qwen3-vl":
        # Qwen3's sample_frames reads min/max frames from the instance, not the call.
        proc = Qwen3VLVideoProcessor(**{k: v for k, v in req.items() if k in ("min_frames", "max_frames")})
        kwargs = {"fps": req.get("fps"), "num_frames": req.get("nframes")}
    else:
        proc = Qwen2VLVideoProcessor()
        kwargs = {"fps": req.get("fps"), "num_frames": req.get("nframes"),
                  "min_frames": req.get("min_frames"), "max_frames": req.get("max_frames")}
    if kwargs["num_frames"] is not None:
        kwargs["fps"] = None
    meta = VideoMetadata(total_num_frames=total, fps=video_fps)
    ref = [int(i) for i in proc.sample_frames(meta, **kwargs)]
    s = sample_frames(get_profile(model), Pipeline.PROCESSOR, total_frames=total, video_fps=video_fps, **req)
    assert list(s.indices) == ref
    meta.frames_indices = ref
    assert s.sample_fps == pytest.approx(meta.sampled_fps, rel=1e-15)


def test_worked_numbers_249_frames_at_30fps():
    s = sample_frames(get_profile("qwen2.5-vl"), Pipeline.OFFICIAL, total_frames=249, video_fps=30.0, fps=2.0)
    assert s.nframes == 16
    assert round(s.sample_fps, 4) == 1.9277
    assert s.decided_by == "fps x duration"
    assert "= 16" in s.formula


def test_processor_and_official_pick_different_frames_for_qwen2():
    """Known divergence: transformers' arange rule vs qwen-vl-utils' linspace (pinned)."""
    p = get_profile("qwen2-vl")
    off = sample_frames(p, Pipeline.OFFICIAL, total_frames=249, video_fps=30.0, fps=2.0)
    proc = sample_frames(p, Pipeline.PROCESSOR, total_frames=249, video_fps=30.0, fps=2.0)
    assert off.nframes == proc.nframes == 16
    assert off.indices[-1] == 248 and proc.indices[-1] < 248
    assert off.indices != proc.indices


def test_qwen3_processor_allows_odd_counts_where_official_floors_to_even():
    p = get_profile("qwen3-vl")
    proc = sample_frames(p, Pipeline.PROCESSOR, total_frames=225, video_fps=30.0, fps=2.0)
    off = sample_frames(p, Pipeline.OFFICIAL, total_frames=225, video_fps=30.0, fps=2.0)
    assert proc.nframes == 15 and off.nframes == 14


@pytest.mark.parametrize(
    "kwargs,field,words",
    [
        ({"fps": 0}, "fps", "positive"),
        ({"fps": -1.0}, "fps", "positive"),
        ({"fps": float("nan")}, "fps", "positive"),
        ({"fps": 2.0, "nframes": 8}, "fps", "mutually exclusive"),
        ({"nframes": 500}, "nframes", "[2, 249]"),
        ({"video_start": 5.0, "video_end": 4.0}, "video_start", "empty range"),
        ({"video_start": 30.0}, "video_start", "empty range"),
        ({"min_frames": 10, "max_frames": 4}, "min_frames", "min_frames must be <= max_frames"),
    ],
)
def test_bad_sampling_requests_say_what_and_what_is_allowed(kwargs, field, words):
    with pytest.raises(VizError) as e:
        sample_frames(get_profile("qwen2.5-vl"), Pipeline.OFFICIAL, total_frames=249, video_fps=30.0, **kwargs)
    assert e.value.field == field
    assert words in str(e.value)


def test_one_frame_video_is_rejected_with_advice():
    with pytest.raises(VizError, match="1 frame.*as an image"):
        sample_frames(get_profile("qwen2-vl"), Pipeline.OFFICIAL, total_frames=1, video_fps=30.0, fps=2.0)


def test_trimming_is_refused_on_the_processor_pipeline():
    with pytest.raises(VizError, match="official pipeline"):
        sample_frames(get_profile("qwen2-vl"), Pipeline.PROCESSOR, total_frames=249, video_fps=30.0, video_start=1.0)


def test_clamp_that_decided_the_count_is_reported():
    p = get_profile("qwen2.5-vl")
    cases = [
        (dict(total_frames=60, video_fps=120.0, fps=2.0), "min_frames"),
        (dict(total_frames=108000, video_fps=30.0, fps=2.0), "max_frames"),
        (dict(total_frames=249, video_fps=30.0, nframes=8), "nframes"),
    ]
    for kw, expected in cases:
        assert sample_frames(p, Pipeline.OFFICIAL, **kw).decided_by == expected
    assert math.isclose(sample_frames(p, Pipeline.OFFICIAL, total_frames=108000, video_fps=30.0).nframes, 768)
