"""decord 0.6.0's ``VideoReader.get_batch`` after seeks, replayed on the packets' decode order.

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
from dataclasses import dataclass

from .packets import B_VOP, NOPTS, PacketOrder, Replay, decode_order

__all__ = ["DecordIndex", "decord_index", "decord_index_without_pts", "replay_decord"]

DRAIN_MARKERS = 128  # FFMPEGThreadedDecoder::WorkerThreadImpl: end-of-stream markers queued per drain
# H.264 pictures decord's decoder outputs at the drain, without a dts: x264's B-pyramid reorder delay
# (has_b_frames 2), measured on an AVI of one GOP (the last two pictures' timestamps are unset).
H264_DRAIN_PICTURES = 2
# Pictures decord's worker may have decoded past the end of a skip before the reader clears its drop
# list. Measured over a few hundred requests: a drop only ever hit the first picture; two for margin.
READ_AHEAD = 2
REWIND_RETRY_MAX = 16  # DECORD_REWIND_RETRY_MAX default


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
