"""``python -m qwenvl_viz explain MEDIA`` / ``encode MEDIA``: render a Trace as text, JSON or NPZ.

User mistakes exit with status 2 and one line ``error: ...`` on stderr; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from .errors import VizError
from .profiles import Decoder, Family, Pipeline

__all__ = ["main", "build_parser", "trace_from_args"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own usage errors: same one-line contract
        self.exit(2, f"error: {message}\n")


def add_preprocess_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("media", help="image or video file")
    ap.add_argument("--model", choices=[f.value for f in Family], default=Family.QWEN2_5_VL.value)
    ap.add_argument("--pipeline", choices=[p.value for p in Pipeline], default=Pipeline.OFFICIAL.value,
                    help="official = qwen-vl-utils 0.0.14 then the processor; processor = transformers alone")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--fps", type=float, help="sampling rate (frames per second); default 2.0")
    g.add_argument("--nframes", type=int, help="number of frames to sample (instead of --fps)")
    ap.add_argument("--decoder", choices=[d.value for d in Decoder], default=None,
                    help="whose frames and metadata to follow: torchcodec (default; $FORCE_QWENVL_VIDEO_READER "
                         "if set), decord, or pyav (transformers load_video's default)")
    ap.add_argument("--min-frames", type=int)
    ap.add_argument("--max-frames", type=int)
    ap.add_argument("--min-pixels", type=float, help="pixels, not tokens (N tokens = N x factor^2 px)")
    ap.add_argument("--max-pixels", type=float, help="pixels, not tokens (N tokens = N x factor^2 px)")
    ap.add_argument("--total-pixels", type=float, help="whole-video budget in pixels (official pipeline)")
    ap.add_argument("--video-start", type=float, help="seconds")
    ap.add_argument("--video-end", type=float, help="seconds")
    ap.add_argument("--patch-size", type=int)
    ap.add_argument("--merge-size", type=int)
    ap.add_argument("--temporal-patch-size", type=int)
    ap.add_argument("--prompt", help="user text after the media")
    ap.add_argument("--cap-pixels-per-frame", action="store_true",
                    help="processor pipeline: transformers' opt-in qwen-vl-utils-like per-frame cap")
    ap.add_argument("--text-resume", choices=["release", "transformers"], default="release",
                    help="text position after a vision block: release (max+1) or transformers >= 5.12")
    ap.add_argument("--qwen3-outer-wrapper", action="store_true",
                    help="Qwen3-VL: keep the outer vision_start/end as transformers 5.12+ does")
    ap.add_argument("--tokenizer", dest="tokenizer_dir", help="checkpoint folder whose tokenizer.json to use")
    ap.add_argument("--model-seq-len", type=int,
                    help="context length behind qwen-vl-utils' default video budget (MODEL_SEQ_LEN, 128000)")


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="python -m qwenvl_viz", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True, parser_class=_Parser)
    ex = sub.add_parser("explain", help="every preprocessing step for MEDIA")
    add_preprocess_arguments(ex)
    ex.add_argument("--json", action="store_true", help="print one JSON object")
    ex.add_argument("--checkpoint", metavar="DIR|OWNER/NAME[@REV]",
                    help="checkpoint folder or Hub repo id whose tokenizer.json to use (Hub: small files only)")
    ex.add_argument("--save", metavar="OUT.npz", help="write pixel_values, grid_thw, input_ids, position_ids, frame_indices")
    en = sub.add_parser("encode", help="run the vision encoder on MEDIA")
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

        add_fetch_arguments(sub.add_parser("fetch-tower", help="fetch only the vision tower of a Hub checkpoint"))
    return ap


_PARAM_KEYS = (
    "fps", "nframes", "min_frames", "max_frames", "min_pixels", "max_pixels", "total_pixels", "video_start",
    "video_end", "patch_size", "merge_size", "temporal_patch_size", "prompt", "cap_pixels_per_frame",
    "text_resume", "qwen3_outer_wrapper", "tokenizer_dir", "model_seq_len", "decoder",
)


def trace_from_args(args: argparse.Namespace):
    from .trace import explain

    params = {k: getattr(args, k) for k in _PARAM_KEYS if getattr(args, k, None) is not None}
    checkpoint = getattr(args, "checkpoint", None)
    if checkpoint and "tokenizer_dir" not in params:  # the checkpoint's own tokenizer, where it has one
        from .encoder.hub import checkpoint_files

        folder = checkpoint_files(checkpoint)
        if (folder / "tokenizer.json").is_file():
            params["tokenizer_dir"] = str(folder)
    return explain(args.media, model=args.model, pipeline=args.pipeline, **params)


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


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # usage errors were printed as one "error: ..." line; --help exits 0
        return int(e.code or 0)
    try:
        if args.command == "fetch-tower":
            from .encoder.cli import run_fetch

            summary = run_fetch(args)
            if args.json:
                print(json.dumps(summary))
            return 0
        trace = trace_from_args(args)
        if args.command == "explain":
            if args.save:
                from .export import to_npz

                to_npz(trace, args.save)
            if args.json:
                print(json.dumps(trace.summary()))
            else:
                print(walkthrough(trace))
                if args.save:
                    print(f"saved     {args.save}")
            return 0
        from .encoder.cli import run_encode

        summary = run_encode(args, trace)
        if args.json:
            print(json.dumps({"trace": trace.summary(), "encoder": summary}))
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
