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
from ..profiles import PROFILES, Family, ModelProfile, TowerSize, get_profile

__all__ = [
    "VisionConfig",
    "TowerKind",
    "TOWER_KINDS",
    "tower_kind",
    "PRESETS",
    "DEFAULT_PRESET",
    "get_preset",
    "pixel_mismatch",
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
    tower: str  # which tower module runs it (a key of loading.TOWERS; from TOWER_KINDS)
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

    @property
    def pixel_format(self) -> tuple:
        """The pixel rows this tower reads (see ``ModelProfile.pixel_format``): its own patch / merge /
        temporal sizes and its family's normalization."""
        own = get_profile(self.family).with_sizes(self.patch_size, self.spatial_merge_size, self.temporal_patch_size)
        return own.pixel_format

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


# ---------------------------------------------------------------------------------------------
# The tower registry: which Hugging Face model_type builds which tower. The family of a model_type is the
# profile that lists it (ModelProfile.model_types); its tower sizes are data of that profile too.


@dataclass(frozen=True)
class TowerKind:
    """How one Hugging Face ``model_type``'s vision_config reads, and which tower module runs it.

    ``defaults`` are the transformers 5.23 class defaults of that vision config: a key is read from
    ``config.json`` only when the class has it (so Qwen3.5's missing ``deepstack_visual_indexes``
    means no deepstack, as ``Qwen3_5VisionModel`` deletes its mergers), and a missing key takes the
    default, as ``from_pretrained`` would.
    """

    tower: str  # key of loading.TOWERS
    defaults: dict[str, Any]
    width_key: str = "hidden_size"  # Qwen2-VL: "embed_dim"
    out_key: str = "out_hidden_size"  # Qwen2-VL: "hidden_size"


# transformers 5.23 configuration_qwen2_vl.py / _qwen2_5_vl.py / _qwen3_vl.py / _qwen3_vl_moe.py /
# _qwen3_5.py / _qwen3_5_moe.py / _qwen4_exp.py, the vision config classes' field defaults.
_QWEN2_VL = dict(depth=32, embed_dim=1280, hidden_size=3584, hidden_act="quick_gelu", mlp_ratio=4, num_heads=16,
                 in_channels=3, patch_size=14, spatial_merge_size=2, temporal_patch_size=2)
_QWEN2_5_VL = dict(depth=32, hidden_size=3584, hidden_act="silu", intermediate_size=3420, num_heads=16, in_channels=3,
                   patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=112, out_hidden_size=3584,
                   fullatt_block_indexes=[7, 15, 23, 31])
_QWEN3_5 = dict(depth=27, hidden_size=1152, hidden_act="gelu_pytorch_tanh", intermediate_size=4304, num_heads=16,
                in_channels=3, patch_size=16, spatial_merge_size=2, temporal_patch_size=2, out_hidden_size=3584,
                num_position_embeddings=2304)  # Qwen3-VL's without deepstack_visual_indexes
_QWEN3_VL = dict(_QWEN3_5, deepstack_visual_indexes=[8, 16, 24])
_QWEN3_KIND = TowerKind("qwen3_vl", _QWEN3_VL)  # Qwen3VLMoeVisionConfig = Qwen3-VL's
# Qwen3_5VisionModel(Qwen3VLVisionModel) deletes deepstack; Qwen3_5Moe and Qwen4Exp subclass it unchanged.
_QWEN3_5_KIND = TowerKind("qwen3_vl", _QWEN3_5)
_KINDS: dict[str, TowerKind] = {
    "qwen2_vl": TowerKind("qwen2_vl", _QWEN2_VL, width_key="embed_dim", out_key="hidden_size"),
    "qwen2_5_vl": TowerKind("qwen2_5_vl", _QWEN2_5_VL),
    "qwen3_vl": _QWEN3_KIND,
    "qwen3_vl_moe": _QWEN3_KIND,
    "qwen3_5": _QWEN3_5_KIND,
    "qwen3_5_moe": _QWEN3_5_KIND,
    "qwen4_exp": _QWEN3_5_KIND,
}
# model_type of the full models and of the vision sub-configs (5.23 and older Hub spellings).
TOWER_KINDS: dict[str, TowerKind] = {**_KINDS, **{f"{t}_vision": k for t, k in _KINDS.items()}}
# model_type -> the family whose profile lists it
FAMILY_OF_TYPE: dict[str, Family] = {t: p.family for p in PROFILES.values() for t in p.model_types}


def tower_kind(family: Family) -> TowerKind:
    """The registry row of a family (its first model_type: the others read alike)."""
    return TOWER_KINDS[get_profile(family).model_types[0]]


def _kind_of(config: dict[str, Any]) -> tuple[str, TowerKind]:
    vision = config.get("vision_config") or {}
    # The full model's model_type first: old Qwen3.5 / Qwen4-Exp checkpoints spell the vision one as
    # the full model's, which transformers overrides in Qwen3_5Config.__post_init__.
    for model_type in (config.get("model_type"), vision.get("model_type")):
        if model_type in TOWER_KINDS:
            return model_type.removesuffix("_vision"), TOWER_KINDS[model_type]
    raise VizError(
        f"config.json model_type {config.get('model_type')!r} is not a Qwen-VL model; "
        f"allowed: {', '.join(sorted(TOWER_KINDS))}",
        field="checkpoint",
    )


def config_from_hf(config: dict[str, Any], name: str = "checkpoint") -> VisionConfig:
    """A :class:`VisionConfig` from a Hugging Face ``config.json`` dict (full model or vision-only).

    Missing keys take the transformers 5.23 class defaults of the model_type's vision config
    (:data:`TOWER_KINDS`), as ``from_pretrained`` would; keys that class does not have are ignored.
    """
    model_type, kind = _kind_of(config)
    v = config.get("vision_config")
    if v is None:
        if not str(config.get("model_type", "")).endswith("_vision"):
            raise VizError("config.json has no 'vision_config'", field="checkpoint")
        v = config
    d = kind.defaults

    def get(key: str, *aliases: str) -> Any:
        for k in (key, *aliases):
            if k in v:
                return v[k]
        return d[key]

    def optional(key: str) -> Any:
        return get(key) if key in d else None

    dim = int(get(kind.width_key))
    inter = get("intermediate_size") if "intermediate_size" in d else dim * get("mlp_ratio")
    window, fullatt = optional("window_size"), optional("fullatt_block_indexes")
    table, deepstack = optional("num_position_embeddings"), optional("deepstack_visual_indexes")
    return VisionConfig(
        family=FAMILY_OF_TYPE[model_type],
        tower=kind.tower,
        depth=int(get("depth")),
        hidden_size=dim,
        num_heads=int(get("num_heads", "num_attention_heads")),
        intermediate_size=int(inter),
        out_hidden_size=int(get(kind.out_key)),
        hidden_act=get("hidden_act"),
        in_channels=int(get("in_channels", "in_chans")),
        patch_size=int(get("patch_size", "spatial_patch_size")),
        temporal_patch_size=int(get("temporal_patch_size")),
        spatial_merge_size=int(get("spatial_merge_size")),
        rope_theta=float((v.get("rope_parameters") or {}).get("rope_theta", ROPE_THETA)),
        window_size=None if window is None else int(window),
        fullatt_block_indexes=tuple(int(i) for i in fullatt or ()),
        num_position_embeddings=None if table is None else int(table),
        deepstack_visual_indexes=tuple(int(i) for i in deepstack or ()),
        name=name,
    )


def _preset(family: Family, size: TowerSize) -> VisionConfig:
    """A preset: one of the profile's tower sizes read as its ``config.json`` would be (missing keys take the
    family's vision-config class defaults)."""
    kind = tower_kind(family)
    v: dict[str, Any] = {"depth": size.depth, kind.width_key: size.hidden_size, "num_heads": size.num_heads,
                         kind.out_key: size.out_hidden_size}
    if "intermediate_size" in kind.defaults:
        v["intermediate_size"] = size.intermediate_size
    else:  # Qwen2-VL's config gives the MLP as a ratio
        v["mlp_ratio"] = size.intermediate_size // size.hidden_size
    for key in ("deepstack_visual_indexes", "fullatt_block_indexes"):
        if getattr(size, key) is not None:
            v[key] = list(getattr(size, key))
    return config_from_hf({"model_type": get_profile(family).model_types[0], "vision_config": v}, name=size.preset)


# Every tower size the profiles declare (profiles.TowerSize: the public checkpoints' and a tiny demo tower).
PRESETS: dict[str, VisionConfig] = {s.preset: _preset(p.family, s) for p in PROFILES.values() for s in p.towers}

# The tower used when no checkpoint and no preset is named: the family's most used size.
DEFAULT_PRESET: dict[Family, str] = {p.family: p.default_tower for p in PROFILES.values()}


def pixel_mismatch(config: VisionConfig, profile: ModelProfile, sizes: bool = True) -> VizError | None:
    """Why a tower cannot read the pixel rows made for ``profile``, or None when it can.

    A tower reads another family's media when both make the same rows: the same normalization and the
    same patch / merge / temporal sizes (``pixel_format``). The family itself does not matter: a
    Qwen3-VL-MoE or Qwen3.5 tower encodes Qwen3-VL media, a Qwen2-VL tower Qwen2.5-VL media.
    ``sizes=False`` checks the normalization only (a random tower is still to be sized).
    """
    tower = get_profile(config.family)
    norm = (tower.image_mean, tower.image_std)
    if norm != (profile.image_mean, profile.image_std):
        fits = [p.family.value for p in PROFILES.values() if (p.image_mean, p.image_std) == (profile.image_mean,
                                                                                              profile.image_std)]
        return VizError(
            f"the {config.family.value} tower '{config.name}' reads pixels normalized with mean {list(tower.image_mean)}"
            f", std {list(tower.image_std)}, but the media was normalized for {profile.family.value} (mean "
            f"{list(profile.image_mean)}, std {list(profile.image_std)}); pick a tower of {' / '.join(fits)}",
            field="model",
        )
    want = (profile.patch_size, profile.merge_size, profile.temporal_patch_size)
    have = (config.patch_size, config.spatial_merge_size, config.temporal_patch_size)
    if sizes and want != have:
        return VizError(
            f"the tower takes patch {have[0]}, merge {have[1]}, temporal {have[2]} but the media was "
            f"preprocessed with patch {want[0]}, merge {want[1]}, temporal {want[2]}; a checkpoint's sizes "
            "are fixed, so reset the sizes (random-weight towers can be built for any sizes)",
            field="patch_size",
        )
    return None


def get_preset(name: str) -> VisionConfig:
    try:
        return PRESETS[name.lower()]
    except KeyError:
        raise VizError(f"unknown preset {name!r}; allowed: {', '.join(PRESETS)}", field="preset") from None


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
