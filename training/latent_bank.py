"""Latent targets by retrieval: for a real frame, the W latent of the frozen generator's own
samples that look most like it.

The video stage's picture losses (CLIP, pooled pixels) pull the sound-driven W+ latents towards a
frame through the generator's gradients, and those latents drift off the generator's manifold
(blurred, off-colour frames no mapping output draws). A target in W itself keeps them on it. GAN
inversion by optimisation would give one per frame but costs a synthesis loop each; instead a bank
of `size` mapping outputs is drawn once (seeded, the anchors' truncation), each sample rendered and
described by the same two views the video stage compares frames in: its CLIP image embedding and its
pool x pool pixels. A real frame's target is the mean w of its k nearest bank samples under
    score = cos(CLIP(frame), CLIP(sample)) - pixel_weight * rms(pool(frame) - pool(sample))
Every target is an average of a few mapping outputs, so it lies in W (one w on every layer).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from livevis.models.sample_bank import draw_samples
from livevis.training import losses

DEFAULTS = {"size": 4096, "k": 8, "pixel_weight": 2.0, "seed": 1}


@dataclass
class LatentBank:
    ws: torch.Tensor        # [N, w_dim] mapping outputs
    clip: torch.Tensor      # [N, D] unit CLIP image embeddings of their frames
    pooled: torch.Tensor    # [N, 3 * pool^2] their frames at pool x pool pixels
    pool: int
    k: int
    pixel_weight: float

    @torch.no_grad()
    def targets(self, frame_clip: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """frame_clip [M, D] unit CLIP embeddings of real frames [M, 3, R, R] in [-1, 1] -> w [M, w_dim]."""
        assert frame_clip.ndim == 2 and frames.ndim == 4 and frame_clip.shape[0] == frames.shape[0], (frame_clip.shape, frames.shape)
        pooled = F.adaptive_avg_pool2d(frames.float(), self.pool).flatten(1)          # [M, 3 * pool^2]
        rms = torch.cdist(pooled, self.pooled) / pooled.shape[1] ** 0.5                # [M, N]
        score = frame_clip.float() @ self.clip.T - self.pixel_weight * rms             # [M, N]
        nearest = score.topk(min(self.k, self.ws.shape[0]), dim=1).indices             # [M, k]
        return self.ws[nearest].mean(1)


@torch.no_grad()
def build_bank(generator, clip, *, size: int, k: int, pixel_weight: float, seed: int, truncation: float,
               pool: int, device, batch: int = 128) -> LatentBank:
    """Draw `size` seeded samples of the frozen generator and describe each (see module doc)."""
    if size < 1 or k < 1:
        raise ValueError(f"latent bank size and k must be positive, got size={size}, k={k}")
    ws, embs, pooled = draw_samples(generator, clip, size=size, seed=seed, truncation=truncation, device=device,
                                    pool=pool, batch=batch)
    return LatentBank(ws, embs, pooled, pool, int(k), float(pixel_weight))


def latent_target_loss(ws: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. 3's squared distance with a per-frame target: ws [..., num_ws, w_dim], target [..., w_dim]
    (asked of every layer)."""
    assert ws.shape[:-2] == target.shape[:-1] and ws.shape[-1] == target.shape[-1], (ws.shape, target.shape)
    return losses.latent_regulariser(ws, target.unsqueeze(-2))
