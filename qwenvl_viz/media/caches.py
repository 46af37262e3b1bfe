"""The media stage's shared state: the probe caches, the decoded-frame LRU and the decode counters.

One lock guards all of them; every submodule reads and mutates these objects in place, never rebinds them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from ..errors import VizError
from .info import MediaInfo, _VideoIndex

# Default bound of the decoded-frame LRU cache (128 MiB): 16 sampled 720p frames take 44 MB, but the
# 120 of a 60 s 1080p clip take 746 MB, which beside their 813 MB pixel_values would double the
# memory such a clip needs (bench/preprocess.py measures the peak).
FRAME_CACHE_BYTES = 128 << 20
PROBE_CACHE_ENTRIES = 64

_lock = threading.Lock()
_probe_cache: OrderedDict[tuple, MediaInfo] = OrderedDict()  # (realpath, size, mtime) -> info
# content hash -> (info, its video index): the same bytes under another name (a second upload) are not probed
# again; bounded like the path cache
_content_cache: OrderedDict[str, tuple[MediaInfo, _VideoIndex | None]] = OrderedDict()
# content hash -> its in-order packets, and (content hash, keyframe) -> what a seek there outputs
# (landings.py: replaying torchcodec's seeks in an MPEG program stream); bounded like the probe caches
_landing_cache: OrderedDict[tuple, object] = OrderedDict()
LANDING_CACHE_ENTRIES = 1024
_STAT_KEYS = ("frames_decoded", "frames_skipped", "frames_converted", "seeks", "cache_hits", "cache_misses", "opens")
_stats: dict[str, int] = dict.fromkeys(_STAT_KEYS, 0)


class _FrameCache:
    """LRU of read-only frames keyed (content_hash, index), bounded by bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._items: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()

    def get(self, key: tuple[str, int]) -> np.ndarray | None:
        with _lock:
            arr = self._items.get(key)
            if arr is not None:
                self._items.move_to_end(key)
            return arr

    def put(self, key: tuple[str, int], arr: np.ndarray) -> None:
        with _lock:
            if arr.nbytes > self.max_bytes or key in self._items:
                return
            self._items[key] = arr
            self.nbytes += arr.nbytes
            self._evict()

    def _evict(self) -> None:
        while self.nbytes > self.max_bytes and self._items:
            _, old = self._items.popitem(last=False)
            self.nbytes -= old.nbytes

    def clear(self) -> None:
        with _lock:
            self._items.clear()
            self.nbytes = 0


_frame_cache = _FrameCache(FRAME_CACHE_BYTES)


def _count(key: str, n: int = 1) -> None:
    with _lock:
        _stats[key] += n


def decode_stats() -> dict:
    """Cumulative counters (take differences): frames decoded, frames the decoder skipped
    (unwanted and unreferenced), frames converted to RGB, seeks, cache hits and misses, container
    opens; plus the frame cache's current size and limit in bytes."""
    with _lock:
        out = dict(_stats)
        out["cache_bytes"] = _frame_cache.nbytes
        out["cache_frames"] = len(_frame_cache._items)
        out["cache_limit_bytes"] = _frame_cache.max_bytes
    return out


def clear_cache() -> None:
    """Forget decoded frames and probe results (counters keep counting)."""
    _frame_cache.clear()
    with _lock:
        _probe_cache.clear()
        _content_cache.clear()
        _landing_cache.clear()


def set_frame_cache_limit(max_bytes: int) -> None:
    """Bound the decoded-frame cache to ``max_bytes`` (0 disables it); evicts at once if needed."""
    if max_bytes < 0:
        raise VizError(f"frame cache limit {max_bytes} is negative; give 0 or more bytes", field="cache")
    with _lock:
        _frame_cache.max_bytes = int(max_bytes)
        _frame_cache._evict()
