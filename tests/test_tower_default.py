"""Which tower the app encodes with by default: real weights whenever the Hub answers, random weights only
offline, when the Hub does not answer, or when picked (against a loopback Hub; no network)."""

from __future__ import annotations

import socket

import pytest
import torch

from hub_server import Hub, HubServer
from qwenvl_viz import explain
from qwenvl_viz.encoder import PRESETS
from qwenvl_viz.profiles import Family
from qwenvl_viz.ui import encoder_view, towers


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def online(monkeypatch, tmp_path):
    """huggingface_hub pointed at a running loopback Hub, online, on a CPU without ZeroGPU."""
    from huggingface_hub import constants

    monkeypatch.setattr(towers, "_PROBES", {})
    monkeypatch.setattr(towers, "_FETCHED", {})
    monkeypatch.setattr(encoder_view, "ON_ZERO_GPU", False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    server = Hub()
    with HubServer(server) as url:
        monkeypatch.setenv("HF_ENDPOINT", url)
        yield server


def _smallest(family: Family) -> str:
    return min(towers.HUB_TOWERS[family], key=lambda rp: towers.download_bytes(rp[1]))[0]


@pytest.mark.parametrize("family", [Family.QWEN2_VL, Family.QWEN2_5_VL, Family.QWEN3_VL])
def test_online_cpu_defaults_to_the_smallest_real_tower(online, family):
    choice = encoder_view.default_tower(family)
    assert choice == towers.HUB + _smallest(family)
    sizes = {repo: towers.download_bytes(p) for repo, p in towers.HUB_TOWERS[family]}
    assert sizes[_smallest(family)] == min(sizes.values()) < max(sizes.values())
    # the start-up never downloads on a CPU: it precomputes the bundled examples with the tiny random tower
    assert towers.precompute_choice(family) == next(n for n, c in PRESETS.items() if c.family is family
                                                    and n.endswith("-tiny"))
    assert towers.precompute_choice(family, checkpoint="/some/folder") == choice  # a configured tower: itself


def test_online_gpu_defaults_to_the_family_default_size_and_precomputes_it(online, monkeypatch):
    monkeypatch.setattr(encoder_view, "ON_ZERO_GPU", True)  # the Space on ZeroGPU
    assert encoder_view.default_tower(Family.QWEN3_VL) == towers.HUB + "Qwen/Qwen3-VL-8B-Instruct"
    assert towers.precompute_choice(Family.QWEN3_VL) == towers.HUB + "Qwen/Qwen3-VL-8B-Instruct"


def test_a_hub_that_does_not_answer_means_random_weights_and_one_probe(online, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    assert encoder_view.default_tower(Family.QWEN2_5_VL) == "qwen2.5-vl-tiny"
    assert encoder_view.default_tower(Family.QWEN2_VL) == "qwen2-vl-tiny"
    assert [ok for _, ok in towers._PROBES.values()] == [False]  # asked once, the answer reused


def test_hub_reachable_counts_any_answer_and_refreshes_in_the_background(online, monkeypatch):
    assert towers.hub_reachable()
    n = len(online.requests)
    assert towers.hub_reachable() and len(online.requests) == n  # cached: no second request
    endpoint = next(iter(towers._PROBES))
    towers._PROBES[endpoint] = (towers._PROBES[endpoint][0] - towers.PROBE_TTL_S, False)  # stale and "down"
    assert towers.hub_reachable() is False  # answered at once from the stale value ...
    for t in __import__("threading").enumerate():
        if t.name == "hub-probe":
            t.join(5)
    assert towers.hub_reachable() is True  # ... and refreshed behind it


def test_glance_shows_the_random_preview_and_says_what_run_fetches(online, tmp_path):
    from media_factory import make_image
    from qwenvl_viz.ui.views import ViewOptions, render_views

    trace = explain(make_image(tmp_path / "photo.png", width=112, height=84), model="qwen2.5-vl")
    key = ("photo", 1)
    cap = dict(render_views(key, trace, ViewOptions(), "en"))["g_heat_cap"][1]
    repo = _smallest(Family.QWEN2_5_VL)
    assert "press Run" in cap and f"Run fetches the real tower of {repo}" in cap  # nothing encoded yet
    encoder_view.run_encoder(key, trace, None, towers.precompute_choice(trace.model))  # what warm-up does
    views = render_views(key, trace, ViewOptions(), "zh")
    cap, pic = views["g_heat_cap"][1], views["g_heatmaps"][1]
    assert pic is not None and "qwen2.5-vl-tiny" in cap and "随机权重" in cap and f"获取 {repo} 的真实编码器权重" in cap
    assert {r[0] for r in online.requests} == {"HEAD"}  # the probe only: no download happened


def test_offline_the_glance_says_nothing_about_fetching(monkeypatch, tmp_path):
    from media_factory import make_image
    from qwenvl_viz.ui.views import ViewOptions, render_views

    monkeypatch.setattr(encoder_view, "ON_ZERO_GPU", False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    trace = explain(make_image(tmp_path / "photo.png", width=112, height=84), model="qwen2.5-vl")
    assert encoder_view.default_tower(trace.model) == "qwen2.5-vl-tiny"  # conftest: HF_HUB_OFFLINE=1
    cap = render_views(("p", 2), trace, ViewOptions(), "en")["g_heat_cap"][1]
    assert "press Run" in cap and "fetches" not in cap
