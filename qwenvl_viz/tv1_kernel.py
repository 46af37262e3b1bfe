"""A faster, bit-identical copy of torch's float32 antialiased bicubic resize (the ``tv1`` resampler).

qwen-vl-utils resizes video frames with torchvision v1 ``resize``, which casts uint8 to float32 and
calls ``F.interpolate(mode="bicubic", antialias=True)``. On the CPU that kernel is scalar, the largest
cost of a long video's ``pixel_values``. This module computes the same numbers 2.4-5.2x faster, by CPU
(1080p to 560x1008, one thread, uint8 in: 7.9 ms vs torch's 40.9-45.1 ms for the interpolation alone on
the 2-core Xeon VM of 7 Dec 2026; 8.6-8.9 vs 21.9-23.3 ms and 4.7 vs 16.8 ms for earlier versions on
earlier machines), vectorised across rows and channels (numba; block transposes through LLVM shuffles).
For ``pixel_values`` it also normalizes and writes each frame straight into its merge-order slots
(``resample_into_patches``).

Same bits, not merely close ones: the result is rounded to uint8, so a last-bit difference moves a
level wherever a value sits near .5. It reproduces, per output value (torch ``UpSampleKernel.cpp``,
``interpolate_aa_single_dim_zero_strides``):

- the two separable passes, width first, each output ``t0*w0`` then ``+= t_j*w_j`` in tap order,
  in float32, with the float32 weights torch computes (read back from torch itself, see ``_weights``);
- which of those adds the compiled kernel fuses into one rounding (FMA). torch's CPU build unrolls
  the tap loop by 4 and fuses only the remainder; that is a property of the binary and the CPU, so it
  is measured once per process (``_calibrate``) among the plausible patterns, and every new frame
  geometry is checked against torch on a random frame before use (``_plan``).

Anything that does not check out (no numba, another pattern, an axis that differs) falls back to
torch, so the fast path can only ever be used where it was seen to be identical.

A geometry's checked taps are kept on disk (:mod:`qwenvl_viz.disk_cache`), keyed by this file, the
torch / numba / llvmlite / numpy versions and the CPU: a later process on the same build and CPU reads
them back and resizes without loading torch (about 2 s of a CLI run).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import io
import os
import platform
import threading
from pathlib import Path

import numpy as np

from .disk_cache import cache_dir, write_atomic

try:
    from llvmlite import ir
    from numba import njit
    from numba.core import types as nb_types
    from numba.extending import intrinsic
except ImportError:  # pragma: no cover - numba is in requirements.txt; torch remains the fallback
    njit = None

ROWS_PER_TILE = 32  # input rows resampled together (lanes = 3 channels x rows); 32 measured fastest
UNROLL_CANDIDATES = (4, 8, 2, 16, 1, 0)  # fused remainder after unrolling by u; 1 = no FMA; 0 = all FMA
# (source, destination) sizes whose axes have 2 to 12 taps, down and up: the pattern must fit them all
_CALIBRATION = (((1080, 1920), (448, 784)), ((640, 600), (637, 300)), ((300, 500), (700, 173)), ((37, 64), (28, 56)))


def _torch_resize(planes, size: tuple[int, int]):
    import torch.nn.functional as F

    return F.interpolate(planes, size=size, mode="bicubic", align_corners=False, antialias=True)


if njit is not None:

    @intrinsic
    def _fma(typingctx, a, b, c):
        """``llvm.fma.f32``: a*b + c with one rounding, as the FMA instruction torch's kernel uses."""
        sig = nb_types.float32(nb_types.float32, nb_types.float32, nb_types.float32)

        def codegen(context, builder, signature, args):
            f32 = ir.FloatType()
            fn = builder.module.declare_intrinsic("llvm.fma", [f32], ir.FunctionType(f32, [f32, f32, f32]))
            return builder.call(fn, args)

        return sig, codegen

    def _block_rows(context, builder, signature, args, n: int):
        """For ``(a, ai, aj, b, bi, bj)`` (2D arrays, C-contiguous rows): ``load(i)``, row ``ai + i`` of ``a``
        from column ``aj`` as an ``n``-vector, and ``store(j, v)``, ``v`` into row ``bi + j`` of ``b`` from
        column ``bj``. No bounds checks."""
        i64 = ir.IntType(64)
        byte = ir.IntType(8).as_pointer()
        A = context.make_array(signature.args[0])(context, builder, args[0])
        B = context.make_array(signature.args[3])(context, builder, args[3])
        ai, aj, bi, bj = (context.cast(builder, args[k], signature.args[k], nb_types.int64) for k in (1, 2, 4, 5))
        size = ir.Constant(i64, signature.args[0].dtype.bitwidth // 8)
        vec = ir.VectorType(context.get_data_type(signature.args[0].dtype), n)
        sa, sb = builder.extract_value(A.strides, 0), builder.extract_value(B.strides, 0)
        pa = builder.gep(builder.bitcast(A.data, byte), [builder.add(builder.mul(ai, sa), builder.mul(aj, size))])
        pb = builder.gep(builder.bitcast(B.data, byte), [builder.add(builder.mul(bi, sb), builder.mul(bj, size))])

        def at(base, stride, i):
            return builder.bitcast(builder.gep(base, [builder.mul(stride, ir.Constant(i64, i))]), vec.as_pointer())

        def load(i):
            value = builder.load(at(pa, sa, i))
            value.align = 1
            return value

        def store(j, value):
            builder.store(value, at(pb, sb, j)).align = 1

        return load, store

    def _shuffle(builder, x, y, mask):
        i32 = ir.IntType(32)
        return builder.shuffle_vector(x, y, ir.Constant(ir.VectorType(i32, len(mask)), [ir.Constant(i32, k) for k in mask]))

    @intrinsic
    def _transpose8(typingctx, a, ai, aj, b, bi, bj):
        """``b[bi + j, bj + i] = a[ai + i, aj + j]`` for ``i, j < 8``: an 8x8 float32 block moved with
        eight vector loads, 24 shuffles and eight vector stores (2D arrays, C-contiguous rows; no
        bounds checks). numba compiles the same moves written as loops 3.5x slower over a frame."""
        sig = nb_types.void(a, ai, aj, b, bi, bj)

        def codegen(context, builder, signature, args):
            load, store = _block_rows(context, builder, signature, args, 8)
            r = [load(i) for i in range(8)]
            lo, hi = (0, 8, 1, 9, 4, 12, 5, 13), (2, 10, 3, 11, 6, 14, 7, 15)
            t = [_shuffle(builder, r[i], r[i + 1], m) for i in (0, 2, 4, 6) for m in (lo, hi)]
            lo, hi = (0, 1, 8, 9, 4, 5, 12, 13), (2, 3, 10, 11, 6, 7, 14, 15)
            u = [_shuffle(builder, t[i], t[i + 2], m) for i in (0, 1, 4, 5) for m in (lo, hi)]
            lo, hi = (0, 1, 2, 3, 8, 9, 10, 11), (4, 5, 6, 7, 12, 13, 14, 15)
            for j, v in enumerate(_shuffle(builder, u[i], u[i + 4], m) for m in (lo, hi) for i in range(4)):
                store(j, v)
            return context.get_dummy_value()

        return sig, codegen

    @intrinsic
    def _transpose16(typingctx, a, ai, aj, b, bi, bj):
        """``b[bi + j, bj + i] = a[ai + i, aj + j]`` for ``i, j < 16``: a 16x16 uint8 block, four rounds
        of interleaving row ``i`` with row ``i + 8`` (2D arrays, C-contiguous rows; no bounds checks)."""
        sig = nb_types.void(a, ai, aj, b, bi, bj)

        def codegen(context, builder, signature, args):
            load, store = _block_rows(context, builder, signature, args, 16)
            r = [load(i) for i in range(16)]
            lo = [k for p in range(8) for k in (p, p + 16)]
            hi = [k for p in range(8, 16) for k in (p, p + 16)]
            for _ in range(4):
                r = [_shuffle(builder, r[i], r[i + 8], m) for i in range(8) for m in (lo, hi)]
            for j in range(16):
                store(j, r[j])
            return context.get_dummy_value()

        return sig, codegen

    def _jit(fn):
        try:  # cache in __pycache__ (or numba's user cache); a read-only install compiles per process
            return njit(nogil=True, cache=True)(fn)
        except RuntimeError:
            return njit(nogil=True)(fn)

    @_jit
    def _horizontal_rows(src, y0, xmin, xn, xlim, xw, planes, tile, acc, inter):  # pragma: no cover - compiled
        """Rows ``y0 .. y0 + ROWS_PER_TILE`` (fewer at the bottom) of the width pass of uint8
        ``src [H, W, 3]`` into float32 ``inter [3, ring, Wo]``, row ``y`` at ``y % ring`` (a copy when
        no weights), through the scratch ``planes [3, ROWS_PER_TILE, W]`` and ``tile [W, L]`` uint8 and
        ``acc [Wo, L]`` float32 (L = 3 x ROWS_PER_TILE). ``src`` is C-contiguous.

        Lanes are the tile's 3 channels x rows, always full width: a partial last tile computes lanes
        it does not keep, which lets the compiler vectorize a loop of constant length. The tile stays
        uint8 and is written line by line (a quarter of the bytes of a float32 tile, in order); each
        tap converts its lanes to float32, which costs less than moving floats.
        """
        H, W, _ = src.shape
        ring, Wo = inter.shape[1], inter.shape[2]
        R = ROWS_PER_TILE
        L = 3 * R
        rn = min(R, H - y0)
        if xw.shape[0] == 0:
            for r in range(rn):
                for x in range(W):
                    for c in range(3):
                        inter[c, (y0 + r) % ring, x] = src[y0 + r, x, c]
            return
        # the transpose into the tile: rows split into planes (a loop the compiler vectorizes), then
        # 16x16 blocks, single values at the edges
        flat = src.reshape(H, W * 3)
        for r in range(rn):
            row = flat[y0 + r]
            p0, p1, p2 = planes[0, r], planes[1, r], planes[2, r]
            for x in range(W):
                p0[x] = row[3 * x]
                p1[x] = row[3 * x + 1]
                p2[x] = row[3 * x + 2]
        full, wfull = rn - rn % 16, W - W % 16
        for c in range(3):
            pc = planes[c]
            for rb in range(0, full, 16):
                for xb in range(0, wfull, 16):
                    _transpose16(pc, rb, xb, tile, xb, c * R + rb)
            for r in range(rn):
                for x in range(0 if r >= full else wfull, W):
                    tile[x, c * R + r] = pc[r, x]
        for ox in range(Wo):
            x0 = xmin[ox]
            a = acc[ox]
            w = xw[ox, 0]
            s = tile[x0]
            for k in range(L):
                a[k] = np.float32(s[k]) * w
            for j in range(1, xlim[ox] + 1):
                w = xw[ox, j]
                s = tile[x0 + j]
                for k in range(L):
                    a[k] = a[k] + np.float32(s[k]) * w
            for j in range(xlim[ox] + 1, xn[ox]):
                w = xw[ox, j]
                s = tile[x0 + j]
                for k in range(L):
                    a[k] = _fma(np.float32(s[k]), w, a[k])
        # back to rows: 8x8 blocks, single values at the edges (a tile's rows never wrap around the
        # ring: it is whole tiles or the whole frame)
        full = rn - rn % 8
        wfull = Wo - Wo % 8
        for c in range(3):
            ic = inter[c]
            for rb in range(0, full, 8):
                for ob in range(0, wfull, 8):
                    _transpose8(acc, ob, c * R + rb, ic, (y0 % ring) + rb, ob)
            for r in range(rn):
                o = inter[c, (y0 + r) % ring]
                for ox in range(0 if r >= full else wfull, Wo):
                    o[ox] = acc[ox, c * R + r]

    @_jit
    def _horizontal(src, xmin, xn, xlim, xw, Wo):  # pragma: no cover - compiled
        """The width pass of uint8 ``src [H, W, 3]`` as float32 ``[3, H, Wo]`` (a copy when no weights)."""
        H, W, _ = src.shape
        inter = np.empty((3, H, Wo), np.float32)
        planes = np.empty((3, ROWS_PER_TILE, W), np.uint8)
        tile = np.zeros((W, 3 * ROWS_PER_TILE), np.uint8)
        acc = np.empty((Wo, 3 * ROWS_PER_TILE), np.float32)
        for y0 in range(0, H, ROWS_PER_TILE):
            _horizontal_rows(src, y0, xmin, xn, xlim, xw, planes, tile, acc, inter)
        return inter

    @_jit
    def _vertical_row(inter, c, oy, ymin, yn, ylim, yw, o):  # pragma: no cover - compiled
        """Output row ``oy`` of channel ``c`` of the height pass into ``o`` (a copy when no weights);
        input row ``y`` is ``inter[c, y % ring]``."""
        Wo = o.shape[0]
        ring = inter.shape[1]
        if yw.shape[0] == 0:
            s = inter[c, oy % ring]
            for x in range(Wo):
                o[x] = s[x]
            return
        y0 = ymin[oy]
        w = yw[oy, 0]
        s = inter[c, y0 % ring]
        for x in range(Wo):
            o[x] = s[x] * w
        for j in range(1, ylim[oy] + 1):
            w = yw[oy, j]
            s = inter[c, (y0 + j) % ring]
            for x in range(Wo):
                o[x] = o[x] + s[x] * w
        for j in range(ylim[oy] + 1, yn[oy]):
            w = yw[oy, j]
            s = inter[c, (y0 + j) % ring]
            for x in range(Wo):
                o[x] = _fma(s[x], w, o[x])

    @_jit
    def _resample(src, xmin, xn, xlim, xw, ymin, yn, ylim, yw, out, finish):  # pragma: no cover - compiled
        """uint8 ``src [H, W, 3]`` -> float32 ``out [3, Ho, Wo]``, clamped to 0..255 and rounded when
        ``finish`` (else the raw interpolation, for checks).

        An axis with no weights (``xw`` / ``yw`` of length 0) keeps its size, as torch skips it.
        """
        Ho, Wo = out.shape[1], out.shape[2]
        inter = _horizontal(src, xmin, xn, xlim, xw, Wo)
        lo, hi = np.float32(0.0), np.float32(255.0)
        for c in range(3):
            for oy in range(Ho):
                o = out[c, oy]
                _vertical_row(inter, c, oy, ymin, yn, ylim, yw, o)
                if finish:
                    for x in range(Wo):
                        o[x] = np.rint(min(max(o[x], lo), hi))  # torchvision v1: clamp, round half to even

    @_jit
    def _resample_patches(src, xmin, xn, xlim, xw, ymin, yn, ylim, yw, h, w,
                          out, rows0, ts, p, m, tp, mean, std):  # pragma: no cover - compiled
        """``_resample`` (finished), normalized ``(v - mean[c]) / std[c]`` in float32 and written
        straight into the frame's slots of ``pixel_values`` ``out [rows, 3*tp*p*p]``: slot ``s`` starts
        at row ``rows0[s]`` with time step ``ts[s]`` (the layout of ``patchify._slot_view``).

        Each band of ``p`` output rows is finished as soon as the width pass has the input rows it
        reads, so the width pass keeps only a ring of rows (about 1 MB at 1080p, in cache) instead of
        the frame, and nothing frame-sized is written but ``out``."""
        H, W, _ = src.shape
        R = ROWS_PER_TILE
        nb = h // p
        need = np.empty(nb, np.int64)  # band by reads input rows [first, need[by])
        window = 0
        for by in range(nb):
            a, b = by * p, by * p + p - 1
            first = a if yw.shape[0] == 0 else ymin[a]
            need[by] = b + 1 if yw.shape[0] == 0 else ymin[b] + yn[b]
            if by:
                need[by] = max(need[by], need[by - 1])
            window = max(window, need[by] - first)
        # rows still read by the first pending band, plus the next tile; whole tiles, so that a tile's
        # rows never wrap around the ring
        inter = np.empty((3, min(H, -(-(window + 2 * R) // R) * R), w), np.float32)
        planes = np.empty((3, R, W), np.uint8)
        tile = np.zeros((W, 3 * R), np.uint8)
        acc = np.empty((w, 3 * R), np.float32)
        band = np.empty((p, w), np.float32)  # one row of patches: each slot row then takes p*p values in a run
        lo, hi = np.float32(0.0), np.float32(255.0)
        gw = w // (p * m)  # merged blocks across
        by = 0
        for y0 in range(0, H, R):
            _horizontal_rows(src, y0, xmin, xn, xlim, xw, planes, tile, acc, inter)
            done = min(y0 + R, H)
            while by < nb and need[by] <= done:
                bh, mh = by // m, by % m
                for c in range(3):
                    mc, sc = mean[c], std[c]
                    for py in range(p):
                        o = band[py]
                        _vertical_row(inter, c, by * p + py, ymin, yn, ylim, yw, o)
                        for x in range(w):
                            o[x] = (np.rint(min(max(o[x], lo), hi)) - mc) / sc
                    for s in range(rows0.shape[0]):
                        col = (c * tp + ts[s]) * p * p
                        for bw in range(gw):
                            for mw in range(m):
                                dst = out[rows0[s] + ((bh * gw + bw) * m + mh) * m + mw]
                                x0 = (bw * m + mw) * p
                                for py in range(p):
                                    for px in range(p):
                                        dst[col + py * p + px] = band[py, x0 + px]
                by += 1


def _bounds(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """Each output's first tap and tap count, in torch's float32/double promotions
    (``_compute_indices_min_size_weights_aa`` for ``scalar_t = float``, bicubic ``interp_size = 4``)."""
    f32, f64 = np.float32, np.float64
    scale = f32(f32(n_in) / f32(n_out))
    support = f32(2.0 * f64(scale)) if scale >= 1 else f32(2.0)
    max_interp = int(np.ceil(support)) * 2 + 1
    xmin = np.empty(n_out, np.int64)
    xn = np.empty(n_out, np.int64)
    for i in range(n_out):
        center = f32(f64(scale) * (i + 0.5))
        lo = max(int(f64(f32(center - support)) + 0.5), 0)
        hi = min(int(f64(f32(center + support)) + 0.5), n_in)
        xmin[i], xn[i] = lo, min(max(hi - lo, 0), max_interp)
    return xmin, xn


def _weights(n_in: int, n_out: int) -> np.ndarray:
    """torch's float32 weights ``[n_out, n_in]`` for one axis, read back by resizing unit lines
    (each output is then ``1 * w`` plus exact zeros, so the weight itself)."""
    import torch

    out = np.empty((n_out, n_in), np.float32)
    for k in range(0, n_in, 256):
        m = min(256, n_in - k)
        eye = torch.zeros((1, 1, m, n_in))
        eye[0, 0, torch.arange(m), torch.arange(k, k + m)] = 1
        out[:, k : k + m] = _torch_resize(eye, (m, n_out))[0, 0].numpy().T
    return out


@functools.lru_cache(maxsize=16)
def _raw_axis(n_in: int, n_out: int):
    """(first tap, tap count, taps ``[n_out, K]``) or None when torch's weights leave the window."""
    xmin, xn = _bounds(n_in, n_out)
    dense = _weights(n_in, n_out)
    taps = np.zeros((n_out, max(int(xn.max()), 1)), np.float32)
    for i in range(n_out):
        taps[i, : xn[i]] = dense[i, xmin[i] : xmin[i] + xn[i]]
        dense[i, xmin[i] : xmin[i] + xn[i]] = 0
    return (xmin, xn, taps) if not dense.any() else None


def _with_rule(raw, unroll: int):
    xmin, xn, taps = raw
    lim = unroll * ((xn - 1) // unroll) if unroll else np.zeros_like(xn)
    return xmin, xn, lim.astype(np.int64), taps


_NO_AXIS = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 1), np.float32))


def _check(axes, src_hw: tuple[int, int], dst_hw: tuple[int, int], seed: int) -> bool:
    """Our kernel equals torch on a random uint8 frame of this geometry, before rounding (after it,
    a wrong fused-add pattern would almost always still agree)."""
    import torch

    src = np.random.default_rng(seed).integers(0, 256, (*src_hw, 3), dtype=np.uint8)
    want = _torch_resize(torch.from_numpy(src).permute(2, 0, 1)[None].float(), dst_hw)[0]
    src.flags.writeable = False  # one compiled variant: frames from the cache are read-only
    got = np.empty((3, *dst_hw), np.float32)
    _resample(src, *axes, got, False)
    return np.array_equal(got, want.numpy())


def _axes(H: int, W: int, h: int, w: int, unroll: int):
    ax = _raw_axis(W, w) if W != w else None
    ay = _raw_axis(H, h) if H != h else None
    if (W != w and ax is None) or (H != h and ay is None):
        return None
    return (_NO_AXIS if ax is None else _with_rule(ax, unroll)) + (_NO_AXIS if ay is None else _with_rule(ay, unroll))


_calibration_lock = threading.Lock()
_unroll: int | None = None  # the fused-remainder pattern of this torch build and CPU; -1: none found


def _calibrate() -> int:
    global _unroll
    with _calibration_lock:
        if _unroll is None:
            _unroll = -1
            for u in UNROLL_CANDIDATES if njit is not None else ():
                if all((axes := _axes(*src, *dst, u)) is not None and _check(axes, src, dst, seed=i)
                       for i, (src, dst) in enumerate(_CALIBRATION)):
                    _unroll = u
                    break
        return _unroll


@functools.lru_cache(maxsize=32)
def _plan(H: int, W: int, h: int, w: int):
    """Both axes for this geometry once checked on a random frame of it, or None (torch does it)."""
    if (axes := _load_plan(H, W, h, w)) is not None:
        return axes
    unroll = _calibrate()
    axes = _axes(H, W, h, w, unroll) if unroll >= 0 else None
    if axes is not None and _check(axes, (H, W), (h, w), seed=H * 7919 + W * 31 + h * 7 + w):
        _store_plan(H, W, h, w, axes)
        return axes
    return None


# ---- checked plans on disk ----------------------------------------------------------------------

_AXIS_FIELDS = ("xmin", "xn", "lim", "taps")


def _cpu_identity() -> str:
    """The CPU model and its feature flags (what decides which instructions torch's kernel runs)."""
    try:
        with open("/proc/cpuinfo") as f:
            first = f.read().split("\n\n", 1)[0]
        keep = ("model name", "flags", "features", "cpu implementer", "cpu part", "isa")
        return "\n".join(ln for ln in first.splitlines() if ln.split(":")[0].strip().lower() in keep)
    except OSError:
        return platform.processor()


@functools.cache
def _build_key() -> str:
    """What a checked plan depends on, hashed: this file, the library versions, the CPU."""
    h = hashlib.blake2b(digest_size=10)
    h.update(Path(__file__).read_bytes())
    for pkg in ("torch", "numba", "llvmlite", "numpy"):
        try:
            version = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            version = "-"
        h.update(f"{pkg}={version};".encode())
    h.update(f"{platform.machine()};{_cpu_identity()}".encode())
    h.update(os.environ.get("ATEN_CPU_CAPABILITY", "").encode())  # torch's kernel choice, when forced
    return h.hexdigest()


def _plan_path(H: int, W: int, h: int, w: int) -> Path | None:
    root = cache_dir("tv1")
    return None if root is None else root / _build_key() / f"{H}x{W}-{h}x{w}.npz"


def _load_plan(H: int, W: int, h: int, w: int):
    if njit is None or (path := _plan_path(H, W, h, w)) is None or not path.is_file():
        return None
    try:
        with np.load(path) as z:
            return tuple(z[f"{axis}_{name}"] for axis in "xy" for name in _AXIS_FIELDS)
    except (OSError, ValueError, KeyError):
        return None  # unreadable: checked again against torch


def _store_plan(H: int, W: int, h: int, w: int, axes) -> None:
    if (path := _plan_path(H, W, h, w)) is None:
        return
    arrays = {f"{axis}_{name}": a for (axis, name), a in zip(((a, n) for a in "xy" for n in _AXIS_FIELDS), axes)}
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    write_atomic(path, lambda f: f.write(buf.getvalue()))


def available() -> bool:
    """True when the kernel reproduces this process's torch (measured on first call)."""
    return _calibrate() >= 0


def ready(src_hw: tuple[int, int], dst_hw: tuple[int, int]) -> bool:
    """True when :func:`resample_chw` will take the fast path for this geometry (checked now; the
    compiled kernels are then loaded too, so that the first frame does not pay for it)."""
    ok = njit is not None and min(dst_hw) >= 2 and tuple(src_hw) != tuple(dst_hw) and _plan(*src_hw, *dst_hw) is not None
    if ok:
        _load_kernels()
    return ok


@functools.cache
def _load_kernels() -> None:
    """Run both kernels once on a tiny frame: numba reads them from its cache (or compiles them) on
    the first call with these argument types, about 0.2 s."""
    src = np.zeros((4, 4, 3), np.uint8)
    src.flags.writeable = False
    axes = _with_rule((np.zeros(2, np.int64), np.full(2, 2, np.int64), np.full((2, 2), 0.5, np.float32)), 0) * 2
    _resample(src, *axes, np.empty((3, 2, 2), np.float32), True)
    out = np.empty((4, 3 * 2 * 1 * 1), np.float32)  # a 2x2 frame of 1-pixel patches, Tp 2
    ones = np.ones(3, np.float32)
    _resample_patches(src, *axes, 2, 2, out, np.zeros(1, np.int64), np.zeros(1, np.int64), 1, 2, 2, ones, ones)


def resample_chw(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray | None:
    """torchvision v1 ``resize`` of a uint8 ``[H, W, 3]`` frame as a new float32 ``[3, h, w]`` array
    (values 0..255, integers), bit-identical to torch; None where that was not verified (use torch)."""
    H, W = frame.shape[:2]
    h, w = size
    if frame.ndim != 3 or frame.shape[2] != 3 or (H, W) == (h, w) or min(h, w) < 2 or njit is None:
        # A 1-pixel-wide output is left to torch: its height pass then reuses the first row's taps
        # for every row (a torch quirk no frame of ours meets: sides are multiples of 28 or 32).
        return None
    axes = _plan(H, W, h, w)
    if axes is None:
        return None
    src = np.ascontiguousarray(frame).view()
    src.flags.writeable = False  # one compiled variant (cached frames are read-only)
    out = np.empty((3, h, w), np.float32)
    _resample(src, *axes, out, True)
    return out


def resample_into_patches(frame: np.ndarray, out: np.ndarray, rows0: np.ndarray, ts: np.ndarray,
                          patch: tuple[int, int, int], mean: np.ndarray, std: np.ndarray, *, size: tuple[int, int]) -> bool:
    """:func:`resample_chw` of ``frame``, normalized and written into its slots of ``pixel_values``
    ``out`` (see ``_resample_patches``; ``patch`` = patch, merge and temporal patch sizes). The same
    bits as resizing, normalizing and copying apart. False where the fast path does not apply (the
    caller does it the long way)."""
    H, W = frame.shape[:2]
    h, w = size
    p, m, tp = patch
    if (frame.ndim != 3 or frame.shape[2] != 3 or (H, W) == (h, w) or min(h, w) < 2 or njit is None
            or h % (p * m) or w % (p * m) or out.dtype != np.float32 or not out.flags.c_contiguous):
        return False
    rows = (h // p) * (w // p)
    if (out.shape[1] != 3 * tp * p * p or len(rows0) != len(ts) or len(ts) == 0 or min(rows0) < 0
            or max(rows0) + rows > out.shape[0] or min(ts) < 0 or max(ts) >= tp):
        # the kernel writes without bounds checks: a layout that does not fit is a caller's bug
        raise ValueError(f"slots {list(zip(rows0, ts))} of {rows} rows do not fit pixel_values {out.shape} (Tp {tp})")
    axes = _plan(H, W, h, w)
    if axes is None:
        return False
    src = np.ascontiguousarray(frame).view()
    src.flags.writeable = False
    _resample_patches(src, *axes, h, w, out, rows0, ts, p, m, tp, mean, std)
    return True
