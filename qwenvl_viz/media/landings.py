"""After a seek: which pictures PyAV's FFmpeg outputs, and with which stamps, to replay torchcodec's seeks on
MPEG-1/2 with B-frames in an MPEG program stream (``seeks.Landing``).

torchcodec 0.13.0 seeks with ``avformat_seek_file(ctx, stream, INT64_MIN, ts, ts, 0)``, ts the keyframe's
scan pts (``SingleStreamDecoder::maybeSeekToBeforeDesiredPts``). The MPEG-PS demuxer has no ``read_seek2``,
so FFmpeg falls back to ``av_seek_frame(ctx, stream, ts, AVSEEK_FLAG_BACKWARD)`` (min_ts is farther from ts
than max_ts; libavformat seek.c), the call PyAV's ``container.seek(ts, stream=, backward=True,
any_frame=False)`` makes. That runs ``ff_seek_frame_binary`` over ``mpegps_read_dts``: it lands on the last
PES whose dts is <= ts, where the mpegvideo parser restarts, so what comes out depends on how the PES
packets split the pictures. Rather than model that, the same seek is made here: measured against ffprobe
5.1, FFmpeg 8's demuxer lands on the same byte and its parser cuts the same packets with the same dts, and
the same pts wherever 5.1 gives one (``seeks.mpeg_ps_pts``; newer builds interpolate the others). The
decoder stamps a frame with the pts of the packet that started it, else torchcodec reads its ``pkt_dts``
(the packet whose decoding output it; none at the drain), so the 5.1 stamp is worked out per frame from
the packet it came from (``copy_opaque``).

Each output frame is named by the in-order packet with the same bytes (the first packet after a landing
may be cut shorter: then by the packets with its pts or dts); only where that names several pictures are
their pixels compared with the frame (one decode pass), so a landing costs about one short decode (a 60 s
SD program stream sampled at 2 fps, 63 landings: about 1 s). Decoding stops once the packets are back in
step with the in-order read (same bytes, same dts) and ``REJOIN_RUN`` frames in a row are the in-order
ones with their in-order stamps: from there the decoder's state and input are those of reading in order.
Work is done per keyframe a request seeks to, once per file (``caches._landing_cache``).
"""

from __future__ import annotations

import hashlib

import av
import numpy as np

from ..seeks import Landing, PacketOrder, TorchcodecIndex, decode_order, mpeg_ps_pts
from .caches import LANDING_CACHE_ENTRIES, _landing_cache, _lock
from .frames import _to_display, read_frames
from .info import MediaInfo, _VideoIndex
from .probe import _av_open

REJOIN_RUN = 3  # in-order frames in a row, with the packets in step, after which the rest is the in-order run
PICTURE_START = b"\x00\x00\x01\x00"  # MPEG-1/2 picture_start_code
B_PICTURE = 3  # picture_coding_type (ISO/IEC 13818-2 Table 6-12)


def _digest(pkt) -> bytes:
    return hashlib.blake2b(memoryview(pkt), digest_size=12).digest()


def _is_b_picture(data: bytes) -> bool:
    """The packet's picture header says B (10 bits temporal_reference, then 3 bits picture_coding_type)."""
    i = data.find(PICTURE_START)
    return 0 <= i and i + 5 < len(data) and (data[i + 5] >> 3) & 7 == B_PICTURE


def _cached(key, make):
    with _lock:
        if key in _landing_cache:
            _landing_cache.move_to_end(key)
            return _landing_cache[key]
    value = make()
    with _lock:
        _landing_cache[key] = value
        while len(_landing_cache) > LANDING_CACHE_ENTRIES:
            _landing_cache.popitem(last=False)
    return value


def _in_order(info: MediaInfo, index: _VideoIndex) -> dict[bytes, list[int]]:
    """Packet bytes -> the decode positions of the in-order packets with those bytes (one demux pass)."""
    def make() -> dict[bytes, list[int]]:
        out: dict[bytes, list[int]] = {}
        with _av_open(info.path) as container:
            q = 0
            for pkt in container.demux(container.streams[index.stream_index]):
                if pkt.size:
                    out.setdefault(_digest(pkt), []).append(q)
                    q += 1
        return out

    return _cached((info.content_hash, "packets"), make)


def mpeg_ps_landing(info: MediaInfo, index: _VideoIndex, order: PacketOrder, tc: TorchcodecIndex, j: int) -> Landing:
    """What torchcodec's decoder outputs after its seek to keyframe ``j`` of ``tc`` (cached per file)."""
    def make() -> Landing:
        try:
            return _land(info, index, order, tc, j)
        except (av.FFmpegError, ValueError):  # a damaged file: shown as the in-order run from the keyframe, flagged
            return Landing((), tc.key_picture[j], modelled=False)

    return _cached((info.content_hash, "landing", j), make)


def _land(info: MediaInfo, index: _VideoIndex, order: PacketOrder, tc: TorchcodecIndex, j: int) -> Landing:
    packets = _in_order(info, index)
    in_order_pts = mpeg_ps_pts(order)
    picture_of = [0] * len(order.dts)  # decode position -> picture (output rank: PES pts may repeat)
    for p, q in enumerate(decode_order(order).packet):
        picture_of[q] = p
    by_pts: dict[int, list[int]] = {}
    by_dts: dict[int, list[int]] = {}
    for q, (pts, dts) in enumerate(zip(order.pts, order.dts)):
        by_pts.setdefault(pts, []).append(q)
        by_dts.setdefault(dts, []).append(q)
    outputs: list[tuple[int | None, int]] = []
    modelled = True
    run = 0
    with _av_open(info.path) as container:
        stream = container.streams[index.stream_index]
        stream.codec_context.copy_opaque = True  # each frame carries the number of the packet that started it
        container.seek(tc.key_scan_pts[j], stream=stream, backward=True, any_frame=False)
        fed: list[tuple[int | None, list[int]]] = []  # per packet fed: (its 5.1 pts, in-order packets with its bytes)
        for pkt in container.demux(stream):
            in_step = False
            if pkt.size:
                data = bytes(pkt)
                pts51 = pkt.pts if pkt.pos is not None or _is_b_picture(data) else None  # seeks.mpeg_ps_pts
                same = packets.get(_digest(pkt), [])
                # the packet the parser starts with is cut otherwise (headers left in the PES before): its pts
                cut = sorted(set(by_pts.get(pkt.pts, ())) | set(by_dts.get(pkt.dts, ())))
                in_step = any(order.dts[q] == pkt.dts and in_order_pts[q] == pts51 for q in same)
                pkt.opaque = len(fed)
                fed.append((pts51, same or cut))
            for frame in pkt.decode():
                pts51, _ = fed[frame.opaque]
                stamp = pts51 if pts51 is not None else frame.dts  # getPtsOrDts; frame.dts is pkt_dts
                picture = _picture(info, index, frame, [int(picture_of[q]) for q in fed[frame.opaque][1]])
                if picture is None:  # not a picture of the in-order decode
                    modelled = False
                    picture = outputs[-1][1] + 1 if outputs else 0
                expected = outputs[-1][1] + 1 if outputs else None
                run = run + 1 if picture == expected and stamp == tc.picture_pts[picture] else 0
                outputs.append((stamp, picture))
            if in_step and run >= REJOIN_RUN:
                return Landing(tuple(outputs), outputs[-1][1] + 1, modelled)
    return Landing(tuple(outputs), len(tc.picture_pts), modelled)



def _picture(info: MediaInfo, index: _VideoIndex, frame: av.VideoFrame, candidates: list[int]) -> int | None:
    """The picture among ``candidates`` (the in-order pictures whose packets have the bytes, or else the pts or
    dts, of the packet that started ``frame``): the only one, or the one with its pixels as ``frames`` decodes
    it in order (rare: repeated packets, or a cut first packet; one decode pass for all of them)."""
    candidates = list(dict.fromkeys(candidates))
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    rgb = _to_display(frame, index.rotation_k)
    for p, seen in zip(candidates, read_frames(info, candidates)):
        if np.array_equal(seen, rgb):
            return p
    return None
