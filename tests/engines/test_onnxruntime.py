"""ONNX Runtime backend: parity, cache hits, rebuilds, tuple outputs, method wrapping, thread settings."""

import copy
import time

import pytest
import torch

import livevis.engines as engines
from livevis.engines.backends import onnxrt
from livevis.engines.errors import BackendUnavailable, EngineCacheWarning
from tests.rigs.engines import LinearGRU, TinyConvNet, TwoHeads, seeded


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LIVEVIS_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "engines" / "onnxruntime"


def test_builds_passes_parity_then_hits_cache_and_rebuilds_on_new_weights(own_cache):
    m, x = seeded(TinyConvNet()), torch.randn(1, 3, 16, 16)
    first = engines.build(m, (x,), backend="onnxruntime", name="conv", cache_key="weights-1")
    assert (first.backend, first.precision, first.from_cache) == ("onnxruntime", "fp32", False)
    assert first.parity < 1e-4 and torch.allclose(first(x), m(x), atol=1e-4)
    (entry,) = own_cache.iterdir()
    assert (entry / "model.onnx").stat().st_size > 0 and (entry / "meta.json").exists()

    # A fresh copy of the module: only the disk cache can make this fast.
    t0 = time.perf_counter()
    second = engines.build(copy.deepcopy(m), (x,), backend="onnxruntime", name="conv", cache_key="weights-1")
    assert second.from_cache and time.perf_counter() - t0 < first.build_seconds
    assert second.build_seconds < first.build_seconds / 2
    assert torch.equal(second(x), first(x))

    # New weights -> new key -> a rebuild that sees the new weights.
    m2 = seeded(TinyConvNet(), seed=1)
    third = engines.build(m2, (x,), backend="onnxruntime", name="conv", cache_key="weights-2")
    assert not third.from_cache and len(list(own_cache.iterdir())) == 2
    assert torch.allclose(third(x), m2(x), atol=1e-4) and not torch.allclose(third(x), first(x), atol=1e-2)


def test_truncated_model_is_rebuilt_with_a_warning(own_cache):
    m, x = seeded(TinyConvNet()), torch.randn(1, 3, 8, 8)
    engines.build(m, (x,), backend="onnxruntime", name="conv", cache_key="k")
    (entry,) = own_cache.iterdir()
    with open(entry / "model.onnx", "r+b") as f:
        f.truncate(100)
    with pytest.warns(EngineCacheWarning, match="rebuilding"):
        again = engines.build(m, (x,), backend="onnxruntime", name="conv", cache_key="k")
    assert not again.from_cache and again.parity < 1e-4
    assert engines.build(m, (x,), backend="onnxruntime", name="conv", cache_key="k").from_cache


def test_tuple_outputs_and_wrapped_methods(own_cache):
    heads = seeded(TwoHeads())
    mel = torch.randn(2, 8, 12)
    e = engines.build(heads, (mel,), backend="onnxruntime", name="heads")
    emb, off = e(mel)
    assert emb.shape == (2, 6) and off.shape == (2, 4, 5) and isinstance(e(mel), tuple)

    gru = seeded(LinearGRU())
    step = engines.wrap_method(gru, "step")
    x, h = torch.randn(1, 16), torch.zeros(1, 16)
    e = engines.build(step, (x, h), backend="onnxruntime", name="gru")
    y, h1 = e(x, h)
    y_ref, h1_ref = gru.step(x, h)
    assert torch.allclose(y, y_ref, atol=1e-5) and torch.allclose(h1, h1_ref, atol=1e-5)
    with pytest.raises(AssertionError, match="built shapes"):  # static shapes: a new batch size is a bug
        e(torch.randn(2, 16), torch.zeros(2, 16))
    assert not own_cache.exists() or not any(own_cache.iterdir())  # cache_key=None: nothing stored


def test_session_settings_do_not_spin(monkeypatch):
    monkeypatch.setenv("LIVEVIS_ORT_THREADS", "3")
    opts = onnxrt.session_options()
    assert opts.intra_op_num_threads == 3 and opts.inter_op_num_threads == 1
    assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    monkeypatch.delenv("LIVEVIS_ORT_THREADS")
    assert onnxrt.session_options().intra_op_num_threads == torch.get_num_threads()


def test_precisions_on_cpu():
    m, x = seeded(TinyConvNet()), torch.randn(1, 3, 8, 8)
    with pytest.raises(BackendUnavailable, match="fp16 needs a CUDA GPU"):
        engines.build(m, (x,), backend="onnxruntime", precision="fp16", name="conv")
    with pytest.raises(BackendUnavailable, match="bf16"):
        engines.build(m, (x,), backend="onnxruntime", precision="bf16", name="conv")
    e = engines.build(m, (x,), backend="eager", precision="bf16", name="conv")
    assert e(x).dtype == torch.float32 and 0 < e.parity < engines.TOLERANCE["bf16"]
