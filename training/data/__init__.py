"""Training data: `livevis prepare` (videos or the synthetic set) and the `ClipDataset` loader.

Names resolve lazily so `livevis prepare` does not pay for importing torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "ClipDataset": ("livevis.training.data.dataset", "ClipDataset"),
    "prepare_videos": ("livevis.training.data.prepare", "prepare_videos"),
    "write_synthetic": ("livevis.training.data.synthetic.generate", "write_synthetic"),
    "SYNTHETIC_CLASSES": ("livevis.training.data.synthetic.generate", "CLASSES"),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attr = _EXPORTS[name]
    return getattr(importlib.import_module(module), attr)
