"""Decoding: the frames asked for, each decoded at most once (seek or skip, whichever decodes less),
served through the frame cache, optionally a couple of frames ahead on a background thread."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator, Sequence

import av
import numpy as np

from ..errors import VizError
from .caches import _count, _frame_cache
from .info import MediaInfo, _VideoIndex
from .probe import _av_open, _index_for

SEEK_COST_FRAMES = 4  # a seek (flush + restart) costs about this many decoded frames
# Codecs whose skip_frame=NONREF drops only frames no other frame references (checked bit-exact
# against decord in tests/test_media.py for h264, vp8, vp9, mpeg4).
SKIP_NONREF_CODECS = frozenset({"h264", "hevc", "mpeg4", "mpeg2video", "vp8", "vp9"})
# iter_frames_unordered: frames one decoder of several decodes at least (below that, fewer decoders)
MIN_PART_FRAMES = 120


def _check_indices(info: MediaInfo, indices: Sequence[int]) -> list[int]:
    out = [int(i) for i in indices]
    bad = [i for i in out if not 0 <= i < info.frames]
    if bad:
        raise VizError(
            f"frame index {bad[0]} is out of range for {os.path.basename(info.path)!r}: it has "
            f"{info.frames} frames, allowed 0..{info.frames - 1}",
            field="frames",
        )
    return out


def _ascending_runs(req: list[int]) -> list[list[int]]:
    """``req`` cut where an index goes back: each run is one decode pass."""
    runs: list[list[int]] = []
    for i in req:
        if runs and i >= runs[-1][-1]:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def _to_display(frame: av.VideoFrame, rotation_k: int) -> np.ndarray:
    rgb = frame.to_ndarray(format="rgb24")
    if rotation_k:
        rgb = np.rot90(rgb, rotation_k)
    rgb = np.ascontiguousarray(rgb)
    rgb.setflags(write=False)  # shared with the cache: copy before writing
    return rgb


def _may_seek(index: _VideoIndex) -> bool:
    # An MPEG program stream with B-frames: a seek lands on a PES by dts and FFmpeg then makes up pts
    # for the pictures it cuts anew, one of which may equal another picture's: read it in order.
    return index.seekable and not (index.fmt == "mpeg" and index.lead_pts > 0)


def _decode_wanted(info: MediaInfo, index: _VideoIndex, wanted: list[int],
                   single_thread: bool = False) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(i, rgb)`` for each ``i`` of ``wanted`` (unique, ascending), decoding as little as possible.

    Two savings, both exact (the frames kept are bit-identical to a full decode):
    - seek: ``pos`` is the presentation index of the next frame the decoder outputs. For a target
      ``t`` whose closest keyframe at or before it is ``k``, seek to ``k`` when ``k > pos`` and
      decoding ``t - k`` frames plus the seek's cost beats decoding ``t - pos`` frames forward.
    - skip: packets of frames nobody wants are fed with ``skip_frame=NONREF``, so the decoder drops
      the ones no other frame references (about a third of an x264 stream with B-frames).
    If the container's index or the codec misbehaves (a seek lands past its target, a wanted frame
    goes missing), the pass restarts without that saving from the first frame not yet delivered.
    ``single_thread`` turns off FFmpeg's own threads (for one of several decoders run side by side).
    """
    name = os.path.basename(info.path)
    allow_seek, allow_skip = _may_seek(index), index.seekable
    while True:
        try:
            yield from _decode_pass(info, index, wanted, allow_seek, allow_skip, name, single_thread)
            return
        except _Restart as e:
            wanted = [i for i in wanted if i >= e.target]
            allow_seek = allow_seek and not e.seek_failed
            allow_skip = allow_skip and e.seek_failed  # a missing frame: stop skipping first


class _Restart(Exception):
    def __init__(self, target: int, *, seek_failed: bool) -> None:
        self.target = target
        self.seek_failed = seek_failed


def _keyframe_at_or_before(index: _VideoIndex, target: int) -> int:
    j = int(np.searchsorted(index.keyframes, target, side="right")) - 1
    return int(index.keyframes[j]) if j >= 0 else 0


def _frame_index(index: _VideoIndex, ts: int | None) -> int | None:
    """Presentation index of the frame with timestamp ``ts`` (None when unknown)."""
    if ts is None or not index.seekable:
        return None
    j = int(np.searchsorted(index.pts, ts))
    return j if j < len(index.pts) and index.pts[j] == ts else None


def _decoded_frames(container, stream, index: _VideoIndex, wanted: set[int], skip: bool) -> Iterator[av.VideoFrame]:
    """Demux + decode from the current position; unwanted packets go in with skip_frame=NONREF."""
    cc = stream.codec_context
    mode = cc.skip_frame
    for pkt in container.demux(stream):
        if skip:
            idx = _frame_index(index, pkt.pts)
            want = "DEFAULT" if idx is None or idx in wanted else "NONREF"
            if want != mode:  # read by the decoder when this packet is submitted (frame threads too)
                cc.skip_frame = mode = want
        yield from pkt.decode()


def _decode_pass(info: MediaInfo, index: _VideoIndex, wanted: list[int], allow_seek: bool, allow_skip: bool, name: str,
                 single_thread: bool = False):
    wanted_set = set(wanted)
    with _av_open(info.path) as container:
        stream = container.streams[index.stream_index]
        if single_thread:
            stream.thread_type = "NONE"  # the same pictures: FFmpeg's threads change speed, not output
        skip = allow_skip and stream.codec_context.name in SKIP_NONREF_CODECS
        frames = _decoded_frames(container, stream, index, wanted_set, skip)
        pos = 0
        just_seeked = seeked = False
        for target in wanted:
            if allow_seek:
                k = _keyframe_at_or_before(index, target)
                if k > pos and (target - k) + SEEK_COST_FRAMES < (target - pos):
                    frames.close()
                    container.seek(int(index.pts[k]), stream=stream, backward=True, any_frame=False)
                    _count("seeks")
                    frames = _decoded_frames(container, stream, index, wanted_set, skip)
                    pos, just_seeked = k, True
                    seeked = True
            try:
                for frame in frames:
                    _count("frames_decoded")
                    idx = _frame_index(index, frame.pts)
                    if idx is None:
                        idx = pos  # without usable pts, frames are counted in output order
                    if just_seeked and idx > target:
                        raise _Restart(target, seek_failed=True)
                    just_seeked = False
                    if idx > pos:
                        _count("frames_skipped", idx - pos)
                    pos = idx + 1
                    if idx == target:
                        _count("frames_converted")
                        yield target, _to_display(frame, index.rotation_k)
                        break
                    if idx > target:
                        if skip:
                            raise _Restart(target, seek_failed=False)
                        raise VizError(f"frame {target} of {name!r} could not be decoded (the decoder skipped it)")
                else:
                    if seeked:  # MPEG-PS: a seek onto an I-frame's own PES can lose it and the rest of its GOP
                        raise _Restart(target, seek_failed=True)
                    if skip:
                        raise _Restart(target, seek_failed=False)
                    raise VizError(
                        f"frame {target} of {name!r} could not be decoded: the stream ended after frame {pos - 1} "
                        f"although {info.frames} packets were counted; the file may be truncated"
                    )
            except (VizError, _Restart):
                raise
            except (av.FFmpegError, ValueError) as e:
                raise VizError(f"decoding frame {target} of {name!r} failed: {e}; the file may be corrupt") from None
        frames.close()


def _prefetched(gens: Sequence[Iterator[tuple[int, np.ndarray]]], depth: int = 2) -> Iterator[tuple[int, np.ndarray]]:
    """Run each of ``gens`` in a background thread, together at most ``depth`` items ahead (PyAV
    releases the GIL in decode); items come in the order they are ready (one generator: its order)."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce(gen: Iterator[tuple[int, np.ndarray]]) -> None:
        try:
            for item in gen:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(done)
        except BaseException as e:  # handed to the consumer, raised there
            q.put(e)
        finally:
            gen.close()

    workers = [threading.Thread(target=produce, args=(gen,), name="qwenvl-viz-decode", daemon=True) for gen in gens]
    for worker in workers:
        worker.start()
    try:
        running = len(workers)
        while running:
            item = q.get()
            if item is done:
                running -= 1
                continue
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while any(w.is_alive() for w in workers):  # unblock producers waiting on a full queue
            try:
                q.get(timeout=0.05)
            except queue.Empty:
                pass
        for worker in workers:
            worker.join()


def _parts(index: _VideoIndex, wanted: list[int], parts: int) -> list[list[int]]:
    """``wanted`` (unique, ascending) cut at keyframes into at most ``parts`` runs that each decode about
    as many frames, at least ``MIN_PART_FRAMES`` (a run of its own costs one more open and a seek)."""
    if parts < 2 or len(wanted) < 2 or not _may_seek(index) or len(index.keyframes) < 2:
        return [wanted]
    start = _keyframe_at_or_before(index, wanted[0])
    span = wanted[-1] + 1 - start
    n = min(parts, span // MIN_PART_FRAMES)
    keyframes = np.asarray(index.keyframes, np.int64)
    cuts: list[int] = []
    for i in range(1, n):
        ideal = start + span * i / n
        j = int(np.searchsorted(keyframes, ideal))
        near = min((int(keyframes[k]) for k in (j - 1, j) if 0 <= k < len(keyframes)), key=lambda k: abs(k - ideal))
        if (cuts[-1] if cuts else start) + MIN_PART_FRAMES <= near <= wanted[-1] - MIN_PART_FRAMES // 2:
            cuts.append(near)
    bounds = [0] + [int(np.searchsorted(wanted, c)) for c in cuts] + [len(wanted)]
    return [wanted[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]


def _video_indices(info: MediaInfo, indices: Sequence[int]) -> list[int]:
    if info.kind != "video":
        raise VizError(f"iter_frames needs a video; {os.path.basename(info.path)!r} is an {info.kind}; use load_image")
    return _check_indices(info, indices)


def _take_cached(info: MediaInfo, req: list[int], count: bool = True) -> tuple[dict[int, np.ndarray], list[int]]:
    """The cached frames of ``req``, taken now (so that decoding the others cannot evict them before
    they are yielded), and the others, each once, in request order."""
    have = {i: a for i in dict.fromkeys(req) if (a := _frame_cache.get((info.content_hash, i))) is not None}
    missing = [i for i in dict.fromkeys(req) if i not in have]
    if count:
        _count("cache_hits", sum(1 for i in req if i in have))
        _count("cache_misses", len(missing))
    return have, missing


def _keep(info: MediaInfo, i: int, arr: np.ndarray, room: int) -> int:
    """Cache frame ``i`` if it fits in ``room`` bytes; the room left. A pass never evicts its own
    frames: LRU over a scan larger than the cache would keep only its tail, which a repeat of the same
    scan evicts before reaching it; keeping the head gives hits."""
    if arr.nbytes > room:
        return room
    _frame_cache.put((info.content_hash, i), arr)
    return room - arr.nbytes


def iter_frames(info: MediaInfo, indices: Sequence[int], *, prefetch: bool = True) -> Iterator[np.ndarray]:
    """Yield one uint8 ``[H, W, 3]`` RGB frame (displayed orientation, read-only) per index.

    ``indices`` are checked at once, before decoding. Cached frames cost nothing; the others are
    decoded in one pass per ascending run of ``indices`` (a backend that seeks may return an earlier
    picture after a later one), which seeks only where a keyframe between the current position and
    the target makes that cheaper, and converts to RGB only the frames yielded. With ``prefetch`` a
    background thread decodes up to two frames ahead.
    """
    req = _video_indices(info, indices)
    index = _index_for(info) if req else None
    runs = _ascending_runs(req)
    if len(runs) <= 1:
        return _iter_frames(info, index, req, prefetch)
    return _iter_runs(info, index, runs, prefetch)


def _iter_runs(info: MediaInfo, index: _VideoIndex, runs: list[list[int]], prefetch: bool) -> Iterator[np.ndarray]:
    for run in runs:
        yield from _iter_frames(info, index, run, prefetch)


def _iter_frames(info: MediaInfo, index: _VideoIndex | None, req: list[int], prefetch: bool) -> Iterator[np.ndarray]:
    if not req or index is None:
        return
    have, missing = _take_cached(info, req)
    room = _frame_cache.max_bytes - sum(a.nbytes for a in have.values())
    decoded: Iterator[tuple[int, np.ndarray]] = iter(())
    if missing:
        decoded = _decode_wanted(info, index, missing)
        if prefetch and len(missing) > 1:
            decoded = _prefetched([decoded])
    try:
        last: tuple[int, np.ndarray] | None = None
        for i in req:
            if i in have:
                yield have[i]
            elif last is not None and last[0] == i:
                yield last[1]
            else:
                j, arr = next(decoded)
                assert j == i, (j, i)  # decode order = sorted unique missing = request order
                room = _keep(info, i, arr, room)
                last = (i, arr)
                yield arr
    finally:
        close = getattr(decoded, "close", None)
        if close is not None:
            close()


def decoder_runs(info: MediaInfo, indices: Sequence[int], parts: int) -> int:
    """How many decoders :func:`iter_frames_unordered` would run side by side for ``indices`` now
    (0 when every frame is cached)."""
    if info.kind != "video":
        return 0
    _, missing = _take_cached(info, _check_indices(info, indices), count=False)
    return len(_parts(_index_for(info), sorted(missing), parts)) if missing else 0


def iter_frames_unordered(info: MediaInfo, indices: Sequence[int], *, parts: int = 1) -> Iterator[tuple[int, np.ndarray]]:
    """``(position, frame)`` for every position of ``indices``, in the order the frames are ready: the
    cached ones first, then the others decoded by up to ``parts`` decoders side by side, each over its own
    run of keyframes with one FFmpeg thread (where a seek is exact; else one decoder in order). For work
    whose frames are independent (``pixel_values``): on a long clip every frame up to the last wanted one
    is decoded, and one decoder with FFmpeg's threads keeps about 1.5 cores busy, several about all.
    Frames are the ones :func:`iter_frames` yields, bit for bit (the same seeks, checked the same way).
    """
    req = _video_indices(info, indices)
    if not req:
        return
    index = _index_for(info)
    where: dict[int, list[int]] = {}
    for pos, i in enumerate(req):
        where.setdefault(i, []).append(pos)
    have, missing = _take_cached(info, req)
    missing.sort()
    for i, arr in have.items():
        for pos in where[i]:
            yield pos, arr
    if not missing:
        return
    room = _frame_cache.max_bytes - sum(a.nbytes for a in have.values())
    runs = _parts(index, missing, parts)
    gens = [_decode_wanted(info, index, run, single_thread=len(runs) > 1) for run in runs]
    decoded = _prefetched(gens, depth=2 * len(gens)) if len(missing) > 1 else gens[0]
    try:
        for i, arr in decoded:
            room = _keep(info, i, arr, room)
            for pos in where[i]:
                yield pos, arr
    finally:
        decoded.close()


def frame_times(info: MediaInfo, indices: Sequence[int]) -> list[float | None]:
    """When frame ``i`` (presentation order) is shown, in seconds from the stream's first frame: its pts.

    Beside ``i / fps`` (what the references compute) this shows the real playback time on VFR clips
    and AVIs with dropped-frame slots. None where the file has no usable timestamps.
    """
    index = _index_for(info)
    if not index.seekable or not index.time_base:
        return [None for _ in indices]
    first = int(index.pts[0])
    return [float((int(index.pts[i]) - first) * index.time_base) for i in indices]


def read_frames(info: MediaInfo, indices: Sequence[int]) -> np.ndarray:
    """Stacked uint8 ``[n, H, W, 3]`` frames (a new, writable array); for small clips and tests."""
    frames = list(iter_frames(info, indices))
    if not frames:
        return np.zeros((0, info.height, info.width, 3), np.uint8)
    return np.stack(frames)
