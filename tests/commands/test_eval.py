"""`livevis eval`: the JSON contract end to end on a tiny bundle and tiny data, the table, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from livevis.cli import main
from livevis.models.bundle import load_bundle, save_bundle
from livevis.models.clip import ClipSpace, tiny_clip_config
from tests.rigs.cli import assert_one_line_error, livevis
from tests.rigs.tiny_bundle import tiny_bundle  # noqa: F401 (fixture)
from tests.rigs.tiny_data import tiny_data  # noqa: F401 (fixture)

KEYS = {"semantic_accuracy", "per_class", "sync_r", "clip_av", "clip_tv", "baseline", "clips"}


@pytest.fixture(scope="module")
def clip_bundle(tiny_bundle, tmp_path_factory):
    """The tiny bundle plus a tiny CLIP as wide as its sound encoder's embedding (so a <-> v exists)."""
    bundle = load_bundle(tiny_bundle)
    torch.manual_seed(0)
    bundle.clip = ClipSpace.from_config(tiny_clip_config(embed_dim=bundle.sound_encoder.config.embed_dim, image_size=32))
    bundle.config["clip"] = {"kind": "open_clip_config"}
    return save_bundle(bundle, tmp_path_factory.mktemp("eval") / "clip.bundle")


def _eval_json(capsys, *argv) -> dict:
    code = main(["eval", *map(str, argv), "--json"])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.strip().splitlines()
    assert len(lines) == 1, out                       # exactly one object on stdout
    return json.loads(lines[0])


def test_json_contract_on_a_tiny_bundle(capsys, tiny_bundle, tiny_data):
    result = _eval_json(capsys, "--model", tiny_bundle, "--data", tiny_data, "--clips", 9)
    assert KEYS <= set(result) and set(result["baseline"]) >= {"semantic_accuracy", "sync_r"}
    assert result["clips"] == 9 and result["chance"] == pytest.approx(1 / 9)
    assert len(result["per_class"]) == 9                      # balanced: one held-out clip per class
    for value in (result["semantic_accuracy"], result["baseline"]["semantic_accuracy"], *result["per_class"].values()):
        assert 0.0 <= value <= 1.0
    for value in (result["sync_r"], result["baseline"]["sync_r"]):
        assert value is None or -1.0 <= value <= 1.0
    assert result["clip_av"] is None and result["clip_tv"] is None and "no CLIP" in result["notes"][0]
    assert result["classifier_real_accuracy"] >= 0.9        # the classifier knows the real classes
    # Deterministic: the same seed gives the same figures.
    again = _eval_json(capsys, "--model", tiny_bundle, "--data", tiny_data, "--clips", 9)
    assert {k: again[k] for k in KEYS} == {k: result[k] for k in KEYS}


def test_clip_similarities_and_the_table(capsys, clip_bundle, tiny_data):
    result = _eval_json(capsys, "--model", clip_bundle, "--data", tiny_data, "--clips", 3, "--seed", 1)
    assert result["clips"] == 3
    assert -1.0 <= result["clip_av"] <= 1.0 and -1.0 <= result["clip_tv"] <= 1.0
    assert main(["eval", "--model", str(clip_bundle), "--data", str(tiny_data), "--clips", "2"]) == 0
    table = capsys.readouterr().out
    assert "semantic accuracy" in table and "random walk" in table and "CLIP a<->v" in table


def test_grid_shows_each_class_real_then_sound_driven_then_random_walk(capsys, tiny_bundle, tiny_data, tmp_path):
    from PIL import Image

    out = tmp_path / "grid.png"
    result = _eval_json(capsys, "--model", tiny_bundle, "--data", tiny_data, "--clips", 3, "--grid", out)
    img = np.asarray(Image.open(out))
    R = load_bundle(tiny_bundle).generator.img_resolution
    steps = result["frames_per_clip"]
    cols = 1 + (steps + 1) // 2                               # a real frame, then every other step
    assert img.shape == (3 * 2 * R, cols * R, 3)              # 3 classes x (sound row, random-walk row)
    first_real = img[:R, :R].astype(float)
    assert (first_real == img[R:2 * R, :R]).all()             # both rows of a class start from the same real frame
    assert not (img[:R, R:] == img[R:2 * R, R:]).all()        # sound and random walk draw different frames
    assert_one_line_error(livevis("eval", "--model", tiny_bundle, "--data", tiny_data, "--grid", tmp_path / "no/such.png"),
                          "no such folder")


def test_bad_input_is_a_one_line_error(tmp_path, tiny_bundle, tiny_data):
    assert_one_line_error(livevis("eval", "--model", tiny_bundle, "--data", tmp_path / "nothing"), "no dataset")
    assert_one_line_error(livevis("eval", "--model", tiny_bundle, "--data", tiny_data, "--clips", "0"), "--clips")
    assert_one_line_error(livevis("eval", "--model", tiny_bundle, "--data", tiny_data, "--generate", "--fps", "0"), "--fps")
    from tests.rigs.tiny_parts import tiny_bundle as parts_bundle

    generator_only = save_bundle(parts_bundle(generator_only=True), tmp_path / "gen.bundle")
    # A generator alone evaluates in react mode by default; the learned mode needs a sound model.
    assert_one_line_error(livevis("eval", "--model", generator_only, "--data", tiny_data, "--mode", "learned"), "generator only")


@pytest.mark.parametrize("argv, fps", [((), 10.0), (("--fps", "30"), 30.0)])
def test_generate_renders_at_the_clips_rate_unless_fps_is_given(capsys, monkeypatch, tiny_bundle, tiny_data, argv, fps):
    """--generate measures at 10 fps (the training clips' rate) by default; --fps N measures at the rate a
    `livevis generate` clip is written at (30 by default)."""
    import livevis.eval.generate_sound as generate_sound

    seen = {}

    def fake(bundle, data, **kw):
        seen.update(kw)
        return {"fps": kw["fps"]}

    monkeypatch.setattr(generate_sound, "evaluate_generate", fake)
    assert _eval_json(capsys, "--model", tiny_bundle, "--data", tiny_data, "--generate", *argv) == {"fps": fps}
    assert seen["fps"] == fps


class ConstructedGenerator:
    """Stands in for `generate.synthesize`: frames built from the clip being scored, not from ws.

    evaluate() synthesises the chosen clips in order (sound-driven, then the random walk), so call k
    belongs to clip k mod n. Modes:
      perfect   the clip's own real frames (what a generator that nails the class would draw)
      constant  one grey frame for every step of every clip
      sync      uniform frames whose change into step t is proportional to the clip's onset strength at t
      antisync  the same with the change proportional to (max strength - strength)
    """

    def __init__(self, mode: str, data, clips: int, bundle_path):
        from livevis.eval import metrics
        from livevis.eval.report import pick_clips
        from livevis.training.data import ClipDataset

        self.mode, self.calls = mode, 0
        val = ClipDataset(data, "val")
        self.items = [val[i] for i in pick_clips(val.labels(), clips)]
        fe = load_bundle(bundle_path).audio
        self.step_samples = max(1, int(round(fe.sample_rate / float(fe.step_rate))))
        self.envelope = lambda audio: metrics.onset_envelope(audio, fe.sample_rate, fe.n_fft, fe.hop_length, fe.n_mels)

    def __call__(self, modules, ws, batch: int = 8) -> torch.Tensor:
        from livevis.eval import metrics

        item = self.items[self.calls % len(self.items)]
        self.calls += 1
        T = ws.shape[0]
        real = item["frames"].float() / 127.5 - 1.0                                  # [Tc, 3, H, W]
        if self.mode == "perfect":
            k = torch.linspace(0, real.shape[0] - 1, T).round().long()
            return real[k]
        if self.mode == "constant":
            return torch.zeros(T, *real.shape[1:])
        env, ends = self.envelope(item["audio"].numpy())
        strength = metrics.strength_per_step(env, ends, self.step_samples, T)      # [T]
        step = strength if self.mode == "sync" else strength.max() - strength
        level = np.cumsum(step) / max(float(np.sum(step)), 1e-12)                  # [T] in [0, 1]
        return torch.from_numpy(-1.0 + 2.0 * level).float().view(T, 1, 1, 1).expand(T, *real.shape[1:]).clone()


@pytest.fixture
def constructed(monkeypatch, tiny_bundle, tiny_data):
    from livevis.eval import generate

    def install(mode: str, clips: int = 9) -> ConstructedGenerator:
        fake = ConstructedGenerator(mode, tiny_data, clips, tiny_bundle)
        monkeypatch.setattr(generate, "synthesize", fake)
        return fake
    return install


def _evaluate(tiny_bundle, tiny_data, clips=9):
    from livevis.eval.report import evaluate

    return evaluate(load_bundle(tiny_bundle), tiny_data, clips=clips, seed=0)


def test_a_generator_drawing_the_real_frames_scores_what_the_classifier_scores_on_real_frames(constructed, tiny_bundle, tiny_data):
    fake = constructed("perfect")
    result = _evaluate(tiny_bundle, tiny_data)
    assert fake.calls == 18                                                    # 9 clips, sound then baseline
    assert result["classifier_real_accuracy"] == 1.0                          # premise: it knows the real classes
    assert result["semantic_accuracy"] == 1.0 and result["baseline"]["semantic_accuracy"] == 1.0
    assert set(result["per_class"].values()) == {1.0} and len(result["per_class"]) == 9


def test_a_constant_generator_scores_one_class_and_has_no_sync(constructed, tiny_bundle, tiny_data):
    constructed("constant")
    result = _evaluate(tiny_bundle, tiny_data)
    # Every frame gets the same prediction; one clip per class with equally many frames -> exactly 1/9.
    assert result["semantic_accuracy"] == pytest.approx(1 / 9, abs=1e-12)
    assert sorted(result["per_class"].values()) == [0.0] * 8 + [1.0]
    assert result["sync_r"] is None and result["sync_clips"] == 0             # frames never change: no correlation
    assert result["baseline"]["sync_r"] is None


@pytest.mark.parametrize("mode, r", [("sync", 1.0), ("antisync", -1.0)])
def test_frames_that_follow_the_onsets_have_sync_r_of_one(constructed, tiny_bundle, tiny_data, mode, r):
    constructed(mode)
    result = _evaluate(tiny_bundle, tiny_data)
    assert result["sync_clips"] == 9
    assert result["sync_r"] == pytest.approx(r, abs=1e-6) and result["baseline"]["sync_r"] == pytest.approx(r, abs=1e-6)
