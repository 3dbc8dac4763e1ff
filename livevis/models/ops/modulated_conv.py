"""StyleGAN2 modulated (and demodulated) convolution, two equivalent execution paths.

non-fused: scale the activations by the styles, convolve with the shared static weight, scale the
           output by per-sample demodulation coefficients. The conv weight stays a constant, which
           is what TensorRT / weight prepacking want; it was also the fastest path on CPU.
fused:     build per-sample weights and run one grouped convolution (NVlabs' default at inference).
"""

from __future__ import annotations

import torch

from livevis.models.ops.conv2d_resample import conv2d_resample
from livevis.models.ops.upfirdn2d import Padding


def demodulation_coefficients(weight_sq: torch.Tensor, styles: torch.Tensor) -> torch.Tensor:
    """1 / ||w * s|| per sample and output channel.

    weight_sq: [O, I] = sum over the kernel of weight**2; styles: [B, I] -> [B, O].
    sum_ik (w_oik s_i)^2 = sum_i s_i^2 sum_k w_oik^2, so it is one small matmul.
    """
    return (styles.square() @ weight_sq.to(styles.dtype).t() + 1e-8).rsqrt()


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    noise: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: Padding = 0,
    resample_filter: torch.Tensor | None = None,
    demodulate: bool = True,
    flip_weight: bool = True,
    fused_modconv: bool = False,
    weight_sq: torch.Tensor | None = None,
) -> torch.Tensor:
    """x [B, I, H, W], weight [O, I, kh, kw], styles [B, I], noise broadcastable to the output.

    weight_sq: optional precomputed weight.square().sum([2, 3]) [O, I] for the non-fused demodulation.
    Returns [B, O, H', W'] (H' = H * up / down with the usual padding).
    """
    batch = x.shape[0]
    out_channels, in_channels, kh, kw = weight.shape
    assert x.ndim == 4 and x.shape[1] == in_channels, f"x {tuple(x.shape)} vs weight {tuple(weight.shape)}"
    assert styles.ndim == 2 and styles.shape[1] == in_channels, f"styles {tuple(styles.shape)}"

    if not fused_modconv:
        x = x * styles.to(x.dtype).reshape(batch, -1, 1, 1)
        x = conv2d_resample(x, weight.to(x.dtype), f=resample_filter, up=up, down=down, padding=padding, flip_weight=flip_weight)
        if demodulate:
            if weight_sq is None:
                weight_sq = weight.square().sum(dim=[2, 3])  # [O, I]
            dcoefs = demodulation_coefficients(weight_sq, styles)  # [B, O]
            x = x * dcoefs.to(x.dtype).reshape(batch, -1, 1, 1)
        if noise is not None:
            x = x + noise.to(x.dtype)
        return x

    # Per-sample weights in one grouped convolution.
    w = weight.unsqueeze(0) * styles.reshape(batch, 1, -1, 1, 1)  # [B, O, I, kh, kw]
    if demodulate:
        dcoefs = (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()  # [B, O]
        w = w * dcoefs.reshape(batch, -1, 1, 1, 1)
    x = x.reshape(1, -1, *x.shape[2:])  # [1, B*I, H, W]
    w = w.reshape(-1, in_channels, kh, kw)  # [B*O, I, kh, kw]
    x = conv2d_resample(x, w.to(x.dtype), f=resample_filter, up=up, down=down, padding=padding,
                        groups=batch, flip_weight=flip_weight)
    x = x.reshape(batch, -1, *x.shape[2:])  # [B, O, H', W']
    if noise is not None:
        x = x + noise.to(x.dtype)
    return x
