"""TensorRT through torch-tensorrt's dynamo path, static shapes.

    torch.export.export(module, inputs)          (export_for_tensorrt: runs, and is tested, on CPU)
    -> torch_tensorrt.dynamo.compile(exported, arg_inputs=..., **settings)
    -> torch_tensorrt.save(..., output_format="exported_program")  into the cache entry
    -> torch.export.load(engine.ep).module()     on later builds

fp16 the torch-tensorrt 2.14 way: `enabled_precisions` is gone from the dynamo path, so we ask for
rule-based autocast (explicit typing + enable_autocast + the low-precision dtype; reductions and
numerically sensitive ops stay fp32 by its rules). If the installed version lacks those settings we
fall back to half weights with an fp32 boundary (CastBoundary), which TensorRT then runs as typed.
torch-tensorrt is the optional extra `livevis[trt]`; it is imported only here, only when asked for.
"""

from __future__ import annotations

import inspect
import io
import logging

import torch
from torch import nn

from livevis.engines.backends.common import LOW_PRECISION, CastBoundary, Entry, flat_runner
from livevis.engines.cache import EntryWriter, read_entry, verified_bytes, warn_rebuild
from livevis.engines.errors import BuildError

log = logging.getLogger(__name__)

ENGINE = "engine.ep"
NEEDS = "tensorrt backend needs torch-tensorrt (pip install 'livevis[trt]') and a CUDA GPU"


def _import_trt():
    try:
        import torch_tensorrt
    except Exception:  # ImportError, or a broken install raising OSError/RuntimeError on load
        return None
    return torch_tensorrt


def unavailable(device: torch.device, precision: str) -> str | None:
    if device.type != "cuda" or not torch.cuda.is_available() or _import_trt() is None:
        return NEEDS
    return None


def export_for_tensorrt(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> torch.export.ExportedProgram:
    """The graph TensorRT gets: one whole ExportedProgram (torch.export has no graph breaks: it either
    captures everything or raises). Runs on any device, so CPU CI checks our modules stay exportable."""
    with torch.no_grad():
        try:
            return torch.export.export(module, tuple(inputs), strict=False)
        except Exception as exc:
            raise BuildError(f"torch.export failed for {type(module).__name__}: "
                             f"{str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}") from exc


def compile_settings(precision: str, parameters: set[str]) -> tuple[dict, bool]:
    """(settings for torch_tensorrt.dynamo.compile, whether the module must be cast to half first).

    `parameters` are the names dynamo.compile accepts in the installed version (they moved between
    releases: autocast_low_precision_type in 2.14, low_precision_type in the design notes)."""
    settings: dict = {"min_block_size": 1, "truncate_double": True, "require_full_compilation": False}
    if "optimization_level" in parameters:
        settings["optimization_level"] = 3
    if precision == "fp32":
        if "use_explicit_typing" in parameters:
            settings["use_explicit_typing"] = True
        return settings, False
    dtype = LOW_PRECISION[precision]
    low_key = next((k for k in ("autocast_low_precision_type", "low_precision_type") if k in parameters), None)
    if "enable_autocast" in parameters and low_key is not None:
        settings["enable_autocast"] = True
        settings[low_key] = dtype
        if "use_explicit_typing" in parameters:
            settings["use_explicit_typing"] = True
        return settings, False
    if "use_explicit_typing" in parameters:
        settings["use_explicit_typing"] = True
    return settings, True


def _compile(module: nn.Module, inputs: tuple[torch.Tensor, ...], precision: str, trt):
    params = set(inspect.signature(trt.dynamo.compile).parameters)
    settings, cast_weights = compile_settings(precision, params)
    target = CastBoundary(module, LOW_PRECISION[precision]) if cast_weights else module
    exported = export_for_tensorrt(target, inputs)
    key = "arg_inputs" if "arg_inputs" in params else "inputs"
    with torch.no_grad():
        return trt.dynamo.compile(exported, **{key: list(inputs)}, **settings)


def build(module: nn.Module, inputs: tuple[torch.Tensor, ...], *, precision: str, name: str,
          device: torch.device, entry: Entry | None):
    trt = _import_trt()
    if trt is None or device.type != "cuda":
        from livevis.engines.errors import BackendUnavailable

        raise BackendUnavailable(NEEDS)
    meta = read_entry(entry.folder, entry.key) if entry is not None else None
    if meta is not None:
        blob = verified_bytes(entry.folder, meta, ENGINE)  # torch.export.load unpickles: checked bytes only
        try:
            loaded = torch.export.load(io.BytesIO(blob)).module()
            return flat_runner(loaded), True
        except Exception as exc:  # engine built for another TensorRT / GPU, or unreadable
            warn_rebuild(entry.folder, f"could not load the TensorRT engine: {exc}")
    compiled = _compile(module, inputs, precision, trt)
    if entry is not None:
        with EntryWriter(entry.folder, entry.key, entry.fields) as w:
            save_key = "arg_inputs" if "arg_inputs" in inspect.signature(trt.save).parameters else "inputs"
            trt.save(compiled, str(w.path(ENGINE)), output_format="exported_program", **{save_key: list(inputs)})
    return flat_runner(compiled), False
