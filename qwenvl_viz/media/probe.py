"""Probing: ``open_media`` hashes the bytes, asks Pillow (images.py) then FFmpeg, and caches the answer;
for a video one demux pass yields both ``MediaInfo`` and the ``_VideoIndex`` that frames.py decodes with."""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import time

import av
import numpy as np

from ..errors import VizError
from ..seeks import B_VOP, NAL_UNKNOWN, REF, REF_PACKED_B, SLOT, PacketOrder
from .caches import PROBE_CACHE_ENTRIES, _content_cache, _count, _lock, _probe_cache
from .images import _probe_image
from .info import MediaInfo, _VideoIndex

HASH_FULL_BYTES = 64 << 20  # files up to this size are hashed whole
HASH_SAMPLE_CHUNKS = 16  # larger ones: size + this many evenly spaced chunks
HASH_CHUNK_BYTES = 1 << 20
PROBE_MAX_PACKETS = 2_000_000  # demux pass bound (~18.5 h at 30 fps): a looping demuxer stops here
PROBE_MAX_SECONDS = 60.0
IO_TIMEOUT_S = 20.0  # FFmpeg interrupt callback: no single open/read may block longer
FIRST_FRAME_MAX_PACKETS = 512  # packets fed before the first frame must come out
MPEG4_VOP_START = b"\x00\x00\x01\xb6"
PACKED_SCAN_PACKETS = 300  # packed B-frames show within the first GOPs
ANNEX_B_START = b"\x00\x00\x01"
NAL_HEAD_BYTES = 64  # where a packet's first slice starts unless parameter sets and SEI come first
SUPPORTED = (
    "images: png, jpeg, webp, bmp, tiff, gif; videos: mp4, mov, mkv, webm (vp8/vp9), avi (mpeg4), "
    "animated gif"
)


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


def _index_for(info: MediaInfo) -> _VideoIndex:
    """The demux index of a video opened before; probed again if the cache has let it go."""
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
        average_rate = stream.average_rate
        # what libavformat's compute_frame_duration takes for a packet without a duration: the codec's
        # frame rate (the H.264 SPS timing) where the codec has a parser, else r_frame_rate
        frame_rate = stream.codec_context.framerate or stream.base_rate
        time_base = stream.time_base
        stream_index = stream.index
        # has_b_frames as avformat_find_stream_info leaves it (codecpar video_delay): the pictures the
        # decoder holds back before its first output, from the SPS (H.264 / HEVC) whatever the build
        reorder_depth = int(stream.codec_context.reorder_depth or 0)
        # HEVC in AVI (Annex B): each packet's first slice type, for replaying torchcodec's seeks to CRAs
        nal_types = fmt == "avi" and codec == "hevc"
        pts, dts, durations, key_pts, last_end, packed, key_flags, vops, pes, nals = _demux_pass(
            container, stream, name, nal_types)
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
    # MPEG-4 Part 2 with B-frames in AVI: the backends' seeks go wrong there, in ways ``seeks`` replays
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
        reordered=(PacketOrder(tuple(int(d) for d in dts), (), tuple(key_flags), reorder=reorder_depth,
                               nal_types=tuple(nals))
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


def _first_slice_type(pkt) -> int:
    """HEVC in Annex B: the NAL unit type of the packet's first slice (a VCL NAL unit, type < 32), from the
    byte after its start code; NAL_UNKNOWN if there is none. Reads the packet's head, all of it only where
    parameter sets and SEI come first (keyframes)."""
    view = memoryview(pkt)
    for buf in (bytes(view[:NAL_HEAD_BYTES]), bytes(view) if len(view) > NAL_HEAD_BYTES else b""):
        i = buf.find(ANNEX_B_START)
        while 0 <= i < len(buf) - 3:
            nal_type = (buf[i + 3] >> 1) & 0x3F
            if nal_type < 32:
                return nal_type
            i = buf.find(ANNEX_B_START, i + 3)
    return NAL_UNKNOWN


def _demux_pass(container, stream, name: str, nal_types: bool = False):
    """Read every packet of ``stream`` once (no decoding), bounded in count and time; ``nal_types``: also
    each packet's first slice type (HEVC in Annex B)."""
    pts: list[int | None] = []
    dts: list[int | None] = []
    durations: list[int | None] = []
    key_pts: list[int | None] = []
    key_flags: list[bool] = []
    vops: list[int] = []  # VOP start codes per packet (MPEG-4 Part 2; all packets once packed is seen)
    # a byte position: the parser gives one only to the first picture that begins in a PES (MPEG-PS / TS)
    pes: list[bool] = []
    nals: list[int] = []
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
            if nal_types:
                nals.append(_first_slice_type(pkt))
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
    return pts, dts, durations, key_pts, last_end, packed, key_flags, vops, pes, nals


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
