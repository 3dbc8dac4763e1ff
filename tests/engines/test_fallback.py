"""A backend beyond tolerance is refused with a clear message and the next one is used."""

import pytest
import torch
from torch import nn

import livevis.engines as engines
from livevis.engines.backends import onnxrt
from livevis.errors import LivevisError


class DiffersWhenExported(nn.Module):
    """Computes x * 2 eagerly, but the ONNX graph gets x * 2 + 0.5: a wrong export, caught only by parity."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.onnx.is_in_onnx_export():
            return x * 2 + 0.5
        return x * 2


def test_wrong_export_is_refused_and_the_next_backend_used():
    x = torch.randn(1, 4)
    with pytest.raises(engines.ParityError, match=r"onnxruntime refused for twice: max\|diff\| vs eager 0.5"):
        engines.build(DiffersWhenExported(), (x,), backend="onnxruntime", name="twice")
    lines = []
    e = engines.build_first_passing(DiffersWhenExported(), (x,), ["onnxruntime", "eager"], name="twice",
                                    on_refusal=lines.append)
    assert e.backend == "eager" and torch.equal(e(x), x * 2)
    assert len(lines) == 1 and lines[0].startswith("onnxruntime: onnxruntime refused") and e.refusals == lines


def test_perturbed_backend_is_refused(monkeypatch):
    real_build = onnxrt.build

    def perturbed(*args, **kwargs):
        runner, hit = real_build(*args, **kwargs)
        return (lambda *xs: tuple(t + 2e-3 for t in runner(*xs))), hit

    monkeypatch.setattr(onnxrt, "build", perturbed)
    x = torch.randn(2, 4)
    lin = nn.Linear(4, 4).eval()
    e = engines.build_first_passing(lin, (x,), ["tensorrt", "onnxruntime", "eager"], name="lin",
                                    on_refusal=lambda line: None)
    assert e.backend == "eager" and len(e.refusals) == 2
    assert "torch-tensorrt" in e.refusals[0] and "exceeds the fp32 bound" in e.refusals[1]


def test_all_refused_is_one_line_error():
    with pytest.raises(LivevisError) as info:
        engines.build_first_passing(DiffersWhenExported(), (torch.randn(1, 4),), ["onnxruntime", "nope"],
                                    name="twice", on_refusal=lambda line: None)
    msg = str(info.value)
    assert "\n" not in msg and "no backend could build twice" in msg and "unknown backend 'nope'" in msg


def test_build_failures_become_one_line_build_errors(monkeypatch):
    def exporter_crash(module, inputs, path):  # stands in for an op the exporter has no translation for
        raise RuntimeError("no ONNX translation for op foo\nlong details the user need not see")

    monkeypatch.setattr(onnxrt, "export_onnx", exporter_crash)
    with pytest.raises(engines.BuildError) as info:
        engines.build(nn.Linear(3, 3).eval(), (torch.randn(1, 3),), backend="onnxruntime", name="lin")
    msg = str(info.value)
    assert msg == "onnxruntime could not build lin: RuntimeError: no ONNX translation for op foo"
