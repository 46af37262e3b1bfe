"""Small files that save start-up work across processes: where they live and how they are written.

``$QWENVL_VIZ_CACHE_DIR`` (empty: off), else ``$XDG_CACHE_HOME/qwenvl_viz``, else ``~/.cache/qwenvl_viz``.
Every entry is keyed by everything its content depends on, so a stale entry is never read, only
left behind; a missing, unreadable or unwritable cache costs time, never a wrong number.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["cache_dir", "write_atomic"]

ENV = "QWENVL_VIZ_CACHE_DIR"


def cache_dir(kind: str) -> Path | None:
    """The folder for one kind of entry (not created here), or None when the cache is off."""
    root = os.environ.get(ENV)
    if root is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(base, "qwenvl_viz")
    return Path(root) / kind if root else None


def write_atomic(path: Path, write) -> bool:
    """``write(file object)`` into a temporary file beside ``path``, then rename it into place (readers
    never see half a file); False where the folder cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
        return True
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False
