"""Tiny modules and a tiny bundle for the engine tests (small enough to compile in seconds on 2 cores)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
import torch.nn.functional as F


class TinyConvNet(nn.Module):
    """x [B, 3, H, W] -> [B, 3, H, W] in [-1, 1]: two convs, like a miniature synthesis tail."""

    def __init__(self, width: int = 8):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.conv2(F.leaky_relu(self.conv1(x), 0.2)))


class LinearGRU(nn.Module):
    """A GRU cell from Linear layers with a `step` method, like RecurrentBlocks (wrap_method target)."""

    def __init__(self, dim: int = 16, hidden: int = 16):
        super().__init__()
        self.gates = nn.Linear(dim + hidden, 2 * hidden)
        self.cand = nn.Linear(dim + hidden, hidden)
        self.out = nn.Linear(hidden, dim)

    def step(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # x [B, dim], h [B, hidden] -> (y [B, dim], h_next [B, hidden])
        r, z = torch.sigmoid(self.gates(torch.cat([x, h], 1))).chunk(2, 1)
        c = torch.tanh(self.cand(torch.cat([x, r * h], 1)))
        h_next = (1 - z) * h + z * c
        return x + self.out(h_next), h_next


class TwoHeads(nn.Module):
    """mel-like [B, 8, 12] -> (unit-norm embedding [B, 6], offsets [B, 4, 5]): a multi-output module."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(8, 16, 3, padding=1)
        self.emb = nn.Linear(16, 6)
        self.off = nn.Linear(16, 20)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feat = F.relu(self.conv(x)).mean(dim=2)  # [B, 16]
        emb = F.normalize(self.emb(feat), dim=1)
        return emb, self.off(feat).reshape(-1, 4, 5)


def seeded(module: nn.Module, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    for p in module.parameters():
        nn.init.normal_(p, std=0.3)
    return module.eval()


def tiny_bundle(path: Path, seed: int = 0) -> Path:
    """A complete bundle (64x64 StyleGAN2 with a few channels, tiny encoder and recurrent presets)."""
    from livevis.models import factory
    from livevis.models.bundle import Bundle, save_bundle

    torch.manual_seed(seed)
    gen = factory.build("stylegan2", {"z_dim": 32, "w_dim": 64, "img_resolution": 64, "mapping_layers": 2,
                                      "channel_base": 256, "channel_max": 16})
    enc = factory.build(*factory.load_preset("sound_encoder-tiny"))
    rec = factory.build(*factory.load_preset("recurrent-tiny"))
    bundle = Bundle.new(gen.eval(), name="tiny-engines", description="engine test bundle",
                        sound_encoder=enc.eval(), recurrent=rec.eval())
    return save_bundle(bundle, path)
