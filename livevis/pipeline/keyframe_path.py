"""A smooth closed path through K keyframe latents, evaluated per layer group.

The react mode's motion: each layer group (coarse / mid / fine ws) has its own position on the same
loop of keyframes, advanced by its band's energy, so bass moves the layout while hats only stir the
texture. Catmull-Rom through the keyframes: C1-continuous, passes through every keyframe, and its
speed is even enough that "keyframes per second" means what it says.
"""

from __future__ import annotations

import math

import torch


def layer_groups(num_ws: int, groups: int = 3) -> list[slice]:
    """ws layers split into `groups` contiguous groups (coarse first), as even as possible."""
    assert num_ws >= 1 and groups >= 1
    bounds = [round(i * num_ws / groups) for i in range(groups + 1)]
    return [slice(bounds[i], bounds[i + 1]) for i in range(groups)]  # empty when num_ws < groups


class KeyframePath:
    """keyframes [K, w_dim] (one w per keyframe) or [K, num_ws, w_dim] (W+ keyframes: a scene with a
    w per layer, e.g. a sound class scene fitted to a real frame) -> ws at per-group positions.

    `evaluate(positions, out)` writes out[0, group layers] = path(position of that group).
    """

    def __init__(self, keyframes: torch.Tensor, num_ws: int, groups: int = 3):
        assert keyframes.ndim in (2, 3) and keyframes.shape[0] >= 2, \
            f"keyframes must be [K>=2, w_dim] or [K>=2, num_ws, w_dim], got {tuple(keyframes.shape)}"
        assert keyframes.ndim == 2 or keyframes.shape[1] == num_ws, \
            f"W+ keyframes must have {num_ws} layers, got {tuple(keyframes.shape)}"
        self.keys = keyframes.detach().float().clone()  # [K, w_dim] or [K, num_ws, w_dim]
        self.k = int(keyframes.shape[0])
        self.num_ws = int(num_ws)
        self.groups = layer_groups(self.num_ws, groups)
        self._buf = torch.empty(keyframes.shape[1:], dtype=torch.float32, device=keyframes.device)

    @property
    def per_layer(self) -> bool:
        return self.keys.ndim == 3

    @property
    def center(self) -> torch.Tensor:
        """[w_dim] (W+ keyframes: [num_ws, w_dim]) the mean of the keyframes: the path's middle (motion
        offsets are taken from it)."""
        return self.keys.mean(0)

    def point(self, position: float, layers: slice | None = None) -> torch.Tensor:
        """w [w_dim] at `position` (in keyframes; the loop repeats every K); W+ keyframes: [num_ws, w_dim],
        or only the rows of `layers`."""
        i = math.floor(position)
        t = position - i
        k = self.k
        keys = self.keys if layers is None or not self.per_layer else self.keys[:, layers]
        p0, p1, p2, p3 = (keys[(i + d) % k] for d in (-1, 0, 1, 2))
        # Catmull-Rom (uniform): 0.5 * (2 p1 + (-p0 + p2) t + (2p0 - 5p1 + 4p2 - p3) t^2 + (-p0 + 3p1 - 3p2 + p3) t^3)
        t2, t3 = t * t, t * t * t
        c0 = -0.5 * t3 + t2 - 0.5 * t
        c1 = 1.5 * t3 - 2.5 * t2 + 1.0
        c2 = -1.5 * t3 + 2.0 * t2 + 0.5 * t
        c3 = 0.5 * t3 - 0.5 * t2
        buf = self._buf if layers is None or not self.per_layer else self._buf[layers]
        torch.mul(p0, c0, out=buf)
        buf.add_(p1, alpha=c1).add_(p2, alpha=c2).add_(p3, alpha=c3)
        return buf

    def evaluate(self, positions, out: torch.Tensor) -> torch.Tensor:
        """positions: one float per group; out [1, num_ws, w_dim] is filled and returned."""
        assert out.shape[1] == self.num_ws, f"out must be [1, {self.num_ws}, w_dim], got {tuple(out.shape)}"
        for pos, layers in zip(positions, self.groups):
            out[0, layers] = self.point(float(pos), layers)
        return out
