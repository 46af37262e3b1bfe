"""The encoder view: run a tower on the current Trace (on demand, cached), draw its heatmaps.

Only the tower run itself is wrapped for ZeroGPU (``spaces.GPU``) when the ``spaces`` package is present;
everything else stays on the CPU worker.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable

from ..encoder import PRESETS, EncoderTrace, config_from_checkpoint, encode, get_preset, get_tower
from ..errors import VizError
from ..heatmaps import Heatmap, heatmap
from ..profiles import Family
from ..trace import Trace
from . import towers
from .state import CACHE_BYTES, ENCODINGS, LRU, previews
from .views import display_size

__all__ = ["tower_choices", "default_tower", "weights_key", "kept_layers", "run_encoder", "cached_encoding",
           "render_heatmap", "heatmap_tiles", "HEATMAP_SIDE", "MERGED", "ON_ZERO_GPU"]

HEATMAP_SIDE = 320
MERGED = "merged"  # layer choice: the merger output
TOWERS = LRU(*CACHE_BYTES["towers"])

try:  # Hugging Face ZeroGPU: only the tower run asks for the GPU
    import spaces  # type: ignore

    _gpu = spaces.GPU
    ON_ZERO_GPU = True
except ImportError:  # pragma: no cover - depends on the host
    _gpu = None
    ON_ZERO_GPU = False


def tower_choices(family: Family | str) -> list[tuple[str, str]]:
    """The picker: the family's public Hub towers with their download size, then the random presets."""
    return towers.picker_choices(family)


def default_tower(family: Family | str) -> str:
    return towers.default_choice(family)


def weights_key(checkpoint: str | None, preset: str) -> tuple:
    if checkpoint:
        cfg = os.path.join(checkpoint, "config.json")
        mtime = os.stat(cfg).st_mtime_ns if os.path.exists(cfg) else None
        return ("checkpoint", os.path.realpath(checkpoint), mtime)
    return ("preset", preset, 0)


def kept_layers(depth: int) -> tuple[int, ...]:
    """Blocks whose output is kept for the layer selector: all of a small tower, 4 of a deep one (memory)."""
    if depth <= 8:
        return tuple(range(depth))
    return tuple(sorted({depth // 4 - 1, depth // 2 - 1, 3 * depth // 4 - 1, depth - 1}))


def _tower(checkpoint: str | None, preset: str, trace: Trace, label: str | None = None):
    pf = trace.profile
    key = (weights_key(checkpoint, preset), pf.patch_size, pf.merge_size, pf.temporal_patch_size)

    # a fetched Hub tower is named by its repo and commit (label), not by its cache folder
    return TOWERS.get_or(key, lambda: get_tower(checkpoint=checkpoint or None, preset=None if checkpoint else preset,
                                                profile=pf, label=label))


def _run(trace: Trace, checkpoint: str | None, preset: str, layers: tuple[int, ...],
         progress: Callable[[int, int], None] | None, label: str | None = None) -> EncoderTrace:
    tower = _tower(checkpoint, preset, trace, label)
    # a copy: the pixel tensor is computed for this run only, never kept in the shared Trace cache
    return encode(copy.copy(trace), tower, layers=layers, progress=progress)


_run_on_device = _gpu(_run) if _gpu is not None else _run


def run_encoder(key: tuple, trace: Trace, checkpoint: str | None, preset: str,
                progress: Callable[[int, int], None] | None = None,
                fetch_progress: Callable[[int, int], None] | None = None) -> EncoderTrace:
    """The EncoderTrace of ``trace`` with these weights (cached by trace key and weights).

    ``checkpoint`` (the field) wins over ``preset`` (the picker); either may name a Hub repo, whose
    tower is fetched here, on the CPU worker, before the GPU is asked for (``fetch_progress``: bytes).
    """
    label = None
    if (repo := towers.hub_repo(checkpoint, preset)) is not None:
        checkpoint, label = towers.fetched(repo, fetch_progress)
        checkpoint = str(checkpoint)
    if checkpoint and not os.path.isdir(checkpoint):
        raise VizError(f"checkpoint {checkpoint!r} is neither a local folder nor a Hub repo id; give a Hugging Face "
                       "checkpoint folder (config.json + safetensors), OWNER/NAME[@REVISION], or leave it blank and "
                       "pick a tower", field="checkpoint")  # fmt: skip
    if not checkpoint and preset not in PRESETS:
        raise VizError(f"unknown tower {preset!r}; allowed: {', '.join(PRESETS)}", field="preset")
    if not checkpoint and get_preset(preset).family is not trace.model:
        preset = default_tower(trace.model)
    ek = (key, weights_key(checkpoint, preset))
    hit = ENCODINGS.get(ek)
    if hit is not None:
        return hit
    depth = config_from_checkpoint(checkpoint).depth if checkpoint else get_preset(preset).depth
    enc = _run_on_device(trace, checkpoint, preset, kept_layers(depth), progress, label)
    ENCODINGS.put(ek, enc)
    return enc


def cached_encoding(key: tuple, trace: Trace, checkpoint: str | None, preset: str) -> EncoderTrace | None:
    if (repo := towers.hub_repo(checkpoint, preset)) is not None:
        folder = towers.fetched_folder(repo)  # never fetches: a heatmap redraw only reads what Run produced
        if folder is None:
            return None
        checkpoint = str(folder)
    if not checkpoint and preset in PRESETS and get_preset(preset).family is not trace.model:
        preset = default_tower(trace.model)
    return ENCODINGS.get((key, weights_key(checkpoint, preset)))


def heatmap_tiles(trace: Trace) -> tuple[list, list[str]]:
    """The first frame of every temporal group at the resized aspect, and a caption per tile."""
    pt = trace.patchify
    w, h = display_size(trace.resize.width, trace.resize.height, HEATMAP_SIDE)
    firsts = [g[0] for g in pt.groups]
    tiles = previews(trace, firsts, w, h)
    labels = []
    for k, g in enumerate(pt.groups):
        frames = ", ".join(str(trace.frame_indices[i]) for i in dict.fromkeys(g)) if trace.sampling else "image"
        labels.append(f"g{k} · {frames}")
    return tiles, labels


def render_heatmap(enc: EncoderTrace, kind: str, layer: str | None, token: float | None) -> Heatmap:
    lay = None if layer in (None, "", MERGED) else int(layer)
    tok = None if token is None else int(token)
    return heatmap(enc, kind, layer=lay, token=tok)
