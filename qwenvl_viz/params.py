"""The parameter vocabulary: every knob of :func:`qwenvl_viz.explain`, declared once.

``PARAMS`` is one table (name, type, unit, range or choices, default, CLI flag, help, which media and
pipeline it applies to). Everything else is derived from it:

- ``Params`` validation (:func:`check`): types, finiteness, ranges, then the combinations;
- the CLI flags (:func:`add_arguments`), the app's ``Request`` parsing (:func:`from_widget`),
  the reproduce CLI line (:func:`cli_args`);
- which knobs a given media / pipeline ignores (:func:`ignored`).

``BUDGETS`` is the same kind of table for the limits on one request's work (vision tokens, sampled
frames, pixel-tensor bytes), checked on metadata before any tensor or figure is built; figures stay bounded
through them (at the largest default-allowed clip request, about 1.9 MB of plot JSON)
(:func:`check_budget`). ``Budget.unlimited()`` lifts them for library callers who mean it.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from enum import Enum
from dataclasses import dataclass
from collections.abc import Callable
from typing import Any

import numpy as np

from .errors import VizError
from .profiles import Decoder

__all__ = ["Param", "PARAMS", "BY_NAME", "check", "ignored", "add_arguments", "from_widget", "cli_args",
           "Budget", "BUDGETS", "DEFAULT_BUDGET", "check_budget", "add_budget_arguments", "budget_from_args",
           "budget_from_mapping", "TEXT_RESUME", "PIXEL_UNITS", "MAX_PROMPT_CHARS", "MAX_PIXELS_ARG", "MAX_FRAMES_ARG"]

PIXEL_UNITS = ("px", "tokens")  # the app's unit for min / max / total_pixels (tokens x factor^2 = px)
TEXT_RESUME = ("release", "transformers")  # release: max + 1; transformers >= 5.12: s + max(h, w)/m
MAX_PROMPT_CHARS = 100_000
# Argument ranges: wide enough for any real setting, narrow enough that the metadata arithmetic stays
# exact (pixel counts below 2**53 are exact floats) and cheap; the budgets below bound the real work.
MAX_PIXELS_ARG = 1e15
MAX_FRAMES_ARG = 1_000_000
MAX_SECONDS_ARG = 1e7
MAX_SEQ_LEN_ARG = 1 << 30


@dataclass(frozen=True)
class Param:
    """One knob. ``lo`` / ``hi`` are inclusive unless ``lo_open`` (then ``value > lo``)."""

    name: str
    type: type  # int, float, str, bool
    help: str
    default: Any = None  # None: "the reference default for this family and pipeline"
    unit: str = ""
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    choices: tuple[str, ...] | None = None
    media: str = "any"  # "any" or "video": a video knob is ignored (and reported) for an image
    pipeline: str | None = None  # "official" / "processor": the other pipeline ignores it
    group: str | None = None  # CLI mutually exclusive group
    widget_zero_blank: bool = True  # the app's gr.Number sends 0 for an empty box: 0 = default
    default_fn: Callable[[], Any] | None = None  # a default read at call time (an environment variable)

    def effective_default(self) -> Any:
        return self.default_fn() if self.default_fn else self.default

    @property
    def flag(self) -> str:
        return "--" + {"tokenizer_dir": "tokenizer"}.get(self.name, self.name).replace("_", "-")

    def allowed(self) -> str:
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.type is bool:
            return "true or false"
        if self.type is str:
            return "text"
        kind = "a whole number" if self.type is int else "a finite number"
        lo = "" if self.lo is None else (f" > {self.lo:g}" if self.lo_open else f" >= {self.lo:g}")
        hi = "" if self.hi is None else f" <= {self.hi:g}"
        unit = f" ({self.unit})" if self.unit else ""
        return f"{kind}{lo}{' and' if lo and hi else ''}{hi}{unit}"


_PX = "pixels, not tokens (N tokens = N x factor^2 px)"
PARAMS: tuple[Param, ...] = (
    Param("fps", float, "sampling rate; default 2.0", unit="frames per second", lo=0, hi=1000, lo_open=True,
          media="video", group="sampling"),
    Param("nframes", int, "number of frames to sample (instead of --fps)", unit="frames", lo=1,
          hi=MAX_FRAMES_ARG, media="video", group="sampling"),
    Param("decoder", str, "whose frames and metadata to follow: torchcodec (default; $FORCE_QWENVL_VIDEO_READER "
          "if set), decord, or pyav (transformers load_video's default)", choices=tuple(d.value for d in Decoder),
          media="video", default_fn=lambda: _default_decoder()),
    Param("min_frames", int, "fewest frames fps sampling may take", unit="frames", lo=1, hi=MAX_FRAMES_ARG,
          media="video"),
    Param("max_frames", int, "most frames fps sampling may take", unit="frames", lo=1, hi=MAX_FRAMES_ARG,
          media="video"),
    Param("min_pixels", float, _PX, unit="px", lo=0, hi=MAX_PIXELS_ARG, lo_open=True),
    Param("max_pixels", float, _PX, unit="px", lo=0, hi=MAX_PIXELS_ARG, lo_open=True),
    Param("total_pixels", float, "whole-video budget in pixels (official pipeline)", unit="px", lo=0,
          hi=MAX_PIXELS_ARG, lo_open=True, media="video", pipeline="official"),
    Param("video_start", float, "start of the clip", unit="s", lo=0, hi=MAX_SECONDS_ARG, media="video"),
    Param("video_end", float, "end of the clip", unit="s", lo=0, hi=MAX_SECONDS_ARG, lo_open=True,
          media="video"),
    Param("patch_size", int, "vision patch side", unit="px", lo=1, hi=64),
    Param("merge_size", int, "spatial merge (m x m patches per token)", lo=1, hi=64),
    Param("temporal_patch_size", int, "frames per temporal patch", unit="frames", lo=1, hi=64),
    Param("prompt", str, "user text after the media (any Unicode)", hi=MAX_PROMPT_CHARS),
    Param("cap_pixels_per_frame", bool, "processor pipeline: transformers' opt-in qwen-vl-utils-like per-frame cap",
          default=False, media="video", pipeline="processor"),
    Param("text_resume", str, "text position after a vision block: release (max+1) or transformers >= 5.12",
          default="release", choices=TEXT_RESUME),
    Param("qwen3_outer_wrapper", bool, "Qwen3-VL: keep the outer vision_start/end as transformers 5.12+ does",
          default=False),
    Param("tokenizer_dir", str, "checkpoint folder whose tokenizer.json to use"),
    Param("model_seq_len", int, "context length behind qwen-vl-utils' default video budget (MODEL_SEQ_LEN)",
          default=128000, unit="tokens", lo=1, hi=MAX_SEQ_LEN_ARG, widget_zero_blank=False),
)
BY_NAME: dict[str, Param] = {p.name: p for p in PARAMS}


def _default_decoder() -> str:
    from .decoders import default_decoder

    return default_decoder()


def _bad(p: Param, value: Any, why: str = "") -> VizError:
    shown = repr(value) if not isinstance(value, str) or len(value) < 80 else repr(value[:77] + "...")
    return VizError(f"{p.name} must be {p.allowed()}, got {shown}{why}", field=p.name)


def coerce(p: Param, value: Any) -> Any:
    """``value`` as ``p.type``, or a VizError naming the field, the value and what is allowed."""
    if value is None:
        return None
    if p.type is bool:
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        raise _bad(p, value)
    if p.type is str:
        if p.choices and isinstance(value, Enum):  # Decoder.DECORD
            value = value.value
        if not isinstance(value, str):
            raise _bad(p, value)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as e:  # a lone surrogate: not text any tokenizer can take
            raise VizError(f"{p.name} is not valid Unicode text: {e.reason} at character {e.start} "
                           f"({value[e.start]!r}); allowed: any valid Unicode", field=p.name) from None
        if "\x00" in value and p.name == "tokenizer_dir":
            raise _bad(p, value)
        if p.choices and value not in p.choices:
            if value.lower() in p.choices:  # DECORD, PyAV: the names are case-insensitive
                return value.lower()
            raise _bad(p, value)
        if p.hi is not None and len(value) > p.hi:
            raise VizError(f"{p.name} is {len(value):,} characters; allowed: at most {p.hi:,.0f}", field=p.name)
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise _bad(p, value)
    if isinstance(value, (float, np.floating)) and not math.isfinite(value):
        raise _bad(p, value)
    if p.type is int:
        if isinstance(value, (float, np.floating)):
            if not float(value).is_integer():
                raise _bad(p, value)
        v: Any = int(value)
    else:
        v = float(value)
    if p.lo is not None and (v <= p.lo if p.lo_open else v < p.lo):
        raise _bad(p, value)
    if p.hi is not None and v > p.hi:
        raise _bad(p, value)
    return v


def check(values: dict[str, Any]) -> dict[str, Any]:
    """Every value coerced and checked, then the combinations; returns the cleaned dict."""
    unknown = sorted(set(values) - set(BY_NAME))
    if unknown:
        raise VizError(f"unknown parameter {unknown[0]!r}; allowed: {', '.join(BY_NAME)}", field="params")
    out = {k: coerce(BY_NAME[k], v) for k, v in values.items()}
    for k, p in BY_NAME.items():
        if out.get(k, p.default) is None and p.default is not None:
            out[k] = p.default  # an explicit None on a knob with a fixed default means that default
    g = {k: v for k, v in out.items() if v is not None}
    if "fps" in g and "nframes" in g:
        raise VizError(f"fps ({g['fps']}) and nframes ({g['nframes']}) were both given; they are mutually "
                       "exclusive: give either a sampling rate or a frame count", field="fps")
    pairs = (("min_frames", "max_frames", "<="), ("min_pixels", "max_pixels", "<="),
             ("video_start", "video_end", "<"))
    for a, b, op in pairs:
        if a in g and b in g and (g[a] > g[b] if op == "<=" else g[a] >= g[b]):
            raise VizError(f"{a} ({g[a]:g}) must be {op} {b} ({g[b]:g})", field=a)
    return out


def ignored(values: dict[str, Any], kind: str, pipeline: str) -> tuple[str, ...]:
    """The knobs set in ``values`` that this media kind / pipeline does not read."""
    out = []
    for k, v in values.items():
        p = BY_NAME[k]
        if v is None or v == p.effective_default():
            continue
        if (p.media == "video" and kind != "video") or (p.pipeline and p.pipeline != pipeline):
            out.append(k)
    return tuple(out)


def ignored_note(name: str, kind: str, pipeline: str) -> str:
    p = BY_NAME[name]
    from .words import say

    if p.media == "video" and kind != "video":
        return say("pm_video_only", name=name)
    return say("pm_pipeline_only", name=name, only=p.pipeline, pipeline=pipeline)


# ---- derived front ends ----------------------------------------------------------------------------
def add_arguments(ap: argparse.ArgumentParser) -> None:
    """One CLI flag per knob; argparse only splits the words, :func:`check` judges the values."""
    groups: dict[str, Any] = {}
    for p in PARAMS:
        target = ap
        if p.group:
            if p.group not in groups:
                groups[p.group] = ap.add_mutually_exclusive_group()
            target = groups[p.group]
        help_ = p.help + (f" [{p.unit}]" if p.unit and p.unit not in p.help else "")
        if p.type is bool:
            target.add_argument(p.flag, dest=p.name, action="store_true", help=help_)
        elif p.choices:  # a default read at call time stays None here: explain() reads it
            target.add_argument(p.flag, dest=p.name, choices=list(p.choices), default=p.default, help=help_)
        else:
            target.add_argument(p.flag, dest=p.name, type=_cli_type(p), help=help_)


def _cli_type(p: Param):
    if p.type is str:
        return _cli_str

    def parse(text: str):
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{p.name} must be {p.allowed()}, got {text!r}") from None
        try:
            return coerce(p, v)
        except VizError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    parse.__name__ = p.type.__name__
    return parse


def _cli_str(text: str) -> str:
    # argv arrives with invalid UTF-8 bytes as lone surrogates (surrogateescape): refuse them here
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise argparse.ArgumentTypeError(f"{text!r} is not valid UTF-8 text") from None
    return text


def from_args(args: argparse.Namespace) -> dict[str, Any]:
    return {p.name: getattr(args, p.name) for p in PARAMS if getattr(args, p.name, None) not in (None, False)}


def from_widget(name: str, value: Any) -> Any:
    """A widget's value as the knob's type (the browser sends floats, and 0 for an empty number box)."""
    p = BY_NAME[name]
    if value is None or (p.type in (int, float) and p.widget_zero_blank and value == 0 and not isinstance(value, bool)):
        return None
    if p.type is str and value == "" and not p.choices:
        return None  # an empty text box: the default
    return coerce(p, value)


def cli_args(params: Any, number=str) -> list[str]:
    """The CLI flags that give ``params`` (a ``Params``): the knobs set away from their defaults, in
    table order; ``number`` formats a float."""
    out: list[str] = []
    for p in PARAMS:
        v = getattr(params, p.name, None)
        if v is None or v == p.effective_default():
            continue
        if p.type is bool:
            out += [p.flag] if v else []
        else:
            out += [p.flag, number(v) if p.type is float else str(v)]
    return out


# ---- budgets ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BudgetRow:
    name: str
    default: int
    unit: str
    help: str

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


# Defaults serve every real checkpoint setting: qwen-vl-utils' whole-video budget at MODEL_SEQ_LEN 128000
# (0.9 x 128000 = 115,200 tokens, reached from 768 sampled frames), the Qwen3 processor's 24,576-token
# video size, 16,384-token images; the largest real pixel tensor is Qwen3-VL at 115,200 tokens,
# 460,800 rows x 1536 x 4 B = 2.83 GB.
BUDGETS: tuple[BudgetRow, ...] = (
    BudgetRow("max_vision_tokens", 131_072, "tokens", "most vision tokens (merged) one request may produce"),
    BudgetRow("max_sampled_frames", 768, "frames", "most frames one request may sample"),
    BudgetRow("max_pixel_bytes", 3 << 30, "bytes", "largest pixel_values tensor (float32) one request may build"),
)


@dataclass(frozen=True)
class Budget:
    """Limits on one request's work; ``None`` = no limit (library callers lift them explicitly)."""

    max_vision_tokens: int | None = BUDGETS[0].default
    max_sampled_frames: int | None = BUDGETS[1].default
    max_pixel_bytes: int | None = BUDGETS[2].default

    @classmethod
    def unlimited(cls) -> "Budget":
        return cls(**{b.name: None for b in BUDGETS})


DEFAULT_BUDGET = Budget()


def check_budget(budget: Budget, *, nframes: int, tokens: int, rows: int, row_len: int) -> None:
    """Refuse a request whose metadata says it is too big, before anything is built."""
    need_bytes = rows * row_len * 4
    checks = (
        (BUDGETS[1], nframes, f"{nframes:,} sampled frames"),
        (BUDGETS[0], tokens, f"{tokens:,} vision tokens"),
        (BUDGETS[2], need_bytes, f"a {need_bytes / 1e9:.2f} GB pixel_values tensor ([{rows:,}, {row_len:,}] float32)"),
    )
    for row, value, what in checks:
        limit = getattr(budget, row.name)
        if limit is not None and value > limit:
            raise VizError(
                f"this request needs {what}; {row.name} is {limit:,} {row.unit}. Lower the settings "
                f"(max_pixels, fps, patch_size), or raise the limit: CLI or app {row.flag} N (0 = none), "
                f"library explain(..., budget=Budget({row.name}=N)) or Budget.unlimited()",
                field="budget",
            )


def add_budget_arguments(ap: argparse.ArgumentParser) -> None:
    for b in BUDGETS:
        ap.add_argument(b.flag, dest=b.name, type=_budget_type(b), default=b.default,
                        help=f"{b.help} (default {b.default:,} {b.unit}; 0 = no limit)")


def _budget_type(b: BudgetRow):
    def parse(text: str) -> int | None:
        try:
            v = int(float(text)) if math.isfinite(float(text)) and float(text).is_integer() else None
        except (ValueError, OverflowError):
            v = None
        if v is None or v < 0:
            raise argparse.ArgumentTypeError(f"{b.name} must be a whole number >= 0 ({b.unit}), got {text!r}")
        return v

    parse.__name__ = "int"
    return parse


def budget_from_args(args: argparse.Namespace) -> Budget:
    return budget_from_mapping({b.name: getattr(args, b.name, b.default) for b in BUDGETS})


def budget_from_mapping(values: dict[str, Any]) -> Budget:
    """0 or None = no limit."""
    return Budget(**{k: (int(v) or None) if v is not None else None for k, v in values.items()})


def replace_ignored(params: Any, names: tuple[str, ...]) -> Any:
    """``params`` with the ignored knobs back at their defaults (they are reported, not echoed)."""
    return dataclasses.replace(params, **{n: BY_NAME[n].default for n in names}) if names else params
