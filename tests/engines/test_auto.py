"""--backend auto: measure the candidates, pick the fastest that passes parity, remember the choice."""

import pytest
import torch
from torch import nn

import livevis.engines as engines
from livevis.engines import auto
from livevis.engines.errors import EngineCacheWarning
from tests.rigs.engines import TinyConvNet, seeded


class WrongWhenExported(nn.Module):
    """Fast to export, wrong in ONNX: auto must never pick onnxruntime for it."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x):
        y = self.conv(x)
        return y + 1.0 if torch.onnx.is_in_onnx_export() else y


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LIVEVIS_CACHE_DIR", str(tmp_path))
    return tmp_path / "engines" / "choices"


def test_picks_fastest_and_remembers(own_cache, monkeypatch):
    m, x = seeded(TinyConvNet()), torch.randn(1, 3, 16, 16)
    e = engines.select_backend(m, (x,), name="conv", cache_key="w", candidates=["eager", "onnxruntime"])
    assert set(e.timings_ms) == {"eager", "onnxruntime"} and all(v > 0 for v in e.timings_ms.values())
    assert e.backend == min(e.timings_ms, key=e.timings_ms.get)
    assert torch.allclose(e(x), m(x), atol=1e-4)
    (choice,) = own_cache.iterdir()

    def no_measuring(*a, **k):
        raise AssertionError("a remembered choice must not be measured again")

    monkeypatch.setattr(auto, "measure_ms", no_measuring)
    again = engines.select_backend(m, (x,), name="conv", cache_key="w", candidates=["eager", "onnxruntime"])
    assert again.backend == e.backend and again.timings_ms == pytest.approx(e.timings_ms)
    assert again.from_cache or again.backend == "eager"

    # other weights: a new measurement
    monkeypatch.undo()
    assert engines.select_backend(m, (x,), name="conv", cache_key="w", candidates=["eager", "onnxruntime"],
                                  remeasure=True).timings_ms != e.timings_ms  # measured afresh
    monkeypatch.setenv("LIVEVIS_CACHE_DIR", str(own_cache.parent.parent))
    engines.select_backend(seeded(TinyConvNet(), 1), (x,), name="conv", cache_key="w2",
                           candidates=["eager", "onnxruntime"])
    assert len(list(own_cache.iterdir())) == 2

    choice.write_text("{broken")
    with pytest.warns(EngineCacheWarning):
        third = engines.select_backend(m, (x,), name="conv", cache_key="w", candidates=["eager", "onnxruntime"])
    assert set(third.timings_ms) == {"eager", "onnxruntime"}


def test_never_picks_a_backend_that_fails_parity(own_cache):
    m = WrongWhenExported().eval()
    x = torch.randn(1, 3, 8, 8)
    lines = []
    e = engines.select_backend(m, (x,), name="wrong", cache_key="w", candidates=["onnxruntime", "eager"],
                               on_refusal=lines.append)
    assert e.backend == "eager" and len(lines) == 1 and "onnxruntime refused for wrong" in lines[0]
    assert e.refusals == lines


def test_without_cache_key_nothing_is_stored(own_cache):
    m, x = seeded(TinyConvNet()), torch.randn(1, 3, 8, 8)
    e = engines.select_backend(m, (x,), name="conv", cache_key=None, candidates=["eager"])
    assert e.backend == "eager" and not own_cache.exists()
