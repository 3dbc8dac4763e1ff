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


def _engines_root():
    from livevis.paths import cache_dir

    return cache_dir() / "engines"


def test_cache_folders_are_created_private():
    import stat

    folder = entry_dir("onnxruntime", "synthesis", _key())
    for path in (_engines_root(), folder.parent):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
    with EntryWriter(folder, _key(), {}) as w:
        w.path("model.bin").write_bytes(b"x")
    assert stat.S_IMODE(folder.stat().st_mode) & 0o077 == 0


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o702])
def test_writable_cache_folder_is_refused(mode):
    from livevis.engines.errors import UnsafeCacheError

    entry_dir("onnxruntime", "synthesis", _key())
    for folder in (_engines_root(), _engines_root() / "onnxruntime"):
        folder.chmod(mode)
        with pytest.raises(UnsafeCacheError, match=rf"engine cache .*{folder.name} is writable by others \(mode {mode:o}\)"):
            entry_dir("onnxruntime", "synthesis", _key())
        if folder == _engines_root():
            with pytest.raises(UnsafeCacheError, match="writable by others"):
                choice_file("synthesis", _key())
        folder.chmod(0o700)


def test_cache_folder_owned_by_someone_else_is_refused():
    import os

    from livevis.engines.errors import UnsafeCacheError

    if os.geteuid() != 0:
        pytest.skip("needs root to give a folder to another uid")
    root = _engines_root()
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chown(root, 4242, -1)
    with pytest.raises(UnsafeCacheError, match=r"owned by uid 4242, not you \(uid 0\)"):
        entry_dir("tensorrt", "synthesis", _key())


def test_readable_cache_folder_of_ours_is_tightened():
    import stat

    root = _engines_root()
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)  # what older versions created
    entry_dir("onnxruntime", "synthesis", _key())
    assert stat.S_IMODE(root.stat().st_mode) == 0o700


def test_verified_bytes_refuses_an_artefact_swapped_after_the_check():
    from livevis.engines.cache import verified_bytes
    from livevis.engines.errors import UnsafeCacheError

    key = _key()
    folder = entry_dir("tensorrt", "synthesis", key)
    with EntryWriter(folder, key, {}) as w:
        w.path("engine.ep").write_bytes(b"engine")
    meta = read_entry(folder, key)
    assert verified_bytes(folder, meta, "engine.ep") == b"engine"
    (folder / "engine.ep").write_bytes(b"evil!!")  # after read_entry, before the deserialiser
    with pytest.raises(UnsafeCacheError, match="engine.ep changed after it was checked"):
        verified_bytes(folder, meta, "engine.ep")
