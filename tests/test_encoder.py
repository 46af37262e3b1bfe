"""The vision towers against transformers 5.23's, on the same weights loaded through our loader.

Each family's tiny transformers tower is exported as a Hugging Face style checkpoint folder
(``config.json`` + safetensors with the Hub prefixes), loaded by ``load_tower`` and run on the same
pixel rows: an image (through transformers' image processor), a video with an odd frame count
(through the video processor, padded to an even count), and grids whose merged size is not a
multiple of Qwen2.5-VL's 4-token window (two media at once). Tolerance: float32, atol 1e-5.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from qwenvl_viz.encoder import (
    PRESETS,
    build_tower,
    config_from_hf,
    describe,
    encode,
    get_preset,
    get_tower,
    load_tower,
    position_taps,
    random_tower,
    run_tower,
    window_partition,
)
from qwenvl_viz.encoder.cli import add_encode_arguments, run_encode
from qwenvl_viz.errors import VizError
from qwenvl_viz.profiles import Family, get_profile

ATOL = RTOL = 1e-5
FAMILIES = [Family.QWEN2_VL, Family.QWEN2_5_VL, Family.QWEN3_VL, Family.QWEN3_VL_MOE, Family.QWEN3_5, Family.QWEN4_EXP]
PATCH16 = {Family.QWEN3_VL, Family.QWEN3_VL_MOE, Family.QWEN3_5, Family.QWEN4_EXP}  # towers taking 16 px patches
DEEPSTACK = {Family.QWEN3_VL, Family.QWEN3_VL_MOE}  # the tiny configs below give these two deepstack blocks


@pytest.fixture(scope="module")
def tf():
    """transformers' towers, configs and processors (imported after conftest's torchvision shim)."""
    import transformers as t
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VisionTransformerPretrainedModel
    from transformers.models.qwen2_vl.modeling_qwen2_vl import Qwen2VisionTransformerPretrainedModel
    from transformers.models.qwen3_5.modeling_qwen3_5 import Qwen3_5VisionModel
    from transformers.models.qwen3_vl.modeling_qwen3_vl import Qwen3VLVisionModel
    from transformers.models.qwen3_vl_moe.modeling_qwen3_vl_moe import Qwen3VLMoeVisionModel
    from transformers.models.qwen4_exp.modeling_qwen4_exp import Qwen4ExpVisionModel

    return SimpleNamespace(
        t=t,
        models={
            Family.QWEN2_VL: Qwen2VisionTransformerPretrainedModel,
            Family.QWEN2_5_VL: Qwen2_5_VisionTransformerPretrainedModel,
            Family.QWEN3_VL: Qwen3VLVisionModel,
            Family.QWEN3_VL_MOE: Qwen3VLMoeVisionModel,
            Family.QWEN3_5: Qwen3_5VisionModel,
            Family.QWEN4_EXP: Qwen4ExpVisionModel,
        },
    )


def tiny_hf_config(tf, family: Family):
    """The working tiny configs of shared/reference/qwen-vl-pipeline.md section 6.2."""
    t = tf.t
    if family is Family.QWEN2_VL:
        return "qwen2_vl", "visual.", t.Qwen2VLVisionConfig(depth=2, embed_dim=32, num_heads=4, hidden_size=48, mlp_ratio=4)
    if family is Family.QWEN2_5_VL:
        cfg = t.Qwen2_5_VLVisionConfig(
            depth=4, hidden_size=32, intermediate_size=64, num_heads=4, out_hidden_size=48, fullatt_block_indexes=[1, 3]
        )
        return "qwen2_5_vl", "visual.", cfg
    sizes = dict(depth=3, hidden_size=32, intermediate_size=64, num_heads=4, out_hidden_size=48)
    if family is Family.QWEN3_5:
        return "qwen3_5", "model.visual.", t.Qwen3_5VisionConfig(**sizes)
    if family is Family.QWEN4_EXP:
        return "qwen4_exp", "model.visual.", t.Qwen4ExpVisionConfig(**sizes)
    if family is Family.QWEN3_VL_MOE:
        return "qwen3_vl_moe", "model.visual.", t.Qwen3VLMoeVisionConfig(**sizes, deepstack_visual_indexes=[0, 1])
    return "qwen3_vl", "model.visual.", t.Qwen3VLVisionConfig(**sizes, deepstack_visual_indexes=[0, 1])


def write_checkpoint(folder: Path, model_type: str, vision_config: dict, tensors: dict, shards: int = 1) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"model_type": model_type, "vision_config": vision_config}))
    tensors = {k: v.contiguous() for k, v in tensors.items()}
    if shards == 1:
        save_file(tensors, folder / "model.safetensors")
        return folder
    keys = sorted(tensors)
    weight_map = {}
    for i in range(shards):
        name = f"model-{i + 1:05d}-of-{shards + 1:05d}.safetensors"
        part = keys[i::shards]
        save_file({k: tensors[k] for k in part}, folder / name)
        weight_map.update({k: name for k in part})
    # A language-model shard that is listed but absent: the loader must not need it.
    weight_map["model.language_model.embed_tokens.weight"] = f"model-{shards + 1:05d}-of-{shards + 1:05d}.safetensors"
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return folder


@pytest.fixture(scope="module", params=FAMILIES, ids=lambda f: f.value)
def pair(request, tf, tmp_path_factory):
    """(family, transformers tower, our tower loaded from the exported checkpoint)."""
    family = request.param
    model_type, prefix, cfg = tiny_hf_config(tf, family)
    torch.manual_seed(0)
    hf = tf.models[family]._from_config(cfg, attn_implementation="eager").eval()
    with torch.no_grad():  # norms start at 1 / biases at 0: move them so their key map is tested too
        for p in hf.parameters():
            p.add_(0.05 * torch.randn_like(p))
    tensors = {prefix + k: v for k, v in hf.state_dict().items()}
    folder = write_checkpoint(tmp_path_factory.mktemp(model_type), model_type, cfg.to_dict(), tensors,
                              shards=1 if family in (Family.QWEN2_VL, Family.QWEN2_5_VL) else 2)  # fmt: skip
    return family, hf, load_tower(folder, device="cpu")


def processor_inputs(tf, family: Family, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """pixel_values and grid_thw from transformers' own processors (explicit sizes: see environment.md)."""
    t = tf.t
    rng = np.random.default_rng(0)
    p = 16 if family in PATCH16 else 14
    mean = dict(image_mean=[0.5] * 3, image_std=[0.5] * 3) if family in PATCH16 else {}
    if kind == "image":
        from PIL import Image

        img = Image.fromarray(rng.integers(0, 256, (224, 392, 3), dtype=np.uint8))
        proc = t.Qwen2VLImageProcessor(patch_size=p, merge_size=2, temporal_patch_size=2,
                                       size={"shortest_edge": 3136, "longest_edge": 12845056}, **mean)  # fmt: skip
        out = proc(images=[img], return_tensors="pt")
        return out["pixel_values"], out["image_grid_thw"]
    # 5 frames: the processor pads to 6, grid t = 3.
    frames = torch.from_numpy(rng.integers(0, 256, (5, 3, 8 * p, 12 * p), dtype=np.uint8))
    if family in PATCH16:
        proc = t.Qwen3VLVideoProcessor(size={"shortest_edge": 4096, "longest_edge": 10**8}, do_sample_frames=False)
    else:
        proc = t.Qwen2VLVideoProcessor(size={"shortest_edge": 3136, "longest_edge": 12845056}, do_sample_frames=False)
    out = proc(videos=[frames], return_tensors="pt", cap_pixels_per_frame=False)
    return out["pixel_values_videos"], out["video_grid_thw"]


def random_inputs(family: Family, grid: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.tensor(grid)
    n = int((g[:, 0] * g[:, 1] * g[:, 2]).sum())
    p = 16 if family in PATCH16 else 14
    return torch.randn(n, 3 * 2 * p * p, generator=torch.Generator().manual_seed(1)), g


def unwindow(x: torch.Tensor, window_index: torch.Tensor) -> torch.Tensor:
    """transformers 5.23 leaves Qwen2.5-VL's last_hidden_state in window order: put rows back."""
    rows = (window_index[:, None] * 4 + torch.arange(4)).reshape(-1)
    out = torch.empty_like(x)
    out[rows] = x
    return out


@pytest.mark.parametrize("inputs", ["image", "video_odd_frames", "grids_not_window_multiples", "many_frames"])
def test_tower_matches_transformers_on_same_weights(pair, tf, inputs):
    family, hf, ours = pair
    if inputs == "image":
        pv, grid = processor_inputs(tf, family, "image")
    elif inputs == "video_odd_frames":
        pv, grid = processor_inputs(tf, family, "video")
        assert grid.tolist() == [[3, 8, 12]]
    elif inputs == "grids_not_window_multiples":  # merged 10x18 and 4x4: not multiples of the 4x4-token window
        pv, grid = random_inputs(family, [[1, 20, 36], [2, 8, 8]])
    else:  # 24 frames of 2x2 windows of 3 sizes: more runs than MAX_RUNS, so segments are gathered by size
        pv, grid = random_inputs(family, [[24, 12, 12]])
    with torch.no_grad():
        ref = hf(pv, grid_thw=grid, output_hidden_states=True)
        ref_patch = hf.patch_embed(pv)
    enc = run_tower(ours, pv, grid, layers=[0, -1])

    last, first = ref.last_hidden_state, ref.hidden_states[1]  # hidden_states[1] = output of block 0
    if family is Family.QWEN2_5_VL:
        last, first = unwindow(last, enc.window_index), unwindow(first, enc.window_index)
    torch.testing.assert_close(enc.embeddings, ref.pooler_output, atol=ATOL, rtol=RTOL)
    torch.testing.assert_close(enc.last_hidden, last, atol=ATOL, rtol=RTOL)
    torch.testing.assert_close(enc.hidden[0], first, atol=ATOL, rtol=RTOL)
    torch.testing.assert_close(enc.patch_embeds, ref_patch, atol=ATOL, rtol=RTOL)
    ref_deep = getattr(ref, "deepstack_features", None) or []
    assert len(enc.deepstack) == len(ref_deep) == (2 if family in DEEPSTACK else 0)
    for ours_d, ref_d in zip(enc.deepstack, ref_deep):
        torch.testing.assert_close(ours_d, ref_d, atol=ATOL, rtol=RTOL)


def test_segment_attention_equals_a_loop_over_segments(monkeypatch):
    from qwenvl_viz.encoder import layers

    gen = torch.Generator().manual_seed(0)
    lengths = [64, 64, 32, 64, 16, 16, 64, 32]
    cu = torch.tensor([0] + lengths).cumsum(0).to(torch.int32)
    q, k, v = (torch.randn(sum(lengths), 2, 8, generator=gen) for _ in range(3))
    expected = torch.cat([
        torch.nn.functional.scaled_dot_product_attention(*(t[a:b].transpose(0, 1) for t in (q, k, v))).transpose(0, 1)
        for a, b in zip(cu[:-1].tolist(), cu[1:].tolist())
    ])  # fmt: skip
    runs = layers.plan_segments(cu, "cpu")
    assert [(g.start, g.count, g.length) for g in runs.groups][:3] == [(0, 2, 64), (128, 1, 32), (160, 1, 64)]
    torch.testing.assert_close(layers.segment_attention(q, k, v, runs), expected)
    monkeypatch.setattr(layers, "MAX_RUNS", 2)
    gathered = layers.plan_segments(cu, "cpu")
    assert [(g.count, g.length) for g in gathered.groups] == [(4, 64), (2, 32), (2, 16)]
    torch.testing.assert_close(layers.segment_attention(q, k, v, gathered), expected)


def test_window_partition_matches_transformers(tf):
    from transformers.vision_utils import get_vision_window_index

    for grid in ([[1, 16, 28]], [[1, 20, 36], [2, 8, 8]], [[3, 2, 2]], [[1, 16, 16], [1, 6, 34]]):
        g = torch.tensor(grid)
        ref_index, ref_cu = get_vision_window_index(g, spatial_merge_size=2, window_size=112, patch_size=14)
        index, cu = window_partition(g, merge_size=2, window=4)
        assert index.tolist() == ref_index.tolist()
        assert cu.tolist() == ref_cu.tolist()
    # The reference's worked example.
    index, cu = window_partition(torch.tensor([[1, 16, 28]]), 2, 4)
    assert cu.tolist() == [0, 64, 128, 192, 224, 288, 352, 416, 448]
    assert index[:20].tolist() == [0, 1, 2, 3, 14, 15, 16, 17, 28, 29, 30, 31, 42, 43, 44, 45, 4, 5, 6, 7]


def test_position_table_taps_match_transformers(tf):
    from transformers.vision_utils import get_vision_interpolation_indices_and_weights

    g = torch.tensor([[1, 14, 24], [2, 2, 6], [1, 40, 2]])
    ref_ids, ref_w = get_vision_interpolation_indices_and_weights(
        g, num_grid_per_side=48, mode="bilinear", align_corners=True, spatial_merge_size=2
    )
    ids, w = position_taps(g, merge_size=2, side=48)
    assert torch.equal(ids, ref_ids)
    torch.testing.assert_close(w, ref_w, atol=1e-6, rtol=0)


def hf_config_for(tf, c):
    t = tf.t
    if c.family is Family.QWEN2_VL:
        return t.Qwen2VLVisionConfig(depth=c.depth, embed_dim=c.hidden_size, num_heads=c.num_heads,
                                     hidden_size=c.out_hidden_size, mlp_ratio=c.intermediate_size // c.hidden_size)  # fmt: skip
    if c.family is Family.QWEN2_5_VL:
        return t.Qwen2_5_VLVisionConfig(depth=c.depth, hidden_size=c.hidden_size, num_heads=c.num_heads,
                                        intermediate_size=c.intermediate_size, out_hidden_size=c.out_hidden_size,
                                        fullatt_block_indexes=list(c.fullatt_block_indexes))  # fmt: skip
    sizes = dict(depth=c.depth, hidden_size=c.hidden_size, num_heads=c.num_heads,
                 intermediate_size=c.intermediate_size, out_hidden_size=c.out_hidden_size)  # fmt: skip
    if c.family is Family.QWEN3_5:
        return t.Qwen3_5VisionConfig(**sizes)
    if c.family is Family.QWEN4_EXP:
        return t.Qwen4ExpVisionConfig(**sizes)
    vl = t.Qwen3VLMoeVisionConfig if c.family is Family.QWEN3_VL_MOE else t.Qwen3VLVisionConfig
    return vl(**sizes, deepstack_visual_indexes=list(c.deepstack_visual_indexes))


def test_preset_parameter_counts_equal_transformers(tf):
    for name, c in PRESETS.items():
        with torch.device("meta"):
            hf = tf.models[c.family]._from_config(hf_config_for(tf, c))
        theirs = sum(p.numel() for p in hf.parameters())
        ours = sum(p.numel() for p in build_tower(c).parameters())
        assert ours == theirs, name
    # The reference's verified counts.
    counts = {"qwen2-vl-7b": 675_759_104, "qwen2.5-vl-7b": 676_550_144, "qwen3-vl-8b": 576_388_336}
    for name, count in counts.items():
        assert sum(p.numel() for p in build_tower(get_preset(name)).parameters()) == count


# Hub config.json vision_config blocks (reference section 4.2), with their old key spellings.
HUB_VISION_CONFIGS = {
    "qwen2-vl-7b": ("qwen2_vl", {"depth": 32, "embed_dim": 1280, "mlp_ratio": 4, "num_heads": 16, "in_chans": 3,
                                 "hidden_size": 3584, "patch_size": 14, "spatial_merge_size": 2,
                                 "spatial_patch_size": 14, "temporal_patch_size": 2}),
    "qwen2.5-vl-7b": ("qwen2_5_vl", {"depth": 32, "hidden_act": "silu", "hidden_size": 1280,
                                     "intermediate_size": 3420, "num_heads": 16, "in_chans": 3,
                                     "out_hidden_size": 3584, "patch_size": 14, "spatial_merge_size": 2,
                                     "spatial_patch_size": 14, "window_size": 112,
                                     "fullatt_block_indexes": [7, 15, 23, 31], "tokens_per_second": 2,
                                     "temporal_patch_size": 2}),
    "qwen3-vl-8b": ("qwen3_vl", {"deepstack_visual_indexes": [8, 16, 24], "depth": 27,
                                 "hidden_act": "gelu_pytorch_tanh", "hidden_size": 1152, "in_channels": 3,
                                 "initializer_range": 0.02, "intermediate_size": 4304, "model_type": "qwen3_vl",
                                 "num_heads": 16, "num_position_embeddings": 2304, "out_hidden_size": 4096,
                                 "patch_size": 16, "spatial_merge_size": 2, "temporal_patch_size": 2}),
    # Qwen3.5 / 3.6-27B: the Hub file writes an empty deepstack list.
    "qwen3.5-27b": ("qwen3_5", {"deepstack_visual_indexes": [], "depth": 27, "hidden_act": "gelu_pytorch_tanh",
                                "hidden_size": 1152, "in_channels": 3, "initializer_range": 0.02,
                                "intermediate_size": 4304, "model_type": "qwen3_5_vision", "num_heads": 16,
                                "num_position_embeddings": 2304, "out_hidden_size": 5120, "patch_size": 16,
                                "spatial_merge_size": 2, "temporal_patch_size": 2}),
    "qwen3-vl-30b-a3b": ("qwen3_vl_moe", {"out_hidden_size": 2048}),  # the rest: Qwen3VLMoeVisionConfig's defaults
    # Qwen3.5's small and medium towers (public copies of the Qwen3.5-0.8B / 4B config.json blocks) and the
    # MoE sizes' large one (35B-A3B's block; 122B-A10B: its shape as checked by a loader of that checkpoint).
    "qwen3.5-0.8b": ("qwen3_5", {"deepstack_visual_indexes": [], "depth": 12, "hidden_act": "gelu_pytorch_tanh",
                                 "hidden_size": 768, "in_channels": 3, "intermediate_size": 3072, "num_heads": 12,
                                 "num_position_embeddings": 2304, "out_hidden_size": 1024, "patch_size": 16,
                                 "spatial_merge_size": 2, "temporal_patch_size": 2}),
    "qwen3.5-4b": ("qwen3_5", {"deepstack_visual_indexes": [], "depth": 24, "hidden_act": "gelu_pytorch_tanh",
                               "hidden_size": 1024, "in_channels": 3, "intermediate_size": 4096, "num_heads": 16,
                               "num_position_embeddings": 2304, "out_hidden_size": 2560, "patch_size": 16,
                               "spatial_merge_size": 2, "temporal_patch_size": 2}),
    "qwen3.5-35b-a3b": ("qwen3_5_moe", {"deepstack_visual_indexes": [], "depth": 27, "hidden_act": "gelu_pytorch_tanh",
                                        "hidden_size": 1152, "in_channels": 3, "initializer_range": 0.02,
                                        "intermediate_size": 4304, "model_type": "qwen3_5_moe_vision", "num_heads": 16,
                                        "num_position_embeddings": 2304, "out_hidden_size": 2048, "patch_size": 16,
                                        "spatial_merge_size": 2, "temporal_patch_size": 2}),
    "qwen3.5-122b-a10b": ("qwen3_5_moe", {"depth": 27, "hidden_size": 1152, "num_heads": 16, "out_hidden_size": 3072,
                                          "patch_size": 16, "spatial_merge_size": 2, "temporal_patch_size": 2}),
}  # fmt: skip


def test_hub_config_json_reads_as_the_preset():
    for name, (model_type, vision) in HUB_VISION_CONFIGS.items():
        c = config_from_hf({"model_type": model_type, "vision_config": vision}, name=name)
        assert c == get_preset(name)


def test_registry_defaults_are_transformers_vision_config_defaults(tf):
    """Every TOWER_KINDS row reads missing keys as transformers 5.23's vision config class would."""
    from transformers import AutoConfig

    from qwenvl_viz.encoder import TOWER_KINDS

    for model_type, kind in TOWER_KINDS.items():
        if model_type.endswith("_vision"):
            continue
        theirs = AutoConfig.for_model(model_type).vision_config.to_dict()
        assert {k: theirs[k] for k in kind.defaults} == kind.defaults, model_type
        has_deepstack = "deepstack_visual_indexes" in theirs
        assert has_deepstack == ("deepstack_visual_indexes" in kind.defaults), model_type


def test_qwen3_5_family_tower_has_no_deepstack_and_old_vision_model_type_reads():
    # Old checkpoints spell vision_config.model_type as the full model's; transformers overrides it.
    for model_type in ("qwen3_5", "qwen3_5_moe", "qwen4_exp"):
        c = config_from_hf({"model_type": model_type, "vision_config": {"model_type": model_type,
                                                                        "deepstack_visual_indexes": [8, 16, 24]}})
        assert c.deepstack_visual_indexes == () and c.tower == "qwen3_vl" and c.patch_size == 16
    assert config_from_hf({"model_type": "qwen3_5_moe", "vision_config": {}}).family is Family.QWEN3_5
    assert config_from_hf({"model_type": "qwen3_vl_moe", "vision_config": {}}).deepstack_visual_indexes == (8, 16, 24)
    assert not list(build_tower(get_preset("qwen3.5-tiny")).deepstack_mergers)


@pytest.fixture()
def qwen2_5_checkpoint(tf, tmp_path):
    model_type, prefix, cfg = tiny_hf_config(tf, Family.QWEN2_5_VL)
    hf = tf.models[Family.QWEN2_5_VL]._from_config(cfg).eval()
    return tmp_path, model_type, cfg.to_dict(), {prefix + k: v for k, v in hf.state_dict().items()}


@pytest.mark.parametrize(
    "problem, named",
    [
        ("missing", "visual.blocks.2.mlp.up_proj.bias"),
        ("unexpected", "visual.blocks.9.attn.qkv.weight"),
        ("misshaped", "visual.merger.mlp.0.weight"),
    ],
)
def test_loader_rejects_bad_checkpoints_naming_the_tensor(qwen2_5_checkpoint, problem, named):
    folder, model_type, vision, tensors = qwen2_5_checkpoint
    if problem == "missing":
        del tensors[named]
    elif problem == "unexpected":
        tensors[named] = torch.zeros(3, 3)
    else:
        tensors[named] = tensors[named][:, :-1]
    write_checkpoint(folder, model_type, vision, tensors)
    with pytest.raises(VizError, match=problem.replace("misshaped", "mis-shaped")) as err:
        load_tower(folder)
    assert named in str(err.value)


def test_loader_errors_on_folders_without_weights_or_config(tmp_path):
    with pytest.raises(VizError, match="no config.json"):
        load_tower(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "qwen2_vl", "vision_config": {}}))
    with pytest.raises(VizError, match="neither model.safetensors"):
        load_tower(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    with pytest.raises(VizError, match="not a Qwen-VL model"):
        load_tower(tmp_path)


def test_bf16_checkpoint_loads_as_float32_on_cpu(qwen2_5_checkpoint):
    folder, model_type, vision, tensors = qwen2_5_checkpoint
    write_checkpoint(folder, model_type, vision, {k: v.bfloat16() for k, v in tensors.items()})
    tower = load_tower(folder, device="cpu")
    assert tower.dtype == torch.float32 and not tower.random_weights
    w = tower.state_dict()["blocks.0.attn.qkv.weight"]
    assert torch.equal(w, tensors["visual.blocks.0.attn.qkv.weight"].bfloat16().float())


def test_random_weights_are_seeded_and_labelled_everywhere():
    c = get_preset("qwen2.5-vl-tiny")
    a, b, other = random_tower(c, seed=0), random_tower(c, seed=0), random_tower(c, seed=1)
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k])
    assert not torch.equal(a.state_dict()["blocks.0.attn.qkv.weight"], other.state_dict()["blocks.0.attn.qkv.weight"])
    pv, grid = random_inputs(Family.QWEN2_5_VL, [[1, 16, 28]])
    enc = run_tower(a, pv, grid)
    assert enc.random_weights and enc.weights_source == "random (seed 0)"
    assert "weights: RANDOM (seed 0) — no checkpoint given; embeddings are not meaningful" in describe(enc)


def fake_trace(family: Family, grid: list[int], profile=None):
    """The duck-typed Trace that encode() accepts."""
    profile = profile or get_profile(family)
    g = torch.tensor([grid])
    n = grid[0] * grid[1] * grid[2]
    pv = torch.randn(n, profile.row_len, generator=torch.Generator().manual_seed(2))
    return SimpleNamespace(profile=profile, pixel_values=pv, grid_thw=g)


def test_encode_records_stages_layers_and_progress():
    trace = fake_trace(Family.QWEN2_5_VL, [1, 16, 28])
    tower = get_tower(preset="qwen2.5-vl-tiny", profile=trace.profile, device="cpu")
    calls = []
    enc = encode(trace, tower, layers=[0, -2], progress=lambda i, n: calls.append((i, n)))
    assert calls == [(i, 4) for i in range(1, 5)]
    assert sorted(enc.hidden) == [0, 2, 3]
    assert [s for _, s in enc.stages] == [(448, 1176), (448, 128), (448, 128), (448, 128), (112, 256)]
    assert enc.stages[0][0] == "pixel_values" and enc.stages[-1][0].startswith("merger")
    assert enc.cu_window_seqlens.tolist() == [0, 64, 128, 192, 224, 288, 352, 416, 448]
    assert enc.embeddings.dtype == torch.float32 and enc.device == "cpu"


def test_a_tower_encodes_media_of_any_family_with_the_same_pixel_rows():
    """Qwen3-VL, Qwen3-VL-MoE, Qwen3.5 and Qwen4-Exp make the same rows (as do Qwen2-VL and Qwen2.5-VL):
    each tower encodes the others' media, exactly as it encodes the same rows of its own family's."""
    for media, tower in [(Family.QWEN3_VL, "qwen3-vl-moe-tiny"), (Family.QWEN3_VL, "qwen3.5-tiny"),
                         (Family.QWEN3_5, "qwen3-vl-tiny"), (Family.QWEN4_EXP, "qwen3.5-tiny"),
                         (Family.QWEN2_5_VL, "qwen2-vl-tiny"), (Family.QWEN2_VL, "qwen2.5-vl-tiny")]:
        trace = fake_trace(media, [2, 4, 8])
        t = random_tower(get_preset(tower))
        own = fake_trace(t.config.family, [2, 4, 8])
        assert torch.equal(own.pixel_values, trace.pixel_values)  # same row length, same seed
        torch.testing.assert_close(encode(trace, t).embeddings, encode(own, t).embeddings, atol=0, rtol=0)
        tower_built = get_tower(preset=tower, profile=trace.profile, device="cpu")  # the picker's path
        assert tower_built.config.family is t.config.family


def test_encode_rejects_a_tower_that_reads_other_pixels_naming_the_normalization_and_the_fits():
    trace = fake_trace(Family.QWEN3_VL, [1, 4, 4])
    with pytest.raises(VizError, match=r"qwen2-vl tower 'qwen2-vl-tiny' reads pixels normalized with mean "
                                       r"\[0.48145466, 0.4578275, 0.40821073\].*normalized for qwen3-vl \(mean "
                                       r"\[0.5, 0.5, 0.5\].*pick a tower of qwen3-vl / qwen3-vl-moe / qwen3.5 / qwen4-exp"):
        encode(trace, random_tower(get_preset("qwen2-vl-tiny")), layers=[-1])
    with pytest.raises(VizError, match="normalized for qwen2.5-vl .*pick a tower of qwen2-vl / qwen2.5-vl$"):
        get_tower(preset="qwen3.5-tiny", family="qwen2.5-vl", device="cpu")
    with pytest.raises(VizError, match="layer 7 out of range"):
        encode(trace, random_tower(get_preset("qwen3-vl-tiny")), layers=[7])
    small = get_profile(Family.QWEN3_VL).with_sizes(patch_size=8)
    with pytest.raises(VizError, match="patch 16, merge 2, temporal 2 but the media was preprocessed with patch 8"):
        encode(fake_trace(Family.QWEN3_VL, [1, 4, 4], small), random_tower(get_preset("qwen3-vl-tiny")))


def test_random_tower_follows_user_patch_and_merge_sizes():
    profile = get_profile(Family.QWEN2_5_VL).with_sizes(patch_size=16, merge_size=3, temporal_patch_size=1)
    trace = fake_trace(Family.QWEN2_5_VL, [2, 12, 18], profile)
    enc = encode(trace, get_tower(preset="qwen2.5-vl-tiny", profile=profile, device="cpu"))
    assert enc.embeddings.shape == (2 * 12 * 18 // 9, 256)
    assert enc.config.window_merged == 112 // 3 // 16


def test_cli_prints_walkthrough_and_saves_npz(tmp_path):
    parser = argparse.ArgumentParser()
    add_encode_arguments(parser)
    out_file = tmp_path / "enc.npz"
    args = parser.parse_args(["--preset", "qwen3-vl-tiny", "--layers", "0,-1", "--device", "cpu", "--save", str(out_file)])
    trace = fake_trace(Family.QWEN3_VL, [2, 6, 8])
    out, err = io.StringIO(), io.StringIO()
    summary = run_encode(args, trace, out=out, err=err)
    text = out.getvalue()
    assert "weights: RANDOM (seed 0) — no checkpoint given; embeddings are not meaningful" in text
    assert "pixel_values" in text and "[96, 1536]" in text and "deepstack[1] after block 2" in text
    assert "encoder block 4/4" in err.getvalue()
    assert summary["random_weights"] is True and summary["embeddings"] == [24, 256]
    json.dumps(summary)
    saved = np.load(out_file)
    assert saved["pixel_values"].shape == (96, 1536) and saved["grid_thw"].tolist() == [[2, 6, 8]]
    assert saved["embeddings"].shape == (24, 256) and saved["last_hidden"].shape == (96, 128)
    assert saved["patch_embeds"].shape == (96, 128) and saved["hidden_0"].shape == (96, 128)
    assert saved["deepstack_0"].shape == saved["deepstack_1"].shape == (24, 256)
    assert bool(saved["random_weights"])


@pytest.mark.cuda
def test_cuda_bf16_run_agrees_with_cpu_float32():
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    for family in FAMILIES:
        trace = fake_trace(family, [3, 16, 28])
        name = f"{family.value}-tiny"
        cpu = encode(trace, random_tower(get_preset(name), device="cpu"))
        gpu = encode(trace, random_tower(get_preset(name), device="cuda"))
        assert gpu.dtype == "bfloat16" and gpu.device.startswith("cuda")
        cos = torch.nn.functional.cosine_similarity(cpu.embeddings, gpu.embeddings, dim=-1)
        assert cos.min() > 0.99, (family, cos.min())


@pytest.mark.parametrize("family", ["qwen2-vl", "qwen2.5-vl", "qwen3-vl"])
def test_in_place_activations_only_without_autograd(family):
    """Under no_grad the MLP writes its activation in place; with autograd the same numbers, and backward works."""
    from qwenvl_viz.encoder import random_tower

    tower = random_tower(get_preset(f"{family}-tiny"), seed=0).requires_grad_(True)  # as for fine-tuning
    pv, grid = random_inputs(Family(family), [[2, 8, 12]])
    with torch.no_grad():
        fast = tower(pv, grid).embeddings
    slow = tower(pv, grid).embeddings
    assert slow.requires_grad
    torch.testing.assert_close(fast, slow.detach(), atol=0, rtol=0)
    slow.sum().backward()
    assert all(p.grad is not None for p in tower.blocks[0].mlp.parameters())


@pytest.mark.parametrize("family", [Family.QWEN3_5, Family.QWEN4_EXP], ids=lambda f: f.value)
def test_towers_without_deepstack_load_strictly_and_reject_a_deepstack_tensor(tf, tmp_path, family):
    model_type, prefix, cfg = tiny_hf_config(tf, family)
    hf = tf.models[family]._from_config(cfg).eval()
    tensors = {prefix + k: v for k, v in hf.state_dict().items()}
    tower = load_tower(write_checkpoint(tmp_path / "ok", model_type, cfg.to_dict(), tensors), device="cpu")
    assert tower.config.family is family and tower.config.deepstack_visual_indexes == ()
    tensors["model.visual.deepstack_merger_list.0.norm.weight"] = torch.ones(4 * 32)
    with pytest.raises(VizError, match="unexpected 1 tensor"):
        load_tower(write_checkpoint(tmp_path / "bad", model_type, cfg.to_dict(), tensors))
