"""HEVC, AV1 and packet timestamps out of order or missing: each backend's count, fps, pictures and
failures, against torchcodec 0.13.0, decord 0.6.0 and transformers' load_video(backend="pyav"), on
the clips of ``media_factory.CODEC_CORPUS``.

Both pipelines run the real reference in the same test, as tests/test_decoders.py does for the main
corpus. Where a backend cannot read a clip, the real one is made to fail here too and the trace must
carry that backend's own message (``FAILS``). Pixels are compared exactly: every decoder below gives
the same bits in PyAV's FFmpeg, Debian's 5.1 and decord's 4.1 (``test_pixels_are_bit_exact_across_builds``).
"""

from __future__ import annotations

import dataclasses
import doctest
import functools
import shutil
import subprocess

import numpy as np
import pytest
import torch

from media_factory import CODEC_CORPUS, _x265, frame_index_of, media_files  # noqa: F401  (pytest fixture)
from oracles import load_video_processor, official
from qwenvl_viz import VizError, explain
from qwenvl_viz import media as media_stage
from qwenvl_viz.decoders import Decoder, decoder_view
from qwenvl_viz.seeks import PacketOrder, replay_torchcodec, torchcodec_index

decord = pytest.importorskip("decord")
torchcodec_decoders = pytest.importorskip("torchcodec.decoders")

CLIPS = list(CODEC_CORPUS)
MODELS = ["qwen2-vl", "qwen2.5-vl", "qwen3-vl"]
BACKENDS = [d.value for d in Decoder]
ENCODER = {"hevc_bframes_mp4": "libx265", "hevc_bframes_avi": "libx265", "av1_mp4": "libaom-av1"}  # the others use encoders every build has

# (clip, backend) -> (what the trace's error says, what the real backend raises). Measured:
# - decord 0.6.0 bundles FFmpeg 4.1 without libdav1d / libaom: no AV1 decoder, so no video stream;
# - a raw elementary stream has no packet timestamps, no frame count and no duration: torchcodec's scan
#   cannot seek back to the start, decord cannot size the video, and load_video's sampler gets
#   total_num_frames=0 (an MPEG program stream states no frame count either).
_NO_COUNT = ("total_num_frames=0", "division by zero")  # Qwen2-VL / Qwen2.5-VL's sample_frames
FAILS = {
    ("av1_mp4", "decord"): ("cannot find video stream with wanted index: -1",) * 2,
    ("h264_raw", "torchcodec"): ("Could not seek file to pts=0: Operation not permitted",) * 2,
    ("h264_raw", "decord"): ("Failed to measure duration/frame-count due to broken metadata",) * 2,
    ("h264_raw", "pyav"): _NO_COUNT,
    ("mpeg2_bframes_mpg", "pyav"): _NO_COUNT,
}


@functools.cache
def _ffmpeg_encoders() -> str:
    return subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, text=True).stdout


def _decord_pictures(path, idx, want) -> list[int]:
    """decord's pictures for ``idx``; run again (up to 8 times) while they differ from ``want``: its worker
    thread may drop a picture on a loaded machine, while a wrong replay differs in every run."""
    for _ in range(8):
        got = [frame_index_of(f) for f in decord.VideoReader(str(path)).get_batch(idx).asnumpy()]
        if got == list(want):
            break
    return got


def _clip(media_files, name):
    encoder = ENCODER.get(name)
    if encoder and f" {encoder} " not in _ffmpeg_encoders():
        pytest.skip(f"this ffmpeg has no {encoder} encoder to write {name}")
    return media_files.corpus(name)


def _tc(path):
    return torchcodec_decoders.VideoDecoder(str(path))


def _pyav_header_frames(path) -> int:
    import av

    with av.open(str(path)) as c:
        return c.streams.video[0].frames


def _read_all(backend: str, path, count: int | None = None) -> np.ndarray:
    """The first ``count`` frames (default: all it lists) as the real backend returns them in order,
    uint8 ``[n, H, W, 3]``; raises as it does."""
    if backend == "torchcodec":
        dec = _tc(path)
        idx = list(range(dec.metadata.num_frames if count is None else count))
        return dec.get_frames_at(indices=idx).data.permute(0, 2, 3, 1).numpy()
    if backend == "decord":
        vr = decord.VideoReader(str(path))
        return vr.get_batch(list(range(len(vr) if count is None else count))).asnumpy()
    from transformers.video_utils import load_video

    n = _pyav_header_frames(path) if count is None else count
    video, _ = load_video(str(path), backend="pyav", sample_indices_fn=lambda metadata, **kw: np.arange(n))
    return np.asarray(video)


# --- which backend reads which clip --------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", CLIPS)
def test_each_backend_reads_or_fails_as_the_real_one(media_files, name, backend):
    """A clip a backend cannot read fails here with that backend's message; every other one is read."""
    path = _clip(media_files, name)
    view = decoder_view(media_stage.open_media(path), backend)
    if (name, backend) not in FAILS:
        assert view.error is None
        assert len(_read_all(backend, path, view.decodable)) == view.decodable <= view.frames
        return
    ours, real = FAILS[name, backend]
    assert view.error and ours in view.error
    if backend == "pyav":  # load_video itself, with the sampler the processor pipeline hands it
        with pytest.raises(ZeroDivisionError, match=real):
            load_video_processor(path, "qwen2.5-vl", backend)
    else:
        with pytest.raises(Exception, match=real):
            _read_all(backend, path)
    with pytest.raises(VizError) as err:
        explain(path, fps=2.0, decoder=backend).pixel_values
    assert ours in str(err.value) and str(err.value).startswith(f"{backend}: ")


def test_decoders_report_names_each_failing_backend(media_files):
    """The decoders section of the JSON keeps each backend's failure beside the one that reads."""
    path = _clip(media_files, "av1_mp4")
    rows = {r["decoder"]: r for r in explain(path, fps=2.0, decoder="torchcodec").summary()["decoders"]["backends"]}
    assert rows["torchcodec"]["error"] is None and rows["pyav"]["error"] is None
    assert "no av1 decoder" in rows["decord"]["error"]


# --- metadata and pictures of the clips that are read ------------------------------------------------


@pytest.mark.parametrize("name", CLIPS)
def test_metadata_equals_each_backend(media_files, name):
    path = _clip(media_files, name)
    info = media_stage.open_media(path)
    if ("torchcodec" not in [b for (n, b) in FAILS if n == name]):
        tc = _tc(path).metadata
        view = decoder_view(info, "torchcodec")
        assert (view.frames, view.fps, view.width, view.height) == (tc.num_frames, tc.average_fps, tc.width, tc.height)
    if (name, "decord") not in FAILS:
        vr = decord.VideoReader(str(path))
        view = decoder_view(info, "decord")
        assert (view.frames, view.fps, (view.height, view.width)) == (len(vr), vr.get_avg_fps(), vr[0].shape[:2])
    import av

    with av.open(str(path)) as c:
        s = c.streams.video[0]
        view = decoder_view(info, "pyav")
        assert view.frames == s.frames and view.fps == float(s.average_rate)


@pytest.mark.parametrize("name", [n for n in CLIPS if (n, "torchcodec") not in FAILS])
def test_every_frame_is_the_picture_torchcodec_returns(media_files, name):
    path = _clip(media_files, name)
    info = media_stage.open_media(path)
    view = decoder_view(info, "torchcodec")
    idx = list(range(view.decodable))
    ref = _tc(path).get_frames_at(indices=idx).data.permute(0, 2, 3, 1).numpy()
    ours = media_stage.read_frames(info, view.pictures(idx))
    assert [frame_index_of(f) for f in ours] == [frame_index_of(f) for f in ref] == idx
    assert np.array_equal(ours, ref)
    if view.decodable < view.frames:  # B-frames: the last pictures come out at the drain without a pts
        # H.264 in AVI (replayed): in order it stops there, though a seek reaches every index;
        # MPEG-2 in .mpg: a seek to the last frame finds nothing
        request = list(range(view.frames)) if view.seeks is not None else [view.frames - 1]
        with pytest.raises(RuntimeError, match="no more frames left to decode"):
            _tc(path).get_frames_at(indices=request)
        assert view.seeks is None or view.pictures(request)[view.decodable] is None


def test_h264_bframes_in_avi_is_read_torchcodec_replayed_and_decord_flagged(media_files):
    """Packet pts in decode order: PyAV (ours) counts pictures as the decoder outputs them, so every frame
    is read; torchcodec's seeks are replayed (picture k - 2 after a seek, x264's B-pyramid), decord's too
    (no packet has a pts there: every seek lands on the first keyframe)."""
    path = _clip(media_files, "h264_bframes_avi")
    info = media_stage.open_media(path)
    assert [frame_index_of(f) for f in media_stage.read_frames(info, [0, 1, 2, 30, 59])] == [0, 1, 2, 30, 59]
    tc, de = decoder_view(info, "torchcodec"), decoder_view(info, "decord")
    assert tc.exact and (tc.decodable, de.decodable, info.frames) == (58, 60, 60)
    real = [frame_index_of(f) for f in _tc(path).get_frames_at(indices=[0, 20, 39, 59]).data.permute(0, 2, 3, 1).numpy()]
    assert real == tc.pictures([0, 20, 39, 59]) == [0, 18, 37, 57]  # measured: picture k - 2 after a seek
    view = de.sampled([0, 30, 59])
    got = _decord_pictures(path, [0, 30, 59], view.returned)
    assert view.exact and list(view.returned) == got == [0, 30, 27]  # frame 59: a seek to keyframe 0, 26 skipped


def test_hevc_bframes_in_avi_is_read_torchcodec_replayed_after_a_cra_and_decord_replayed(media_files):
    """x265 in AVI, open GOPs (CRAs at decode positions 17 and 37, pictures 20 and 40, each with 3 RASL
    pictures): like H.264 there, torchcodec returns picture k - 2 after a seek to the first keyframe and stops
    2 short read in order; after a seek to a CRA its decoder skips the RASL pictures, so the first picture out
    is the CRA's. decord never seeks past the first keyframe (no pts), so its replay is H.264's."""
    path = _clip(media_files, "hevc_bframes_avi")
    info = media_stage.open_media(path)
    assert [frame_index_of(f) for f in media_stage.read_frames(info, [0, 1, 2, 30, 59])] == [0, 1, 2, 30, 59]
    tc, de = decoder_view(info, "torchcodec"), decoder_view(info, "decord")
    assert (tc.decodable, de.decodable, info.frames) == (58, 60, 60)
    assert tc.seeks.key_picture == (0, 20, 40)  # packets 18-20 and 38-40 are RASL
    for idx in ([0, 3, 14], [0, 20, 39, 59], [16, 20, 22]):  # the last two: the reference's fps=2 request, and
        view = tc.sampled(idx)  # one whose seeks to the CRA at 17 return picture 20 twice
        real = [frame_index_of(f) for f in _tc(path).get_frames_at(indices=idx).data.permute(0, 2, 3, 1).numpy()]
        assert view.exact and list(view.returned) == real == tc.pictures(idx), idx
    assert tc.pictures([16, 20, 22]) == [14, 20, 20]
    view = de.sampled([0, 21, 59])
    got = _decord_pictures(path, [0, 21, 59], view.returned)
    # frames 21 and 59: each seek lands on keyframe 0, then skips 4 and 22 (counted from keyframes 17 and 37)
    assert view.exact and list(view.returned) == got == [0, 4, 22]


# Random sorted requests (repeats and gaps), the way qwen-vl-utils and transformers call get_frames_at.
_RNG = np.random.default_rng(13)
_RANDOM_REQUESTS = [sorted(_RNG.integers(0, 1 << 16, int(k)).tolist()) for k in _RNG.integers(1, 16, 16)]
# HEVC in AVI beside the corpus clip (open GOPs, 3 RASL pictures per CRA): x265 with one keyframe, with closed
# GOPs (IDRs, two of them with 2 RADL pictures), and with open GOPs of 24 frames and 5 B-frames (5 RASL per CRA)
HEVC_AVI = {"hevc_one_gop_avi": "keyint=250", "hevc_closed_gop_avi": "keyint=20:min-keyint=20:scenecut=0:open-gop=0",
            "hevc_radl_avi": "keyint=20:min-keyint=20:scenecut=0:open-gop=0:radl=2",
            "hevc_5_rasl_avi": "keyint=24:min-keyint=24:scenecut=0:rc-lookahead=10:b-adapt=0"}
HEVC_AVI_BFRAMES = {"hevc_5_rasl_avi": 5}  # x265's bframes where not 3


@pytest.fixture(scope="module")
def hevc_avi(tmp_path_factory):
    from media_factory import make_ffmpeg_video

    if not shutil.which("ffmpeg") or " libx265 " not in _ffmpeg_encoders():
        pytest.skip("the ffmpeg CLI with libx265 writes the clips")
    root = tmp_path_factory.mktemp("hevc_avi")
    return {name: make_ffmpeg_video(root / f"{name}.avi", frames=60, fps=30,
                                    args=[*_x265(p, HEVC_AVI_BFRAMES.get(name, 3)), "-tag:v", "hev1"])
            for name, p in HEVC_AVI.items()}


def _torchcodec_requests(n: int) -> list[list[int]]:
    return [list(range(n)), [n - 1], [0, n // 2, n - 1], *(sorted(k % n for k in r) for r in _RANDOM_REQUESTS)]


def _tc_pictures(path, idx) -> list[int] | None:
    """The real ``get_frames_at(idx)``'s pictures; None where it runs out of frames."""
    try:
        return [frame_index_of(f) for f in _tc(path).get_frames_at(indices=idx).data.permute(0, 2, 3, 1).numpy()]
    except RuntimeError as e:
        assert "no more frames left to decode" in str(e)
        return None


# MPEG program streams beside the corpus clip, each GOP and PES split its own: -bf 3 in 1 KiB packs, MPEG-1
# with 800-byte packs, -bf 1 at 320x240 in 4 KiB packs (several packs a picture)
MPEG_PS = {
    "mpeg2_bf3_pack1k_mpg": dict(frames=90, fps=30, args=["-c:v", "mpeg2video", "-bf", "3", "-g", "12", "-q:v", "3",
                                                          "-packetsize", "1024"]),
    "mpeg1_pack800_mpg": dict(frames=60, fps=30, width=192, height=128,
                              args=["-c:v", "mpeg1video", "-bf", "2", "-g", "18", "-q:v", "2", "-packetsize", "800"]),
    "mpeg2_bf1_pack4k_mpg": dict(frames=75, fps=25, width=320, height=240,
                                 args=["-c:v", "mpeg2video", "-bf", "1", "-g", "9", "-q:v", "2", "-packetsize", "4096"]),
}


@pytest.fixture(scope="module")
def mpeg_ps(tmp_path_factory):
    from media_factory import make_ffmpeg_video

    if not shutil.which("ffmpeg"):
        pytest.skip("the ffmpeg CLI writes the clips; not installed")
    root = tmp_path_factory.mktemp("mpeg_ps")
    return {name: make_ffmpeg_video(root / f"{name}.mpg", **kw) for name, kw in MPEG_PS.items()}


@pytest.mark.parametrize("name", ["h264_bframes_avi", "hevc_bframes_avi", *HEVC_AVI, "mpeg2_bframes_mpg", *MPEG_PS])
def test_torchcodec_replay_returns_the_pictures_of_the_real_one(media_files, hevc_avi, mpeg_ps, name):
    """Which picture each index of a request gives, or where the call fails, against the real
    ``VideoDecoder(path).get_frames_at`` on the same request: every request exact, seeks to HEVC CRAs and
    into MPEG program streams (a seek to each keyframe: the single-index requests) too."""
    path = hevc_avi.get(name) or mpeg_ps.get(name) or _clip(media_files, name)
    view = decoder_view(media_stage.open_media(path), "torchcodec")
    requests = _torchcodec_requests(view.frames)
    if name in MPEG_PS or name == "mpeg2_bframes_mpg":
        requests += [[k] for k in range(view.frames)]
    failed = 0
    for idx in requests:
        ours, real = view.pictures(idx), _tc_pictures(path, idx)
        assert view.sampled(idx).exact, idx
        if real is None:
            assert None in ours, (idx, ours)
            failed += 1
            continue
        assert real == ours, idx
    assert failed < len(requests) // 2


def test_hevc_keyframe_types_decide_what_a_seek_returns(media_files, hevc_avi):
    """The probe tells an IDR from a CRA by its NAL unit type (the AVI index flags both as keyframes): with
    closed GOPs the fixed delay alone is exact after every seek, with open GOPs it is not, and the RASL skip
    (each CRA's first picture: its decode position + its RASL count) makes it so."""
    cases = {"hevc_closed_gop_avi": ((20, 20, 20), (0, 20, 40)), "hevc_radl_avi": ((20, 19, 19), (0, 18, 38)),
             "hevc_bframes_avi": ((20, 21, 21), (0, 20, 40)), "hevc_5_rasl_avi": ((20, 21, 21), (0, 24, 48))}
    mismatches = {}
    for name, (key_types, key_picture) in cases.items():
        path = hevc_avi[name] if name in hevc_avi else _clip(media_files, name)
        index = media_stage._index_for(media_stage.open_media(path))
        order = index.reordered
        assert tuple(t for t, k in zip(order.nal_types, order.key) if k) == key_types
        assert torchcodec_index(order, tuple(index.pts.tolist())).key_picture == key_picture
        fixed_delay = torchcodec_index(dataclasses.replace(order, nal_types=()), tuple(index.pts.tolist()))
        mismatches[name] = sum((None if r.error else list(r.pictures)) != _tc_pictures(path, idx)
                               for idx in _torchcodec_requests(len(index.pts))
                               for r in [replay_torchcodec(fixed_delay, idx)])
    assert mismatches["hevc_closed_gop_avi"] == mismatches["hevc_radl_avi"] == 0
    assert mismatches["hevc_bframes_avi"] > 0 and mismatches["hevc_5_rasl_avi"] > 0


def test_torchcodec_flags_seeks_to_hevc_keyframes_it_does_not_model():
    """A keyframe that is neither an IDR nor a CRA (here a BLA), or a stream that opens on a CRA (its RASL
    pictures are dropped read in order too): the requests that seek there are flagged, the others not."""
    from qwenvl_viz import seeks

    doctests = doctest.testmod(seeks)  # the package re-exports its parts' examples (``seeks.__test__``)
    assert doctests.failed == 0 and doctests.attempted > 0
    key = (True,) + (False,) * 9 + (True,) + (False,) * 9
    bla = PacketOrder(tuple(range(20)), (), key, reorder=2, nal_types=(19,) + (1,) * 9 + (16,) + (1,) * 9)
    r = replay_torchcodec(torchcodec_index(bla, tuple(range(20))), [3, 12])
    assert r.unmodelled == (12,) and not replay_torchcodec(torchcodec_index(bla, tuple(range(20))), [3, 5]).unmodelled
    cra_first = dataclasses.replace(bla, nal_types=(21, 8) + (1,) * 8 + (19,) + (1,) * 9)
    assert replay_torchcodec(torchcodec_index(cra_first, tuple(range(20))), [3]).unmodelled == (3,)


@pytest.mark.parametrize("name", ["mpeg2_bframes_mpg", *MPEG_PS])
def test_mpeg_ps_seeks_land_and_cut_packets_as_ffmpeg_5_1_does(media_files, mpeg_ps, name):
    """The claim media.landings rests on: after av_seek_frame(keyframe's scan pts, BACKWARD), PyAV's FFmpeg
    lands on the same byte and its parser cuts the same packets with the same dts as FFmpeg 5.1 (Debian's
    ffprobe, torchcodec's build), and the same pts wherever 5.1 gives one (seeks.mpeg_ps_pts)."""
    import av

    from qwenvl_viz.media.landings import _is_b_picture

    ffprobe = shutil.which("ffprobe")
    if not ffprobe or "version 5.1" not in subprocess.run([ffprobe, "-version"], capture_output=True, text=True).stdout:
        pytest.skip("needs FFmpeg 5.1's ffprobe (torchcodec's build)")
    path = mpeg_ps.get(name) or _clip(media_files, name)
    view = decoder_view(media_stage.open_media(path), "torchcodec")
    for ts in view.seeks.key_scan_pts:
        # ffprobe's interval start: avformat_seek_file(-1, -INT64_MAX, ts, INT64_MAX, 0) -> av_seek_frame BACKWARD
        out = subprocess.run([ffprobe, "-v", "error", "-read_intervals", f"{ts * 1_000_000 // 90000}us%",
                              "-select_streams", "v", "-show_entries", "packet=pts,dts,size,pos", "-of", "csv=p=0",
                              str(path)], capture_output=True, text=True, check=True).stdout
        theirs = [tuple(None if v == "N/A" else int(v) for v in line.split(",")) for line in out.split()]
        with av.open(str(path)) as c:
            s = c.streams.video[0]
            c.seek(ts, stream=s, backward=True, any_frame=False)
            ours = [(p.pts if p.pos is not None or _is_b_picture(bytes(p)) else None, p.dts, p.size, p.pos)
                    for p in c.demux(s) if p.size]
        assert ours == theirs, ts


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "pyav"])
@pytest.mark.parametrize("name", [n for n in CLIPS if n in ("hevc_bframes_mp4", "av1_mp4", "mpeg2_bframes_mpg")])
def test_pixels_are_bit_exact_across_builds(media_files, name, backend):
    """HEVC, AV1 (libdav1d in PyAV and Debian) and MPEG-2 decode to the same bits in every FFmpeg here."""
    if (name, backend) in FAILS:
        pytest.skip(f"{backend} cannot read {name}")
    path = _clip(media_files, name)
    info = media_stage.open_media(path)
    ours = media_stage.read_frames(info, list(range(info.frames)))
    assert np.array_equal(ours, _read_all(backend, path))


# --- both pipelines, every family, each backend ------------------------------------------------------


def _official_ref(monkeypatch, path, backend, model):
    from qwen_vl_utils import vision_process

    monkeypatch.setattr(vision_process, "get_video_reader_backend", lambda: backend)
    return official(path, "video", model, fps=2.0)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("backend", ["torchcodec", "decord"])
@pytest.mark.parametrize("name", CLIPS)
def test_official_pipeline_equals_qwen_vl_utils_with_backend(media_files, monkeypatch, name, backend, model):
    path = _clip(media_files, name)
    try:
        ref = _official_ref(monkeypatch, path, backend, model)
    except Exception as e:  # the reference fails (after its torchvision retry): so must we, naming the backend
        with pytest.raises(VizError) as ours_err:
            explain(path, model=model, fps=2.0, decoder=backend).pixel_values
        assert backend in str(ours_err.value), (e, ours_err.value)
        assert FAILS.get((name, backend), ("",))[0] in str(ours_err.value)
        return
    assert (name, backend) not in FAILS
    ours = explain(path, model=model, fps=2.0, decoder=backend)
    assert list(ours.sampling.indices) == ref["indices"]
    assert ours.sampling.sample_fps == ref["sample_fps"]
    assert tuple(ours.patchify.grid_thw) == tuple(ref["grid_thw"][0].tolist())
    if not ours.decoder.exact:  # counts, indices and grid are exact; the pictures after a seek are not
        pytest.xfail("; ".join(ours.decoder.notes))
    assert torch.equal(ours.pixel_values, ref["pixel_values"].float())


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", CLIPS)
def test_processor_pipeline_equals_load_video_and_processor(media_files, name, backend, model):
    path = _clip(media_files, name)
    try:
        out, meta = load_video_processor(path, model, backend)
    except Exception as e:
        with pytest.raises(VizError) as ours_err:
            explain(path, model=model, pipeline="processor", fps=2.0, decoder=backend).pixel_values
        assert backend in str(ours_err.value), (e, ours_err.value)
        assert FAILS.get((name, backend), ("",))[0] in str(ours_err.value)
        return
    assert (name, backend) not in FAILS
    ours = explain(path, model=model, pipeline="processor", fps=2.0, decoder=backend)
    assert list(ours.sampling.indices) == [int(i) for i in meta.frames_indices]
    assert tuple(ours.patchify.grid_thw) == tuple(out["video_grid_thw"][0].tolist())
    if not ours.decoder.exact:
        pytest.xfail("; ".join(ours.decoder.notes))
    assert torch.equal(ours.pixel_values, out["pixel_values_videos"].float())


# --- MPEG transport streams: read by every backend, not yet emulated -----------------------------------

TS_CLIP = dict(frames=45, fps=30, args=["-c:v", "mpeg2video", "-bf", "2", "-g", "15", "-q:v", "4"])


@pytest.fixture(scope="module")
def mpeg2_ts(tmp_path_factory):
    from media_factory import make_ffmpeg_video

    if not shutil.which("ffmpeg"):
        pytest.skip("the ffmpeg CLI writes the clip; not installed")
    return make_ffmpeg_video(tmp_path_factory.mktemp("ts") / "mpeg2_bframes.ts", **TS_CLIP)


def test_mpeg_ts_is_read_with_pts_in_presentation_order(mpeg2_ts):
    """PyAV (ours) reads every picture in order; packet pts arrive out of order (B-frames), as in any TS."""
    info = media_stage.open_media(mpeg2_ts)
    assert info.frames == 45 and info.frames_header == 0
    assert [frame_index_of(f) for f in media_stage.read_frames(info, [0, 1, 2, 22, 44])] == [0, 1, 2, 22, 44]


def test_mpeg_ts_torchcodec_fps_to_the_last_bit(mpeg2_ts):
    """The TS starts late (pts 1.43 s): torchcodec rounds its end and begin seconds apart (30.000000000000004)."""
    view = decoder_view(media_stage.open_media(mpeg2_ts), "torchcodec")
    assert view.fps == _tc(mpeg2_ts).metadata.average_fps


def test_mpeg_ts_decord_pictures(mpeg2_ts):
    """decord's first seek (Seek(0), backward to frame 0's pts) lands on the P-frame whose dts is that pts;
    its decoder then starts at the second GOP's I-frame: pictures 15, 16, ... for frames 0, 1, ..."""
    vr = decord.VideoReader(str(mpeg2_ts))
    got = [frame_index_of(f) for f in vr.get_batch([0, 1, 2]).asnumpy()]
    view = decoder_view(media_stage.open_media(mpeg2_ts), "decord").sampled([0, 1, 2])
    assert view.exact and list(view.returned) == got == [15, 16, 17]


# decord 0.6.0 on B-frames whose seeks land elsewhere: the replay against the real library. Requests whose
# replay reaches a race of its reader with its decoder thread are flagged inexact and skipped here.
DECORD_REPLAYED = ["h264_bframes_avi", "hevc_bframes_avi", "hevc_closed_gop_avi", "mpeg2_bframes_mpg", "mpeg2_ts"]


@pytest.mark.parametrize("name", DECORD_REPLAYED)
def test_decord_replay_equals_decord_on_random_sorted_requests(media_files, mpeg2_ts, hevc_avi, name):
    import random

    path = mpeg2_ts if name == "mpeg2_ts" else hevc_avi[name] if name in hevc_avi else _clip(media_files, name)
    view = decoder_view(media_stage.open_media(path), "decord")
    assert view.seeks is not None and view.exact
    rng = random.Random(name)
    compared = 0
    for _ in range(12):
        req = sorted(rng.sample(range(view.frames), rng.randint(1, 8)))
        ours = view.sampled(req)
        if not ours.exact and not ours.unstable:
            continue
        got = _decord_pictures(path, req, ours.returned)
        if ours.unstable:  # its worker's drop: from the first unstable index on, a later picture may come
            cut = req.index(ours.unstable[0])
            assert got[:cut] == list(ours.returned[:cut]), req
            continue
        assert got == list(ours.returned), req
        compared += 1
    assert compared >= 4


def test_a_landing_that_fails_to_decode_is_flagged_not_raised(media_files, monkeypatch):
    """If PyAV cannot decode after a seek (a damaged program stream), that request is flagged not exact
    with the rest of the trace intact, instead of an exception from deep in the replay."""
    import av

    from qwenvl_viz.media import landings

    path = _clip(media_files, "mpeg2_bframes_mpg")
    media_stage.clear_cache()

    def broken(*args):
        raise av.InvalidDataError(1094995529, "Invalid data found when processing input")

    monkeypatch.setattr(landings, "_land", broken)
    view = decoder_view(media_stage.open_media(path), "torchcodec")
    got = view.sampled([0, 1, 2, 30])  # the first index seeks too (to keyframe 0)
    assert not got.exact and got.returned == (0, 1, 2, 30)  # the index's pictures, flagged
    media_stage.clear_cache()
