"""Engine cache keys, entries and remembered choices."""

import json

import pytest
import torch

from livevis.engines.cache import (EntryWriter, choice_file, engine_key, entry_dir, read_choice, read_entry,
                                   write_choice)
from livevis.engines.errors import EngineCacheWarning


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LIVEVIS_CACHE_DIR", str(tmp_path / "cache"))


def _key(**over):
    kw = dict(cache_key="w1", name="synthesis", backend="onnxruntime", precision="fp32",
              inputs=(torch.zeros(1, 4, 8),), device=torch.device("cpu"))
    kw.update(over)
    return engine_key(**kw)[0]


def test_key_depends_on_everything_the_artifact_depends_on():
    base = _key()
    assert base == _key()
    others = [_key(cache_key="w2"), _key(name="encoder"), _key(backend="compile"), _key(precision="bf16"),
              _key(inputs=(torch.zeros(1, 4, 9),)), _key(inputs=(torch.zeros(1, 4, 8, dtype=torch.float64),))]
    assert len({base, *others}) == len(others) + 1
    fields = engine_key(cache_key="w", name="n", backend="onnxruntime", precision="fp32",
                        inputs=(torch.zeros(1),), device=torch.device("cpu"))[1]
    assert {"torch", "onnxruntime"} <= set(fields["versions"]) and fields["device"].startswith("cpu ")


def test_entry_round_trip_and_corruption(tmp_path):
    key = _key()
    folder = entry_dir("onnxruntime", "synthesis", key)
    assert read_entry(folder, key) is None  # absent: no warning
    with EntryWriter(folder, key, {"a": 1}) as w:
        w.path("model.bin").write_bytes(b"x" * 1000)
    meta = read_entry(folder, key)
    assert meta["files"].keys() == {"model.bin"} and meta["fields"] == {"a": 1}
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no temporaries left

    with pytest.warns(EngineCacheWarning, match="key or format mismatch"):
        assert read_entry(folder, _key(cache_key="other")) is None
    with open(folder / "model.bin", "r+b") as f:
        f.truncate(10)
    with pytest.warns(EngineCacheWarning, match="checksum"):
        assert read_entry(folder, key) is None
    (folder / "meta.json").write_text("{not json")
    with pytest.warns(EngineCacheWarning):
        assert read_entry(folder, key) is None


def test_failed_write_leaves_no_entry():
    key = _key()
    folder = entry_dir("onnxruntime", "synthesis", key)
    with pytest.raises(RuntimeError):
        with EntryWriter(folder, key, {}) as w:
            w.path("model.bin").write_bytes(b"half")
            raise RuntimeError("exporter crashed")
    assert not folder.exists()


def test_choice_round_trip_and_corruption():
    key = _key(backend="auto")
    path = choice_file("synthesis", key)
    write_choice(path, key, "onnxruntime", {"eager": 2.0, "onnxruntime": 1.0}, ["compile: refused"])
    doc = read_choice(path, key)
    assert doc["backend"] == "onnxruntime" and doc["timings_ms"]["eager"] == 2.0
    path.write_text(json.dumps({"key": "someone else", "backend": "eager"}))
    with pytest.warns(EngineCacheWarning):
        assert read_choice(path, key) is None
    path.write_text("")
    with pytest.warns(EngineCacheWarning):
        assert read_choice(path, key) is None
