"""Reusable export checks for model tests (generators import these too).

    assert_exports(module, inputs)              torch.export.export (strict) gives one full graph whose output
                                                matches eager
    assert_onnx_parity(module, inputs, atol)    dynamo ONNX export runs in onnxruntime and matches eager
    CallMethod(module, "step")                  wraps a non-forward entry point as a module's forward
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn


class CallMethod(nn.Module):
    """Expose `module.<method>` as forward, so entry points like RecurrentBlocks.step can be exported."""

    def __init__(self, module: nn.Module, method: str):
        super().__init__()
        self.module = module
        self.method = method

    def forward(self, *args: torch.Tensor) -> Any:
        return getattr(self.module, self.method)(*args)


def _flat(out: Any) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat(o)]
    raise TypeError(f"unsupported output type {type(out).__name__}")


def _as_module(module_or_fn: Any) -> nn.Module:
    if isinstance(module_or_fn, nn.Module):
        return module_or_fn

    class _Fn(nn.Module):
        def forward(self, *args):
            return module_or_fn(*args)

    return _Fn()


def assert_close_all(got: Sequence[Any], want: Sequence[torch.Tensor], atol: float, what: str) -> float:
    assert len(got) == len(want), f"{what}: {len(got)} outputs, eager has {len(want)}"
    worst = 0.0
    for i, (g, w) in enumerate(zip(got, want)):
        g = torch.as_tensor(np.asarray(g)) if not isinstance(g, torch.Tensor) else g
        assert tuple(g.shape) == tuple(w.shape), f"{what} output {i}: shape {tuple(g.shape)} != eager {tuple(w.shape)}"
        diff = (g.double() - w.detach().double()).abs().max().item() if w.numel() else 0.0
        worst = max(worst, diff)
        assert diff <= atol, f"{what} output {i}: max|diff| {diff:.3g} > {atol}"
    return worst


def assert_exports(module_or_fn: Any, inputs: tuple[torch.Tensor, ...], atol: float = 1e-5,
                   strict: bool = True) -> torch.export.ExportedProgram:
    """torch.export.export (fixed shapes) must succeed: a single graph, no fallbacks. strict=True traces
    with TorchDynamo, which fails on anything that would be a graph break. The exported program's
    output must equal eager's. Returns the ExportedProgram."""
    module = _as_module(module_or_fn).eval()
    with torch.no_grad():
        want = _flat(module(*inputs))
        program = torch.export.export(module, tuple(inputs), strict=strict)
        got = _flat(program.module()(*inputs))
    calls = [n for n in program.graph.nodes if n.op == "call_function"]
    assert calls, "exported graph has no ops"
    assert_close_all(got, want, atol, "torch.export")
    return program


def assert_onnx_parity(module_or_fn: Any, inputs: tuple[torch.Tensor, ...], path: str | Path, atol: float = 1e-4,
                       opset: int = 18) -> float:
    """Export with torch.onnx.export(dynamo=True) to `path`, run it in onnxruntime (CPU, 1 thread,
    no spinning) and compare with eager. Returns the worst max|diff|."""
    import onnxruntime as ort

    module = _as_module(module_or_fn).eval()
    path = Path(path)
    with torch.no_grad():
        want = _flat(module(*inputs))
        torch.onnx.export(module, tuple(inputs), str(path), dynamo=True, opset_version=opset,
                          external_data=False, verbose=False)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    assert len(names) == len(inputs), f"ONNX graph has inputs {names}, expected {len(inputs)}"
    feeds = {n: t.detach().cpu().numpy() for n, t in zip(names, inputs)}
    got = session.run(None, feeds)
    return assert_close_all(got, want, atol, "onnxruntime")
