"""The shipped default on sound it never heard: a fresh synthetic set (another seed than its
training set), measured by `livevis eval`'s own code against the random-walk baseline."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from livevis.eval.report import evaluate
from livevis.models.bundle import load_bundle
from livevis.training.data.synthetic.generate import write_synthetic

HELD_OUT_SEED = 12345   # the recipe trains on seed 0
# What README.md claims for this very set, measured on the shipped default (the 128 px model v2, its
# sound class model retrained on 106 recordings, 2026-12-02) with the live path's defaults: 77.8% vs
# 12.3% for the walk, sync r 0.50 (before that retrain 70.2%, 0.55; the 64 px default 70.8%, 0.47).
# The floors sit 10 points / 0.1 below the claim, so a real regression fails here. When the default
# model is retrained, or the synthetic generator changes (which changes this set), measure again and
# move the claim in README.md and these numbers together.
CLAIMED_ACCURACY, CLAIMED_SYNC_R = 0.778, 0.497
ACCURACY_FLOOR, SYNC_R_FLOOR = CLAIMED_ACCURACY - 0.10, CLAIMED_SYNC_R - 0.10
# Real recordings (tests/data/recordings, the test set: 24 files from Debian packages, never used to
# train or to choose anything), `livevis eval --recordings`, 4 seeds: 54.8% (random walk 13.3%).
CLAIMED_RECORDINGS = 0.548
RECORDINGS_FLOOR = CLAIMED_RECORDINGS - 0.10
RECORDINGS = Path(__file__).resolve().parents[1] / "data" / "recordings"


def write_unheard_set(bundle, out: Path, clips: int, *, val_fraction: float, size_scale: int = 1) -> None:
    """A synthetic set like the bundle's training set (its recipe's size, fps, clip length and audio
    rate; frames `size_scale` times larger), from HELD_OUT_SEED."""
    knobs = bundle.config["provenance"]["knobs"]
    write_synthetic(out, clips, seed=HELD_OUT_SEED, size=size_scale * int(knobs["SIZE"]), fps=int(knobs["FPS"]),
                    clip_seconds=float(knobs["CLIP_SECONDS"]), sample_rate=bundle.audio.sample_rate,
                    val_fraction=val_fraction)


@pytest.mark.slow
def test_shipped_default_beats_the_random_walk_on_unheard_clips(tmp_path):
    bundle = load_bundle("default")
    # 36 clips: the 2nd clip of each class is held out (9 measured), the other 27 teach the classifier.
    write_unheard_set(bundle, tmp_path / "data", 36, val_fraction=0.1)
    result = evaluate(bundle, tmp_path / "data", clips=9, seed=0)
    base = result["baseline"]
    assert result["clips"] == 9 and result["classifier_real_accuracy"] >= 0.9, result
    assert result["semantic_accuracy"] >= ACCURACY_FLOOR, result
    assert result["sync_r"] is not None and result["sync_r"] >= SYNC_R_FLOOR, result
    # The random walk on the same generator stays near chance and unsynced: the figures come from the sound.
    assert base["semantic_accuracy"] <= 2 * result["chance"], result
    assert base["sync_r"] is None or abs(base["sync_r"]) < 0.2, result


@pytest.mark.slow
def test_shipped_default_names_real_recordings_above_chance():
    """Issue 13: real rain, fire, wind... from the test recordings bring their scenes, judged frame by frame."""
    from livevis.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["eval", "--model", "default", "--recordings", str(RECORDINGS), "--json"]) == 0
    rec = json.loads(out.getvalue())["recordings"]
    assert rec["files"] == 24 and rec["seeds"] == 4
    assert rec["accuracy"] >= RECORDINGS_FLOOR, rec
    assert rec["baseline_accuracy"] <= 2 * rec["chance"], rec


@pytest.mark.slow
def test_shipped_upscaler_is_sharper_than_lanczos_on_unseen_frames(tmp_path):
    """Issue 14: the default's x4 upscaler against Lanczos on frames the procedural renderer draws at 4x
    the generator's size from a seed no recipe used (the true frames), from their clean area
    downscales and from generator-like degraded ones. BENCHMARKS.md reports it on the recipe's own
    held-out frames (PSNR 36.77 vs 35.46 dB clean; the judge's Frechet distance too)."""
    from training.stages import upscaler as stage

    bundle = load_bundle("default")
    write_unheard_set(bundle, tmp_path / "hr", 18, val_fraction=0.5, size_scale=4)
    m = stage.evaluate(bundle.upscaler.float().eval(), str(tmp_path / "hr"), 3, stage.DEGRADE, 0, frechet=False)
    assert m["val_frames"] >= 18, m
    assert m["psnr_clean_learned"] > m["psnr_clean_lanczos"] + 0.2, m
    assert m["psnr_degraded_learned"] > m["psnr_degraded_lanczos"] + 0.2, m


# Issue 16 on the shipped default: text -> sound -> picture as `livevis generate` makes it (the learned
# mode's defaults, 30 fps), measured by `livevis eval --generate`'s own code against a reference set of
# another seed than the recipe's (its audio classifier and frame judge learn from that set's training
# split). Measured on the 128 px default (2026-12-02): sound 66.7%, picture 90.7%, sync r 0.72 (the
# 64 px default before it: 100%, 89.1%, 0.74); floors 10 points / 0.1 below.
CLAIMED_GENERATE = {"sound_accuracy": 0.667, "picture_accuracy": 0.907, "sync_r": 0.721}
GENERATE_FPS = 30.0  # `livevis generate`'s default rate


@pytest.fixture(scope="module")
def generate_reference(tmp_path_factory) -> Path:
    """The unheard set the text -> sound -> picture checks measure against: its training split teaches
    the audio classifier and the frame judge (cached in the folder, so the checks share it)."""
    data = tmp_path_factory.mktemp("generate-reference") / "data"
    write_unheard_set(load_bundle("default"), data, 180, val_fraction=0.1)
    return data


@pytest.mark.slow
def test_shipped_default_makes_sounding_video_that_follows_its_text(generate_reference):
    from livevis.eval.generate_sound import evaluate_generate

    bundle = load_bundle("default")
    result = evaluate_generate(bundle, generate_reference, per_class=2, seed=HELD_OUT_SEED, fps=GENERATE_FPS)
    print(json.dumps({k: result[k] for k in ("sound_accuracy", "picture_accuracy", "sync_r", "frame_change")}))
    assert result["clips"] == 18 and result["mode"] == "learned", result
    for key, claimed in CLAIMED_GENERATE.items():
        assert result[key] is not None and result[key] >= claimed - 0.10, (key, result)
    # the picture moves (0.023 per 30 fps frame; a still picture is 0)
    assert result["frame_change"] is not None and result["frame_change"] > 0.01, result


# Issue 16's "done when": `livevis generate --text "heavy rain at night" --out rain.mp4` on the default
# sounds and looks like rain. Every 1 s window of its sound is labelled by the eval's audio classifier,
# every frame by the independent judge (both learn from the reference set's training split only).
RAIN_PROMPT = "heavy rain at night"
RAIN_SEEDS = (0, 1)
# Measured on the 128 px default (2026-12-02), seeds 0 and 1: every window rain, 79.2% of the frames
# (the rest calm); floors 10 points below.
CLAIMED_RAIN = {"sound": 1.0, "picture": 0.792}


@pytest.mark.slow
def test_the_issue_prompt_heavy_rain_at_night_sounds_and_looks_like_rain(generate_reference, tmp_path):
    import numpy as np
    import torch

    from livevis.audio import load_audio
    from livevis.cli import main
    from livevis.eval.generate_sound import fit_audio_classifier, window_features
    from livevis.eval.judge import trained_judge
    from livevis.training.data import ClipDataset
    from tests.rigs.media import decode_video

    bundle = load_bundle("default")
    train = ClipDataset(generate_reference, "train")
    rain = list(train.classes).index("rain")
    audio_clf = fit_audio_classifier(train, bundle.audio, seed=HELD_OUT_SEED)
    judge = trained_judge(train)
    sound_hits, picture_hits = [], []
    for seed in RAIN_SEEDS:
        mp4, wav = tmp_path / f"rain{seed}.mp4", tmp_path / f"rain{seed}.wav"
        with contextlib.redirect_stdout(io.StringIO()):
            # 640x360 rather than the default 1920x1080: the judge sees 64 px frames either way (seeds
            # 0-3 gave the same labels but one frame), and CI's time goes further
            assert main(["generate", "--text", RAIN_PROMPT, "--out", str(mp4), "--audio-out", str(wav),
                         "--seed", str(seed), "--out-size", "640x360"]) == 0
        audio = load_audio(wav, bundle.audio.sample_rate)
        with torch.inference_mode():
            windows = audio_clf.logits(window_features(audio, bundle.audio)).argmax(-1).numpy()   # [W]
        frames = decode_video(mp4)                                                                  # [T, H, W, 3]
        x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1                        # [T, 3, H, W]
        sound_hits.append(windows == rain)
        picture_hits.append(judge.predict(x) == rain)
    sound, picture = float(np.concatenate(sound_hits).mean()), float(np.concatenate(picture_hits).mean())
    print(json.dumps({"sound": sound, "picture": picture}))
    assert sound >= CLAIMED_RAIN["sound"] - 0.10, sound
    assert picture >= CLAIMED_RAIN["picture"] - 0.10, picture
