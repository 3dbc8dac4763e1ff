"""Losses, augmentations and --clip specs of the audio/video stages."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from livevis.errors import LivevisError
from livevis.training import losses
from livevis.training.augment import augment_frames, spec_augment
from livevis.training.clip_spec import load_clip, parse_clip, save_clip
from livevis.training.stages.common import sample_generators


def test_info_nce_matches_clip_loss_and_rewards_alignment():
    g = torch.Generator().manual_seed(0)
    x = F.normalize(torch.randn(6, 16, generator=g), dim=1)
    y = F.normalize(torch.randn(6, 16, generator=g), dim=1)
    scale = torch.tensor(10.0)
    logits = scale * x @ y.T
    ref = 0.5 * (F.cross_entropy(logits, torch.arange(6)) + F.cross_entropy(logits.T, torch.arange(6)))
    assert torch.allclose(losses.info_nce(x, y, scale), ref)
    # The mask form with only the diagonal is the same loss.
    assert torch.allclose(losses.info_nce(x, y, scale, torch.eye(6, dtype=torch.bool)), ref, atol=1e-6)
    # Aligned pairs with a sharp temperature cost almost nothing; random ones cost about log B.
    assert losses.info_nce(x, x, torch.tensor(100.0)) < 1e-3
    assert abs(losses.info_nce(x, y, torch.tensor(1.0)).item() - math.log(6)) < 0.5


def test_info_nce_shared_captions_are_not_negatives():
    g = torch.Generator().manual_seed(1)
    text = F.normalize(torch.randn(2, 8, generator=g), dim=1)
    y = text[[0, 0, 1, 1]]                                   # two clips per caption
    x = y.clone()
    mask = losses.same_item(["rain", "rain", "fire", "fire"])
    assert mask.tolist() == [[True, True, False, False]] * 2 + [[False, False, True, True]] * 2
    with_mask = losses.info_nce(x, y, torch.tensor(50.0), mask)
    without = losses.info_nce(x, y, torch.tensor(50.0))
    assert with_mask < 1e-3 < without                        # without the mask, identical texts fight (about log 2)


def test_logit_scale_is_clamped():
    t = losses.LogitScale(init_temperature=0.07, max_scale=100.0)
    assert abs(t().item() - 1 / 0.07) < 1e-3
    with torch.no_grad():
        t.log_scale.fill_(10.0)
    assert abs(t().item() - 100.0) < 1e-3


def test_adversarial_losses():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])
    assert losses.d_loss(real, fake, "hinge").item() == pytest.approx(0.25 + 0.5)
    assert losses.g_loss(fake, "hinge").item() == pytest.approx(1.0)
    assert losses.d_loss(real, fake, "nonsaturating").item() == pytest.approx(
        (F.softplus(-real).mean() + F.softplus(fake).mean()).item())
    assert losses.g_loss(fake, "nonsaturating").item() == pytest.approx(F.softplus(-fake).mean().item())
    with pytest.raises(ValueError):
        losses.d_loss(real, fake, "wgan")


def test_r1_penalty_of_a_linear_critic():
    w = torch.tensor([1.0, -2.0, 3.0])
    x = torch.randn(4, 3, requires_grad=True)
    assert losses.r1_penalty(x @ w, x).item() == pytest.approx(14.0)   # ||w||^2 for every sample


def test_correlation_loss_and_latent_regulariser():
    s = torch.tensor([[0.0, 1.0, 0.0, 2.0]])
    assert losses.correlation_loss(2 * s + 1, s).item() == pytest.approx(0.0, abs=1e-5)
    assert losses.correlation_loss(-s, s).item() == pytest.approx(2.0, abs=1e-5)
    flat = torch.ones(1, 4)
    assert losses.correlation_loss(s, flat).item() == 0.0              # no timing information: left out
    both = losses.correlation_loss(torch.cat([-s, s]), torch.cat([s, flat]))
    assert both.item() == pytest.approx(2.0, abs=1e-5)                  # only the first clip counts
    assert losses.latent_regulariser(torch.full((2, 3, 4), 3.0), torch.ones(4)).item() == pytest.approx(4.0)


def test_spec_augment_masks_are_bounded_and_reproducible():
    mel = torch.arange(2 * 80 * 59, dtype=torch.float32).view(2, 80, 59)
    out = spec_augment(mel, sample_generators(0, 5, 2), time_masks=2, time_width=8, freq_masks=2, freq_width=10)
    again = spec_augment(mel, sample_generators(0, 5, 2), time_masks=2, time_width=8, freq_masks=2, freq_width=10)
    assert torch.equal(out, again)
    for b in range(2):
        changed = out[b] != mel[b]
        assert (out[b][changed] == mel[b].mean()).all()
        # At most 2 x 10 bands and 2 x 8 frames are masked.
        assert changed.all(1).sum() <= 20 and changed.all(0).sum() <= 16
    assert not torch.equal(out, spec_augment(mel, sample_generators(0, 6, 2)))


def test_frame_augment_is_consistent_over_a_clip():
    clip = torch.randn(3, 4, 3, 16, 16)                      # [B, T, 3, H, W]
    gens = sample_generators(1, 0, 3)
    out = augment_frames(clip, gens, flip=True, translate=0.25)
    assert out.shape == clip.shape
    for b in range(3):  # the same flip/shift for every frame: frame-wise reapplication agrees
        per_frame = [augment_frames(clip[b, t][None], sample_generators(1, 0, 3)[b:b + 1], flip=True, translate=0.25)[0]
                     for t in range(4)]
        assert torch.equal(out[b], torch.stack(per_frame))


def test_parse_clip_specs(tmp_path):
    assert parse_clip("ViT-B-32:openai").name == "ViT-B-32" and parse_clip("ViT-B-32:openai").pretrained == "openai"
    assert parse_clip("ViT-B-32:/w/clip.bin").pretrained == "/w/clip.bin"
    assert parse_clip("tiny:3").seed == 3 and parse_clip("tiny").kind == "tiny"
    assert parse_clip(f"bundle:{tmp_path}").path == str(tmp_path)
    assert parse_clip(str(tmp_path)).kind == "folder"
    for bad in ("", "tiny:x", "bundle:"):
        with pytest.raises(LivevisError):
            parse_clip(bad)


def test_tiny_clip_is_seeded_and_round_trips_through_a_folder(tmp_path):
    state = torch.get_rng_state()
    clip, record, _ = load_clip("tiny:1")
    assert torch.equal(torch.get_rng_state(), state)          # building it leaves the run's RNG alone
    img = torch.rand(2, 3, 32, 32) * 2 - 1
    save_clip(clip, record, tmp_path)
    again, record2, prov = load_clip(f"bundle:{tmp_path}")
    assert record2 == record and len(prov["clip_sha256"]) == 64
    assert torch.equal(clip.encode_image(img), again.encode_image(img))
    assert torch.equal(clip.encode_text(["rain"]), load_clip("tiny:1")[0].encode_text(["rain"]))
    assert not torch.equal(clip.encode_text(["rain"]), load_clip("tiny:2")[0].encode_text(["rain"]))
    assert not any(p.requires_grad for p in clip.parameters())


def test_clip_folder_errors(tmp_path):
    with pytest.raises(LivevisError, match="neither a bundle"):
        load_clip(f"bundle:{tmp_path}")
    (tmp_path / "clip.json").write_text('{"kind": "open_clip_config", "model_cfg": {}}')
    with pytest.raises(LivevisError, match="missing"):
        load_clip(f"bundle:{tmp_path}")
    with pytest.raises(LivevisError, match="unknown open_clip model"):
        load_clip("NoSuchNet-1:openai")


def test_layer_spread_is_zero_in_w_and_grows_with_layer_differences():
    w = torch.randn(2, 5, 1, 16).expand(2, 5, 8, 16)          # [b, T, num_ws, w_dim]: one w on every layer
    assert losses.layer_spread(w) < 1e-12
    w_plus = w.clone()
    w_plus[..., 3, :] += 2.0                                  # one layer moved by 2 in every element
    # deviation from the layer mean: 2 * 7/8 on that layer, 2/8 on the other 7
    expected = ((2 * 7 / 8) ** 2 + 7 * (2 / 8) ** 2) / 8
    assert torch.isclose(losses.layer_spread(w_plus), torch.tensor(expected))
