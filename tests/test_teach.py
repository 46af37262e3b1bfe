"""The teaching features through the app's endpoints (gradio_client against a real server): the linked
selection in every view, the comparison, the version differences, the reproduce-in-code snippet and
the exports. Expected values come from the library in the same test (selection, compare, versions,
export), and the snippet is run against the reference stack (qwen-vl-utils + transformers).
"""

from __future__ import annotations

import csv
import html
import json
import re
from pathlib import Path

import numpy as np
import pytest
from gradio_client import handle_file

from test_app import CLIP, DEFAULTS, IMAGE, Session, _array, _plot
from qwenvl_viz import explain
from qwenvl_viz.compare import compare
from qwenvl_viz.figures.patch_grid import SELECT_COLOR
from qwenvl_viz.selection import select, select_relative
from qwenvl_viz.versions import version_differences


@pytest.fixture
def session(server_url) -> Session:
    return Session(server_url)


@pytest.fixture(scope="session")
def server_url() -> str:
    from app_server import running_app

    return running_app()[0]


def sel_string(trace, rx: float, ry: float, group: int = 0) -> str:
    """What a click at (rx, ry) of group ``group`` puts into the hidden selection field."""
    frame = trace.frame_indices[trace.patchify.groups[group][0]] if trace.sampling else 0
    return f"{rx},{ry},{frame},{trace.media.content_hash}"


def panel(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-([a-z-]+)="([^"]*)"', html.split(">", 1)[0]))


def assert_panel_is(html: str, sel) -> None:
    got = panel(html)
    assert float(got["x"]) == pytest.approx(sel.x) and float(got["y"]) == pytest.approx(sel.y)
    assert int(got["group"]) == sel.group and int(got["row"]) == sel.row and int(got["token"]) == sel.token
    assert int(got["input-index"]) == sel.input_index
    assert (int(got["t"]), int(got["h"]), int(got["w"])) == sel.position_ids
    assert (got["window"] == "") == (sel.window is None)
    if sel.window is not None:
        assert int(got["window"]) == sel.window.index


def test_a_selection_is_outlined_in_every_view_with_the_librarys_numbers(session):
    trace = explain(CLIP, model="qwen2.5-vl", fps=2.0)
    session.update()  # as in the page: the slider learns its range before it moves
    v = session.update(group=2, selected=sel_string(trace, 0.3, 0.6, group=2))
    sel = select(trace, 0.3 * trace.resize.width, 0.6 * trace.resize.height, group=2)
    assert_panel_is(v["selection"], sel)
    assert f"row {sel.row}" in v["selection"] and f"input_ids[<b>{sel.input_index}</b>]" in v["selection"]
    # patch grid: the patch, its block and its window outlined where the library puts them
    shapes = _plot(v["patch"])["layout"]["shapes"]
    p = trace.patchify.patch_size
    patch = next(s for s in shapes if s["line"]["color"] == SELECT_COLOR)
    assert (patch["x0"], patch["y0"]) == (sel.patch_box[0] / p - 0.5, sel.patch_box[1] / p - 0.5)
    window = next(s for s in shapes if s["line"].get("dash") == "dot")
    assert (window["x1"], window["y1"]) == (sel.window.box[2] / p - 0.5, sel.window.box[3] / p - 0.5)
    # MRoPE: the token's three ids marked at its prompt position
    marker = next(t for t in _plot(v["rope"])["data"] if t.get("marker", {}).get("color") == SELECT_COLOR)
    assert list(_array(marker["x"])) == [sel.input_index] * 3
    assert [int(y) for y in _array(marker["y"])] == list(sel.position_ids)
    # timeline: the group's raw frames ringed; prompt: the pad run holding the token outlined
    ring = next(t for t in _plot(v["timeline"])["data"] if t.get("marker", {}).get("color") == SELECT_COLOR)
    assert list(_array(ring["customdata"])) == [f.raw_index for f in sel.frames if not f.padding]
    assert "chip-selected" in v["prompt"] and f"input_ids[{sel.input_index}]" in v["prompt"]
    assert Path(v["select_image"]).read_bytes()[:2] == b"\xff\xd8"


def test_the_selection_survives_parameter_changes_and_follows_the_group_slider(session):
    t2 = explain(CLIP, model="qwen2.5-vl", fps=2.0)
    s = sel_string(t2, 0.3, 0.6, group=5)
    session.update()
    session.update(group=5, selected=s)
    # a new max_pixels: the same place of the picture, in the group holding the same frame
    t_small = explain(CLIP, model="qwen2.5-vl", fps=2.0, max_pixels=200_704)
    v = session.update(group=5, selected=s, max_pixels=200_704)
    expected = select_relative(t_small, 0.3, 0.6, t2.frame_indices[t2.patchify.groups[5][0]])
    assert_panel_is(v["selection"], expected)
    assert expected.row != select_relative(t2, 0.3, 0.6, t2.frame_indices[t2.patchify.groups[5][0]]).row
    # a new fps: the group changes (frame 83 is in group 2 at fps 1); the slider follows the selection
    t1 = explain(CLIP, model="qwen2.5-vl", fps=1.0)
    v = session.update(group=5, selected=s, fps=1.0)
    expected = select_relative(t1, 0.3, 0.6, t2.frame_indices[t2.patchify.groups[5][0]])
    assert expected.group != 5
    assert_panel_is(v["selection"], expected)
    assert v["group"]["value"] == expected.group
    # the slider moved by the user (same settings): the selection moves to that group
    v = session.update(group=1, selected=s, fps=1.0)
    assert_panel_is(v["selection"], select(t1, expected.x, expected.y, group=1))
    assert v["selected"].split(",")[2] == str(t1.frame_indices[t1.patchify.groups[1][0]])


def test_other_media_clears_the_selection(session):
    trace = explain(CLIP, model="qwen2.5-vl", fps=2.0)
    session.update(selected=sel_string(trace, 0.5, 0.5))
    v = session.update(media=IMAGE, selected=sel_string(trace, 0.5, 0.5))
    assert v["selected"] == ""
    assert "sel-empty" in v["selection"]


def test_image_selection_on_qwen3_has_no_window_and_the_image_twice(session):
    trace = explain(IMAGE, model="qwen3-vl")
    v = session.update(media=IMAGE, model="qwen3-vl", selected=sel_string(trace, 0.9, 0.1))
    sel = select(trace, 0.9 * trace.resize.width, 0.1 * trace.resize.height)
    assert_panel_is(v["selection"], sel)
    assert 'data-key="window"' not in v["selection"]


def test_version_differences_view_and_notes_match_the_library(session):
    trace = explain(CLIP, model="qwen2.5-vl", fps=2.0)
    v = session.update()
    diffs = version_differences(trace)
    for d in diffs:
        assert f'data-key="{d.key}" data-differs="{str(d.differs).lower()}"' in v["versions"]
    spg = next(d for d in diffs if d.key == "second_per_grid_ts_source")
    assert spg.differs and "0.0833333" in v["rope_text"]  # the rope view names the 24-fps fallback's value
    budget = next(d for d in diffs if d.key == "video_budget")
    assert budget.differs and "[1288, 728]" in v["resize_text"]


def test_compare_lists_the_librarys_differences(session):
    args = {**DEFAULTS, "media": handle_file(CLIP)}
    from qwenvl_viz.ui.layout import VIEW_FIELDS

    for k in VIEW_FIELDS:
        args.pop(k)
    a_html, b_html, table, err = session.client.predict(
        **args, b_model="qwen3-vl", b_pipeline="official", b_fps=0, b_nframes=0, b_max_pixels=0, api_name="/compare")
    assert err == ""
    c = compare(explain(CLIP, model="qwen2.5-vl", fps=2.0), explain(CLIP, model="qwen3-vl", fps=2.0))
    differing = set(re.findall(r'data-key="(\w+)" data-differs="true"', table))
    assert differing == {r.key for r in c.differences} and {"timestamps", "time_ids"} <= differing
    assert "[23040, 1176]" in table and "[23040, 1536]" in table
    assert "Qwen2.5-VL" in a_html and "Qwen3-VL" in b_html
    # B's fps: the frames taken differ; a bad B value is reported on the compare panel, A keeps working
    *_, table, err = session.client.predict(
        **args, b_model="qwen2.5-vl", b_pipeline="official", b_fps=4, b_nframes=0, b_max_pixels=0,
        api_name="/compare")
    assert 'data-key="frame_indices" data-differs="true"' in table
    *_, err = session.client.predict(
        **args, b_model="qwen2.5-vl", b_pipeline="official", b_fps=0, b_nframes=0, b_max_pixels=-5,
        api_name="/compare")
    assert "B: max_pixels must be a finite number &gt; 0" in err and "got -5" in err


@pytest.mark.slow
def test_the_pages_snippet_reproduces_the_pages_numbers_with_the_reference(session, tmp_path):
    from test_reproduce import check_printed, run_snippets

    v = session.update(model="qwen3-vl", fps=1.0)
    path = tmp_path / "page_snippet.py"
    path.write_text(v["snippet"])
    printed = run_snippets([path], tmp_path)[str(path)]
    summary = v["summary"]  # what the page shows
    assert printed["grid_thw"] == summary["grid_thw"]
    assert printed["pixel_values"] == summary["pixel_values_shape"]
    assert printed["vision_tokens"] == summary["num_vision_tokens"]
    assert [float(s[1:-9]) for s in printed["timestamps"]] == [round(s, 1) for s in summary["timestamps"]]
    assert all(html.escape(s) in v["prompt"] for s in printed["timestamps"])  # the strings the prompt view shows
    check_printed(printed, explain(CLIP, model="qwen3-vl", fps=1.0))
    assert v["cli"].startswith("python -m qwenvl_viz explain ") and "--model qwen3-vl" in v["cli"]


def test_exports_round_trip(session):
    trace = explain(CLIP, model="qwen2.5-vl", fps=1.5)  # settings no other test encodes: no embeddings yet
    files = session.encoder("/export", CLIP, fps=1.5)
    paths = sorted(next(iter(files.values())), key=lambda p: Path(p).suffix)
    csv_path, json_path, npz_path = paths
    assert Path(json_path).name == "sample_clip_qwen2.5-vl_official.json"
    doc = json.loads(Path(json_path).read_text())
    assert doc["summary"]["grid_thw"] == list(trace.patchify.grid_thw)
    with np.load(npz_path) as z:
        np.testing.assert_array_equal(z["pixel_values"], trace.pixel_values.numpy())
        np.testing.assert_array_equal(z["input_ids"], np.asarray(trace.input_ids))
        np.testing.assert_array_equal(z["position_ids"], np.asarray(trace.rope.position_ids))
        np.testing.assert_array_equal(z["frame_indices"], np.asarray(trace.frame_indices))
        assert "embeddings" not in z
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == trace.prompt.num_tokens
    sel = select(trace, 100, 700, group=3)
    row = rows[sel.input_index]
    assert (int(row["t"]), int(row["h"]), int(row["w"])) == sel.position_ids
    assert int(row["row_first"]) == sel.block_rows[0]


def test_exports_carry_the_embeddings_once_the_encoder_has_run(session):
    # the session's tower list still holds Qwen2.5-VL's: its tiny tower stands for the family's tiny one
    session.encoder("/run_encoder", IMAGE, model="qwen3-vl")
    files = session.encoder("/export", IMAGE, model="qwen3-vl")
    npz_path = next(p for p in next(iter(files.values())) if p.endswith(".npz"))
    trace = explain(IMAGE, model="qwen3-vl")
    with np.load(npz_path) as z:
        assert z["embeddings"].shape[0] == trace.num_vision_tokens
        assert "deepstack_0" in z
