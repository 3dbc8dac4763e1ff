"""Atomic, safe-to-load training checkpoints with RNG state, and a directory of the last K of them.

A checkpoint is one torch.save file holding only tensors and plain containers (state dicts, ints,
floats, strings), so it loads with torch.load(weights_only=True): no code is unpickled. The
directory keeps `ckpt-<step>.pt` files plus `latest.json` (rewritten atomically after each save),
which is the only thing resume trusts: a half-written checkpoint is never pointed at.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from livevis.errors import LivevisError
from livevis.util.atomic import atomic_open, atomic_path

LATEST = "latest.json"
_NAME = re.compile(r"^ckpt-(\d{8})\.pt$")


def rng_state() -> dict[str, Any]:
    """Python, numpy (global) and torch CPU/CUDA generator states as weights_only-loadable values."""
    np_state = np.random.get_state()
    state = {
        "python": _tuplify_to_lists(random.getstate()),
        "numpy": {"name": np_state[0], "keys": torch.from_numpy(np_state[1].astype(np.int64)),
                  "pos": int(np_state[2]), "has_gauss": int(np_state[3]), "gauss": float(np_state[4])},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(_lists_to_tuples(state["python"]))
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _tuplify_to_lists(x):
    return [_tuplify_to_lists(v) for v in x] if isinstance(x, (tuple, list)) else x


def _lists_to_tuples(x):
    return tuple(_lists_to_tuples(v) for v in x) if isinstance(x, list) else x


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """DDP / torch.compile wrappers save under the inner module's names."""
    while hasattr(model, "module") and isinstance(model.module, torch.nn.Module):
        model = model.module
    return getattr(model, "_orig_mod", model)


def save_checkpoint(path: str | Path, *, models: dict[str, torch.nn.Module], optimizers: dict[str, torch.optim.Optimizer],
                    scalers: dict[str, Any] | None = None, step: int, extra: dict[str, Any] | None = None) -> Path:
    """Write one checkpoint atomically. `extra` must hold plain values (numbers, strings, lists, dicts, tensors)."""
    payload = {
        "format": "livevis-checkpoint",
        "version": 1,
        "step": int(step),
        "models": {k: _unwrap(m).state_dict() for k, m in models.items()},
        "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
        "scalers": {k: s.state_dict() for k, s in (scalers or {}).items()},
        "rng": rng_state(),
        "extra": dict(extra or {}),
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_checkpoint(path: str | Path, *, models: dict[str, torch.nn.Module], optimizers: dict[str, torch.optim.Optimizer],
                    scalers: dict[str, Any] | None = None, restore_rng: bool = True) -> tuple[int, dict[str, Any]]:
    """Restore models, optimisers, scalers and RNG state in place; returns (step, extra)."""
    path = Path(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise LivevisError(f"no checkpoint at {path}") from None
    except Exception as exc:  # torch raises several types for truncated or foreign files
        raise LivevisError(f"cannot read checkpoint {path}: {exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
    if not isinstance(payload, dict) or payload.get("format") != "livevis-checkpoint":
        raise LivevisError(f"{path} is not a livevis checkpoint")
    for kind, wanted, have in (("model", models, payload["models"]), ("optimizer", optimizers, payload["optimizers"]),
                               ("scaler", scalers or {}, payload["scalers"])):
        missing = sorted(set(wanted) - set(have))
        if missing:
            raise LivevisError(f"checkpoint {path} has no {kind} state for {', '.join(missing)}")
    try:
        for k, m in models.items():
            _unwrap(m).load_state_dict(payload["models"][k])
        for k, o in optimizers.items():
            o.load_state_dict(payload["optimizers"][k])
        for k, s in (scalers or {}).items():
            s.load_state_dict(payload["scalers"][k])
    except (RuntimeError, ValueError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise LivevisError(f"checkpoint {path} does not fit this model: {first}") from None
    if restore_rng:
        set_rng_state(payload["rng"])
    return int(payload["step"]), payload["extra"]


class CheckpointDir:
    """`ckpt-<step>.pt` files in one folder, the newest `keep` kept, `latest.json` pointing at the newest."""

    def __init__(self, root: str | Path, keep: int = 3):
        if keep < 1:
            raise ValueError("keep must be >= 1")
        self.root = Path(root)
        self.keep = keep

    def path_for(self, step: int) -> Path:
        return self.root / f"ckpt-{step:08d}.pt"

    def latest(self) -> Path | None:
        """The checkpoint `latest.json` names, or None when there is none yet."""
        pointer = self.root / LATEST
        if not pointer.is_file():
            return None
        try:
            name = json.loads(pointer.read_text())["file"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise LivevisError(f"damaged checkpoint pointer {pointer}: {exc}") from None
        path = self.root / name
        if not path.is_file():
            raise LivevisError(f"{pointer} names {name}, which is missing")
        return path

    def save(self, step: int, **state: Any) -> Path:
        """save_checkpoint(...) to ckpt-<step>.pt, then move the pointer, then prune old files."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = save_checkpoint(self.path_for(step), step=step, **state)
        with atomic_open(self.root / LATEST, "w") as f:
            json.dump({"file": path.name, "step": step}, f)
        self._prune(keep_also=path.name)
        return path

    def _prune(self, keep_also: str) -> None:
        found = sorted((int(m.group(1)), p) for p in self.root.iterdir() if (m := _NAME.match(p.name)))
        for _, p in found[: max(0, len(found) - self.keep)]:
            if p.name != keep_also:
                p.unlink(missing_ok=True)
