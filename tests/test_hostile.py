"""Hostile and heavy input: only VizError leaves explain(), budgets refuse heavy requests on metadata,
JSON is strict, --save writes where it says, and one session's file never shows in another's page.

The media are small generated files; the fuzz runs a bounded number of examples.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from media_factory import media_files  # noqa: F401  (pytest fixture)
from qwenvl_viz import VizError, explain
from qwenvl_viz.cli import main
from qwenvl_viz.params import BUDGETS, BY_NAME, DEFAULT_BUDGET, PARAMS, Budget
from qwenvl_viz.profiles import Family

MODELS = [f.value for f in Family]  # every family, the new ones included

# Examples per fuzz: bounded so the suite stays fast; QWENVL_FUZZ_EXAMPLES=2000 for a long hunt.
FUZZ = int(os.environ.get("QWENVL_FUZZ_EXAMPLES", "0")) or None

HEAVY = [  # (media kind, model, pipeline, params): each far past a default budget
    ("video", "qwen2.5-vl", "processor", dict(patch_size=1, min_frames=289, min_pixels=5117236.0)),
    ("video", "qwen2.5-vl", "processor", dict(patch_size=1, min_pixels=5e6)),
    ("video", "qwen3-vl", "official", dict(min_pixels=1e15, max_pixels=1e15, total_pixels=1e15)),
    ("video", "qwen3-vl", "processor", dict(min_pixels=1e14, max_pixels=1e15, cap_pixels_per_frame=True)),
    ("image", "qwen2-vl", "processor", dict(patch_size=64, merge_size=3, min_pixels=1e12, max_pixels=1e12)),
    ("image", "qwen2-vl", "processor", dict(patch_size=1, min_pixels=1e9, max_pixels=1e9)),
]


@pytest.fixture(scope="module")
def small(media_files):  # noqa: F811
    return {"image": str(media_files.image("png", width=64, height=48)),
            "video": str(media_files.video("mp4", width=64, height=48, frames=30))}


def _json(obj) -> object:
    text = json.dumps(obj, allow_nan=False)  # raises on NaN / inf and on any non-JSON type
    return json.loads(text)


def _check_invariants(t, budget: Budget) -> None:
    pt = t.patchify
    gt, gh, gw = pt.grid_thw
    assert pt.rows == gt * gh * gw and pt.rows % pt.merge_size**2 == 0
    assert t.num_vision_tokens <= budget.max_vision_tokens
    assert pt.rows * pt.row_len * 4 <= budget.max_pixel_bytes
    prof = t.profile  # the family's own pad ids (Qwen3.5's differ)
    pad = prof.video_pad_id if t.kind == "video" else prof.image_pad_id
    assert int(np.count_nonzero(np.asarray(t.input_ids) == pad)) == t.num_vision_tokens
    assert np.asarray(t.position_ids).shape[-1] == len(t.input_ids)
    if t.sampling is not None:
        assert t.sampling.nframes == len(t.sampling.indices) <= budget.max_sampled_frames
    if pt.rows * pt.row_len * 4 <= 32 << 20:  # small enough to build here: the tensor matches its metadata
        pv = np.asarray(t.pixel_values)
        assert pv.shape == (pt.rows, pt.row_len) and pv.dtype == np.float32 and np.isfinite(pv).all()
    s = _json(t.summary())
    for name in t.ignored:  # reported, not echoed
        assert name not in s["params"] and name in s["ignored"]


_junk = st.sampled_from([None, 0, -1, 1, 2, 3.5, 1e300, -1e300, math.inf, -math.inf, math.nan, "abc", "", True,
                         b"\xff", 1j, [1], np.float64(2.0), np.int64(4), np.float32(math.nan), 2**70])


def _good(p):
    """A well-typed value, in range or not: the stages and the budgets see these."""
    if p.choices:
        return st.sampled_from(p.choices)
    if p.type is bool:
        return st.booleans()
    if p.type is str:
        return st.text(max_size=40)
    if p.type is int:
        return st.integers(min_value=1, max_value=12) if p.name.endswith("size") else st.integers(1, 400)
    return st.floats(min_value=0.05, max_value=60.0) if p.unit in ("s", "frames per second") else \
        st.floats(min_value=1e3, max_value=1e13)


def _value(p):
    if p.choices:
        good = st.sampled_from(p.choices)
    elif p.type is bool:
        good = st.booleans()
    elif p.type is str:
        good = st.text(max_size=40)  # any Unicode, lone surrogates included
    elif p.type is int:
        good = st.integers(min_value=-2, max_value=400)
    else:
        good = st.floats(allow_nan=True, allow_infinity=True, width=64) | st.floats(min_value=0.01, max_value=3e6)
    return st.one_of(good, _junk)


_params = st.fixed_dictionaries({}, optional={p.name: _value(p) for p in PARAMS if p.name != "tokenizer_dir"})
_typed = st.fixed_dictionaries({}, optional={p.name: _good(p) for p in PARAMS
                                            if p.name not in ("tokenizer_dir", "nframes", "model_seq_len")})


@settings(max_examples=FUZZ or 120, deadline=None, derandomize=FUZZ is None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["image", "video"]), model=st.sampled_from([*MODELS, "x"]),
       pipeline=st.sampled_from(["official", "processor", 3]), params=_params)
def test_fuzzed_parameters_raise_only_deliberate_viz_errors_and_keep_the_invariants(small, kind, model, pipeline,
                                                                                      params):
    try:
        t = explain(small[kind], model=model, pipeline=pipeline, **params)
    except VizError as e:
        assert not getattr(e, "internal", False), str(e)  # not the safety net: a bug would land there
        assert str(e)
        event(f"VizError {e.field}")  # --hypothesis-show-statistics: what was refused, and why
        return
    event("explained")
    _check_invariants(t, DEFAULT_BUDGET)


@settings(max_examples=FUZZ or 100, deadline=None, derandomize=FUZZ is None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["image", "video"]), model=st.sampled_from(MODELS),
       pipeline=st.sampled_from(["official", "processor"]), params=_typed)
def test_fuzzed_well_typed_settings_are_explained_within_budget_or_refused(small, kind, model, pipeline, params):
    try:
        t = explain(small[kind], model=model, pipeline=pipeline, **params)
    except VizError as e:
        assert not getattr(e, "internal", False), str(e)
        event(f"VizError {e.field}")
        return
    event("explained")
    _check_invariants(t, DEFAULT_BUDGET)


@pytest.mark.parametrize("kind,model,pipeline,params", HEAVY)
def test_heavy_requests_are_refused_on_metadata_naming_the_limit(small, kind, model, pipeline, params):
    with pytest.raises(VizError) as e:
        explain(small[kind], model=model, pipeline=pipeline, **params)
    msg = str(e.value)
    assert e.value.field == "budget"
    assert any(b.name in msg and b.flag in msg and f"{getattr(DEFAULT_BUDGET, b.name):,}" in msg for b in BUDGETS)


def test_library_callers_lift_or_tighten_the_budget_explicitly(small):
    t = explain(small["image"])
    with pytest.raises(VizError, match="max_vision_tokens is 1"):
        explain(small["image"], budget=Budget(max_vision_tokens=1))
    lifted = explain(small["image"], budget=Budget.unlimited(), patch_size=2, min_pixels=4e6, max_pixels=4e6)
    assert lifted.num_vision_tokens > t.num_vision_tokens


def test_default_budgets_serve_the_real_checkpoint_settings():
    from qwenvl_viz.profiles import IMAGE_MAX_TOKEN_NUM, MODEL_SEQ_LEN, PROFILES, FPS_MAX_FRAMES

    qvu_video_tokens = int(MODEL_SEQ_LEN * 0.9)  # qwen-vl-utils' whole-video budget, in tokens
    assert DEFAULT_BUDGET.max_vision_tokens >= max(qvu_video_tokens, IMAGE_MAX_TOKEN_NUM, 24_576)
    assert DEFAULT_BUDGET.max_sampled_frames >= FPS_MAX_FRAMES
    for pf in PROFILES.values():
        assert qvu_video_tokens * pf.merge_size**2 * pf.row_len * 4 <= DEFAULT_BUDGET.max_pixel_bytes


@pytest.mark.parametrize("params,field", [
    (dict(prompt="a\udc00b"), "prompt"), (dict(fps=-math.inf), "fps"), (dict(nframes=math.nan), "nframes"),
    (dict(max_frames=1.5), "max_frames"), (dict(min_frames="abc"), "min_frames"), (dict(model_seq_len=math.nan),
    "model_seq_len"), (dict(video_start=3.0, video_end=1.0), "video_start"), (dict(min_pixels=1e300), "min_pixels"),
    (dict(fps=2.0, nframes=4), "fps"), (dict(nope=1), "params"), (dict(qwen3_outer_wrapper="yes"), "qwen3_outer_wrapper"),
])
def test_bad_values_name_the_field_the_value_and_what_is_allowed(small, params, field):
    with pytest.raises(VizError) as e:
        explain(small["video"], **params)
    assert e.value.field == field and not getattr(e.value, "internal", False)


def test_any_valid_unicode_prompt_is_accepted(small):
    t = explain(small["image"], prompt="数一数 🐈\u200d⬛ e\u0301 \U0010fffd")
    assert len(t.input_ids) > t.num_vision_tokens


def test_knobs_an_image_ignores_are_reported_not_echoed(small):
    t = explain(small["image"], fps=4.0, nframes=None, total_pixels=1e6, video_end=2.0)
    s = _json(t.summary())
    assert set(s["ignored"]) == {"fps", "total_pixels", "video_end"}
    assert not {"fps", "total_pixels", "video_end"} & set(s["params"])
    assert any("fps applies to videos only" in n for n in s["notes"])
    v = explain(small["video"], pipeline="processor", total_pixels=1e6)
    assert v.ignored == ("total_pixels",) and "total_pixels" not in v.summary()["params"]


# ---- strict JSON --------------------------------------------------------------------------------

def test_json_outputs_are_strict(small, capsys):
    from qwenvl_viz.export import to_json

    for kind in ("image", "video"):
        t = explain(small[kind], min_pixels=3136.0)
        _json(t.summary())
        json.loads(to_json(t), parse_constant=lambda c: pytest.fail(f"non-finite {c} in to_json"))
        assert main(["explain", small[kind], "--json"]) == 0
        json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"non-finite {c} in --json"))


# ---- CLI bad arguments ----------------------------------------------------------------------------

CLI_BAD = [
    ["--fps=-inf"], ["--fps", "nan"], ["--nframes", "1.5"], ["--min-frames", "abc"], ["--max-frames", "inf"],
    ["--min-pixels", "1e30", "--total-pixels", "1e30", "--cap-pixels-per-frame"], ["--prompt", "\udcff"],
    ["--patch-size", "0"], ["--patch-size", "65"], ["--model-seq-len", "nan"], ["--video-start", "-1"],
    ["--text-resume", "both"], ["--max-vision-tokens", "-5"], ["--max-pixel-bytes", "lots"],
    ["--min-pixels", "9e5", "--max-pixels", "1e3"], ["--patch-size", "1", "--min-pixels", "5e6"],
]


@pytest.mark.parametrize("args", CLI_BAD, ids=[" ".join(a) for a in CLI_BAD])
def test_bad_cli_arguments_exit_2_with_one_error_line(small, capsys, args):
    for model in ("qwen2.5-vl", "qwen3-vl"):
        code = main(["explain", small["video"], "--model", model, *args])
        err = capsys.readouterr().err
        assert code == 2, err
        assert err.startswith("error: ") and err.count("\n") == 1 and "internal error" not in err


def test_cli_flags_are_the_vocabulary():
    from qwenvl_viz.cli import build_parser

    text = build_parser()._subparsers._group_actions[0].choices["explain"].format_help()
    for p in PARAMS:
        assert p.flag in text
    for b in BUDGETS:
        assert (b.flag in text) == b.refuses  # the CLI draws no figure: no figure-point flag


def test_cli_budget_flag_raises_the_limit(small, capsys):
    args = ["explain", small["image"], "--patch-size", "2", "--min-pixels", "4e6", "--max-pixels", "4e6", "--json"]
    assert main(args) == 2 and "--max-vision-tokens" in capsys.readouterr().err
    assert main([*args, "--max-vision-tokens", "0", "--max-pixel-bytes", "0"]) == 0
    assert _json(json.loads(capsys.readouterr().out))["num_vision_tokens"] > DEFAULT_BUDGET.max_vision_tokens


# ---- --save ----------------------------------------------------------------------------------------

def test_save_writes_exactly_the_path_it_reports(small, tmp_path, capsys):
    out = tmp_path / "no_suffix"
    assert main(["explain", small["image"], "--save", str(out)]) == 0
    said = capsys.readouterr().out
    assert f"saved     {out}" in said and out.is_file() and not (tmp_path / "no_suffix.npz").exists()
    assert np.load(out)["grid_thw"].shape == (1, 3)


@pytest.mark.parametrize("where", ["folder", "missing_parent", "dev_full"])
def test_save_to_a_folder_a_missing_folder_or_a_full_disk_is_a_clear_error(small, tmp_path, capsys, where):
    target = {"folder": str(tmp_path), "missing_parent": str(tmp_path / "nope" / "x.npz"), "dev_full": "/dev/full"}[where]
    if where == "dev_full" and not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    before = set(os.listdir(tmp_path))
    assert main(["explain", small["image"], "--save", target]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and target in err and "saved" not in err
    assert set(os.listdir(tmp_path)) == before  # nothing misplaced
    assert not os.path.exists(target + ".npz")


# ---- sessions apart ---------------------------------------------------------------------------------

def test_two_sessions_with_the_same_content_never_see_each_others_file(small, tmp_path):
    sys.path.insert(0, os.path.dirname(__file__))
    from test_app import _args, _update_fn

    from qwenvl_viz.ui.layout import UPDATE_OUTPUTS, build_demo

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    alice = shutil.copy(small["video"], tmp_path / "a" / "alice_private_upload.mp4")
    bob = shutil.copy(small["video"], tmp_path / "b" / "bob_clip.mp4")
    update = _update_fn(build_demo())
    first = dict(zip(UPDATE_OUTPUTS, update(*_args(str(alice)))))
    second = dict(zip(UPDATE_OUTPUTS, update(*_args(str(bob)))))
    a_text = json.dumps(first, default=str)
    b_text = json.dumps(second, default=str)
    assert "alice_private_upload" in a_text and "bob_clip" in b_text
    assert "alice_private_upload" not in b_text and str(tmp_path / "a") not in b_text
    for name in ("snippet", "cli"):
        assert "bob_clip" in json.dumps(second[name], default=str)


def test_request_parsing_comes_from_the_vocabulary():
    from qwenvl_viz.ui.state import Request

    r = Request(media="x", fps=2.0, nframes=8.0, min_frames=4.0, max_pixels=0, patch_size=16.0)
    assert r.params()["min_frames"] == 4 and isinstance(r.params()["min_frames"], int)
    assert "nframes" not in r.params() and "max_pixels" not in r.params()  # 0 = blank; fps drives
    for bad in (dict(max_pixels=1e308, pixel_unit="tokens"), dict(min_frames=2.5), dict(fps=math.inf),
                dict(prompt="\ud800")):
        with pytest.raises(VizError) as e:
            Request(media="x", **bad).params()
        assert e.value.field in BY_NAME


@pytest.mark.parametrize("name", ["notes.jpg", "noise.png", "clip.mp4"])
def test_a_file_that_is_no_media_is_called_that_whatever_its_extension(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"this is a text file, not a picture\n" * 40 if name != "noise.png"
                     else np.random.default_rng(0).bytes(3000))
    with pytest.raises(VizError, match="neither") as e:
        explain(path)
    assert "corrupt" not in str(e.value) or "neither" in str(e.value)


def test_the_sampling_formula_shown_yields_the_count_used():
    import re

    from qwenvl_viz.profiles import Pipeline, get_profile
    from qwenvl_viz.sampling import sample_frames

    overshoots = 0
    for model in ("qwen2-vl", "qwen3-vl"):
        for min_frames in range(4, 249):
            try:
                s = sample_frames(get_profile(model), Pipeline.PROCESSOR, total_frames=249, video_fps=30.0,
                                  min_frames=min_frames)
            except VizError:
                continue
            stated = int(re.findall(r"(\d+)(?: indices)?$", s.formula)[0])
            assert stated == s.nframes == len(s.indices), s.formula
            overshoots += s.indices[-1] >= 249
    assert overshoots  # transformers' float32 arange does overshoot for some counts (219 of 249, for one)


def test_the_reference_own_out_of_range_index_is_explained_as_such():
    from app_server import ROOT

    clip = str(ROOT / "assets" / "sample_clip.mp4")
    for decoder, next_step in (("torchcodec", "Invalid frame index=249"), ("decord", "Out of bound"),
                               ("pyav", "218 for 219")):
        with pytest.raises(VizError) as e:
            explain(clip, model="qwen2-vl", pipeline="processor", min_frames=219, decoder=decoder)
        msg = str(e.value)
        assert "the reference itself fails" in msg and "index 249 of a 249-frame" in msg and next_step in msg
