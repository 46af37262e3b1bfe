"""The tower picker: each family's public Hub checkpoints (real weights, fetched on first use) and the
random-weight presets, as ``(label, value)`` choices for one dropdown.

A Hub choice's value is ``"hub:OWNER/NAME"``; its label gives the download: the vision tensors only,
in bf16 as the checkpoints store them (the tower's parameter count x 2 bytes). Real weights are the
default whenever the Hub can be reached (HF_HUB_OFFLINE unset and the endpoint answers): the family's
default size on a GPU or ZeroGPU, its smallest tower on a CPU (real embeddings that a CPU encodes in
reasonable time). Random weights only offline, when the Hub does not answer, or on request (picked),
labelled as such.
"""

from __future__ import annotations

import os
import threading
import time
from functools import cache
from pathlib import Path

import torch

from ..encoder import DEFAULT_PRESET, PRESETS, VisionConfig, build_tower, get_preset
from ..encoder.hub import Progress, fetch_tower, is_repo_spec
from ..profiles import PROFILES, Family, get_profile

__all__ = ["HUB", "HUB_TOWERS", "BF16_BYTES", "vision_bytes", "download_bytes", "picker_choices", "default_choice", "real_by_default",
           "hub_reachable", "precompute_choice", "hub_repo", "fetched", "fetched_folder", "PROBE_TIMEOUT_S"]

HUB = "hub:"  # prefix of a picker value naming a Hub repo
BF16_BYTES = 2  # the public checkpoints store the tower in bfloat16 (config.json "torch_dtype")

# The public checkpoints of each family, ``(repo, preset)``, as its profile declares them (a family with
# none, such as Qwen4-Exp, has random presets only).
HUB_TOWERS: dict[Family, tuple[tuple[str, str], ...]] = {p.family: p.checkpoints for p in PROFILES.values()}
_FETCHED: dict[str, tuple[Path, str]] = {}  # repo spec -> (folder, label), once per process
_FETCH_LOCK = threading.Lock()  # two sessions picking the same tower download it once


def vision_bytes(config: VisionConfig, itemsize: int = BF16_BYTES) -> int:
    """Bytes of a tower's tensors: its parameter count x ``itemsize`` (a meta tower: no memory used)."""
    return sum(t.numel() for t in build_tower(config, "meta").state_dict().values()) * itemsize


@cache
def download_bytes(preset: str) -> int:
    """What picking ``preset``'s public checkpoint downloads: its vision tensors in bf16."""
    return vision_bytes(get_preset(preset))


def _offline() -> bool:
    from ..encoder.hub import _offline as offline

    return offline()


PROBE_TIMEOUT_S = 2.0  # the Hub answers a HEAD in well under a second; a dead network fails fast
PROBE_TTL_S = 300.0  # the answer is kept this long: a network that comes back is noticed within minutes
_PROBES: dict[str, tuple[float, bool]] = {}  # endpoint -> (when, answered)


def _probe(endpoint: str) -> bool:
    from huggingface_hub import get_session

    try:
        get_session().head(endpoint + "/", timeout=PROBE_TIMEOUT_S)
        ok = True
    except Exception:  # DNS, refused, timeout, proxy: no Hub from here
        ok = False
    _PROBES[endpoint] = (time.monotonic(), ok)
    return ok


def hub_reachable() -> bool:
    """Whether ``HF_ENDPOINT`` answers at all (any HTTP status). The first call asks (one HEAD); later calls
    answer at once from the last answer and refresh it in the background once it is ``PROBE_TTL_S`` old,
    so no page update ever waits on the network."""
    from huggingface_hub import constants

    endpoint = (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")
    hit = _PROBES.get(endpoint)
    if hit is None:
        return _probe(endpoint)
    if time.monotonic() - hit[0] >= PROBE_TTL_S:
        _PROBES[endpoint] = (time.monotonic(), hit[1])  # one refresh at a time
        threading.Thread(target=_probe, args=(endpoint,), name="hub-probe", daemon=True).start()
    return hit[1]


def _gpu() -> bool:
    from .encoder_view import ON_ZERO_GPU

    return ON_ZERO_GPU or torch.cuda.is_available()


def real_by_default() -> bool:
    """Real weights unless HF_HUB_OFFLINE is set or the Hub does not answer (random only then, or on request)."""
    return not _offline() and hub_reachable()


def picker_choices(family: Family | str) -> list[tuple[str, str]]:
    """Hub towers first (unless offline), then random presets, tiny first."""
    fam = Family(family)
    hub = [] if _offline() else [
        (f"{repo} · real weights 真实权重 · {download_bytes(preset) / 1e9:.2f} GB", HUB + repo)
        for repo, preset in HUB_TOWERS[fam]
    ]  # fmt: skip
    names = [t.preset for t in get_profile(fam).towers]  # the profile's order: smallest public size first
    presets = sorted(names, key=lambda n: not n.endswith("-tiny"))  # stable: the tiny demo tower, then the sizes
    return hub + [(f"{n} · random weights 随机权重", n) for n in presets]


def _tiny(fam: Family) -> str:
    return next(n for n, c in PRESETS.items() if c.family is fam and n.endswith("-tiny"))


def default_choice(family: Family | str) -> str:
    """The picker's default: a real tower whenever the Hub answers (the family's default size on a GPU, its
    smallest download on a CPU); random weights otherwise (the full-size preset on a GPU, the tiny one on a CPU)."""
    fam = Family(family)
    hub = HUB_TOWERS[fam]
    if real_by_default() and hub:  # a family without a public checkpoint (Qwen4-Exp) stays random
        if _gpu():
            return HUB + next((repo for repo, p in hub if p == DEFAULT_PRESET[fam]), hub[0][0])
        return HUB + min(hub, key=lambda rp: (download_bytes(rp[1]), rp[0]))[0]
    if torch.cuda.is_available():
        return DEFAULT_PRESET[fam]
    return _tiny(fam)


def precompute_choice(family: Family | str, checkpoint: str | None = None) -> str:
    """What the start-up warm-up encodes the bundled examples with: the default tower where that is cheap (a
    GPU, ZeroGPU or a configured checkpoint); on a CPU, the tiny random tower, so that the start-up never
    downloads a gigabyte or spends minutes of CPU before the first visitor; the real default then runs on Run."""
    choice = default_choice(family)
    if checkpoint or _gpu() or not choice.startswith(HUB):
        return choice
    return _tiny(Family(family))


def hub_repo(checkpoint: str | None, choice: str | None) -> str | None:
    """The Hub repo to fetch: the checkpoint field when it holds a repo id, else a Hub picker choice."""
    if checkpoint:
        return checkpoint if is_repo_spec(checkpoint) else None
    if choice and choice.startswith(HUB):
        return choice[len(HUB):]
    return None


def fetched_folder(spec: str) -> Path | None:
    """The folder of a tower this process has fetched, without any request (heatmap redraws)."""
    hit = _FETCHED.get(spec)
    return hit[0] if hit is not None else None


def fetched(spec: str, progress: Progress | None = None) -> tuple[Path, str]:
    """``(folder, label)`` of a Hub tower, fetched on first use (then cached on disk and here)."""
    with _FETCH_LOCK:
        hit = _FETCHED.get(spec)
        if hit is None or not os.path.isdir(hit[0]):
            fetch = fetch_tower(spec, progress=progress)
            hit = _FETCHED[spec] = (fetch.folder, fetch.label)
        return hit
