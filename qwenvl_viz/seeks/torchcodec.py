"""torchcodec 0.13.0's ``VideoDecoder.get_frames_at`` after seeks, replayed on the packets' decode order.

torchcodec (Debian's FFmpeg 5.1) scans the packets with pts = dts, so frame ``k`` is the k-th dts,
while the decoder stamps each picture with its presentation pts. ``get_frames_at`` sorts the
indices; measured on 0.13.0 (``SingleStreamDecoder``): an index right after the previous one takes
the decoder's next frame; any other sets the cursor to its scan pts and seeks, unless the cursor is
past the last decoded pts and both share a keyframe (``canWeAvoidSeeking``), to the last keyframe
whose scan pts is <= the cursor; it returns the first frame decoded whose pts is >= the cursor. The
picture output at the drain carries no pts, so it is never returned: "Requested next frame while
there are no more frames left to decode" (``replay_torchcodec``).

The same replay covers H.264 with B-frames in AVI, whose packets FFmpeg 5.1 gives no pts at all (only
dts, the chunk number). The decoder then stamps each picture with ``pkt_dts`` (``getPtsOrDts``): the
dts of the packet whose decoding output it. H.264 outputs with a fixed delay, ``has_b_frames`` from
the SPS, so picture ``p`` carries dts ``p + has_b_frames`` and the last ``has_b_frames`` pictures,
output at the drain, none (``delayed_order``): read in order torchcodec returns ``n - has_b_frames``
frames, and after a seek index ``k`` gives picture ``k - has_b_frames`` (x264 with B-pyramid: 2).
HEVC in AVI does the same (x265, bframes=3: has_b_frames 2), reading in order and after a seek to an
IDR. x265's default later keyframes are open-GOP CRAs, after which the decoder drops the RASL pictures,
the leading ones that reference the previous GOP (FFmpeg 5.1, libavcodec/hevcdec.c): the seek flushes it
(``hevc_decode_flush``: ``max_ra = INT_MAX``), ``decode_nal_unit`` sets ``max_ra`` to the CRA's POC on the
first picture after that and skips a RASL_N / RASL_R slice whose POC is <= it before ``hevc_frame_start``
(which alone calls ``ff_hevc_output_frame``), so that packet outputs nothing. The others are output by POC, one per decoded packet once more than ``num_reorder_pics``
(= has_b_frames) wait (hevc_refs.c ``ff_hevc_output_frame``). The RASL pictures are shown first among the
CRA's leading ones (H.265 7.4.2.2: a RASL picture precedes every RADL picture of its CRA in output order),
so after a seek to a CRA at decode position q with R RASL packets the pictures come out from q + R on, the
m-th stamped with the dts of the (m + has_b_frames)-th packet decoded: the stamp it has read in order
(``delayed_order``). Measured on x265 streams with 1, 3 and 5 RASL pictures per CRA, and with IDRs that
have RADL pictures. The probe reads each packet's NAL unit type
(``PacketOrder.nal_types``); a seek to a keyframe that is neither an IDR nor a CRA (a BLA, or an unknown
type) is named in ``Replay.unmodelled``.
MPEG-1/2 in an MPEG program stream: FFmpeg 5.1 stamps pictures with their PES pts or a B-frame's dts, else the
releasing packet's dts (``mpeg_ps_pts``); what a seek outputs is measured by making it again (``Landing``,
``media.landings``), and the same cursor rule picks from it.
Source: torchcodec 0.13.0 ``SingleStreamDecoder::getFrameAtIndexInternal`` sets the cursor only when
the index is not the last one + 1; ``canWeAvoidSeeking`` and ``maybeSeekToBeforeDesiredPts`` as above.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from .packets import B_VOP, HEVC_CRA, HEVC_IDR, HEVC_IRAP, HEVC_RASL, NOPTS, Decode, PacketOrder, Replay, decode_order

__all__ = ["Landing", "TorchcodecIndex", "delayed_order", "mpeg_ps_pts", "torchcodec_index", "replay_torchcodec"]


@dataclass(frozen=True)
class Landing:
    """What the decoder outputs after a seek to one keyframe, where that is not the in-order run from one
    picture on (MPEG-2 in an MPEG-PS: the demuxer lands on a PES, the parser restarts there).

    ``outputs`` are the frames first output, each (the stamp torchcodec reads, None: none; the picture);
    then the in-order pictures from ``rejoin`` on follow, stamped as read in order. ``modelled``: False
    where an output is not a picture of the in-order decode (its pixels differ)."""

    outputs: tuple[tuple[int | None, int], ...]
    rejoin: int
    modelled: bool = True


@dataclass(frozen=True)
class TorchcodecIndex:
    """torchcodec's scan of one file, and the pts its decoder stamps on each picture."""

    scan_pts: tuple[int, ...]  # allFrames[k].pts: the packets' dts, sorted
    key_scan_pts: tuple[int, ...]  # keyFrames[j].pts, sorted
    key_picture: tuple[int, ...]  # the first picture the decoder outputs after a seek to keyframe j
    picture_pts: tuple[int | None, ...]  # per picture: the pts it is stamped with; None: output at the drain
    # per keyframe: False where a seek there is not replayed (HEVC: neither an IDR nor a CRA); (): all are
    key_modelled: tuple[bool, ...] = ()
    # MPEG-PS: keyframe j -> what its seek outputs, measured by doing the same seek (run lazily, cached per file)
    landing: Callable[[int], Landing] | None = field(default=None, compare=False, repr=False)


def _rasl_after(nal_types: tuple[int, ...], q: int) -> list[int]:
    """The packets FFmpeg's HEVC decoder skips after a flush and a CRA at packet ``q``: the RASL pictures up
    to the next IRAP (``max_ra`` is the CRA's POC; later CRAs' RASL pictures have larger POCs)."""
    skipped = []
    for i in range(q + 1, len(nal_types)):
        if nal_types[i] in HEVC_IRAP:
            break
        if nal_types[i] in HEVC_RASL:
            skipped.append(i)
    return skipped


@functools.lru_cache(maxsize=8)
def delayed_order(order: PacketOrder) -> Decode:
    """What an H.264 / HEVC decoder outputs, packet by packet: with ``order.reorder`` = has_b_frames = D
    it outputs a picture (the lowest in presentation order) once more than D wait, so picture ``p`` is
    released by packet ``p + D`` and the last D at the drain. Measured on torchcodec 0.13.0 (x264,
    B-pyramid, D = 2): picture p comes stamped with the dts of packet p + 2, across an IDR too.

    After a seek to an IDR (x264's keyframes, x265's closed GOPs: nothing shown before it is decoded after
    it) the outputs are the in-order ones from the picture its decode position numbers. After a seek to
    an HEVC CRA at packet q the decoder skips its R RASL packets, so the pictures start at q + R (the RASL
    pictures are the first R shown from q on). The m-th is released by the (m + D)-th packet decoded, and
    that is packet q + R + m + D, the in-order one: the CRA and the RADL pictures decoded before the last
    RASL one are shown after it, so there are at most D of them (num_reorder_pics bounds the pictures that
    precede another in decode order and follow it in output order), and the (m + D)-th is past the last
    skipped packet.

    >>> o = PacketOrder(tuple(range(8)), (), (True, False, False, False, True, False, False, False),
    ...                 reorder=1, nal_types=(19, 1, 1, 1, 21, 8, 1, 1))
    >>> delayed_order(o).key_picture  # packet 5 (RASL) is skipped after a seek to the CRA at packet 4
    (0, 5)
    """
    n, d, nal = len(order.dts), order.reorder, order.nal_types
    released = tuple(order.dts[p + d] if p + d < n else NOPTS for p in range(n))
    keys = [q for q in range(n) if order.key[q]]
    # a stream that does not open on an IDR drops RASL pictures read in order too: not modelled
    opens_on_idr = not nal or nal[0] in HEVC_IDR
    start = tuple(q + len(_rasl_after(nal, q)) if nal and nal[q] == HEVC_CRA else q for q in keys)
    modelled = tuple(opens_on_idr and (not nal or nal[q] in HEVC_IDR or nal[q] == HEVC_CRA) for q in keys)
    return Decode(start, released, (), modelled)


def mpeg_ps_pts(order: PacketOrder) -> tuple[int | None, ...]:
    """Per packet of an MPEG-PS, the pts FFmpeg 5.1 (torchcodec's) gives it: its PES header's where the
    picture is the first to begin in a PES with a timestamp, a B-frame's dts (``compute_pkt_fields``: not
    delayed, pts = dts); None for the other references, whose pts newer builds (PyAV's) interpolate.
    Checked packet by packet against ffprobe 5.1, in order and after each seek (tests/test_codecs.py)."""
    return tuple(p if pes or kind == B_VOP else None for p, pes, kind in zip(order.pts, order.pes, order.kinds))


@functools.lru_cache(maxsize=8)
def torchcodec_index(order: PacketOrder, presentation_pts: tuple[int, ...]) -> TorchcodecIndex:
    """``presentation_pts``: the pictures' pts in presentation order (what the MPEG-4 decoder stamps).

    With ``order.reorder`` (H.264 / HEVC in AVI) the packets carry no pts in FFmpeg 5.1, so the frame's
    pts is unset and torchcodec's ``getPtsOrDts`` takes its ``pkt_dts``: the dts of the packet whose
    decoding released it (``delayed_order``); the pictures output at the drain get none.
    """
    if order.reorder:
        decode = delayed_order(order)
        pts = tuple(None if rel == NOPTS else rel for rel in decode.released_by)
    elif order.pes:
        decode = decode_order(order)
        own = mpeg_ps_pts(order)
        pts = tuple(own[q] if own[q] is not None else None if rel == NOPTS else rel
                    for q, rel in zip(decode.packet, decode.released_by))
        scan = tuple(d if p is None else p for p, d in zip(own, order.dts))  # getPtsOrDts(packet)
        keys = sorted(t for t, k in zip(scan, order.key) if k)
        return TorchcodecIndex(tuple(sorted(scan)), tuple(keys), decode.key_picture, pts)
    else:
        decode = decode_order(order)
        pts = tuple(None if rel == NOPTS else int(p) for p, rel in zip(presentation_pts, decode.released_by))
    keys = sorted(d for d, k in zip(order.dts, order.key) if k)
    return TorchcodecIndex(tuple(sorted(order.dts)), tuple(keys), decode.key_picture, pts, decode.key_modelled)


def replay_torchcodec(index: TorchcodecIndex, indices) -> Replay:
    """The pictures ``VideoDecoder(path).get_frames_at(indices)`` returns; where it runs out of
    frames (it raises for the whole call) the pictures from that index on are None.

    After a seek to keyframe j the decoder outputs ``index.landing(j)``'s frames, then the in-order
    pictures from its ``rejoin`` on; without a landing, the in-order pictures from ``key_picture[j]`` on."""
    req = [int(k) for k in indices]
    out: list[int | None] = [None] * len(req)
    n_pic = len(index.picture_pts)

    def key_of(pts: int) -> int:  # getKeyFrameIndexForPtsUsingScannedIndex
        return bisect.bisect_right(index.key_scan_pts, pts) - 1

    first: list[tuple[int | None, int]] = []  # frames the last seek outputs before the in-order run, reversed
    nxt = 0  # the in-order run's next picture
    last: int | None = None  # lastDecodedAvFramePts
    cursor = 0
    prev: tuple[int, int] | None = None  # (index, its position in req)
    unmodelled: list[int] = []

    def decoded() -> tuple[int | None, int] | None:  # the decoder's next frame (stamp, picture); None: no more
        nonlocal nxt
        if first:
            return first.pop()
        if nxt >= n_pic:
            return None
        nxt += 1
        return index.picture_pts[nxt - 1], nxt - 1

    for i in sorted(range(len(req)), key=lambda i: req[i]):
        k = req[i]
        if prev is not None and k == prev[0]:  # a repeat is copied
            out[i] = out[prev[1]]
            continue
        if prev is None or k != prev[0] + 1:
            cursor = index.scan_pts[k]
            avoid = last is not None and cursor > last and key_of(last) >= 0 and key_of(last) == key_of(cursor)
            if not avoid:
                j = max(key_of(cursor), 0)
                landing = index.landing(j) if index.landing is not None else Landing((), index.key_picture[j])
                first, nxt = list(reversed(landing.outputs)), landing.rejoin
                if not landing.modelled or (index.key_modelled and not index.key_modelled[j]):
                    unmodelled.append(k)
        while (frame := decoded()) is not None and (frame[0] is None or frame[0] < cursor):
            pass
        if frame is None:
            return Replay(tuple(out), (), "torchcodec 0.13.0: RuntimeError: Requested next frame while there are "
                                          "no more frames left to decode", tuple(unmodelled))
        last, out[i] = frame
        prev = (k, i)
    return Replay(tuple(out), (), None, tuple(unmodelled))
