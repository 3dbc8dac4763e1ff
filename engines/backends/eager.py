"""Eager PyTorch: the reference every other backend is measured and checked against. Nothing to cache."""

from __future__ import annotations

import torch
from torch import nn

from livevis.engines.backends.common import LOW_PRECISION, AutocastModule, Entry, flat_runner


def unavailable(device: torch.device, precision: str) -> str | None:
    return None


def build(module: nn.Module, inputs: tuple[torch.Tensor, ...], *, precision: str, name: str,
          device: torch.device, entry: Entry | None):
    target = module if precision == "fp32" else AutocastModule(module, device.type, LOW_PRECISION[precision])
    return flat_runner(target), False
