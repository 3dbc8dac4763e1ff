"""Stage `sound-classes`: the sound class model learns the dataset's classes from windows of the clips
(and of labelled real recordings), finds each class's scenes in the bundle's generator and is written
into the bundle."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from livevis.models.bundle import load_bundle, save_bundle
from livevis.training.clip_spec import load_clip
from livevis.training.data import ClipDataset
from livevis.training.stages import sound_classes as stage
from tests.rigs.tiny_bundle import make_tiny_bundle
from tests.rigs.tiny_data import metric_rows, tiny_data, train  # noqa: F401 (fixtures)

STEPS = 4


def bundle_for(path: Path, classes: list[str], clip: bool = True) -> Path:
    """The tiny live bundle (16 kHz, 80 mels, 32 px generator) with the dataset's classes and a tiny CLIP."""
    make_tiny_bundle(path)
    bundle = load_bundle(path)
    bundle.config["classes"] = [{"name": c, "prompt": f"a photo of {c}"} for c in classes]
    if clip:
        bundle.clip = load_clip("tiny")[0]
        bundle.config["clip"] = {"kind": "open_clip_config"}
    save_bundle(bundle, path)
    return path


@pytest.fixture(scope="module")
def classes(tiny_data) -> list[str]:
    return list(ClipDataset(tiny_data, "train").classes)


@pytest.fixture(scope="module")
def real_dir(tmp_path_factory, classes) -> Path:
    """Labelled 'recordings' of the first two classes: a tone and a noise burst each, 16 kHz wav."""
    import soundfile as sf

    root = tmp_path_factory.mktemp("real") / "real"
    rng = np.random.default_rng(0)
    t = np.arange(24000) / 16000
    for k, name in enumerate(classes[:2]):
        (root / name).mkdir(parents=True)
        sf.write(root / name / "tone.wav", (0.2 * np.sin(2 * np.pi * (300 + 500 * k) * t)).astype(np.float32), 16000)
        sf.write(root / name / "noise.wav", (0.1 * rng.standard_normal(t.shape[0])).astype(np.float32), 16000)
    return root


@pytest.fixture(scope="module")
def trained(tiny_data, classes, tmp_path_factory):
    """(bundle before, run dir, bundle path, stderr) of one tiny run with validation recordings."""
    tmp = tmp_path_factory.mktemp("sc")
    bundle = bundle_for(tmp / "b.bundle", classes)
    before = load_bundle(bundle)
    recordings = tmp / "rec"
    import soundfile as sf

    (recordings / classes[0]).mkdir(parents=True)
    sf.write(recordings / classes[0] / "a.wav", (0.1 * np.random.default_rng(1).standard_normal(24000)).astype(np.float32), 16000)
    out = tmp / "run"
    code, err = train("sound-classes", "--data", tiny_data, "--bundle", bundle, "--out", out, "--preset", "tiny",
                      "--steps", STEPS, "--ckpt-every", 2, "--recordings", recordings)
    assert code == 0, err
    return before, out, bundle, err


def test_writes_the_part_with_scenes_in_the_generators_w_range(trained, classes):
    before, out, bundle, err = trained
    assert before.sound_classes is None
    rows = metric_rows(out)
    assert [int(r["step"]) for r in rows] == list(range(STEPS))
    assert all(0.0 <= r["accuracy"] <= 1.0 and np.isfinite(r["loss"]) for r in rows)
    after = load_bundle(bundle)
    model = after.sound_classes
    assert model is not None
    c = model.config
    assert (c.num_classes, c.n_mels, c.num_frames, c.w_dim) == (len(classes), after.audio.n_mels, after.audio.frames,
                                                                after.generator.w_dim)
    assert c.scenes_per_class == stage.PRESETS["tiny"]["model"]["scenes_per_class"]
    scenes = model.scenes                                               # [K, P, w_dim]
    assert scenes.shape == (len(classes), c.scenes_per_class, after.generator.w_dim)
    assert torch.isfinite(scenes).all() and (scenes.abs().sum(-1) > 0).all()
    # Each scene is a (mean of) W latent(s) of the generator: inside the box of its mapped samples.
    with torch.no_grad():
        w = after.generator.mapping(torch.randn(2048, after.generator.z_dim, generator=torch.Generator().manual_seed(0)),
                                    truncation_psi=stage.PRESETS["tiny"]["scenes"]["truncation"])[:, 0]  # [N, w_dim]
    lo, hi = w.min(0).values, w.max(0).values
    span = hi - lo
    assert ((scenes >= lo - 0.1 * span) & (scenes <= hi + 0.1 * span)).float().mean() > 0.99
    # The trained weights are the last checkpoint's; other parts are untouched.
    ckpt = torch.load(out / f"checkpoints/ckpt-{STEPS:08d}.pt", weights_only=True)["models"]["sound_classes"]
    assert all(torch.equal(v, ckpt[k]) for k, v in model.state_dict().items() if k != "scenes")
    assert all(torch.equal(v, before.generator.state_dict()[k]) for k, v in after.generator.state_dict().items())
    assert all(torch.equal(v, before.sound_encoder.state_dict()[k]) for k, v in after.sound_encoder.state_dict().items())
    record = json.loads((out / stage.RECORD_NAME).read_text())
    assert record["arch"] == "sound_classes" and record["config"]["num_classes"] == len(classes)
    assert "wrote the sound class model" in err


def test_eval_reports_window_accuracy(trained, classes):
    _before, out, _bundle, err = trained
    metrics = json.loads((out / "eval.json").read_text())
    assert 0.0 <= metrics["val_window_accuracy"] <= 1.0
    assert metrics["chance_accuracy"] == pytest.approx(1.0 / len(classes))
    assert 0.0 <= metrics["recordings_window_accuracy"] <= 1.0 and metrics["recordings_windows"] >= 2
    assert set(metrics["scene_frames_per_class"]) == set(classes)
    assert "val_window_accuracy" in err


def test_real_windows_fill_their_share_of_the_batch(tiny_data, classes, real_dir, tmp_path, monkeypatch):
    drawn: list[list[int]] = []
    original = stage.RealWindows.draw

    def spy(self, gens):
        windows, labels = original(self, gens)
        assert windows.shape == (len(gens), self.window) and windows.abs().amax(1).min() > 0
        drawn.append(list(labels))
        return windows, labels

    monkeypatch.setattr(stage.RealWindows, "draw", spy)
    monkeypatch.setattr(stage, "class_scenes", _no_scenes)  # only the training steps matter here
    bundle = bundle_for(tmp_path / "b.bundle", classes)
    code, err = train("sound-classes", "--data", tiny_data, "--bundle", bundle, "--out", tmp_path / "run", "--preset",
                      "tiny", "--steps", 3, "--set", "real_windows=0.5", "--set", f"audio_augment.real_dir={real_dir}")
    assert code == 0, err
    batch = stage.PRESETS["tiny"]["batch"]
    assert len(drawn) == 3 and all(len(labels) == batch // 2 for labels in drawn)
    assert {label for labels in drawn for label in labels} <= {0, 1}     # the classes with recordings
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["real_windows"] == 0.5


def test_real_windows_without_a_real_dir_train_on_clips_only(tiny_data, classes, tmp_path, monkeypatch):
    monkeypatch.setattr(stage.RealWindows, "draw", _never)
    monkeypatch.setattr(stage, "class_scenes", _no_scenes)
    bundle = bundle_for(tmp_path / "b.bundle", classes)
    code, err = train("sound-classes", "--data", tiny_data, "--bundle", bundle, "--out", tmp_path / "run", "--preset",
                      "tiny", "--steps", 1, "--set", "real_windows=0.5")
    assert code == 0, err
    assert "no audio_augment.real_dir" in err


def test_band_limit_drops_what_a_lower_sample_rate_cannot_hold():
    sr = 16000
    t = torch.arange(sr) / sr
    low, high = torch.sin(2 * torch.pi * 1000 * t), torch.sin(2 * torch.pi * 7500 * t)
    windows = torch.stack([low + high] * 200)                          # [200, sr]
    gens = [torch.Generator().manual_seed(i) for i in range(200)]
    changed = stage.band_limit(windows, gens, 0.3, sr)
    assert 35 <= len(changed) <= 90
    untouched = [b for b in range(200) if b not in changed]
    assert torch.equal(windows[untouched], torch.stack([low + high] * len(untouched)))

    def level(x, f):                                                    # amplitude of the f Hz tone in x
        tt = t[2000:2000 + x.shape[0]]
        return float((2 * (x * torch.exp(-2j * torch.pi * f * tt)).mean()).abs())

    assert level((low + high)[2000:-2000], 7500) > 0.95                 # (the probe hears it before)
    for b in changed:                                                   # 7.5 kHz is above every limit
        middle = windows[b, 2000:-2000]                                 # (away from the resampler's edges)
        assert level(middle, 1000) > 0.95 and level(middle, 7500) < 0.02, b
    again = torch.stack([low + high] * 200)
    assert stage.band_limit(again, [torch.Generator().manual_seed(i) for i in range(200)], 0.3, sr) == changed
    assert torch.equal(again, windows)                                  # seeded: --resume sees the same batch
    assert stage.band_limit(torch.ones(3, 10), gens[:3], 0.0, sr) == []


def test_band_limited_windows_are_counted(tiny_data, classes, tmp_path, monkeypatch):
    monkeypatch.setattr(stage, "class_scenes", _no_scenes)
    bundle = bundle_for(tmp_path / "b.bundle", classes)
    code, err = train("sound-classes", "--data", tiny_data, "--bundle", bundle, "--out", tmp_path / "run", "--preset",
                      "tiny", "--steps", 3, "--set", "band_limited=1")
    assert code == 0, err
    assert [r["band_limited"] for r in metric_rows(tmp_path / "run")] == [1.0, 1.0, 1.0]


def _no_scenes(bundle, data, cfg, scenes_per_class, device):
    return torch.ones(len(data.classes), scenes_per_class, int(bundle.generator.w_dim)), [1] * len(data.classes)


def _never(self, gens):
    raise AssertionError("no real windows were asked for")


def _one_error(code: int, err: str, needle: str) -> None:
    assert code == 1 and "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if "error" in ln.lower()]
    assert len(lines) == 1 and needle in lines[0], err


def test_bad_bundles_are_one_line_errors(tiny_data, classes, tmp_path):
    args = ["--data", tiny_data, "--preset", "tiny", "--steps", 1]
    code, err = train("sound-classes", *args, "--out", tmp_path / "a")
    _one_error(code, err, "--bundle")
    assert not (tmp_path / "a").exists()
    code, err = train("sound-classes", *args, "--out", tmp_path / "b", "--bundle", tmp_path / "nope")
    _one_error(code, err, "nope")
    no_clip = bundle_for(tmp_path / "noclip.bundle", classes, clip=False)
    code, err = train("sound-classes", *args, "--out", tmp_path / "c", "--bundle", no_clip)
    _one_error(code, err, "CLIP")
    other = bundle_for(tmp_path / "other.bundle", ["rain", "fire"])
    code, err = train("sound-classes", *args, "--out", tmp_path / "d", "--bundle", other)
    _one_error(code, err, "classes")
    assert load_bundle(other).sound_classes is None                     # left as it was
    code, err = train("sound-classes", *args, "--out", tmp_path / "e", "--bundle", other, "--set", "real_windows=2")
    _one_error(code, err, "real_windows")
    code, err = train("sound-classes", *args, "--out", tmp_path / "f", "--bundle", other, "--set", "band_limited=-1")
    _one_error(code, err, "band_limited")
    code, err = train("sound-classes", *args, "--out", tmp_path / "g", "--bundle", other, "--set", "scenes.edge_weight=-1")
    _one_error(code, err, "edge_weight")


def test_kmeans_finds_separated_blobs_most_populous_first():
    g = torch.Generator().manual_seed(0)
    big = torch.randn(60, 3, generator=g) * 0.1 + torch.tensor([5.0, 0.0, 0.0])
    small = torch.randn(20, 3, generator=g) * 0.1 + torch.tensor([-5.0, 2.0, 0.0])
    x = torch.cat([small, big])[torch.randperm(80, generator=g)]
    centroids, counts = stage.kmeans(x, 2, iters=10, seed=0)
    assert counts.tolist() == [60, 20]
    assert torch.allclose(centroids[0], big.mean(0), atol=1e-5)
    assert torch.allclose(centroids[1], small.mean(0), atol=1e-5)


def test_kmeans_with_fewer_points_than_k_repeats_them():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    centroids, counts = stage.kmeans(x, 5, iters=3, seed=0)
    assert centroids.shape == (5, 2)
    assert torch.equal(centroids, x[torch.tensor([0, 1, 0, 1, 0])])
    assert counts.tolist() == [1, 1, 0, 0, 0]


def test_resume_after_a_stop_reproduces_the_losses(tiny_data, classes, tmp_path, monkeypatch):
    from livevis.training.stages import common

    monkeypatch.setattr(stage, "class_scenes", _no_scenes)
    # One bundle per run: the finished run writes its part into its bundle.
    full_bundle, cut_bundle = (bundle_for(tmp_path / f"{n}.bundle", classes) for n in ("full", "cut"))
    args = ["--data", tiny_data, "--preset", "tiny", "--steps", 4, "--ckpt-every", 2]
    assert train("sound-classes", *args, "--bundle", full_bundle, "--out", tmp_path / "full")[0] == 0
    monkeypatch.setenv(common.FAULT_ENV, "nan@3")
    code, err = train("sound-classes", *args, "--bundle", cut_bundle, "--out", tmp_path / "cut")
    assert code == 1 and "NaN" in err and not (tmp_path / "cut" / stage.RECORD_NAME).exists()
    assert load_bundle(cut_bundle).sound_classes is None
    monkeypatch.delenv(common.FAULT_ENV)
    assert train("sound-classes", *args, "--bundle", cut_bundle, "--out", tmp_path / "cut", "--resume")[0] == 0
    want, got = metric_rows(tmp_path / "full"), metric_rows(tmp_path / "cut")
    assert [int(r["step"]) for r in got] == list(range(4))
    for a, b in zip(want, got):
        assert all(abs(a[k] - b[k]) <= 1e-6 for k in a), (a, b)
    full = load_file_state(tmp_path / "full")
    cut = load_file_state(tmp_path / "cut")
    assert all(torch.equal(v, cut[k]) for k, v in full.items())


def load_file_state(run: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(run / stage.WEIGHTS_NAME))


def test_a_rerun_on_a_bundle_that_already_has_the_part_trains_the_same(tiny_data, classes, tmp_path, monkeypatch):
    monkeypatch.setattr(stage, "class_scenes", _no_scenes)
    bundle = bundle_for(tmp_path / "b.bundle", classes)
    args = ["--data", tiny_data, "--bundle", bundle, "--preset", "tiny", "--steps", 1, "--set", "audio_augment.p=0"]
    assert train("sound-classes", *args, "--out", tmp_path / "first")[0] == 0
    assert train("sound-classes", *args, "--out", tmp_path / "again")[0] == 0
    # Loading a bundle that already holds the part must not change the new model's initial weights.
    assert metric_rows(tmp_path / "first") == metric_rows(tmp_path / "again")


def test_projection_fits_a_picture_the_starting_latent_does_not_draw(tmp_path, classes):
    """project(): from one w on every layer, Adam on W+ brings the generator's picture close to a target
    picture (here one the generator draws from another W+ latent); the generator is left unchanged."""
    gen = load_bundle(bundle_for(tmp_path / "b.bundle", classes, clip=False)).generator.eval()
    before = {k: v.clone() for k, v in gen.state_dict().items()}
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        z = torch.randn(gen.num_ws + 1, gen.z_dim, generator=g)
        w = gen.mapping(z)[:, 0]                                              # [num_ws + 1, w_dim]
        target = gen.synthesis(w[1:].unsqueeze(0), noise_mode="const")       # [1, 3, R, R]: every layer its own w
        start = gen.synthesis(w[:1].unsqueeze(0).expand(1, gen.num_ws, -1), noise_mode="const")
    fitted = stage.project(gen, target, w[0], steps=60, lr=0.05, pool=4)
    assert fitted.shape == (gen.num_ws, gen.w_dim)
    with torch.no_grad():
        got = gen.synthesis(fitted.unsqueeze(0), noise_mode="const")
    err_start, err_fit = float((start - target).pow(2).mean()), float((got - target).pow(2).mean())
    assert err_fit < 0.5 * err_start, (err_start, err_fit)
    assert all(torch.equal(v, before[k]) for k, v in gen.state_dict().items())


def test_edge_statistics_bring_back_the_thin_texture_a_pixel_fit_averages_away(tmp_path, classes):
    """project(edge_weight > 0): a target with streaks at places no latent matches (a picture of the
    generator plus thin vertical lines) is fitted with edge statistics much closer to the target's than
    the pixel fit alone gives."""
    gen = load_bundle(bundle_for(tmp_path / "b.bundle", classes, clip=False)).generator.eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        w = gen.mapping(torch.randn(2, gen.z_dim, generator=g))[:, 0]          # [2, w_dim]
        target = gen.synthesis(w[1:].unsqueeze(0).expand(1, gen.num_ws, -1), noise_mode="const")
    target = target.clone()
    target[..., ::3] = (target[..., ::3] + 0.8).clamp(-1, 1)                 # streaks every third column

    def edge_error(edge_weight: float) -> float:
        fitted = stage.project(gen, target, w[0], steps=60, lr=0.05, pool=4, edge_weight=edge_weight)
        with torch.no_grad():
            got = stage.edge_stats(gen.synthesis(fitted.unsqueeze(0), noise_mode="const"))
        want = stage.edge_stats(target)
        return float((got - want).pow(2).sum() / want.pow(2).sum())

    plain, with_edges = edge_error(0.0), edge_error(10.0)
    assert with_edges < 0.5 * plain, (plain, with_edges)


def test_edge_statistics_keep_a_small_frames_middle():
    img = torch.zeros(1, 3, 16, 16)
    img[..., 8] = 1.0                                                         # one bright column in the middle
    assert torch.isfinite(stage.edge_stats(img, margin=12)).all() and stage.edge_stats(img, margin=12)[0, 0] > 0


def test_projected_scenes_are_w_plus_and_closer_to_their_frames(tiny_data, classes, tmp_path):
    """scenes.project_steps > 0: the part stores W+ scenes [K, P, num_ws, w_dim] (config.num_ws), each fitted
    to a real frame of its class, which it draws closer than the bank's scene it started from."""
    base, fitted = tmp_path / "base", tmp_path / "fitted"
    for out, steps in ((base, 0), (fitted, 30)):
        bundle = bundle_for(tmp_path / f"{out.name}.bundle", classes)
        code, err = train("sound-classes", "--data", tiny_data, "--bundle", bundle, "--out", out, "--preset", "tiny",
                          "--steps", 2, "--set", f"scenes.project_steps={steps}")
        assert code == 0, err
    b0, b1 = load_bundle(tmp_path / "base.bundle"), load_bundle(tmp_path / "fitted.bundle")
    gen = b1.generator.eval()
    K, P = len(classes), b1.sound_classes.config.scenes_per_class
    assert b0.sound_classes.config.num_ws == 0 and b1.sound_classes.config.num_ws == gen.num_ws
    assert b1.sound_classes.scenes.shape == (K, P, gen.num_ws, gen.w_dim)
    data = ClipDataset(tiny_data, "train")
    from livevis.training.stages import common

    def mean_error(scenes: torch.Tensor, label: int) -> float:
        """Pixel error of each scene's picture to the nearest real frame of its class."""
        frames = torch.cat([common.frames_to_float(data[i]["frames"]) for i in range(len(data)) if data[i]["label"] == label])
        frames = common.resize(frames, gen.img_resolution)
        ws = scenes if scenes.ndim == 3 else scenes.unsqueeze(1).expand(-1, gen.num_ws, -1)
        with torch.no_grad():
            imgs = gen.synthesis(ws, noise_mode="const")                    # [P, 3, R, R]
        return float(torch.cdist(imgs.flatten(1), frames.flatten(1)).min(1).values.mean())

    before = np.mean([mean_error(b0.sound_classes.scenes[c], c) for c in range(K)])
    after = np.mean([mean_error(b1.sound_classes.scenes[c], c) for c in range(K)])
    assert after < 0.8 * before, (before, after)
