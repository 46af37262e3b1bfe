"""The web app through its named endpoints (gradio_client against a real server), plus its figures.

Expected numbers come from the library in the same test (``qwenvl_viz.explain``): the app must show
exactly what the Trace says.
"""

from __future__ import annotations

import base64
import json
import re
from html import escape
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest
from gradio_client import Client, handle_file

from app_server import ROOT, running_app
from qwenvl_viz import explain, get_profile
from qwenvl_viz.trace import ledger

CLIP = str(ROOT / "assets" / "sample_clip.mp4")
IMAGE = str(ROOT / "assets" / "sample_image.jpg")

DEFAULTS = dict(
    lang="English", model="qwen2.5-vl", pipeline="official", sample_by="fps", fps=2.0, nframes=0, min_frames=0,
    max_frames=0, pixel_unit="px", min_pixels=0, max_pixels=0, total_pixels=0, video_start=0, video_end=0,
    patch_size=0, merge_size=0, temporal_patch_size=0, prompt="", text_resume="release", qwen3_outer_wrapper=False,
    cap_pixels_per_frame=False, decoder="torchcodec", group=0, order="merge", windows=True, context_len=32768, selected="", step=0,
)
SKIP = {"__type__": "update"}


@pytest.fixture(scope="session")
def server_url() -> str:
    return running_app()[0]


class Session:
    """One browser-like session: remembers the last value of every output (the app skips unchanged ones)."""

    def __init__(self, url: str) -> None:
        from qwenvl_viz.ui.layout import ENCODER_OUTPUTS, UPDATE_OUTPUTS

        self.client = Client(url, verbose=False)
        self.names, self.enc_names = UPDATE_OUTPUTS, ENCODER_OUTPUTS
        self.values: dict = {}
        self.changed: set[str] = set()

    def update(self, media: str = CLIP, **kw) -> dict:
        out = self.client.predict(**{**DEFAULTS, **kw, "media": handle_file(media)}, api_name="/update")
        self.changed = set()
        for name, value in zip(self.names, out):
            if not _skipped(value):
                self.values[name] = value
                self.changed.add(name)
        return self.values

    def encoder(self, endpoint: str, media: str, **kw) -> dict:
        from qwenvl_viz.ui.layout import VIEW_FIELDS

        args = {**{k: v for k, v in DEFAULTS.items() if k not in VIEW_FIELDS},
                "checkpoint": "", "tower": "qwen2.5-vl-tiny", "heatmap_kind": "pca", "layer": "merged", "token": 0,
                **kw, "media": handle_file(media)}
        out = self.client.predict(**args, api_name=endpoint)
        return {n: v for n, v in zip(self.enc_names, out)}


def _skipped(value) -> bool:
    return isinstance(value, dict) and (value == SKIP or value.get("props") == SKIP)


def _plot(value) -> dict:
    return json.loads(value["plot"])


def _array(a) -> np.ndarray:
    """A plotly 7 array: plain list or ``{"dtype", "bdata"}`` (base64)."""
    if isinstance(a, dict):
        return np.frombuffer(base64.b64decode(a["bdata"]), dtype=a["dtype"])
    return np.asarray(a)


@pytest.fixture
def session(server_url) -> Session:
    return Session(server_url)


def test_update_renders_every_view_of_the_sample_clip_with_the_trace_numbers(session):
    v = session.update()
    trace = explain(CLIP, model="qwen2.5-vl", fps=2.0)
    assert f"{trace.num_vision_tokens:,} vision tokens" in v["banner"]
    for row in ledger(trace):
        assert escape(row.shape) in v["ledger"]
    sampled = next(t for t in _plot(v["timeline"])["data"] if t.get("mode", "").startswith("markers+text"))
    np.testing.assert_allclose(_array(sampled["x"]), trace.sampling.times)
    assert Path(v["frames"]).read_bytes()[:2] == b"\xff\xd8"  # a JPEG file, not pixels in JSON
    assert f"× {trace.num_vision_tokens}" in v["prompt"]
    rope = _plot(v["rope"])["data"]
    t_ids = next(t for t in rope if t.get("name") == "T" and t.get("xaxis", "x") == "x")
    np.testing.assert_array_equal(_array(t_ids["y"]), trace.rope.position_ids[0])
    assert v["summary"]["grid_thw"] == list(trace.patchify.grid_thw)
    assert all(v[f"err:{f}"] == "" for f in ("media", "fps", "min_frames"))


def test_changing_fps_updates_the_ledger_and_the_timeline(session):
    session.update(fps=2.0)
    v = session.update(fps=4.0)
    trace = explain(CLIP, fps=4.0)
    assert {"ledger", "timeline", "frames", "patch", "rope"} <= session.changed
    assert trace.sampling.formula.split(";")[0] in v["ledger"].replace("&#x27;", "'")
    sampled = next(t for t in _plot(v["timeline"])["data"] if t.get("mode", "").startswith("markers+text"))
    assert len(_array(sampled["x"])) == trace.sampling.nframes


def test_a_view_option_resends_only_that_view(session):
    session.update()
    session.update(group=3)
    from qwenvl_viz.ui.handlers import ALWAYS_SENT  # the banner and the error slots: a few bytes, always sent

    assert session.changed - ALWAYS_SENT == {"patch", "select_image", "g_patches", "g_patches_cap"}  # group 3's grids
    patch = _plot(session.values["patch"])
    assert "temporal group 3" in json.dumps(patch["layout"]["annotations"])


def test_qwen3_prompt_shows_each_timestamp_next_to_its_frame_pair(session):
    v = session.update(model="qwen3-vl")
    trace = explain(CLIP, model="qwen3-vl", fps=2.0)
    html = v["prompt"]
    positions = [html.index(escape(s)) for s in trace.prompt.timestamp_strings]
    assert positions == sorted(positions)
    first_pair = ", ".join(str(trace.sampling.indices[i]) for i in trace.patchify.groups[0])
    assert f"(frames {first_pair})" in html
    assert "Qwen3-VL" in v["banner"]


def test_invalid_combination_shows_the_message_next_to_its_control_and_keeps_serving(session):
    v = session.update(min_frames=10, max_frames=4)
    assert "min_frames" in v["err:min_frames"] and "banner-error" in v["banner"]
    assert v["err:media"] == "" and v["err:fps"] == ""
    v = session.update()
    assert v["err:min_frames"] == "" and "banner-ok" in v["banner"]


def test_corrupt_upload_shows_an_error_and_the_next_good_file_works(session, tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    v = session.update(media=str(bad))
    assert "banner-error" in v["banner"] and "broken.mp4" in v["err:media"]
    assert "Traceback" not in v["banner"] + v["err:media"]
    assert "/" not in v["err:media"].split("Allowed:")[0]  # the file's name, not the server's upload path
    assert "last valid settings" not in v["banner"]  # nothing was shown before in this session
    v = session.update(media=CLIP)
    assert "banner-ok" in v["banner"] and v["err:media"] == ""
    v = session.update(media=str(bad))
    assert "views below still show the last valid settings" in v["banner"]


def test_budgets_typed_in_tokens_become_pixels_with_the_model_factor(session):
    v = session.update(media=IMAGE, model="qwen3-vl", pixel_unit="tokens", max_pixels=256)
    px = get_profile("qwen3-vl").tokens_to_pixels(256)
    assert f"max {px:,} px = 256.0 tokens" in v["budget"]
    trace = explain(IMAGE, model="qwen3-vl", max_pixels=px)
    assert v["summary"]["num_vision_tokens"] == trace.num_vision_tokens


def test_relabel_switches_every_label_to_chinese(server_url):
    client = Client(server_url, verbose=False)
    out = client.predict("中文", api_name="/relabel")
    labels = [o.get("label") or o.get("value") for o in out if isinstance(o, dict)]
    texts = [x for x in labels if isinstance(x, str)]
    assert len(texts) > 20
    cjk = [x for x in texts if re.search(r"[\u4e00-\u9fff]", x)]
    assert len(cjk) >= len(texts) - 4  # a few labels are code names in both languages (e.g. Qwen2-VL)


def test_encoder_run_with_a_tiny_tower_shows_shapes_heatmap_and_random_weights(session):
    trace = explain(IMAGE, model="qwen2.5-vl")
    out = session.encoder("/run_encoder", IMAGE)
    rows, row_len = trace.patchify.shape
    assert f"[{rows}, {row_len}]" in out["stages"]
    assert "RANDOM" in out["encoder_banner"]
    assert Path(out["heatmap"]).read_bytes()[:2] == b"\xff\xd8"
    assert out["err:checkpoint"] == ""
    bad = session.encoder("/heatmap", IMAGE, heatmap_kind="cosine", token=10**7)
    assert "out of range" in bad["err:token"]


# ---- without a server ----------------------------------------------------------------------------

def _update_fn(demo):
    return next(f for f in demo.fns.values() if f.api_name == "update").fn


def _args(media: str, **kw) -> list:
    from qwenvl_viz.ui.layout import REQUEST_FIELDS, VIEW_FIELDS

    values = {**DEFAULTS, **kw, "media": media}
    return [values["lang"], *(values[n] for n in REQUEST_FIELDS), *(values[n] for n in VIEW_FIELDS), {}]


def test_video_longer_than_the_limit_is_refused_with_a_message():
    from qwenvl_viz.ui.layout import UPDATE_OUTPUTS, AppConfig, build_demo

    demo = build_demo(AppConfig(max_duration_s=5.0))
    out = dict(zip(UPDATE_OUTPUTS, _update_fn(demo)(*_args(CLIP))))
    assert "600" not in out["err:media"] and "5 s" in out["err:media"]


def test_clip_update_payload_is_small_and_draws_frames_as_images():
    sys_path = str(ROOT / "bench")
    import sys

    sys.path.insert(0, sys_path)
    try:
        from app_latency import payload_bytes
    finally:
        sys.path.remove(sys_path)
    from qwenvl_viz.ui.layout import build_demo

    out = _update_fn(build_demo())(*_args(CLIP, fps=4.0))
    assert payload_bytes(out) < 2_000_000


@pytest.mark.parametrize("media,model", [(CLIP, "qwen2-vl"), (CLIP, "qwen2.5-vl"), (CLIP, "qwen3-vl"),
                                         (IMAGE, "qwen2.5-vl")])
def test_figures_are_valid_plotly(media, model):
    """The figures skip plotly.py's validation for speed; here every one goes through it."""
    from PIL import Image

    from qwenvl_viz.figures import patch_grid, resize, rope, timeline

    trace = explain(media, model=model, fps=8.0 if media == CLIP else None)
    frame = Image.new("RGB", (90, 160))
    for fig in (timeline.timeline_figure(trace, "zh"), resize.resize_figure(trace, "en", 4096),
                patch_grid.patch_grid_figure(trace, frame, 0, "raster", True, "en"), rope.rope_figure(trace, "zh")):
        raw = json.loads(fig.to_json())
        validated = json.loads(go.Figure(fig.to_dict()).to_json())  # raises on an unknown property
        assert len(json.dumps(raw["layout"].pop("template"))) < 100  # plotly.py's default template is ~7 kB
        validated["layout"].pop("template")
        assert validated == raw  # nothing rewritten: a `line_width` or `Turbo` would be, and plotly.js ignores them


def test_patch_grid_numbers_are_the_pixel_value_rows_in_merge_order():
    from PIL import Image

    from qwenvl_viz.figures.patch_grid import patch_grid_figure
    from qwenvl_viz.merge_order import row_coords

    trace = explain(IMAGE)
    fig = patch_grid_figure(trace, Image.new("RGB", (92, 60)), 0, "merge", False, "en").to_dict()
    zoom = next(t for t in fig["data"] if t["type"] == "heatmap" and t.get("xaxis") == "x2")
    numbers = np.asarray(zoom["text"])
    coords = row_coords(trace.patchify.grid_thw, trace.patchify.merge_size).numpy()
    for r, (_, h, w) in enumerate(coords):
        if h < numbers.shape[0] and w < numbers.shape[1]:
            assert numbers[h, w] == r


def test_server_limits_uploads_and_queues_requests(server_url):
    _, demo = running_app()
    assert demo.max_file_size == 20 * 1024 * 1024  # app_server launches with max_upload_mb=20
    assert demo._queue.max_size is not None
    limits = {f.api_name: f.concurrency_limit for f in demo.fns.values() if f.api_name}
    assert limits["run_encoder"] == 1 and limits["update"] >= 1


def test_app_imports_without_launching_and_parses_its_flags():
    import app

    args = app.parse_args(["--host", "0.0.0.0", "--port", "7999", "--share", "--checkpoint", "/ckpt",
                           "--max-upload-mb", "50", "--max-duration-s", "30"])
    assert (args.host, args.port, args.share, args.checkpoint) == ("0.0.0.0", 7999, True, "/ckpt")
    assert (args.max_upload_mb, args.max_duration_s) == (50.0, 30.0)
    assert callable(app.build_demo) and not hasattr(app, "_launched")
