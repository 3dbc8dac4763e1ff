"""Latent trajectories for evaluation: the live path driven by a clip's audio, and the no-sound baseline.

Sound-driven: exactly what `livevis render` does (LatentDriver + array_window_reader, every keyframe
computed, max_catchup=None), from a seeded random initial latent. Keyframe t sees the audio up to
the step boundary b_t = (t + 1) * step_samples. Frame t is the latent the live path shows at sample
b_{t+1} - 1, the last instant before keyframe t + 1 is due: keyframe t, fully blended in (the
interpolation is one step behind the newest keyframe; sampling just before the next boundary removes
that display delay from the comparison with the sound of step t).

Baseline: the same generator and initial latents, the sound model replaced by a random walk in W+
whose step length matches the sound-driven trajectories' mean step, with the same anchor leash.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from livevis.pipeline.initial import latent_from_seed
from livevis.pipeline.latent import LatentDriver, array_window_reader
from livevis.pipeline.modules import LiveModules


@dataclass
class Trajectory:
    ws: torch.Tensor                       # [T, num_ws, w_dim] the latent of each step's frame
    embeddings: torch.Tensor | None = None  # [T, D] the sound encoder's CLIP-space embedding per keyframe


def initial_latent(modules: LiveModules, seed: int, truncation_psi: float) -> torch.Tensor:
    """ws [1, num_ws, w_dim]: the seeded random start (live: `--seed`)."""
    return latent_from_seed(modules.mapping, modules.z_dim, seed, truncation_psi=truncation_psi, device=modules.device)


@torch.inference_mode()
def sound_trajectory(modules: LiveModules, audio: np.ndarray, steps: int, ws0: torch.Tensor,
                     anchor_leak: float = 0.02, pick: int = 0, params=None) -> Trajectory:
    """The live path on `audio` (float32 [N] at the bundle's rate) for `steps` keyframes. With a sound
    class model in the bundle it moves to the heard class's scene as the live path does (settings from
    `params`, default the live parameters' defaults), `pick` choosing each class's scene as the seed does."""
    from livevis.pipeline.scene import sound_scene_of

    scene = sound_scene_of(modules, params)
    driver = LatentDriver(mel=modules.mel, encoder=modules.encoder, recurrent_step=modules.recurrent_step,
                          hidden_init=modules.hidden_init, window_samples=modules.window_samples,
                          step_samples=modules.step_samples, device=modules.device, anchor_leak=anchor_leak,
                          max_catchup=None, sound_scene=scene)
    driver.reset(ws0, 0, pick=pick)
    reader = array_window_reader(audio, modules.window_samples)
    ws, emb = [], []
    for t in range(steps):
        shown = driver.advance((t + 2) * modules.step_samples - 1, reader)   # [1, num_ws, w_dim], reused
        ws.append(shown[0].clone())
        emb.append(driver.info.embedding[0].float().clone())
    return Trajectory(torch.stack(ws), torch.stack(emb))


def mean_step(trajectories: list[Trajectory], starts: list[torch.Tensor]) -> float:
    """Mean W+ distance between consecutive latents (the start counts as step -1)."""
    dists = []
    for traj, ws0 in zip(trajectories, starts):
        seq = torch.cat([ws0.to(traj.ws), traj.ws])                             # [T + 1, num_ws, w_dim]
        dists.append((seq[1:] - seq[:-1]).flatten(1).norm(dim=1))
    return float(torch.cat(dists).mean()) if dists else 0.0


@torch.inference_mode()
def random_walk(ws0: torch.Tensor, steps: int, step_size: float, seed: int, anchor_leak: float = 0.02) -> Trajectory:
    """A sound-free trajectory: each step moves step_size in a random W+ direction, then is pulled
    towards the start by anchor_leak (the leash the live path applies)."""
    g = torch.Generator().manual_seed(int(seed))
    anchor = ws0[0].float()
    cur = anchor.clone()                                                        # [num_ws, w_dim]
    out = []
    for _ in range(steps):
        d = torch.randn(anchor.shape, generator=g).to(anchor)
        cur = torch.lerp(cur + d * (step_size / float(d.norm().clamp_min(1e-12))), anchor, anchor_leak)
        out.append(cur.clone())
    return Trajectory(torch.stack(out))


@torch.inference_mode()
def synthesize(modules: LiveModules, ws: torch.Tensor, batch: int = 8) -> torch.Tensor:
    """ws [T, num_ws, w_dim] -> frames [T, 3, H, W] in [-1, 1] (CPU), through the live synthesis
    (eager modules: batches of any size)."""
    out = [modules.synthesis(ws[i:i + batch].to(modules.device)).float().clamp(-1, 1).cpu()
           for i in range(0, ws.shape[0], batch)]
    return torch.cat(out)


@torch.inference_mode()
def scene_trajectory(modules: LiveModules, audio: np.ndarray, steps: int, params, *, ws0: torch.Tensor | None = None,
                     bank=None, text_embed=None) -> Trajectory:
    """Any mode (react, retrieve, learned with its pulses) through the show's SceneDriver from ws0
    (or the params' seed). Frame t is taken the moment step t's audio has arrived ((t + 1) step
    samples: keyframe t is due then), so it has heard what the eval's onset strength of step t
    measures and nothing later. (Taken just before keyframe t + 1, as `sound_trajectory` is, the
    live analyzer would already have heard step t + 1 and every reaction would score one step early.)"""
    from livevis.pipeline.scene import SceneDriver

    scene = SceneDriver(modules, params, max_catchup=None, bank=bank, text_embed=text_embed)
    scene.reset(0, ws0)
    reader = array_window_reader(audio, modules.window_samples)
    ws, emb, prev = [], [], 0
    for t in range(steps):
        index = min((t + 1) * modules.step_samples, audio.shape[0])
        shown = scene.frame(index, audio[prev:index], reader)  # [1, num_ws, w_dim], reused
        prev = index
        ws.append(shown[0].clone())
        if scene.embedding is not None:
            emb.append(scene.embedding[0].float().clone())
    return Trajectory(torch.stack(ws), torch.stack(emb) if len(emb) == steps else None)


class ModeTrajectories:
    """Trajectories of one eval mode: learned = the sound model alone (`sound_trajectory`, what the
    video stage trained), react / retrieve = the show's SceneDriver in that mode."""

    def __init__(self, bundle, modules: LiveModules, mode: str | None, progress=None):
        from livevis.pipeline.scene import check_mode, default_mode

        self.mode = mode or default_mode(modules)
        check_mode(self.mode, modules, bundle.clip is not None)
        self.modules = modules
        self.bank = None
        if self.mode == "retrieve":
            from livevis.models.sample_bank import cached_sample_bank

            self.bank = cached_sample_bank(bundle, device=modules.device, progress=progress)

    def __call__(self, audio: np.ndarray, steps: int, ws0: torch.Tensor, anchor_leak: float, pick: int = 0) -> Trajectory:
        """`pick`: the start's seed, which picks each class's scene in the learned mode as `--seed` does live."""
        if self.mode == "learned":
            return sound_trajectory(self.modules, audio, steps, ws0, anchor_leak, pick=pick)
        from livevis.control import live_params

        params = live_params(self.mode)
        params.set("anchor_leash", anchor_leak)
        return scene_trajectory(self.modules, audio, steps, params, ws0=ws0, bank=self.bank)
