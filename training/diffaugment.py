"""Differentiable augmentation for GAN training on small data (Zhao et al. 2020, "DiffAugment").

The same random transform family is applied to every image the discriminator sees, real and
generated, and it is differentiable, so the generator gets gradients through it: the discriminator
cannot memorise the few real images, and the generator is not pushed to reproduce the augmentation.
Policies: "color" (brightness, saturation, contrast), "translation" (integer shift, zero fill, up
to 1/8 of the side), "cutout" (a zeroed square of half the side).

Randomness comes from one torch.Generator per sample (stages.common.sample_generators), so an image
is augmented the same way whatever batch or process it lands in (exact resume, data parallel).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from livevis.errors import LivevisError

POLICIES = ("color", "translation", "cutout")
_DRAWS = 7  # uniforms per sample: brightness, saturation, contrast, shift y, shift x, cutout y, cutout x


def parse_policy(policy: str) -> tuple[str, ...]:
    """'color,translation,cutout' -> ('color', 'translation', 'cutout'); '' -> ()."""
    names = tuple(p.strip() for p in policy.split(",") if p.strip())
    unknown = [p for p in names if p not in POLICIES]
    if unknown:
        raise LivevisError(f"unknown DiffAugment policy {', '.join(unknown)} (known: {', '.join(POLICIES)})")
    return names


def draw(gens: list[torch.Generator]) -> torch.Tensor:
    """Per-sample uniforms [B, 7] in [0, 1), one row per generator."""
    return torch.stack([torch.rand(_DRAWS, generator=g) for g in gens])


def diff_augment(x: torch.Tensor, gens: list[torch.Generator], policy: str | tuple[str, ...] = POLICIES,
                 translation_ratio: float = 0.125, cutout_ratio: float = 0.5) -> torch.Tensor:
    """x [B, C, H, W] in about [-1, 1] -> augmented copy, differentiable in x."""
    names = parse_policy(policy) if isinstance(policy, str) else tuple(policy)
    if not names:
        return x
    assert x.ndim == 4 and len(gens) == x.shape[0], (x.shape, len(gens))
    u = draw(gens).to(x.device, x.dtype)                                         # [B, 7]
    if "color" in names:
        x = color(x, u[:, 0], u[:, 1], u[:, 2])
    if "translation" in names:
        x = translation(x, u[:, 3], u[:, 4], translation_ratio)
    if "cutout" in names:
        x = cutout(x, u[:, 5], u[:, 6], cutout_ratio)
    return x


def color(x: torch.Tensor, ub: torch.Tensor, us: torch.Tensor, uc: torch.Tensor) -> torch.Tensor:
    """Brightness +-0.5, saturation x[0, 2], contrast x[0.5, 1.5] (uniforms ub, us, uc [B])."""
    x = x + (ub - 0.5)[:, None, None, None]
    grey = x.mean(dim=1, keepdim=True)                                           # [B, 1, H, W]
    x = (x - grey) * (us * 2.0)[:, None, None, None] + grey
    mean = x.mean(dim=(1, 2, 3), keepdim=True)                                   # [B, 1, 1, 1]
    return (x - mean) * (uc + 0.5)[:, None, None, None] + mean


def translation(x: torch.Tensor, uy: torch.Tensor, ux: torch.Tensor, ratio: float) -> torch.Tensor:
    """Shift each image by an integer in [-ratio * side, ratio * side] per axis; zeros enter at the edge."""
    B, C, H, W = x.shape
    my, mx = int(H * ratio + 0.5), int(W * ratio + 0.5)
    if my == 0 and mx == 0:
        return x
    dy = (uy * (2 * my + 1)).long().clamp(max=2 * my) - my                       # [B] in [-my, my]
    dx = (ux * (2 * mx + 1)).long().clamp(max=2 * mx) - mx
    padded = F.pad(x, (mx, mx, my, my))                                          # [B, C, H + 2my, W + 2mx]
    rows = (torch.arange(H, device=x.device)[None] + my - dy[:, None])           # [B, H] source rows
    cols = (torch.arange(W, device=x.device)[None] + mx - dx[:, None])           # [B, W] source cols
    b = torch.arange(B, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[b, rows[:, :, None], cols[:, None, :]]      # [B, H, W, C]
    return out.permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, uy: torch.Tensor, ux: torch.Tensor, ratio: float) -> torch.Tensor:
    """Zero a square of side ratio * H x ratio * W centred anywhere in the image (it may overhang)."""
    B, C, H, W = x.shape
    sh, sw = int(H * ratio + 0.5), int(W * ratio + 0.5)
    cy = (uy * (H + 1 - sh % 2)).long()                                          # [B] centres
    cx = (ux * (W + 1 - sw % 2)).long()
    ys = torch.arange(H, device=x.device)[None] - (cy[:, None] - sh // 2)        # [B, H] offset into the square
    xs = torch.arange(W, device=x.device)[None] - (cx[:, None] - sw // 2)
    inside = ((ys >= 0) & (ys < sh))[:, :, None] & ((xs >= 0) & (xs < sw))[:, None, :]  # [B, H, W]
    return x * (~inside)[:, None].to(x.dtype)
