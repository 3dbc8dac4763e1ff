"""Pieces the backends share: cache entry handle, low-precision wrappers."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from livevis.engines.engine import as_flat

LOW_PRECISION = {"fp16": torch.float16, "bf16": torch.bfloat16}


@dataclass
class Entry:
    """Where a backend may keep its artefacts for one engine key (None: caching is off)."""

    folder: Path
    key: str
    fields: dict[str, Any]


class AutocastModule(nn.Module):
    """Runs `inner` under autocast (reductions and norms stay fp32 by autocast's op lists); fp32 out."""

    def __init__(self, inner: nn.Module, device_type: str, dtype: torch.dtype):
        super().__init__()
        self.inner, self.device_type, self.dtype = inner, device_type, dtype

    def forward(self, *inputs: torch.Tensor):
        with torch.autocast(self.device_type, dtype=self.dtype):
            out = self.inner(*inputs)
        flat = tuple(t.float() if t.is_floating_point() else t for t in as_flat(out))
        return flat if isinstance(out, (tuple, list)) else flat[0]


class CastBoundary(nn.Module):
    """A copy of `inner` with weights in `dtype`; fp32 inputs are cast in and outputs cast back to fp32,
    so an exported low-precision graph keeps the eager module's signature."""

    def __init__(self, inner: nn.Module, dtype: torch.dtype):
        super().__init__()
        self.inner = copy.deepcopy(inner).to(dtype)
        self.dtype = dtype

    def forward(self, *inputs: torch.Tensor):
        cast = [x.to(self.dtype) if x.is_floating_point() else x for x in inputs]
        out = self.inner(*cast)
        flat = tuple(t.float() if t.is_floating_point() else t for t in as_flat(out))
        return flat if isinstance(out, (tuple, list)) else flat[0]


def flat_runner(fn):
    """Wrap a callable returning eager structure so it returns a flat tuple."""

    def run(*inputs):
        return as_flat(fn(*inputs))

    return run
