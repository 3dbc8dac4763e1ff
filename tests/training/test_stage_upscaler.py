"""Stage `upscaler`: the output stage's learned upscaler, trained on degraded real frames."""

from __future__ import annotations

import json

import numpy as np
import torch

from livevis.models.bundle import load_bundle
from livevis.training.stages import upscaler as stage
from tests.rigs.tiny_bundle import make_tiny_bundle
from tests.rigs.tiny_data import metric_rows, tiny_data, train  # noqa: F401 (fixtures)


def test_tiny_preset_trains_evaluates_saves_and_writes_into_a_bundle(tiny_data, tmp_path):
    bundle = make_tiny_bundle(tmp_path / "b.bundle")
    before = load_bundle(bundle)
    assert before.upscaler is None
    out = tmp_path / "up"
    code, err = train("upscaler", "--data", tiny_data, "--out", out, "--preset", "tiny", "--steps", 12, "--bundle", bundle)
    assert code == 0, err
    rows = metric_rows(out)
    assert [int(r["step"]) for r in rows] == list(range(12))
    metrics = json.loads((out / "eval.json").read_text())
    assert metrics["val_frames"] > 0 and all(np.isfinite(v) for v in metrics.values())
    assert {"psnr_clean_learned", "psnr_clean_lanczos", "psnr_degraded_learned"} <= set(metrics)
    assert {"frechet_clean_learned", "frechet_degraded_learned", "frechet_degraded_lanczos"} <= set(metrics)
    model = stage.load_upscaler(out)
    ckpt = torch.load(out / "checkpoints/ckpt-00000012.pt", weights_only=True)["models"]["upscaler"]
    assert all(torch.equal(v, ckpt[k]) for k, v in model.state_dict().items())
    # The bundle now carries it (other parts untouched) and still loads.
    after = load_bundle(bundle)
    assert after.upscaler is not None and after.upscaler.scale == stage.PRESETS["tiny"]["model"]["scale"]
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in after.upscaler.state_dict().items())
    assert all(torch.equal(v, before.generator.state_dict()[k]) for k, v in after.generator.state_dict().items())


def test_resume_after_a_stop_reproduces_the_losses(tiny_data, tmp_path, monkeypatch):
    from livevis.training.stages import common

    args = ["--data", tiny_data, "--preset", "tiny", "--steps", 6, "--ckpt-every", 2]
    assert train("upscaler", *args, "--out", tmp_path / "full")[0] == 0
    monkeypatch.setenv(common.FAULT_ENV, "nan@3")
    code, err = train("upscaler", *args, "--out", tmp_path / "cut")
    assert code == 1 and "NaN" in err and not (tmp_path / "cut/upscaler.json").exists()
    monkeypatch.delenv(common.FAULT_ENV)
    assert train("upscaler", *args, "--out", tmp_path / "cut", "--resume")[0] == 0
    want, got = metric_rows(tmp_path / "full"), metric_rows(tmp_path / "cut")
    assert [int(r["step"]) for r in got] == list(range(6))
    for a, b in zip(want, got):
        assert all(abs(a[k] - b[k]) <= 1e-6 for k in a), (a, b)


def test_degradation_is_seeded_and_shrinks_by_the_scale():
    hr = torch.rand(3, 32, 32) * 2 - 1
    gens = lambda: common_gen()  # noqa: E731
    a = stage.degrade(hr, 2, gens(), stage.DEGRADE)
    b = stage.degrade(hr, 2, gens(), stage.DEGRADE)
    assert a.shape == (3, 16, 16) and torch.equal(a, b)
    assert a.min() >= -1 and a.max() <= 1


def common_gen():
    from livevis.training.stages import common

    return common.sample_generators(7, 3, 1)[0]


def test_bad_settings_are_one_line_errors(tiny_data, tmp_path):
    for flags, needle in ((["--generator", "x.pkl"], "neither --generator"), (["--bundle", tmp_path / "nope"], "no such bundle"),
                          (["--set", "patch=33"], "multiple of the scale")):
        code, err = train("upscaler", "--data", tiny_data, "--out", tmp_path / "bad", "--preset", "tiny", *flags)
        assert code == 1 and needle in err and "Traceback" not in err, (flags, err)
        assert not (tmp_path / "bad").exists()


def test_judge_frechet_grows_with_blur(tiny_data):
    """The judge's Frechet distance to the true frames: ~0 for the true frames themselves, and larger
    the blurrier the frames (computed values on a constructed case, not ranges)."""
    from PIL import Image, ImageFilter

    from livevis.training.data import ClipDataset

    val = ClipDataset(tiny_data, "val")
    true = [val[i]["frames"][k].permute(1, 2, 0).numpy() for i in range(len(val)) for k in range(0, 15, 2)]

    def blur(radius):
        return [np.array(Image.fromarray(x).filter(ImageFilter.GaussianBlur(radius))) for x in true]

    fd = stage.judge_frechet(tiny_data, {"true": true, "same": list(true), "soft": blur(1.0), "mush": blur(3.0)})
    assert abs(fd["frechet_same"]) < 1e-6, fd
    assert 0 < fd["frechet_soft"] < fd["frechet_mush"], fd


def test_the_degraded_figures_use_the_fixed_degradation_whatever_training_used(tiny_data, tmp_path):
    """eval.json's degraded inputs come from DEGRADE, not from the run's own `degrade` (so runs trained
    on other degradations are compared on the same inputs): the classic filters' figures, which do
    not depend on the training, match those of a run trained with every degradation off."""
    args = ["--data", tiny_data, "--preset", "tiny", "--steps", 2, "--set", "eval_frechet=false"]
    assert train("upscaler", *args, "--out", tmp_path / "a")[0] == 0
    off = [x for k in ("blur_prob", "artefact_prob", "noise_prob", "jpeg_prob") for x in ("--set", f"degrade.{k}=0.0")]
    assert train("upscaler", *args, *off, "--out", tmp_path / "b")[0] == 0
    a, b = (json.loads((tmp_path / n / "eval.json").read_text()) for n in ("a", "b"))
    assert json.loads((tmp_path / "b/config.json").read_text())["degrade"]["blur_prob"] == 0.0
    for method in ("lanczos", "bicubic", "bilinear"):
        assert a[f"psnr_degraded_{method}"] == b[f"psnr_degraded_{method}"]
        assert a[f"psnr_degraded_{method}"] < a[f"psnr_clean_{method}"]  # really degraded
