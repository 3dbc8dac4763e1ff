"""ONNX Runtime: torch.onnx.export (dynamo) -> model.onnx in the cache -> InferenceSession.

Thread pools are sized on purpose: the live process runs several sessions next to torch, and ORT's
default spinning pools fight over the cores (generator 23 -> 54-74 ms on 2 cores, ARCHITECTURE.md).
So: no spinning, one inter-op thread, and intra-op threads = torch's thread count (which honours
OMP_NUM_THREADS), overridable with LIVEVIS_ORT_THREADS.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from livevis.engines.backends.common import LOW_PRECISION, CastBoundary, Entry
from livevis.engines.cache import EntryWriter, read_entry, verified_bytes, warn_rebuild

log = logging.getLogger(__name__)

MODEL = "model.onnx"
OPSET = 18  # the dynamo exporter writes 18 anyway as soon as a Pad op appears


def unavailable(device: torch.device, precision: str) -> str | None:
    try:
        import onnxruntime
    except ImportError:
        return "onnxruntime backend needs onnxruntime (pip install onnxruntime)"
    if precision == "bf16":
        return "onnxruntime has no bf16 kernels for these graphs; use fp32 (or eager/compile for bf16)"
    if device.type == "cuda" and "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        return "onnxruntime here has no CUDA provider (pip install onnxruntime-gpu)"
    return None


def intra_op_threads() -> int:
    env = os.environ.get("LIVEVIS_ORT_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, torch.get_num_threads())


def session_options():
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = intra_op_threads()
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    opts.log_severity_level = 3  # errors only: no per-node warnings on the console
    return opts


def export_onnx(module: nn.Module, inputs: tuple[torch.Tensor, ...], path: Path) -> None:
    names_in = [f"input{i}" for i in range(len(inputs))]
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # exporter chatter about opset upgrades and decompositions
        program = torch.onnx.export(module, inputs, dynamo=True, opset_version=OPSET, input_names=names_in,
                                    external_data=False, optimize=True, verbose=False, report=False)
    program.save(str(path), external_data=False)


def _session(model: Path | bytes, device: torch.device):
    import onnxruntime as ort

    providers = ["CPUExecutionProvider"]
    if device.type == "cuda":
        providers = [("CUDAExecutionProvider", {"device_id": device.index or 0}), "CPUExecutionProvider"]
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, sess_options=session_options(), providers=providers)


def _cpu_runner(sess):
    in_names = [i.name for i in sess.get_inputs()]
    out_names = [o.name for o in sess.get_outputs()]

    def run(*xs: torch.Tensor):
        # .numpy() on a contiguous CPU tensor shares its memory; from_numpy shares ORT's output buffer.
        feeds = {n: x.detach().contiguous().numpy() for n, x in zip(in_names, xs)}
        return tuple(torch.from_numpy(o) for o in sess.run(out_names, feeds))

    return run


def _cuda_runner(sess, module: nn.Module, inputs: tuple[torch.Tensor, ...], device: torch.device):
    # IO binding: ORT reads our device pointers and writes straight into preallocated torch tensors.
    in_names = [i.name for i in sess.get_inputs()]
    out_names = [o.name for o in sess.get_outputs()]
    from livevis.engines.engine import as_flat

    with torch.no_grad():
        outs = [torch.empty_like(t) for t in as_flat(module(*inputs))]
    binding = sess.io_binding()
    for n, t in zip(out_names, outs):
        binding.bind_output(n, "cuda", device.index or 0, _np_dtype(t.dtype), tuple(t.shape), t.data_ptr())

    def run(*xs: torch.Tensor):
        xs = [x.contiguous() for x in xs]
        for n, x in zip(in_names, xs):
            binding.bind_input(n, "cuda", device.index or 0, _np_dtype(x.dtype), tuple(x.shape), x.data_ptr())
        torch.cuda.current_stream(device).synchronize()
        sess.run_with_iobinding(binding)
        return tuple(t.clone() for t in outs)  # outs are reused by the next call

    return run


def _np_dtype(dtype: torch.dtype):
    import numpy as np

    return {torch.float32: np.float32, torch.float16: np.float16, torch.int64: np.int64,
            torch.int32: np.int32, torch.bool: np.bool_}[dtype]


def build(module: nn.Module, inputs: tuple[torch.Tensor, ...], *, precision: str, name: str,
          device: torch.device, entry: Entry | None):
    target = module if precision == "fp32" else CastBoundary(module, LOW_PRECISION[precision])
    sess = None
    meta = read_entry(entry.folder, entry.key) if entry is not None else None
    hit = meta is not None
    if hit:
        model = verified_bytes(entry.folder, meta, MODEL)
        try:
            sess = _session(model, device)
        except Exception as exc:  # onnxruntime raises its own exception types for unreadable graphs
            warn_rebuild(entry.folder, f"onnxruntime could not load it: {exc}")
            hit = False
    if sess is None:
        if entry is not None:
            with EntryWriter(entry.folder, entry.key, entry.fields) as w:
                export_onnx(target, inputs, w.path(MODEL))
            sess = _session(entry.folder / MODEL, device)
        else:
            import tempfile

            with tempfile.TemporaryDirectory(prefix="livevis-onnx-") as tmp:
                export_onnx(target, inputs, Path(tmp) / MODEL)
                sess = _session(Path(tmp) / MODEL, device)  # ORT holds the graph in memory
    runner = _cuda_runner(sess, target, inputs, device) if device.type == "cuda" else _cpu_runner(sess)
    return runner, hit
