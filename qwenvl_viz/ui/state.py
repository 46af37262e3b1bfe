"""What the controls ask for (``Request``), and the caches that make a control change cheap.

- Traces are cached by (file identity, model, pipeline, parameters): moving a slider back is free.
- Preview images (thumbnails, the patch-grid frame) are cached by (content hash, raw frame, size);
  the decoded frames themselves live in the media stage's own cache.
- Rendered views are cached by (view, trace key, view options, language), so every session shares them.
- Encoder runs are cached by (trace key, weights).

Every cache is bounded twice, by entries and by bytes (:func:`approx_nbytes` of each entry: numpy and torch
buffers, strings, a figure's JSON, a picture's pixels); an entry larger than its whole cache is served but
not kept. With the bounds of :data:`CACHE_BYTES` the caches hold at most about 1 GiB together, besides the
media stage's decoded frames (``media.FRAME_CACHE_BYTES``, 128 MiB) and the built towers (at most 6 GiB of
weights, ``CACHE_BYTES["towers"]``). On disk, the pictures and exports the pages link to are bounded by
:data:`SPILL_BYTES` (:class:`SpillDir`).

Nothing here computes a pipeline number: ``Request.params`` only turns widget values into the keyword
arguments of :func:`qwenvl_viz.explain` (blank = reference default; tokens -> pixels via the library).
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
import dataclasses
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

import numpy as np
import torch
from PIL import Image

from .. import params as vocab
from ..decoders import default_decoder
from ..errors import VizError
from ..media import MediaInfo, open_media
from ..profiles import get_profile
from ..trace import Trace, explain

__all__ = [
    "Request",
    "LRU",
    "approx_nbytes",
    "CACHE_BYTES",
    "FIELDS",
    "get_trace",
    "trace_key",
    "preview",
    "previews",
    "TRACES",
    "PREVIEWS",
    "VIEWS",
    "ENCODINGS",
    "SpillDir",
    "SPILL_BYTES",
    "DELETE_CACHE",
    "PICTURES",
    "EXPORTS",
    "InFlight",
    "VISITORS",
]

T = TypeVar("T")

# Every control a VizError.field can name; the layout puts an error slot under each.
FIELDS = (
    "media", "model", "pipeline", "fps", "nframes", "min_frames", "max_frames", "min_pixels", "max_pixels",
    "total_pixels", "video_start", "video_end", "patch_size", "merge_size", "temporal_patch_size", "prompt",
    "text_resume", "decoder",
)


VIDEO_ONLY = tuple(p.name for p in vocab.PARAMS if p.media == "video")  # not in play for an image


def approx_nbytes(obj: Any, _seen: set | None = None, _depth: int = 0) -> int:
    """Bytes an object holds, roughly: buffers (numpy, torch, PIL, str, bytes, a figure's JSON) in full,
    containers by their items (a long one by a sample of them), each object once. Cheap enough to call
    on every cache insertion (a trace of 100k tokens takes well under a millisecond)."""
    seen = set() if _seen is None else _seen
    if id(obj) in seen or _depth > 12:
        return 0
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):  # a view is charged its base, once
        return int(obj.nbytes) if obj.base is None else 64 + approx_nbytes(obj.base, seen, _depth + 1)
    if isinstance(obj, torch.nn.Module):  # a tower: its weights (the Python objects around them are small)
        return sum(approx_nbytes(t, seen, _depth + 1) for t in (*obj.parameters(), *obj.buffers()))
    if isinstance(obj, torch.Tensor):  # views of one storage share it
        storage = obj.untyped_storage()
        if ("storage", storage.data_ptr()) in seen:
            return 64
        seen.add(("storage", storage.data_ptr()))
        return int(storage.nbytes())
    if isinstance(obj, (str, bytes, bytearray)):
        return sys.getsizeof(obj)
    if isinstance(obj, Image.Image):
        return obj.width * obj.height * len(obj.getbands())
    if isinstance(obj, (int, float, bool, type(None))) or isinstance(obj, type):
        return 32
    if hasattr(obj, "plot") and isinstance(getattr(obj, "plot"), str):  # gradio PlotData: the figure's JSON
        return len(obj.plot)
    if isinstance(obj, dict):
        items = list(obj.items())
    elif isinstance(obj, (list, tuple, set, frozenset)):
        items = list(obj)
    elif dataclasses.is_dataclass(obj) or hasattr(obj, "__dict__"):
        vals = [getattr(obj, f.name, None) for f in dataclasses.fields(obj)] if dataclasses.is_dataclass(obj) else []
        items = vals + list(getattr(obj, "__dict__", {}).values())  # cached_property values live in __dict__
    else:
        return sys.getsizeof(obj)
    n = len(items)
    if n > 256:  # a long list of similar items (tokens, segments): measure a spread sample, scale up
        step = n // 128
        return 64 + 8 * n + sum(approx_nbytes(x, seen, _depth + 1) for x in items[::step]) * n // len(items[::step])
    return 64 + 8 * n + sum(approx_nbytes(x, seen, _depth + 1) for x in items)


class LRU:
    """A small thread-safe LRU map bounded by entries and by bytes; ``get_or(key, make)`` computes once per key.

    ``sizeof`` measures an entry when it is stored (default :func:`approx_nbytes`); an entry larger than
    ``max_bytes`` is returned to the caller but not kept.
    """

    def __init__(self, maxsize: int, max_bytes: int | None = None, sizeof: Callable[[Any], int] = approx_nbytes) -> None:
        self.maxsize = maxsize
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._sizeof = sizeof
        self._data: OrderedDict = OrderedDict()
        self._sizes: dict = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        return None

    def put(self, key: Hashable, value: Any) -> None:
        size = self._sizeof(value) if self.max_bytes is not None else 0  # measured outside the lock
        with self._lock:
            self._drop(key)
            if self.max_bytes is not None and size > self.max_bytes:
                return
            self._data[key] = value
            self._sizes[key] = size
            self.nbytes += size
            while self._data and (len(self._data) > self.maxsize
                                  or (self.max_bytes is not None and self.nbytes > self.max_bytes)):
                self._drop(next(iter(self._data)))

    def _drop(self, key: Hashable) -> None:
        if key in self._data:
            del self._data[key]
            self.nbytes -= self._sizes.pop(key)

    def get_or(self, key: Hashable, make: Callable[[], T]) -> T:
        hit = self.get(key)
        if hit is not None:
            return hit
        value = make()
        self.put(key, value)
        return value

    def values(self) -> list[Any]:
        with self._lock:
            return list(self._data.values())

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._sizes.clear()
            self.nbytes = 0

    def __len__(self) -> int:
        return len(self._data)


def _strings_under(obj: Any, root: str, out: set[str], depth: int = 0) -> set[str]:
    """The file paths under ``root`` that ``obj`` (a cached view: tuples, dicts, strings) names."""
    if isinstance(obj, str):
        if obj.startswith(root):
            out.add(obj)
    elif isinstance(obj, dict) and depth < 6:
        for v in obj.values():
            _strings_under(v, root, out, depth + 1)
    elif isinstance(obj, (list, tuple)) and depth < 6:
        for v in obj:
            _strings_under(v, root, out, depth + 1)
    return out


class SpillDir:
    """A temporary folder of the files pages link to (pictures, exports), bounded in bytes.

    When a write takes it past ``max_bytes``, the oldest files are deleted, except those ``live()`` still
    names (the views cache serves them again) and those written in the last ``young_s`` seconds (a
    request may be returning them; Gradio copies a served file into its own cache, which
    ``Blocks(delete_cache=...)`` bounds). A name may hold one sub-folder (``"3f2a/clip.json"``).
    """

    def __init__(self, prefix: str, max_bytes: int, live: Callable[[], set[str]] = set, young_s: float = 120.0):
        self.root = tempfile.mkdtemp(prefix=prefix)
        self.max_bytes = max_bytes
        self.young_s = young_s
        self.nbytes = 0
        self._live = live
        self._files: OrderedDict[str, tuple[int, float]] = OrderedDict()  # path -> (bytes, written at)
        self._lock = threading.Lock()

    def path(self, name: str) -> str:
        return os.path.join(self.root, name)

    def write(self, name: str, writer: Callable[[str], None]) -> str:
        """``writer(tmp_path)`` writes the file once; the same name later is served as written."""
        path = self.path(name)
        with self._lock:
            if path in self._files and os.path.exists(path):
                self._files.move_to_end(path)
                return path
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{threading.get_ident()}.tmp"
        writer(tmp)
        os.replace(tmp, path)
        size = os.path.getsize(path)
        with self._lock:
            old = self._files.pop(path, None)
            self.nbytes += size - (old[0] if old else 0)
            self._files[path] = (size, time.monotonic())
            if self.nbytes > self.max_bytes:
                self._prune()
        return path

    def _prune(self) -> None:
        live = self._live()
        now = time.monotonic()
        for p, (size, at) in list(self._files.items()):
            if self.nbytes <= self.max_bytes:
                break
            if p in live or now - at < self.young_s:
                continue
            try:
                os.remove(p)
                if os.path.dirname(p) != self.root:
                    os.rmdir(os.path.dirname(p))  # an export's own folder, once empty
            except OSError:
                pass
            del self._files[p]
            self.nbytes -= size


class InFlight:
    """How many visitor requests the server is working on; background work (the start-up warm-up) waits
    for a quiet moment so that it never slows a visitor down."""

    def __init__(self) -> None:
        self._n = 0
        self._cond = threading.Condition()

    def __enter__(self) -> "InFlight":
        with self._cond:
            self._n += 1
            self._cond.notify_all()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._n -= 1
            self._cond.notify_all()

    @property
    def count(self) -> int:
        return self._n

    def wait_quiet(self, quiet_s: float = 0.5, limit_s: float = 600.0) -> bool:
        """Block until no request has been in flight for ``quiet_s`` (True), or ``limit_s`` passed (False)."""
        deadline = time.monotonic() + limit_s
        with self._cond:
            while (left := deadline - time.monotonic()) > 0:
                if self._n:
                    self._cond.wait(timeout=left)
                elif not self._cond.wait(timeout=min(quiet_s, left)) and self._n == 0:
                    return True  # nobody came or went for quiet_s
            return False


VISITORS = InFlight()


# entries, bytes per cache: a plateau for the whole server, whatever the sessions ask (the budget bounds
# one entry: a trace's metadata at 131k tokens is ~10 MB, a figure's JSON a few hundred kB)
CACHE_BYTES = {
    "traces": (48, 192 << 20),
    "session_traces": (64, 64 << 20),  # re-labelled traces: they share their arrays with TRACES entries
    "previews": (1024, 128 << 20),  # decoded, fitted preview pictures (a 768 px frame is 1.3 MB)
    "views": (256, 96 << 20),  # rendered views: figure JSON, HTML, Markdown
    "encodings": (4, 512 << 20),  # encoder runs: hidden states of the kept layers and the run's pixel_values
    # built towers, charged their parameters and buffers: two 7B-class towers in float32 (2.7 GB each);
    # a bigger one is loaded for its run and not kept
    "towers": (2, 6 << 30),
}
# files on disk the pages link to: preview pictures (the views cache names the live ones) and exports
SPILL_BYTES = {"pictures": 256 << 20, "exports": 1 << 30}
# Gradio's own copies of the served files: (every, older than) seconds, for Blocks(delete_cache=...)
DELETE_CACHE = (3600, 3600)

TRACES = LRU(*CACHE_BYTES["traces"])
PREVIEWS = LRU(*CACHE_BYTES["previews"])
VIEWS = LRU(*CACHE_BYTES["views"])
ENCODINGS = LRU(*CACHE_BYTES["encodings"])
PICTURES = SpillDir("qwenvl_viz_views_", SPILL_BYTES["pictures"],
                    live=lambda: _strings_under(VIEWS.values(), PICTURES.root, set()))
EXPORTS = SpillDir("qwenvl_viz_export_", SPILL_BYTES["exports"])
# (trace key, path) -> the cached Trace re-labelled with that session's file; charged in full (its arrays
# are shared with the TRACES entry while both live, so the bound over-counts)
SESSION_TRACES = LRU(*CACHE_BYTES["session_traces"])


@dataclass(frozen=True)
class Request:
    """The values of the pipeline controls, as the widgets deliver them."""

    media: str | None
    model: str = "qwen2.5-vl"
    pipeline: str = "official"
    sample_by: str = "fps"  # "fps" or "nframes": which of the two the user is driving
    fps: float | None = 2.0
    nframes: float | None = None
    min_frames: float | None = None
    max_frames: float | None = None
    pixel_unit: str = "px"  # "px" or "tokens"
    min_pixels: float | None = None
    max_pixels: float | None = None
    total_pixels: float | None = None
    video_start: float | None = None
    video_end: float | None = None
    patch_size: float | None = None
    merge_size: float | None = None
    temporal_patch_size: float | None = None
    prompt: str | None = None
    text_resume: str = "release"
    qwen3_outer_wrapper: bool = False
    cap_pixels_per_frame: bool = False
    decoder: str = dataclasses.field(default_factory=default_decoder)  # videos: whose frames and metadata

    def params(self) -> dict:
        """Keyword arguments for :func:`qwenvl_viz.explain` (blank widgets = the reference defaults).

        Each value is read by the parameter vocabulary (:func:`qwenvl_viz.params.from_widget`): the
        browser's floats become the knob's type, 0 in a number box means blank, bad values are VizErrors.
        """
        out: dict[str, Any] = {}
        controls = {f.name for f in dataclasses.fields(self)}
        for p in vocab.PARAMS:
            if p.name not in controls:
                continue  # not an app control (tokenizer_dir, model_seq_len)
            if p.group == "sampling" and p.name != self.sample_by:
                continue  # fps and nframes: only the one the user drives
            out[p.name] = vocab.from_widget(p.name, getattr(self, p.name))
        if self.pixel_unit == "tokens":
            sizes = (out.get("patch_size"), out.get("merge_size"), out.get("temporal_patch_size"))
            profile = get_profile(self.model).with_sizes(*sizes)
            for name in ("min_pixels", "max_pixels", "total_pixels"):
                if out.get(name) is not None:
                    out[name] = vocab.coerce(vocab.BY_NAME[name], float(profile.tokens_to_pixels(out[name])))
        return {k: v for k, v in out.items() if v is not None}


def trace_key(req: Request) -> tuple:
    """Cache key of the Trace a request gives: the media's CONTENT (the same example file uploaded twice, or
    copied into Gradio's cache, is one entry), the family, the pipeline and the parameters."""
    return _media_and_key(req)[1]


def _media_and_key(req: Request) -> tuple[MediaInfo, tuple]:
    if not req.media:
        raise VizError("no media: upload an image or a video, or pick an example", field="media")
    if not os.path.exists(req.media):
        raise VizError(f"media file not found: {os.path.basename(req.media)!r}; upload it again", field="media")
    params = req.params()
    info = open_media(req.media)  # probed once per file (cached by path, size and mtime)
    if info.kind == "image":  # the video widgets always hold a value; for an image they are simply not in play
        params = {k: v for k, v in params.items() if k not in VIDEO_ONLY}
    return info, (info.content_hash, req.model, req.pipeline, tuple(sorted(params.items())))


# The app's limits on one request's work (app.py --max-vision-tokens ... raise them for the process).
BUDGET: vocab.Budget = vocab.DEFAULT_BUDGET


def set_budget(budget: vocab.Budget) -> None:
    global BUDGET
    BUDGET = budget


def get_trace(req: Request) -> tuple[tuple, Trace]:
    """``(key, trace)``; errors are raised as VizError (never cached).

    The work is cached by content (``TRACES``), but the Trace a session gets carries that session's own
    file path (``SESSION_TRACES``): a name or a path never travels from one visitor's page to another's.
    """
    info, key = _media_and_key(req)
    trace = TRACES.get(key)
    if trace is None:
        trace = explain(info, model=req.model, pipeline=req.pipeline, budget=BUDGET, **dict(key[3]))
        TRACES.put(key, trace)
    if trace.media.path == info.path:
        return key, trace
    skey = (key, info.path)
    own = SESSION_TRACES.get(skey)
    if own is None:
        own = dataclasses.replace(trace, media=info)  # same numbers; this session's name and path
        SESSION_TRACES.put(skey, own)
    return key, own


def previews(trace: Trace, positions: list[int], width: int, height: int) -> list[Image.Image]:
    """Sampled frames at ``positions`` (``[0]`` for an image) fitted to ``width`` x ``height`` for display.

    Cached by (content hash, raw frame index, size); the missing frames are decoded in one pass.
    """
    from ..figures.pictures import fit
    from ..media import iter_frames

    # the pictures the trace's decoder returns (after a seek in a B-frame AVI, not always the index's),
    # as it returns them (a backend that ignores the display matrix gives them as stored)
    pics = trace.pictures
    raws = [pics[p] if trace.sampling else 0 for p in positions]
    as_stored = bool(trace.decoder is not None and not trace.decoder.rotation_applied and trace.media.rotation)
    keys = [("preview", trace.media.content_hash, trace.exif_applied, as_stored, r, width, height) for r in raws]
    got = {k: PREVIEWS.get(k) for k in keys}
    missing = sorted({r for r, k in zip(raws, keys) if got[k] is None})
    if missing:
        if trace.sampling is None:
            frames = [trace.source_frame(0)]
        else:
            frames = (trace.as_decoder_returns(f) for f in iter_frames(trace.media, missing))
        for r, frame in zip(missing, frames):
            k = ("preview", trace.media.content_hash, trace.exif_applied, as_stored, r, width, height)
            got[k] = fit(frame, width, height)
            PREVIEWS.put(k, got[k])
    return [got[k] for k in keys]


def preview(trace: Trace, position: int, width: int, height: int) -> Image.Image:
    return previews(trace, [position], width, height)[0]


def request_dict(req: Request) -> dict:
    return asdict(req)
