"""Reproduce-in-code: run the generated snippets with the reference stack and compare with the page.

The snippets run in a subprocess with the venv's python, in a scratch folder, offline. The torchvision
shim of conftest.py is put in a ``sitecustomize.py`` on that subprocess's PYTHONPATH, so the snippet
users copy stays free of it. One subprocess runs all the small cases (``runpy``, one namespace each);
the sample clip runs as ``python snippet.py``, as a user would (slow).

What the snippet prints is what transformers 5.23 computes; the page's numbers are compared in that
mode (``text_resume="transformers"``, Qwen3's outer wrapper kept), and the release-mode differences
are checked against :mod:`qwenvl_viz.versions`.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from media_factory import media_files  # noqa: F401  (fixture)
from qwenvl_viz import explain
from qwenvl_viz.cli import build_parser, trace_from_args
from qwenvl_viz.reproduce import SNIPPET_KEYS, cli_command, collapse_pads, python_snippet
from qwenvl_viz.versions import version_differences

pytest.importorskip("qwen_vl_utils")
pytest.importorskip("decord")

SHIM = Path(__file__).with_name("conftest.py").read_text()  # the torchvision shim + offline env vars
RUNNER = """
import runpy, sys, traceback
for path in sys.argv[1:]:
    print("=== " + path, flush=True)
    try:
        runpy.run_path(path, run_name="__main__")
    except BaseException:
        traceback.print_exc(file=sys.stdout)
    print("=== end", flush=True)
"""
LINE = re.compile(r"^(\w+)\s+(.*)$")
CASE_NAMES = (
    "qwen2.5_official_video", "qwen3_official_video_trimmed", "qwen2_processor_video",
    "qwen3_processor_video_cap", "qwen2.5_official_image_rgba", "qwen3_processor_image_exif",
    "qwen3.5_official_video", "qwen3_vl_moe_official_image", "qwen4_exp_processor_video",
)


def make_cases(mf) -> dict:
    clip = mf.video("mp4", width=392, height=280, fps=10, frames=25, gop=5)
    return {
        "qwen2.5_official_video": (clip, dict(model="qwen2.5-vl", fps=3.0, min_frames=6, max_pixels=80_000,
                                              min_pixels=20_000, prompt='What "happens"?')),
        "qwen3_official_video_trimmed": (clip, dict(model="qwen3-vl", video_start=0.3, video_end=2.1,
                                                    total_pixels=2_000_000)),
        "qwen2_processor_video": (clip, dict(model="qwen2-vl", pipeline="processor", nframes=6, max_pixels=50_000)),
        "qwen3_processor_video_cap": (clip, dict(model="qwen3-vl", pipeline="processor", cap_pixels_per_frame=True)),
        "qwen2.5_official_image_rgba": (mf.image("png", width=401, height=233, mode="RGBA"),
                                        dict(model="qwen2.5-vl", max_pixels=60_000)),
        "qwen3_processor_image_exif": (mf.image("jpeg", width=300, height=200, exif_orientation=6),
                                       dict(model="qwen3-vl", pipeline="processor")),
        # the newer families: their own tokenizer / config / model classes in the snippet
        "qwen3.5_official_video": (clip, dict(model="qwen3.5", fps=3.0)),
        "qwen3_vl_moe_official_image": (mf.image("png", width=401, height=233), dict(model="qwen3-vl-moe")),
        "qwen4_exp_processor_video": (clip, dict(model="qwen4-exp", pipeline="processor", nframes=6)),
    }


def run_snippets(paths: list[Path], workdir: Path, timeout: int = 300) -> dict[str, dict]:
    """Run each snippet file; returns ``{path: {key: value}}`` parsed from its ``name  json`` lines."""
    (workdir / "sitecustomize.py").write_text(SHIM)
    (workdir / "runner.py").write_text(RUNNER)
    env = {**os.environ, "PYTHONPATH": str(workdir), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    out = subprocess.run([sys.executable, str(workdir / "runner.py"), *map(str, paths)], cwd=workdir, env=env,
                         capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr[-3000:]
    results: dict[str, dict] = {}
    current = None
    for line in out.stdout.splitlines():
        if line.startswith("=== "):
            current = None if line == "=== end" else results.setdefault(line[4:], {"_raw": []})
            continue
        if current is not None:
            current["_raw"].append(line)
            m = LINE.match(line)
            if m and m.group(1) in SNIPPET_KEYS:
                current[m.group(1)] = json.loads(m.group(2))
    return results


def transformers_view(trace):
    """The same settings as transformers 5.23 computes them (what the snippet runs)."""
    return explain(trace.media.path, model=trace.model, pipeline=trace.pipeline,
                   **{**{k: v for k, v in trace.params.__dict__.items() if v is not None},
                      "text_resume": "transformers", "qwen3_outer_wrapper": trace.profile.timestamps})


def check_printed(got: dict, trace) -> None:
    assert set(SNIPPET_KEYS) <= set(got), "\n".join(got["_raw"][-30:])
    t5 = transformers_view(trace)
    assert got["pixel_values"] == list(trace.patchify.shape)
    assert got["grid_thw"] == list(trace.patchify.grid_thw)
    s = trace.sampling
    if s is None:
        assert got["frame_indices"] is None and got["sample_fps"] is None
    else:
        assert got["frame_indices"] == list(s.indices)
        assert got["sample_fps"] == pytest.approx(s.sample_fps, rel=1e-12)
    spg = trace.prompt.second_per_grid_ts if trace.profile.tokens_per_second else None
    assert got["second_per_grid_ts"] == (None if spg is None else pytest.approx(spg, rel=1e-6))  # float32 there
    assert got["timestamps"] == (None if trace.prompt.timestamp_strings is None else list(trace.prompt.timestamp_strings))
    assert got["vision_tokens"] == trace.num_vision_tokens
    assert got["input_ids"] == t5.prompt.num_tokens
    assert got["prompt"] == collapse_pads(t5.prompt.expanded_text)
    pos = t5.rope.position_ids
    pads = (trace.profile.image_pad_id, trace.profile.video_pad_id)
    vision = [i for i, v in enumerate(t5.input_ids.tolist()) if v in pads]
    assert got["position_ids_first"] == pos[:, 0].tolist()
    assert got["position_ids_first_vision"] == pos[:, vision[0]].tolist()
    assert got["position_ids_last_vision"] == pos[:, vision[-1]].tolist()
    assert got["position_ids_last"] == pos[:, -1].tolist()
    assert got["position_ids_max"] == pos.max(axis=1).tolist()
    assert got["rope_deltas"] == t5.rope.rope_deltas


def expected_block(snippet: str) -> dict:
    """The ``# Expected`` comment block of a snippet, parsed."""
    block = snippet.split("# Expected (qwenvl-viz):\n", 1)[1]
    out = {}
    for line in block.splitlines():
        m = re.match(r"^#   (\w+)\s+(.*)$", line)
        if m:
            out[m.group(1)] = json.loads(m.group(2))
    return out


@pytest.fixture(scope="module")
def snippets(media_files):
    """Every small case's trace and snippet text (cheap: metadata only)."""
    cases = {name: explain(path, **kw) for name, (path, kw) in make_cases(media_files).items()}
    return {name: (trace, python_snippet(trace)) for name, trace in cases.items()}


@pytest.fixture(scope="module")
def batch(snippets, tmp_path_factory):
    """Every small case's trace, snippet text and printed numbers (one subprocess, ~10 s)."""
    work = tmp_path_factory.mktemp("snippets")
    paths = {}
    for name, (_, snippet) in snippets.items():
        paths[name] = work / f"{name.replace('.', '_')}.py"
        paths[name].write_text(snippet)
    printed = run_snippets(list(paths.values()), work)
    return {name: (*snippets[name], printed[str(paths[name])]) for name in snippets}


@pytest.mark.slow
@pytest.mark.parametrize("name", CASE_NAMES)
def test_snippet_prints_the_pages_numbers(batch, name):
    trace, snippet, printed = batch[name]
    check_printed(printed, trace)
    expected = expected_block(snippet)
    assert expected.keys() == set(SNIPPET_KEYS)
    for key in SNIPPET_KEYS:  # the expectation written into the snippet is what it prints
        if key == "second_per_grid_ts" and expected[key] is not None:
            assert printed[key] == pytest.approx(expected[key], rel=1e-6)
        else:
            assert printed[key] == expected[key], key


@pytest.mark.slow
def test_release_differences_are_noted_and_match_transformers(batch):
    trace, snippet, printed = batch["qwen3_official_video_trimmed"]
    assert "keeps Qwen3's outer" in snippet
    kept = {d.key: d for d in version_differences(trace)}["qwen3_outer_wrapper"].variants[1].value
    assert printed["input_ids"] == kept["prompt_tokens"] == trace.prompt.num_tokens + 2
    assert "Note:" not in batch["qwen2.5_official_video"][1]


def test_snippet_is_clean_and_standalone(snippets):
    for trace, snippet in snippets.values():
        compile(snippet, "snippet.py", "exec")
        assert "torch.library" not in snippet and "nms" not in snippet and "qwenvl_viz import" not in snippet
        assert json.dumps(str(Path(trace.media.path).resolve())) in snippet
        assert ("process_vision_info" in snippet) == (trace.pipeline.value == "official")
        assert cli_command(trace) in snippet


@pytest.mark.parametrize("name", CASE_NAMES)
def test_cli_command_rebuilds_the_same_trace(media_files, name):
    path, kw = make_cases(media_files)[name]
    trace = explain(path, **kw)
    argv = shlex.split(cli_command(trace))
    assert argv[:4] == ["python", "-m", "qwenvl_viz", "explain"]
    again = trace_from_args(build_parser().parse_args(argv[3:]))
    assert again.summary() == trace.summary()


def test_cli_command_quotes_and_flags():
    trace = explain("assets/sample_image.jpg", model="qwen3-vl", prompt="It's a \"test\"; rm -rf /",
                    text_resume="transformers", min_pixels=4096.0)
    cmd = cli_command(trace)
    assert "--min-pixels 4096 " in cmd and "--text-resume transformers" in cmd
    assert shlex.split(cmd)[shlex.split(cmd).index("--prompt") + 1] == "It's a \"test\"; rm -rf /"


@pytest.mark.slow
def test_sample_clip_snippet_runs_as_a_script(tmp_path):
    trace = explain("assets/sample_clip.mp4", model="qwen2.5-vl")
    path = tmp_path / "reproduce.py"
    path.write_text(python_snippet(trace))
    (tmp_path / "sitecustomize.py").write_text(SHIM)
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, str(path)], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    got = {m.group(1): json.loads(m.group(2)) for m in map(LINE.match, out.stdout.splitlines()) if m}
    got["_raw"] = out.stdout.splitlines()
    check_printed(got, trace)
    assert got["pixel_values"] == [23040, 1176] and got["grid_thw"] == [8, 72, 40] and got["rope_deltas"] == -5724
