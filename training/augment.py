"""Augmentations: SpecAugment for log-mel windows, and clip-consistent frame augmentations for D.

Randomness comes from one torch.Generator per sample (see stages.common.sample_generators), so a
sample is augmented the same way whatever process or batch position it lands in: that keeps
data-parallel runs equal to single-process ones and resumed runs equal to uninterrupted ones.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _randint(gen: torch.Generator, low: int, high: int) -> int:
    """Uniform integer in [low, high] (inclusive)."""
    return int(torch.randint(low, high + 1, (1,), generator=gen))


def spec_augment(mel: torch.Tensor, gens: list[torch.Generator], *, time_masks: int = 2, time_width: int = 8,
                 freq_masks: int = 2, freq_width: int = 10) -> torch.Tensor:
    """SpecAugment (Park et al. 2019) time and frequency masking, no warping.

    mel [B, n_mels, frames] in dB -> a masked copy. Each mask spans 0..width bands/frames at a random
    place; masked cells get the sample's mean level (0 dB would be a loud, unnatural value).
    """
    assert mel.ndim == 3 and len(gens) == mel.shape[0], (mel.shape, len(gens))
    out = mel.clone()
    _, n_mels, frames = mel.shape
    for b, gen in enumerate(gens):
        fill = mel[b].mean()
        for _ in range(freq_masks):
            w = _randint(gen, 0, min(freq_width, n_mels - 1))
            f0 = _randint(gen, 0, n_mels - w)
            out[b, f0:f0 + w, :] = fill
        for _ in range(time_masks):
            w = _randint(gen, 0, min(time_width, frames - 1))
            t0 = _randint(gen, 0, frames - w)
            out[b, :, t0:t0 + w] = fill
    return out


def augment_frames(x: torch.Tensor, gens: list[torch.Generator], *, flip: bool = True, translate: float = 0.125) -> torch.Tensor:
    """Random horizontal flip and integer translation (zero fill), the same for every frame of a sample.

    x [B, ..., C, H, W] (images or clips) -> same shape. Applied alike to real and generated inputs
    of a discriminator, it is differentiable (used on generated frames in the encoder step too).
    """
    assert len(gens) == x.shape[0], (x.shape, len(gens))
    H, W = x.shape[-2:]
    out = []
    for b, gen in enumerate(gens):
        y = x[b]
        if flip and _randint(gen, 0, 1):
            y = y.flip(-1)
        if translate > 0:
            max_h, max_w = int(round(H * translate)), int(round(W * translate))
            dy, dx = _randint(gen, -max_h, max_h), _randint(gen, -max_w, max_w)
            # Pad then crop: a shift with zeros entering at the edge.
            y = F.pad(y, (max_w, max_w, max_h, max_h))[..., max_h - dy:max_h - dy + H, max_w - dx:max_w - dx + W]
        out.append(y)
    return torch.stack(out)
