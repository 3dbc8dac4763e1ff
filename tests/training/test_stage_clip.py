"""Stage `clip`: a small open_clip trained from scratch on frames + captions, usable as --clip."""

from __future__ import annotations

import json
import math

import torch

from livevis.training.clip_spec import load_clip
from livevis.training.stages.clip import CONTEXTS, PRESETS, lr_at, vocabulary_words, wording
from tests.rigs.tiny_data import metric_rows, tiny_data, train  # noqa: F401 (fixtures)


def test_learns_a_clip_space_that_classifies_held_out_frames_and_serves_as_clip(tiny_data, tmp_path):
    out = tmp_path / "clip"
    code, err = train("clip", "--data", tiny_data, "--out", out, "--preset", "tiny", "--steps", 40)
    assert code == 0, err
    rows = metric_rows(out)
    assert [int(r["step"]) for r in rows] == list(range(40))
    first = sum(r["loss"] for r in rows[:5]) / 5
    last = sum(r["loss"] for r in rows[-5:]) / 5
    assert last < 0.5 * first, (first, last)

    # Zero-shot classification of held-out frames by class prompt, well above chance (1/9).
    metrics = json.loads((out / "eval.json").read_text())
    assert metrics["chance_accuracy"] == 1 / 9 and metrics["val_frames"] >= 9 * 4
    assert metrics["zero_shot_accuracy"] >= 0.4, metrics
    assert "zero_shot_accuracy" in err

    # The saved CLIP is what `--clip RUN` / `--clip bundle:RUN` load, bit for bit.
    clip, record, prov = load_clip(str(out))
    assert record["kind"] == "open_clip_config" and clip.embed_dim == PRESETS["tiny"]["model"]["embed_dim"]
    ckpt = torch.load(out / "checkpoints/ckpt-00000040.pt", weights_only=True)["models"]["clip"]
    assert all(torch.equal(v, ckpt[k]) for k, v in clip.model.state_dict().items() if k in ckpt)
    assert load_clip(f"bundle:{out}")[2]["clip_sha256"] == prov["clip_sha256"]

    # ... and the audio stage aligns to it.
    code, err = train("audio", "--data", tiny_data, "--out", tmp_path / "audio", "--preset", "tiny", "--steps", 2,
                      "--clip", out)
    assert code == 0, err
    assert json.loads((tmp_path / "audio/sound_encoder.json").read_text())["config"]["embed_dim"] == 32


def test_learning_rate_warms_up_then_decays_to_zero():
    cfg = {"lr": 1e-3, "warmup": 10, "steps": 110}
    assert lr_at(0, cfg) == 1e-4 and lr_at(9, cfg) == 1e-3
    assert math.isclose(lr_at(60, cfg), 0.5e-3) and lr_at(110, cfg) == 0.0
    assert all(lr_at(s, cfg) >= lr_at(s + 1, cfg) for s in range(10, 110))


def test_bad_settings_are_one_line_errors(tiny_data, tmp_path):
    for flags, needle in ((["--clip", "tiny"], "trains its own CLIP"), (["--batch", "1"], "--batch must be >= 2"),
                          (["--set", "model.depth=3"], "no config entry 'model.depth'")):
        code, err = train("clip", "--data", tiny_data, "--out", tmp_path / "bad", "--preset", "tiny", *flags)
        assert code == 1 and needle in err and "Traceback" not in err, (flags, err)
        assert not (tmp_path / "bad").exists()


def test_resume_after_a_stop_reproduces_the_losses(tiny_data, tmp_path, monkeypatch):
    from livevis.training.stages import common

    args = ["--data", tiny_data, "--preset", "tiny", "--steps", 6, "--ckpt-every", 2, "--batch", 8]
    assert train("clip", *args, "--out", tmp_path / "full")[0] == 0
    monkeypatch.setenv(common.FAULT_ENV, "nan@3")
    code, err = train("clip", *args, "--out", tmp_path / "cut")
    assert code == 1 and "NaN" in err and not (tmp_path / "cut/clip.json").exists()
    monkeypatch.delenv(common.FAULT_ENV)
    assert train("clip", *args, "--out", tmp_path / "cut", "--resume")[0] == 0
    want, got = metric_rows(tmp_path / "full"), metric_rows(tmp_path / "cut")
    assert [int(r["step"]) for r in got] == list(range(6))
    for a, b in zip(want, got):
        assert all(abs(a[k] - b[k]) <= 1e-6 for k in a), (a, b)


def test_a_reworded_text_names_its_class_and_its_context_names_none():
    caption = "fire crackling with flames and flying sparks"
    said = [wording(torch.Generator().manual_seed(i), "fire_crackling", caption, ["zebra"]) for i in range(400)]
    assert said == [wording(torch.Generator().manual_seed(i), "fire_crackling", caption, ["zebra"]) for i in range(400)]
    assert all("fire crackling" in t or caption in t for t in said)        # the class is always named
    with_context = [t for t in said if any(t.endswith(c) for c in CONTEXTS)]
    assert 0.6 <= len(with_context) / 400 <= 0.8
    assert len({t.split()[-1] for t in with_context}) >= 8                 # many contexts, not one per class
    distracted = [t for t in said if t.startswith("zebra ")]
    assert 0.2 <= len(distracted) / 400 <= 0.4
    # the same contexts go with another class: none of them tells a class
    rain = {wording(torch.Generator().manual_seed(i), "rain", "rain pouring down", None) for i in range(400)}
    assert {t for t in rain if t.endswith("at night")} and not any(t.startswith("zebra") for t in rain)


def test_distractor_words_leave_out_the_datasets_words():
    import open_clip

    words = vocabulary_words(open_clip.SimpleTokenizer(), ["heavy rain falling", "fire_crackling"])
    assert len(words) > 20000 and "zebra" in words and words == sorted(words)
    assert not [w for w in words if "rain" in w or "heavy" in w or "falling" in w or "fire" in w or "crackling" in w]
    assert "fall" in words                                                  # (a word of its own, not of the texts)


def test_training_texts_are_reworded(tiny_data, tmp_path, monkeypatch):
    from livevis.models.clip import ClipSpace

    seen: list[str] = []
    encode = ClipSpace.encode_text

    def spy(self, texts):
        seen.extend(texts)
        return encode(self, texts)

    monkeypatch.setattr(ClipSpace, "encode_text", spy)
    code, err = train("clip", "--data", tiny_data, "--out", tmp_path / "run", "--preset", "tiny", "--steps", 3,
                      "--batch", 16, "--set", "vary_text=1")
    assert code == 0, err
    training = seen[:48]                                                     # (the held-out eval encodes after)
    assert sum(any(t.endswith(c) for c in CONTEXTS) for t in training) >= 20
    code, err = train("clip", "--data", tiny_data, "--out", tmp_path / "bad", "--preset", "tiny", "--set", "vary_text=2")
    assert code == 1 and "vary_text" in err and "Traceback" not in err
