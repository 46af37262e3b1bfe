"""Layers shared by the three vision towers, small parts first.

``PatchEmbed -> VisionRotary -> Attention (per segment) -> MLP / SwiGLU -> Block -> Merger``,
plus the helpers every tower needs: per-row patch coordinates (from :mod:`qwenvl_viz.merge_order`,
never re-derived), per-frame attention segments and a stage clock.

Numerics follow transformers 5.23 ``modeling_qwen2_vl.py`` / ``modeling_qwen2_5_vl.py`` /
``modeling_qwen3_vl.py``: the rotary embedding is applied in float32, RMSNorm is computed in
float32, and attention uses ``scaled_dot_product_attention`` with the default ``head_dim**-0.5`` scale.

Symbols: N = patches (pixel_values rows), D = tower width, H = heads, hd = D / H, L = segment length.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import VizError
from ..merge_order import row_coords
from .config import VisionConfig

__all__ = [
    "RMSNorm",
    "make_norm",
    "PatchEmbed",
    "VisionRotary",
    "Segments",
    "plan_segments",
    "frame_cu_seqlens",
    "patch_coords",
    "Attention",
    "MLP",
    "SwiGLU",
    "Block",
    "Merger",
    "StageClock",
    "TowerOutput",
    "VisionTower",
    "Progress",
]

Progress = Callable[[int, int], None]  # progress(blocks_done, depth)


# ---------------------------------------------------------------------------------------------
# Norms and activations


class RMSNorm(nn.Module):
    """Qwen2.5-VL norm: weight only, computed in float32, weight applied in the input dtype."""

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * xf.to(x.dtype)


def make_norm(kind: str, dim: int) -> nn.Module:
    """``"layernorm"`` (Qwen2-VL, Qwen3-VL; with bias) or ``"rmsnorm"`` (Qwen2.5-VL); eps 1e-6 in all."""
    return RMSNorm(dim) if kind == "rmsnorm" else nn.LayerNorm(dim, eps=1e-6)


def _quick_gelu(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(1.702 * x)  # CLIP's approximation, Qwen2-VL's "quick_gelu"


_ACT: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "quick_gelu": _quick_gelu,
    "silu": F.silu,
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "gelu": F.gelu,
}


# ---------------------------------------------------------------------------------------------
# Patch embedding


class PatchEmbed(nn.Module):
    """One ``pixel_values`` row ``[C*Tp*p*p]`` -> one D-vector.

    The checkpoints store a Conv3d weight ``[D, C, Tp, p, p]`` with kernel = stride = (Tp, p, p). On a
    row that already is one ``(C, Tp, p, p)`` block the convolution is a single matmul, so that is what
    runs here (same weights, same result, no 5-D reshapes).
    """

    def __init__(self, in_channels: int, temporal_patch_size: int, patch_size: int, dim: int, bias: bool) -> None:
        super().__init__()
        self.proj = nn.Conv3d(
            in_channels, dim, kernel_size=(temporal_patch_size, patch_size, patch_size),
            stride=(temporal_patch_size, patch_size, patch_size), bias=bias,
        )  # fmt: skip

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        w = self.proj.weight
        return F.linear(pixel_values.to(w.dtype), w.view(w.shape[0], -1), self.proj.bias)  # (N, D)


# ---------------------------------------------------------------------------------------------
# 2D rotary position embedding


def patch_coords(grid_thw: torch.Tensor, merge_size: int) -> torch.Tensor:
    """``[N, 2]`` int64: the patch-grid ``(h, w)`` of every row, all images / videos in turn.

    Rows are in merge order, so the first tokens are ``(0,0),(0,1),(1,0),(1,1),(0,2),...``.
    """
    return torch.cat([row_coords(tuple(g), merge_size)[:, 1:] for g in grid_thw.tolist()])


class VisionRotary(nn.Module):
    """Axial 2D RoPE: the first quarter of each head rotates by h, the second quarter by w.

    ``inv_freq_j = theta^(-2j / (hd/2))`` for ``j < hd/4``; angles ``[h*inv, w*inv]`` (hd/2 values)
    are duplicated to hd and applied with ``rotate_half`` (dim i pairs with i + hd/2).
    """

    def __init__(self, head_dim: int, theta: float) -> None:
        super().__init__()
        self.head_dim, self.theta = head_dim, theta

    def forward(self, coords: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        half = self.head_dim // 2
        inv_freq = 1.0 / (self.theta ** (torch.arange(0, half, 2, dtype=torch.float) / half))  # (hd/4,)
        angles = coords[..., None].float() * inv_freq.to(coords.device)  # (N, 2, hd/4)
        angles = angles.flatten(1)  # (N, hd/2): h angles then w angles
        angles = torch.cat([angles, angles], dim=-1)  # (N, hd)
        return angles.cos(), angles.sin()


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([-x2, x1], dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """``x`` (N, H, hd) in any dtype; the rotation runs in float32 (as transformers does)."""
    xf = x.float()
    cos, sin = cos[:, None, :], sin[:, None, :]  # (N, 1, hd)
    return (xf * cos + _rotate_half(xf) * sin).to(x.dtype)


# ---------------------------------------------------------------------------------------------
# Attention segments: which rows attend to which


MAX_RUNS = 64  # above this many runs of equal-length segments, gather by length instead


@dataclass(frozen=True)
class SegmentGroup:
    """``count`` segments of ``length`` rows each: either one contiguous block of rows starting at
    ``start`` (a free view), or scattered rows listed in ``rows`` (gathered, then scattered back)."""

    length: int
    count: int
    start: int = 0
    rows: torch.Tensor | None = None


@dataclass(frozen=True)
class Segments:
    """A partition of the N rows into contiguous segments (``cu_seqlens``), grouped so that equal-length
    segments run as one batched attention call instead of a python loop over thousands of windows."""

    cu_seqlens: torch.Tensor  # (S+1,) int32
    groups: tuple[SegmentGroup, ...]


def plan_segments(cu_seqlens: torch.Tensor, device: torch.device | str) -> Segments:
    """Runs of consecutive equal-length segments are contiguous rows: each run is one view, no copy.
    Frames of a video form one run; Qwen2.5-VL's windows form a few runs per frame once each frame's
    windows are ordered by size. Only if there are more than MAX_RUNS runs are the segments gathered
    by length (a copy of q, k, v, but a handful of attention calls)."""
    bounds = cu_seqlens.tolist()
    runs: list[list[int]] = []  # [start, count, length]
    for a, b in zip(bounds[:-1], bounds[1:]):
        if runs and runs[-1][2] == b - a:
            runs[-1][1] += 1
        else:
            runs.append([a, 1, b - a])
    if len(runs) <= MAX_RUNS:
        return Segments(cu_seqlens, tuple(SegmentGroup(length, count, start) for start, count, length in runs))
    starts = torch.tensor(bounds[:-1], dtype=torch.int64)
    lengths = torch.tensor(bounds[1:], dtype=torch.int64) - starts
    groups = []
    for length in sorted(set(lengths.tolist()), reverse=True):
        sel = starts[lengths == length]  # (B,)
        rows = (sel[:, None] + torch.arange(length)).reshape(-1)  # (B*L,)
        groups.append(SegmentGroup(length, len(sel), rows=rows.to(device)))
    return Segments(cu_seqlens, tuple(groups))


def frame_cu_seqlens(grid_thw: torch.Tensor) -> torch.Tensor:
    """One segment per temporal step of each image / video, ``gh*gw`` rows long (int32 ``[S+1]``)."""
    per_frame = torch.repeat_interleave(grid_thw[:, 1] * grid_thw[:, 2], grid_thw[:, 0])
    return F.pad(per_frame.cumsum(0, dtype=torch.int32), (1, 0))


def segment_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, segments: Segments) -> torch.Tensor:
    """Attention inside each segment only. q, k, v: (N, H, hd) -> (N, H, hd).

    Memory stays linear in N: each SDPA call sees (B, H, L, hd) and never an N x N mask.
    """
    n, h, hd = q.shape
    single = len(segments.groups) == 1 and segments.groups[0].rows is None  # one run covers every row
    out = None if single else q.new_empty(n, h, hd)
    for g in segments.groups:
        b, length = g.count, g.length
        if g.rows is None:
            span = slice(g.start, g.start + b * length)
            qs, ks, vs = (t[span].view(b, length, h, hd).transpose(1, 2) for t in (q, k, v))  # (B, H, L, hd)
        else:
            qs, ks, vs = (t.index_select(0, g.rows).view(b, length, h, hd).transpose(1, 2) for t in (q, k, v))
        o = F.scaled_dot_product_attention(qs, ks, vs).transpose(1, 2)  # (B, L, H, hd)
        if out is None:
            return o.reshape(n, h, hd)
        if g.rows is None:
            out[span].view(b, length, h, hd).copy_(o)
        else:
            out.index_copy_(0, g.rows, o.reshape(b * length, h, hd))
    return out


class Attention(nn.Module):
    """Fused qkv (rows ``[q | k | v]``, heads contiguous), 2D RoPE on q and k, per-segment SDPA, proj."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, segments: Segments) -> torch.Tensor:
        n, d = x.shape
        h = self.num_heads
        q, k, v = self.qkv(x).view(n, 3, h, d // h).unbind(1)  # 3 x (N, H, hd)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        o = segment_attention(q, k, v, segments)  # (N, H, hd)
        return self.proj(o.reshape(n, d))  # (N, D)


# ---------------------------------------------------------------------------------------------
# MLPs, block, merger


ACT_CHUNK_ROWS = 2048  # rows per slice when an activation is applied in place


def _activate(h: torch.Tensor, act: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """``act(h)``. Without autograd it is written back into ``h`` slice by slice (same numbers: the
    activation is elementwise), so the (N, 4D) intermediate exists once instead of twice at peak."""
    if torch.is_grad_enabled() and h.requires_grad:
        return act(h)
    for part in h.split(ACT_CHUNK_ROWS):
        part.copy_(act(part))
    return h


class MLP(nn.Module):
    """``fc2(act(fc1(x)))``: Qwen2-VL (quick_gelu, 4D) and Qwen3-VL (tanh-GELU)."""

    def __init__(self, dim: int, hidden: int, act: str) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.act = _ACT[act]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(_activate(self.fc1(x), self.act))


class SwiGLU(nn.Module):
    """Qwen2.5-VL: ``down(silu(gate(x)) * up(x))``, all three with bias."""

    def __init__(self, dim: int, hidden: int, act: str) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(dim, hidden)
        self.up_proj = nn.Linear(dim, hidden)
        self.down_proj = nn.Linear(hidden, dim)
        self.act = _ACT[act]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = _activate(self.gate_proj(x), self.act)
        if torch.is_grad_enabled() and gate.requires_grad:
            return self.down_proj(gate * self.up_proj(x))
        return self.down_proj(gate.mul_(self.up_proj(x)))  # in place: one (N, I) buffer less at peak


class Block(nn.Module):
    """Pre-norm transformer block: ``x + attn(norm1(x))``, then ``x + mlp(norm2(x))``."""

    def __init__(self, config: VisionConfig, norm: str, mlp: nn.Module) -> None:
        super().__init__()
        self.norm1 = make_norm(norm, config.hidden_size)
        self.attn = Attention(config.hidden_size, config.num_heads)
        self.norm2 = make_norm(norm, config.hidden_size)
        self.mlp = mlp

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, segments: Segments) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), cos, sin, segments)
        return x + self.mlp(self.norm2(x))


class Merger(nn.Module):
    """m x m neighbouring patches -> one LLM token.

    Thanks to the merge order the m*m patches of a token are m*m CONSECUTIVE rows, so merging is a
    plain ``view(N/m^2, m^2*D)``. The main mergers normalise each patch first (norm over D); Qwen3's
    deepstack mergers normalise after the view (norm over m^2*D, ``use_postshuffle_norm``).
    """

    def __init__(self, dim: int, out_dim: int, merge_size: int, norm: str, postshuffle: bool = False) -> None:
        super().__init__()
        self.width = dim * merge_size**2
        self.postshuffle = postshuffle
        self.norm = make_norm(norm, self.width if postshuffle else dim)
        self.fc1 = nn.Linear(self.width, self.width)
        self.fc2 = nn.Linear(self.width, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.postshuffle:
            x = self.norm(x.reshape(-1, self.width))  # (N/4, 4D)
        else:
            x = self.norm(x).reshape(-1, self.width)  # (N, D) -> (N/4, 4D)
        return self.fc2(F.gelu(self.fc1(x)))  # (N/4, out); GELU(erf) as nn.GELU()


# ---------------------------------------------------------------------------------------------
# What a tower returns, and the base class with what all towers share


class StageClock:
    """Wall time per stage; synchronises CUDA so a stage's time is its own."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        self.times: dict[str, float] = {}
        self._t = self._now()

    def _now(self) -> float:
        if self.cuda:
            torch.cuda.synchronize()
        return time.perf_counter()

    def lap(self, name: str) -> None:
        now = self._now()
        self.times[name] = self.times.get(name, 0.0) + now - self._t
        self._t = now


@dataclass(frozen=True)
class TowerOutput:
    """Everything one forward pass exposes (tensors on the tower's device, in its dtype).

    ``hidden[k]`` is the output of block k with rows in ``pixel_values`` order (Qwen2.5's window order
    already undone); ``embeddings`` are the merged tokens in token order.
    """

    patch_embeds: torch.Tensor  # (N, D), the projection of the pixel rows
    pos_embeds: torch.Tensor | None  # (N, D), Qwen3-VL's resampled position table, else None
    hidden: dict[int, torch.Tensor]  # block -> (N, D)
    cu_seqlens: torch.Tensor  # per-frame segments
    window_index: torch.Tensor | None  # (N/4,) Qwen2.5-VL: merged token held by each window slot
    cu_window_seqlens: torch.Tensor | None  # Qwen2.5-VL window segments (rows, window order)
    embeddings: torch.Tensor  # (N/4, out)
    deepstack: tuple[torch.Tensor, ...]  # Qwen3-VL: (N/4, out) after each deepstack block
    stages: tuple[tuple[str, tuple[int, ...]], ...]
    timings: dict[str, float] = field(default_factory=dict)


class VisionTower(nn.Module):
    """Base class: config, weights provenance, the checkpoint key map and input checks."""

    kind: str  # the TowerKind.tower this class runs (loading.TOWERS key)
    # Renames from our parameter names to the checkpoint's (after its ``visual.`` prefix), applied
    # to name segments; names not listed are identical.
    checkpoint_renames: dict[str, str] = {}

    def __init__(self, config: VisionConfig) -> None:
        super().__init__()
        if config.tower != self.kind:
            raise VizError(
                f"{type(self).__name__} runs {self.kind} towers, not {config.tower} ({config.family.value})",
                field="checkpoint",
            )
        self.config = config
        self.weights_source = "uninitialised"
        self.random_weights = True
        self.seed: int | None = None

    def checkpoint_key(self, name: str) -> str:
        """Our parameter name -> the checkpoint's name (without the ``visual.`` prefix)."""
        for ours, theirs in self.checkpoint_renames.items():
            name = name.replace(ours, theirs)
        return name

    def key_map(self) -> dict[str, str]:
        """The explicit map, every parameter: ours -> checkpoint name."""
        return {name: self.checkpoint_key(name) for name in self.state_dict()}

    @property
    def device(self) -> torch.device:
        return self.patch_embed.proj.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.patch_embed.proj.weight.dtype

    def _check_inputs(self, pixel_values: torch.Tensor, grid_thw: torch.Tensor, layers) -> tuple[int, ...]:
        c = self.config
        if grid_thw.ndim != 2 or grid_thw.shape[1] != 3:
            raise VizError(f"grid_thw must be [images, 3], got {list(grid_thw.shape)}", field="grid_thw")
        n = int((grid_thw[:, 0] * grid_thw[:, 1] * grid_thw[:, 2]).sum())
        if pixel_values.ndim != 2 or pixel_values.shape != (n, c.row_len):
            raise VizError(
                f"pixel_values {list(pixel_values.shape)} do not fit grid_thw {grid_thw.tolist()}: expected "
                f"[{n}, {c.row_len}] ({c.in_channels} ch x Tp {c.temporal_patch_size} x {c.patch_size}x"
                f"{c.patch_size} px per row)",
                field="pixel_values",
            )
        m = c.spatial_merge_size
        if bool(((grid_thw[:, 1] % m) != 0).any() or ((grid_thw[:, 2] % m) != 0).any()):
            raise VizError(f"grid_thw {grid_thw.tolist()} is not divisible by merge size {m}", field="grid_thw")
        out = []
        for k in layers:
            if not -c.depth <= k < c.depth:
                raise VizError(
                    f"layer {k} out of range; allowed: 0..{c.depth - 1} or -1..-{c.depth} (depth {c.depth})",
                    field="layers",
                )
            out.append(k % c.depth)
        return tuple(sorted(set(out)))
