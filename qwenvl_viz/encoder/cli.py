"""The ``encode`` subcommand: ``python -m qwenvl_viz encode MEDIA [--checkpoint DIR|REPO | --preset NAME]``,
and ``fetch-tower OWNER/NAME [--revision R] [--out DIR]``.

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
from .hub import export_tower, fetch_tower
from .loading import get_tower
from .run import EncoderTrace, describe, encode

__all__ = ["CHECKPOINT_HELP", "add_encode_arguments", "add_fetch_arguments", "parse_layers", "run_encode",
           "run_fetch", "save_npz"]

CHECKPOINT_HELP = ("local Hugging Face model folder (config.json + safetensors), or a Hub repo id such as "
                   "Qwen/Qwen2.5-VL-3B-Instruct[@REVISION]: only its vision tensors are fetched, then cached")


def add_encode_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--checkpoint | --preset``, ``--layers``, ``--device``, ``--seed`` (and ``--save`` if absent)."""
    g = parser.add_argument_group("encoder")
    src = g.add_mutually_exclusive_group()
    src.add_argument("--checkpoint", metavar="DIR|OWNER/NAME[@REV]", help=CHECKPOINT_HELP)
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


def run_encode(args: argparse.Namespace, trace: Any, *, out: TextIO | None = None, err: TextIO | None = None) -> dict:
    """Build the tower, encode ``trace``, print the walkthrough to ``out``; returns a JSON-able summary."""
    out, err = out or sys.stdout, err or sys.stderr  # looked up per call: the streams may be swapped
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


def add_fetch_arguments(parser: argparse.ArgumentParser) -> None:
    """``fetch-tower OWNER/NAME [--revision R] [--out DIR] [--json]``."""
    parser.add_argument("repo", metavar="OWNER/NAME[@REV]", help="Hub repo id, e.g. Qwen/Qwen2.5-VL-3B-Instruct")
    parser.add_argument("--revision", help="branch, tag or commit (default: main, or the @REV of the id)")
    parser.add_argument("--out", metavar="DIR", help="also copy the vision-only checkpoint folder here")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run_fetch(args: argparse.Namespace, *, out: TextIO | None = None) -> dict:
    """Fetch (or reuse) the tower, optionally copy it to ``--out``; print where it is and what it cost."""
    out = out or sys.stdout
    fetch = fetch_tower(args.repo, revision=args.revision)
    folder = export_tower(fetch, args.out) if args.out else fetch.folder
    mb = 1e6
    summary = {
        "repo_id": fetch.repo_id, "revision": fetch.revision, "commit": fetch.commit, "folder": str(folder),
        "tensors": fetch.tensors, "vision_bytes": fetch.vision_bytes, "header_bytes": fetch.header_bytes,
        "small_file_bytes": fetch.small_file_bytes, "shard_bytes": fetch.shard_bytes, "shards": list(fetch.shards),
        "bytes_fetched": fetch.bytes_fetched, "from_cache": fetch.from_cache,
    }  # fmt: skip
    if not getattr(args, "json", False):
        how = "reused from the cache" if fetch.from_cache else (
            f"fetched {fetch.bytes_fetched / mb:.1f} MB (vision tensors {fetch.vision_bytes / mb:.1f} MB + headers "
            f"{fetch.header_bytes / 1e3:.1f} kB) of {len(fetch.shards)} shard(s) totalling {fetch.shard_bytes / mb:.1f} MB")
        print(f"{fetch.label}: {fetch.tensors} vision tensors, {how}", file=out)
        print(f"checkpoint folder {folder}  (use: --checkpoint {folder})", file=out)
    return summary
