"""The shipped default on sound it never heard: a fresh synthetic set (another seed than its
training set), measured by `livevis eval`'s own code against the random-walk baseline."""

from __future__ import annotations

import pytest

from livevis.eval.report import evaluate
from livevis.models.bundle import load_bundle
from livevis.training.data.synthetic.generate import write_synthetic

HELD_OUT_SEED = 12345   # the recipe trains on seed 0


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
    assert result["semantic_accuracy"] >= base["semantic_accuracy"] + 0.2, result
    assert result["semantic_accuracy"] >= 3 * result["chance"], result
    assert result["sync_r"] > base["sync_r"] + 0.1, result
