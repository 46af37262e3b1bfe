"""Vision-tower hyper-parameters: read from a checkpoint's ``config.json`` or taken from a preset.

Sources: transformers 5.23 ``Qwen2VLVisionConfig`` / ``Qwen2_5_VLVisionConfig`` /
``Qwen3VLVisionConfig`` (field names and class defaults) and the Hub ``config.json`` files listed in
shared/reference/qwen-vl-pipeline.md section 4.2 (the presets). Hub configs also use the older
aliases ``in_chans`` and ``spatial_patch_size``; both are accepted.

Qwen2-VL names the tower width ``embed_dim`` and uses ``hidden_size`` for the LLM width (the merger's
output); Qwen2.5-VL and Qwen3-VL call the tower width ``hidden_size`` and the output ``out_hidden_size``.
Here the tower width is always ``hidden_size`` and the merger output always ``out_hidden_size``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import VizError
from ..profiles import Family

__all__ = [
    "VisionConfig",
    "PRESETS",
    "DEFAULT_PRESET",
    "get_preset",
    "config_from_hf",
    "config_from_checkpoint",
    "ACTIVATIONS",
]

ROPE_THETA = 10000.0  # vision rope_parameters {"rope_type": "axial", "rope_theta": 10000}
ACTIVATIONS = ("quick_gelu", "silu", "gelu_pytorch_tanh", "gelu")


@dataclass(frozen=True)
class VisionConfig:
    """One vision tower. ``hidden_size`` = D (tower width), ``out_hidden_size`` = the LLM width."""

    family: Family
    depth: int
    hidden_size: int
    num_heads: int
    intermediate_size: int
    out_hidden_size: int
    hidden_act: str
    patch_size: int = 14
    temporal_patch_size: int = 2
    spatial_merge_size: int = 2
    in_channels: int = 3
    rope_theta: float = ROPE_THETA
    # Qwen2.5-VL: window attention (window_size in pixels) except in the full-attention blocks.
    window_size: int | None = None
    fullatt_block_indexes: tuple[int, ...] = ()
    # Qwen3-VL: learned 48x48 position table and the blocks whose output feeds a deepstack merger.
    num_position_embeddings: int | None = None
    deepstack_visual_indexes: tuple[int, ...] = ()
    name: str = "custom"

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_heads:
            raise VizError(
                f"vision hidden_size {self.hidden_size} is not divisible by num_heads {self.num_heads}",
                field="checkpoint",
            )
        if self.head_dim % 4:
            # 2D rotary: half the head rotates, split between the h and the w axis.
            raise VizError(
                f"vision head_dim {self.head_dim} (= {self.hidden_size} / {self.num_heads}) must be a "
                "multiple of 4 for the 2D rotary embedding",
                field="checkpoint",
            )
        if self.hidden_act not in ACTIVATIONS:
            raise VizError(
                f"unknown vision hidden_act {self.hidden_act!r}; allowed: {', '.join(ACTIVATIONS)}",
                field="checkpoint",
            )
        if self.window_size is not None and self.window_merged < 1:
            raise VizError(
                f"window of {self.window_size} px is smaller than one merged token "
                f"({self.spatial_merge_size} x {self.patch_size} px); use a smaller patch or merge size",
                field="patch_size",
            )
        for name, idx in (
            ("fullatt_block_indexes", self.fullatt_block_indexes),
            ("deepstack_visual_indexes", self.deepstack_visual_indexes),
        ):
            bad = [i for i in idx if not 0 <= i < self.depth]
            if bad:
                raise VizError(
                    f"vision {name} {list(idx)} has {bad} outside 0..{self.depth - 1} (depth {self.depth})",
                    field="checkpoint",
                )

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def row_len(self) -> int:
        """Length of one ``pixel_values`` row: C * Tp * p * p."""
        return self.in_channels * self.temporal_patch_size * self.patch_size**2

    @property
    def window_merged(self) -> int | None:
        """Qwen2.5-VL window side in merged tokens: 112 px / 2 / 14 = 4 (transformers' vit_merger_window_size)."""
        if self.window_size is None:
            return None
        return self.window_size // self.spatial_merge_size // self.patch_size

    def with_sizes(self, patch_size: int, merge_size: int, temporal_patch_size: int) -> "VisionConfig":
        """The same tower with other patch / merge / temporal sizes (random weights only)."""
        if (patch_size, merge_size, temporal_patch_size) == (
            self.patch_size,
            self.spatial_merge_size,
            self.temporal_patch_size,
        ):
            return self
        return dataclasses.replace(
            self,
            patch_size=patch_size,
            spatial_merge_size=merge_size,
            temporal_patch_size=temporal_patch_size,
            name=f"{self.name} (p={patch_size}, m={merge_size}, Tp={temporal_patch_size})",
        )


def _qwen2(name: str, out: int) -> VisionConfig:
    return VisionConfig(
        family=Family.QWEN2_VL, depth=32, hidden_size=1280, num_heads=16, intermediate_size=5120,
        out_hidden_size=out, hidden_act="quick_gelu", name=name,
    )  # fmt: skip


def _qwen2_5(name: str, out: int) -> VisionConfig:
    return VisionConfig(
        family=Family.QWEN2_5_VL, depth=32, hidden_size=1280, num_heads=16, intermediate_size=3420,
        out_hidden_size=out, hidden_act="silu", window_size=112, fullatt_block_indexes=(7, 15, 23, 31),
        name=name,
    )  # fmt: skip


def _qwen3(name: str, depth: int, dim: int, inter: int, out: int, deepstack: tuple[int, ...]) -> VisionConfig:
    return VisionConfig(
        family=Family.QWEN3_VL, depth=depth, hidden_size=dim, num_heads=16, intermediate_size=inter,
        out_hidden_size=out, hidden_act="gelu_pytorch_tanh", patch_size=16, num_position_embeddings=2304,
        deepstack_visual_indexes=deepstack, name=name,
    )  # fmt: skip


# Every public checkpoint's tower (reference table 4.2), plus a small "tiny" tower per family for
# quick CPU demos (same code paths: window attention, position table and deepstack all present).
PRESETS: dict[str, VisionConfig] = {
    c.name: c
    for c in (
        _qwen2("qwen2-vl-2b", 1536),
        _qwen2("qwen2-vl-7b", 3584),
        _qwen2("qwen2-vl-72b", 8192),
        _qwen2_5("qwen2.5-vl-3b", 2048),
        _qwen2_5("qwen2.5-vl-7b", 3584),
        _qwen2_5("qwen2.5-vl-32b", 5120),
        _qwen2_5("qwen2.5-vl-72b", 8192),
        _qwen3("qwen3-vl-2b", 24, 1024, 4096, 2048, (5, 11, 17)),
        _qwen3("qwen3-vl-4b", 24, 1024, 4096, 2560, (5, 11, 17)),
        _qwen3("qwen3-vl-8b", 27, 1152, 4304, 4096, (8, 16, 24)),
        _qwen3("qwen3-vl-32b", 27, 1152, 4304, 5120, (8, 16, 24)),
        _qwen3("qwen3-vl-30b-a3b", 27, 1152, 4304, 2048, (8, 16, 24)),
        _qwen3("qwen3-vl-235b-a22b", 27, 1152, 4304, 4096, (8, 16, 24)),
        VisionConfig(
            family=Family.QWEN2_VL, depth=4, hidden_size=128, num_heads=4, intermediate_size=512,
            out_hidden_size=256, hidden_act="quick_gelu", name="qwen2-vl-tiny",
        ),
        VisionConfig(
            family=Family.QWEN2_5_VL, depth=4, hidden_size=128, num_heads=4, intermediate_size=256,
            out_hidden_size=256, hidden_act="silu", window_size=112, fullatt_block_indexes=(1, 3),
            name="qwen2.5-vl-tiny",
        ),
        VisionConfig(
            family=Family.QWEN3_VL, depth=4, hidden_size=128, num_heads=4, intermediate_size=512,
            out_hidden_size=256, hidden_act="gelu_pytorch_tanh", patch_size=16, num_position_embeddings=2304,
            deepstack_visual_indexes=(1, 2), name="qwen3-vl-tiny",
        ),
    )  # fmt: skip
}

# The tower used when no checkpoint and no preset is named: the family's most used size.
DEFAULT_PRESET: dict[Family, str] = {
    Family.QWEN2_VL: "qwen2-vl-7b",
    Family.QWEN2_5_VL: "qwen2.5-vl-7b",
    Family.QWEN3_VL: "qwen3-vl-8b",
}


def get_preset(name: str) -> VisionConfig:
    try:
        return PRESETS[name.lower()]
    except KeyError:
        raise VizError(f"unknown preset {name!r}; allowed: {', '.join(PRESETS)}", field="preset") from None


# model_type strings of the full models and of the vision sub-configs (5.23 and older Hub spellings).
_MODEL_TYPES: dict[str, Family] = {
    "qwen2_vl": Family.QWEN2_VL,
    "qwen2_vl_vision": Family.QWEN2_VL,
    "qwen2_5_vl": Family.QWEN2_5_VL,
    "qwen2_5_vl_vision": Family.QWEN2_5_VL,
    "qwen3_vl": Family.QWEN3_VL,
    "qwen3_vl_vision": Family.QWEN3_VL,
    "qwen3_vl_moe": Family.QWEN3_VL,
    "qwen3_vl_moe_vision": Family.QWEN3_VL,
}


def _family_of(config: dict[str, Any]) -> Family:
    vision = config.get("vision_config") or {}
    for model_type in (config.get("model_type"), vision.get("model_type")):
        if model_type in _MODEL_TYPES:
            return _MODEL_TYPES[model_type]
    raise VizError(
        f"config.json model_type {config.get('model_type')!r} is not a Qwen-VL model; "
        f"allowed: {', '.join(sorted(set(_MODEL_TYPES)))}",
        field="checkpoint",
    )


def config_from_hf(config: dict[str, Any], name: str = "checkpoint") -> VisionConfig:
    """A :class:`VisionConfig` from a Hugging Face ``config.json`` dict (full model or vision-only).

    Missing keys take the transformers 5.23 class defaults, as ``from_pretrained`` would.
    """
    family = _family_of(config)
    v = config.get("vision_config")
    if v is None:
        if not str(config.get("model_type", "")).endswith("_vision"):
            raise VizError("config.json has no 'vision_config'", field="checkpoint")
        v = config
    theta = float((v.get("rope_parameters") or {}).get("rope_theta", ROPE_THETA))
    common = dict(
        family=family,
        in_channels=int(v.get("in_channels", v.get("in_chans", 3))),
        patch_size=int(v.get("patch_size", v.get("spatial_patch_size", 16 if family is Family.QWEN3_VL else 14))),
        temporal_patch_size=int(v.get("temporal_patch_size", 2)),
        spatial_merge_size=int(v.get("spatial_merge_size", 2)),
        num_heads=int(v.get("num_heads", v.get("num_attention_heads", 16))),
        rope_theta=theta,
        name=name,
    )
    if family is Family.QWEN2_VL:
        dim = int(v.get("embed_dim", 1280))
        return VisionConfig(
            depth=int(v.get("depth", 32)),
            hidden_size=dim,
            intermediate_size=int(dim * v.get("mlp_ratio", 4)),
            out_hidden_size=int(v.get("hidden_size", config.get("hidden_size", 3584))),
            hidden_act=v.get("hidden_act", "quick_gelu"),
            **common,
        )
    if family is Family.QWEN2_5_VL:
        return VisionConfig(
            depth=int(v.get("depth", 32)),
            hidden_size=int(v.get("hidden_size", 3584)),
            intermediate_size=int(v.get("intermediate_size", 3420)),
            out_hidden_size=int(v.get("out_hidden_size", 3584)),
            hidden_act=v.get("hidden_act", "silu"),
            window_size=int(v.get("window_size", 112)),
            fullatt_block_indexes=tuple(int(i) for i in v.get("fullatt_block_indexes", (7, 15, 23, 31))),
            **common,
        )
    return VisionConfig(
        depth=int(v.get("depth", 27)),
        hidden_size=int(v.get("hidden_size", 1152)),
        intermediate_size=int(v.get("intermediate_size", 4304)),
        out_hidden_size=int(v.get("out_hidden_size", 3584)),
        hidden_act=v.get("hidden_act", "gelu_pytorch_tanh"),
        num_position_embeddings=int(v.get("num_position_embeddings", 2304)),
        deepstack_visual_indexes=tuple(int(i) for i in v.get("deepstack_visual_indexes", (8, 16, 24))),
        **common,
    )


def config_from_checkpoint(checkpoint: str | Path) -> VisionConfig:
    """Read ``<checkpoint>/config.json`` (a local Hugging Face model folder)."""
    path = Path(checkpoint) / "config.json"
    if not path.is_file():
        raise VizError(f"checkpoint folder {str(checkpoint)!r} has no config.json", field="checkpoint")
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise VizError(f"cannot read {path}: {err}", field="checkpoint") from None
    return config_from_hf(data, name=str(checkpoint))
