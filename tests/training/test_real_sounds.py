"""Real recordings mixed into training windows: the class's recording replaces the window (the
procedural sound at real_mix_db under it), other classes stay as they were, draws are seeded, and
the chain's other settings are drawn exactly as without real sounds."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from livevis.errors import LivevisError
from livevis.training.augment_audio import AudioAugment
from livevis.training.real_sounds import LEVEL_RMS, RealSoundBank

SR = 16000
CLASSES = ["rain", "fire", "calm"]


@pytest.fixture()
def real_dir(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "rain").mkdir()
    sf.write(tmp_path / "rain" / "a.flac", (0.2 * rng.standard_normal(3 * SR)).astype(np.float32), SR)
    (tmp_path / "fire").mkdir()
    t = np.arange(SR // 2) / SR                                      # 0.5 s: shorter than a window, looped
    sf.write(tmp_path / "fire" / "b.wav", (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32), SR)
    return tmp_path


def _tone(n: int) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * 220 * np.arange(n) / SR)).astype(np.float32)


def test_bank_draws_class_excerpts_at_a_fixed_level(real_dir):
    bank = RealSoundBank(real_dir, CLASSES, SR)
    assert bank.count == 2 and set(bank.by_class) == {0, 1}
    rng = np.random.default_rng(1)
    for label in (0, 1):
        y = bank.draw(rng, label, 20000)                             # 1.25 s; the fire file is looped
        assert y.shape == (20000,) and abs(np.sqrt(np.mean(y**2)) - LEVEL_RMS) < 1e-3
    assert bank.draw(rng, 2, 100) is None                            # calm: no recording
    spectrum = np.abs(np.fft.rfft(bank.draw(rng, 1, SR)))
    assert abs(np.argmax(spectrum) - 1000) <= 1                      # it is the fire file's 1 kHz tone


def test_bad_folders_are_one_clear_error(tmp_path, real_dir):
    with pytest.raises(LivevisError, match="no such folder"):
        RealSoundBank(tmp_path / "nope", CLASSES, SR)
    (real_dir / "lava").mkdir()
    with pytest.raises(LivevisError, match="lava"):
        RealSoundBank(real_dir, CLASSES, SR)
    with pytest.raises(LivevisError, match="real_dir"):
        AudioAugment({"real": 0.5}, SR, classes=CLASSES)


def test_real_mixing_replaces_the_window_with_the_class_recording(real_dir):
    aug = AudioAugment({"p": 0.0, "real": 1.0, "real_dir": str(real_dir), "real_mix_db": [-40.0, -40.0]}, SR,
                       classes=CLASSES)
    assert aug.enabled
    x = _tone(SR)
    y = aug.augment(x, np.random.default_rng(3), label=1)
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spectrum) - 1000) <= 1                      # the fire recording dominates
    assert spectrum[220] > 0                                         # the procedural tone is still under it
    assert aug.real_mixed == 1
    np.testing.assert_array_equal(aug.augment(x, np.random.default_rng(3), label=2), x)   # calm: none
    np.testing.assert_array_equal(aug.augment(x, np.random.default_rng(3), label=None), x)
    np.testing.assert_array_equal(aug.augment(x, np.random.default_rng(3), label=1), y)   # seeded


def test_mix_level_follows_real_mix_db(real_dir):
    x = _tone(SR)
    outs = {}
    for db in (-30.0, 0.0):
        aug = AudioAugment({"p": 0.0, "real": 1.0, "real_dir": str(real_dir), "real_mix_db": [db, db]}, SR,
                           classes=CLASSES)
        y = aug.augment(x, np.random.default_rng(5), label=1)           # the 1 kHz recording: nothing at 220 Hz
        outs[db] = abs(np.fft.rfft(y)[220]) / abs(np.fft.rfft(x)[220])
    assert 20 * np.log10(outs[0.0] / outs[-30.0]) == pytest.approx(30.0, abs=0.5)


def test_adding_real_sounds_leaves_the_chains_other_draws_alone(real_dir):
    plain = AudioAugment({"p": 1.0}, SR).plan(np.random.default_rng(7))
    with_real = AudioAugment({"p": 1.0, "real": 0.5, "real_dir": str(real_dir)}, SR, classes=CLASSES).plan(
        np.random.default_rng(7))
    for key, value in plain.items():
        if not key.startswith("real"):
            assert with_real[key] == value, key
