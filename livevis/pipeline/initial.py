"""The starting latent of a show: from a seed, or from a text prompt through CLIP (Lee et al. 4.5:
sample candidates, keep the one whose image is closest to the text in CLIP space)."""

from __future__ import annotations

from typing import Callable

import torch

from livevis.errors import LivevisError


@torch.inference_mode()
def latent_from_seed(mapping: Callable, z_dim: int, seed: int, *, truncation_psi: float = 0.7,
                     device: torch.device | str = "cpu") -> torch.Tensor:
    """ws [1, num_ws, w_dim] = mapping(z) with z drawn from N(0, 1) by `seed` (device-independent)."""
    g = torch.Generator().manual_seed(int(seed))
    z = torch.randn(1, z_dim, generator=g).to(device)  # [1, z_dim]
    return mapping(z, truncation_psi=truncation_psi)


@torch.inference_mode()
def latent_from_prompt(mapping: Callable, synthesis: Callable, clip, z_dim: int, prompt: str, *, seed: int = 0,
                       candidates: int = 16, truncation_psi: float = 0.7, device: torch.device | str = "cpu",
                       batch: int = 4) -> torch.Tensor:
    """Best of `candidates` seeded latents by CLIP similarity of their image to `prompt`."""
    if clip is None:
        raise LivevisError("--prompt needs a bundle with a CLIP model (this one has none)")
    if not prompt.strip():
        raise LivevisError("--prompt is empty")
    text = clip.encode_text([prompt]).to(device)  # [1, D]
    g = torch.Generator().manual_seed(int(seed))
    z_all = torch.randn(candidates, z_dim, generator=g).to(device)  # [N, z_dim]
    best_score, best_ws = -2.0, None
    for i in range(0, candidates, batch):
        ws = mapping(z_all[i:i + batch], truncation_psi=truncation_psi)  # [b, num_ws, w_dim]
        imgs = torch.cat([synthesis(ws[j:j + 1]) for j in range(ws.shape[0])])  # [b, 3, H, W]
        scores = clip.encode_image(imgs) @ text.T  # [b, 1]
        j = int(scores.argmax())
        if float(scores[j]) > best_score:
            best_score, best_ws = float(scores[j]), ws[j:j + 1].clone()
    return best_ws
