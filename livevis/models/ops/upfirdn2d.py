"""FIR resampling of 2D images (pad, up-sample, filter, down-sample) in plain PyTorch.

Same semantics as NVlabs' `upfirdn2d` reference path; written for export: the only Python-side
branches depend on static arguments and shapes, zero insertion is a concatenation (no Pad op),
symmetric padding is folded into the convolution and down-sampling into its stride.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

Scaling = int | Sequence[int]
Padding = int | Sequence[int]


def parse_scaling(scaling: Scaling) -> tuple[int, int]:
    """int or [x, y] -> (sx, sy), both >= 1."""
    if isinstance(scaling, int):
        scaling = [scaling, scaling]
    sx, sy = (int(s) for s in scaling)
    assert sx >= 1 and sy >= 1, f"scaling must be >= 1, got {scaling}"
    return sx, sy


def parse_padding(padding: Padding) -> tuple[int, int, int, int]:
    """int, [x, y] or [x0, x1, y0, y1] -> (x0, x1, y0, y1)."""
    if isinstance(padding, int):
        padding = [padding, padding]
    padding = [int(p) for p in padding]
    if len(padding) == 2:
        px, py = padding
        padding = [px, px, py, py]
    assert len(padding) == 4, f"padding must have 1, 2 or 4 entries, got {padding}"
    px0, px1, py0, py1 = padding
    return px0, px1, py0, py1


def filter_size(f: torch.Tensor | None) -> tuple[int, int]:
    """(width, height) of a 2D or separable filter; None is the 1x1 identity."""
    if f is None:
        return 1, 1
    assert f.ndim in (1, 2)
    return int(f.shape[-1]), int(f.shape[0])


def setup_filter(
    f,
    device: torch.device | str | None = None,
    normalize: bool = True,
    flip_filter: bool = False,
    gain: float = 1,
    separable: bool | None = None,
) -> torch.Tensor:
    """List / array / tensor -> float32 FIR filter: `[taps]` (separable) or `[fh, fw]`.

    1D filters with fewer than 8 taps become their 2D outer product unless `separable` says otherwise.
    Normalised to unit DC gain, then scaled so the whole 2D filter has gain `gain`.
    device None keeps the default device (CPU unless a `torch.device(...)` context says otherwise).
    """
    if f is None:
        f = 1
    f = torch.as_tensor(f, dtype=torch.float32).clone()
    assert f.ndim in (0, 1, 2) and f.numel() > 0
    if f.ndim == 0:
        f = f.unsqueeze(0)
    if separable is None:
        separable = f.ndim == 1 and f.numel() >= 8
    if f.ndim == 1 and not separable:
        f = torch.outer(f, f)
    assert f.ndim == (1 if separable else 2)
    if normalize:
        f = f / f.sum()
    if flip_filter:
        f = f.flip(list(range(f.ndim)))
    f = f * (gain ** (f.ndim / 2))
    return f if device is None else f.to(device=device)


def _zero_insert(x: torch.Tensor, dim: int, factor: int) -> torch.Tensor:
    """Insert factor-1 zeros after every sample along `dim` (a trailing size-1 axis was added there)."""
    if factor == 1:
        return x
    zeros_shape = list(x.shape)
    zeros_shape[dim] = factor - 1
    return torch.cat([x, x.new_zeros(zeros_shape)], dim=dim)


def upfirdn2d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    up: Scaling = 1,
    down: Scaling = 1,
    padding: Padding = 0,
    flip_filter: bool = False,
    gain: float = 1,
) -> torch.Tensor:
    """Up-sample by zero insertion, pad (negative = crop), convolve with FIR `f`, keep every `down`-th pixel.

    x: [B, C, H, W]; f: [fh, fw], [taps] (separable) or None (identity).
    Padding is relative to the up-sampled image. flip_filter=False is true convolution.
    Returns [B, C, (H*up + py0 + py1 - fh) // down + 1, (W*up + px0 + px1 - fw) // down + 1].
    """
    assert isinstance(x, torch.Tensor) and x.ndim == 4, "x must be [B, C, H, W]"
    if f is None:
        f = torch.ones([1, 1], dtype=torch.float32, device=x.device)
    assert isinstance(f, torch.Tensor) and f.ndim in (1, 2)
    upx, upy = parse_scaling(up)
    downx, downy = parse_scaling(down)
    px0, px1, py0, py1 = parse_padding(padding)
    batch, channels, height, width = x.shape
    fw, fh = filter_size(f)
    assert width * upx + px0 + px1 >= fw and height * upy + py0 + py1 >= fh, "filter larger than padded image"

    f = f * (gain ** (f.ndim / 2))
    f = f.to(x.dtype)
    if (upx > 1 or upy > 1) and downx == 1 and downy == 1:
        y = _upsample_transposed(x, f, upx, upy, px0, px1, py0, py1, flip_filter)
        if y is not None:
            return y

    # Up-sample: [B, C, H, 1, W, 1] -> [B, C, H, upy, W, upx] -> [B, C, H*upy, W*upx].
    if upx > 1 or upy > 1:
        x = x.reshape(batch, channels, height, 1, width, 1)
        x = _zero_insert(x, 5, upx)
        x = _zero_insert(x, 3, upy)
        x = x.reshape(batch, channels, height * upy, width * upx)

    # Crop for negative padding.
    if px0 < 0 or px1 < 0 or py0 < 0 or py1 < 0:
        x = x[:, :, max(-py0, 0) : x.shape[2] - max(-py1, 0), max(-px0, 0) : x.shape[3] - max(-px1, 0)]
    px0, px1, py0, py1 = max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)

    # The symmetric part of the padding goes into the conv; only an uneven rest needs a Pad op.
    cpx, cpy = min(px0, px1), min(py0, py1)
    rest = [px0 - cpx, px1 - cpx, py0 - cpy, py1 - cpy]
    if any(rest):
        x = F.pad(x, rest)

    # Filter (true convolution unless flip_filter) with the down-sampling as the stride.
    if not flip_filter:
        f = f.flip(list(range(f.ndim)))
    if f.ndim == 2:
        weight = f[None, None].repeat(channels, 1, 1, 1)  # [C, 1, fh, fw]
        x = F.conv2d(x, weight, stride=(downy, downx), padding=(cpy, cpx), groups=channels)
    else:
        taps = f[None, None].repeat(channels, 1, 1)  # [C, 1, taps]
        x = F.conv2d(x, taps.unsqueeze(2), stride=(1, downx), padding=(0, cpx), groups=channels)
        x = F.conv2d(x, taps.unsqueeze(3), stride=(downy, 1), padding=(cpy, 0), groups=channels)
    return x


def _transposed_padding(up: int, taps: int, pad0: int, pad1: int) -> tuple[int, int] | None:
    """(padding, output_padding) making conv_transpose2d equal zero insertion + pad + FIR, or None."""
    # conv_transpose2d = zero insertion without the trailing zeros, taps-1-p zeros each side
    # (+ output_padding after), then true convolution with its kernel.
    p = taps - 1 - pad0
    op = up - 1 + pad1 - pad0
    if p < 0 or not 0 <= op < up:
        return None
    return p, op


def _upsample_transposed(x, f, upx, upy, px0, px1, py0, py1, flip_filter):
    """Up-sampling FIR as one strided transposed conv: no zero-insertion copies, no Pad op."""
    fw, fh = filter_size(f)
    pad_x = _transposed_padding(upx, fw, px0, px1)
    pad_y = _transposed_padding(upy, fh if f.ndim == 2 else fw, py0, py1)
    if pad_x is None or pad_y is None:
        return None
    channels = x.shape[1]
    if flip_filter:  # correlation = convolution with the flipped filter; conv_transpose2d convolves
        f = f.flip(list(range(f.ndim)))
    if f.ndim == 2:
        weight = f[None, None].repeat(channels, 1, 1, 1)  # [C, 1, fh, fw]
        return F.conv_transpose2d(x, weight, stride=(upy, upx), padding=(pad_y[0], pad_x[0]),
                                  output_padding=(pad_y[1], pad_x[1]), groups=channels)
    taps = f[None, None].repeat(channels, 1, 1)  # [C, 1, taps]
    x = F.conv_transpose2d(x, taps.unsqueeze(2), stride=(1, upx), padding=(0, pad_x[0]),
                           output_padding=(0, pad_x[1]), groups=channels)
    return F.conv_transpose2d(x, taps.unsqueeze(3), stride=(upy, 1), padding=(pad_y[0], 0),
                              output_padding=(pad_y[1], 0), groups=channels)


def upsample2d(x: torch.Tensor, f: torch.Tensor | None, up: Scaling = 2, padding: Padding = 0, flip_filter: bool = False, gain: float = 1) -> torch.Tensor:
    """Up-sample by `up` with FIR `f`; the output is `up` times the input size (plus `padding`)."""
    upx, upy = parse_scaling(up)
    px0, px1, py0, py1 = parse_padding(padding)
    fw, fh = filter_size(f)
    p = [px0 + (fw + upx - 1) // 2, px1 + (fw - upx) // 2, py0 + (fh + upy - 1) // 2, py1 + (fh - upy) // 2]
    return upfirdn2d(x, f, up=up, padding=p, flip_filter=flip_filter, gain=gain * upx * upy)
