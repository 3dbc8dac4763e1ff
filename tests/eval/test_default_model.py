"""The shipped default on sound it never heard: a fresh synthetic set (another seed than its
training set), measured by `livevis eval`'s own code against the random-walk baseline."""

from __future__ import annotations

import pytest

from livevis.eval.report import evaluate
from livevis.models.bundle import load_bundle
from livevis.training.data.synthetic.generate import write_synthetic

HELD_OUT_SEED = 12345   # the recipe trains on seed 0
# What README.md claims for this very set. The shipped default was trained on the first procedural
# sounds; this set is made with the physically informed recipes that replaced them (issue 13), which
# it never heard: 50.9% vs 11.7% for the walk, sync r 0.59 (was 76.6% / 0.65 on the old sounds). The
# floors sit 10 points / 0.1 below the claim, so a real regression fails here. When the default model
# is retrained, or the synthetic generator changes (which changes this set), measure again and move
# the claim in README.md and these numbers together.
CLAIMED_ACCURACY, CLAIMED_SYNC_R = 0.509, 0.59
ACCURACY_FLOOR, SYNC_R_FLOOR = CLAIMED_ACCURACY - 0.10, CLAIMED_SYNC_R - 0.10


@pytest.mark.slow
def test_shipped_default_beats_the_random_walk_on_unheard_clips(tmp_path):
    bundle = load_bundle("default")
    knobs = bundle.config["provenance"]["knobs"]
    # 36 clips: the 2nd clip of each class is held out (9 measured), the other 27 teach the classifier.
    write_synthetic(tmp_path / "data", 36, seed=HELD_OUT_SEED, size=int(knobs["SIZE"]), fps=int(knobs["FPS"]),
                    clip_seconds=float(knobs["CLIP_SECONDS"]), sample_rate=bundle.audio.sample_rate, val_fraction=0.1)
    result = evaluate(bundle, tmp_path / "data", clips=9, seed=0)
    base = result["baseline"]
    assert result["clips"] == 9 and result["classifier_real_accuracy"] >= 0.9, result
    assert result["semantic_accuracy"] >= ACCURACY_FLOOR, result
    assert result["sync_r"] is not None and result["sync_r"] >= SYNC_R_FLOOR, result
    # The random walk on the same generator stays near chance and unsynced: the figures come from the sound.
    assert base["semantic_accuracy"] <= 2 * result["chance"], result
    assert base["sync_r"] is None or abs(base["sync_r"]) < 0.2, result
