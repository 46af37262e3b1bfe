"""Heatmaps over an EncoderTrace, laid out on the patch grid so a figure can put them over the frames.

Three views of a set of vectors (merged tokens, or the patch-level output of one block):

- ``norm``: the L2 norm of each vector;
- ``pca``: the first 3 principal components, scaled to [0, 1] and shown as RGB;
- ``cosine``: the cosine similarity of every vector to one chosen vector.

Each comes back as one image per temporal group, ``[t, gh, gw]`` (or ``[t, gh, gw, 3]`` for RGB), on
the PATCH grid: a merged token's value fills its m x m patches. The row -> (t, h, w) map is
:func:`qwenvl_viz.merge_order.row_coords`, the same one the preprocessing used. A patch covers
``patch_size`` x ``patch_size`` pixels of the resized frame, and temporal group k covers frames
``k*Tp .. k*Tp+Tp-1``, so :func:`to_pixels` (or any image upsampler) puts the map on the frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np
import torch

from .errors import VizError
from .merge_order import row_coords

__all__ = [
    "HeatmapKind",
    "Heatmap",
    "PCA",
    "token_norms",
    "cosine_to",
    "pca_rgb",
    "to_patch_grid",
    "to_pixels",
    "heatmap",
]

PCA_CLIP_QUANTILES = (0.01, 0.99)  # robust colour range: a few outlier tokens must not wash out the rest


class HeatmapKind(str, Enum):
    NORM = "norm"
    PCA = "pca"
    COSINE = "cosine"


@dataclass(frozen=True)
class Heatmap:
    """One heatmap. ``values``: ``[t, gh, gw]`` float32 (norm, cosine) or ``[t, gh, gw, 3]`` in [0, 1] (pca).

    ``per_item`` holds the same numbers per vector (row / token order) before the grid layout.
    """

    kind: HeatmapKind
    layer: int | None  # None = merged embeddings; k = output of block k (patch level)
    token: int | None  # cosine: the chosen token (layer None) or patch row (layer k)
    level: str  # "token" or "patch"
    values: np.ndarray
    per_item: np.ndarray
    value_range: tuple[float, float]
    grid_thw: tuple[int, int, int]
    patch_size: int
    merge_size: int
    temporal_patch_size: int
    random_weights: bool
    explanation: str


@dataclass(frozen=True)
class PCA:
    scores: torch.Tensor  # (n, 3) projections on the components
    rgb: torch.Tensor  # (n, 3) scores scaled to [0, 1]
    components: torch.Tensor  # (3, D)
    explained_variance_ratio: torch.Tensor  # (3,)


def token_norms(x: torch.Tensor) -> torch.Tensor:
    """(n, D) -> (n,) L2 norms."""
    return x.float().norm(dim=-1)


def cosine_to(x: torch.Tensor, index: int) -> torch.Tensor:
    """(n, D) -> (n,) cosine similarity of each row to row ``index`` (1 at ``index``)."""
    x = x.double()
    x = x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return (x @ x[index]).float()


PCA_BLOCK, PCA_ITERATIONS, PCA_SEED = 13, 10, 0


def pca_rgb(x: torch.Tensor, k: int = 3) -> PCA:
    """First ``k`` principal components of the rows of ``x`` (n, D), in float64.

    An exact eigendecomposition of a 3584 x 3584 covariance takes ~30 s on 2 cores, so the top
    components come from subspace iteration (seeded, block of 13, 10 iterations) plus a Rayleigh-Ritz
    step: exact when the centred data has rank <= 13, otherwise converged for the well separated
    leading components that a picture shows, in about 1 s.
    Sign convention (deterministic): each component is flipped so that its largest-magnitude score is
    positive. Colours: each score column is clipped to its 1%..99% quantiles and scaled to [0, 1].
    """
    xc = x.double() - x.double().mean(0)
    n, d = xc.shape
    b = min(PCA_BLOCK, n, d)
    q = torch.randn(d, b, generator=torch.Generator().manual_seed(PCA_SEED), dtype=torch.float64)
    for _ in range(PCA_ITERATIONS):
        q, _ = torch.linalg.qr(xc.T @ (xc @ q))  # (D, b) orthonormal basis of the leading subspace
    y = xc @ q  # (n, b)
    evals, evecs = torch.linalg.eigh(y.T @ y)  # Rayleigh-Ritz on the small (b, b) problem, ascending
    kk = min(k, b)
    comps = (q @ evecs[:, -kk:].flip(1)).T  # (kk, D)
    top = evals.flip(0)[:kk].clamp_min(0)
    if kk < k:  # fewer rows or features than components asked for
        comps = torch.cat([comps, comps.new_zeros(k - kk, d)])
        top = torch.cat([top, top.new_zeros(k - kk)])
    scores = xc @ comps.T  # (n, k)
    flip = torch.sign(scores.gather(0, scores.abs().argmax(0, keepdim=True)))  # (1, k)
    flip[flip == 0] = 1
    scores, comps = scores * flip, comps * flip.T
    lo = torch.quantile(scores, PCA_CLIP_QUANTILES[0], dim=0)
    hi = torch.quantile(scores, PCA_CLIP_QUANTILES[1], dim=0)
    rgb = ((scores - lo) / (hi - lo).clamp_min(1e-12)).clamp(0, 1)
    total = xc.pow(2).sum()
    ratio = top / total if total > 0 else torch.zeros_like(top)
    return PCA(scores=scores.float(), rgb=rgb.float(), components=comps.float(), explained_variance_ratio=ratio.float())


def to_patch_grid(values: torch.Tensor, grid_thw: tuple[int, int, int], merge_size: int, level: str) -> np.ndarray:
    """Per-row (``level="patch"``, n = t*gh*gw) or per-token (``"token"``, n = t*gh*gw/m^2) values
    -> ``[t, gh, gw]`` or ``[t, gh, gw, c]``, each value at its patch(es)."""
    t, gh, gw = grid_thw
    if level == "token":
        values = values.repeat_interleave(merge_size**2, dim=0)  # token k -> rows 4k..4k+3
    coords = row_coords((t, gh, gw), merge_size)  # (n, 3): (t, h, w) of each row
    if values.shape[0] != coords.shape[0]:
        raise VizError(f"{values.shape[0]} values do not fit grid {list(grid_thw)} at {level} level", field="layer")
    out = torch.zeros((t, gh, gw, *values.shape[1:]), dtype=torch.float32)
    out[coords[:, 0], coords[:, 1], coords[:, 2]] = values.float()
    return out.numpy()


def to_pixels(grid: np.ndarray, patch_size: int) -> np.ndarray:
    """``[t, gh, gw(, c)]`` -> ``[t, gh*p, gw*p(, c)]``: each patch value over its p x p pixels."""
    return grid.repeat(patch_size, axis=1).repeat(patch_size, axis=2)


def heatmap(enc, kind: HeatmapKind | str, layer: int | None = None, token: int | None = None) -> Heatmap:
    """The ``kind`` heatmap of the merged embeddings (``layer=None``) or of block ``layer``'s output.

    ``enc`` is an :class:`~qwenvl_viz.encoder.EncoderTrace` of one image / video.
    """
    try:
        kind = HeatmapKind(kind)
    except ValueError:
        allowed = ", ".join(k.value for k in HeatmapKind)
        raise VizError(f"unknown heatmap kind {kind!r}; allowed: {allowed}", field="heatmap") from None
    if len(enc.grid_thw) != 1:
        raise VizError(f"heatmaps need one image or video, got {len(enc.grid_thw)} grids", field="media")
    grid = tuple(enc.grid_thw[0])
    depth = enc.config.depth
    if layer is None:
        x, level, what = enc.embeddings, "token", "merged embeddings"
    else:
        k = layer % depth if -depth <= layer < depth else None
        if k not in enc.hidden:
            kept = ", ".join(str(i) for i in sorted(enc.hidden)) or "none"
            raise VizError(f"layer {layer} was not kept by this encoder run; kept: {kept}", field="layer")
        layer, x, level, what = k, enc.hidden[k], "patch", f"output of block {k}"
    n = x.shape[0]
    note = " (RANDOM weights: not meaningful)" if enc.random_weights else ""

    if kind is HeatmapKind.NORM:
        per = token_norms(x)
        explanation = f"L2 norm of each of the {n} {level} vectors, {what}{note}"
        token = None
    elif kind is HeatmapKind.COSINE:
        token = 0 if token is None else token
        if not 0 <= token < n:
            raise VizError(f"token {token} out of range; allowed: 0..{n - 1} ({level} level)", field="token")
        per = cosine_to(x, token)
        explanation = f"cosine similarity of each {level} vector to {level} {token}, {what}{note}"
    else:
        pca = pca_rgb(x)
        per = pca.rgb
        ratios = ", ".join(f"{r:.1%}" for r in pca.explained_variance_ratio.tolist())
        explanation = f"first 3 principal components as RGB (explained variance {ratios}), {what}{note}"
        token = None
    values = to_patch_grid(per, grid, enc.merge_size, level)
    return Heatmap(
        kind=kind, layer=layer, token=token, level=level, values=values, per_item=per.numpy(),
        value_range=(float(per.min()), float(per.max())), grid_thw=grid, patch_size=enc.patch_size,
        merge_size=enc.merge_size, temporal_patch_size=enc.temporal_patch_size,
        random_weights=enc.random_weights, explanation=explanation,
    )  # fmt: skip
