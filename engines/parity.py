"""Parity gate: every engine is compared with eager on fixed inputs before anyone may use it."""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from livevis.engines.engine import as_flat
from livevis.engines.errors import ParityError

PRECISIONS = ("fp32", "fp16", "bf16")

# Max |engine - eager|, scaled by max(1, max|eager|) so outputs larger than the [-1, 1] image (ws,
# hidden states) get the same relative bound.
TOLERANCE = {
    # Reordered/fused fp32 arithmetic (conv algorithms, FMA, constant folding) stays near 1e-5;
    # 1e-3 on a [-1, 1] image is an eighth of one 8-bit grey level.
    "fp32": 1e-3,
    # fp16 keeps 11 significant bits (2^-11 ~ 5e-4 relative per rounding); through ~20 modulated conv
    # layers with fp32 accumulation errors stay well under 1e-2. 2e-2 on [-1, 1] is ~2.5 of 255 grey
    # levels at the worst pixel: invisible, yet far below what a wrong graph (O(0.1-1)) produces.
    "fp16": 2e-2,
    # bf16 keeps 8 significant bits (2^-8 ~ 4e-3 relative per rounding), 8x coarser than fp16; 8e-2
    # is ~10 grey levels at the worst pixel, the price of the 1.3-1.75x CPU speed-up (ARCHITECTURE.md).
    "bf16": 8e-2,
}

PARITY_SEED = 1234


def parity_inputs(example_inputs: Sequence[torch.Tensor]) -> list[tuple[torch.Tensor, ...]]:
    """The caller's example inputs plus one seeded random draw of the same shapes (ints copied)."""
    gen = torch.Generator(device="cpu").manual_seed(PARITY_SEED)
    drawn = []
    for x in example_inputs:
        if x.is_floating_point():
            drawn.append(torch.randn(x.shape, generator=gen, dtype=torch.float32).to(device=x.device, dtype=x.dtype))
        else:
            drawn.append(x.clone())
    return [tuple(example_inputs), tuple(drawn)]


def max_abs_diff(got: Sequence[torch.Tensor], want: Sequence[torch.Tensor]) -> list[tuple[float, float]]:
    """Per output: (max |got - want|, max |want|). Non-finite or mis-shaped outputs count as infinite."""
    if len(got) != len(want):
        return [(float("inf"), 1.0)]
    out = []
    for g, w in zip(got, want):
        if g.shape != w.shape:
            out.append((float("inf"), 1.0))
            continue
        g, w = g.detach().float(), w.detach().float()
        if not torch.isfinite(g).all():
            out.append((float("inf"), 1.0))
            continue
        diff = (g - w).abs().max().item() if g.numel() else 0.0
        out.append((diff, w.abs().max().item() if w.numel() else 0.0))
    return out


def check_parity(runner: Callable, eager: Callable, example_inputs: Sequence[torch.Tensor], *,
                 precision: str, backend: str, name: str) -> float:
    """Max abs diff of `runner` vs `eager` over the parity inputs and outputs; raises ParityError when any
    output is beyond tolerance (each output's bound scales with its own magnitude)."""
    worst_diff, worst_ratio, worst_bound, worst_out, n_out = 0.0, 0.0, TOLERANCE[precision], 0, 1
    with torch.no_grad():
        for inputs in parity_inputs(example_inputs):
            want = as_flat(eager(*inputs))
            got = as_flat(runner(*inputs))
            n_out = len(want)
            for i, (diff, scale) in enumerate(max_abs_diff(got, want)):
                bound = TOLERANCE[precision] * max(1.0, scale)
                ratio = diff / bound if diff == diff else float("inf")  # NaN diff -> refused
                worst_diff = max(worst_diff, diff) if diff == diff else float("inf")
                if ratio >= worst_ratio:
                    worst_ratio, worst_bound, worst_out = ratio, bound, i
    if not worst_ratio <= 1.0:
        where = f" (output {worst_out} of {n_out})" if n_out > 1 else ""
        raise ParityError(f"{backend} refused for {name}: max|diff| vs eager {worst_diff:.3g}{where} exceeds the "
                          f"{precision} bound {worst_bound:.3g}")
    return worst_diff
