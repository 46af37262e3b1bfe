"""Heatmaps: shapes, the merge-order layout on the patch grid, cosine and PCA behaviour."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from qwenvl_viz.encoder import EncoderTrace, get_preset
from qwenvl_viz.errors import VizError
from qwenvl_viz.heatmaps import HeatmapKind, heatmap, pca_rgb, to_patch_grid, to_pixels
from qwenvl_viz.merge_order import row_coords


def fake_enc(grid: tuple[int, int, int], embeddings: torch.Tensor, hidden: dict[int, torch.Tensor] | None = None):
    """An EncoderTrace with chosen tensors (no tower run): heatmaps are pure functions of it."""
    c = get_preset("qwen2-vl-tiny")
    n = grid[0] * grid[1] * grid[2]
    hidden = hidden if hidden is not None else {c.depth - 1: torch.randn(n, c.hidden_size)}
    return EncoderTrace(
        family=c.family, config=c, weights_source="random (seed 0)", random_weights=True, device="cpu",
        dtype="float32", grid_thw=(grid,), patch_embeds=torch.zeros(n, c.hidden_size), pos_embeds=None,
        hidden=hidden, cu_seqlens=torch.tensor([0, n]), window_index=None, cu_window_seqlens=None,
        embeddings=embeddings, deepstack=(), deepstack_layers=(), stages=(),
    )  # fmt: skip


def test_token_value_lands_on_its_own_2x2_patches():
    t, gh, gw = 2, 6, 10
    tokens = t * gh * gw // 4
    # Token k's embedding has norm k, so the norm map shows which token each patch belongs to.
    emb = torch.zeros(tokens, 8)
    emb[:, 0] = torch.arange(tokens, dtype=torch.float32)
    hm = heatmap(fake_enc((t, gh, gw), emb), "norm")
    assert hm.values.shape == (t, gh, gw) and hm.level == "token"
    for ti in range(t):
        for h in range(gh):
            for w in range(gw):
                token = ti * (gh * gw // 4) + (h // 2) * (gw // 2) + w // 2  # merge block, raster over blocks
                assert hm.values[ti, h, w] == token


def test_patch_level_values_follow_row_coords():
    grid = (1, 4, 6)
    rows = torch.arange(24, dtype=torch.float32)
    placed = to_patch_grid(rows, grid, merge_size=2, level="patch")
    coords = row_coords(grid, 2)
    for r, (t, h, w) in enumerate(coords.tolist()):
        assert placed[t, h, w] == r
    # Row 2 holds patch (1, 0): the second row of the first 2x2 block.
    assert placed[0, 1, 0] == 2


def test_cosine_map_is_one_at_the_chosen_token():
    grid = (1, 8, 12)
    emb = torch.randn(24, 16, generator=torch.Generator().manual_seed(0))
    hm = heatmap(fake_enc(grid, emb), HeatmapKind.COSINE, token=7)
    assert hm.per_item[7] == pytest.approx(1.0, abs=1e-6)
    # Token 7 is merge block (bh, bw) = (1, 1) of a 4x6 block grid: patches rows 2-3, cols 2-3.
    np.testing.assert_allclose(hm.values[0, 2:4, 2:4], 1.0, atol=1e-6)
    assert hm.values.max() <= 1.0 + 1e-6 and hm.values.min() >= -1.0 - 1e-6
    assert "token 7" in hm.explanation and "RANDOM" in hm.explanation


def test_pca_recovers_a_rank_3_signal():
    gen = torch.Generator().manual_seed(0)
    basis, _ = torch.linalg.qr(torch.randn(64, 3, generator=gen, dtype=torch.float64))  # orthonormal (64, 3)
    # Zero-mean, mutually orthogonal coefficient columns with variances 25 : 4 : 0.25, so the
    # principal axes are exactly the basis vectors and the scores exactly the coefficients (up to sign).
    centred = torch.randn(500, 3, generator=gen, dtype=torch.float64)
    coeffs = torch.linalg.qr(centred - centred.mean(0))[0] * torch.tensor([5.0, 2.0, 0.5]) * 500**0.5
    x = (coeffs @ basis.T + 3.0).float()  # rank 3 plus a constant offset
    pca = pca_rgb(x)
    assert pca.explained_variance_ratio.sum() == pytest.approx(1.0, abs=1e-5)
    ratios = (torch.tensor([25.0, 4.0, 0.25]) / 29.25).tolist()
    assert pca.explained_variance_ratio.tolist() == pytest.approx(ratios, abs=1e-5)
    for j in range(3):
        torch.testing.assert_close(pca.scores[:, j].abs().double(), coeffs[:, j].abs(), atol=1e-3, rtol=1e-4)
        top = pca.scores[:, j].abs().argmax()
        assert pca.scores[top, j] > 0  # deterministic sign: largest-magnitude score positive
    assert torch.equal(pca_rgb(x).rgb, pca.rgb)
    assert pca.rgb.min() >= 0 and pca.rgb.max() <= 1


def test_heatmap_shapes_for_video_and_patch_level_layers():
    grid = (3, 4, 8)
    n = 3 * 4 * 8
    enc = fake_enc(grid, torch.randn(n // 4, 16), hidden={1: torch.randn(n, 32), 3: torch.randn(n, 32)})
    assert heatmap(enc, "pca").values.shape == (3, 4, 8, 3)
    assert heatmap(enc, "norm", layer=-1).values.shape == (3, 4, 8)
    cos = heatmap(enc, "cosine", layer=1, token=5)
    assert cos.level == "patch" and cos.layer == 1
    t, h, w = row_coords(grid, 2)[5].tolist()
    assert cos.values[t, h, w] == pytest.approx(1.0, abs=1e-6)
    assert to_pixels(cos.values, 14).shape == (3, 56, 112)
    assert to_pixels(heatmap(enc, "pca").values, 14).shape == (3, 56, 112, 3)


def test_heatmap_errors_say_what_is_allowed():
    enc = fake_enc((1, 4, 4), torch.randn(4, 8))
    with pytest.raises(VizError, match="allowed: norm, pca, cosine"):
        heatmap(enc, "tsne")
    with pytest.raises(VizError, match="layer 0 was not kept by this encoder run; kept: 3"):
        heatmap(enc, "norm", layer=0)
    with pytest.raises(VizError, match="token 4 out of range; allowed: 0..3"):
        heatmap(enc, "cosine", token=4)
    two = dataclasses.replace(enc, grid_thw=((1, 2, 2), (1, 2, 2)))
    with pytest.raises(VizError, match="one image or video"):
        heatmap(two, "norm")


def test_cosine_sheet_outlines_the_chosen_token_on_its_own_group_tile():
    from PIL import Image, ImageColor

    from qwenvl_viz.figures.encoder import heatmap_sheet
    from qwenvl_viz.figures.patch_grid import SELECT_COLOR
    from qwenvl_viz.merge_order import merge_order

    t, gh, gw = 3, 8, 12
    emb = torch.randn(t * gh * gw // 4, 16, generator=torch.Generator().manual_seed(1))
    token = gh * gw // 4 + 9  # group 1
    hm = heatmap(fake_enc((t, gh, gw), emb), "cosine", token=token)
    tiles = [Image.new("RGB", (gw * 10, gh * 10), "gray") for _ in range(t)]
    sheet = np.asarray(heatmap_sheet(hm, tiles, [f"g{k}" for k in range(t)]))
    magenta = np.all(sheet == ImageColor.getrgb(SELECT_COLOR), axis=-1)
    ys, xs = np.nonzero(magenta)
    assert len(xs), "no outline drawn"
    # the outline sits in the second tile, around the token's 2x2 patches (from the merge order)
    ph, pw = divmod(int(merge_order(gh, gw, 2)[(token - gh * gw // 4) * 4]), gw)
    cell_w, origin_x, origin_y = 120 + 6 + 4, 6 + 2, 6 + 32 + 2  # contact_sheet: gap 6, label 32, border 2
    assert xs.min() // cell_w == 1 and xs.max() // cell_w == 1
    x0, x1 = xs.min() - cell_w - origin_x, xs.max() - cell_w - origin_x
    assert abs(x0 - pw * 10) <= 1 and abs(x1 - (pw + 2) * 10) <= 1
    assert abs(ys.min() - origin_y - ph * 10) <= 1 and abs(ys.max() - origin_y - (ph + 2) * 10) <= 1
