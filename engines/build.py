"""build(): one module, one backend -> an Engine that passed the parity gate. build_first_passing():
the first backend of a list that builds and passes."""

from __future__ import annotations

import logging
import time
from typing import Callable, Sequence

import torch
from torch import nn

from livevis.engines.backends import BACKENDS, backend_module
from livevis.engines.backends.common import Entry
from livevis.engines.cache import engine_key, entry_dir, evict, warn_rebuild
from livevis.engines.engine import Engine
from livevis.engines.errors import BackendUnavailable, BuildError, UnsafeCacheError, first_line
from livevis.engines.parity import PRECISIONS, check_parity
from livevis.errors import LivevisError

log = logging.getLogger(__name__)


def inputs_device(inputs: Sequence[torch.Tensor]) -> torch.device:
    assert len(inputs) > 0 and all(isinstance(x, torch.Tensor) for x in inputs), "example_inputs: a tuple of tensors"
    devices = {x.device for x in inputs}
    assert len(devices) == 1, f"all example inputs must be on one device, got {sorted(map(str, devices))}"
    return next(iter(devices))


def unavailable_reason(backend: str, device: torch.device, precision: str) -> str | None:
    """Why `backend` cannot build at `precision` on `device` here, or None if it can."""
    if backend not in BACKENDS:
        return f"unknown backend {backend!r} (known: {', '.join(BACKENDS)})"
    if precision not in PRECISIONS:
        return f"unknown precision {precision!r} (known: {', '.join(PRECISIONS)})"
    if precision == "fp16" and device.type != "cuda":
        return "fp16 needs a CUDA GPU; on CPU use bf16 (eager/compile) or fp32"
    return backend_module(backend).unavailable(device, precision)


def available_backends(device: torch.device | str = "cpu", precision: str = "fp32") -> list[str]:
    """Backends that can build here, in registry order (tensorrt only with CUDA + torch_tensorrt)."""
    device = torch.device(device)
    return [b for b in BACKENDS if unavailable_reason(b, device, precision) is None]


def build(module: nn.Module, example_inputs: tuple[torch.Tensor, ...], *, backend: str, precision: str = "fp32",
          name: str, cache_key: str | None = None) -> Engine:
    """Build `module` with `backend`, check it against eager, and return the Engine.

    `cache_key` names the weights (e.g. bundle sha256 + module name); None disables caching. Raises
    BackendUnavailable, BuildError or ParityError (all LivevisError, one line each).
    """
    example_inputs = tuple(example_inputs)
    device = inputs_device(example_inputs)
    reason = unavailable_reason(backend, device, precision)
    if reason is not None:
        raise BackendUnavailable(reason)
    with torch.no_grad():
        tuple_output = isinstance(module(*example_inputs), (tuple, list))
    entry = None
    if cache_key is not None:
        key, fields = engine_key(cache_key=cache_key, name=name, backend=backend, precision=precision,
                                 inputs=example_inputs, device=device)
        entry = Entry(entry_dir(backend, name, key), key, fields)
    log.info("building %s with %s/%s", name, backend, precision)
    t0 = time.perf_counter()
    runner, from_cache = _backend_build(module, example_inputs, backend, precision, name, device, entry)
    seconds = time.perf_counter() - t0
    try:
        parity = _first_run(runner, module, example_inputs, backend, precision, name)
    except LivevisError as exc:
        if not from_cache or isinstance(exc, UnsafeCacheError):
            raise
        # A cached engine that loads but fails (a driver update, a damaged plan): evict it and build once
        # more from the module, so it does not fail again on every start.
        warn_rebuild(entry.folder, f"its first run failed: {exc}")
        evict(entry.folder)
        t0 = time.perf_counter()
        runner, from_cache = _backend_build(module, example_inputs, backend, precision, name, device, entry)
        seconds = time.perf_counter() - t0
        parity = _first_run(runner, module, example_inputs, backend, precision, name)
    return Engine(runner=runner, backend=backend, precision=precision, name=name, build_seconds=seconds,
                  from_cache=from_cache, parity=parity, tuple_output=tuple_output, device=str(device),
                  input_shapes=tuple(tuple(x.shape) for x in example_inputs),
                  artifact=str(entry.folder) if entry is not None and backend != "eager" else None)


def _backend_build(module: nn.Module, example_inputs: tuple[torch.Tensor, ...], backend: str, precision: str,
                   name: str, device: torch.device, entry: Entry | None):
    try:
        return backend_module(backend).build(module, example_inputs, precision=precision, name=name,
                                             device=device, entry=entry)
    except LivevisError:
        raise
    except Exception as exc:  # exporters/compilers raise many types; the traceback goes to the debug log
        log.debug("%s build of %s failed", backend, name, exc_info=True)
        raise BuildError(f"{backend} could not build {name}: {first_line(exc)}") from exc


def _first_run(runner, module: nn.Module, example_inputs: tuple[torch.Tensor, ...], backend: str, precision: str,
               name: str):
    """Run the engine for the first time, against eager: the parity report, or BuildError/ParityError."""
    try:
        return check_parity(runner, module, example_inputs, precision=precision, backend=backend, name=name)
    except LivevisError:
        raise
    except Exception as exc:  # e.g. the engine rejects an input on its first real call
        log.debug("%s engine for %s failed to run", backend, name, exc_info=True)
        raise BuildError(f"{backend} engine for {name} failed to run: {first_line(exc)}") from exc


def build_first_passing(module: nn.Module, example_inputs: tuple[torch.Tensor, ...], backends: Sequence[str], *,
                        precision: str = "fp32", name: str, cache_key: str | None = None,
                        on_refusal: Callable[[str], None] | None = None) -> Engine:
    """The first of `backends` that builds and passes parity; each refusal is reported (one line) via
    `on_refusal` (default: logged as a warning) and kept in `engine.refusals`."""
    refusals: list[str] = []
    for backend in backends:
        try:
            engine = build(module, example_inputs, backend=backend, precision=precision, name=name,
                           cache_key=cache_key)
        except UnsafeCacheError:
            raise  # not this backend's fault: every backend would refuse the same folder
        except LivevisError as exc:
            line = f"{backend}: {exc}"
            refusals.append(line)
            (on_refusal or log.warning)(line)
            continue
        engine.refusals = refusals
        return engine
    raise LivevisError(f"no backend could build {name}: " + "; ".join(refusals) if refusals
                       else f"no backend given for {name}")

