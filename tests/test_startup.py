"""What a fresh ``explain`` process loads, and the start-up caches that let it skip torch and the
tokenizer file: the numbers must be the same bits with or without them.

- the CLI builds ``explain``'s parser without the encoder package (torch);
- ``sampling.linspace_indices`` equals ``torch.linspace(...).round()`` (torch decides near a half);
- the tv1 resampler's checked taps and the tokenizer's answers round-trip through ``disk_cache``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from media_factory import media_files  # noqa: F401  (fixture)
from qwenvl_viz import explain, sampling, tokens, tv1_kernel
from qwenvl_viz.profiles import get_profile

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "qwenvl_viz.encoder", "gradio", "tokenizers", "transformers")

_PROBE = """
import json, sys
from qwenvl_viz.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "loaded": [m for m in %r if m in sys.modules]}))
""" % (HEAVY,)


def _explain_process(argv: list[str], cache: Path) -> dict:
    env = dict(os.environ, QWENVL_VIZ_CACHE_DIR=str(cache))
    r = subprocess.run([sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True, env=env, cwd=ROOT,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_explain_save_loads_no_torch_once_the_start_up_caches_are_filled(media_files, tmp_path):
    clip = media_files.video("mp4", width=160, height=120, frames=30, gop=12)  # resized by tv1: 112x168
    cache = tmp_path / "cache"
    first = _explain_process(["explain", str(clip), "--save", str(tmp_path / "a.npz")], cache)
    again = _explain_process(["explain", str(clip), "--save", str(tmp_path / "b.npz")], cache)
    assert first["code"] == again["code"] == 0
    assert "qwenvl_viz.encoder" not in first["loaded"]  # the parser alone never loads it
    assert again["loaded"] == []  # taps and token ids from the cache: no torch, no tokenizer file
    assert sorted(p.name for p in cache.iterdir()) == ["tokens", "tv1"]
    with np.load(tmp_path / "a.npz") as a, np.load(tmp_path / "b.npz") as b:
        assert a.files == b.files and all(np.array_equal(a[k], b[k]) for k in a.files)
        t = explain(clip)
        assert torch.equal(torch.from_numpy(b["pixel_values"]), t.pixel_values)
        assert np.array_equal(b["input_ids"], t.input_ids) and np.array_equal(b["position_ids"], t.position_ids)


def test_the_explain_parser_leaves_the_encoder_unloaded_and_the_full_parser_has_its_flags():
    code = ("import sys; from qwenvl_viz.cli import build_parser; "
            "build_parser('explain').parse_args(['explain', 'x.mp4', '--fps', '1']); "
            "print([m for m in ('torch', 'qwenvl_viz.encoder') if m in sys.modules])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stderr[-2000:]
    from qwenvl_viz.cli import build_parser

    encode = build_parser()._subparsers._group_actions[0].choices["encode"].format_help()
    assert "--preset" in encode and "--layers" in encode
    args = build_parser("encode").parse_args(["encode", "x.mp4", "--layers", "0,-1"])
    assert args.layers == "0,-1"


# ---- numbers without torch ------------------------------------------------------------------------


def _cases():
    for start in (0, 1, 17):
        for end in range(start + 1, start + 300, 13):
            for n in range(1, min(end - start + 2, 40)):
                yield start, end, n
    for end in (248, 1799, 8999, 107999):  # the sample clip, 1 min, 5 min, 1 h at 30 fps
        for n in (2, 16, 120, 121, 767, 768):
            yield 0, end, n


def test_linspace_indices_equal_torch_linspace_rounded():
    """Exact where every float32 evaluation order agrees, torch's own answer near a half-integer."""
    for start, end, n in _cases():
        want = torch.linspace(start, end, n).round().long().tolist()
        assert sampling.linspace_indices(start, end, n) == want, (start, end, n)


def test_linspace_indices_of_even_counts_need_no_torch(monkeypatch):
    """qwen-vl-utils samples an even count, whose values never sit on a half: torch is not asked."""
    monkeypatch.setattr(torch, "linspace", lambda *a, **k: pytest.fail(f"torch.linspace{a} was called"))
    for start, end, n in [(0, 248, 16), (0, 1799, 120), (3, 900, 64), (0, 29, 30)]:
        assert len(sampling.linspace_indices(start, end, n)) == n


# ---- the start-up caches ----------------------------------------------------------------------------


def test_tv1_plans_round_trip_through_the_disk_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("QWENVL_VIZ_CACHE_DIR", str(tmp_path))
    geometry = (90, 160, 56, 112)
    tv1_kernel._plan.cache_clear()
    made = tv1_kernel._plan(*geometry)
    assert made is not None and len(list(tmp_path.glob("tv1/*/90x160-56x112.npz"))) == 1
    tv1_kernel._plan.cache_clear()
    monkeypatch.setattr(tv1_kernel, "_calibrate", lambda: pytest.fail("checked again instead of read back"))
    read = tv1_kernel._plan(*geometry)
    assert all(np.array_equal(a, b) and a.dtype == b.dtype for a, b in zip(made, read))
    frame = np.random.default_rng(1).integers(0, 256, (90, 160, 3), dtype=np.uint8)
    tv1_kernel._plan.cache_clear()
    monkeypatch.undo()
    assert np.array_equal(tv1_kernel.resample_chw(frame, (56, 112)), tv1_kernel._torch_resize(
        torch.from_numpy(frame).permute(2, 0, 1)[None].float(), (56, 112))[0].clamp(0, 255).round().numpy())
    tv1_kernel._plan.cache_clear()


def test_tv1_cache_key_names_the_libraries_and_the_cpu():
    key_text = tv1_kernel._cpu_identity()
    assert key_text  # a CPU description exists on this machine
    assert len(tv1_kernel._build_key()) == 20


def test_tokenizer_answers_come_back_from_disk_without_reading_the_file(monkeypatch, tmp_path):
    monkeypatch.setenv("QWENVL_VIZ_CACHE_DIR", str(tmp_path))
    tokens._load.cache_clear()
    text = "<|vision_end|>Describe this clip, 请描述。<|im_end|>\n"
    tok, _ = tokens.load_tokenizer(None, get_profile("qwen2.5-vl"))
    ids = tok.encode(text)
    real = tokens._read(tok.source).encode(text)
    assert ids == real and tok._tok is not None
    tokens._load.cache_clear()
    again, _ = tokens.load_tokenizer(None, get_profile("qwen2.5-vl"))  # checks the four vision ids too
    assert again.encode(text) == real and again._tok is None  # all from the memo file
    assert again.encode("not asked before") == tokens._read(tok.source).encode("not asked before")
    assert again._tok is not None
    tokens._load.cache_clear()


def test_a_replaced_tokenizer_file_gets_a_new_memo(monkeypatch, tmp_path):
    import shutil

    monkeypatch.setenv("QWENVL_VIZ_CACHE_DIR", str(tmp_path / "cache"))
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    shutil.copy(tokens._bundled_path(get_profile("qwen2-vl")), ckpt / "tokenizer.json")
    tokens._load.cache_clear()
    tokens.load_tokenizer(ckpt, get_profile("qwen2-vl"))[0].encode("hello")
    os.utime(ckpt / "tokenizer.json", ns=(1, 1))
    tokens._load.cache_clear()
    tokens.load_tokenizer(ckpt, get_profile("qwen2-vl"))[0].encode("hello")
    assert len(list((tmp_path / "cache" / "tokens").glob("*.json"))) == 2
    tokens._load.cache_clear()


def test_an_unwritable_cache_costs_time_not_numbers(monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("QWENVL_VIZ_CACHE_DIR", str(blocker))  # mkdir under a file fails
    tokens._load.cache_clear()
    tok, _ = tokens.load_tokenizer()
    assert tok.encode("Describe this video.") == tokens._read(tok.source).encode("Describe this video.")
    tv1_kernel._plan.cache_clear()
    assert tv1_kernel._plan(90, 160, 56, 84) is not None
    tokens._load.cache_clear()
    tv1_kernel._plan.cache_clear()
