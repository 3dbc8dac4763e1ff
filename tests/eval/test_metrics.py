"""`livevis eval`'s measures on constructed cases: a perfect generator (the dataset's own footage,
or frames whose change is the onset envelope) scores ~1, a random one ~chance / ~0."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from livevis.eval import classifier as clf
from livevis.eval import metrics
from livevis.eval.report import pick_clips
from tests.rigs.tiny_data import tiny_data  # noqa: F401 (fixture)

SR, STEP = 16000, 1600  # 10 steps per second, as the bundles' default front end


def _clicks(times: list[float], seconds: float = 1.5, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    audio = rng.normal(0, 1e-3, int(SR * seconds)).astype(np.float32)  # faint noise floor
    for t in times:
        s = int(t * SR)
        audio[s:s + 400] += rng.normal(0, 0.5, 400).astype(np.float32) * np.exp(-np.arange(400) / 80)
    return audio


def test_onset_strength_peaks_in_the_step_of_each_click_and_is_causal():
    audio = _clicks([0.35, 0.95])
    env, ends = metrics.onset_envelope(audio, SR)
    steps = metrics.strength_per_step(env, ends, STEP, 14)
    top2 = sorted(np.argsort(steps)[-2:].tolist())
    assert top2 == [3, 9]                        # (0.3, 0.4] and (0.9, 1.0]
    assert steps[3] > 3 * np.median(steps) and steps[9] > 3 * np.median(steps)
    # Causal: a click at 0.95 s changes nothing in the steps that end before it.
    only_first = metrics.strength_per_step(*metrics.onset_envelope(_clicks([0.35]), SR), STEP, 14)
    np.testing.assert_allclose(only_first[:9], steps[:9], rtol=0, atol=1e-6)
    assert metrics.onset_envelope(np.zeros(500, np.float32), SR)[0].size == 0  # shorter than one frame


def test_pearson_and_sync_on_constructed_series():
    x = np.arange(10.0)
    assert metrics.pearson(x, 2 * x + 1) == pytest.approx(1.0)
    assert metrics.pearson(x, -x) == pytest.approx(-1.0)
    assert math.isnan(metrics.pearson(x, np.ones(10)))                          # constant: undefined
    assert math.isnan(metrics.mean_ignoring_nan([math.nan]))
    assert metrics.mean_ignoring_nan([0.5, math.nan, 1.0]) == 0.75


def test_sync_is_one_for_frames_that_change_with_the_onsets_and_near_zero_for_random_frames():
    rng = np.random.default_rng(1)
    perfect, random = [], []
    for clip in range(24):
        audio = _clicks(sorted(rng.uniform(0.15, 1.3, 2).tolist()), seed=clip)
        strength = metrics.strength_per_step(*metrics.onset_envelope(audio, SR), STEP, 14)   # [14]
        # Perfect: each frame brightens by exactly that step's onset strength.
        frames = torch.from_numpy(np.cumsum(strength))[:, None, None, None].expand(14, 3, 4, 4) * 0.01
        perfect.append(metrics.clip_sync(metrics.frame_change(frames), strength))
        noise = torch.from_numpy(rng.uniform(-1, 1, (14, 3, 8, 8)))
        random.append(metrics.clip_sync(metrics.frame_change(noise), strength))
    assert metrics.mean_ignoring_nan(perfect) == pytest.approx(1.0, abs=1e-6)
    assert abs(metrics.mean_ignoring_nan(random)) < 0.15


def test_accuracy_per_class():
    acc, per = metrics.accuracy([0, 0, 1, 2], [0, 1, 1, 2], ["a", "b", "c", "d"])
    assert acc == 0.75 and per == {"a": 1.0, "b": 0.5, "c": 1.0}


def test_pick_clips_is_balanced_over_classes():
    assert pick_clips([0, 0, 0, 1, 1, 2], 4) == [0, 3, 5, 1]
    assert sorted(pick_clips([0, 0, 1], None)) == [0, 1, 2]


def _frame_at(sample: int, fps: int, sr: int, n: int) -> int:
    return min(n - 1, (sample - 1) * fps // sr)


def test_real_footage_is_a_perfect_generator_and_shuffled_footage_a_random_one(tiny_data):
    """The synthetic set's own frames follow their sound: as 'generated' video they score accuracy 1
    and a clearly positive sync; the same frames paired with other clips' labels and sound score
    about chance and about zero."""
    from livevis.training.data import ClipDataset

    train, val = ClipDataset(tiny_data, "train"), ClipDataset(tiny_data, "val")
    frames, labels = clf.sample_frames(train, 8)
    classifier = clf.fit(frames, labels, train.classes)
    items = [val[i] for i in range(len(val))]
    steps = val.samples_per_clip // STEP - 1
    videos = []
    for item in items:   # the frame on screen at the end of each step, as eval samples generated frames
        k = [_frame_at((t + 1) * STEP, val.fps, SR, item["frames"].shape[0]) for t in range(steps)]
        videos.append(item["frames"][k].float() / 127.5 - 1)                    # [T, 3, H, W]
    strengths = [metrics.strength_per_step(*metrics.onset_envelope(it["audio"].numpy(), SR), STEP, steps) for it in items]

    def score(order: list[int]) -> tuple[float, float]:
        preds = np.concatenate([classifier.predict(videos[j]) for j in order])
        labs = np.concatenate([np.full(steps, it["label"]) for it in items])
        acc, _ = metrics.accuracy(preds, labs, val.classes)
        sync = metrics.mean_ignoring_nan([metrics.clip_sync(metrics.frame_change(videos[j]), s) for j, s in zip(order, strengths)])
        return acc, sync

    acc, sync = score(list(range(len(items))))
    assert acc >= 0.9 and sync >= 0.4, (acc, sync)
    shifted = [(i + 1) % len(items) for i in range(len(items))]   # every clip shown another class's footage
    acc_r, sync_r = score(shifted)
    assert acc_r <= 0.2 and sync_r < sync - 0.3, (acc_r, sync_r)
