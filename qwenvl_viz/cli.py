"""``python -m qwenvl_viz explain MEDIA`` / ``encode MEDIA``: render a Trace as text, JSON or NPZ.

User mistakes exit with status 2 and one line ``error: ...`` on stderr; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import contextmanager

from . import params as vocab
from .errors import VizError
from .profiles import DEFAULT_MODEL, Family, Pipeline

__all__ = ["main", "build_parser", "trace_from_args"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own usage errors: same one-line contract
        self.exit(2, f"error: {message}\n")


def add_preprocess_arguments(ap: argparse.ArgumentParser) -> None:
    """The media, family and pipeline, then one flag per knob and per budget limit (from the vocabulary)."""
    ap.add_argument("media", type=vocab._cli_str, help="image or video file")
    ap.add_argument("--model", choices=[f.value for f in Family], default=DEFAULT_MODEL.value)
    ap.add_argument("--pipeline", choices=[p.value for p in Pipeline], default=Pipeline.OFFICIAL.value,
                    help="official = qwen-vl-utils 0.0.14 then the processor; processor = transformers alone")
    vocab.add_arguments(ap)
    vocab.add_budget_arguments(ap, figures=False)


ENCODER_COMMANDS = ("encode", "fetch-tower")  # their flags come from the encoder package (torch)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole CLI, or, given the subcommand about to run, the parts it needs.

    The encoder's flags are declared by ``encoder.cli``, whose import loads torch (seconds); a
    ``command`` other than ``encode`` / ``fetch-tower`` keeps those subcommands' names and help but
    not their flags, so ``explain`` starts without torch.
    """
    ap = _Parser(prog="python -m qwenvl_viz", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True, parser_class=_Parser)
    ex = sub.add_parser("explain", help="every preprocessing step for MEDIA")
    add_preprocess_arguments(ex)
    ex.add_argument("--json", action="store_true", help="print one JSON object")
    ex.add_argument("--checkpoint", metavar="DIR|OWNER/NAME[@REV]",
                    help="checkpoint folder or Hub repo id whose tokenizer.json to use (Hub: small files only)")
    ex.add_argument("--save", metavar="OUT.npz", help="write pixel_values, grid_thw, input_ids, position_ids, frame_indices")
    en = sub.add_parser("encode", help="run the vision encoder on MEDIA")
    fetch_help = "fetch only the vision tower of a Hub checkpoint"
    if command is not None and command not in ENCODER_COMMANDS:
        sub.add_parser("fetch-tower", help=fetch_help)
        return ap
    add_preprocess_arguments(en)
    en.add_argument("--json", action="store_true")
    en.add_argument("--save", metavar="OUT.npz")
    try:
        from .encoder.cli import add_encode_arguments
    except ImportError:  # encoder not installed in this build
        pass
    else:
        add_encode_arguments(en)
        from .encoder.cli import add_fetch_arguments

        add_fetch_arguments(sub.add_parser("fetch-tower", help=fetch_help))
    return ap


def _command(argv: list[str]) -> str:
    """The subcommand named in ``argv`` (its first non-option word), or "" when there is none."""
    return next((a for a in argv if not a.startswith("-")), "")


def trace_from_args(args: argparse.Namespace):
    from .trace import explain

    params = vocab.from_args(args)
    checkpoint = getattr(args, "checkpoint", None)
    if checkpoint and "tokenizer_dir" not in params:  # the checkpoint's own tokenizer, where it has one
        from .encoder.hub import checkpoint_files

        folder = checkpoint_files(checkpoint)
        if (folder / "tokenizer.json").is_file():
            params["tokenizer_dir"] = str(folder)
    return explain(args.media, model=args.model, pipeline=args.pipeline, budget=vocab.budget_from_args(args),
                   **params)


def walkthrough(trace) -> str:
    """The group-meeting slide, as text."""
    from .trace import ledger

    m = trace.media
    lines = [f"{trace.profile.display_name} · {trace.pipeline.value} pipeline · {m.path}"]
    if m.kind == "video":
        lines.append(
            f"media     {m.container}: {m.width}x{m.height} (WxH) displayed, coded {m.coded_width}x{m.coded_height}, "
            f"rotation {m.rotation}, {m.frames} frames (header {m.frames_header}) @ {m.fps:.4g} fps, "
            f"{m.duration or 0:.3f} s"
        )
    else:
        lines.append(f"media     {m.container}: {m.width}x{m.height} (WxH), mode {m.mode}, "
                     f"EXIF orientation {m.exif_orientation or '-'} ({'applied' if trace.exif_applied else 'not applied'})")
    if trace.decoder is not None:
        v = trace.decoder
        lines.append(f"decoder   {v.label}: {v.frames} frames ({v.count_source}) @ {v.fps:.6g} fps, "
                     f"{v.width}x{v.height}, rotation {'applied' if v.rotation_applied else 'not applied'}")
    for row in ledger(trace):
        lines.append(f"{row.stage:<14}{row.shape:<22}{row.formula}")
    if trace.sampling is not None:
        lines.append(f"indices   {list(trace.sampling.indices)}")
        lines.append(f"decided by {trace.sampling.decided_by}")
    lines.append(f"resize    {trace.resize.branch}; {trace.resize.deciding_step.budget}")
    for note in trace.notes:
        lines.append(f"note      {note}")
    return "\n".join(lines)


@contextmanager
def _no_frame_cache():
    """One trace per command: each sampled frame is decoded once, so keeping decoded frames is only
    memory (up to the cache's 128 MiB beside a large pixel tensor). The limit is restored after."""
    from .media import decode_stats, set_frame_cache_limit

    kept = decode_stats()["cache_limit_bytes"]
    set_frame_cache_limit(0)
    try:
        yield
    finally:
        set_frame_cache_limit(kept)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser(_command(argv)).parse_args(argv)
    except SystemExit as e:  # usage errors were printed as one "error: ..." line; --help exits 0
        return int(e.code or 0)
    try:
        if args.command == "fetch-tower":
            from .encoder.cli import run_fetch

            summary = run_fetch(args)
            if args.json:
                print(json.dumps(summary, allow_nan=False))
            return 0
        with _no_frame_cache():
            trace = trace_from_args(args)
            if args.command == "explain":
                if args.save:
                    from .export import to_npz

                    to_npz(trace, args.save)  # writes exactly args.save, or raises VizError
                if args.json:
                    print(json.dumps(trace.summary(), allow_nan=False))
                else:
                    print(walkthrough(trace))
                    if args.save:
                        print(f"saved     {os.path.abspath(args.save)}")
                return 0
            from .encoder.cli import run_encode

            summary = run_encode(args, trace)
            if args.json:
                from .trace import json_safe

                print(json.dumps({"trace": trace.summary(), "encoder": json_safe(summary)}, allow_nan=False))
            return 0
    except VizError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # a bug of ours: still one line; QWENVL_VIZ_DEBUG=1 shows the traceback
        if os.environ.get("QWENVL_VIZ_DEBUG"):
            raise
        print(f"error: internal error ({type(e).__name__}: {e}); rerun with QWENVL_VIZ_DEBUG=1 and report it",
              file=sys.stderr)
        return 1
