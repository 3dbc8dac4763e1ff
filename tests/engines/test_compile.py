"""torch.compile backend (inductor, freezing on CPU): parity, cache, rebuild, tuple outputs, auto over
all CPU backends. Cold compiles take 10-40 s on 2 shared cores, so builds are shared per module."""

import copy
import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch

import livevis.engines as engines
from livevis.engines.errors import EngineCacheWarning
from tests.rigs.engines import LinearGRU, TinyConvNet, seeded

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("compile-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LIVEVIS_CACHE_DIR", str(root))
        yield root / "engines"


@pytest.fixture(scope="module")
def conv():
    return seeded(TinyConvNet()), torch.randn(1, 3, 16, 16)


@pytest.fixture(scope="module")
def first(cache, conv):
    m, x = conv
    return engines.build(m, (x,), backend="compile", name="conv", cache_key="w1")


def test_compiles_and_passes_parity(first, conv, cache):
    m, x = conv
    assert (first.backend, first.from_cache) == ("compile", False) and first.parity < 1e-4
    assert torch.allclose(first(x), m(x), atol=1e-4)
    with torch.enable_grad():
        assert not first(x).requires_grad  # engines always run as inference
    (entry,) = (cache / "compile").iterdir()
    meta = json.loads((entry / "meta.json").read_text())
    assert "inductor_artifacts.bin" in meta["files"]


def test_second_build_hits_the_cache(first, conv):
    m, x = conv
    second = engines.build(copy.deepcopy(m), (x,), backend="compile", name="conv", cache_key="w1")
    assert second.from_cache and second.build_seconds < first.build_seconds
    assert torch.allclose(second(x), first(x), atol=1e-5)


def test_corrupt_entry_is_rebuilt(first, conv, cache):
    m, x = conv
    (entry,) = (cache / "compile").iterdir()
    with open(entry / "meta.json", "r+b") as f:
        f.truncate(5)
    with pytest.warns(EngineCacheWarning, match="rebuilding"):
        again = engines.build(copy.deepcopy(m), (x,), backend="compile", name="conv", cache_key="w1")
    assert not again.from_cache and again.parity < 1e-4
    assert json.loads((entry / "meta.json").read_text())["key"]  # rewritten whole


def test_wrapped_step_with_tuple_output(cache):
    gru = seeded(LinearGRU())
    x, h = torch.randn(1, 16), torch.zeros(1, 16)
    e = engines.build(engines.wrap_method(gru, "step"), (x, h), backend="compile", name="gru")
    y, h1 = e(x, h)
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip((y, h1), gru.step(x, h)))


def test_auto_over_every_cpu_backend(first, conv, cache):
    m, x = conv
    e = engines.select_backend(m, (x,), name="conv", cache_key="w1")
    assert set(e.timings_ms) == {"eager", "compile", "onnxruntime"}
    assert e.backend == min(e.timings_ms, key=e.timings_ms.get)


def test_disk_cache_speeds_up_a_new_process(tmp_path):
    """The real use: build-engines before the show, then the show's process finds the engine cached."""
    script = textwrap.dedent("""
        import json, sys, torch
        sys.path.insert(0, %r)
        import livevis.engines as engines
        from tests.rigs.engines import TinyConvNet, seeded
        e = engines.build(seeded(TinyConvNet()), (torch.randn(1, 3, 16, 16),), backend="compile", name="conv",
                          cache_key="w1")
        print(json.dumps({"from_cache": e.from_cache, "seconds": e.build_seconds}))
    """) % os.getcwd()
    env = {k: v for k, v in os.environ.items() if k != "TORCHINDUCTOR_CACHE_DIR"}
    env.update(LIVEVIS_CACHE_DIR=str(tmp_path), OMP_NUM_THREADS="1")
    runs = []
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=400)
        assert out.returncode == 0, out.stderr[-2000:]
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    assert not runs[0]["from_cache"] and runs[1]["from_cache"]
    assert runs[1]["seconds"] < runs[0]["seconds"] * 0.7, runs
    assert (tmp_path / "engines" / "inductor").is_dir()  # inductor's kernels went into our cache
