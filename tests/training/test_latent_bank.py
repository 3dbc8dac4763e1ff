"""Latent targets by retrieval (training/latent_bank.py): constructed banks, and a bank drawn from a
real (tiny) generator and CLIP."""

from __future__ import annotations

import pytest
import torch

from livevis.training.latent_bank import LatentBank, build_bank, latent_target_loss


def _bank(k: int, pixel_weight: float = 2.0) -> LatentBank:
    """Three samples: CLIP directions e0, e1, e1 (2 and 1 differ only in pixels), pooled 1x1 colours."""
    ws = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 3.0]])                           # [3, w_dim=2]
    clip = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])                         # [3, D=2] unit
    pooled = torch.tensor([[0.0, 0.0, 0.0], [0.5, 0.5, 0.5], [-0.5, -0.5, -0.5]])    # [3, 3 * 1^2]
    return LatentBank(ws, clip, pooled, pool=1, k=k, pixel_weight=pixel_weight)


def _frame(colour: float) -> torch.Tensor:
    return torch.full((1, 3, 4, 4), colour)


def test_the_nearest_sample_in_clip_and_pixels_gives_its_w():
    bank = _bank(k=1)
    assert torch.equal(bank.targets(torch.tensor([[1.0, 0.0]]), _frame(0.0)), torch.tensor([[1.0, 0.0]]))
    # Same CLIP direction as samples 1 and 2: the pixels decide.
    assert torch.equal(bank.targets(torch.tensor([[0.0, 1.0]]), _frame(0.5)), torch.tensor([[0.0, 1.0]]))
    assert torch.equal(bank.targets(torch.tensor([[0.0, 1.0]]), _frame(-0.5)), torch.tensor([[0.0, 3.0]]))
    # A heavy pixel term outweighs CLIP.
    heavy = _bank(k=1, pixel_weight=100.0)
    assert torch.equal(heavy.targets(torch.tensor([[1.0, 0.0]]), _frame(0.5)), torch.tensor([[0.0, 1.0]]))


def test_k_nearest_are_averaged():
    bank = _bank(k=2, pixel_weight=1.0)
    got = bank.targets(torch.tensor([[0.0, 1.0], [1.0, 0.0]]), torch.cat([_frame(0.4), _frame(0.1)]))
    assert torch.allclose(got, torch.tensor([[0.0, 2.0], [0.5, 0.5]]))


def test_latent_target_loss_asks_every_layer_for_the_target():
    target = torch.randn(2, 5, 16)                                                     # [b, T, w_dim]
    ws = target[:, :, None].expand(2, 5, 4, 16).clone()                               # [b, T, num_ws, w_dim]
    assert float(latent_target_loss(ws, target)) == 0.0
    ws[:, :, 3] += 1.0                                                                 # one layer of four off by 1
    assert float(latent_target_loss(ws, target)) == pytest.approx(0.25)
    with pytest.raises(AssertionError):
        latent_target_loss(ws, target[:, :4])


@pytest.fixture(scope="module")
def tiny_generator(tmp_path_factory):
    from tests.rigs.tiny_bundle import make_tiny_bundle

    return make_tiny_bundle(tmp_path_factory.mktemp("bank") / "gen.bundle", seed=3)


def test_a_bank_of_a_real_generator_holds_its_mapping_outputs(tiny_generator):
    from livevis.models.bundle import load_bundle
    from livevis.training.clip_spec import load_clip

    generator = load_bundle(tiny_generator).generator.float().eval()
    clip, _, _ = load_clip("tiny", "cpu")
    kw = dict(size=20, k=1, pixel_weight=2.0, seed=5, truncation=0.7, pool=4, device="cpu", batch=8)
    bank = build_bank(generator, clip, **kw)
    assert bank.ws.shape == (20, generator.w_dim) and bank.clip.shape == (20, clip.embed_dim)
    assert bank.pooled.shape == (20, 3 * 4 * 4)
    assert torch.allclose(bank.clip.norm(dim=1), torch.ones(20), atol=1e-5)
    again = build_bank(generator, clip, **kw)                                          # seeded: resume sees the same bank
    assert torch.equal(bank.ws, again.ws)
    z = torch.randn(20, generator.z_dim, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        ws = generator.mapping(z, truncation_psi=0.7)
    assert torch.allclose(bank.ws, ws[:, 0], atol=1e-5)
    # A sample's own frame finds the sample.
    with torch.no_grad():
        frames = generator.synthesis(ws[:3]).clamp(-1, 1)
        emb = clip.encode_image(frames)
    assert torch.allclose(bank.targets(emb, frames), ws[:3, 0], atol=1e-5)
    with pytest.raises(ValueError, match="positive"):
        build_bank(generator, clip, **dict(kw, k=0))
