"""The packets of a video in decode order, what FFmpeg's decoder outputs from them, and the answer a replay
gives: the parts both backends' replays share (``seeks.decord``, ``seeks.torchcodec``).

The decoder (FFmpeg's MPEG-4 Part 2, any build) holds one reference picture back: a reference is
output when the next one is decoded, the last one at the drain; a B-VOP when decoded. After a seek
to a keyframe it drops the B-frames that need the previous GOP, so it outputs the pictures from the
keyframe's on, in presentation order (``decode_order``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

__all__ = ["PacketOrder", "Decode", "decode_order", "Replay"]

NOPTS = -(2**63)  # AV_NOPTS_VALUE
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
