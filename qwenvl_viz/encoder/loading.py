"""Build a tower: from a Hugging Face checkpoint (strict) or with seeded random weights.

A checkpoint is a local folder or a Hub repo id ``OWNER/NAME[@REVISION]``; a repo id is resolved by
:func:`hub.resolve_checkpoint`, which fetches only the vision tensors into a cached local folder.

Loading reads only the vision tensors: every key under ``visual.`` (Qwen2/2.5-VL Hub files) or
``model.visual.`` (Qwen3-VL Hub files, and transformers >= 4.52 re-saves), from ``model.safetensors``
or the shards named by ``model.safetensors.index.json`` (only the shard files that hold vision
tensors are opened). Each tensor goes through the tower's explicit key map and a shape check; a
missing, unexpected or mis-shaped tensor is a :class:`VizError` naming it.

Dtypes: on CPU the tower runs in float32 (bf16 checkpoints are upcast); on CUDA in bfloat16.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch
from safetensors import safe_open

from ..errors import VizError
from ..profiles import Family, ModelProfile, get_profile
from .config import DEFAULT_PRESET, VisionConfig, config_from_checkpoint, get_preset, pixel_mismatch
from .hub import Progress, resolve_checkpoint
from .layers import VisionTower
from .qwen2_5_vl import Qwen2_5VisionTower
from .qwen2_vl import Qwen2VisionTower
from .qwen3_vl import Qwen3VisionTower

__all__ = [
    "TOWERS",
    "VISION_PREFIXES",
    "resolve_device",
    "build_tower",
    "random_tower",
    "load_tower",
    "read_vision_tensors",
    "get_tower",
]

# TowerKind.tower -> the module that runs it (config.TOWER_KINDS says which model_type needs which).
TOWERS: dict[str, type[VisionTower]] = {t.kind: t for t in (Qwen2VisionTower, Qwen2_5VisionTower, Qwen3VisionTower)}
VISION_PREFIXES = ("model.visual.", "visual.")
_INIT_STD = 0.02  # transformers' initializer_range for these towers


def resolve_device(device: str | None) -> tuple[torch.device, torch.dtype]:
    """``None``/``"auto"`` -> CUDA if present else CPU; CUDA runs bfloat16, CPU float32."""
    if device in (None, "auto"):
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise VizError(f"device {device!r} asked for but CUDA is not available; use --device cpu", field="device")
    if dev.type not in ("cpu", "cuda"):
        raise VizError(f"device {device!r} not supported; allowed: cpu, cuda, auto", field="device")
    return dev, torch.bfloat16 if dev.type == "cuda" else torch.float32


def build_tower(
    config: VisionConfig, device: str | torch.device = "meta", dtype: torch.dtype = torch.float32
) -> VisionTower:
    """The tower's modules with UNINITIALISED storage on ``device`` (``"meta"``: no memory at all)."""
    with torch.device("meta"):
        tower = TOWERS[config.tower](config)
    if torch.device(device).type != "meta":
        tower = tower.to(dtype=dtype).to_empty(device=device)
    return tower.eval().requires_grad_(False)


def random_tower(
    config: VisionConfig, *, seed: int = 0, device: str | None = "cpu", dtype: torch.dtype | None = None
) -> VisionTower:
    """Seeded random weights of the real architecture (same numbers on every device).

    Linear / conv / embedding weights ~ N(0, 0.02), biases 0, norm weights 1 (transformers' init).
    """
    dev, default_dtype = resolve_device(device)
    tower = build_tower(config, "cpu")
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(tower.named_parameters()):
            if ".norm" in name or name.startswith("norm"):
                p.fill_(1.0 if name.endswith("weight") else 0.0)
            elif name.endswith("bias"):
                p.zero_()
            else:
                p.normal_(0.0, _INIT_STD, generator=gen)
    tower = tower.to(device=dev, dtype=dtype or default_dtype)
    tower.weights_source = f"random (seed {seed})"
    tower.random_weights, tower.seed = True, seed
    return tower


def _vision_name(key: str) -> str | None:
    for prefix in VISION_PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix) :]
    return None


def read_vision_tensors(checkpoint: str | Path) -> dict[str, tuple[str, torch.Tensor]]:
    """``{name without prefix: (full checkpoint key, tensor)}`` for every vision tensor, on CPU."""
    root = Path(checkpoint)
    index, single = root / "model.safetensors.index.json", root / "model.safetensors"
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text())["weight_map"]
        except (OSError, json.JSONDecodeError, KeyError) as err:
            raise VizError(f"cannot read {index}: {err}", field="checkpoint") from None
        files: dict[str, list[str]] = {}
        for key, shard in weight_map.items():
            if _vision_name(key) is not None:
                files.setdefault(shard, []).append(key)
    elif single.is_file():
        files = {single.name: None}  # type: ignore[dict-item]  # all of its vision keys
    else:
        raise VizError(
            f"checkpoint folder {str(root)!r} has neither model.safetensors nor model.safetensors.index.json",
            field="checkpoint",
        )
    out: dict[str, tuple[str, torch.Tensor]] = {}
    for shard, keys in files.items():
        path = root / shard
        if not path.is_file():
            raise VizError(f"shard {shard!r} named by the index is missing from {str(root)!r}", field="checkpoint")
        with safe_open(str(path), framework="pt", device="cpu") as f:
            present = set(f.keys())
            for key in keys if keys is not None else sorted(present):
                name = _vision_name(key)
                if name is None:
                    continue
                if key not in present:
                    raise VizError(f"tensor {key!r} is listed in the index but not in {shard}", field="checkpoint")
                if name in out:
                    raise VizError(f"tensor {name!r} appears twice ({out[name][0]!r} and {key!r})", field="checkpoint")
                out[name] = (key, f.get_tensor(key))
    if not out:
        raise VizError(f"no vision tensors (visual.* or model.visual.*) in {str(root)!r}", field="checkpoint")
    return out


def _listing(names: list[str], limit: int = 8) -> str:
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def load_tower(
    checkpoint: str | Path,
    *,
    device: str | None = "cpu",
    dtype: torch.dtype | None = None,
    config: VisionConfig | None = None,
    progress: Progress | None = None,
    label: str | None = None,
) -> VisionTower:
    """The vision tower of a checkpoint folder (``config.json`` + safetensors) or Hub repo id, strictly.

    ``progress(done, total)`` reports the bytes of a Hub fetch (nothing is called for a local folder).
    ``label`` names the weights (default: the folder, or ``OWNER/NAME@commit`` for a Hub repo).
    """
    checkpoint, found = resolve_checkpoint(checkpoint, progress=progress)
    label = label or found
    config = config or dataclasses.replace(config_from_checkpoint(checkpoint), name=label)
    dev, default_dtype = resolve_device(device)
    dtype = dtype or default_dtype
    meta = build_tower(config, "meta")
    key_map = meta.key_map()  # ours -> checkpoint name
    shapes = {name: tuple(t.shape) for name, t in meta.state_dict().items()}
    expected = {theirs: shapes[ours] for ours, theirs in key_map.items()}
    found = read_vision_tensors(checkpoint)
    some_name, (some_key, _) = next(iter(found.items()))
    prefix = some_key[: len(some_key) - len(some_name)]  # "visual." or "model.visual."

    missing = sorted(prefix + k for k in expected.keys() - found.keys())
    unexpected = sorted(found[k][0] for k in found.keys() - expected.keys())
    misshaped = sorted(
        f"{found[k][0]}: checkpoint {list(found[k][1].shape)}, {config.family.value} tower expects {list(shape)}"
        for k, shape in expected.items()
        if k in found and tuple(found[k][1].shape) != tuple(shape)
    )
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} tensor(s): {_listing(missing)}")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)} tensor(s): {_listing(unexpected)}")
    if misshaped:
        problems.append(f"{len(misshaped)} mis-shaped tensor(s): {_listing(misshaped, 4)}")
    if problems:
        raise VizError(
            f"checkpoint {str(checkpoint)!r} does not match its config.json vision_config ({config.family.value}, "
            f"depth {config.depth}, width {config.hidden_size}): " + "; ".join(problems),
            field="checkpoint",
        )

    tower = build_tower(config, dev, dtype)
    params = dict(tower.named_parameters())
    with torch.no_grad():
        for ours, theirs in key_map.items():
            params[ours].copy_(found[theirs][1])  # copy_ casts (bf16 -> float32 on CPU)
    tower.weights_source = label
    tower.random_weights, tower.seed = False, None
    return tower


def get_tower(
    *,
    checkpoint: str | Path | None = None,
    preset: str | None = None,
    family: Family | str | None = None,
    profile: ModelProfile | None = None,
    seed: int = 0,
    device: str | None = None,
    progress: Progress | None = None,
    label: str | None = None,
) -> VisionTower:
    """The tower the user asked for: a checkpoint (folder or Hub repo id), else a preset, else the
    family's default preset.

    Without a checkpoint the weights are random (seeded). With a ``profile`` whose patch / merge /
    temporal sizes differ from the preset's, the random tower is built with the profile's sizes;
    a checkpoint cannot change its sizes (``encode`` then reports the mismatch).
    """
    if checkpoint is not None and preset is not None:
        raise VizError("give either a checkpoint or a preset, not both", field="preset")
    if profile is None and family is not None:
        profile = get_profile(family)

    def check(config: VisionConfig) -> None:  # the normalization only: encode() checks the sizes
        err = None if profile is None else pixel_mismatch(config, profile, sizes=False)
        if err is not None:
            raise err

    if checkpoint is not None:
        tower = load_tower(checkpoint, device=device, progress=progress, label=label)
        check(tower.config)
        return tower
    if preset is None:
        if profile is None:
            raise VizError("no checkpoint, preset or model family given", field="preset")
        preset = DEFAULT_PRESET[profile.family]
    config = get_preset(preset)
    check(config)
    if profile is not None:
        config = config.with_sizes(profile.patch_size, profile.merge_size, profile.temporal_patch_size)
    return random_tower(config, seed=seed, device=device)
