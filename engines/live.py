"""The three modules the live path compiles, with example inputs shaped from a bundle."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from livevis.engines.wrap import wrap_method

EXAMPLE_SEED = 7


@dataclass
class LiveModule:
    name: str  # "sound_encoder" | "recurrent" | "synthesis"
    module: nn.Module
    inputs: tuple[torch.Tensor, ...]


def live_modules(bundle, device: torch.device | str = "cpu") -> list[LiveModule]:
    """Sound encoder (mel -> emb, w_offset), recurrent step ((ws, hidden, offset) -> (ws, hidden)) and
    synthesis (ws -> img) of a loaded bundle, with seeded inputs in their live ranges. Parts the bundle
    lacks are left out."""
    device = torch.device(device)
    gen = torch.Generator(device="cpu").manual_seed(EXAMPLE_SEED)
    g = bundle.generator
    num_ws, w_dim = g.num_ws, g.w_dim
    with torch.no_grad():
        if hasattr(g, "mapping") and getattr(g, "z_dim", 0):
            z = torch.randn(1, g.z_dim, generator=gen).to(device)
            c_dim = int(getattr(g, "c_dim", 0) or 0)
            c = torch.eye(c_dim, device=device)[:1] if c_dim else None  # conditional: the first class
            ws = g.mapping(z, c)  # [1, num_ws, w_dim], the distribution synthesis sees live
        else:
            ws = torch.randn(1, num_ws, w_dim, generator=gen).to(device)
    assert ws.shape == (1, num_ws, w_dim), f"ws {tuple(ws.shape)} != [1, {num_ws}, {w_dim}]"
    out: list[LiveModule] = []
    enc = bundle.sound_encoder
    if enc is not None:
        c = enc.config
        # log-mel in dB as power_to_db gives it: around -40 with ~20 dB spread.
        mel = (torch.randn(1, c.n_mels, c.num_frames, generator=gen) * 20.0 - 40.0).to(device)  # [1, n_mels, frames]
        out.append(LiveModule("sound_encoder", enc, (mel,)))
    rec = bundle.recurrent
    if rec is not None:
        hidden = rec.init_hidden(1)  # [1, G, H]
        offset = (torch.randn(1, num_ws, w_dim, generator=gen) * 0.1).to(device)  # [1, num_ws, w_dim]
        out.append(LiveModule("recurrent", wrap_method(rec, "step"), (ws.clone(), hidden, offset)))
    from livevis.models.noise_gain import NoiseGainSynthesis, noise_layers
    from livevis.pipeline.keyframe_path import layer_groups

    if noise_layers(g.synthesis):
        # StyleGAN2: the noise inputs scaled per layer group are an input, so the reaction can stir them.
        gains = torch.ones(3, device=device)  # [coarse, mid, fine]
        out.append(LiveModule("synthesis", NoiseGainSynthesis(g.synthesis, layer_groups(num_ws)).to(device).eval(),
                              (ws.clone(), gains)))
    else:
        out.append(LiveModule("synthesis", g.synthesis, (ws.clone(),)))
    return out
