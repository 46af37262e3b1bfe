"""The media stage's records: ``MediaInfo`` (what a file is) and ``_VideoIndex`` (where its frames are)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..seeks import PacketOrder


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
    # (``PacketOrder.reorder``) and, for HEVC, each packet's first slice type (``PacketOrder.nal_types``:
    # IDR, CRA, RASL), for replaying torchcodec's seeks
    reordered: PacketOrder | None = None
    header_duration_s: float | None = None  # the container's stated duration; None in raw elementary streams
    codec_family: str = ""  # FFmpeg's codec name ("av1"), whichever decoder ("libdav1d") PyAV picked
