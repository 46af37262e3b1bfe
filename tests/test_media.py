"""media.py: metadata, RGB parity with decord / qwen-vl-utils / transformers, selective decode,
the frame cache, and clear errors for bad inputs. Oracles run in the same test."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
from media_factory import BAD_KINDS, IMAGE_MODES, frame_index_of, media_files  # noqa: F401

from qwenvl_viz import media
from qwenvl_viz.errors import VizError
from qwenvl_viz.media import (
    clear_cache,
    decode_stats,
    exif_size,
    iter_frames,
    load_image,
    open_media,
    read_frames,
    set_frame_cache_limit,
    whiten_transparency_key,
)

ASSETS = Path(__file__).resolve().parent.parent / "assets"
SPREAD_16 = [0, 17, 33, 50, 66, 83, 99, 116, 132, 149, 165, 182, 198, 215, 231, 248]  # linspace(0, 248, 16)


def _delta(before: dict) -> dict:
    after = decode_stats()
    keys = ("frames_decoded", "frames_skipped", "frames_converted", "seeks", "cache_hits")
    return {k: after[k] - before[k] for k in keys}


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_cache()
    yield
    clear_cache()


def _decord_frames(path: Path, indices: list[int]) -> tuple[np.ndarray, int, float]:
    decord = pytest.importorskip("decord")
    vr = decord.VideoReader(str(path))
    return vr.get_batch(indices).asnumpy(), len(vr), vr.get_avg_fps()


# --- video metadata and decord parity ------------------------------------------------------------

VIDEO_CASES = [
    ("mp4", {}),  # h264 with B-frames (x264 veryfast: 3)
    ("mov", {"bframes": 0}),
    ("mkv", {"gop": 8}),  # header has no frame count
    ("webm", {"codec": "libvpx"}),  # vp8
    ("webm", {"gop": 10}),  # vp9
    ("avi", {}),  # mpeg4
]


@pytest.mark.parametrize(("ext", "kw"), VIDEO_CASES, ids=[f"{e}-{kw.get('codec', '')}{kw}" for e, kw in VIDEO_CASES])
def test_video_metadata_and_frames_match_decord(media_files, ext, kw):
    path = media_files.video(ext, width=96, height=64, fps=24, frames=40, **kw)
    info = open_media(path)
    want = [0, 1, 7, 8, 9, 20, 21, 39]
    ref, ref_len, ref_fps = _decord_frames(path, want)
    assert (info.kind, info.frames, info.fps) == ("video", ref_len, ref_fps)
    assert info.duration == pytest.approx(40 / 24)
    assert (info.width, info.height, info.coded_width, info.coded_height, info.rotation) == (96, 64, 96, 64, 0)
    assert info.container.startswith(ext) and info.mode == "yuv420p" and not info.has_alpha
    ours = read_frames(info, want)
    assert ours.dtype == np.uint8 and ours.shape == (8, 64, 96, 3)
    np.testing.assert_array_equal(ours, ref)
    assert [frame_index_of(f) for f in ours] == want


def test_sample_clip_asset_is_portrait_30fps_249_frames_and_matches_decord():
    path = ASSETS / "sample_clip.mp4"
    info = open_media(path)
    assert (info.width, info.height, info.fps, info.frames, info.frames_header) == (720, 1280, 30.0, 249, 249)
    assert info.container == "mp4 (h264)" and info.mode == "yuv420p"
    assert info.duration == pytest.approx(8.3)
    frames = read_frames(info, SPREAD_16)
    ref, _, _ = _decord_frames(path, SPREAD_16)
    np.testing.assert_array_equal(frames, ref)
    assert len({f.tobytes() for f in frames}) == 16  # every sampled frame is visibly different
    assert (ASSETS / "sample_clip.mp4").stat().st_size + (ASSETS / "sample_image.jpg").stat().st_size < 3_000_000


def test_sample_image_asset_opens_as_a_1280x853_jpeg():
    info = open_media(ASSETS / "sample_image.jpg")
    assert (info.kind, info.container, info.width, info.height, info.mode) == ("image", "JPEG", 1280, 853, "RGB")
    assert load_image(info, apply_exif=False).shape == (853, 1280, 3)


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotated_clip_frames_equal_decord_frames_rotated_clockwise(media_files, rotation):
    plain, rotated = media_files.rotated(rotation, width=64, height=48, frames=12)
    info = open_media(rotated)
    assert info.rotation == rotation
    assert (info.coded_width, info.coded_height) == (64, 48)
    assert (info.width, info.height) == ((48, 64) if rotation in (90, 270) else (64, 48))
    assert any(f"rotation {rotation}" in n for n in info.notes)
    want = [0, 5, 11]
    ref, _, _ = _decord_frames(plain, want)  # same packets, no display matrix: decord reads it
    expected = np.stack([np.rot90(f, -rotation // 90) for f in ref])  # k=-1: a quarter turn clockwise
    np.testing.assert_array_equal(read_frames(info, want), expected)


def test_one_frame_video_opens_with_frames_1(media_files):
    info = open_media(media_files.video("mp4", frames=1))
    assert (info.frames, info.fps, info.duration) == (1, 30.0, pytest.approx(1 / 30))
    assert frame_index_of(read_frames(info, [0])[0]) == 0


def test_animated_gif_is_a_video_with_fps_from_frame_durations(media_files):
    info = open_media(media_files.video("gif", fps=10, frames=12, width=96, height=64))
    assert (info.kind, info.frames, info.fps, info.duration) == ("video", 12, 10.0, 1.2)
    assert [frame_index_of(f) for f in read_frames(info, [0, 5, 11])] == [0, 5, 11]
    still = open_media(media_files.image("gif", mode="P"))
    assert (still.kind, still.frames, still.fps) == ("image", 1, None)


# --- selective decode and the cache --------------------------------------------------------------


def test_one_keyframe_clip_decodes_16_spread_frames_without_seeking(media_files):
    info = open_media(media_files.video("mp4", frames=250, gop=250))
    before = decode_stats()
    frames = read_frames(info, SPREAD_16)
    d = _delta(before)
    assert d["seeks"] == 0
    # 0..248 pass the decoder once, nothing past the last wanted frame; unreferenced B-frames
    # nobody asked for are dropped by the decoder instead of decoded
    assert d["frames_decoded"] + d["frames_skipped"] == 249
    assert 0 < d["frames_skipped"] < 249 - 16
    assert d["frames_converted"] == 16
    assert [frame_index_of(f) for f in frames] == SPREAD_16


def test_gop30_clip_seeks_and_decodes_fewer_frames_with_the_same_pixels(media_files):
    path = media_files.video("mp4", frames=250, gop=30)
    info = open_media(path)
    want = [0, 40, 95, 130, 200, 249]
    before = decode_stats()
    frames = read_frames(info, want)
    d = _delta(before)
    assert d["seeks"] >= 4 and d["frames_decoded"] < 120 and d["frames_skipped"] > 0
    ref, _, _ = _decord_frames(path, want)
    np.testing.assert_array_equal(frames, ref)


def test_a_frame_lost_while_skipping_is_decoded_again_without_skipping(media_files, monkeypatch):
    info = open_media(media_files.video("mp4", frames=40, gop=40))
    real = media.frames._decoded_frames
    dropped = []

    def lossy(container, stream, index, wanted, skip):
        for frame in real(container, stream, index, wanted, skip):
            if skip and media.frames._frame_index(index, frame.pts) == 20:
                dropped.append(20)
                continue  # as if the codec had dropped a wanted frame under skip_frame=NONREF
            yield frame

    monkeypatch.setattr(media.frames, "_decoded_frames", lossy)  # where _decode_pass looks it up
    assert [frame_index_of(f) for f in read_frames(info, [10, 20, 30])] == [10, 20, 30]
    assert dropped == [20]  # the loss happened, and the retry without skipping recovered the frame


def test_second_call_decodes_nothing_and_superset_decodes_only_new_frames(media_files):
    info = open_media(media_files.video("mp4", frames=60, gop=30))
    first = [0, 10, 20, 30]
    before = decode_stats()
    a = read_frames(info, first)
    assert _delta(before)["frames_converted"] == 4
    before = decode_stats()
    b = read_frames(info, first)
    d = _delta(before)
    assert (d["frames_decoded"], d["cache_hits"]) == (0, 4)
    np.testing.assert_array_equal(a, b)
    before = decode_stats()
    c = read_frames(info, [0, 5, 10, 20, 30, 45])
    d = _delta(before)
    assert (d["frames_converted"], d["cache_hits"]) == (2, 4)
    assert [frame_index_of(f) for f in c] == [0, 5, 10, 20, 30, 45]


def test_repeated_indices_yield_the_same_frame_decoded_once(media_files):
    info = open_media(media_files.video("mp4", frames=20))
    before = decode_stats()
    frames = read_frames(info, [3, 3, 3, 7])
    assert _delta(before)["frames_converted"] == 2
    assert [frame_index_of(f) for f in frames] == [3, 3, 3, 7]


def test_prefetch_on_and_off_give_the_same_frames_and_early_stop_does_not_hang(media_files):
    info = open_media(media_files.video("mp4", frames=60, gop=30))
    want = list(range(0, 60, 4))
    with_prefetch = np.stack(list(iter_frames(info, want, prefetch=True)))
    clear_cache()
    without = np.stack(list(iter_frames(info, want, prefetch=False)))
    np.testing.assert_array_equal(with_prefetch, without)
    clear_cache()
    it = iter_frames(info, want)
    first = next(it)
    it.close()  # the decode thread must stop, not block on its queue
    assert frame_index_of(first) == 0
    frames = list(iter_frames(info, want))
    assert not frames[0].flags.writeable  # shared with the cache


def test_several_decoders_give_every_position_the_frames_one_decoder_and_decord_give(media_files, monkeypatch):
    """iter_frames_unordered: each decoder over its own keyframes (one FFmpeg thread each); positions
    in any order, repeats served from one decode, pixels equal to iter_frames' and decord's."""
    monkeypatch.setattr(media.frames, "MIN_PART_FRAMES", 20)
    path = media_files.video("mp4", frames=150, gop=30)  # x264 with B-frames, a keyframe every 30
    info = open_media(path)
    want = [149, 3, 40, 40, 77, 100, 3, 131, 60, 12]
    before = decode_stats()
    pairs = list(media.iter_frames_unordered(info, want, parts=3))
    assert decode_stats()["opens"] - before["opens"] == 3
    assert _delta(before)["frames_converted"] == 8  # 3 and 40 decoded once each
    assert sorted(pos for pos, _ in pairs) == list(range(len(want)))
    got = np.stack([f for _, f in sorted(pairs, key=lambda pf: pf[0])])
    assert [frame_index_of(f) for f in got] == want
    clear_cache()
    np.testing.assert_array_equal(got, read_frames(info, want))
    np.testing.assert_array_equal(got, _decord_frames(path, want)[0])
    # cached now: served without decoding
    before = decode_stats()
    again = dict(media.iter_frames_unordered(info, want, parts=3))
    assert _delta(before)["frames_decoded"] == 0 and [frame_index_of(again[i]) for i in range(len(want))] == want


def test_decoder_runs_counts_the_decoders_a_pass_would_use_for_the_frames_not_cached(media_files, monkeypatch):
    monkeypatch.setattr(media.frames, "MIN_PART_FRAMES", 20)
    info = open_media(media_files.video("mp4", frames=150, gop=30))
    want = list(range(0, 150, 10))
    assert media.decoder_runs(info, want, 3) == 3 and media.decoder_runs(info, want, 1) == 1
    read_frames(info, want[:11])  # 0..100 cached: what is left, 110..140 from keyframe 90, makes 2 runs of 20+
    assert media.decoder_runs(info, want, 3) == 2
    read_frames(info, want)
    assert media.decoder_runs(info, want, 3) == 0


def test_decoders_split_at_keyframes_into_balanced_runs_and_never_where_a_seek_is_not_exact():
    import dataclasses

    from qwenvl_viz.media.frames import MIN_PART_FRAMES, _parts
    from qwenvl_viz.media.info import _VideoIndex

    n = 1800
    index = _VideoIndex(stream_index=0, pts=np.arange(n, dtype=np.int64) * 512,
                        keyframes=np.arange(0, n, 250, dtype=np.int64), seekable=True, rotation_k=0)
    wanted = list(range(0, n, 15))  # 120 frames of a 60 s clip at 2 fps, GOP 250
    runs = _parts(index, wanted, 2)
    assert [r[0] for r in runs] == [0, 1005] and sum(runs, []) == wanted  # cut at keyframe 1000, nearest 900
    four = _parts(index, wanted, 4)
    assert [r[0] for r in four] == [0, 510, 1005, 1260] and sum(four, []) == wanted  # keyframes nearest 450, 900, 1350
    assert _parts(index, wanted[:4], 2) == [wanted[:4]]  # 46 frames: not worth a second decoder
    # as many decoders as asked only where keyframes allow: each GOP boundary from 250 to 1500 (1750 would
    # leave the last run 36 frames, under half of MIN_PART_FRAMES)
    assert [r[0] for r in _parts(index, wanted, 99)] == [0, 255, 510, 750, 1005, 1260, 1500] and MIN_PART_FRAMES == 120
    ps = dataclasses.replace(index, fmt="mpeg", lead_pts=3600)  # MPEG-PS with B-frames: read in order
    assert _parts(ps, wanted, 2) == [wanted]
    assert _parts(dataclasses.replace(index, seekable=False), wanted, 2) == [wanted]


def test_an_error_in_one_of_several_decoders_is_raised_and_the_others_stop(media_files, monkeypatch):
    import threading

    monkeypatch.setattr(media.frames, "MIN_PART_FRAMES", 20)
    info = open_media(media_files.video("mp4", frames=120, gop=30))
    real = media.frames._decode_pass

    def failing(info_, index, wanted, *args):
        if wanted[0] >= 60:
            raise VizError("frame 60 of 'x.mp4' could not be decoded: the file may be corrupt")
        yield from real(info_, index, wanted, *args)

    monkeypatch.setattr(media.frames, "_decode_pass", failing)
    with pytest.raises(VizError, match="could not be decoded"):
        list(media.iter_frames_unordered(info, list(range(0, 120, 5)), parts=2))
    assert not [t for t in threading.enumerate() if t.name == "qwenvl-viz-decode"]


def test_frame_cache_is_bounded_by_bytes_and_a_long_pass_keeps_its_head(media_files):
    info = open_media(media_files.video("mp4", width=64, height=48, frames=20))
    frame_bytes = 64 * 48 * 3
    try:
        set_frame_cache_limit(3 * frame_bytes)
        read_frames(info, [0, 1, 2, 3, 4])
        stats = decode_stats()
        assert stats["cache_frames"] == 3 and stats["cache_bytes"] <= 3 * frame_bytes
        before = decode_stats()
        read_frames(info, [0, 1, 2])  # a pass larger than the cache keeps its head, not its tail
        assert _delta(before)["frames_decoded"] == 0
        read_frames(info, [3])  # a later pass evicts the least recently used frame (0)
        before = decode_stats()
        read_frames(info, [1, 2, 3])
        assert _delta(before)["frames_decoded"] == 0
        before = decode_stats()
        read_frames(info, [0])
        assert _delta(before)["frames_converted"] == 1
    finally:
        set_frame_cache_limit(media.FRAME_CACHE_BYTES)


def test_open_media_is_cached_and_hash_follows_content_not_path(media_files):
    path = media_files.video("mp4", frames=5)
    info = open_media(path)
    assert open_media(path) is info
    assert open_media(f"file://{path}") is info  # qwen-vl-utils' file:// form
    copy = media_files.copy(path, "copy-of-clip.mp4")
    assert open_media(copy).content_hash == info.content_hash
    other = open_media(media_files.video("mp4", frames=6))
    assert other.content_hash != info.content_hash


def test_content_hash_samples_files_over_64_mb(tmp_path):
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        f.truncate(media.HASH_FULL_BYTES + 1)  # sparse: no disk cost
    h1 = media._content_hash(str(big), big.stat().st_size)
    with open(big, "r+b") as f:
        f.seek(0)
        f.write(b"x")
    assert media._content_hash(str(big), big.stat().st_size) != h1


def test_out_of_range_indices_are_refused_before_decoding_and_any_order_is_served(media_files):
    info = open_media(media_files.video("mp4", frames=10))
    with pytest.raises(VizError, match=r"frame index 10 is out of range.*10 frames, allowed 0\.\.9"):
        iter_frames(info, [0, 10])
    clear_cache()
    assert [frame_index_of(f) for f in iter_frames(info, [5, 2, 2, 7, 3])] == [5, 2, 2, 7, 3]


# --- images: parity with qwen-vl-utils fetch_image and transformers load_image -------------------

IMAGE_CASES = [(fmt, mode) for fmt, modes in IMAGE_MODES.items() for mode in modes]


@pytest.mark.parametrize(("fmt", "mode"), IMAGE_CASES, ids=[f"{f}-{m}" for f, m in IMAGE_CASES])
def test_image_rgb_matches_fetch_image_and_transformers_load_image(media_files, fmt, mode):
    from qwen_vl_utils import fetch_image
    from transformers.image_transforms import convert_to_rgb
    from transformers.image_utils import load_image as hf_load_image

    # 84x56 is a multiple of 28 within fetch_image's default pixel budget: its resize is a no-op.
    path = media_files.image(fmt, width=84, height=56, mode=mode)
    info = open_media(path)
    assert (info.kind, info.width, info.height, info.frames) == ("image", 84, 56, 1)
    qvu_pil, hf_pil = fetch_image({"image": str(path)}), hf_load_image(str(path))
    qvu = load_image(info, apply_exif=False)
    hf = load_image(info, apply_exif=True)
    np.testing.assert_array_equal(qvu, np.asarray(qvu_pil))
    np.testing.assert_array_equal(hf, np.asarray(hf_pil))
    # ... and what the image processor makes of them (its convert_to_rgb reads info["transparency"])
    key = info.transparency_key
    np.testing.assert_array_equal(whiten_transparency_key(qvu, key), convert_to_rgb(qvu_pil, return_numpy=True))
    np.testing.assert_array_equal(whiten_transparency_key(hf, key), convert_to_rgb(hf_pil, return_numpy=True))


@pytest.mark.parametrize("mode", ["P+transparency", "RGB+tRNS", "L+tRNS"])
def test_colour_key_is_whitened_after_fetch_image_resize(media_files, mode):
    from PIL import Image
    from qwen_vl_utils import fetch_image
    from transformers.image_transforms import convert_to_rgb

    path = media_files.image("png", width=250, height=180, mode=mode)  # fetch_image resizes to 252x168
    info = open_media(path)
    assert info.has_alpha and info.transparency_key is not None
    assert any("colour-key transparency" in n for n in info.notes)
    ref = convert_to_rgb(fetch_image({"image": str(path)}), return_numpy=True)
    resized = np.asarray(Image.fromarray(load_image(info, apply_exif=False)).resize((252, 168)))
    ours = whiten_transparency_key(resized, info.transparency_key)
    np.testing.assert_array_equal(ours, ref)
    assert (ours != resized).any()  # the key really changed pixels


def test_rgba_is_composited_on_white_for_qwen_vl_utils_and_not_for_transformers(media_files):
    info = open_media(media_files.image("png", mode="RGBA"))
    assert info.has_alpha and info.mode == "RGBA"
    qvu, hf = load_image(info, apply_exif=False), load_image(info, apply_exif=True)
    assert qvu[:, -1].min() >= 250  # the right edge is fully transparent: white
    assert not np.array_equal(qvu, hf)


def test_exif_orientation_6_is_reported_and_applied_only_when_asked(media_files):
    from transformers.image_utils import load_image as hf_load_image

    path = media_files.image("jpg", width=84, height=56, exif_orientation=6)
    info = open_media(path)
    assert (info.exif_orientation, info.width, info.height) == (6, 84, 56)
    assert exif_size(info) == (84, 56)
    assert any("EXIF orientation 6" in n for n in info.notes)
    assert load_image(info, apply_exif=False).shape == (56, 84, 3)
    upright = load_image(info, apply_exif=True)
    assert upright.shape == (84, 56, 3)
    np.testing.assert_array_equal(upright, np.asarray(hf_load_image(str(path))))
    plain = open_media(media_files.image("jpg", width=84, height=56))
    assert plain.exif_orientation is None and exif_size(plain) == (56, 84)


def test_16_bit_image_reports_clipping(media_files):
    info = open_media(media_files.image("png", mode="I;16"))
    assert info.mode == "I;16" and any("clipped to 255" in n for n in info.notes)


# --- bad inputs ----------------------------------------------------------------------------------

# kind -> words the message must contain (the problem; what is allowed or what to do)
BAD_MESSAGES = {
    "missing": ["not found", "existing image or video"],
    "empty": ["empty (0 bytes)", "mp4"],
    "text": ["neither an image", "nor a video", "Allowed:", "png", "mp4"],
    "folder": ["is a folder", "one image or video file"],
    "truncated_mp4": ["corrupt or truncated", "Allowed:"],
    "truncated_faststart_mp4": ["truncated", "lists 60 frames", "re-download or re-export"],
    "corrupt_data_mp4": ["corrupt", "first frame cannot be decoded"],
    "audio_only": ["audio-only", "no video stream", "give an image or a video"],
    "zero_fps": ["fps", "undefined", "must be > 0"],
    "bomb_png": ["20000x20000", "decompression-bomb limit", "178,956,970", "downscale"],
    "truncated_png": ["corrupt or truncated", "256x256", "re-export"],
}


def test_every_bad_kind_has_a_message_check():
    assert set(BAD_MESSAGES) == set(BAD_KINDS)


@pytest.mark.parametrize("kind", list(BAD_MESSAGES))
def test_bad_input_raises_vizerror_naming_the_problem(media_files, kind):
    path = media_files.bad(kind)
    t0 = time.monotonic()
    with pytest.raises(VizError) as err:
        open_media(path)
    assert time.monotonic() - t0 < 30  # a hang guard (bounded probe), not a speed target
    message = str(err.value)
    for words in BAD_MESSAGES[kind]:
        assert words in message, (words, message)
    if kind not in ("folder", "missing"):  # a file that can be uploaded: its name only, no server-side path
        assert os.path.dirname(path) not in message
    assert err.value.field == "media"


def test_the_same_bytes_under_another_name_are_not_probed_again(media_files, tmp_path, monkeypatch):
    import shutil

    from qwenvl_viz import media as m

    src = media_files.video("mp4", width=64, height=48, frames=12)
    a, b = shutil.copy(src, tmp_path / "a.mp4"), shutil.copy(src, tmp_path / "upload from another visitor.mp4")
    m.clear_cache()
    calls = []
    real = m._probe_video
    monkeypatch.setattr(m.probe, "_probe_video", lambda *args: (calls.append(args[0]), real(*args))[1])
    ia, ib = m.open_media(a), m.open_media(b)
    assert calls == [str(a)]  # one demux pass for both names
    assert (ia.path, ib.path) == (str(a), str(b)) and ia.content_hash == ib.content_hash
    assert m.read_frames(ib, [0, 11]).shape[0] == 2
    m._content_cache.clear()  # evicted: the index is probed again from the file, the numbers are the same
    assert len(m.read_frames(ia, [3])) == 1 and len(calls) == 2
