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

The package, floor by floor (each module imports only those listed above it, nothing from the UI
or trace):

- ``info``: the records, ``MediaInfo`` and the private ``_VideoIndex``;
- ``caches``: the one lock, the probe caches, the frame cache and the counters (one instance each);
- ``images``: still images (the Pillow probe, ``load_image``, colour keys, the EXIF size);
- ``probe``: ``open_media``, content hashing, the video demux pass and ``_index_for``;
- ``frames``: the seek / skip decoder, the prefetch thread, ``iter_frames`` and ``read_frames``.

Names are re-exported here; patch a function in the submodule that calls it, not here.

Example::

    info = open_media("assets/sample_clip.mp4")    # 720x1280, 30 fps, 249 frames
    frames = read_frames(info, [0, 17, 33])        # uint8 (3, 1280, 720, 3)
"""

from __future__ import annotations

# Beside __all__, the constants and the private names callers and tests read (decoders: _index_for).
from .caches import (  # noqa: F401
    FRAME_CACHE_BYTES,
    PROBE_CACHE_ENTRIES,
    _content_cache,
    _frame_cache,
    _probe_cache,
    clear_cache,
    decode_stats,
    set_frame_cache_limit,
)
from .frames import (  # noqa: F401
    SEEK_COST_FRAMES,
    SKIP_NONREF_CODECS,
    _decoded_frames,
    _frame_index,
    frame_times,
    iter_frames,
    decoder_runs,
    iter_frames_unordered,
    read_frames,
)
from .images import (  # noqa: F401
    EXIF_ORIENTATION_TAG,
    IMAGE_FORMATS_WITH_MAGIC,
    exif_size,
    load_image,
    whiten_transparency_key,
)
from .info import MediaInfo, _VideoIndex  # noqa: F401
from .probe import (  # noqa: F401
    FIRST_FRAME_MAX_PACKETS,
    HASH_CHUNK_BYTES,
    HASH_FULL_BYTES,
    HASH_SAMPLE_CHUNKS,
    IO_TIMEOUT_S,
    MPEG4_VOP_START,
    PACKED_SCAN_PACKETS,
    PROBE_MAX_PACKETS,
    PROBE_MAX_SECONDS,
    SUPPORTED,
    _content_hash,
    _index_for,
    _probe,
    _probe_video,
    open_media,
)

__all__ = [
    "MediaInfo",
    "open_media",
    "load_image",
    "exif_size",
    "iter_frames",
    "decoder_runs",
    "iter_frames_unordered",
    "read_frames",
    "frame_times",
    "decode_stats",
    "clear_cache",
    "set_frame_cache_limit",
    "whiten_transparency_key",
    "FRAME_CACHE_BYTES",
]
