"""The ``encode`` subcommand: ``python -m qwenvl_viz encode MEDIA [--checkpoint DIR | --preset NAME]``.

The lead's CLI builds the preprocessing Trace with the same options as ``explain`` and calls
:func:`run_encode`; this module adds only the encoder's options and renders the EncoderTrace.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from ..errors import VizError
from .config import DEFAULT_PRESET, PRESETS
from .loading import get_tower
from .run import EncoderTrace, describe, encode

__all__ = ["add_encode_arguments", "parse_layers", "run_encode", "save_npz"]


def add_encode_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--checkpoint | --preset``, ``--layers``, ``--device``, ``--seed`` (and ``--save`` if absent)."""
    g = parser.add_argument_group("encoder")
    src = g.add_mutually_exclusive_group()
    src.add_argument("--checkpoint", metavar="DIR", help="local Hugging Face model folder (config.json + safetensors)")
    src.add_argument(
        "--preset",
        metavar="NAME",
        help="random-weight tower of a public size: " + ", ".join(PRESETS) + "; default: the family's "
        + " / ".join(DEFAULT_PRESET.values()),
    )
    g.add_argument("--layers", default="-1", help="blocks whose output to keep, e.g. '0,15,-1' (default: -1, the last)")
    g.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="cuda runs bf16, cpu float32")
    g.add_argument("--seed", type=int, default=0, help="seed of the random weights (no checkpoint)")
    try:
        g.add_argument("--save", metavar="OUT.npz", help="save pixel_values, grid_thw, embeddings, hidden states")
    except argparse.ArgumentError:
        pass  # the parent parser already has --save


def parse_layers(text: str | None) -> tuple[int, ...]:
    if not text:
        return (-1,)
    try:
        return tuple(int(part) for part in str(text).split(",") if part.strip())
    except ValueError:
        raise VizError(f"--layers {text!r} is not a comma-separated list of block indices like '0,15,-1'",
                       field="layers") from None  # fmt: skip


def save_npz(path: str | Path, enc: EncoderTrace, pixel_values, grid_thw) -> dict[str, list[int]]:
    """Write the run; returns ``{array name: shape}``. Rows of hidden states are in pixel_values order."""
    arrays: dict[str, np.ndarray] = {
        "pixel_values": np.asarray(pixel_values.float().cpu().numpy()),
        "grid_thw": np.asarray(grid_thw.cpu().numpy(), dtype=np.int64),
        "embeddings": enc.embeddings.numpy(),
        "last_hidden": enc.last_hidden.numpy(),
        "patch_embeds": enc.patch_embeds.numpy(),
    }
    for k, h in sorted(enc.hidden.items()):
        arrays[f"hidden_{k}"] = h.numpy()
    for j, d in enumerate(enc.deepstack):
        arrays[f"deepstack_{j}"] = d.numpy()
    if enc.pos_embeds is not None:
        arrays["pos_embeds"] = enc.pos_embeds.numpy()
    if enc.window_index is not None:
        arrays["window_index"] = enc.window_index.numpy()
        arrays["cu_window_seqlens"] = enc.cu_window_seqlens.numpy()
    arrays["random_weights"] = np.array(enc.random_weights)
    arrays["weights_source"] = np.array(enc.weights_source)
    from ..export import write_npz

    write_npz(path, arrays)  # exactly `path`; a folder / full disk is a VizError
    return {k: list(v.shape) for k, v in arrays.items()}


def _progress(out: TextIO):
    tty = out.isatty()

    def report(done: int, total: int) -> None:
        if tty:  # one line, rewritten in place
            print(f"\rencoder block {done}/{total}", end="\n" if done == total else "", file=out, flush=True)
        elif done == total:
            print(f"encoder block {done}/{total}", file=out, flush=True)

    return report


def run_encode(args: argparse.Namespace, trace: Any, *, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> dict:
    """Build the tower, encode ``trace``, print the walkthrough to ``out``; returns a JSON-able summary."""
    tower = get_tower(
        checkpoint=getattr(args, "checkpoint", None),
        preset=getattr(args, "preset", None),
        profile=trace.profile,
        seed=getattr(args, "seed", 0),
        device=getattr(args, "device", "auto"),
    )
    enc = encode(trace, tower, layers=parse_layers(getattr(args, "layers", None)), progress=_progress(err))
    if getattr(args, "json", False):
        out = err  # stdout carries the one JSON object
    for line in describe(enc):
        print(line, file=out)
    summary: dict[str, Any] = {
        "family": enc.family.value,
        "tower": enc.config.name,
        "weights": enc.weights_source,
        "random_weights": enc.random_weights,
        "device": enc.device,
        "dtype": enc.dtype,
        "grid_thw": [list(g) for g in enc.grid_thw],
        "stages": [[name, list(shape)] for name, shape in enc.stages],
        "embeddings": list(enc.embeddings.shape),
        "layers": sorted(enc.hidden),
        "deepstack_layers": list(enc.deepstack_layers),
        "windows": None if enc.cu_window_seqlens is None else len(enc.cu_window_seqlens) - 1,
        "timings_s": {k: round(v, 4) for k, v in enc.timings.items()},
    }
    save = getattr(args, "save", None)
    if save:
        summary["saved"] = {"path": str(save), "arrays": save_npz(save, enc, trace.pixel_values, trace.grid_thw)}
        print(f"saved {save}: " + ", ".join(summary["saved"]["arrays"]), file=out)
    return summary
