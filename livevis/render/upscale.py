"""Choosing the output stage's upscaler: learned (the bundle's network, on the model's device, right
after synthesis) or a GL resampler only (lanczos, or bilinear for `none`).

    auto:    learned when the bundle has an upscaler, the output is larger than the generator's frames
             and one pass fits in UPSCALE_BUDGET of a frame period on this device (measured); else lanczos
    learned: the bundle's upscaler (one clear line when it has none), then lanczos to the exact size
    lanczos: GL Lanczos-3 from the generator's resolution
    none:    GL bilinear
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable

import torch

from livevis.errors import LivevisError

UPSCALERS = ("auto", "learned", "lanczos", "none")
UPSCALE_BUDGET = 0.3  # share of a frame period the learned upscaler may take for `auto` to pick it


@dataclasses.dataclass
class UpscalePlan:
    name: str                           # learned | lanczos | none
    resample: str                       # the GL resampler of the fit: lanczos | bilinear
    upscaler: torch.nn.Module | None    # the learned network (on the model's device) or None
    ms: float | None = None             # measured learned upscale time per frame
    reason: str = ""                    # why (for the log line)

    def describe(self) -> str:
        return f"upscaler {self.name}" + (f" ({self.reason})" if self.reason else "")


def check_choice(choice: str) -> str:
    if choice not in UPSCALERS:
        raise LivevisError(f"--upscaler must be one of {', '.join(UPSCALERS)}, got {choice!r}")
    return choice


class UpscaledSynthesis:
    """synthesis(ws) followed by the learned upscaler: img [1, 3, H, W] -> [1, 3, sH, sW], same dtype."""

    def __init__(self, synthesis: Callable, upscaler: torch.nn.Module,
                 wrap: Callable[[Callable], Callable] | None = None) -> None:
        self.synthesis = synthesis
        self.upscaler = upscaler
        self._dtype = next(upscaler.parameters()).dtype
        self._up = wrap(self._upscale) if wrap is not None else self._upscale

    @torch.inference_mode()
    def _upscale(self, img: torch.Tensor) -> torch.Tensor:
        return self.upscaler(img.to(self._dtype)).to(img.dtype)

    def __call__(self, ws: torch.Tensor) -> torch.Tensor:
        return self._up(self.synthesis(ws))


def with_upscaler(modules, plan: UpscalePlan, wrap: Callable[[Callable], Callable] | None = None):
    """LiveModules whose synthesis includes the plan's learned upscaler and whose resolution is the
    upscaled one (so the RGBA converter, the renderer and the recorder all see the bigger frame);
    `modules` itself when the plan has no network. wrap: e.g. a timer around the upscale call."""
    if plan.upscaler is None:
        return modules
    return dataclasses.replace(modules, synthesis=UpscaledSynthesis(modules.synthesis, plan.upscaler, wrap),
                               resolution=modules.resolution * plan.upscaler.scale)


@torch.inference_mode()
def time_upscaler(upscaler: torch.nn.Module, resolution: int, device: torch.device, rounds: int = 5) -> float:
    """Median ms of one upscale of a [1, 3, resolution, resolution] frame on `device` (after 2 warm-ups)."""
    dtype = next(upscaler.parameters()).dtype
    img = torch.rand(1, 3, resolution, resolution, device=device, dtype=dtype) * 2 - 1
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    times = []
    for i in range(rounds + 2):
        start = time.perf_counter()
        upscaler(img)
        sync()
        if i >= 2:
            times.append(1e3 * (time.perf_counter() - start))
    return sorted(times)[len(times) // 2]


def plan_upscaler(choice: str, upscaler: torch.nn.Module | None, *, resolution: int, out_size: tuple[int, int],
                  fps: float | None, device: torch.device) -> UpscalePlan:
    """Decide what upscales the generator's `resolution` frames to `out_size` (see the module doc);
    fps None: offline (auto does not measure)."""
    check_choice(choice)
    if choice == "none":
        return UpscalePlan("none", "bilinear", None)
    if choice == "lanczos":
        return UpscalePlan("lanczos", "lanczos", None)
    if upscaler is None:
        if choice == "learned":
            raise LivevisError("--upscaler learned: this model has no upscaler (train one: livevis train upscaler "
                               "... --bundle BUNDLE); use lanczos or auto")
        return UpscalePlan("lanczos", "lanczos", None, reason="the model has no learned upscaler")
    upscaler = upscaler.to(device).eval()
    if choice == "learned":
        return UpscalePlan("learned", "lanczos", upscaler, time_upscaler(upscaler, resolution, device), reason="asked")
    if max(out_size) <= resolution:
        return UpscalePlan("lanczos", "lanczos", None, reason=f"output {out_size[0]}x{out_size[1]} is not larger than the frames")
    if fps is None:
        return UpscalePlan("learned", "lanczos", upscaler, reason="offline: no frame rate to hold")
    ms = time_upscaler(upscaler, resolution, device)
    budget = UPSCALE_BUDGET * 1e3 / fps
    if ms <= budget:
        return UpscalePlan("learned", "lanczos", upscaler, ms, reason=f"{ms:.1f} ms per frame, budget {budget:.1f}")
    return UpscalePlan("lanczos", "lanczos", None, ms, reason=f"learned takes {ms:.1f} ms, over the {budget:.1f} ms budget")
