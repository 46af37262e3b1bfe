"""Which picture torchcodec 0.13.0 and decord 0.6.0 return for frame ``k`` of a video with B-frames.

Both read such files (MPEG-4 Part 2 with B-frames, packed or not) right in order and return other
pictures after a seek, each its own way; the two are replayed here on the packets' decode order.

The decoder (FFmpeg's MPEG-4 Part 2, any build) holds one reference picture back: a reference is
output when the next one is decoded, the last one at the drain; a B-VOP when decoded. After a seek
to a keyframe it drops the B-frames that need the previous GOP, so it outputs the pictures from the
keyframe's on, in presentation order (``decode_order``).

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

decord numbers frames by packet pts (``IndexKeyframes`` sorts ``frame_ts_`` by pts) but its
bundled FFmpeg 4.1 gives the reference packets of an MPEG-4 Part 2 AVI with B-frames no pts at all
(``AV_NOPTS_VALUE``; only B-VOP packets get pts = dts), and none to any packet of a packed-bitstream
AVI. So its index is wrong in a way that can be worked out exactly (measured with
``VideoReader.get_frame_timestamp``): the no-pts entries sort first, ``FrameToPTS(pos)`` of such an
entry is ``INT64_MIN``, and ``key_indices_`` are packet positions in decode order. Reading in order
is right; every seek lands elsewhere. ``get_batch`` then does, per index (src/video/video_reader.cc):

- ``SeekAccurate(pos)``: if ``pos`` is behind, or its keyframe (``LocateKeyframe``: the last entry of
  ``key_indices_`` <= pos) differs from the current one: ``Seek(0)``, ``Seek(key_pos)``, then
  ``CheckKeyFrame``; else skip ``pos - curr_frame_`` decoded frames (``SkipFramesImpl``).
- ``Seek(pos)``: ``av_seek_frame(ts = FrameToPTS(pos))``, forward when moving forward; on failure
  backward, then backward with ``AVSEEK_FLAG_FRAME`` and ``pos`` as the timestamp. The AVI demuxer
  seeks to the keyframe whose index timestamp (its dts) is the first >= ts (forward) or the last
  <= ts (backward). ``curr_frame_ = pos`` whatever keyframe the demuxer chose.
- ``CheckKeyFrame``: decodes one frame and looks its ``best_effort_timestamp`` up in the pts index.
  For a reference picture that is the dts of the packet whose decoding released it (its own pts is
  unset), which is no B-frame's pts, so the check passes and ``curr_frame_`` stays wrong. decord
  keeps the frame's pts in an ``int`` (NDArray::pts), so ``AV_NOPTS_VALUE`` reads as 0.
- ``SkipFramesImpl(n)`` counts ``n`` decoded frames; ``NextFrameImpl`` returns the next one; at the
  end of the stream the decoder worker queues 128 markers, each of which counts as a skipped frame,
  and ``NextFrameImpl`` then returns its cached frame or rewinds (``SeekAccurate(curr - r)``).

decord's model reaches two more kinds of file (``decord_index``, ``decord_index_without_pts``):

- MPEG-2 in an MPEG program or transport stream. Its FFmpeg 4.1 gives a packet pts only where a PES
  header states one (each picture in a TS; the first picture that begins in each 2 KiB pack of a
  PS) or where the parser makes pts = dts (B-frames), so a PS index is wrong as an AVI's is, a TS
  index right. Both demuxers seek by a byte search over the PES timestamps (``ff_seek_frame_binary``
  / ``ff_gen_search`` with ``mpegps_read_dts`` / ``mpegts_get_dts``, libavformat/utils.c): they land
  on the PES whose dts is the last <= ts (backward) or the first >= ts (forward), on the first or
  last one when ts is outside them, whether or not it holds a keyframe. The MPEG-2 decoder then
  skips every picture before the next I-frame, and the B-frames after it that need the previous
  GOP (``decode_chunks``, libavcodec/mpeg12dec.c: no reference, no sync). So ``Seek(0)`` from the
  end of the index, ``av_seek_frame(pts of frame 0, BACKWARD)``, lands on the P-frame whose dts is
  that pts, and a fresh reader of such a TS returns the second GOP's pictures from frame 0 on.
- H.264 and HEVC in AVI: no packet gets a pts, so every ``FrameToPTS`` is ``INT64_MIN`` and every seek
  lands on the first keyframe (an IDR, whatever the later ones are); the decoder's pictures keep their packets' dts as best-effort
  timestamps, save those it outputs at the drain (no dts: ``AV_NOPTS_VALUE``).

One thing is not deterministic in decord itself: ``SkipFramesImpl`` asks its worker thread to drop
the frames whose pts are those of the frames it means to skip (``SuggestDiscardPTS``), clearing the
list after the skip. With the wrong index those pts belong to later pictures, and one that the
worker decodes ahead of the reader before the list is cleared is dropped: the reader then returns
the picture after it. Measured: results for the same request differ from run to run exactly there.
``replay_decord`` returns the result without such a drop and names the indices where one can happen.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["PacketOrder", "Decode", "decode_order", "DecordIndex", "decord_index", "decord_index_without_pts",
           "replay_decord", "Replay", "Landing", "TorchcodecIndex", "delayed_order", "mpeg_ps_pts", "torchcodec_index", "replay_torchcodec"]

NOPTS = -(2**63)  # AV_NOPTS_VALUE
DRAIN_MARKERS = 128  # FFMPEGThreadedDecoder::WorkerThreadImpl: end-of-stream markers queued per drain
# H.264 pictures decord's decoder outputs at the drain, without a dts: x264's B-pyramid reorder delay
# (has_b_frames 2), measured on an AVI of one GOP (the last two pictures' timestamps are unset).
H264_DRAIN_PICTURES = 2
# Pictures decord's worker may have decoded past the end of a skip before the reader clears its drop
# list. Measured over a few hundred requests: a drop only ever hit the first picture; two for margin.
READ_AHEAD = 2
REWIND_RETRY_MAX = 16  # DECORD_REWIND_RETRY_MAX default
# Packet kinds, in decode order: a reference VOP (I/P/S), a B-VOP, a reference with the B-VOP shown
# before it packed behind it (DivX 5), and the placeholder after such a packet (FFmpeg decodes the
# stored B-VOP in its place).
REF, B_VOP, REF_PACKED_B, SLOT = "ref", "b", "ref+b", "slot"
# HEVC NAL unit types (H.265 Table 7-1) of a packet's first slice; NAL_UNKNOWN where none was found
HEVC_RASL = frozenset({8, 9})  # RASL_N, RASL_R: leading pictures that reference the previous GOP
HEVC_IRAP = range(16, 24)  # BLA_W_LP .. reserved IRAP types
HEVC_IDR = frozenset({19, 20})  # IDR_W_RADL, IDR_N_LP
HEVC_CRA = 21
NAL_UNKNOWN = -1


@dataclass(frozen=True)
class PacketOrder:
    """The video packets of an AVI, or of an MPEG program / transport stream, in decode order: what
    the replay needs from the demuxer."""

    dts: tuple[int, ...]  # the AVI chunk number (also the index timestamp av_seek_frame searches)
    kinds: tuple[str, ...]  # REF, B_VOP, REF_PACKED_B or SLOT; () where only ``reorder`` is known
    key: tuple[bool, ...]
    # MPEG-PS / TS only (empty for an AVI): each packet's pts (its picture's), and whether it is the
    # first picture that begins in a PES with a timestamp (the points the MPEG demuxers seek to)
    pts: tuple[int, ...] = ()
    pes: tuple[bool, ...] = ()
    reorder: int = 0  # H.264 / HEVC: the decoder's has_b_frames, its fixed output delay in packets
    # HEVC in AVI: per packet, the NAL unit type of its first slice (``HEVC_*``); () for other codecs
    nal_types: tuple[int, ...] = ()


@dataclass(frozen=True)
class DecordIndex:
    """decord's index of one file, and what the decoder outputs after a seek (see ``decord_index``)."""

    frames: int  # len(vr): packets
    pts: tuple[int, ...]  # frame_ts_[i].pts as decord's FFmpeg gives them, sorted (NOPTS first)
    key_packets: tuple[int, ...]  # key_indices_: decode positions of keyframe packets
    seek_ts: tuple[int, ...]  # the timestamps av_seek_frame searches: AVI keyframes', MPEG PES dts
    seek_picture: tuple[int, ...]  # the first picture the decoder outputs after landing on each
    best_effort: tuple[int, ...]  # per picture (presentation order): its best_effort_timestamp
    # MPEG-PS / TS (ff_gen_search): a ts outside seek_ts lands on the first or last; AVI: the seek fails
    seek_clamps: bool = False


@dataclass(frozen=True)
class Replay:
    pictures: tuple[int | None, ...]  # per requested index: the picture (presentation order) returned
    unstable: tuple[int, ...]  # decord: requested indices after which its worker may drop a picture
    error: str | None = None  # decord: the replay left what it models; torchcodec: its failure
    # torchcodec: requested indices whose seek lands on a keyframe the replay does not model
    # (``TorchcodecIndex.key_modelled``); the pictures from there on are a guess (an IDR's)
    unmodelled: tuple[int, ...] = ()


@dataclass(frozen=True)
class Decode:
    """The in-order decode: pictures numbered by output rank (= presentation order)."""

    key_picture: tuple[int, ...]  # per keyframe packet: its picture, the first output after a seek there
    released_by: tuple[int, ...]  # per picture: dts of the packet whose decoding outputs it; NOPTS: the drain
    packet: tuple[int, ...] = ()  # per picture: the packet that holds it
    # ``delayed_order``: per keyframe, whether a seek there is modelled (HEVC: an IDR or a CRA); (): all are
    key_modelled: tuple[bool, ...] = ()


@functools.lru_cache(maxsize=8)
def decode_order(order: PacketOrder) -> Decode:
    """What the decoder outputs, packet by packet, reading from the start.

    A reference is output when the next one is decoded, or at the drain; a B-VOP when decoded,
    unless fewer than two references were decoded since the last seek (it needs the previous GOP),
    and then it is dropped. After a seek to a keyframe the outputs are this run's from the
    keyframe's picture on: the B-frames dropped there are the ones shown before it.
    """
    n = len(order.dts)
    rank: dict[tuple[int, int], int] = {}
    best: list[int] = []
    pending: tuple[int, int] | None = None
    stored: tuple[int, int] | None = None
    refs = 0

    def out(vop: tuple[int, int], ts: int) -> None:
        rank[vop] = len(best)
        best.append(ts)

    for q, (dts, kind) in enumerate(zip(order.dts, order.kinds)):
        if stored is not None:  # this packet's slot decodes the B-VOP packed before it
            if refs >= 2:
                out(stored, dts)
            stored = None
        elif kind in (REF, REF_PACKED_B):
            if pending is not None:
                out(pending, dts)
            pending = (q, 0)
            refs += 1
            if kind == REF_PACKED_B:
                stored = (q, 1)
        elif kind == B_VOP and refs >= 2:
            out((q, 0), dts)
    if pending is not None:
        out(pending, NOPTS)
    packet = [0] * len(best)
    for (q, _), r in rank.items():
        packet[r] = q
    return Decode(tuple(rank[(q, 0)] for q in range(n) if order.key[q]), tuple(best), tuple(packet))


@functools.lru_cache(maxsize=8)
def decord_index(order: PacketOrder) -> DecordIndex:
    """decord's view of the packets (MPEG-4 Part 2 in AVI, MPEG-2 in an MPEG-PS / TS).

    A picture's ``best_effort_timestamp`` is its own packet's pts where decord's FFmpeg gives one
    (``guess_correct_pts`` prefers it while the pts increase), else the dts of the packet whose
    decoding released it: for MPEG-2 with M-1 B-frames that dts is the picture's own pts.
    """
    decode = decode_order(order)
    keys = tuple(q for q in range(len(order.dts)) if order.key[q])
    if not order.pes:  # AVI, decord's FFmpeg 4.1: B-VOP packets carry pts = dts, the others none
        pts41 = tuple(dts if kind == B_VOP else NOPTS for dts, kind in zip(order.dts, order.kinds))
        seek_ts, seek_picture = tuple(order.dts[q] for q in keys), decode.key_picture
    else:  # a PES timestamp, or pts = dts for a B-frame (compute_pkt_fields); the other packets none
        pts41 = tuple(p if pes or kind == B_VOP else NOPTS
                      for p, pes, kind in zip(order.pts, order.pes, order.kinds))
        n_pic = len(decode.released_by)
        # after landing on packet q the decoder's first picture is the next keyframe's (none: nothing)
        seek_ts = tuple(order.dts[q] for q in range(len(order.dts)) if order.pes[q])
        after = [bisect.bisect_left(keys, q) for q in range(len(order.dts)) if order.pes[q]]
        seek_picture = tuple(decode.key_picture[j] if j < len(keys) else n_pic for j in after)
    best = tuple(rel if rel != NOPTS else pts41[q] for rel, q in zip(decode.released_by, decode.packet))
    return DecordIndex(
        frames=len(order.dts),
        pts=tuple(sorted(pts41)),
        key_packets=keys,
        seek_ts=seek_ts,
        seek_picture=seek_picture,
        best_effort=best,
        seek_clamps=bool(order.pes),
    )


@functools.lru_cache(maxsize=8)
def decord_index_without_pts(frames: int, key_packets: tuple[int, ...], drain: int = H264_DRAIN_PICTURES) -> DecordIndex:
    """decord's view of H.264 or HEVC in AVI: no packet has a pts, the AVI index timestamps are the
    packets' decode positions, and each keyframe is taken to be an IDR picture (all before it are shown
    before it: x264's closed GOPs), so the picture it starts is its position. That holds for every seek
    decord makes there: with no pts, each lands on the first keyframe (measured on x265's open GOPs too,
    whose later keyframes are CRAs). The ``drain`` pictures output at the end of the stream (the
    decoder's has_b_frames) carry no timestamp; the others their packets' dts, never in the index."""
    best = tuple(range(frames - drain)) + (NOPTS,) * min(drain, frames)
    return DecordIndex(frames, (NOPTS,) * frames, key_packets, key_packets, key_packets, best[-frames:])


class _Unmodelled(Exception):
    pass


def _int32(v: int) -> int:
    """NDArray::pts is an int: the frame's int64 timestamp, truncated."""
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


class _Reader:
    """decord's VideoReader state (curr_frame_, the decoder's next output), method by method."""

    def __init__(self, index: DecordIndex) -> None:
        self.ix = index
        self.n = index.frames
        self.curr = self.n  # IndexKeyframes ends with curr_frame_ = GetFrameCount(); Seek(0)
        self.next_pic = 0
        self.markers = DRAIN_MARKERS
        self.cached: int | None = None
        self.tmp_key: int | None = None
        self.overrun = False
        self.unstable = False
        self.cleared = False  # the decoder was flushed and has been given nothing since (frame_count_ 0)
        self.seek(0)

    def find(self, pts: int, lo: int = 0, hi: int | None = None) -> int | None:
        """The first frame in [lo, hi) with this pts (pts_frame_map_: a std::map, the first insert wins)."""
        hi = self.n if hi is None else hi
        i = bisect.bisect_left(self.ix.pts, pts, lo, hi)
        return i if i < hi and self.ix.pts[i] == pts else None

    def locate(self, pos: int) -> int:  # LocateKeyframe
        keys = self.ix.key_packets
        if not keys or pos <= keys[0]:
            return 0
        if pos >= self.n:
            return keys[-1]
        return keys[bisect.bisect_right(keys, pos) - 1]

    def av_seek(self, ts: int, backward: bool) -> int | None:
        """The seek point (its index in seek_ts) the demuxer lands on; None: it fails.

        avi_read_seek: the keyframe whose index timestamp is the last <= ts (backward) or the first
        >= ts. ff_gen_search (MPEG-PS / TS) likewise, but a ts before the first or past the last
        point returns that point ("if (ts_min >= target_ts) ... return pos_min")."""
        kd = self.ix.seek_ts
        if backward:
            j = bisect.bisect_right(kd, ts) - 1
        else:
            j = bisect.bisect_left(kd, ts)
        if 0 <= j < len(kd):
            return j
        return (0 if j < 0 else len(kd) - 1) if self.ix.seek_clamps and kd else None

    def seek(self, pos: int) -> None:  # Seek
        if self.curr == pos:
            return
        self.cached = None
        ts = self.ix.pts[pos]
        backward = self.curr > pos
        j = self.av_seek(ts, backward)
        if j is None and not backward:
            j = self.av_seek(ts, True)
        if j is None:
            j = self.av_seek(pos, True)  # AVSEEK_FLAG_BACKWARD | AVSEEK_FLAG_FRAME: pos as a timestamp
        if j is None:
            raise _Unmodelled(f"its seek to frame {pos} fails")
        self.next_pic, self.markers = self.ix.seek_picture[j], DRAIN_MARKERS
        self.curr = pos
        self.cleared = True

    def pop(self) -> tuple[int | None, int]:
        """The decoder's next output: (picture, best-effort pts), or (None, -1) for a drain marker."""
        self.cleared = False
        if self.next_pic < len(self.ix.best_effort):
            pic = self.next_pic
            self.next_pic += 1
            return pic, self.ix.best_effort[pic]
        self.drop(1)
        return None, -1

    def drop(self, num: int) -> None:
        """Consume ``num`` outputs, pictures first, then drain markers."""
        self.cleared = False
        pictures = min(num, len(self.ix.best_effort) - self.next_pic)
        self.next_pic += pictures
        if num - pictures > self.markers:
            raise _Unmodelled("its decoder runs dry at the end of the stream")
        self.markers -= num - pictures

    def check_keyframe(self) -> bool:  # CheckKeyFrame
        pic, pts = self.pop()
        if pic is None:  # eof_ and frame.pts == -1: jumped to the end
            self.curr = self.n
            return False
        cf = self.find(_int32(pts))
        cf = self.curr if cf is None else cf
        if cf != self.curr:
            self.curr = cf + 1
            return False
        self.curr += 1
        self.tmp_key = pic
        return True

    def skip(self, num: int) -> None:  # SkipFramesImpl
        num = min(self.n - self.curr, num)
        if num < 1:
            return
        marked = (self.curr, self.curr + num)  # SuggestDiscardPTS: the pts of these frames
        self.drop(num)
        self.curr += num
        ahead = self.ix.best_effort[self.next_pic:self.next_pic + READ_AHEAD]
        if any(self.find(p, *marked) is not None for p in ahead):
            self.unstable = True

    def seek_accurate(self, pos: int) -> None:  # SeekAccurate
        if self.curr == pos:
            return
        key_pos, curr_key = self.locate(pos), self.locate(self.curr)
        self.overrun = False
        if key_pos != curr_key or pos < self.curr:
            self.seek(0)
            self.seek(key_pos)
            if self.check_keyframe():
                if pos > key_pos:
                    self.skip(pos - self.curr)
                else:
                    self.overrun = True
            elif self.curr < pos:
                self.skip(pos - self.curr)
            else:
                key_pos = self.locate(pos)
                self.seek(key_pos)
                self.skip(pos - key_pos)
        else:
            self.skip(pos - self.curr)

    def next_frame(self) -> int:  # NextFrameImpl
        if self.overrun:
            self.overrun = False
            return self.tmp_key
        rewind = 0
        while True:
            if self.curr >= self.n:
                raise _Unmodelled("it returns an empty frame past the end")
            if rewind and self.cleared:
                # Pop returns false at once if its decoder thread has queued nothing since the seek
                # (frame_count_ == 0), leaving in `frame` the marker read before: another rewind. Measured:
                # on an MPEG-TS the reader wins this race, on an MPEG-PS the thread.
                raise _Unmodelled("after a rewind at the end of the stream its reader races its decoder thread")
            pic, _ = self.pop()
            if pic is not None:
                break
            if self.cached is not None:  # FetchCachedFrame: the last frame it returned
                pic = self.cached
                break
            if rewind > REWIND_RETRY_MAX:
                raise _Unmodelled("it gives up rewinding at the end of the stream")
            self.seek_accurate(self.curr - rewind)
            rewind += 1
        self.curr += 1
        self.cached = pic
        return pic

    def get_batch(self, indices) -> tuple[list[int], list[int]]:
        out: list[int] = []
        unstable: list[int] = []
        first: dict[int, int] = {}
        for i, pos in enumerate(indices):
            if pos in first:  # a repeated index is copied from its first occurrence
                out.append(out[first[pos]])
                continue
            first[pos] = i
            self.unstable = False
            if self.curr != pos:
                self.seek_accurate(pos)
            out.append(self.next_frame())
            if self.unstable:
                unstable.append(pos)
        return out, unstable


def replay_decord(index: DecordIndex, indices) -> Replay:
    """The pictures ``VideoReader(path).get_batch(indices)`` returns (a fresh reader, as qwen-vl-utils
    and transformers' load_video use it), without the worker-thread drops; see ``Replay.unstable``."""
    req = [int(k) for k in indices]
    try:
        pictures, unstable = _Reader(index).get_batch(req)
    except _Unmodelled as e:
        return Replay(tuple(req), (), f"decord 0.6.0 leaves the replayed path here: {e}")
    return Replay(tuple(pictures), tuple(unstable))


# --- torchcodec ------------------------------------------------------------------------------------


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
