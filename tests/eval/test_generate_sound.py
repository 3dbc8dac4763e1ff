"""`livevis eval --generate`'s measures (livevis.eval.generate_sound): the audio classifier hears the
classes, Griffin-Lim of real mels keeps them, and the whole measurement runs on a tiny sound bundle."""

from __future__ import annotations

import math

import numpy as np
import pytest

from livevis.errors import LivevisError
from livevis.eval.generate_sound import evaluate_generate, fit_audio_classifier, griffin_lim_of, window_features
from livevis.models.bundle import AudioFrontend, load_bundle
from livevis.training.data import ClipDataset
from tests.commands.test_generate import sound_bundle  # noqa: F401 - fixture
from tests.rigs.tiny_bundle import tiny_bundle  # noqa: F401 - fixture
from tests.rigs.tiny_data import tiny_data  # noqa: F401 - fixture


def test_audio_classifier_hears_held_out_real_and_griffin_lim_audio(tiny_data):
    fe = AudioFrontend()
    train_set, val = ClipDataset(tiny_data, "train"), ClipDataset(tiny_data, "val")
    clf = fit_audio_classifier(train_set, fe)
    f = window_features(val[0]["audio"].numpy(), fe)
    assert f.shape == (2, 2 * fe.n_mels)                       # 1.5 s: windows at 0 and 0.5 s
    real = [clf.predict_clip(window_features(val[i]["audio"].numpy(), fe)) for i in range(len(val))]
    labels = [val[i]["label"] for i in range(len(val))]
    assert np.mean(np.equal(real, labels)) >= 0.5              # chance 1/9
    gl = [clf.predict_clip(window_features(griffin_lim_of(val[i]["audio"].numpy(), fe), fe)) for i in range(len(val))]
    assert np.mean(np.equal(gl, labels)) >= 0.5                # the vocoder keeps the class


def test_the_measurement_runs_and_is_in_range(sound_bundle, tiny_data):
    result = evaluate_generate(load_bundle(sound_bundle), tiny_data, per_class=1, use_judge=False)
    assert result["clips"] == 9 and result["chance"] == pytest.approx(1 / 9)
    for key in ("sound_accuracy", "picture_accuracy", "sound_accuracy_real_griffin_lim"):
        assert 0.0 <= result[key] <= 1.0, key
    assert result["sound_accuracy"] > result["chance"]         # the sound follows the text above chance
    assert result["fad"]["griffin_lim_floor"] < result["fad"]["generated"]
    assert result["sync_r"] is None or -1.0 <= result["sync_r"] <= 1.0
    assert 0.0 < result["frame_change"] < 2.0                  # the picture moves, within the pixel range
    assert math.isfinite(result["clip_tv"]) and result["picture_judge"] == "classifier"


def test_needs_a_text_to_sound_model(tiny_bundle, tiny_data):
    with pytest.raises(LivevisError, match="text-to-sound"):
        evaluate_generate(load_bundle(tiny_bundle), tiny_data)


def test_the_picture_is_driven_as_livevis_generate_drives_it(sound_bundle, tiny_data, monkeypatch):
    """The measured clips use the mode's own live defaults (MODE_DEFAULTS), as the command does; the
    eval once drove them with the react-mode defaults under a learned mode label."""
    import livevis.pipeline.offline as offline
    from livevis.control.catalog import MODE_DEFAULTS

    seen = []
    real_scene_frames = offline.scene_frames

    def spy(modules, audio, *, params, **kw):
        seen.append({k: params[k] for k in ("mode", "seed", "prompt", *MODE_DEFAULTS["learned"])})
        return real_scene_frames(modules, audio, params=params, **kw)

    monkeypatch.setattr(offline, "scene_frames", spy)
    result = evaluate_generate(load_bundle(sound_bundle), tiny_data, per_class=1, use_judge=False, mode="learned")
    assert result["mode"] == "learned" and len(seen) == 9
    for got in seen:
        assert got["mode"] == "learned" and got["prompt"]
        assert {k: got[k] for k in MODE_DEFAULTS["learned"]} == MODE_DEFAULTS["learned"]
    assert len({got["seed"] for got in seen}) == 9
