"""A cached engine that fails its first run is evicted and rebuilt once; a tampered entry is never loaded."""

from __future__ import annotations

import types

import pytest
import torch
from torch import nn

import importlib
from livevis.engines.backends.common import flat_runner
from livevis.engines.build import build, build_first_passing
from livevis.engines.cache import EntryWriter, read_entry, verified_bytes
from livevis.engines.errors import BuildError, EngineCacheWarning, UnsafeCacheError

build_mod = importlib.import_module("livevis.engines.build")  # the package re-exports a function named build


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LIVEVIS_CACHE_DIR", str(tmp_path / "cache"))


class FakeBackend:
    """Caches a marker file; a cached entry whose marker says 'broken' loads but raises on its first run."""

    def __init__(self, fresh_ok: bool = True):
        self.fresh_builds = self.cache_loads = 0
        self.fresh_ok = fresh_ok

    def unavailable(self, device, precision):
        return None

    def build(self, module, inputs, *, precision, name, device, entry):
        if entry is None:  # caching off
            return flat_runner(module), False
        meta = read_entry(entry.folder, entry.key)
        if meta is not None:
            self.cache_loads += 1
            state = verified_bytes(entry.folder, meta, "engine.bin")
            if state == b"broken":
                def fail(*xs):
                    raise RuntimeError("engine plan is for another driver")
                return fail, True
            return flat_runner(module), True
        self.fresh_builds += 1
        with EntryWriter(entry.folder, entry.key, entry.fields) as w:
            w.path("engine.bin").write_bytes(b"good" if self.fresh_ok else b"broken")
        if not self.fresh_ok:
            def fail_fresh(*xs):
                raise RuntimeError("fresh engine fails too")
            return fail_fresh, False
        return flat_runner(module), False


@pytest.fixture
def fake(monkeypatch):
    backend = FakeBackend()
    monkeypatch.setattr(build_mod, "backend_module", lambda name: backend)
    monkeypatch.setattr(build_mod, "BACKENDS", {"fake": "fake"}, raising=False)
    monkeypatch.setattr(build_mod, "unavailable_reason", lambda b, d, p: None)
    return backend


def _args():
    torch.manual_seed(0)
    return nn.Linear(4, 3).eval(), (torch.randn(2, 4),)


def _entry_file(engine):
    from pathlib import Path

    return Path(engine.artifact) / "engine.bin"


def test_entry_failing_its_first_run_is_evicted_and_rebuilt_once(fake):
    module, inputs = _args()
    first = build(module, inputs, backend="fake", name="lin", cache_key="w")
    assert (fake.fresh_builds, fake.cache_loads, first.from_cache) == (1, 0, False)
    assert build(module, inputs, backend="fake", name="lin", cache_key="w").from_cache
    _entry_file(first).write_bytes(b"broken")  # keep the checksum valid: the entry loads, then fails to run
    meta_path = _entry_file(first).parent / "meta.json"
    import hashlib
    import json

    meta = json.loads(meta_path.read_text())
    meta["files"]["engine.bin"] = hashlib.sha256(b"broken").hexdigest()
    meta_path.write_text(json.dumps(meta))
    with pytest.warns(EngineCacheWarning, match="its first run failed: fake engine for lin failed to run"):
        engine = build(module, inputs, backend="fake", name="lin", cache_key="w")
    assert not engine.from_cache and fake.fresh_builds == 2
    assert _entry_file(engine).read_bytes() == b"good"  # the rebuilt entry replaced the broken one
    assert build(module, inputs, backend="fake", name="lin", cache_key="w").from_cache


def test_rebuild_happens_only_once(fake):
    module, inputs = _args()
    fake.fresh_ok = False
    with pytest.raises(BuildError, match="fresh engine fails too"):
        build(module, inputs, backend="fake", name="lin", cache_key="w")  # fresh build fails: no retry
    assert fake.fresh_builds == 1
    with pytest.warns(EngineCacheWarning, match="first run failed"):
        with pytest.raises(BuildError, match="fresh engine fails too"):
            build(module, inputs, backend="fake", name="lin", cache_key="w")  # cached broken -> rebuilt once -> fails
    assert (fake.cache_loads, fake.fresh_builds) == (1, 2)


def test_tampered_entry_is_rebuilt_not_loaded(fake):
    module, inputs = _args()
    engine = build(module, inputs, backend="fake", name="lin", cache_key="w")
    _entry_file(engine).write_bytes(b"broken")  # checksum no longer matches
    with pytest.warns(EngineCacheWarning, match="engine.bin does not match its checksum"):
        again = build(module, inputs, backend="fake", name="lin", cache_key="w")
    assert not again.from_cache and fake.cache_loads == 0 and fake.fresh_builds == 2


def test_unsafe_cache_stops_the_fallback_chain(fake):
    from livevis.paths import cache_dir

    module, inputs = _args()
    build(module, inputs, backend="fake", name="lin", cache_key="w")
    (cache_dir() / "engines").chmod(0o777)
    refusals = []
    with pytest.raises(UnsafeCacheError, match="writable by others"):
        build_first_passing(module, inputs, ["fake", "fake"], name="lin", cache_key="w", on_refusal=refusals.append)
    assert refusals == []
    assert build_first_passing(module, inputs, ["fake"], name="lin", cache_key=None).backend == "fake"  # no cache
