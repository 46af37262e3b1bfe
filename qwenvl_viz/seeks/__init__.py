"""Which picture torchcodec 0.13.0 and decord 0.6.0 return for frame ``k`` of a video with B-frames.

Both read such files (MPEG-4 Part 2 with B-frames, packed or not) right in order and return other
pictures after a seek, each its own way; the two are replayed here on the packets' decode order.

- ``packets``: the packets in decode order (``PacketOrder``, the packet kinds and HEVC NAL unit types),
  what FFmpeg's MPEG-4 Part 2 / MPEG-2 decoder outputs from them (``decode_order``), and a replay's
  answer (``Replay``): what both replays share.
- ``torchcodec``: its scan and its ``get_frames_at`` (``torchcodec_index``, ``replay_torchcodec``), with
  the H.264 / HEVC decoder's fixed delay (``delayed_order``) and MPEG-PS seeks (``mpeg_ps_pts``, ``Landing``).
- ``decord``: its index and its ``get_batch`` (``decord_index``, ``decord_index_without_pts``,
  ``replay_decord``).

Each name is defined once, in its part, and re-exported here (one function, one cache).
"""

from .decord import (DRAIN_MARKERS, H264_DRAIN_PICTURES, READ_AHEAD, REWIND_RETRY_MAX, DecordIndex, decord_index,
                     decord_index_without_pts, replay_decord)
from .packets import (B_VOP, HEVC_CRA, HEVC_IDR, HEVC_IRAP, HEVC_RASL, NAL_UNKNOWN, NOPTS, REF, REF_PACKED_B, SLOT,
                      Decode, PacketOrder, Replay, decode_order)
from .torchcodec import Landing, TorchcodecIndex, delayed_order, mpeg_ps_pts, replay_torchcodec, torchcodec_index

__all__ = ["PacketOrder", "Decode", "decode_order", "DecordIndex", "decord_index", "decord_index_without_pts",
           "replay_decord", "Replay", "Landing", "TorchcodecIndex", "delayed_order", "mpeg_ps_pts", "torchcodec_index", "replay_torchcodec"]

# doctest.testmod(seeks) only reads what this file defines: hand it the parts' examples
__test__ = {name: globals()[name] for name in __all__ if ">>>" in (globals()[name].__doc__ or "")}
