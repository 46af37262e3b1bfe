"""Take the numbers home: the whole trace as JSON, the tensors as NPZ, a token table as CSV.

- ``to_json(trace, enc=None)``: every stage record (dataclass fields, arrays as lists), the summary and
  the shape ledger; with an EncoderTrace, its settings, stages and tensor shapes (the tensors
  themselves go to the NPZ). ``pixel_values`` is in the NPZ only (tens of MB).
- ``to_npz(trace, path, enc=None)``: ``pixel_values``, ``grid_thw``, ``input_ids``, ``position_ids``,
  ``frame_indices``, ``mm_token_type_ids``, ``row_coords``; with an EncoderTrace also
  ``embeddings``, ``patch_embeds``, ``last_hidden``, ``hidden_<k>``, ``deepstack_<j>``, ... (the names
  of ``python -m qwenvl_viz encode --save``).
- ``token_table(trace)`` / ``to_csv(trace, path)``: one row per prompt token: its id and text, the
  prompt segment, and for vision tokens the ``pixel_values`` rows, merge block, (t, h, w), source
  frames and the time the model is told.
"""

from __future__ import annotations

import csv
import dataclasses
import enum
import io
import json
import math
import os
from pathlib import Path
from typing import IO, Any

import numpy as np

from .errors import VizError
from .merge_order import row_coords_array

__all__ = ["to_json", "to_npz", "write_npz", "token_table", "to_csv", "TOKEN_COLUMNS", "JSON_FORMAT"]

JSON_FORMAT = "qwenvl-viz trace v1"
TOKEN_COLUMNS = (
    "index", "token_id", "text", "segment", "vision_token", "group", "row_first", "row_last",
    "block_h", "block_w", "t", "h", "w", "frames", "frame_seconds", "padding", "timestamp",
)


# ---- JSON ---------------------------------------------------------------------------------------

def _jsonable(obj: Any) -> Any:
    """Plain JSON values: dataclasses -> dicts, arrays -> lists, enums -> values, non-finite floats -> str."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.value
    if hasattr(obj, "tolist") and hasattr(obj, "shape"):  # numpy arrays and torch tensors, torch never imported
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else str(obj)
    if isinstance(obj, dict):
        return {str(_jsonable(k)): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, (set, frozenset)):
        return [_jsonable(v) for v in sorted(obj, key=repr)]
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "replace")
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    return str(obj)  # complex and anything else: its text, never a non-JSON value


def _encoder_json(enc) -> dict[str, Any]:
    shapes = {
        "patch_embeds": list(enc.patch_embeds.shape),
        "embeddings": list(enc.embeddings.shape),
        **{f"hidden_{k}": list(v.shape) for k, v in sorted(enc.hidden.items())},
        **{f"deepstack_{j}": list(d.shape) for j, d in enumerate(enc.deepstack)},
    }
    if enc.pos_embeds is not None:
        shapes["pos_embeds"] = list(enc.pos_embeds.shape)
    return {
        "family": enc.family.value,
        "config": _jsonable(enc.config),
        "weights": enc.weights_label,
        "weights_source": enc.weights_source,
        "random_weights": enc.random_weights,
        "device": enc.device,
        "dtype": enc.dtype,
        "grid_thw": _jsonable(enc.grid_thw),
        "stages": [[name, list(shape)] for name, shape in enc.stages],
        "deepstack_layers": list(enc.deepstack_layers),
        "cu_seqlens": _jsonable(enc.cu_seqlens),
        "window_index": _jsonable(enc.window_index),
        "cu_window_seqlens": _jsonable(enc.cu_window_seqlens),
        "timings_s": _jsonable(enc.timings),
        "tensor_shapes": shapes,  # the values are in the NPZ export
    }


def to_json(trace, enc=None, *, indent: int | None = None) -> str:
    """The whole trace (and the encoder run's settings and shapes) as one JSON document."""
    from .trace import ledger

    doc = {
        "format": JSON_FORMAT,
        "summary": trace.summary(),
        "ledger": [dataclasses.asdict(r) for r in ledger(trace)],
        "trace": _jsonable(trace),
        "derived": {
            "pixel_values_shape": list(trace.patchify.shape),
            "pixel_values_dtype": "float32",
            "grid_thw": [list(trace.patchify.grid_thw)],
            "mm_token_type_ids": _jsonable(trace.prompt.mm_token_type_ids),
            "frame_indices": list(trace.frame_indices),
        },
        "encoder": None if enc is None else _encoder_json(enc),
    }
    return json.dumps(_jsonable(doc), indent=indent, allow_nan=False, ensure_ascii=False)


# ---- NPZ ----------------------------------------------------------------------------------------

def _arrays(trace, enc) -> dict[str, np.ndarray]:
    arrays = {
        "pixel_values": trace.pixel_array,
        "grid_thw": np.asarray([trace.patchify.grid_thw], dtype=np.int64),
        "input_ids": np.asarray(trace.input_ids, dtype=np.int64),
        "position_ids": np.asarray(trace.position_ids, dtype=np.int64),
        "rope_deltas": np.asarray(trace.rope.rope_deltas, dtype=np.int64),
        "mm_token_type_ids": trace.prompt.mm_token_type_ids,
        "frame_indices": np.asarray(trace.frame_indices, dtype=np.int64),
        "row_coords": row_coords_array(trace.patchify.grid_thw, trace.patchify.merge_size),  # (rows, 3): (t, h, w)
    }
    if enc is not None:
        arrays["embeddings"] = enc.embeddings.numpy()
        arrays["patch_embeds"] = enc.patch_embeds.numpy()
        arrays["last_hidden"] = enc.last_hidden.numpy()
        for k, h in sorted(enc.hidden.items()):
            arrays[f"hidden_{k}"] = h.numpy()
        for j, d in enumerate(enc.deepstack):
            arrays[f"deepstack_{j}"] = d.numpy()
        if enc.pos_embeds is not None:
            arrays["pos_embeds"] = enc.pos_embeds.numpy()
        arrays["cu_seqlens"] = enc.cu_seqlens.numpy()
        if enc.window_index is not None:
            arrays["window_index"] = enc.window_index.numpy()
            arrays["cu_window_seqlens"] = enc.cu_window_seqlens.numpy()
        arrays["random_weights"] = np.array(enc.random_weights)
        arrays["weights_source"] = np.array(enc.weights_source)
    return arrays


def to_npz(trace, path: str | os.PathLike | IO[bytes], enc=None, *, compressed: bool = False) -> dict[str, list[int]]:
    """Write the tensors to exactly ``path`` (no ``.npz`` appended); returns ``{name: shape}``.

    Load with ``np.load(path)`` (no pickle needed). A folder, an unwritable path or a full disk is a
    VizError naming the path; a partly written regular file is removed.
    """
    arrays = _arrays(trace, enc)
    if hasattr(path, "write"):
        (np.savez_compressed if compressed else np.savez)(path, **arrays)
        return {k: list(v.shape) for k, v in arrays.items()}
    write_npz(path, arrays, compressed=compressed)
    return {k: list(v.shape) for k, v in arrays.items()}


def write_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray], *, compressed: bool = False) -> str:
    """``np.savez`` to exactly ``path`` (numpy itself would append ``.npz``); returns the path written."""
    save = np.savez_compressed if compressed else np.savez
    target = os.fspath(path)
    if os.path.isdir(target):
        raise VizError(f"--save {target!r} is a folder; give a file name, e.g. {os.path.join(target, 'trace.npz')!r}",
                       field="save")
    existed = os.path.exists(target)
    try:
        with open(target, "wb") as fh:  # a file object: numpy writes here and appends no suffix
            save(fh, **arrays)
    except OSError as e:
        if not existed and os.path.isfile(target):
            os.unlink(target)  # no half-written file left behind
        raise VizError(f"cannot write {target!r}: {e.strerror or e}", field="save") from None
    return target


# ---- token table --------------------------------------------------------------------------------

def _token_texts(trace) -> list[str]:
    from .prompt import load_tokenizer

    tokenizer, _ = load_tokenizer(trace.params.tokenizer_dir, trace.profile)
    ids = trace.prompt.input_ids.tolist()
    cache: dict[int, str] = {}
    out = []
    for i in ids:
        if i not in cache:
            cache[i] = tokenizer.decode([i], skip_special_tokens=False)
        out.append(cache[i])
    return out


def token_table(trace) -> list[dict[str, Any]]:
    """One dict per prompt token, keys ``TOKEN_COLUMNS``; vision columns are None for text tokens.

    ``frames`` lists the raw frame indices of the token's temporal group (``padding`` says whether the
    group holds repeated copies); ``timestamp`` is the time the model is told for that group (Qwen3-VL
    timestamp, Qwen2.5-VL ``k * second_per_grid_t``, Qwen2-VL ``k * Tp / sample_fps``; None for images).
    """
    pr, pt, rope = trace.prompt, trace.patchify, trace.rope
    ids = pr.input_ids
    n = len(ids)
    texts = _token_texts(trace)
    segment = [""] * n
    for seg in pr.segments:
        label = seg.label.value
        for i in range(seg.start, seg.end):
            segment[i] = label
    pos = rope.position_ids
    rows = [
        {"index": i, "token_id": int(ids[i]), "text": texts[i], "segment": segment[i], "vision_token": None,
         "group": None, "row_first": None, "row_last": None, "block_h": None, "block_w": None,
         "t": int(pos[0, i]), "h": int(pos[1, i]), "w": int(pos[2, i]), "frames": None, "frame_seconds": None,
         "padding": None, "timestamp": None}
        for i in range(n)
    ]
    _, gh, gw = pt.grid_thw
    m2 = pt.merge_size**2
    wm = gw // pt.merge_size
    per_group = gh * gw // m2
    s = trace.sampling
    group_frames = []
    for g, members in enumerate(pt.groups):
        if s is None:
            group_frames.append(([0] * len(members), None, True))
        else:
            raw = [s.indices[p] for p in members]
            pad = any(g * pt.temporal_patch_size + j >= pt.nframes for j in range(len(members)))
            group_frames.append((raw, [r / s.video_fps for r in raw], pad))
    for run, rrun in zip(pr.runs, rope.runs):
        if run.item != 0:
            continue
        seconds = {tg.group: tg.seconds for tg in rrun.groups}
        for k in range(run.start, run.end):
            off = k - run.start
            g = run.groups[off // per_group]
            local = off % per_group
            token = g * per_group + local
            raw, secs, pad = group_frames[g]
            row = rows[k]
            row.update(
                vision_token=token, group=g, row_first=token * m2, row_last=token * m2 + m2 - 1,
                block_h=local // wm, block_w=local % wm, frames=list(raw),
                frame_seconds=None if secs is None else list(secs), padding=pad, timestamp=seconds.get(g),
            )
    return rows


_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _cell(v: Any) -> Any:
    if isinstance(v, str):  # one line per token: newlines / tabs in token text written as \n, \t
        return v.translate(_ESCAPES)
    if v is None:
        return ""
    if isinstance(v, list):
        return ";".join(str(x) for x in v)
    return v


def to_csv(trace, path: str | os.PathLike | IO[str]) -> int:
    """Write ``token_table(trace)`` as CSV, one line per token (lists joined with ';', newlines and tabs in
    token text escaped as ``\\n`` / ``\\t``); returns the number of data rows."""
    table = token_table(trace)

    def write(fh: IO[str]) -> None:
        w = csv.DictWriter(fh, fieldnames=TOKEN_COLUMNS, lineterminator="\n")
        w.writeheader()
        for r in table:
            w.writerow({k: _cell(r[k]) for k in TOKEN_COLUMNS})

    if isinstance(path, io.TextIOBase) or hasattr(path, "write"):
        write(path)  # type: ignore[arg-type]
    else:
        try:
            with open(Path(path), "w", newline="", encoding="utf-8") as fh:
                write(fh)
        except OSError as e:
            raise VizError(f"cannot write {path}: {e.strerror}", field="save") from None
    return len(table)
