"""The independent CNN judge: Frechet distance on constructed Gaussians, augmentation, learning from
real frames, the cache, and a constructed leak (poisoned held-out frames change nothing)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
import torch

from livevis.errors import LivevisError
from livevis.eval import classifier as clf
from livevis.eval import judge as J
from livevis.eval import metrics
from livevis.training.data import ClipDataset
from tests.rigs.tiny_data import tiny_data  # noqa: F401 (fixture)

FAST = J.JudgeSettings(steps=120, batch=16)   # tiny data: 32 px, 9 training clips


def test_frechet_distance_of_constructed_gaussians():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 4))
    b = rng.normal(size=(4000, 4))
    assert J.frechet_distance(a, b) == pytest.approx(0.0, abs=0.03)
    # Shifted by 3 along one axis: |mu_a - mu_b|^2 = 9, equal covariances add nothing.
    assert J.frechet_distance(a, b + np.array([3.0, 0, 0, 0])) == pytest.approx(9.0, abs=0.2)
    # Scaled by 2: tr(S_a + S_b - 2 sqrt(S_a S_b)) = 4 * (1 + 4 - 2 * 2) = 4.
    assert J.frechet_distance(a, 2 * b) == pytest.approx(4.0, abs=0.2)
    assert np.isnan(J.frechet_distance(a[:1], b))


def test_augment_keeps_shape_and_range_and_strength_zero_is_identity():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(8, 3, 32, 32) * 2 - 1
    assert torch.equal(J.augment(x, 0.0, g), x)
    y = J.augment(x, 1.0, g)
    assert y.shape == x.shape and y.min() >= -1 and y.max() <= 1
    assert (y - x).abs().mean() > 0.05


def test_the_judge_learns_the_real_classes_and_features_have_the_pooled_width(tiny_data):
    train, val = ClipDataset(tiny_data, "train"), ClipDataset(tiny_data, "val")
    judge = J.trained_judge(train, FAST, cache=False)
    frames, labels = clf.sample_frames(val, 4)
    acc, _ = metrics.accuracy(judge.predict(frames), labels.numpy(), train.classes)
    assert acc >= 0.6, acc                                      # chance is 1/9
    assert judge.features(frames).shape == (frames.shape[0], FAST.widths[-1])
    assert judge.settings.size == 32                            # judged at the data's own size


def test_the_judge_is_cached_beside_the_data_and_reloaded(tiny_data, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    train = ClipDataset(data, "train")
    first = J.trained_judge(train, FAST)
    files = sorted(p.name for p in (data / J.CACHE_FOLDER).iterdir())
    assert files == [f"{first.key}.json", f"{first.key}.safetensors"]
    again = J.trained_judge(ClipDataset(data, "train"), FAST)
    assert again.from_cache and not first.from_cache and again.key == first.key
    frames, _ = clf.sample_frames(train, 2)
    torch.testing.assert_close(again.logits(frames), first.logits(frames))
    # Other settings are another judge.
    assert J.dataset_key(train, replace(FAST, steps=121)) != first.key


def _poison(data, split: str) -> int:
    """Overwrite every frame of `split`'s clips in the shards with noise; returns the clips touched."""
    index = json.loads((data / "index.json").read_text())
    rng = np.random.default_rng(1)
    touched = 0
    for rec in index["clips"]:
        if rec["split"] != split:
            continue
        path = data / "shards" / f"{rec['shard']}.frames.npy"
        arr = np.load(path, mmap_mode="r+")
        arr[rec["row"]] = rng.integers(0, 256, size=arr[rec["row"]].shape, dtype=np.uint8)
        arr.flush()
        touched += 1
    return touched


def test_constructed_leak_poisoned_held_out_frames_change_nothing(tiny_data, tmp_path):
    """The judge reads the train split only: noise written over every held-out frame leaves its cache
    key and its weights bit-identical, while poisoning one training clip changes both."""
    clean = J.trained_judge(ClipDataset(tiny_data, "train"), FAST, cache=False)
    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    assert _poison(data, "val") == len(ClipDataset(data, "val"))
    poisoned_val = J.trained_judge(ClipDataset(data, "train"), FAST, cache=False)
    assert poisoned_val.key == clean.key
    for (name, a), b in zip(clean.net.state_dict().items(), poisoned_val.net.state_dict().values()):
        assert torch.equal(a, b), name
    _poison(data, "train")
    poisoned_train = J.trained_judge(ClipDataset(data, "train"), FAST, cache=False)
    assert poisoned_train.key != clean.key
    assert not torch.equal(poisoned_train.net.head.weight, clean.net.head.weight)


def test_the_judge_refuses_held_out_frames(tiny_data):
    with pytest.raises(LivevisError, match="train split only"):
        J.sample_train_frames(ClipDataset(tiny_data, "val"), 2)
