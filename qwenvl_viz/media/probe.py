"""Stage 1, media: open an image or a video, read its metadata, decode only the frames asked for.

Semantics follow the references the rest of the pipeline is compared with:

- Images: ``apply_exif=False`` is qwen-vl-utils 0.0.14 ``fetch_image`` (``Image.open`` then its
  ``to_rgb``: RGBA composited on white, every other mode through ``convert("RGB")``);
  ``apply_exif=True`` is transformers 5.23 ``image_utils.load_image`` (``exif_transpose`` then
  ``convert("RGB")``, alpha dropped, not composited). Both hand the image processor an RGB image
  whose ``info`` may carry a colour key (P / L / RGB with tRNS, GIF); its ``convert_to_rgb`` then
  turns that colour white: ``MediaInfo.transparency_key`` + ``whiten_transparency_key``.
- Videos: frame ``i`` is the i-th frame in presentation order, counted over the demuxed packets of
  the best video stream sorted by pts, and fps is the stream's ``avg_frame_rate``: what decord 0.6.0
  (``len(vr)``, ``get_avg_fps()``) reports and qwen-vl-utils samples from. RGB comes from PyAV's
  ``to_ndarray(format="rgb24")``, bit-identical to decord's ``get_batch``. Frames are returned in
  the displayed orientation (the display matrix applied), as torchcodec >= 0.11 does; decord 0.6.0
  mis-reads such files (it swaps the size, then its ``get_batch`` fails). For MPEG-4 Part 2 AVIs
  with B-frames the probe also keeps the packets' decode order (``_VideoIndex.packets``), from
  which ``seeks`` replays which picture torchcodec and decord return after a seek; such pictures
  can come in any order, so ``iter_frames`` takes indices in any order.

Decoding is selective: per gap between wanted frames we either decode forward or seek to the
keyframe before the target, whichever decodes fewer frames (keyframe positions come from the probe's
demux pass); unwanted frames that nothing references are not decoded at all; only the frames kept
are converted to RGB. Decoded frames live in a byte-bounded LRU
cache keyed by (content hash, index), so moving a slider re-decodes nothing it has seen (within
the bound; a pass that needs more keeps its first frames).

Example::

    info = open_media("assets/sample_clip.mp4")    # 720x1280, 30 fps, 249 frames
    frames = read_frames(info, [0, 17, 33])        # uint8 (3, 1280, 720, 3)
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import queue
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import av
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..seeks import B_VOP, REF, REF_PACKED_B, SLOT, PacketOrder
from ..errors import VizError
from ..words import say

__all__ = [
    "MediaInfo",
    "open_media",
    "load_image",
    "exif_size",
    "iter_frames",
    "read_frames",
    "frame_times",
    "decode_stats",
    "clear_cache",
    "set_frame_cache_limit",
    "whiten_transparency_key",
    "FRAME_CACHE_BYTES",
]

# Default bound of the decoded-frame LRU cache (128 MiB): 16 sampled 720p frames take 44 MB, but the
# 120 of a 60 s 1080p clip take 746 MB, which beside their 813 MB pixel_values would double the
# memory such a clip needs (bench/preprocess.py measures the peak).
FRAME_CACHE_BYTES = 128 << 20
HASH_FULL_BYTES = 64 << 20  # files up to this size are hashed whole
HASH_SAMPLE_CHUNKS = 16  # larger ones: size + this many evenly spaced chunks
HASH_CHUNK_BYTES = 1 << 20
PROBE_MAX_PACKETS = 2_000_000  # demux pass bound (~18.5 h at 30 fps): a looping demuxer stops here
PROBE_MAX_SECONDS = 60.0
IO_TIMEOUT_S = 20.0  # FFmpeg interrupt callback: no single open/read may block longer
FIRST_FRAME_MAX_PACKETS = 512  # packets fed before the first frame must come out
SEEK_COST_FRAMES = 4  # a seek (flush + restart) costs about this many decoded frames
# Codecs whose skip_frame=NONREF drops only frames no other frame references (checked bit-exact
# against decord in tests/test_media.py for h264, vp8, vp9, mpeg4).
SKIP_NONREF_CODECS = frozenset({"h264", "hevc", "mpeg4", "mpeg2video", "vp8", "vp9"})
PROBE_CACHE_ENTRIES = 64
MPEG4_VOP_START = b"\x00\x00\x01\xb6"
PACKED_SCAN_PACKETS = 300  # packed B-frames show within the first GOPs
EXIF_ORIENTATION_TAG = 0x0112
# Formats Pillow recognises by a signature: a load failure there means a broken image, not a video.
IMAGE_FORMATS_WITH_MAGIC = frozenset({"PNG", "JPEG", "MPO", "GIF", "WEBP", "BMP", "TIFF"})
SUPPORTED = (
    "images: png, jpeg, webp, bmp, tiff, gif; videos: mp4, mov, mkv, webm (vp8/vp9), avi (mpeg4), "
    "animated gif"
)


@dataclass(frozen=True)
class MediaInfo:
    """What ``open_media`` learned about a file (cheap: no full decode)."""

    kind: Literal["image", "video"]
    path: str
    content_hash: str  # cache key: blake2b of the bytes; files > 64 MB: size + 16 sampled chunks
    container: str  # "mp4 (h264)", "PNG"
    width: int  # displayed: video after display-matrix rotation; image = stored pixels (no EXIF)
    height: int
    coded_width: int  # as stored in the stream / file
    coded_height: int
    rotation: int  # video: clockwise degrees (0/90/180/270) applied to decoded frames; image 0
    fps: float | None  # video avg_frame_rate (decord's get_avg_fps); gif: frames / total duration
    frames: int  # video: packets of the video stream (decord's len(vr)); image: 1
    frames_header: int | None  # video: the container header's count (stream.frames), may be 0
    duration: float | None  # video: frames / fps, the duration sampling works with
    exif_orientation: int | None  # image EXIF orientation tag (1..8), None when absent
    mode: str  # image mode as opened ("RGBA", "I;16", "P", ...) or video pixel format
    has_alpha: bool
    notes: tuple[str, ...]  # remarks for the user ("header says 431 frames, 300 in the stream")
    # Image colour-key transparency (P / L / RGB with tRNS, GIF): the RGB colour that the reference
    # image processor turns white; see whiten_transparency_key. None for videos and most images.
    transparency_key: tuple[int, int, int] | None = None


@dataclass(frozen=True)
class _VideoIndex:
    """Per-file demux facts iter_frames needs; private, kept beside the probe cache."""

    stream_index: int
    pts: np.ndarray  # int64, sorted: pts[i] is frame i's presentation timestamp
    keyframes: np.ndarray  # int64, sorted presentation indices of keyframe packets
    seekable: bool  # pts unique and present: frames can be located after a seek
    rotation_k: int  # np.rot90 turns (counterclockwise quarter turns) to display a frame
    # torchcodec's scan bounds, in seconds: min(pts) * tb and max(pts + duration) * tb over the packets
    begin_s: float | None = None
    end_s: float | None = None
    span_s: float | None = None  # (max(pts + duration) - min(pts)) * tb: torchcodec's average_fps divisor
    time_base: float = 0.0
    codec: str = ""
    fmt: str = ""
    packed: bool = False  # MPEG-4 Part 2 with DivX-style packed B-frames
    lead_pts: int = 0  # first pts minus first dts (1 for MPEG-4 Part 2 with B-frames in AVI)
    # AVIs with B-frames (packed or not): the packets in decode order, for replaying decord's seeks
    packets: PacketOrder | None = None
    # MPEG-2 with B-frames in an MPEG program / transport stream: the same, with each packet's pts and
    # whether a PES timestamp starts it (the MPEG demuxers seek to those), for replaying decord's seeks
    pes_packets: PacketOrder | None = None
    # H.264 / HEVC with B-frames in AVI: the packets in decode order with the decoder's reorder depth
    # (``PacketOrder.reorder``), for replaying torchcodec's seeks
    reordered: PacketOrder | None = None
    header_duration_s: float | None = None  # the container's stated duration; None in raw elementary streams
    codec_family: str = ""  # FFmpeg's codec name ("av1"), whichever decoder ("libdav1d") PyAV picked


# --- caches and counters -------------------------------------------------------------------------

_lock = threading.Lock()
_probe_cache: OrderedDict[tuple, MediaInfo] = OrderedDict()  # (realpath, size, mtime) -> info
# content hash -> (info, its video index): the same bytes under another name (a second upload) are not probed
# again; bounded like the path cache
_content_cache: OrderedDict[str, tuple[MediaInfo, _VideoIndex | None]] = OrderedDict()
_STAT_KEYS = ("frames_decoded", "frames_skipped", "frames_converted", "seeks", "cache_hits", "cache_misses", "opens")
_stats: dict[str, int] = dict.fromkeys(_STAT_KEYS, 0)


class _FrameCache:
    """LRU of read-only frames keyed (content_hash, index), bounded by bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._items: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()

    def get(self, key: tuple[str, int]) -> np.ndarray | None:
        with _lock:
            arr = self._items.get(key)
            if arr is not None:
                self._items.move_to_end(key)
            return arr

    def put(self, key: tuple[str, int], arr: np.ndarray) -> None:
        with _lock:
            if arr.nbytes > self.max_bytes or key in self._items:
                return
            self._items[key] = arr
            self.nbytes += arr.nbytes
            self._evict()

    def _evict(self) -> None:
        while self.nbytes > self.max_bytes and self._items:
            _, old = self._items.popitem(last=False)
            self.nbytes -= old.nbytes

    def clear(self) -> None:
        with _lock:
            self._items.clear()
            self.nbytes = 0


_frame_cache = _FrameCache(FRAME_CACHE_BYTES)


def _count(key: str, n: int = 1) -> None:
    with _lock:
        _stats[key] += n


def decode_stats() -> dict:
    """Cumulative counters (take differences): frames decoded, frames the decoder skipped
    (unwanted and unreferenced), frames converted to RGB, seeks, cache hits and misses, container
    opens; plus the frame cache's current size and limit in bytes."""
    with _lock:
        out = dict(_stats)
        out["cache_bytes"] = _frame_cache.nbytes
        out["cache_frames"] = len(_frame_cache._items)
        out["cache_limit_bytes"] = _frame_cache.max_bytes
    return out


def clear_cache() -> None:
    """Forget decoded frames and probe results (counters keep counting)."""
    _frame_cache.clear()
    with _lock:
        _probe_cache.clear()
        _content_cache.clear()


def set_frame_cache_limit(max_bytes: int) -> None:
    """Bound the decoded-frame cache to ``max_bytes`` (0 disables it); evicts at once if needed."""
    if max_bytes < 0:
        raise VizError(f"frame cache limit {max_bytes} is negative; give 0 or more bytes", field="cache")
    with _lock:
        _frame_cache.max_bytes = int(max_bytes)
        _frame_cache._evict()


# --- open ----------------------------------------------------------------------------------------


def _content_hash(path: str, size: int) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        if size <= HASH_FULL_BYTES:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        else:  # big files: size + evenly spaced chunks (first and last included) keep open fast
            h.update(size.to_bytes(8, "little"))
            step = (size - HASH_CHUNK_BYTES) / (HASH_SAMPLE_CHUNKS - 1)
            for k in range(HASH_SAMPLE_CHUNKS):
                f.seek(int(k * step))
                h.update(f.read(HASH_CHUNK_BYTES))
    return h.hexdigest()


def open_media(source: str | os.PathLike) -> MediaInfo:
    """Probe ``source`` (image or video) and return its ``MediaInfo``; cached by path, size, mtime.

    Raises ``VizError`` for missing, empty, unreadable, corrupt or truncated files, audio-only files,
    images over Pillow's decompression-bomb limit and videos whose fps is 0 or undefined.
    """
    path = os.fspath(source)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if path.startswith("file://"):  # the references accept file:// URLs for local files
        path = path[len("file://") :]
    path = os.path.abspath(path)  # MediaInfo.path stays valid if the working directory changes
    if not os.path.exists(path):
        raise VizError(f"media file not found: {path!r}; give the path of an existing image or video")
    if os.path.isdir(path):
        raise VizError(f"{path!r} is a folder; give one image or video file ({SUPPORTED})")
    st = os.stat(path)
    if st.st_size == 0:
        raise VizError(
            f"media file {os.path.basename(path)!r} is empty (0 bytes); give an image or video ({SUPPORTED})"
        )
    key = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
    with _lock:
        if key in _probe_cache:
            _probe_cache.move_to_end(key)
            return _probe_cache[key]
    info, _ = _probe(path, st.st_size)
    with _lock:
        _probe_cache[key] = info
        while len(_probe_cache) > PROBE_CACHE_ENTRIES:
            _probe_cache.popitem(last=False)
    return info


def _probe(path: str, size: int) -> tuple[MediaInfo, _VideoIndex | None]:
    """Probe by content: bytes seen before (under any name) are only renamed."""
    try:
        content_hash = _content_hash(path, size)
    except OSError as e:
        raise VizError(f"cannot read media file {path!r}: {e.strerror or e}") from None
    with _lock:
        known = _content_cache.get(content_hash)
        if known is not None:
            _content_cache.move_to_end(content_hash)
    if known is not None:
        return dataclasses.replace(known[0], path=path), known[1]
    info, index = _probe_image(path, content_hash), None
    if info is None:
        info, index = _probe_video(path, content_hash, size)
    with _lock:
        _content_cache[content_hash] = (info, index)
        while len(_content_cache) > PROBE_CACHE_ENTRIES:
            _content_cache.popitem(last=False)
    return info, index


def _probe_image(path: str, content_hash: str) -> MediaInfo | None:
    """MediaInfo for a still image; None when Pillow does not recognise it or it is animated GIF."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", Image.DecompressionBombWarning)
        try:
            img = Image.open(path)
        except Image.DecompressionBombError:
            img = None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
            return None
    if img is None or any(issubclass(w.category, Image.DecompressionBombWarning) for w in caught):
        w, h = _image_header_size(path)
        limit = 2 * Image.MAX_IMAGE_PIXELS
        if img is None or w * h > limit:
            if img is not None:
                img.close()
            raise VizError(
                f"image is {w}x{h} = {w * h:,} pixels, over Pillow's decompression-bomb limit of "
                f"{limit:,} pixels, which the reference loaders refuse too; downscale it first"
            )
    with img:
        notes: list[str] = []
        if w_bomb := [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]:
            notes.append(f"very large image ({img.width}x{img.height}); Pillow warns: {w_bomb[0].message}")
        n_frames = getattr(img, "n_frames", 1)
        if img.format == "MPEG":
            return None  # Pillow only identifies MPEG streams; FFmpeg decodes them
        if img.format == "GIF" and n_frames > 1:
            return None  # animated GIF: a video (PyAV decodes it, fps from frame durations)
        if n_frames > 1:
            notes.append(f"{img.format} with {n_frames} frames: only the first is used, as the references do")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                img.load()  # catches truncated / corrupt data now, not in the middle of the pipeline
        except (OSError, SyntaxError, ValueError) as e:
            if img.format not in IMAGE_FORMATS_WITH_MAGIC:
                return None  # Pillow's guess (e.g. TGA, which has no signature) was wrong: try FFmpeg
            raise VizError(
                f"image file {os.path.basename(path)!r} ({img.format} {img.width}x{img.height}) is corrupt "
                f"or truncated: {e}; re-export or re-download it"
            ) from None
        orientation = _exif_orientation(img)
        if orientation is not None and orientation not in range(1, 9):
            notes.append(say("md_exif_bad", o=orientation))
            orientation = None
        if orientation not in (None, 1):
            notes.append(say("md_exif", o=orientation))
        has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
        key = _transparency_key(img)
        notes.extend(_mode_notes(img.mode, has_alpha, key))
        return MediaInfo(
            kind="image",
            path=path,
            content_hash=content_hash,
            container=img.format or "image",
            width=img.width,
            height=img.height,
            coded_width=img.width,
            coded_height=img.height,
            rotation=0,
            fps=None,
            frames=1,
            frames_header=None,
            duration=None,
            exif_orientation=orientation,
            mode=img.mode,
            has_alpha=has_alpha,
            notes=tuple(notes),
            transparency_key=key,
        )


def _transparency_key(img: Image.Image) -> tuple[int, int, int] | None:
    """The colour key both loaders hand on in ``info["transparency"]`` of their RGB image.

    Pillow's ``convert("RGB")`` of a P / L / RGB image with a tRNS colour key keeps the key as an
    RGB tuple in ``info`` (resize keeps ``info`` too); RGBA goes through qwen-vl-utils' paste,
    which drops it. Both references then meet transformers' ``convert_to_rgb``.
    """
    if img.mode == "RGBA" or img.info.get("transparency") is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        key = img.convert("RGB").info.get("transparency")
    if isinstance(key, tuple) and len(key) == 3 and all(isinstance(v, int) for v in key):
        return (int(key[0]), int(key[1]), int(key[2]))
    return None


def whiten_transparency_key(rgb: np.ndarray, key: tuple[int, int, int] | None) -> np.ndarray:
    """transformers' ``convert_to_rgb`` for an RGB image carrying a colour key: pixels exactly
    equal to ``key`` become white (alpha 0 composited on white), all others are unchanged.

    The reference applies it after qwen-vl-utils' resize (official pipeline) and before the
    processor's own resize (processor pipeline), so call it on the matching array.
    """
    if key is None:
        return rgb
    out = np.array(rgb)
    out[(rgb == np.asarray(key, np.uint8)).all(axis=-1)] = 255
    return out


def _mode_notes(mode: str, has_alpha: bool, key: tuple[int, int, int] | None) -> list[str]:
    """What the two reference conversions do to this mode (both end in 8-bit RGB)."""
    if mode == "RGBA":
        return [say("md_rgba")]
    notes = [] if mode == "RGB" else [say("md_mode", mode=mode)]
    if key is not None:
        notes.append(say("md_key", key=key))
    elif has_alpha:
        notes.append(say("md_alpha", mode=mode))
    if mode.startswith("I") or mode == "F":
        notes.append(say("md_clip", mode=mode))
    return notes


def _image_header_size(path: str) -> tuple[int, int]:
    """Width and height of an image that Pillow refuses to open as a decompression bomb."""
    saved = Image.MAX_IMAGE_PIXELS
    try:  # the size is in the header; reading it with the check off decodes nothing
        Image.MAX_IMAGE_PIXELS = None
        with Image.open(path) as img:
            return img.size
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def _exif_orientation(img: Image.Image) -> int | None:
    # Image.getexif is what ImageOps.exif_transpose reads (EXIF, or XMP tiff:Orientation).
    try:
        value = img.getexif().get(EXIF_ORIENTATION_TAG)
    except Exception:  # malformed EXIF blocks: exif_transpose would ignore the tag too
        return None
    return int(value) if isinstance(value, int) else None


def _av_open(path: str) -> av.container.InputContainer:
    _count("opens")
    return av.open(path, timeout=(IO_TIMEOUT_S, IO_TIMEOUT_S), metadata_errors="ignore")


def _short_format(path: str, format_name: str) -> str:
    names = format_name.split(",")
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext in names or (ext == "mkv" and "matroska" in names):
        return ext
    return names[0]


def _reason(e: Exception, path: str) -> str:
    """FFmpeg's words for an error, without the server-side path of the file (the name is said already)."""
    text = getattr(e, "strerror", None) or str(e)
    return text.replace(path, os.path.basename(path))


def _probe_video(path: str, content_hash: str, size: int) -> tuple[MediaInfo, _VideoIndex]:
    name = os.path.basename(path)
    try:
        container = _av_open(path)
    except (av.FFmpegError, OSError, ValueError) as e:
        raise VizError(
            f"{name!r} ({size:,} bytes) is neither an image Pillow reads nor a video FFmpeg reads "
            f"({_reason(e, path)}); it may be corrupt or truncated. Allowed: {SUPPORTED}"
        ) from None
    with container:
        # Cover art in music files is a one-picture "video" stream: not a video.
        videos = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
        if not videos:
            kinds = sorted({s.type for s in container.streams}) or ["none"]
            art = " (its only picture is cover art)" if container.streams.video else ""
            what = "audio-only file" if "audio" in kinds else f"file (streams: {', '.join(kinds)})"
            raise VizError(f"{name!r} is an {what}{art} with no video stream; give an image or a video ({SUPPORTED})")
        best = container.streams.best("video")
        stream = best if best in videos else videos[0]
        fmt = _short_format(path, container.format.name)
        # FFmpeg's still-image demuxers guess from the extension or the first bytes; Pillow has
        # already failed on the file, so if they cannot decode it either it is not media at all.
        still_guess = container.format.name == "image2" or container.format.name.endswith("_pipe")
        codec = stream.codec_context.name
        codec_family = getattr(stream.codec_context.codec, "canonical_name", codec)
        header_duration_s = container.duration / 1e6 if container.duration is not None else None  # AV_TIME_BASE
        frames_header = int(stream.frames or 0)
        stream_duration = stream.duration  # in time_base units; None when the container has none
        average_rate = stream.average_rate
        # what libavformat's compute_frame_duration takes for a packet without a duration: the codec's
        # frame rate (the H.264 SPS timing) where the codec has a parser, else r_frame_rate
        frame_rate = stream.codec_context.framerate or stream.base_rate
        time_base = stream.time_base
        stream_index = stream.index
        # has_b_frames as avformat_find_stream_info leaves it (codecpar video_delay): the pictures the
        # decoder holds back before its first output, from the SPS (H.264 / HEVC) whatever the build
        reorder_depth = int(stream.codec_context.reorder_depth or 0)
        pts, dts, durations, key_pts, last_end, packed, key_flags, vops, pes = _demux_pass(container, stream, name)
    n = len(pts)
    notes: list[str] = []
    if n == 0:
        raise VizError(f"video {name!r} ({fmt}, {codec}) has a video stream with no frames; give a video with frames")
    if frames_header and n < frames_header and last_end >= size:
        raise VizError(
            f"video {name!r} is truncated: its header lists {frames_header} frames but the data ends after "
            f"{n} frames ({size:,} bytes); re-download or re-export it"
        )
    if frames_header and frames_header != n:
        notes.append(f"header says {frames_header} frames, {n} in the stream (the count sampling uses)")

    # Frame i = i-th packet by pts (decord's IndexKeyframes). Without usable pts, decode in order.
    has_pts = all(p is not None for p in pts)
    order_key = pts if has_pts else [d if d is not None else -(2**62) for d in dts]
    pts_arr = np.sort(np.asarray(order_key, dtype=np.int64))
    # AVI stores no presentation times: FFmpeg numbers H.264 / HEVC packets in decode order (only MPEG-4
    # Part 2 gets its pts from a parser), so with B-frames the pictures come out carrying shuffled pts.
    decode_order_pts = fmt == "avi" and codec in ("h264", "hevc")
    seekable = has_pts and n == len(np.unique(pts_arr)) and not packed and not decode_order_pts
    lead_pts = int(pts[0] - dts[0]) if pts[0] is not None and dts[0] is not None else 0
    # MPEG-4 Part 2 with B-frames in AVI: the backends' seeks go wrong there, in ways seeks.py replays
    # (its decoder model, one reference held back, is MPEG-4 Part 2's; H.264's reorder depth differs).
    replayable = fmt == "avi" and codec == "mpeg4" and (packed or lead_pts > 0)
    pes_replayable = fmt in ("mpeg", "mpegts") and codec in ("mpeg1video", "mpeg2video") and lead_pts > 0
    if packed:
        # DivX-style packed B-frames: a P-VOP and the B-VOP before it share a packet, an N-VOP fills the
        # next slot; the packet pts follow that storage order, not the display order the decoder outputs.
        notes.append("packed B-frames (DivX style): frame i is the i-th picture the decoder outputs")
    elif decode_order_pts:
        notes.append(f"{codec} in AVI: packet timestamps follow decode order; frame i is the i-th picture "
                     "the decoder outputs")
    elif not seekable:
        notes.append("timestamps missing or repeated: frames are decoded in order, without seeking")
    key_idx = np.unique(np.searchsorted(pts_arr, np.asarray([k for k in key_pts if k is not None], dtype=np.int64)))
    key_idx = key_idx[key_idx < n]
    # torchcodec's scan (SingleStreamDecoder::scanFileAndUpdateMetadataStream): seconds = pts * num / den
    tb = float(time_base) if time_base else 0.0
    # Debian's FFmpeg 5.1 (torchcodec's) gives AVI packets pts = dts; newer builds (PyAV's) derive pts
    # from the MPEG-4 parser, one tick later with B-frames. Integer span first, as torchcodec does.
    scan_ts = dts if fmt == "avi" else pts
    known = [(p, d or 0) for p, d in zip(scan_ts, durations) if p is not None]
    begin_s = min(p for p, _ in known) * tb if known and tb else None
    end_s = max(p + d for p, d in known) * tb if known and tb else None
    span_s = None
    if known and tb:
        first, last = min(p for p, _ in known), max(p + d for p, d in known)
        if fmt in ("mp4", "mov", "m4v") and frame_rate and any(p != d for p, d in zip(pts, dts)):
            # FFmpeg 5.1's mov demuxer (torchcodec's) leaves a packet with a composition offset (ctts:
            # B-frames) without a duration, and libavformat fills in one frame period; newer builds
            # (PyAV's) read the stts duration. Checked against Debian's ffprobe 5.1 and torchcodec on
            # CFR, VFR and NTSC-rate clips.
            period = (frame_rate.denominator * time_base.denominator) // (frame_rate.numerator * time_base.numerator)
            last = max(p for p, _ in known) + period
        # torchcodec converts the end and the begin separately, and its ptsToSeconds multiplies before it
        # divides ("av_q2d is not used"): pts * num / den. A stream that starts late (MPEG-TS) shows it.
        def seconds(pts: int) -> float:
            return pts * time_base.numerator / time_base.denominator

        span_s = seconds(last) - seconds(first)

    if fmt == "gif" or codec == "gif":
        # GIF has no frame rate, only per-frame delays: fps = frames / total delay.
        total = sum(d or 0 for d in durations) * float(time_base) if time_base else 0.0
        fps = n / total if total > 0 else None
        notes.append(f"animated GIF: fps {fps:.4g} from frame durations" if fps else "GIF without frame durations")
    else:
        fps = float(average_rate) if average_rate else None
    if fps is None or not math.isfinite(fps) or fps <= 0:
        raise VizError(
            f"video {name!r} ({fmt}, {codec}, {n} frames) has fps {average_rate if fps is None else fps} "
            f"(0 or undefined in the container), so frame times cannot be computed; fps must be > 0. "
            f"Re-mux it with a frame rate (e.g. ffmpeg -r 30 -i in -c copy out.mp4)"
        )
    if seekable and n > 2:
        deltas = np.diff(pts_arr)
        if deltas.min() > 0 and deltas.max() > 1.5 * deltas.min():
            tb = float(time_base)
            notes.append(f"variable frame rate: frame gaps {deltas.min() * tb:.4g}..{deltas.max() * tb:.4g} s")

    try:
        first = _decode_first_frame(path, name, stream_index)
    except VizError as e:
        if not still_guess:
            raise
        raise VizError(f"{name!r} ({size:,} bytes) is neither a readable image nor a readable video: Pillow "
                       f"does not read it and FFmpeg, guessing {codec} from its name or first bytes, cannot decode "
                       f"it; whatever its extension, give an image or a video ({SUPPORTED})") from e
    ccw = int(round(first.rotation or 0)) % 360  # FFmpeg's angle: counterclockwise degrees
    if ccw % 90:
        notes.append(f"display rotation {ccw} degrees is not a multiple of 90; not applied")
        ccw = 0
    rotation = (-ccw) % 360  # clockwise, as the "rotate" tag and decord's GetRotation state it
    coded_w, coded_h = first.width, first.height
    width, height = (coded_h, coded_w) if rotation in (90, 270) else (coded_w, coded_h)
    if rotation:
        notes.append(
            f"rotation {rotation} applied: stored {coded_w}x{coded_h}, shown {width}x{height} "
            f"(decord 0.6.0 mis-reads display-rotated files)"
        )
    pix_fmt = first.format.name
    has_alpha = any(c.is_alpha for c in first.format.components)
    info = MediaInfo(
        kind="video",
        path=path,
        content_hash=content_hash,
        container=f"{fmt} ({codec})",
        width=width,
        height=height,
        coded_width=coded_w,
        coded_height=coded_h,
        rotation=rotation,
        fps=fps,
        frames=n,
        frames_header=frames_header,
        duration=n / fps,
        exif_orientation=None,
        mode=pix_fmt,
        has_alpha=has_alpha,
        notes=tuple(notes),
    )
    index = _VideoIndex(
        stream_index=stream_index,
        pts=pts_arr,
        keyframes=key_idx.astype(np.int64),
        seekable=seekable,
        rotation_k=ccw // 90,
        begin_s=begin_s,
        end_s=end_s,
        span_s=span_s,
        time_base=tb,
        codec=codec,
        fmt=fmt,
        packed=packed,
        lead_pts=lead_pts,
        packets=_packet_order(pts, dts, key_flags, vops, packed) if replayable else None,
        pes_packets=_packet_order(pts, dts, key_flags, vops, False, pes) if pes_replayable else None,
        reordered=(PacketOrder(tuple(int(d) for d in dts), (), tuple(key_flags), reorder=reorder_depth)
                   if decode_order_pts and reorder_depth > 0 and all(d is not None for d in dts) else None),
        header_duration_s=header_duration_s,
        codec_family=codec_family,
    )
    return info, index


def _packet_order(pts, dts, key_flags, vops, packed: bool, pes=None) -> PacketOrder | None:
    """Each packet's kind: with packed B-frames from its VOP count (a reference with a B-VOP behind
    it, then the placeholder slot); otherwise a B-VOP is the packet shown when decoded (pts = dts).
    ``pes`` (MPEG-PS / TS): per packet, whether a PES timestamp starts it; the pts are kept too."""
    if any(d is None for d in dts) or (pes is not None and any(p is None for p in pts)):
        return None
    kinds: list[str] = []
    for p, d, v in zip(pts, dts, vops):
        if packed:
            kinds.append(SLOT if kinds and kinds[-1] == REF_PACKED_B else REF_PACKED_B if v > 1 else REF)
        else:
            kinds.append(B_VOP if p == d else REF)
    if pes is not None:
        return PacketOrder(tuple(int(d) for d in dts), tuple(kinds), tuple(key_flags),
                           tuple(int(p) for p in pts), tuple(pes))
    return PacketOrder(tuple(int(d) for d in dts), tuple(kinds), tuple(key_flags))


def _demux_pass(container, stream, name: str):
    """Read every packet of ``stream`` once (no decoding), bounded in count and time."""
    pts: list[int | None] = []
    dts: list[int | None] = []
    durations: list[int | None] = []
    key_pts: list[int | None] = []
    key_flags: list[bool] = []
    vops: list[int] = []  # VOP start codes per packet (MPEG-4 Part 2; all packets once packed is seen)
    # a byte position: the parser gives one only to the first picture that begins in a PES (MPEG-PS / TS)
    pes: list[bool] = []
    last_end = 0
    packed = False
    look_for_packed = stream.codec_context.name == "mpeg4"
    t0 = time.monotonic()
    try:
        for pkt in container.demux(stream):
            if pkt.size == 0 and pkt.dts is None:  # PyAV's end-of-stream flush packet
                continue
            pts.append(pkt.pts)
            if look_for_packed and (packed or len(pts) <= PACKED_SCAN_PACKETS):
                # two VOP start codes in one packet: a packed B-frame (mpeg4_unpack_bframes' test)
                vops.append(bytes(pkt).count(MPEG4_VOP_START))
                packed = packed or vops[-1] > 1
            else:
                vops.append(1)
            dts.append(pkt.dts)
            durations.append(pkt.duration)
            key_flags.append(bool(pkt.is_keyframe))
            if pkt.is_keyframe:
                key_pts.append(pkt.pts)
            pes.append(pkt.pos is not None and pkt.pos >= 0)
            if pes[-1]:
                last_end = max(last_end, pkt.pos + pkt.size)
            if len(pts) > PROBE_MAX_PACKETS or (len(pts) % 4096 == 0 and time.monotonic() - t0 > PROBE_MAX_SECONDS):
                raise VizError(
                    f"video {name!r}: reading its packets did not finish ({len(pts):,} packets in "
                    f"{time.monotonic() - t0:.0f} s; limits {PROBE_MAX_PACKETS:,} packets, {PROBE_MAX_SECONDS:.0f} s); "
                    f"the file may be malformed or too long"
                )
    except av.FFmpegError as e:
        raise VizError(
            f"video {name!r} is corrupt or truncated: demuxing stopped after {len(pts)} frames "
            f"({getattr(e, 'strerror', None) or e})"
        ) from None
    return pts, dts, durations, key_pts, last_end, packed, key_flags, vops, pes


def _decode_first_frame(path: str, name: str, stream_index: int) -> av.VideoFrame:
    with _av_open(path) as container:
        stream = container.streams[stream_index]
        try:
            for k, pkt in enumerate(container.demux(stream)):
                for frame in pkt.decode():
                    return frame
                if k > FIRST_FRAME_MAX_PACKETS:
                    break
        except (av.FFmpegError, ValueError) as e:
            raise VizError(f"video {name!r} is corrupt: its first frame cannot be decoded "
                           f"({_reason(e, path)})") from None
    raise VizError(f"video {name!r} is corrupt: no frame could be decoded from its first packets")


# --- images --------------------------------------------------------------------------------------


def load_image(info: MediaInfo, *, apply_exif: bool) -> np.ndarray:
    """The image as uint8 ``[H, W, 3]`` RGB, converted exactly as a reference loader does.

    ``apply_exif=False``: qwen-vl-utils 0.0.14 ``fetch_image`` before its resize (``to_rgb``: RGBA
    composited on white with the alpha as paste mask; LA, P (also with transparency), I;16, CMYK,
    L through Pillow's ``convert("RGB")``, which drops alpha). ``apply_exif=True``: transformers
    ``load_image`` (``ImageOps.exif_transpose`` then ``convert("RGB")``; alpha dropped everywhere).
    """
    if info.kind != "image":
        raise VizError(f"load_image needs an image; {os.path.basename(info.path)!r} is a {info.kind}")
    try:
        with Image.open(info.path) as img, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's "palette with transparency" advice
            if apply_exif:
                rgb = ImageOps.exif_transpose(img).convert("RGB")
            elif img.mode == "RGBA":
                rgb = Image.new("RGB", img.size, (255, 255, 255))
                rgb.paste(img, mask=img.split()[3])
            else:
                rgb = img.convert("RGB")
            return np.array(rgb)  # a writable copy
    except (OSError, SyntaxError, ValueError) as e:
        raise VizError(f"image file {os.path.basename(info.path)!r} cannot be read: {e}") from None


def exif_size(info: MediaInfo) -> tuple[int, int]:
    """(height, width) after the EXIF orientation is applied (orientations 5..8 swap the sides)."""
    if info.exif_orientation in (5, 6, 7, 8):
        return info.width, info.height
    return info.height, info.width


# --- video frames --------------------------------------------------------------------------------


def _index_for(info: MediaInfo) -> _VideoIndex:
    with _lock:
        known = _content_cache.get(info.content_hash)
    if known is not None and known[1] is not None:
        return known[1]
    # evicted or cleared (or info made elsewhere): probe again and check it is the same file
    try:
        again, index = _probe(info.path, os.path.getsize(info.path))
    except OSError:
        again, index = None, None
    if again is None or again.content_hash != info.content_hash or index is None:
        raise VizError(f"{os.path.basename(info.path)!r} changed since it was opened; open it again")
    return index


def _check_indices(info: MediaInfo, indices: Sequence[int]) -> list[int]:
    out = [int(i) for i in indices]
    bad = [i for i in out if not 0 <= i < info.frames]
    if bad:
        raise VizError(
            f"frame index {bad[0]} is out of range for {os.path.basename(info.path)!r}: it has "
            f"{info.frames} frames, allowed 0..{info.frames - 1}",
            field="frames",
        )
    return out


def _ascending_runs(req: list[int]) -> list[list[int]]:
    """``req`` cut where an index goes back: each run is one decode pass."""
    runs: list[list[int]] = []
    for i in req:
        if runs and i >= runs[-1][-1]:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def _to_display(frame: av.VideoFrame, rotation_k: int) -> np.ndarray:
    rgb = frame.to_ndarray(format="rgb24")
    if rotation_k:
        rgb = np.rot90(rgb, rotation_k)
    rgb = np.ascontiguousarray(rgb)
    rgb.setflags(write=False)  # shared with the cache: copy before writing
    return rgb


def _decode_wanted(info: MediaInfo, index: _VideoIndex, wanted: list[int]) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(i, rgb)`` for each ``i`` of ``wanted`` (unique, ascending), decoding as little as possible.

    Two savings, both exact (the frames kept are bit-identical to a full decode):
    - seek: ``pos`` is the presentation index of the next frame the decoder outputs. For a target
      ``t`` whose closest keyframe at or before it is ``k``, seek to ``k`` when ``k > pos`` and
      decoding ``t - k`` frames plus the seek's cost beats decoding ``t - pos`` frames forward.
    - skip: packets of frames nobody wants are fed with ``skip_frame=NONREF``, so the decoder drops
      the ones no other frame references (about a third of an x264 stream with B-frames).
    If the container's index or the codec misbehaves (a seek lands past its target, a wanted frame
    goes missing), the pass restarts without that saving from the first frame not yet delivered.
    """
    name = os.path.basename(info.path)
    allow_seek = allow_skip = index.seekable
    while True:
        try:
            yield from _decode_pass(info, index, wanted, allow_seek, allow_skip, name)
            return
        except _Restart as e:
            wanted = [i for i in wanted if i >= e.target]
            allow_seek = allow_seek and not e.seek_failed
            allow_skip = allow_skip and e.seek_failed  # a missing frame: stop skipping first


class _Restart(Exception):
    def __init__(self, target: int, *, seek_failed: bool) -> None:
        self.target = target
        self.seek_failed = seek_failed


def _keyframe_at_or_before(index: _VideoIndex, target: int) -> int:
    j = int(np.searchsorted(index.keyframes, target, side="right")) - 1
    return int(index.keyframes[j]) if j >= 0 else 0


def _frame_index(index: _VideoIndex, ts: int | None) -> int | None:
    """Presentation index of the frame with timestamp ``ts`` (None when unknown)."""
    if ts is None or not index.seekable:
        return None
    j = int(np.searchsorted(index.pts, ts))
    return j if j < len(index.pts) and index.pts[j] == ts else None


def _decoded_frames(container, stream, index: _VideoIndex, wanted: set[int], skip: bool) -> Iterator[av.VideoFrame]:
    """Demux + decode from the current position; unwanted packets go in with skip_frame=NONREF."""
    cc = stream.codec_context
    mode = cc.skip_frame
    for pkt in container.demux(stream):
        if skip:
            idx = _frame_index(index, pkt.pts)
            want = "DEFAULT" if idx is None or idx in wanted else "NONREF"
            if want != mode:  # read by the decoder when this packet is submitted (frame threads too)
                cc.skip_frame = mode = want
        yield from pkt.decode()


def _decode_pass(info: MediaInfo, index: _VideoIndex, wanted: list[int], allow_seek: bool, allow_skip: bool, name: str):
    wanted_set = set(wanted)
    with _av_open(info.path) as container:
        stream = container.streams[index.stream_index]
        skip = allow_skip and stream.codec_context.name in SKIP_NONREF_CODECS
        frames = _decoded_frames(container, stream, index, wanted_set, skip)
        pos = 0
        just_seeked = False
        for target in wanted:
            if allow_seek:
                k = _keyframe_at_or_before(index, target)
                if k > pos and (target - k) + SEEK_COST_FRAMES < (target - pos):
                    frames.close()
                    container.seek(int(index.pts[k]), stream=stream, backward=True, any_frame=False)
                    _count("seeks")
                    frames = _decoded_frames(container, stream, index, wanted_set, skip)
                    pos, just_seeked = k, True
            try:
                for frame in frames:
                    _count("frames_decoded")
                    idx = _frame_index(index, frame.pts)
                    if idx is None:
                        idx = pos  # without usable pts, frames are counted in output order
                    if just_seeked and idx > target:
                        raise _Restart(target, seek_failed=True)
                    just_seeked = False
                    if idx > pos:
                        _count("frames_skipped", idx - pos)
                    pos = idx + 1
                    if idx == target:
                        _count("frames_converted")
                        yield target, _to_display(frame, index.rotation_k)
                        break
                    if idx > target:
                        if skip:
                            raise _Restart(target, seek_failed=False)
                        raise VizError(f"frame {target} of {name!r} could not be decoded (the decoder skipped it)")
                else:
                    if skip:
                        raise _Restart(target, seek_failed=False)
                    raise VizError(
                        f"frame {target} of {name!r} could not be decoded: the stream ended after frame {pos - 1} "
                        f"although {info.frames} packets were counted; the file may be truncated"
                    )
            except (VizError, _Restart):
                raise
            except (av.FFmpegError, ValueError) as e:
                raise VizError(f"decoding frame {target} of {name!r} failed: {e}; the file may be corrupt") from None
        frames.close()


def _prefetched(gen: Iterator[tuple[int, np.ndarray]], depth: int = 2) -> Iterator[tuple[int, np.ndarray]]:
    """Run ``gen`` in a background thread ``depth`` items ahead (PyAV releases the GIL in decode)."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in gen:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(done)
        except BaseException as e:  # handed to the consumer, raised there
            q.put(e)
        finally:
            gen.close()

    worker = threading.Thread(target=produce, name="qwenvl-viz-decode", daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            try:
                q.get(timeout=0.05)
            except queue.Empty:
                pass
        worker.join()


def iter_frames(info: MediaInfo, indices: Sequence[int], *, prefetch: bool = True) -> Iterator[np.ndarray]:
    """Yield one uint8 ``[H, W, 3]`` RGB frame (displayed orientation, read-only) per index.

    ``indices`` are checked at once, before decoding. Cached frames cost nothing; the others are
    decoded in one pass per ascending run of ``indices`` (a backend that seeks may return an earlier
    picture after a later one), which seeks only where a keyframe between the current position and
    the target makes that cheaper, and converts to RGB only the frames yielded. With ``prefetch`` a
    background thread decodes up to two frames ahead.
    """
    if info.kind != "video":
        raise VizError(f"iter_frames needs a video; {os.path.basename(info.path)!r} is an {info.kind}; use load_image")
    req = _check_indices(info, indices)
    index = _index_for(info) if req else None
    runs = _ascending_runs(req)
    if len(runs) <= 1:
        return _iter_frames(info, index, req, prefetch)
    return _iter_runs(info, index, runs, prefetch)


def _iter_runs(info: MediaInfo, index: _VideoIndex, runs: list[list[int]], prefetch: bool) -> Iterator[np.ndarray]:
    for run in runs:
        yield from _iter_frames(info, index, run, prefetch)


def _iter_frames(info: MediaInfo, index: _VideoIndex | None, req: list[int], prefetch: bool) -> Iterator[np.ndarray]:
    if not req or index is None:
        return
    # Take the cached frames now, so decoding the others cannot evict them before they are yielded.
    have: dict[int, np.ndarray] = {}
    for i in dict.fromkeys(req):
        arr = _frame_cache.get((info.content_hash, i))
        if arr is not None:
            have[i] = arr
    _count("cache_hits", sum(1 for i in req if i in have))
    missing = [i for i in dict.fromkeys(req) if i not in have]
    _count("cache_misses", len(missing))
    # A pass never evicts its own frames: LRU over a scan larger than the cache would keep only its
    # tail, which a repeat of the same scan evicts before reaching it; keeping the head gives hits.
    room = _frame_cache.max_bytes - sum(a.nbytes for a in have.values())
    decoded: Iterator[tuple[int, np.ndarray]] = iter(())
    if missing:
        decoded = _decode_wanted(info, index, missing)
        if prefetch and len(missing) > 1:
            decoded = _prefetched(decoded)
    try:
        last: tuple[int, np.ndarray] | None = None
        for i in req:
            if i in have:
                yield have[i]
            elif last is not None and last[0] == i:
                yield last[1]
            else:
                j, arr = next(decoded)
                assert j == i, (j, i)  # decode order = sorted unique missing = request order
                if arr.nbytes <= room:
                    _frame_cache.put((info.content_hash, i), arr)
                    room -= arr.nbytes
                last = (i, arr)
                yield arr
    finally:
        close = getattr(decoded, "close", None)
        if close is not None:
            close()


def frame_times(info: MediaInfo, indices: Sequence[int]) -> list[float | None]:
    """When frame ``i`` (presentation order) is shown, in seconds from the stream's first frame: its pts.

    Beside ``i / fps`` (what the references compute) this shows the real playback time on VFR clips
    and AVIs with dropped-frame slots. None where the file has no usable timestamps.
    """
    index = _index_for(info)
    if not index.seekable or not index.time_base:
        return [None for _ in indices]
    first = int(index.pts[0])
    return [float((int(index.pts[i]) - first) * index.time_base) for i in indices]


def read_frames(info: MediaInfo, indices: Sequence[int]) -> np.ndarray:
    """Stacked uint8 ``[n, H, W, 3]`` frames (a new, writable array); for small clips and tests."""
    frames = list(iter_frames(info, indices))
    if not frames:
        return np.zeros((0, info.height, info.width, 3), np.uint8)
    return np.stack(frames)
