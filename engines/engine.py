"""The Engine: a built module, callable like the eager one, plus what it took to build it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch

# A backend's runner takes the positional inputs and returns the outputs flat, as a tuple.
FlatRunner = Callable[..., Sequence[torch.Tensor]]


def as_flat(outputs) -> tuple[torch.Tensor, ...]:
    """Eager output (tensor, or tuple/list of tensors) -> flat tuple. Nested structures are not supported."""
    if isinstance(outputs, torch.Tensor):
        return (outputs,)
    if isinstance(outputs, (tuple, list)) and all(isinstance(t, torch.Tensor) for t in outputs):
        return tuple(outputs)
    raise TypeError(f"engines support a tensor or a flat tuple of tensors as output, got {type(outputs).__name__}")


@dataclass(eq=False)
class Engine:
    """Callable with the same positional inputs as the eager module; returns the same structure.

    Always runs under `torch.no_grad()`: compiled graphs are specialised to inference (and torch.compile
    would otherwise recompile on the grad-mode guard).
    """

    runner: FlatRunner = field(repr=False)
    backend: str
    precision: str
    name: str
    build_seconds: float
    from_cache: bool
    parity: float  # max |engine - eager| over the parity inputs
    tuple_output: bool  # eager returned a tuple (else a single tensor)
    device: str = "cpu"
    input_shapes: tuple[tuple[int, ...], ...] | None = None  # static shapes it was built for
    artifact: str | None = None  # cache entry folder, if any
    timings_ms: dict[str, float] | None = None  # set by select_backend: median ms per candidate measured
    refusals: list[str] = field(default_factory=list)  # backends refused before this one (build_first_passing)

    def __call__(self, *inputs: torch.Tensor):
        if self.input_shapes is not None:  # engines are built for static shapes
            assert len(inputs) == len(self.input_shapes) and all(
                tuple(x.shape) == s for x, s in zip(inputs, self.input_shapes)
            ), f"{self.name}: inputs {[tuple(x.shape) for x in inputs]} != built shapes {list(self.input_shapes)}"
        with torch.no_grad():
            flat = tuple(self.runner(*inputs))
        return flat if self.tuple_output else flat[0]

    def describe(self) -> str:
        cached = "cached" if self.from_cache else "built"
        return (f"{self.name}: {self.backend}/{self.precision} {cached} in {self.build_seconds:.2f} s, "
                f"parity max|diff| {self.parity:.2e}")
