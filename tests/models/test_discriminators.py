"""Image and video discriminators: shapes, a real temporal receptive field, training signal."""

import pytest
import torch

from livevis.errors import LivevisError
from livevis.models import factory
from livevis.models.discriminators import (ImageDiscriminator, ImageDiscriminatorConfig, VideoDiscriminator,
                                           VideoDiscriminatorConfig)

IMG = dict(img_resolution=32, channel_base=512, channel_max=32)
VID = dict(img_resolution=32, base_channels=8, max_channels=16, num_layers=3, temporal_kernel=3, norm="none")


def test_image_discriminator_shapes_and_grad():
    torch.manual_seed(0)
    d = ImageDiscriminator(ImageDiscriminatorConfig(**IMG))
    img = (torch.rand(4, 3, 32, 32) * 2 - 1).requires_grad_()
    logits = d(img)
    assert logits.shape == (4, 1) and torch.isfinite(logits).all()
    logits.sum().backward()
    assert img.grad is not None and img.grad.abs().sum() > 0  # R1 penalty needs d logits / d img
    assert all(p.grad is not None for p in d.parameters())


def test_image_discriminator_minibatch_std_sees_the_batch():
    """Same image, different batch-mates: the mbstd layer makes the logit depend on variety."""
    torch.manual_seed(0)
    d = ImageDiscriminator(ImageDiscriminatorConfig(**IMG)).eval()
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    same = d(x.repeat(4, 1, 1, 1))[0]
    varied = d(torch.cat([x, torch.rand(3, 3, 32, 32) * 2 - 1]))[0]
    assert (same - varied).abs().max() > 1e-6
    assert d(torch.rand(3, 3, 32, 32)).shape == (3, 1)  # batch not divisible by the group: still works


def test_image_discriminator_learns_to_separate():
    """A few optimiser steps on a trivial real/fake split must move the logits apart."""
    torch.manual_seed(0)
    d = ImageDiscriminator(ImageDiscriminatorConfig(**IMG))
    opt = torch.optim.Adam(d.parameters(), lr=2e-3, betas=(0.0, 0.99))
    real = torch.linspace(-1, 1, 32).view(1, 1, 1, 32).expand(8, 3, 32, 32)  # horizontal gradients
    fake = torch.rand(8, 3, 32, 32) * 2 - 1                                  # noise
    for _ in range(15):
        loss = torch.nn.functional.softplus(-d(real)).mean() + torch.nn.functional.softplus(d(fake)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        assert d(real).mean() > d(fake).mean() + 1.0


@pytest.mark.parametrize("bad", [(2, 3, 16, 16), (2, 1, 32, 32), (3, 32, 32)])
def test_image_discriminator_bad_shape(bad):
    d = ImageDiscriminator(ImageDiscriminatorConfig(**IMG))
    with pytest.raises(LivevisError, match="image discriminator expects"):
        d(torch.zeros(bad))


def test_video_discriminator_patch_shape():
    d = VideoDiscriminator(VideoDiscriminatorConfig(**VID))
    out = d(torch.randn(2, 8, 3, 32, 32))  # [B, T, C, H, W]
    assert out.shape == (2, 1, 8, 32 // 8 - 1, 32 // 8 - 1)
    assert d.temporal_receptive_field == 9


def test_video_discriminator_has_real_temporal_receptive_field():
    torch.manual_seed(0)
    d = VideoDiscriminator(VideoDiscriminatorConfig(**VID)).eval()
    T, t0 = 16, 8
    video = torch.randn(1, T, 3, 32, 32)
    poked = video.clone()
    poked[:, t0] += torch.randn(3, 32, 32)
    with torch.no_grad():
        diff = (d(video) - d(poked)).abs().amax(dim=(0, 1, 3, 4))  # [T] change per output time
    half = d.temporal_receptive_field // 2
    for t in range(T):
        if abs(t - t0) <= 2:
            assert diff[t] > 1e-5, f"output at t={t} ignores frame {t0} (changes: {diff.tolist()})"
        if abs(t - t0) > half:
            assert diff[t] == 0, f"output at t={t} sees frame {t0}, beyond the receptive field"


def test_video_discriminator_sees_frame_order():
    torch.manual_seed(0)
    d = VideoDiscriminator(VideoDiscriminatorConfig(**VID)).eval()
    video = torch.randn(2, 8, 3, 32, 32)
    order = torch.tensor([3, 0, 6, 1, 7, 2, 5, 4])
    with torch.no_grad():
        a = d(video)
        b = d(video[:, order])
    # A per-frame D would give the same set of outputs, only permuted in time; ours must not.
    assert (a[:, :, order] - b).abs().max() > 1e-4
    assert (a.sort(dim=2).values - b.sort(dim=2).values).abs().max() > 1e-4


def test_video_discriminator_instance_norm_and_grad():
    d = VideoDiscriminator(VideoDiscriminatorConfig(**{**VID, "norm": "instance"}))
    video = torch.randn(2, 4, 3, 32, 32, requires_grad=True)
    d(video).mean().backward()
    assert video.grad.abs().sum() > 0
    assert any(isinstance(m, torch.nn.InstanceNorm3d) for m in d.modules())


def test_video_discriminator_config_validation():
    with pytest.raises(LivevisError, match="temporal_kernel"):
        VideoDiscriminatorConfig(**{**VID, "temporal_kernel": 1})
    with pytest.raises(LivevisError, match="temporal_kernel"):
        VideoDiscriminatorConfig(**{**VID, "temporal_kernel": 4})
    with pytest.raises(LivevisError, match="norm"):
        VideoDiscriminatorConfig(**{**VID, "norm": "batch"})
    with pytest.raises(LivevisError, match="px"):
        VideoDiscriminatorConfig(**{**VID, "img_resolution": 8})
    with pytest.raises(LivevisError, match="power of two"):
        ImageDiscriminatorConfig(**{**IMG, "img_resolution": 48})
    d = VideoDiscriminator(VideoDiscriminatorConfig(**VID))
    with pytest.raises(LivevisError, match="video discriminator expects"):
        d(torch.zeros(2, 3, 32, 32))


@pytest.mark.parametrize("preset", ["image_discriminator-tiny", "video_discriminator-tiny",
                                    "image_discriminator-256", "video_discriminator-256"])
def test_presets_build(preset):
    arch, cfg = factory.load_preset(preset)
    d = factory.build(arch, cfg)
    assert d.config == factory.config_class(arch).from_dict(cfg)
    if "tiny" in preset:
        r = cfg["img_resolution"]
        x = torch.randn(2, 4, 3, r, r) if arch == "video_discriminator" else torch.randn(2, 3, r, r)
        assert torch.isfinite(d(x)).all()


def test_mbstd_channels_must_divide():
    with pytest.raises(LivevisError, match="mbstd_num_channels"):
        ImageDiscriminator(ImageDiscriminatorConfig(**{**IMG, "mbstd_num_channels": 3}))
    d = ImageDiscriminator(ImageDiscriminatorConfig(**{**IMG, "mbstd_num_channels": 2}))
    assert d(torch.randn(4, 3, 32, 32)).shape == (4, 1)
