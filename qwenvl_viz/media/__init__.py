"""Stage 1, media: open an image or a video, read its metadata, decode only the frames asked for."""

from .probe import *  # noqa: F401,F403
from .probe import (  # noqa: F401  (private names other modules and tests reach for)
    FRAME_CACHE_BYTES,
    HASH_FULL_BYTES,
    __all__,
    _content_cache,
    _content_hash,
    _decoded_frames,
    _frame_index,
    _index_for,
    _probe_video,
)
