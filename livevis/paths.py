"""Where livevis keeps per-user files (downloads, engine cache)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """`$LIVEVIS_CACHE_DIR`, else `$XDG_CACHE_HOME/livevis`, else `~/.cache/livevis`; created on demand."""
    root = os.environ.get("LIVEVIS_CACHE_DIR")
    if root:
        base = Path(root)
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "livevis"
    path = base.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
