"""Filtered leaky ReLU (StyleGAN3's alias-free non-linearity) in plain PyTorch.

Same semantics as NVlabs' `filtered_lrelu` reference path: bias -> FIR up-sample -> gain * lrelu ->
clamp -> FIR down-sample. Built from our `bias_act` and `upfirdn2d`, so it inherits their export
properties: every branch depends on static arguments and shapes only, never on tensor values.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from livevis.models.ops.bias_act import bias_act
from livevis.models.ops.upfirdn2d import filter_size, parse_padding, upfirdn2d


def filtered_lrelu(
    x: torch.Tensor,
    fu: torch.Tensor | None = None,
    fd: torch.Tensor | None = None,
    b: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: int | Sequence[int] = 0,
    gain: float = math.sqrt(2),
    slope: float = 0.2,
    clamp: float | None = None,
    flip_filter: bool = False,
) -> torch.Tensor:
    """x: [B, C, H, W] -> [B, C, H', W'].

    fu / fd: up- / down-sampling FIR filters, `[taps]` (separable), `[fh, fw]` or None (identity).
    b: [C] bias added before up-sampling. padding: [x0, x1, y0, y1] (or [x, y] / int) relative to
    the up-sampled image, negative crops. The activation is `lrelu(v, slope) * gain`, clamped to
    [-clamp, clamp] when clamp is given; slope=1, gain=1 makes it a pure FIR resampler.
    """
    assert isinstance(x, torch.Tensor) and x.ndim == 4, "x must be [B, C, H, W]"
    assert isinstance(up, int) and up >= 1 and isinstance(down, int) and down >= 1
    assert gain > 0 and slope >= 0 and (clamp is None or clamp >= 0)
    if b is not None:
        assert b.shape == (x.shape[1],), f"bias must be [{x.shape[1]}], got {list(b.shape)}"
    px0, px1, py0, py1 = parse_padding(padding)
    fu_w, fu_h = filter_size(fu)
    fd_w, fd_h = filter_size(fd)
    batch, channels, in_h, in_w = x.shape
    out_w = (in_w * up + px0 + px1 - (fu_w - 1) - (fd_w - 1) + (down - 1)) // down
    out_h = (in_h * up + py0 + py1 - (fu_h - 1) - (fd_h - 1) + (down - 1)) // down

    x_in = x
    x = bias_act(x, b)  # [B, C, H, W]
    # lrelu(v) * gain == lrelu(v * gain) for gain > 0: fold the gain into the up-sampling filter and
    # save one pass over the largest (up-sampled) tensor.
    x = upfirdn2d(x, fu, up=up, padding=[px0, px1, py0, py1], gain=up**2 * gain, flip_filter=flip_filter)  # [B, C, H*up+pad-fu+1, ..]
    if (torch.is_grad_enabled() and x.requires_grad) or x is x_in:  # never modify the caller's tensor
        x = bias_act(x, act="lrelu", alpha=slope, gain=1, clamp=clamp)
    else:
        # Inference: the up-sampled tensor is ours and the largest of the layer; activating it in place
        # avoids two fresh allocations whose page faults cost ~10x the arithmetic on CPU.
        if slope != 1:
            x = torch.nn.functional.leaky_relu_(x, slope)
        if clamp is not None:
            x = x.clamp_(-float(clamp), float(clamp))
    x = upfirdn2d(x, fd, down=down, flip_filter=flip_filter)  # [B, C, out_h, out_w]

    assert x.shape == (batch, channels, out_h, out_w), f"filtered_lrelu: got {list(x.shape)}"
    return x
