"""Fetch only the vision tower of a Hub checkpoint: ``OWNER/NAME[@REVISION]`` -> a small local folder.

A Qwen-VL checkpoint is 4-16 GB of shards; its vision tower is 0.6-1.3 GB of them. This module reads
the repo's small files (``config.json``, the preprocessor configs, the tokenizer files, the safetensors
index) with ``hf_hub_download``, then each shard's safetensors header by HTTP range reads (8-byte
little-endian length + JSON), then only the ``visual.`` / ``model.visual.`` byte ranges, and writes them
into one ``model.safetensors``. The result is an ordinary checkpoint folder that ``load_tower`` reads::

    $HF_HUB_CACHE/qwenvl-viz-towers/models--Qwen--Qwen2.5-VL-3B-Instruct/
        refs/main                  # the commit that "main" resolved to
        <commit>/config.json, preprocessor_config.json, tokenizer.json, ..., model.safetensors, fetch.json

Keyed by repo and commit, so the next run (and an offline run) reuses it. The environment is read at
call time, as ``huggingface_hub`` reads it: ``HF_ENDPOINT``, ``HF_TOKEN``, ``HF_HUB_OFFLINE``,
``HF_HUB_CACHE``. Safetensors format: https://huggingface.co/docs/safetensors/index#format.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import VizError

__all__ = [
    "SMALL_FILES",
    "TOWER_CACHE_NAME",
    "TowerFetch",
    "parse_repo_spec",
    "is_repo_spec",
    "tower_cache_dir",
    "fetch_tower",
    "checkpoint_files",
    "export_tower",
    "resolve_checkpoint",
]

# What a vision-only folder keeps besides the tensors: what config_from_checkpoint, the processors
# and the tokenizer read. Only those present in the repo are fetched.
SMALL_FILES = (
    "config.json",
    "preprocessor_config.json",
    "video_preprocessor_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.json",
    "merges.txt",
    "special_tokens_map.json",
    "added_tokens.json",
    "chat_template.json",
    "chat_template.jinja",
    "generation_config.json",
)
INDEX_FILE, SINGLE_FILE = "model.safetensors.index.json", "model.safetensors"
VISION_PREFIXES = ("model.visual.", "visual.")  # Qwen3-VL / transformers >= 4.52 re-saves; Qwen2/2.5-VL
TOWER_CACHE_NAME = "qwenvl-viz-towers"
DEFAULT_ENDPOINT = "https://huggingface.co"
CHUNK = 1 << 20  # bytes per progress update
_REPO_SPEC = re.compile(r"^(?P<repo>[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*)(?:@(?P<rev>[\w./-]+))?$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_TRUE = {"1", "on", "yes", "true"}

Progress = Callable[[int, int], None]  # (bytes done, bytes total)


@dataclass(frozen=True)
class TowerFetch:
    """One vision tower on disk, and what it took to get it."""

    repo_id: str
    revision: str  # as asked ("main", a tag, a commit)
    commit: str  # what it resolved to
    folder: Path  # a checkpoint folder: config.json + model.safetensors (vision tensors only) + ...
    tensors: int
    vision_bytes: int  # the vision tensors' data
    header_bytes: int  # the shards' safetensors headers read
    small_file_bytes: int  # config, preprocessor, tokenizer, index files
    shard_bytes: int  # the full size of the shards that hold vision tensors
    shards: tuple[str, ...]
    from_cache: bool

    @property
    def label(self) -> str:
        return f"{self.repo_id}@{self.commit[:12]}"

    @property
    def bytes_fetched(self) -> int:
        """Range-read bytes: headers + vision tensors (0 when reused from the cache)."""
        return 0 if self.from_cache else self.header_bytes + self.vision_bytes


def parse_repo_spec(text: str) -> tuple[str, str | None] | None:
    """``"Qwen/Qwen2.5-VL-3B-Instruct@v1"`` -> ``("Qwen/Qwen2.5-VL-3B-Instruct", "v1")``; None if not a repo id."""
    m = _REPO_SPEC.match(str(text).strip())
    if m is None or ".." in m["repo"]:
        return None
    return m["repo"], m["rev"]


def is_repo_spec(text: str | os.PathLike) -> bool:
    """A Hub repo id, and not an existing local folder (a folder of that name wins)."""
    return not os.path.isdir(text) and parse_repo_spec(str(text)) is not None


def _endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def _offline() -> bool:
    from huggingface_hub import constants

    return constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def _hub_cache() -> Path:
    from huggingface_hub import constants

    return Path(os.environ.get("HF_HUB_CACHE") or constants.HF_HUB_CACHE).expanduser()


def tower_cache_dir() -> Path:
    """Where fetched towers live: ``$HF_HUB_CACHE/qwenvl-viz-towers``."""
    return _hub_cache() / TOWER_CACHE_NAME


def _repo_dir(repo_id: str) -> Path:
    return tower_cache_dir() / ("models--" + repo_id.replace("/", "--"))


def _cached(repo_id: str, revision: str) -> Path | None:
    """The cached folder of ``repo_id`` at ``revision`` (a commit, or a ref recorded by an earlier fetch)."""
    root = _repo_dir(repo_id)
    commit = revision if _COMMIT.match(revision) else None
    if commit is None:
        ref = root / "refs" / revision
        commit = ref.read_text().strip() if ref.is_file() else None
    if commit and (root / commit / "fetch.json").is_file():
        return root / commit
    return None


def _from_folder(folder: Path, revision: str) -> TowerFetch:
    info = json.loads((folder / "fetch.json").read_text())
    info.update(revision=revision, folder=folder, shards=tuple(info["shards"]), from_cache=True)
    return TowerFetch(**info)


@contextmanager
def _hub_errors(repo_id: str, revision: str, *, cached: Callable[[], TowerFetch | None] | None = None) -> Iterator:
    """Turn huggingface_hub / httpx failures into one-line VizErrors naming the repo, revision and fix."""
    import httpx2
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = f"{repo_id}@{revision}"
    try:
        yield
    except GatedRepoError:  # before RepositoryNotFoundError, its parent class
        token = "HF_TOKEN is not set" if not _token() else "the token in HF_TOKEN has no access"
        raise VizError(
            f"Hub repo {repo_id!r} is gated and {token}; accept its terms at {_endpoint()}/{repo_id} and set "
            "HF_TOKEN to a read token, or give a local checkpoint folder",
            field="checkpoint",
        ) from None
    except RepositoryNotFoundError:
        raise VizError(
            f"Hub repo {repo_id!r} not found at {_endpoint()}; check the id (OWNER/NAME, e.g. "
            "Qwen/Qwen2.5-VL-3B-Instruct), set HF_TOKEN for a private repo, or give a local checkpoint folder",
            field="checkpoint",
        ) from None
    except RevisionNotFoundError:
        raise VizError(
            f"revision {revision!r} does not exist in Hub repo {repo_id!r}; give a branch, tag or commit "
            f"that does (default: main), as OWNER/NAME@REVISION or --revision",
            field="checkpoint",
        ) from None
    except RemoteEntryNotFoundError as err:
        raise VizError(f"Hub repo {where} lacks a file it lists ({err.response.url}); try another revision",
                       field="checkpoint") from None  # fmt: skip
    except (OfflineModeIsEnabled, LocalEntryNotFoundError, httpx2.TransportError, HfHubHTTPError, ConnectionError) as err:
        if cached is not None and (hit := cached()) is not None:
            raise _UseCache(hit) from None
        if _offline() or isinstance(err, OfflineModeIsEnabled):
            raise _offline_error(where) from None
        reason = f"HTTP {err.response.status_code}" if isinstance(err, HfHubHTTPError) and err.response is not None \
            else type(err).__name__  # fmt: skip
        raise VizError(
            f"cannot reach the Hub at {_endpoint()} for {where} ({reason}) and no tower of it is cached; check the "
            "network, HF_ENDPOINT and proxies, or give a local checkpoint folder",
            field="checkpoint",
        ) from None


def _offline_error(where: str) -> VizError:
    return VizError(
        f"HF_HUB_OFFLINE is set and nothing of {where} is cached in {_hub_cache()}; fetch it once online "
        "(python -m qwenvl_viz fetch-tower ...) or give a local checkpoint folder",
        field="checkpoint",
    )


class _UseCache(Exception):
    def __init__(self, fetch: TowerFetch) -> None:
        self.fetch = fetch


def _token() -> str | None:
    from huggingface_hub import get_token

    return get_token()


def _headers() -> dict[str, str]:
    from huggingface_hub.utils import build_hf_headers

    return build_hf_headers(library_name="qwenvl-viz")


def _timeout() -> float:
    """Seconds without a byte before a read gives up (huggingface_hub's HF_HUB_DOWNLOAD_TIMEOUT, default 10)."""
    from huggingface_hub import constants

    return float(os.environ.get("HF_HUB_DOWNLOAD_TIMEOUT") or constants.HF_HUB_DOWNLOAD_TIMEOUT)


def _range_get(url: str, start: int, stop: int) -> tuple[bytes, int]:
    """Bytes ``[start, stop)`` of ``url`` and the file's full size (from Content-Range)."""
    from huggingface_hub import get_session
    from huggingface_hub.utils import hf_raise_for_status

    r = get_session().get(url, headers={**_headers(), "Range": f"bytes={start}-{stop - 1}"}, timeout=_timeout())
    hf_raise_for_status(r)
    _check_partial(r.status_code, url)
    size = int(r.headers.get("Content-Range", "/0").rsplit("/", 1)[-1] or 0)
    if len(r.content) != stop - start:
        raise VizError(f"{url} sent {len(r.content)} bytes for a {stop - start}-byte range", field="checkpoint")
    return r.content, size


def _check_partial(status: int, url: str) -> None:
    if status != 206:  # a 200 would be the whole multi-GB shard: refuse rather than download it
        raise VizError(f"{url} ignored the Range header (HTTP {status}); the server must support range reads",
                       field="checkpoint")  # fmt: skip


@dataclass(frozen=True)
class _Tensor:
    key: str
    dtype: str
    shape: tuple[int, ...]
    start: int  # absolute byte offsets in the shard file
    stop: int


def _read_header(url: str, shard: str) -> tuple[list[_Tensor], int, int]:
    """The vision tensors of one shard (absolute offsets), the header bytes read and the shard size."""
    head, size = _range_get(url, 0, 8)
    (n,) = struct.unpack("<Q", head)
    if n > 100_000_000:
        raise VizError(f"{shard}: safetensors header of {n} bytes is not plausible", field="checkpoint")
    raw, _ = _range_get(url, 8, 8 + n)
    try:
        header = json.loads(raw)
    except json.JSONDecodeError as err:
        raise VizError(f"{shard}: safetensors header is not JSON ({err})", field="checkpoint") from None
    base = 8 + n
    out = [
        _Tensor(key, v["dtype"], tuple(v["shape"]), base + v["data_offsets"][0], base + v["data_offsets"][1])
        for key, v in header.items()
        if key != "__metadata__" and key.startswith(VISION_PREFIXES)
    ]
    return sorted(out, key=lambda t: t.start), 8 + n, size


def _runs(tensors: list[_Tensor]) -> list[tuple[int, int]]:
    """Adjacent tensors as one range: a tower is a few contiguous runs, so a few requests per shard."""
    runs: list[list[int]] = []
    for t in tensors:
        if runs and runs[-1][1] == t.start:
            runs[-1][1] = t.stop
        else:
            runs.append([t.start, t.stop])
    return [(a, b) for a, b in runs]


def _stream(url: str, start: int, stop: int, out, tick: Callable[[int], None]) -> None:
    from huggingface_hub import get_session
    from huggingface_hub.utils import hf_raise_for_status

    got = 0
    headers = {**_headers(), "Range": f"bytes={start}-{stop - 1}"}
    with get_session().stream("GET", url, headers=headers, timeout=_timeout()) as r:
        if r.status_code >= 400:
            r.read()
        hf_raise_for_status(r)
        _check_partial(r.status_code, url)
        for chunk in r.iter_bytes(CHUNK):
            out.write(chunk)
            got += len(chunk)
            tick(len(chunk))
    if got != stop - start:
        raise VizError(f"{url}: the connection ended after {got} of {stop - start} bytes; run again to retry",
                       field="checkpoint")  # fmt: skip


def _split(spec: str, revision: str | None) -> tuple[str, str]:
    parsed = parse_repo_spec(spec)
    if parsed is None:
        raise VizError(f"checkpoint {spec!r} is neither a local folder nor a Hub repo id OWNER/NAME[@REVISION]",
                       field="checkpoint")  # fmt: skip
    repo_id, at = parsed
    if revision and at and revision != at:
        raise VizError(f"two revisions given for {repo_id}: @{at} and --revision {revision}", field="revision")
    return repo_id, revision or at or "main"


def checkpoint_files(checkpoint: str | os.PathLike) -> Path:
    """A folder with the checkpoint's small files (config, preprocessor configs, tokenizer), no tensors.

    A local folder as is; a fetched tower's folder if there is one; else the repo's small files alone,
    through ``hf_hub_download`` into the Hugging Face cache (what ``explain`` needs: the tokenizer).
    """
    if os.path.isdir(checkpoint):
        return Path(checkpoint)
    repo_id, revision = _split(str(checkpoint), None)
    if (hit := _cached(repo_id, revision)) is not None:
        return hit
    from huggingface_hub import HfApi, hf_hub_download

    def get(name: str, rev: str) -> Path:
        return Path(hf_hub_download(repo_id, name, revision=rev, endpoint=_endpoint(), cache_dir=_hub_cache()))

    with _hub_errors(repo_id, revision):
        if _offline():  # hf_hub_download answers from its own cache, or says nothing is there
            return get("config.json", revision).parent
        info = HfApi(endpoint=_endpoint()).model_info(repo_id, revision=revision, timeout=_timeout())
        files = {s.rfilename for s in info.siblings or ()}
        paths = [get(name, info.sha) for name in SMALL_FILES if name in files]
        if not paths:
            raise VizError(f"Hub repo {repo_id}@{revision} has no config.json", field="checkpoint")
        return paths[0].parent


def fetch_tower(spec: str, *, revision: str | None = None, progress: Progress | None = None) -> TowerFetch:
    """The vision tower of Hub repo ``spec`` (``OWNER/NAME[@REVISION]``), fetched once, then cached.

    ``progress(done, total)`` is called as the tensor bytes arrive (the app's gr.Progress); a tqdm bar
    is shown as well unless ``HF_HUB_DISABLE_PROGRESS_BARS`` is set.
    """
    repo_id, revision = _split(spec, revision)

    def cached() -> TowerFetch | None:
        folder = _cached(repo_id, revision)
        return None if folder is None else _from_folder(folder, revision)

    if _offline():
        if (hit := cached()) is not None:
            return hit
        raise _offline_error(f"{repo_id}@{revision}")
    try:
        with _hub_errors(repo_id, revision, cached=cached):
            return _fetch(repo_id, revision, progress)
    except _UseCache as use:  # the Hub is unreachable but this revision was fetched before
        return use.fetch


def _fetch(repo_id: str, revision: str, progress: Progress | None) -> TowerFetch:
    from huggingface_hub import HfApi, hf_hub_download, hf_hub_url
    from huggingface_hub.utils import tqdm as hf_tqdm

    endpoint = _endpoint()
    info = HfApi(endpoint=endpoint).model_info(repo_id, revision=revision, timeout=_timeout())
    commit = info.sha
    if not commit or not _COMMIT.match(commit):
        raise VizError(f"{endpoint} did not report the commit of {repo_id}@{revision} (sha {commit!r}); is HF_ENDPOINT "
                       "a Hugging Face Hub?", field="checkpoint")  # fmt: skip
    files = {s.rfilename for s in info.siblings or ()}
    root = _repo_dir(repo_id)
    if (root / commit / "fetch.json").is_file():
        _write_ref(root, revision, commit)
        return _from_folder(root / commit, revision)

    def download(name: str) -> Path:
        return Path(hf_hub_download(repo_id, name, revision=commit, endpoint=endpoint, cache_dir=_hub_cache()))

    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{commit}.", dir=root))
    try:
        small = 0
        for name in SMALL_FILES:
            if name in files:
                path = download(name)
                shutil.copyfile(path, tmp / name)
                small += path.stat().st_size
        if INDEX_FILE in files:
            path = download(INDEX_FILE)
            small += path.stat().st_size
            weight_map = json.loads(path.read_text()).get("weight_map", {})
            shards = sorted({f for k, f in weight_map.items() if k.startswith(VISION_PREFIXES)})
        elif SINGLE_FILE in files:
            shards = [SINGLE_FILE]
        else:
            raise VizError(f"Hub repo {repo_id}@{revision} has neither {SINGLE_FILE} nor {INDEX_FILE}",
                           field="checkpoint")  # fmt: skip
        if not shards:
            raise VizError(f"Hub repo {repo_id}@{revision}: its index lists no visual.* tensors", field="checkpoint")

        plan: list[tuple[str, str, list[_Tensor]]] = []  # (shard, url, its vision tensors)
        header_bytes = shard_bytes = 0
        for shard in shards:
            url = hf_hub_url(repo_id, shard, revision=commit, endpoint=endpoint)
            tensors, n, size = _read_header(url, shard)
            header_bytes += n
            shard_bytes += size
            plan.append((shard, url, tensors))
        every = [t for _, _, ts in plan for t in ts]
        if not every:
            raise VizError(f"Hub repo {repo_id}@{revision} has no visual.* tensors", field="checkpoint")
        keys = [t.key for t in every]
        if len(set(keys)) != len(keys):
            raise VizError(f"Hub repo {repo_id}@{revision}: a vision tensor appears in two shards", field="checkpoint")

        # The output file: header first (offsets in fetch order), then the bytes as they stream in.
        header, offset = {"__metadata__": {"repo_id": repo_id, "commit": commit, "format": "pt"}}, 0
        for t in every:
            header[t.key] = {"dtype": t.dtype, "shape": list(t.shape), "data_offsets": [offset, offset + t.stop - t.start]}
            offset += t.stop - t.start
        raw = json.dumps(header, separators=(",", ":")).encode()
        raw += b" " * (-len(raw) % 8)  # the data starts 8-byte aligned, as safetensors writes it
        total = offset
        done = 0
        with open(tmp / SINGLE_FILE, "wb") as out, hf_tqdm(
            total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=f"{repo_id} vision tower"
        ) as bar:
            out.write(struct.pack("<Q", len(raw)) + raw)

            def tick(n: int) -> None:
                nonlocal done
                done += n
                bar.update(n)
                if progress is not None:
                    progress(done, total)

            for shard, url, tensors in plan:
                for a, b in _runs(tensors):
                    _stream(url, a, b, out, tick)
        fetch = TowerFetch(
            repo_id=repo_id, revision=revision, commit=commit, folder=root / commit, tensors=len(every),
            vision_bytes=total, header_bytes=header_bytes, small_file_bytes=small, shard_bytes=shard_bytes,
            shards=tuple(shards), from_cache=False,
        )  # fmt: skip
        record = {k: v for k, v in asdict(fetch).items() if k not in ("folder", "revision", "from_cache")}
        (tmp / "fetch.json").write_text(json.dumps(record, indent=1))
        try:
            tmp.rename(root / commit)  # atomic: a half-written tower is never seen as cached
        except OSError:  # another process finished first
            if not (root / commit / "fetch.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _write_ref(root, revision, commit)
    return fetch


def _write_ref(root: Path, revision: str, commit: str) -> None:
    if revision != commit:
        ref = root / "refs" / revision
        ref.parent.mkdir(parents=True, exist_ok=True)
        ref.write_text(commit)


def export_tower(fetch: TowerFetch, out: str | os.PathLike) -> Path:
    """Copy the fetched tower into ``out``: a vision-only checkpoint folder for ``--checkpoint DIR``."""
    dest = Path(out)
    if dest.exists() and not dest.is_dir():
        raise VizError(f"--out {str(dest)!r} exists and is not a folder", field="out")
    try:
        dest.mkdir(parents=True, exist_ok=True)
        for f in sorted(fetch.folder.iterdir()):
            if f.is_file():
                shutil.copyfile(f, dest / f.name)
    except OSError as err:
        raise VizError(f"cannot write {str(dest)!r}: {err.strerror}", field="out") from None
    return dest


def resolve_checkpoint(checkpoint: str | os.PathLike, *, progress: Progress | None = None) -> tuple[Path, str]:
    """``(local folder, label)`` for ``--checkpoint``: a folder as is, a Hub repo id fetched (or cached)."""
    if os.path.isdir(checkpoint):
        return Path(checkpoint), str(checkpoint)
    if parse_repo_spec(str(checkpoint)) is None:
        raise VizError(
            f"checkpoint {str(checkpoint)!r} is neither a local folder nor a Hub repo id OWNER/NAME[@REVISION]; "
            "give a Hugging Face checkpoint folder (config.json + safetensors) or e.g. Qwen/Qwen2.5-VL-3B-Instruct",
            field="checkpoint",
        )
    try:
        fetch = fetch_tower(str(checkpoint), progress=progress)
    except VizError as err:
        parent = Path(checkpoint).parent
        if str(parent) not in ("", ".") and parent.is_dir():  # "ckpts/Qwen2.5-VL-3B" with ckpts/ present: a typo?
            raise VizError(f"{err} (there is no local folder {str(checkpoint)!r} either)", field="checkpoint") from None
        raise
    return fetch.folder, fetch.label
