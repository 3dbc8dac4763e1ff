"""Starting latents: seeded, and chosen by CLIP similarity to a prompt (paper 4.5)."""

import pytest
import torch

from livevis.errors import LivevisError
from livevis.pipeline.initial import latent_from_prompt, latent_from_seed

Z, NUM_WS, W = 4, 3, 4


def mapping(z, truncation_psi=1.0):
    return z[:, None, :].repeat(1, NUM_WS, 1) * truncation_psi  # [B, num_ws, w_dim]


def synthesis(ws):
    # brightness of the image = mean of the latent
    return ws.mean(dim=(1, 2)).view(-1, 1, 1, 1).expand(-1, 3, 8, 8)  # [B, 3, 8, 8]


class BrightnessClip:
    """Image embedding = (brightness, 1 - |brightness|); text 'bright' points to brightness."""

    def encode_image(self, img):
        b = img.mean(dim=(1, 2, 3))
        e = torch.stack([b, torch.ones_like(b)], dim=1)
        return e / e.norm(dim=1, keepdim=True)

    def encode_text(self, texts):
        direction = torch.tensor([[1.0, 0.0]]) if texts == ["bright"] else torch.tensor([[-1.0, 0.0]])
        return direction


def test_seed_is_reproducible_and_device_independent():
    a = latent_from_seed(mapping, Z, 5)
    assert torch.equal(a, latent_from_seed(mapping, Z, 5))
    assert not torch.equal(a, latent_from_seed(mapping, Z, 6))


def test_prompt_picks_the_candidate_closest_in_clip_space():
    clip = BrightnessClip()
    bright = latent_from_prompt(mapping, synthesis, clip, Z, "bright", candidates=32, truncation_psi=1.0)
    dark = latent_from_prompt(mapping, synthesis, clip, Z, "dark", candidates=32, truncation_psi=1.0)
    g = torch.Generator().manual_seed(0)
    means = torch.randn(32, Z, generator=g).mean(dim=1)
    assert bright.mean().item() == pytest.approx(means.max().item(), abs=1e-6)
    assert dark.mean().item() == pytest.approx(means.min().item(), abs=1e-6)


def test_prompt_needs_a_clip_model():
    with pytest.raises(LivevisError, match="CLIP"):
        latent_from_prompt(mapping, synthesis, None, Z, "rain")
