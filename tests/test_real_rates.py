"""Frame rates as real files carry them, against the real backends: NTSC rates (30000/1001 in MP4 and
AVI time bases), and animated GIFs, which decord 0.6.0 cannot count (its FFmpeg gives a GIF no frame
count and no rate: ``VideoReader::GetFrameCount`` fails "due to broken metadata")."""

from __future__ import annotations

import pytest

from media_factory import media_files  # noqa: F401  (pytest fixture)
from qwenvl_viz import VizError, explain
from qwenvl_viz.decoders import decoder_view
from qwenvl_viz.media import open_media

decord = pytest.importorskip("decord")
torchcodec_decoders = pytest.importorskip("torchcodec.decoders")

NTSC = [("mp4", None), ("avi", None), ("mkv", None)]


@pytest.mark.parametrize("ext,codec", NTSC)
def test_ntsc_rate_equals_each_backend_to_the_last_bit(media_files, ext, codec):
    path = media_files.video(ext, width=64, height=48, frames=45, fps=30000 / 1001)
    info = open_media(path)
    tc = torchcodec_decoders.VideoDecoder(str(path)).metadata
    view = decoder_view(info, "torchcodec")
    assert (view.frames, view.fps) == (tc.num_frames, tc.average_fps)  # the same float, not a neighbour
    vr = decord.VideoReader(str(path))
    view = decoder_view(info, "decord")
    assert (view.frames, view.fps) == (len(vr), vr.get_avg_fps())


def test_ntsc_sample_fps_equals_qwen_vl_utils_with_torchcodec(media_files, monkeypatch):
    from qwen_vl_utils import vision_process

    from oracles import official

    path = media_files.video("mp4", width=64, height=48, frames=45, fps=30000 / 1001)
    monkeypatch.setattr(vision_process, "get_video_reader_backend", lambda: "torchcodec")
    ref = official(path, "video", "qwen2.5-vl", fps=2.0)
    ours = explain(path, model="qwen2.5-vl", fps=2.0, decoder="torchcodec")
    assert ours.sampling.sample_fps == ref["sample_fps"] and list(ours.sampling.indices) == ref["indices"]


def test_an_animated_gif_is_read_by_torchcodec_and_refused_by_decord_as_decord_refuses_it(media_files):
    path = media_files.video("gif", width=64, height=48, frames=12, fps=10)
    with pytest.raises(decord.DECORDError, match="broken metadata"):
        len(decord.VideoReader(str(path)))
    view = decoder_view(open_media(path), "decord")
    assert view.error and "broken metadata" in view.error
    with pytest.raises(VizError, match="decord"):
        explain(path, decoder="decord").pixel_values
    tc = torchcodec_decoders.VideoDecoder(str(path)).metadata
    view = decoder_view(open_media(path), "torchcodec")
    assert (view.frames, view.fps, view.error) == (tc.num_frames, tc.average_fps, None)
