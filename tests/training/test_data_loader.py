"""ClipDataset over damaged data, in DataLoader workers, and its read throughput (benchmark)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from livevis.errors import LivevisError
from livevis.training.data import ClipDataset, write_synthetic


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("syn") / "d"
    write_synthetic(root, 18, size=32, clip_seconds=1.0)
    return root


def test_damaged_or_missing_shard_is_a_user_error(data, tmp_path):
    import shutil

    copy = tmp_path / "d"
    shutil.copytree(data, copy)
    (copy / "shards/00000.frames.npy").write_bytes(b"\x93NUMPY garbage")
    ds = ClipDataset(copy, "all")
    with pytest.raises(LivevisError, match="missing or damaged shard 00000"):
        ds[0]
    (copy / "shards/00000.frames.npy").unlink()
    with pytest.raises(LivevisError, match="missing or damaged shard 00000"):
        ClipDataset(copy, "all")[0]


def test_shard_not_matching_index_is_a_user_error(data, tmp_path):
    import shutil

    copy = tmp_path / "d"
    shutil.copytree(data, copy)
    np.save(copy / "shards/00000.frames.npy", np.zeros((18, 15, 16, 16, 3), np.uint8))
    with pytest.raises(LivevisError, match="does not match its index"):
        ClipDataset(copy, "all")[0]


def test_unknown_split_and_empty_folder(data, tmp_path):
    with pytest.raises(LivevisError, match="unknown split"):
        ClipDataset(data, "test")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LivevisError, match=r"no dataset at .*run `livevis prepare` first"):
        ClipDataset(tmp_path / "empty")


def test_pickles_without_its_memory_maps_and_batches(data):
    ds = ClipDataset(data, "all")
    first = ds[0]
    clone = pickle.loads(pickle.dumps(ds))
    assert clone._shards == {} and torch.equal(clone[0]["frames"], first["frames"])
    loader = torch.utils.data.DataLoader(ds, batch_size=4, collate_fn=lambda items: items)
    batches = list(loader)
    assert sum(len(b) for b in batches) == len(ds)


def test_loader_throughput(data, benchmark):
    """Random access over memory-mapped shards (benchmark: clips/s = 1 / mean)."""
    ds = ClipDataset(data, "all")
    order = np.random.default_rng(0).permutation(len(ds))
    state = {"i": 0}

    def read_one():
        item = ds[int(order[state["i"] % len(ds)])]
        state["i"] += 1
        return item

    item = benchmark(read_one)
    assert item["frames"].shape == (15, 3, 32, 32)
