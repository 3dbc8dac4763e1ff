"""Losses of the audio and video stages: contrastive (InfoNCE), CLIP distances, adversarial, R1, sync.

Embeddings are L2-normalised [B, D]; logits are [B, 1] (image D) or patch maps (video D), real > 0.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class LogitScale(nn.Module):
    """CLIP's learnable temperature: a log-scale parameter, used as exp(clamp(param, max=log(max_scale)))."""

    def __init__(self, init_temperature: float = 0.07, max_scale: float = 100.0):
        super().__init__()
        self.log_scale = nn.Parameter(torch.tensor(math.log(1.0 / init_temperature)))
        self.max_log = math.log(max_scale)

    def forward(self) -> torch.Tensor:
        # Clamping in the forward (not on .data after the step) keeps the op pure for resume and DDP.
        return self.log_scale.clamp(max=self.max_log).exp()


def info_nce(x: torch.Tensor, y: torch.Tensor, scale: torch.Tensor, positives: torch.Tensor | None = None) -> torch.Tensor:
    """Symmetric InfoNCE between x [B, D] and y [B, D] (rows paired by index).

    positives [B, B] bool marks every (i, j) that counts as a match (default: the diagonal). Several
    positives per row happen for text: clips of one class share a caption, so their identical text
    embeddings must not be pushed apart. Each row's loss is -log(sum_pos exp / sum_all exp).
    """
    assert x.ndim == 2 and x.shape == y.shape, (x.shape, y.shape)
    logits = scale * x @ y.T                                                  # [B, B]
    if positives is None:
        target = torch.arange(x.shape[0], device=x.device)
        return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
    assert positives.shape == logits.shape and bool(positives.diagonal().all()), "every pair must be its own positive"
    masked = logits.masked_fill(~positives, float("-inf"))
    rows = torch.logsumexp(logits, 1) - torch.logsumexp(masked, 1)            # [B]
    cols = torch.logsumexp(logits, 0) - torch.logsumexp(masked, 0)            # [B]
    return 0.5 * (rows.mean() + cols.mean())


def same_item(ids: list) -> torch.Tensor:
    """[B, B] bool: True where ids[i] == ids[j] (e.g. the same caption)."""
    codes = {v: i for i, v in enumerate(dict.fromkeys(ids))}
    t = torch.tensor([codes[v] for v in ids])
    return t[:, None] == t[None, :]


def cosine_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean of 1 - cos over rows of unit vectors a, b [..., D] (the CLIP loss of Lee et al. Eq. 2)."""
    return (1.0 - (a * b).sum(-1)).mean()


def latent_regulariser(ws: torch.Tensor, w_avg: torch.Tensor) -> torch.Tensor:
    """Lee et al. Eq. 3, ||w_hat - w_bar||^2, as a mean over elements (so lambda does not depend on
    num_ws * w_dim). ws [..., num_ws, w_dim], w_avg [w_dim] or broadcastable."""
    return (ws - w_avg).square().mean()


def layer_spread(ws: torch.Tensor) -> torch.Tensor:
    """How far W+ latents ws [..., num_ws, w_dim] are from W: mean over elements of the squared
    deviation of each layer's w from the layers' mean. 0 for mapping outputs (one w on every layer)."""
    return (ws - ws.mean(-2, keepdim=True)).square().mean()


# ---- adversarial --------------------------------------------------------------------------------
ADVERSARIAL = ("hinge", "nonsaturating")


def d_loss(real: torch.Tensor, fake: torch.Tensor, kind: str) -> torch.Tensor:
    """Discriminator loss on logits of real and generated inputs (any shape; averaged)."""
    if kind == "hinge":
        return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()
    if kind == "nonsaturating":
        return F.softplus(-real).mean() + F.softplus(fake).mean()
    raise ValueError(f"unknown adversarial loss {kind!r} (one of {ADVERSARIAL})")


def g_loss(fake: torch.Tensor, kind: str) -> torch.Tensor:
    """Generator-side loss on logits of generated inputs."""
    if kind == "hinge":
        return -fake.mean()
    if kind == "nonsaturating":
        return F.softplus(-fake).mean()
    raise ValueError(f"unknown adversarial loss {kind!r} (one of {ADVERSARIAL})")


def r1_penalty(real_logits: torch.Tensor, real_inputs: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): mean over samples of ||d D(x) / dx||^2 on real inputs, which
    must have requires_grad. Add gamma / 2 * r1 to the discriminator loss."""
    (grad,) = torch.autograd.grad(real_logits.sum(), real_inputs, create_graph=True)
    return grad.square().flatten(1).sum(1).mean()


# ---- motion follows dynamics (livevis addition) -------------------------------------------------
def correlation_loss(motion: torch.Tensor, strength: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """1 - Pearson correlation over time, averaged over clips whose strength varies.

    motion, strength [B, T]: per-step change of the picture and onset strength of the audio. Clips
    with (nearly) constant strength carry no timing information and are left out; 0 if none is left.
    """
    assert motion.shape == strength.shape and motion.ndim == 2, (motion.shape, strength.shape)
    m = motion - motion.mean(1, keepdim=True)
    s = strength - strength.mean(1, keepdim=True)
    s_norm = s.norm(dim=1)                                                    # [B]
    keep = s_norm > eps * (1.0 + strength.abs().mean(1))
    if not bool(keep.any()):
        return motion.sum() * 0.0
    corr = (m * s).sum(1) / (m.norm(dim=1) * s_norm + eps)                    # [B] in [-1, 1]
    return (1.0 - corr[keep]).mean()
