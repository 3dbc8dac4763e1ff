"""The learned upscaler: shapes, starts as bilinear, flat stays flat, config validation, bundle part."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from livevis.errors import LivevisError
from livevis.models import factory
from livevis.models.bundle import Bundle, load_bundle, save_bundle
from livevis.models.upscaler import Upscaler, UpscalerConfig, upscaler_flops
from tests.rigs.tiny_bundle import make_tiny_bundle


@pytest.mark.parametrize("scale", [2, 4])
def test_shapes_and_starts_as_bilinear(scale):
    model = Upscaler(UpscalerConfig(scale=scale, channels=8, num_conv=2)).eval()
    img = torch.rand(2, 3, 12, 20) * 2 - 1                                    # [B, 3, H, W]
    out = model(img)
    assert out.shape == (2, 3, 12 * scale, 20 * scale)
    assert torch.allclose(out, F.interpolate(img, scale_factor=scale, mode="bilinear", align_corners=False))


def test_a_constant_image_stays_constant_after_training():
    """Trained weights (non-zero residual) still leave a flat field flat: no invented texture."""
    torch.manual_seed(0)
    model = Upscaler(UpscalerConfig(scale=2, channels=8, num_conv=2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(30):
        hr = F.interpolate(torch.rand(4, 3, 8, 8) * 2 - 1, size=(32, 32), mode="bicubic", align_corners=False)
        lr = F.interpolate(hr, size=(16, 16), mode="area")
        loss = (model(lr) - hr).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    assert model.to_residual.weight.abs().max() > 0
    with torch.no_grad():
        for value in (-0.6, 0.0, 0.7):
            flat = torch.full((1, 3, 16, 16), value)
            out = model(flat)
            assert (out - value).abs().max() < 1e-5  # everywhere, borders included


def test_config_validation_and_flops():
    with pytest.raises(LivevisError, match="scale"):
        UpscalerConfig(scale=3)
    with pytest.raises(LivevisError, match="unknown key"):
        UpscalerConfig.from_dict({"scale": 2, "depth": 3})
    arch, cfg = factory.load_preset("upscaler-live")
    assert arch == "upscaler" and isinstance(factory.build(arch, cfg), Upscaler)
    assert upscaler_flops(UpscalerConfig(**cfg), 64, 64) < 2e9  # cheap enough for a CPU show at 64 px


def test_bundle_part_round_trips_and_old_bundles_still_load(tmp_path):
    old = make_tiny_bundle(tmp_path / "old.bundle")
    bundle = load_bundle(old)
    assert bundle.upscaler is None  # a bundle from before upscalers
    bundle.upscaler = Upscaler(UpscalerConfig(scale=2, channels=8, num_conv=1))
    torch.nn.init.normal_(bundle.upscaler.to_residual.weight)
    path = save_bundle(bundle, tmp_path / "new.bundle")
    loaded = load_bundle(path)
    assert isinstance(loaded.upscaler, Upscaler) and loaded.upscaler.scale == 2
    for k, v in bundle.upscaler.state_dict().items():
        assert torch.equal(v, loaded.upscaler.state_dict()[k])
    assert isinstance(Bundle.new(bundle.generator, name="n", description="d", upscaler=bundle.upscaler).upscaler, Upscaler)
