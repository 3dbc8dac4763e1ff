"""Short on-device measurements: interleaved rounds, median per call. The machine is noisy (the same
measurement can differ 2x across processes), so candidates are compared within one run, round-robin."""

from __future__ import annotations

import statistics
import time
from typing import Callable, Sequence

import torch


def _sync(inputs: Sequence[torch.Tensor]) -> None:
    if any(x.is_cuda for x in inputs):
        torch.cuda.synchronize()


def measure_ms(fns: dict[str, Callable], inputs: Sequence[torch.Tensor], *, rounds: int = 7,
               round_seconds: float = 0.05, warmup: int = 2) -> dict[str, float]:
    """Median milliseconds per call for each fn, measured in interleaved rounds (A B C, A B C, ...)."""
    with torch.no_grad():
        reps: dict[str, int] = {}
        for name, fn in fns.items():
            for _ in range(warmup):
                fn(*inputs)
            _sync(inputs)
            t0 = time.perf_counter()
            fn(*inputs)
            _sync(inputs)
            once = max(time.perf_counter() - t0, 1e-6)
            reps[name] = max(1, min(1000, int(round_seconds / once)))
        samples: dict[str, list[float]] = {name: [] for name in fns}
        for _ in range(rounds):
            for name, fn in fns.items():
                t0 = time.perf_counter()
                for _ in range(reps[name]):
                    fn(*inputs)
                _sync(inputs)
                samples[name].append((time.perf_counter() - t0) * 1000.0 / reps[name])
    return {name: statistics.median(s) for name, s in samples.items()}
