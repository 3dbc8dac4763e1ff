"""Build a bundle's live modules and measure each engine against eager: the work under
`livevis build-engines`, also usable from benchmarks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from livevis.engines.auto import select_backend
from livevis.engines.build import build
from livevis.engines.engine import Engine
from livevis.engines.live import live_modules
from livevis.engines.timing import measure_ms


@dataclass
class ModuleReport:
    name: str
    engine: Engine
    eager_ms: float
    engine_ms: float

    @property
    def speedup(self) -> float:
        return self.eager_ms / self.engine_ms if self.engine_ms > 0 else float("inf")


def build_module(module, inputs, *, backend: str, precision: str, name: str, cache_key: str | None,
                 progress: Callable[[str], None] | None = None, remeasure: bool = False) -> Engine:
    """`auto` -> select_backend; an explicit backend -> build (its refusal is the user's error to see)."""
    if backend == "auto":
        return select_backend(module, inputs, name=name, cache_key=cache_key, precision=precision,
                              on_refusal=lambda line: progress and progress(f"  {name}: refused {line}"),
                              remeasure=remeasure)
    return build(module, inputs, backend=backend, precision=precision, name=name, cache_key=cache_key)


def build_bundle_engines(bundle, *, backend: str, precision: str, weights_key: str, device: torch.device,
                         progress: Callable[[str], None] | None = None, remeasure: bool = False) -> list[ModuleReport]:
    """Engine + eager-vs-engine median ms for each live module of `bundle` (cache keyed by weights_key)."""
    reports = []
    for part in live_modules(bundle, device):
        if progress:
            progress(f"  {part.name}: building ({backend}) ...")
        engine = build_module(part.module, part.inputs, backend=backend, precision=precision, name=part.name,
                              cache_key=f"{weights_key}:{part.name}", progress=progress, remeasure=remeasure)
        times = measure_ms({"eager": part.module, "engine": engine}, part.inputs)
        reports.append(ModuleReport(part.name, engine, times["eager"], times["engine"]))
        if progress:
            progress(format_row(reports[-1]))
            if engine.timings_ms:
                timings = format_timings(engine.timings_ms)
                progress(f"  {part.name} candidates (median ms, speed-up vs eager): {timings}")
    return reports


def format_row(r: ModuleReport) -> str:
    e = r.engine
    return (f"{r.name:<14} {e.backend:<11} {e.precision:<4}  build {e.build_seconds:6.2f} s  "
            f"from cache {'yes' if e.from_cache else 'no ':<3}  parity {e.parity:.1e}  "
            f"eager {r.eager_ms:8.3f} ms  engine {r.engine_ms:8.3f} ms  x{r.speedup:.2f}")


def format_timings(timings_ms: dict[str, float]) -> str:
    """`eager 19.15 (x1.00), compile 3.10 (x6.18), ...`; ratios vs eager when eager was measured."""
    eager = timings_ms.get("eager")
    parts = []
    for backend, ms in sorted(timings_ms.items(), key=lambda kv: kv[1]):
        ratio = f" (x{eager / ms:.2f})" if eager and ms > 0 else ""
        parts.append(f"{backend} {ms:.3f}{ratio}")
    return ", ".join(parts)
