"""Which decoder's frames and metadata a trace follows: torchcodec, decord or PyAV, emulated on PyAV.

The app decodes every file with PyAV (bundled FFmpeg); what differs between the backends users run
is the metadata they report and which picture they return for frame ``k``. Each rule below was
measured against the real library on clips the tests generate (tests/test_decoders.py):

- ``torchcodec`` 0.13.0 (qwen-vl-utils 0.0.14's first choice, and the only path decoder of the
  transformers 5.23 video processor). ``num_frames`` is ``num_frames_from_content``: the packets
  of its scan; ``average_fps`` is that count over ``max(pts + duration) - min(pts)`` of the scan,
  so a clip whose header says 15 fps but which holds dropped-frame slots gets its real rate; frame
  ``k`` is the k-th picture by pts; the display rotation is applied. In an AVI with B-frames its
  scan and its decoder disagree on the pts: ``seeks`` replays ``get_frames_at`` (MPEG-4 Part 2,
  H.264 and HEVC, whose open-GOP CRAs drop their RASL pictures after a seek); with MPEG-1/2 B-frames in
  a program stream its seeks land on a PES where the parser restarts: ``media.landings`` makes each such
  seek again with PyAV's FFmpeg and ``seeks`` replays the rest.
- ``decord`` 0.6.0 (qwen-vl-utils with decord). ``len(vr)`` counts the demuxed packets, fps is the
  stream's ``avg_frame_rate`` (the header's 15 on such a clip); frame ``k`` is the k-th by pts;
  the rotation is applied (measured: the same pixels as torchcodec). Cinepak fails in its frame copy.
  In an AVI with B-frames (MPEG-4 Part 2, packed or not; H.264; HEVC) its index is wrong and its seeks
  land elsewhere; with MPEG-2 B-frames in an MPEG program or transport stream its seeks land
  between keyframes: ``seeks`` replays its ``get_batch`` to tell which picture each sampled index
  returns.
- ``pyav``: transformers ``load_video(backend="pyav")``, its default when called directly. The count
  is the container header's ``stream.frames`` (0 in Matroska / WebM), fps ``average_rate``; frame
  ``k`` is the k-th frame the decoder outputs; frames are not rotated. Indices past the decoded
  frames are dropped silently, so fewer frames come back than were asked for.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field, replace

from .errors import VizError
from .media import MediaInfo
from .profiles import Decoder
from .seeks import (H264_DRAIN_PICTURES, DecordIndex, Replay, TorchcodecIndex, decord_index, decord_index_without_pts,
                    replay_decord, replay_torchcodec, torchcodec_index)
from .words import say

__all__ = ["Decoder", "DecoderView", "DEFAULT_DECODER", "default_decoder", "compare_decoders", "DecodersReport", "BackendRow", "decoder_view", "DECODER_VERSIONS", "parse_decoder"]


DEFAULT_DECODER = Decoder.TORCHCODEC
# qwen-vl-utils 0.0.14 picks its backend from this variable first (vision_process.get_video_reader_backend);
# honouring it too keeps a trace on the backend the user's reference run uses.
BACKEND_ENV = "FORCE_QWENVL_VIDEO_READER"


def default_decoder() -> str:
    """``$FORCE_QWENVL_VIDEO_READER`` when it names one of ours, else torchcodec (qwen-vl-utils' first pick)."""
    forced = os.environ.get(BACKEND_ENV, "").strip().lower()
    return forced if forced in {d.value for d in Decoder} else DEFAULT_DECODER.value
# The releases the rules were measured on (requirements-test.txt pins them; PyAV from requirements.txt).
DECODER_VERSIONS = {Decoder.TORCHCODEC: "torchcodec 0.13.0", Decoder.DECORD: "decord 0.6.0",
                    Decoder.PYAV: "transformers 5.23 load_video(backend='pyav'), PyAV 18.1.0"}
# FFmpeg decoders whose output decord 0.6.0 cannot copy (its NDArray copy checks W*H*3 bytes and the
# frame has 4 bytes a pixel): "Check failed: from_size == to_size ... The size must exactly match".
DECORD_COPY_FAILS = frozenset({"cinepak"})
# Codecs whose streams decord 0.6.0 cannot count: its FFmpeg's GIF demuxer sets neither nb_frames nor a
# frame rate, so VideoReader::GetFrameCount (video_reader.cc) estimates 0 frames and fails.
DECORD_COUNT_FAILS = frozenset({"gif"})
# Codecs whose B-frames in AVI torchcodec's replay covers with a fixed reorder delay (seeks.delayed_order):
# x264's keyframes are IDRs; HEVC's are IDRs or CRAs, told apart by the probe's NAL unit types.
TORCHCODEC_REORDER_REPLAYED = frozenset({"h264", "hevc"})
# Codecs (FFmpeg's codec names) that decord 0.6.0's bundled FFmpeg 4.1 has no decoder for (it ships
# neither libdav1d nor libaom): av_find_best_stream finds no video stream it can open.
DECORD_NO_DECODER = frozenset({"av1"})


@dataclass(frozen=True)
class DecoderView:
    """What one backend reports for a video and what it returns."""

    decoder: Decoder
    frames: int  # the count the reference samples from
    count_source: str  # "scan of the packets", "packets", "container header"
    fps: float | None
    rotation_applied: bool
    width: int  # frames as returned
    height: int
    decodable: int  # frames the backend can return (frames past this are missing)
    error: str | None  # the backend's own failure for this file; None when it reads it
    notes: tuple[str, ...] = ()
    missing_error: str = ""  # what the reference does when a sampled index is >= decodable
    exact: bool = True  # False: which picture frame k returns is not emulated for this request (see notes)
    # an AVI with B-frames: the backend's index, to replay which picture a request returns
    seeks: DecordIndex | TorchcodecIndex | None = field(default=None, repr=False, compare=False)
    indices: tuple[int, ...] = ()  # the request ``sampled`` was given
    returned: tuple[int, ...] = ()  # the pictures it returns for them (``seeks`` only)
    unstable: tuple[int, ...] = ()  # indices of the request from which decord may return later pictures

    @property
    def label(self) -> str:
        return self.decoder.value

    def picture(self, k: int) -> int | None:
        """Presentation index (``media`` numbering) of the picture frame ``k`` names; None if missing."""
        return k if 0 <= k < self.decodable else None

    def pictures(self, indices) -> list[int | None]:
        """The picture each index of one request returns: ``picture(k)``, unless seeks make it another."""
        ks = tuple(int(k) for k in indices)
        if self.seeks is None:
            return [self.picture(k) for k in ks]
        return list(self.returned if ks == self.indices else self._replay(ks).pictures)

    def _replay(self, ks: tuple[int, ...]) -> Replay:
        if isinstance(self.seeks, TorchcodecIndex):
            return replay_torchcodec(self.seeks, ks)
        return replay_decord(self.seeks, ks)

    def sampled(self, indices) -> DecoderView:
        """This view for one request: the pictures it returns (None: it fails there), and whether that is exact."""
        if self.seeks is None:
            return self
        ks = tuple(int(k) for k in indices)
        r = self._replay(ks)
        notes = list(self.notes)
        if isinstance(self.seeks, TorchcodecIndex):  # its failure is part of what is emulated
            if r.unmodelled:
                unmodelled = (_TORCHCODEC_UNMODELLED_LANDING if self.seeks.landing is not None
                              else _TORCHCODEC_UNMODELLED_KEY)
                notes.append(unmodelled.format(k=list(r.unmodelled)))
            return replace(self, indices=ks, returned=r.pictures, exact=not r.unmodelled, notes=tuple(notes))
        if r.error:
            notes.append(f"{r.error}; shown here are the pictures the indices name")
        elif r.unstable:
            notes.append(
                f"after its skips to indices {list(r.unstable)} decord's decoder thread may drop the next picture "
                f"(it marks the pts of the frames it skips, which its wrong index gives to later pictures), so "
                f"from there decord returns a later picture on some runs; shown: the run without a drop")
        return replace(self, indices=ks, returned=r.pictures if not r.error else ks, unstable=r.unstable,
                       exact=not (r.error or r.unstable), notes=tuple(notes))


def parse_decoder(value) -> Decoder:
    if isinstance(value, Decoder):
        return value
    try:
        return Decoder(str(value).lower())
    except ValueError:
        raise VizError(
            f"decoder must be one of {', '.join(d.value for d in Decoder)}, got {value!r}", field="decoder"
        ) from None


# B-frames in decode order whose decord seeks are not replayed.
_DECORD_NOT_REPLAYED = (
    "B-frames in {where} ({codec}): after a seek decord 0.6.0 may return other pictures than the index says; "
    "its seeks are replayed for MPEG-4 Part 2, H.264 and HEVC in AVI and MPEG-2 in MPEG streams only, so shown "
    "here are the pictures the index names")


_TORCHCODEC_NOT_REPLAYED = (
    "B-frames in {where} ({codec}): after a seek torchcodec may return other pictures than the index says; "
    "its seeks are replayed for MPEG-4 Part 2, H.264 and HEVC in AVI and MPEG-1/2 in an MPEG program stream "
    "only, so shown here are the pictures the index names")
# HEVC in AVI: seeks to IDRs and CRAs are replayed (seeks.delayed_order); one to any other keyframe (a BLA, a
# type the probe could not read) or into a stream that does not open on an IDR is not.
_TORCHCODEC_UNMODELLED_KEY = (
    "HEVC in AVI: for indices {k} torchcodec seeks to a keyframe that is neither an IDR nor a CRA (or a stream "
    "that does not open on an IDR); not replayed, so shown from there are the pictures an IDR would give, which "
    "may differ by a few frames")
# Measured on torchcodec 0.13.0 (Debian's FFmpeg 5.1) with MPEG-2 in .mpg: read in order every picture is
# where it belongs; after a seek (avformat_seek_file -> av_seek_frame backward -> mpegps_read_dts) the
# demuxer lands on the last PES whose dts is <= the keyframe's scan pts and its parser restarts there:
# landing inside the previous GOP gives the keyframe's picture (its open-GOP B-frames dropped), landing on
# the keyframe's own PES re-stamps the pictures up to the next PES timestamp (an I-frame output at the
# drain then has no stamp at all). The seek is made again with PyAV's FFmpeg (media.landings).
_TORCHCODEC_MPEG_PS = (
    "B-frames in an MPEG program stream (mpeg2video): after a seek FFmpeg 5.1's MPEG-PS demuxer lands on a "
    "PES by its dts and its parser restarts there, so torchcodec may skip pictures or stamp them otherwise; "
    "each seek is made again with PyAV's FFmpeg, which lands and cuts the packets the same way (replayed here)")
_TORCHCODEC_UNMODELLED_LANDING = (
    "MPEG program stream: for indices {k} torchcodec's seek lands where a frame comes out that is not a "
    "picture of the in-order decode (damaged or cut otherwise); shown there is the next picture in order")


def _b_frame_container(index) -> str:
    """Where packets carry B-frames in decode order with dts-like timestamps, the container's name for
    the notes ("AVI", "an MPEG program stream"); "" elsewhere. Measured on MPEG-4 Part 2 and H.264 in
    AVI and MPEG-2 in .mpg: torchcodec and decord return other pictures after a seek."""
    if index.packed or (index.fmt == "avi" and index.lead_pts > 0):
        return "AVI"
    if index.fmt == "mpeg" and index.lead_pts > 0:
        return "an MPEG program stream"
    return ""


# What torchcodec raises where it runs out of frames, and what qwen-vl-utils' torchvision retry then raises.
_TC_RAN_OUT = ("RuntimeError: Requested next frame while there are no more frames left to decode. qwen-vl-utils then "
               "retries with torchvision, which fails: module 'torchvision.io' has no attribute 'read_video'")


def decoder_view(info: MediaInfo, decoder: Decoder | str = DEFAULT_DECODER) -> DecoderView:
    """The metadata ``decoder`` reports for the video ``info`` (images: not applicable)."""
    from .media import _index_for  # private: the probe's demux facts

    dec = parse_decoder(decoder)
    if info.kind != "video":
        raise VizError(f"decoder views are for videos; {os.path.basename(info.path)!r} is an {info.kind}")
    index = _index_for(info)
    if dec is Decoder.TORCHCODEC:
        return _torchcodec_view(info, index)
    if dec is Decoder.DECORD:
        return _decord_view(info, index)
    return _pyav_view(info)


def _torchcodec_view(info: MediaInfo, index) -> DecoderView:
    dec, n, rotated, name = Decoder.TORCHCODEC, info.frames, (info.width, info.height), os.path.basename(info.path)
    if index.begin_s is None:
        # Measured on raw H.264 and HEVC elementary streams: their packets carry no timestamps
        # and the raw demuxers cannot seek, so the scan's seek back to the start fails.
        error = (f"torchcodec 0.13.0 cannot open {name!r} ({info.container}: no packet timestamps): "
                 "RuntimeError: scanFileAndUpdateMetadataAndIndex: Could not seek file to pts=0: "
                 "Operation not permitted")
        return DecoderView(dec, n, "scan of the packets (num_frames_from_content)", info.fps, True, *rotated, 0, error)
    span = index.span_s or 0.0
    fps = n / span if span > 0 else info.fps
    notes = []
    if info.frames_header and info.frames_header != n:
        notes.append(f"header lists {info.frames_header} frames; torchcodec counts {n} from its scan")
    if fps is not None and info.fps and abs(fps - info.fps) > 1e-6 * info.fps:
        notes.append(f"average_fps {fps:.6g} from the scan (n / span of pts); the header says {info.fps:.6g}")
    decodable, missing, seeks = n, "", None
    where = _b_frame_container(index)
    order = index.packets or (index.reordered if index.codec in TORCHCODEC_REORDER_REPLAYED else None)
    if index.fmt == "mpeg" and index.pes_packets is not None:
        # MPEG-2 in a program stream: each seek is made again with PyAV (media.landings), lazily
        from .media.landings import mpeg_ps_landing

        seeks = torchcodec_index(index.pes_packets, ())
        seeks = replace(seeks, landing=functools.partial(mpeg_ps_landing, info, index, index.pes_packets, seeks))
        notes.append(_TORCHCODEC_MPEG_PS)
    elif order is not None:
        seeks = torchcodec_index(order, tuple(index.pts.tolist()))
        held = order.reorder or 1  # pictures the decoder outputs at the drain, without a pts
        stamp = "the dts of the packet whose decoding outputs each picture" if order.reorder else "the pictures' own pts"
        notes.append(f"B-frames in AVI: torchcodec's scan gives these packets pts = dts, the decoder {stamp}, "
                     f"so after a seek frame k is often picture k - {held} (replayed here)")
    if order is not None and order.reorder:
        # Measured (x264 with B-pyramid, x265 with bframes=3: has_b_frames 2): read in order it returns
        # n - 2 frames; the last two pictures come out at the drain without a pts, though a seek reaches
        # every index.
        decodable = n - order.reorder
        missing = (f"torchcodec 0.13.0 does not return the last {order.reorder} pictures of this AVI "
                   f"({index.codec} with B-frames: its decoder outputs them at the end of the stream without "
                   f"a pts): {_TC_RAN_OUT}")
        last = f"picture {n - 1} (the last)" if order.reorder == 1 else f"pictures {decodable}..{n - 1} (the last)"
        notes.append(f"{last} never returned by torchcodec on this AVI; read in order it stops after {decodable}")
    elif seeks is not None and seeks.landing is not None:
        # MPEG-PS: read in order every picture comes back; which seek runs out of frames is replayed
        missing = ("torchcodec 0.13.0 runs out of frames after its seek for this index of the MPEG program "
                   "stream (B-frames: the seek lands on a PES where the restarted parser leaves the pictures "
                   f"from there none stamped >= the frame's pts): {_TC_RAN_OUT}")
    elif index.lead_pts > 0 and index.fmt in ("avi", "mpeg") and index.codec not in ("h264", "hevc"):
        # Measured (B-frames: MPEG-4 Part 2 in AVI, packed or not): a seek to frame n - 1 ends at the
        # drain, where the last picture comes out without a pts.
        kind = where.split()[-1]
        decodable = n - 1
        missing = (f"torchcodec 0.13.0 does not return the last picture of this {kind} (B-frames: its decoder "
                   f"outputs it at the end of the stream without a pts): {_TC_RAN_OUT}")
        notes.append(f"frame {n - 1} (the last) cannot be decoded by torchcodec on this {kind}")
    exact = seeks is not None or not where
    if not exact:
        notes.append(_TORCHCODEC_NOT_REPLAYED.format(codec=index.codec, where=where))
    return DecoderView(dec, n, "scan of the packets (num_frames_from_content)", fps, True, *rotated, decodable,
                       None, tuple(notes), missing, exact, seeks=seeks)


def _decord_view(info: MediaInfo, index) -> DecoderView:
    n, name = info.frames, os.path.basename(info.path)
    error = None
    if index.codec in DECORD_COPY_FAILS:
        error = (f"decord 0.6.0 cannot read {name!r} ({index.codec}): DECORDError: Check failed: "
                 f"from_size == to_size ... DECORDArrayCopyFromTo: The size must exactly match")
    elif index.codec in DECORD_COUNT_FAILS:
        error = (f"decord 0.6.0 cannot read {name!r} ({index.codec}): DECORDError: [{name}] Failed to measure "
                 f"duration/frame-count due to broken metadata.")
    elif index.codec_family in DECORD_NO_DECODER:
        error = (f"decord 0.6.0 cannot read {name!r}: its bundled FFmpeg 4.1 has no {index.codec_family} "
                 "decoder: DECORDError: Check failed: st_nb >= 0 ... ERROR cannot find video stream with "
                 "wanted index: -1")
    elif not info.frames_header and index.header_duration_s is None:
        # Its count falls back to avg_frame_rate x the container's duration, which a raw stream lacks.
        error = (f"decord 0.6.0 cannot read {name!r} ({info.container}: no frame count and no duration in "
                 "the container): DECORDError: Failed to measure duration/frame-count due to broken metadata")
    notes, seeks = [], None
    where = _b_frame_container(index)
    if index.packets is not None:
        seeks = decord_index(index.packets)
        notes.append("B-frames in AVI: decord 0.6.0's FFmpeg gives the reference frames no pts, so its index "
                     "is wrong and after a seek frame k is another picture (replayed here)")
    elif index.pes_packets is not None:
        seeks = decord_index(index.pes_packets)
        notes.append("MPEG-2 with B-frames in an MPEG stream: decord 0.6.0's seeks land on a PES timestamp, "
                     "not on a keyframe, and its decoder starts at the next I-frame, so after a seek frame k is "
                     "another picture (replayed here)")
    elif where == "AVI" and index.codec in ("h264", "hevc"):
        # the pictures output at the drain: the decoder's has_b_frames (x264 B-pyramid, x265 bframes=3: 2)
        drain = index.reordered.reorder if index.reordered is not None else H264_DRAIN_PICTURES
        seeks = decord_index_without_pts(n, tuple(int(k) for k in index.keyframes), drain)
        notes.append(f"{'H.264' if index.codec == 'h264' else 'HEVC'} in AVI: decord 0.6.0's FFmpeg gives its "
                     "packets no pts, so every seek lands on the first keyframe and frame k is another picture "
                     "after a seek (replayed here)")
    exact = seeks is not None or not where
    if not exact:
        notes.append(_DECORD_NOT_REPLAYED.format(codec=index.codec, where=where))
    return DecoderView(Decoder.DECORD, n, "packets (len(vr))", info.fps, True, info.width, info.height, n, error,
                       tuple(notes), "", exact, seeks=seeks)


def _pyav_view(info: MediaInfo) -> DecoderView:
    """PyAV through transformers' load_video: the header's count, frames in decoder output order, stored size."""
    n = info.frames
    header = int(info.frames_header or 0)
    notes = []
    error = None
    if header == 0:
        error = ("transformers load_video(backend='pyav'): the container header has no frame count "
                 "(stream.frames = 0), so its sampler gets total_num_frames=0 and fails (transformers 5.23, "
                 "Qwen2-VL / Qwen2.5-VL sample_frames: ZeroDivisionError: division by zero)")
    elif header > n:
        notes.append(f"load_video trusts the header's {header} frames; only {n} decode: indices >= {n} "
                     f"come back as nothing (fewer frames than asked for)")
    if info.rotation:
        notes.append(f"PyAV does not apply the display rotation ({info.rotation} deg): frames as stored")
    missing = (f"transformers load_video(backend='pyav') trusts the header's {header} frames but only {n} "
               f"decode: it returns fewer frames than sampled, and the processor fails on the mismatch")
    return DecoderView(Decoder.PYAV, header, "container header (stream.frames)", info.fps, False, info.coded_width,
                       info.coded_height, min(n, header), error, tuple(notes), missing)


# --- the decoders view: the same request under each backend ------------------------------------------


@dataclass(frozen=True)
class BackendRow:
    decoder: Decoder
    error: str | None  # the backend's failure on this request (count, fps and the rest are then None)
    frames: int | None
    fps: float | None
    rotation_applied: bool | None
    resized: tuple[int, int] | None  # (H, W)
    grid_thw: tuple[int, int, int] | None
    tokens: int | None
    indices: tuple[int, ...]
    pictures: tuple[int, ...]  # media frame shown for each sampled index
    exact: bool = True
    varies_from: int | None = None  # decord: the sampled index from which its pictures vary run to run


@dataclass(frozen=True)
class DecodersReport:
    """Each backend on the trace's request, and how they differ from the one the trace follows."""

    follows: Decoder
    rows: tuple[BackendRow, ...]
    differences: tuple[str, ...]  # "torchcodec and decord: different pictures for 3 of 8 sampled frames"
    playback: tuple[tuple[int, float, float | None], ...]  # (index, index / fps, real pts seconds), followed

    def row(self, decoder: Decoder | str) -> BackendRow:
        d = parse_decoder(decoder)
        return next(r for r in self.rows if r.decoder is d)

    def as_dict(self) -> dict:
        return {
            "follows": self.follows.value,
            "backends": [
                {"decoder": r.decoder.value, "error": r.error, "frames": r.frames, "fps": r.fps,
                 "rotation_applied": r.rotation_applied, "resized": None if r.resized is None else list(r.resized),
                 "grid_thw": None if r.grid_thw is None else list(r.grid_thw), "tokens": r.tokens,
                 "indices": list(r.indices), "pictures": list(r.pictures), "pictures_emulated": r.exact,
                 "pictures_vary_from": r.varies_from}
                for r in self.rows
            ],
            "differences": list(self.differences),
            "playback": [{"index": i, "reference_s": ref, "playback_s": real} for i, ref, real in self.playback],
        }


def _row(trace, dec: Decoder) -> BackendRow:
    from .trace import explain

    if trace.decoder is not None and trace.decoder.decoder is dec:
        t = trace
    else:
        params = {k: v for k, v in vars(trace.params).items() if v is not None}
        params["decoder"] = dec.value
        try:
            t = explain(trace.media, model=trace.model, pipeline=trace.pipeline, budget=trace.budget, **params)
        except VizError as e:
            return BackendRow(dec, str(e), None, None, None, None, None, None, (), ())
    v = t.decoder
    rotation = v.rotation_applied if t.media.rotation else None  # None: nothing to rotate
    return BackendRow(dec, None, v.frames, v.fps, rotation, (t.resize.height, t.resize.width),
                      tuple(t.patchify.grid_thw), t.num_vision_tokens, tuple(t.sampling.indices),
                      t.pictures, v.exact, v.unstable[0] if v.unstable else None)


def _emulated(row: BackendRow) -> bool:
    """Which pictures the row's backend returns is known (exactly, or as its run without a drop)."""
    return row.exact or row.varies_from is not None


def compare_decoders(trace) -> DecodersReport | None:
    """The trace's request under torchcodec, decord and PyAV (metadata only: nothing is decoded)."""
    from .media import frame_times

    if trace.decoder is None:
        return None
    rows = tuple(_row(trace, d) for d in Decoder)
    me = next(r for r in rows if r.decoder is trace.decoder.decoder)
    diffs: list[str] = []
    for r in rows:
        if r is me:
            continue
        a, b = me.decoder.value, r.decoder.value
        if r.error:
            diffs.append(say("dd_fails", a=a, b=b, error=r.error))
            continue
        for label, x, y in (("dd_frames", me.frames, r.frames), ("dd_fps", me.fps, r.fps),
                            ("dd_rotation", me.rotation_applied, r.rotation_applied),
                            ("dd_resized", me.resized, r.resized), ("dd_tokens", me.tokens, r.tokens)):
            if x != y:
                tiny = isinstance(x, float) and isinstance(y, float) and abs(x - y) <= 1e-9 * max(abs(x), abs(y))
                diffs.append(say("dd_pair", a=a, b=b) + say(label) + f" {x!r} vs {y!r}"
                             + (say("dd_rounding") if tiny else ""))
        if len(me.pictures) == len(r.pictures):
            n = sum(1 for x, y in zip(me.pictures, r.pictures) if x != y)
            if n:
                diffs.append(say("dd_pictures", a=a, b=b, n=n, total=len(me.pictures)))
        else:
            diffs.append(say("dd_counts", a=a, b=b, na=len(me.pictures), nb=len(r.pictures)))
        if not (_emulated(me) and _emulated(r)):
            diffs.append(say("dd_not_emulated", a=a, b=b))
    diffs.extend(say("dd_varies", b=r.decoder.value, k=r.varies_from)
                 for r in rows if not r.error and r.varies_from is not None)
    fps = trace.decoder.fps
    real = frame_times(trace.media, list(me.pictures))
    playback = tuple((k, k / fps, t) for k, t in zip(me.indices, real))
    return DecodersReport(trace.decoder.decoder, rows, tuple(diffs), playback)
