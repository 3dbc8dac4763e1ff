"""The frame classifier of semantic accuracy: trained on the dataset's REAL frames only.

A small MLP on fixed, cheap image features (a 12x12 thumbnail, per-channel colour histograms and
edge energy): trains in seconds on CPU, needs no GPU, and separates the synthetic landscape classes
well. Generated frames pass through exactly the same feature path, so the question it answers is
"which class do these pixels look like", never "which generator made them".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

THUMB = 12        # thumbnail side (pixels)
HIST_SIDE = 32    # side the histograms and edges are taken at
BINS = 8          # histogram bins per channel


def features(frames: torch.Tensor) -> torch.Tensor:
    """frames [N, 3, H, W] in [-1, 1] -> [N, 3 * THUMB^2 + 3 * BINS + 6] float32."""
    assert frames.ndim == 4 and frames.shape[1] == 3, tuple(frames.shape)
    x = frames.float().clamp(-1, 1)
    shrink = x.shape[-1] > HIST_SIDE
    small = F.interpolate(x, size=(HIST_SIDE, HIST_SIDE), mode="bilinear", align_corners=False, antialias=shrink)
    thumb = F.interpolate(small, size=(THUMB, THUMB), mode="bilinear", align_corners=False, antialias=True)  # [N, 3, t, t]
    # Soft (triangular) histogram: smooth in the colour, so colours near a bin edge do not flip
    # features between nearly identical frames.
    centres = torch.linspace(-1, 1, BINS, device=x.device)                           # [BINS]
    width = 2.0 / (BINS - 1)
    weights = (1 - (small[..., None] - centres).abs() / width).clamp_min(0)         # [N, 3, s, s, BINS]
    hist = weights.mean(dim=(2, 3))                                                  # [N, 3, BINS]
    dx = (small[..., :, 1:] - small[..., :, :-1]).abs().mean(dim=(2, 3))            # [N, 3] horizontal edges
    dy = (small[..., 1:, :] - small[..., :-1, :]).abs().mean(dim=(2, 3))            # [N, 3] vertical edges
    return torch.cat([thumb.flatten(1), hist.flatten(1), dx, dy], dim=1)


@dataclass
class FrameClassifier:
    net: nn.Module
    mean: torch.Tensor     # [F] feature standardisation
    std: torch.Tensor      # [F]
    classes: list[str]

    @torch.no_grad()
    def logits(self, frames: torch.Tensor, batch: int = 256) -> torch.Tensor:
        """frames [N, 3, H, W] in [-1, 1] -> [N, K]."""
        out = []
        for i in range(0, frames.shape[0], batch):
            f = (features(frames[i:i + batch].cpu()) - self.mean) / self.std
            out.append(self.net(f))
        return torch.cat(out) if out else torch.zeros(0, len(self.classes))

    def predict(self, frames: torch.Tensor) -> np.ndarray:
        """frames [N, 3, H, W] in [-1, 1] -> class indices [N]."""
        return self.logits(frames).argmax(1).numpy()


def fit(frames: torch.Tensor, labels: torch.Tensor, classes: list[str], *, seed: int = 0, hidden: int = 128,
        steps: int = 400, lr: float = 3e-3, weight_decay: float = 1e-3) -> FrameClassifier:
    """Full-batch Adam on standardised features of frames [N, 3, H, W] in [-1, 1] with labels [N]."""
    feats = features(frames)
    mean, std = feats.mean(0), feats.std(0).clamp_min(1e-4)
    x = (feats - mean) / std
    y = labels.long()
    with torch.random.fork_rng(devices=[]):  # a fixed init that leaves the caller's RNG alone
        torch.manual_seed(seed)
        net = nn.Sequential(nn.Dropout(0.1), nn.Linear(x.shape[1], hidden), nn.ReLU(), nn.Linear(hidden, len(classes)))
        opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
        net.train()
        for _ in range(steps):
            loss = F.cross_entropy(net(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    net.eval()
    return FrameClassifier(net=net, mean=mean, std=std, classes=list(classes))


def sample_frames(dataset, per_clip: int, clips: list[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Evenly spaced frames of a ClipDataset's clips -> (frames [N, 3, H, W] in [-1, 1], labels [N])."""
    frames, labels = [], []
    for i in (range(len(dataset)) if clips is None else clips):
        item = dataset[i]
        T = item["frames"].shape[0]
        k = torch.linspace(0, T - 1, min(per_clip, T)).round().long()
        frames.append(item["frames"][k].float() / 127.5 - 1.0)
        labels += [item["label"]] * len(k)
    return torch.cat(frames), torch.tensor(labels)
