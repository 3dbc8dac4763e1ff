"""`--backend auto`: build every candidate available here, measure them briefly side by side, keep the
fastest that passed parity, and remember the choice so the next start skips the measurement."""

from __future__ import annotations

import logging
from typing import Callable, Sequence

import torch
from torch import nn

from livevis.engines.build import available_backends, build, inputs_device
from livevis.engines.cache import choice_file, engine_key, library_versions, read_choice, write_choice
from livevis.engines.engine import Engine
from livevis.engines.timing import measure_ms
from livevis.errors import LivevisError

log = logging.getLogger(__name__)


def select_backend(module: nn.Module, example_inputs: tuple[torch.Tensor, ...], *, name: str,
                   cache_key: str | None, candidates: Sequence[str] | None = None, precision: str = "fp32",
                   on_refusal: Callable[[str], None] | None = None, remeasure: bool = False) -> Engine:
    """The fastest candidate that builds and passes parity, as an Engine with `.timings_ms` set.

    candidates: None = every backend available on the inputs' device (tensorrt only with CUDA and
    torch_tensorrt). With a cache_key the choice is stored and reused without measuring again.
    """
    example_inputs = tuple(example_inputs)
    device = inputs_device(example_inputs)
    here = available_backends(device, precision)
    candidates = [c for c in (here if candidates is None else candidates) if c in here]
    if not candidates:
        raise LivevisError(f"no backend can build {name} at {precision} on {device}")
    report = on_refusal or log.warning
    choice_path = key = None
    if cache_key is not None:
        key, _ = engine_key(cache_key=cache_key, name=name, backend="auto:" + ",".join(candidates),
                            precision=precision, inputs=example_inputs, device=device,
                            extra={"candidate_versions": {b: library_versions(b) for b in candidates}})
        choice_path = choice_file(name, key)
        remembered = None if remeasure else read_choice(choice_path, key)
        if remembered is not None and remembered["backend"] in candidates:
            try:
                engine = build(module, example_inputs, backend=remembered["backend"], precision=precision,
                               name=name, cache_key=cache_key)
                engine.timings_ms = {k: float(v) for k, v in remembered.get("timings_ms", {}).items()}
                engine.refusals = list(remembered.get("refusals", []))
                return engine
            except LivevisError as exc:  # e.g. a library update broke it: measure afresh
                report(f"{remembered['backend']} (remembered choice): {exc}")

    engines: dict[str, Engine] = {}
    refusals: list[str] = []
    for backend in candidates:
        try:
            engines[backend] = build(module, example_inputs, backend=backend, precision=precision, name=name,
                                     cache_key=cache_key)
        except LivevisError as exc:
            refusals.append(f"{backend}: {exc}")
            report(refusals[-1])
    if not engines:
        raise LivevisError(f"no backend could build {name}: " + "; ".join(refusals))
    timings = measure_ms(dict(engines), example_inputs) if len(engines) > 1 else {}
    best = min(engines, key=lambda b: timings.get(b, 0.0))
    engine = engines[best]
    engine.timings_ms, engine.refusals = timings, refusals
    log.info("auto picked %s for %s (%s)", best, name, ", ".join(f"{b} {ms:.2f} ms" for b, ms in timings.items()))
    if choice_path is not None:
        write_choice(choice_path, key, best, timings, refusals)
    return engine
