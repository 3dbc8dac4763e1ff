"""Stage `generator`: a compact StyleGAN2 trainer (NS loss, lazy R1, EMA, DiffAugment) ending in a
generator-only bundle the video stage accepts."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from livevis.models import load_generator
from livevis.models.bundle import load_bundle
from livevis.training.diffaugment import diff_augment, translation
from livevis.training.stages import common
from livevis.training.stages.generator import ema_beta
from tests.rigs.tiny_data import metric_rows, tiny_data, train  # noqa: F401 (fixtures)


# ---- DiffAugment ---------------------------------------------------------------------------------
def test_diffaugment_is_per_sample_deterministic_and_differentiable():
    x = torch.rand(4, 3, 16, 16) * 2 - 1
    gens = lambda: common.sample_generators(7, 3, 4)  # noqa: E731
    a, b = diff_augment(x, gens()), diff_augment(x, gens())
    assert torch.equal(a, b) and not torch.equal(a, x)
    # A sample's augmentation does not depend on the rest of its batch.
    solo = diff_augment(x[2:3], common.sample_generators(7, 3, 1, offset=2))
    assert torch.allclose(solo[0], a[2], atol=1e-6)
    x.requires_grad_(True)
    diff_augment(x, gens()).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_translation_shifts_with_zero_fill_and_cutout_zeroes_a_quarter():
    x = torch.arange(64.0).view(1, 1, 8, 8) + 1
    # uy = ux = 1.0 -> the largest shift (+1 px at ratio 1/8) down and right.
    out = translation(x, torch.tensor([0.999]), torch.tensor([0.999]), 0.125)
    assert torch.equal(out[0, 0, 1:, 1:], x[0, 0, :-1, :-1])
    assert out[0, 0, 0].abs().sum() == 0 and out[0, 0, :, 0].abs().sum() == 0
    ones = torch.ones(1, 3, 16, 16)
    cut = diff_augment(ones, common.sample_generators(0, 0, 1), policy="cutout")
    zeroed = float((cut == 0).float().mean())
    assert 0.0 < zeroed <= 0.25 + 1e-6  # an 8x8 square, possibly overhanging the edge


def test_ema_half_life_and_ramp_up():
    # Without ramp-up: after ema_images images the old weights keep half their weight.
    beta = ema_beta(1000, batch=8, ema_images=80, rampup=None)
    assert beta ** 10 == pytest.approx(0.5)
    # Early on, the ramp-up shortens the half-life so G_ema forgets the random init quickly.
    assert ema_beta(0, 8, 80, 0.05) < ema_beta(1000, 8, 80, 0.05)


# ---- the stage -----------------------------------------------------------------------------------
def test_trains_a_generator_bundle_the_video_stage_accepts(tiny_data, tmp_path):
    out = tmp_path / "gan"
    code, err = train("generator", "--data", tiny_data, "--out", out, "--preset", "tiny", "--steps", 20,
                      "--set", "fixed_batch=true", "--set", "r1_every=4")
    assert code == 0, err
    rows = metric_rows(out)
    assert [int(r["step"]) for r in rows] == list(range(20))
    # On a fixed batch the discriminator learns to tell real from generated: its loss falls from
    # 2 log 2 (chance) and the score gap opens.
    first = sum(r["loss_d"] for r in rows[:3]) / 3
    last = sum(r["loss_d"] for r in rows[-3:]) / 3
    assert last < first, (first, last)
    assert rows[-1]["real_score"] > rows[-1]["fake_score"]
    assert sum("r1" in r for r in rows) == 5  # lazy R1 on steps 0, 4, 8, 12, 16

    config = json.loads((out / "config.json").read_text())
    assert config["stage"] == "generator" and config["r1_every"] == 4 and config["G"]["img_resolution"] == 32
    assert (out / "samples/step0000020.png").is_file() and (out / "samples/step0000010.png").is_file()
    assert (out / "samples/step0000020.mp4").stat().st_size > 0

    bundle = load_bundle(out / "generator.bundle")
    assert bundle.sound_encoder is None and bundle.image_discriminator is not None
    assert [c.name for c in bundle.classes][:2] == ["thunderstorm", "rain"]
    ckpt = torch.load(out / "checkpoints/ckpt-00000020.pt", weights_only=True)["models"]
    g_ema = load_file(str(out / "generator.bundle/generator.safetensors"))
    assert all(torch.equal(v, ckpt["G_ema"][k]) for k, v in g_ema.items())          # the bundle holds G_ema
    assert any(not torch.equal(ckpt["G"][k], ckpt["G_ema"][k]) for k in ckpt["G"] if "weight" in k)  # an average, not G
    G = load_generator(out / "generator.bundle")
    img = G.synthesis(G.mapping(torch.randn(2, G.z_dim)))
    assert img.shape == (2, 3, 32, 32) and torch.isfinite(img).all()

    # The product is a --generator for the video stage.
    code, err = train("video", "--data", tiny_data, "--out", tmp_path / "video", "--preset", "tiny", "--steps", 1,
                      "--generator", out / "generator.bundle")
    assert code == 0, err
    assert load_bundle(tmp_path / "video/bundle").generator.img_resolution == 32


def test_resume_after_a_stop_reproduces_the_losses(tiny_data, tmp_path, monkeypatch):
    common_args = ["--data", tiny_data, "--preset", "tiny", "--steps", 6, "--ckpt-every", 2, "--set", "r1_every=2"]
    code, err = train("generator", *common_args, "--out", tmp_path / "full")
    assert code == 0, err
    monkeypatch.setenv(common.FAULT_ENV, "nan@3")
    code, err = train("generator", *common_args, "--out", tmp_path / "cut")
    assert code == 1 and "NaN" in err and "ckpt-00000002" in err
    monkeypatch.delenv(common.FAULT_ENV)
    code, err = train("generator", *common_args, "--out", tmp_path / "cut", "--resume")
    assert code == 0, err
    want, got = metric_rows(tmp_path / "full"), metric_rows(tmp_path / "cut")
    assert [int(r["step"]) for r in got] == list(range(6))
    for a, b in zip(want, got):
        assert all(abs(a[k] - b[k]) <= 1e-6 for k in a), (a, b)


@pytest.mark.parametrize("flags, needle", [
    (["--generator", "x.pkl"], "trains its own generator"),
    (["--set", "augment=color,zoom"], "unknown DiffAugment policy zoom"),
    (["--set", "r1_every=0"], "r1_every"),
])
def test_bad_settings_are_one_line_errors(tiny_data, tmp_path, flags, needle):
    code, err = train("generator", "--data", tiny_data, "--out", tmp_path / "bad", "--preset", "tiny", *flags)
    assert code == 1 and needle in err and "Traceback" not in err
    assert not (tmp_path / "bad").exists()
