"""StyleGAN2 synthesis with its constant noise inputs scaled per layer group: the reactive layer's
"noise" (onsets stir the fine texture that the noise inputs control).

`NoiseGainSynthesis(synthesis)(ws, gains)`: ws [B, num_ws, w_dim], gains [3] (coarse / mid / fine
groups of layers, as livevis.pipeline.keyframe_path.layer_groups splits the ws); gains of 1 give
exactly `synthesis(ws)` with const noise. An exportable module (the gains are an input), so every
engine backend runs it.
"""

from __future__ import annotations

import torch
from torch import nn


def noise_layers(synthesis) -> list[tuple[nn.Module, int]]:
    """(layer, index of its w) for every StyleGAN2 synthesis layer with a noise input, in the order
    synthesis(noise=...) takes them. Empty for generators without noise inputs (StyleGAN3)."""
    out = []
    w_idx = 0
    for res in getattr(synthesis, "block_resolutions", []):
        block = getattr(synthesis, f"b{res}")
        for name in ("conv0", "conv1"):
            layer = getattr(block, name, None)
            if layer is None:
                continue
            if layer.use_noise:
                out.append((layer, w_idx))
            w_idx += 1
    return out


class NoiseGainSynthesis(nn.Module):
    def __init__(self, synthesis, groups: list[slice]):
        super().__init__()
        self.synthesis = synthesis
        layers = noise_layers(synthesis)
        assert layers, "this synthesis network has no noise inputs"
        self.group_of = []
        for i, (layer, w_idx) in enumerate(layers):
            self.register_buffer(f"noise{i}", layer.noise_const.detach().clone()[None, None], persistent=False)  # [1, 1, r, r]
            self.group_of.append(next(g for g, s in enumerate(groups) if s.start <= w_idx < s.stop))

    def forward(self, ws: torch.Tensor, gains: torch.Tensor) -> torch.Tensor:
        noise = [getattr(self, f"noise{i}") * gains[g] for i, g in enumerate(self.group_of)]
        return self.synthesis(ws, noise=noise)


class NoiseGainCall:
    """synthesis(ws) -> img for callers that know nothing of noise: passes the shared gains tensor
    [3] (written in place by the scene driver each frame) to an engine of NoiseGainSynthesis."""

    def __init__(self, engine, gains: torch.Tensor):
        self.engine = engine
        self.gains = gains

    def __call__(self, ws: torch.Tensor) -> torch.Tensor:
        return self.engine(ws, self.gains)

    def __getattr__(self, name: str):
        # The engine's own facts (backend, from_cache, parity, ...) read through the wrapper.
        if name in ("engine", "gains"):
            raise AttributeError(name)
        return getattr(self.engine, name)
