"""Bounded output and memory: figures past their point limit draw a sample of real values and say so,
and the app's caches evict by bytes (one session's entries never serve another's file).

Tiny generated media and tiny point limits stand in for heavy requests.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from media_factory import media_files  # noqa: F401  (pytest fixture)
from qwenvl_viz import explain
from qwenvl_viz.figures._points import SAMPLED_NOTE_NAME, envelope, every_kth, grid_stride
from qwenvl_viz.params import BUDGETS, DEFAULT_BUDGET, Budget


@pytest.fixture(scope="module")
def small(media_files):  # noqa: F811
    return {"image": str(media_files.image("png", width=224, height=168)),
            "video": str(media_files.video("mp4", width=64, height=48, frames=30))}


def _notes(fig) -> list[str]:
    return [a["text"].replace("<br>", " ") for a in fig.to_plotly_json()["layout"].get("annotations", [])
            if a.get("name") == SAMPLED_NOTE_NAME]


def _decode(v):
    """A plotly array: a list, or plotly.py's typed-array form ``{"dtype", "bdata"[, "shape"]}``."""
    if isinstance(v, dict):
        import base64

        a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
        return a.reshape([int(n) for n in str(v["shape"]).split(",")]) if "shape" in v else a
    return np.asarray(v)


# ---- the sampling rules ----------------------------------------------------------------------------

def test_envelope_keeps_each_buckets_extremes_and_the_ends_and_only_real_points():
    rng = np.random.default_rng(0)
    y = np.cumsum(rng.integers(-3, 4, size=10_001))
    keep = envelope(y, 200)
    assert keep is not None and len(keep) <= 202 and np.all(np.diff(keep) > 0)
    assert keep[0] == 0 and keep[-1] == len(y) - 1
    assert y[keep].max() == y.max() and y[keep].min() == y.min()
    assert envelope(y, len(y)) is None and envelope(y, None) is None


@pytest.mark.parametrize("h,w,limit", [(320, 180, 5000), (7, 1000, 10), (1, 1, 1), (640, 360, 4444)])
def test_grid_stride_is_the_smallest_that_fits(h, w, limit):
    k = grid_stride(h, w, limit)
    cells = lambda k: -(-h // k) * -(-w // k)  # noqa: E731
    assert cells(k) <= limit and (k == 1 or cells(k - 1) > limit)
    assert every_kth(1000, 100) == 10 and every_kth(99, 100) == 1


# ---- figures past their limit ----------------------------------------------------------------------

@pytest.mark.parametrize("lang,word", [("en", "buckets"), ("zh", "最小值")])
def test_rope_figure_past_its_point_limit_draws_real_ids_and_says_so(small, lang, word):
    from qwenvl_viz.figures.rope import rope_figure

    t = explain(small["video"], fps=10.0)
    pos = t.rope.position_ids
    assert pos.shape[1] > 60
    fig = rope_figure(t, lang, max_points=60).to_plotly_json()
    overview = [d for d in fig["data"] if d.get("xaxis") == "x" and d["type"] == "scatter" and d["name"] in "THW"]
    assert len(overview) == 3
    for d in overview:
        k = "THW".index(d["name"])
        x, y = _decode(d["x"]), _decode(d["y"])
        assert len(x) <= 17  # 60 // 4 points per line (T, H, W and the text row), plus the two ends
        assert np.array_equal(y, pos[k, x])  # every point drawn is a real id at its real token index
        assert y.max() == pos[k].max() and y.min() == pos[k].min()
    (note,) = _notes(rope_figure(t, lang, max_points=60))
    assert word in note and f"{pos.shape[1]:,}" in note and "--max-figure-points" in note
    full = rope_figure(t, lang, max_points=None)
    assert not _notes(full) and all("x" not in d for d in full.to_plotly_json()["data"] if d.get("xaxis") == "x"
                                    and d["type"] == "scatter")


def test_patch_grid_past_its_point_limit_draws_every_kth_patch_with_its_own_numbers(small):
    from PIL import Image

    from qwenvl_viz.figures.patch_grid import patch_grid_figure, patch_layout

    t = explain(small["image"], model="qwen2.5-vl", min_pixels=224 * 168, max_pixels=224 * 168)
    _, gh, gw = t.patchify.grid_thw
    frame = Image.new("RGB", (t.resize.width, t.resize.height))
    limit = 5 * gh * gw // 4  # 5 numbers per cell (order, row, token, raster, window): a quarter of the cells
    fig = patch_grid_figure(t, frame, 0, "merge", True, "en", max_points=limit)
    main = next(d for d in fig.to_plotly_json()["data"] if d["type"] == "heatmap" and d["xaxis"] == "x")
    k = main["dx"]
    assert k == grid_stride(gh, gw, gh * gw // 4) > 1 and main["dy"] == k
    lay = patch_layout(t, 0)
    assert np.array_equal(_decode(main["z"]), lay.row[::k, ::k])
    assert np.array_equal(_decode(main["customdata"])[..., 2], lay.raster[::k, ::k])  # the hover of patch (k*i, k*j)
    (note,) = _notes(fig)
    assert f"{gh}×{gw}" in note and f"1 in {k} on each side" in note and "zoom" in note
    full = patch_grid_figure(t, frame, 0, "merge", True, "zh", max_points=None)
    assert not _notes(full)
    assert next(d for d in full.to_plotly_json()["data"] if d["type"] == "heatmap")["dx"] == 1


def test_timeline_samples_its_raw_frame_marks_and_names_the_step(small):
    from qwenvl_viz.figures.timeline import timeline_figure

    t = explain(small["video"])
    raw = timeline_figure(t, "en", max_points=10).to_plotly_json()["data"][0]
    assert len(_decode(raw["y"])) == 10 and "30 raw frames: 1 in 3" in raw["name"]
    assert len(_decode(timeline_figure(t, "en", max_points=None).to_plotly_json()["data"][0]["y"])) == 30


def test_the_default_clip_figures_draw_every_point():
    from app_server import ROOT
    from qwenvl_viz.figures.rope import rope_figure

    t = explain(str(ROOT / "assets" / "sample_clip.mp4"))
    assert 4 * t.rope.position_ids.shape[1] <= DEFAULT_BUDGET.max_figure_points
    assert not _notes(rope_figure(t, "en"))


def test_the_figure_limit_is_an_app_flag_not_a_refusal_and_not_a_cli_flag():
    import app
    from qwenvl_viz.cli import build_parser
    from qwenvl_viz.params import budget_from_args, check_budget

    row = next(b for b in BUDGETS if b.name == "max_figure_points")
    assert not row.refuses
    assert budget_from_args(app.parse_args(["--max-figure-points", "500"])).max_figure_points == 500
    assert budget_from_args(app.parse_args(["--max-figure-points", "0"])).max_figure_points is None
    explain_help = build_parser()._subparsers._group_actions[0].choices["explain"].format_help()
    assert row.flag not in explain_help
    check_budget(Budget(max_figure_points=1), nframes=1, tokens=10**5, rows=4 * 10**5, row_len=1176)  # no refusal


def test_the_app_views_follow_the_servers_figure_limit(small):
    from qwenvl_viz.ui import state
    from qwenvl_viz.ui.state import Request, get_trace
    from qwenvl_viz.ui.views import ViewOptions, render_views

    key, t = get_trace(Request(media=small["video"], fps=10.0))
    old = state.BUDGET
    try:
        state.set_budget(Budget(max_figure_points=60))
        state.VIEWS.clear()
        views = render_views(key, t, ViewOptions(), "中文", only=frozenset({"rope", "timeline"}))
        rope = json.loads(views["rope"][1].plot)
        assert any(a.get("name") == SAMPLED_NOTE_NAME and "最小值" in a["text"] for a in rope["layout"]["annotations"])
    finally:
        state.set_budget(old)
        state.VIEWS.clear()


def test_a_trace_reruns_its_variants_under_its_own_budget(small):
    from qwenvl_viz.reproduce import python_snippet
    from qwenvl_viz.versions import version_differences

    lifted = Budget(max_vision_tokens=None, max_pixel_bytes=None)
    t = explain(small["image"], budget=lifted, patch_size=2, min_pixels=4e6, max_pixels=4e6)
    assert t.budget is lifted and t.num_vision_tokens > DEFAULT_BUDGET.max_vision_tokens
    python_snippet(t)  # re-explains with transformers' text rule: the default budget would refuse it
    assert not any("max_vision_tokens" in str(v.value) for d in version_differences(t) for v in d.variants)


# ---- caches bounded by bytes -----------------------------------------------------------------------

def test_lru_evicts_the_oldest_entries_by_bytes_and_never_keeps_an_oversized_one():
    from qwenvl_viz.ui.state import LRU

    c = LRU(100, max_bytes=1000)
    for i in range(3):
        c.put(i, np.zeros(400, dtype=np.uint8))
    assert 0 not in c._data and list(c._data) == [1, 2] and c.nbytes == 800
    c.get(1)  # touched: now the newest
    c.put(3, np.zeros(400, dtype=np.uint8))
    assert list(c._data) == [1, 3]
    big = c.get_or("big", lambda: np.zeros(5000, dtype=np.uint8))
    assert big.nbytes == 5000 and c.get("big") is None and c.nbytes == 800
    c.put(1, np.zeros(10, dtype=np.uint8))  # replacing an entry re-counts it
    assert c.nbytes == 410
    c.clear()
    assert c.nbytes == 0 and len(c) == 0


def test_entry_sizes_count_buffers_figures_and_pictures_once():
    from gradio.components.plot import PlotData
    from PIL import Image

    from qwenvl_viz.ui.state import approx_nbytes

    a = np.zeros((1000, 100), dtype=np.int64)
    assert 800_000 <= approx_nbytes((a, a, a[:10])) < 801_000  # shared and viewed arrays counted once
    assert approx_nbytes(Image.new("RGB", (100, 50))) == 15_000
    assert approx_nbytes(PlotData(type="plotly", plot="x" * 10_000)) == 10_000
    assert approx_nbytes(["tok"] * 100_000) > 800_000  # a long list: by a sample, scaled


def test_a_cached_trace_is_charged_its_arrays(small):
    from qwenvl_viz.ui.state import approx_nbytes

    t = explain(small["video"], fps=10.0)
    arrays = t.rope.position_ids.nbytes + t.rope.alt_position_ids.nbytes + t.prompt.input_ids.nbytes
    assert arrays <= approx_nbytes(t) < arrays + 2_000_000


def test_every_app_cache_has_a_byte_bound():
    from qwenvl_viz.ui import state

    caches = [state.TRACES, state.SESSION_TRACES, state.PREVIEWS, state.VIEWS, state.ENCODINGS]
    assert all(c.max_bytes for c in caches)
    assert sum(c.max_bytes for c in caches) <= 1 << 30


def test_the_tower_cache_is_bounded_by_the_weights_it_holds():
    from qwenvl_viz.encoder import get_tower
    from qwenvl_viz.ui import encoder_view, state

    tower = get_tower(preset="qwen2.5-vl-tiny")
    weights = sum(t.numel() * t.element_size() for t in (*tower.parameters(), *tower.buffers()))
    assert weights > 100_000 and state.approx_nbytes(tower) == weights
    assert encoder_view.TOWERS.max_bytes == state.CACHE_BYTES["towers"][1]
    small = state.LRU(2, max_bytes=weights - 1)  # a tower bigger than the cache is served, not kept
    assert small.get_or("t", lambda: tower) is tower and len(small) == 0


def test_sessions_stay_apart_when_the_shared_trace_cache_keeps_nothing(small, tmp_path, monkeypatch):
    import shutil

    from qwenvl_viz.ui import state
    from qwenvl_viz.ui.state import LRU, Request, get_trace

    monkeypatch.setattr(state, "TRACES", LRU(48, max_bytes=1))  # every trace is too big to keep
    monkeypatch.setattr(state, "SESSION_TRACES", LRU(64, max_bytes=1))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    alice = shutil.copy(small["video"], tmp_path / "a" / "alice.mp4")
    bob = shutil.copy(small["video"], tmp_path / "b" / "bob.mp4")
    ka, ta = get_trace(Request(media=str(alice)))
    kb, tb = get_trace(Request(media=str(bob)))
    assert ka == kb and ta.media.path == str(alice) and tb.media.path == str(bob)
    assert len(state.TRACES) == 0


def test_sampled_figures_are_valid_plotly(small):
    import plotly.graph_objects as go
    from PIL import Image

    from qwenvl_viz.figures.patch_grid import patch_grid_figure
    from qwenvl_viz.figures.rope import rope_figure
    from qwenvl_viz.figures.timeline import timeline_figure

    t = explain(small["video"], fps=10.0)
    frame = Image.new("RGB", (t.resize.width, t.resize.height))
    for fig in (rope_figure(t, "zh", max_points=30), timeline_figure(t, "en", max_points=5),
                patch_grid_figure(t, frame, 0, "raster", True, "en", max_points=10)):
        go.Figure(fig.to_dict())  # the validating constructor: raises on any property plotly.js would not know


def test_the_picture_and_export_folders_are_bounded_but_keep_what_a_cache_still_serves(tmp_path):
    from qwenvl_viz.ui.state import SPILL_BYTES, SpillDir

    live: set[str] = set()
    d = SpillDir("qwenvl_viz_test_", max_bytes=3_000, live=lambda: live, young_s=0.0)
    write = lambda name: d.write(name, lambda tmp: open(tmp, "wb").write(b"x" * 1_000))  # noqa: E731
    first = write("a.jpg")
    live.add(first)  # a cached view still names it
    paths = [write(f"{i}/clip.json") for i in range(5)]
    assert d.nbytes <= 3_000 and os.path.exists(first)  # the oldest unnamed files went, the named one stayed
    assert [os.path.exists(p) for p in paths] == [False, False, False, True, True]
    assert not os.path.exists(os.path.dirname(paths[0]))  # an emptied export folder goes too
    assert write("a.jpg") == first and sorted(os.listdir(d.root)) == ["3", "4", "a.jpg"]
    young = SpillDir("qwenvl_viz_test_", max_bytes=1, young_s=3600.0)
    kept = [young.write(f"{i}.jpg", lambda tmp: open(tmp, "wb").write(b"y" * 10)) for i in range(3)]
    assert all(os.path.exists(p) for p in kept)  # just written: a request may be returning them
    assert SPILL_BYTES["pictures"] <= 256 << 20 and SPILL_BYTES["exports"] <= 1 << 30


def test_background_work_waits_until_no_visitor_request_is_in_flight():
    import threading
    import time

    from qwenvl_viz.ui.state import InFlight

    busy = InFlight()
    assert busy.wait_quiet(quiet_s=0.01)
    done = threading.Event()
    with busy:
        t = threading.Thread(target=lambda: (busy.wait_quiet(quiet_s=0.01), done.set()))
        t.start()
        time.sleep(0.1)
        assert not done.is_set() and busy.count == 1  # a visitor is being served: the warm-up waits
    t.join(5)
    assert done.is_set() and busy.count == 0
    with busy:
        assert not busy.wait_quiet(quiet_s=0.01, limit_s=0.05)  # bounded: never waits forever


def test_app_events_count_as_visitors_and_the_warm_up_waits_for_them(small):
    import threading
    import time

    from qwenvl_viz.ui import handlers, state, wiring

    seen = []
    bound = wiring._bind(lambda cfg, *v: seen.append(state.VISITORS.count), handlers.AppConfig(), ["x"])
    bound(1)
    assert seen == [1] and state.VISITORS.count == 0  # counted while served, released after
    done = threading.Event()
    with state.VISITORS:
        t = threading.Thread(target=lambda: (handlers.warm_up([small["image"]], encode=False), done.set()))
        t.start()
        time.sleep(0.3)
        assert not done.is_set()  # a visitor is in flight: the warm-up has not started its work
    t.join(60)
    assert done.is_set()
