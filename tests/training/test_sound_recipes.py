"""Procedural sound recipes: deterministic per seed, events on their onset samples, Minnaert bubbles,
and classes recognisable by their structure rather than by one fixed spectrum."""

from __future__ import annotations

import numpy as np
import pytest

from livevis.audio import log_mel
from livevis.training.data.synthetic import CLASSES, render_clip
from livevis.training.data.synthetic import sound as snd
from livevis.training.data.synthetic import sound_recipes as recipes
from livevis.training.data.synthetic.canvas import ClipSpec

SR = 16000
SPEC = ClipSpec(size=16, fps=10, clip_seconds=2.0, sample_rate=SR)
NAMES = list(CLASSES)
ONSETS = [0.5, 1.2]
CONTROL = np.where(np.arange(SPEC.frames) >= 5, 1.0, 0.3).astype(np.float32)   # [T] a surge at frame 5

RECIPES = {
    "thunderstorm": lambda rng: recipes.thunderstorm(rng, SPEC, ONSETS),
    "rain": lambda rng: recipes.rain(rng, SPEC, CONTROL),
    "waterfall": lambda rng: recipes.waterfall(rng, SPEC),
    "fire_crackling": lambda rng: recipes.fire(rng, SPEC, CONTROL, ONSETS),
    "wind": lambda rng: recipes.wind(rng, SPEC, CONTROL),
    "underwater_bubbling": lambda rng: recipes.underwater(rng, SPEC, ONSETS),
    "volcano": lambda rng: recipes.volcano(rng, SPEC, ONSETS),
    "splashing_water": lambda rng: recipes.splashing(rng, SPEC, ONSETS),
    "calm": lambda rng: recipes.calm(rng, SPEC),
}


def test_every_class_has_a_recipe():
    assert set(RECIPES) == set(CLASSES)


@pytest.mark.parametrize("name", list(RECIPES))
def test_recipe_is_deterministic_per_seed(name):
    a = RECIPES[name](np.random.default_rng(7))
    b = RECIPES[name](np.random.default_rng(7))
    c = RECIPES[name](np.random.default_rng(8))
    assert a.dtype == np.float32 and a.shape == (SPEC.samples,)
    assert np.isfinite(a).all() and np.abs(a).max() <= 1.0
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.parametrize("name", ["thunderstorm", "fire_crackling", "underwater_bubbling", "volcano", "splashing_water"])
def test_event_sound_starts_on_its_onset_sample(name):
    """Every event's sound begins at the onset sample: the 20 ms after it carry several times the
    (high-passed) energy of the 20 ms before it (the picture's event lands on the same frame boundary)."""
    w = int(0.02 * SR)
    for seed in range(4):
        a = np.diff(RECIPES[name](np.random.default_rng(seed)).astype(np.float64), prepend=0.0)
        for t0 in ONSETS:
            i = int(round(t0 * SR))
            before, after = np.mean(a[i - w:i] ** 2), np.mean(a[i:i + w] ** 2)
            assert after > 3 * before, f"{name} seed {seed} onset {t0}: {after / before:.1f}x"


def test_bubble_rings_at_its_minnaert_frequency():
    radius = np.array([1.0, 3.0])                                         # mm -> 3260 Hz, 1087 Hz
    grains = snd.bubble_grains(snd.minnaert_hz(radius), SR, 0.05, damping=0.2, rise=0.0)
    for g, r in zip(grains, radius):
        spectrum = np.abs(np.fft.rfft(g, 8 * len(g)))
        peak = np.fft.rfftfreq(8 * len(g), 1 / SR)[np.argmax(spectrum)]
        assert abs(peak - 3260.0 / r) < 0.03 * 3260.0 / r, (r, peak)
    rising = snd.bubble_grains(snd.minnaert_hz(np.array([3.0])), SR, 0.05, damping=0.5, rise=1.0)[0]
    zero_cross = np.nonzero(np.diff(np.signbit(rising)))[0]
    periods = np.diff(zero_cross)
    assert periods[:5].mean() > periods[-5:].mean()                       # pitch rises as the bubble surfaces


def _clips(seed: int, per_class: int) -> tuple[list[np.ndarray], np.ndarray]:
    audio, labels = [], []
    for i in range(per_class * len(NAMES)):
        _, a, rec = render_clip(i, seed=seed, spec=SPEC, classes=NAMES)
        audio.append(a)
        labels.append(NAMES.index(rec.label))
    return audio, np.array(labels)


def band_statistics(audio: np.ndarray) -> np.ndarray:
    """Level-normalised log-mel band statistics: per band, the mean, the spread over time and the
    mean frame-to-frame change [3 * 40]."""
    m = log_mel(audio.astype(np.float32), SR, 512, 256, 40)               # [40, frames] dB
    m = m - m.mean()                                                      # loudness removed
    return np.concatenate([m.mean(1), m.std(1), np.abs(np.diff(m, axis=1)).mean(1)])


def mean_spectrum(audio: np.ndarray) -> np.ndarray:
    m = log_mel(audio.astype(np.float32), SR, 512, 256, 40)
    return (m - m.mean()).mean(1)                                          # [40]


@pytest.fixture(scope="module")
def seeds_apart():
    """Training clips from one dataset seed, test clips from another."""
    return _clips(100, 12), _clips(200, 6)


def test_class_is_recognised_on_other_seeds(seeds_apart):
    """A small classifier on band statistics, trained on other seeds' clips, names the class of
    held-out seeds' clips (measured 0.99 with 20 clips per class for training; chance 0.11)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    (train_audio, train_y), (test_audio, test_y) = seeds_apart
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=2000))
    clf.fit(np.stack([band_statistics(a) for a in train_audio]), train_y)
    accuracy = float((clf.predict(np.stack([band_statistics(a) for a in test_audio])) == test_y).mean())
    print(f"held-out band-statistics accuracy {accuracy:.3f}")
    assert accuracy >= 0.85, accuracy


def test_no_single_spectrum_identifies_a_class(seeds_apart):
    """Per-clip variation is wide: one average spectrum per class (nearest centroid) misnames many
    held-out clips (measured 0.67; the recipes before issue 13 scored 1.0 here)."""
    (train_audio, train_y), (test_audio, test_y) = seeds_apart
    x_train = np.stack([mean_spectrum(a) for a in train_audio])
    x_test = np.stack([mean_spectrum(a) for a in test_audio])
    centroids = np.stack([x_train[train_y == c].mean(0) for c in range(len(NAMES))])
    pred = np.argmin(((x_test[:, None] - centroids[None]) ** 2).sum(-1), axis=1)
    accuracy = float((pred == test_y).mean())
    print(f"mean-spectrum nearest-centroid accuracy {accuracy:.3f}")
    assert accuracy <= 0.85, accuracy
