"""The vision encoder: readable Qwen2-VL / Qwen2.5-VL / Qwen3-VL towers, strict loading, runs.

    tower = get_tower(checkpoint="Qwen2.5-VL-7B-Instruct")      # or preset="qwen2.5-vl-tiny"
    enc = encode(trace, tower, layers=[0, 15, -1])               # -> EncoderTrace
    print("\n".join(describe(enc)))

One file per tower kind (``qwen2_vl``, ``qwen2_5_vl``, ``qwen3_vl``, the last also running Qwen3-VL-MoE,
Qwen3.5 and Qwen4-Exp) on shared ``layers``; ``config`` holds the tower registry (``TOWER_KINDS``, keyed
by Hugging Face model_type) and the presets, ``loading`` the checkpoint reader, ``hub`` the Hub fetch of only the vision tensors
(``get_tower(checkpoint="Qwen/Qwen2.5-VL-3B-Instruct")``), ``run`` the EncoderTrace, ``cli`` the ``encode``
and ``fetch-tower`` commands.
"""

from .config import (
    DEFAULT_PRESET,
    PRESETS,
    TOWER_KINDS,
    TowerKind,
    VisionConfig,
    config_from_checkpoint,
    config_from_hf,
    get_preset,
    pixel_mismatch,
    tower_kind,
)
from .layers import TowerOutput, VisionTower
from .loading import build_tower, get_tower, load_tower, random_tower, resolve_device
from .qwen2_5_vl import Qwen2_5VisionTower, window_partition
from .qwen2_vl import Qwen2VisionTower
from .qwen3_vl import Qwen3VisionTower, position_taps
from .run import EncoderTrace, describe, encode, run_tower

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
    "VisionTower",
    "TowerOutput",
    "Qwen2VisionTower",
    "Qwen2_5VisionTower",
    "Qwen3VisionTower",
    "window_partition",
    "position_taps",
    "build_tower",
    "random_tower",
    "load_tower",
    "get_tower",
    "resolve_device",
    "EncoderTrace",
    "run_tower",
    "encode",
    "describe",
]
