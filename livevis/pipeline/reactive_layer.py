"""The reactive latent layer: music features -> latent motion, pulses, chroma blends, noise gains.

Evaluated every rendered frame, causal (it only sees features of audio up to the frame's index) and
deterministic in the audio (offline renders repeat exactly). It reads its settings from the live
parameter registry's snapshot each frame (livevis/control/catalog.py, group "reaction").

- motion: each layer group (coarse / mid / fine) advances along a loop of keyframe latents at a speed
  set by its band's smoothed energy (bass -> coarse, mid -> mid, high -> fine);
- pulse: an onset in band b pushes the latent along the next of band b's fixed directions, by the
  onset's strength, and the push decays with `pulse_decay`. Pushes add up (a roll of hits moves the
  picture on every hit, not only on the first);
- chroma: an optional blend over 12 pitch-class latents by the smoothed chroma;
- orbit: the middle and fine layers wander over a sphere of radius `orbit` (W standard deviations)
  around the scene, each frame as far as the mel onset strength asks, in a new random direction:
  every attack moves the picture in proportion to its strength, and nothing moves it back
  afterwards (a pulse's decay is motion on no sound);
- noise gains: per group, 1 + noise_amount x the group's decaying onset envelope (StyleGAN2 noise);
- beat jumps: every `jump_beats` beats every group glides one keyframe on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import torch

from livevis.pipeline.keyframe_path import layer_groups

N_BANDS = 3  # bass, mid, high: one per layer group
DIRECTIONS_PER_BAND = 8
MAX_PULSE = 3.0  # cap of the summed push, in W standard deviations (keeps rolls on the manifold)
MAX_ORBIT_STRENGTH = 4.0  # one block's onset strength counts at most this much (a click is not a jump)
JUMP_SECONDS = 0.25  # a beat jump's glide to the next keyframe


@dataclass
class WStats:
    """Where the generator's W lives: mean and per-dimension spread of mapping outputs."""

    mean: torch.Tensor  # [w_dim]
    std: torch.Tensor  # [w_dim]


@torch.inference_mode()
def w_stats(mapping, z_dim: int, *, truncation_psi: float = 1.0, samples: int = 512, seed: int = 12345,
            device: torch.device | str = "cpu") -> WStats:
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(samples, z_dim, generator=g).to(device)  # [S, z_dim]
    w = mapping(z, truncation_psi=truncation_psi)[:, 0].float()  # [S, w_dim]
    return WStats(mean=w.mean(0), std=w.std(0).clamp_min(1e-6))


class ReactiveLayer:
    """State of the reaction between frames. `step(...)` once per rendered frame, then read
    `positions`, `offset` ([1, num_ws, w_dim]: pulse + chroma) and `noise_gains` ([3])."""

    def __init__(self, num_ws: int, stats: WStats, *, seed: int = 0, chroma_latents: torch.Tensor | None = None):
        self.num_ws = int(num_ws)
        self.stats = stats
        w_dim = stats.std.shape[0]
        device = stats.std.device
        g = torch.Generator().manual_seed(1000003 + int(seed))
        dirs = torch.randn(N_BANDS + 1, DIRECTIONS_PER_BAND, w_dim, generator=g).to(device)  # [B + 1, M, w_dim]
        # Unit RMS per dimension, then W's own spread: a push of 1 is one standard deviation of W.
        dirs = dirs / dirs.pow(2).mean(-1, keepdim=True).sqrt() * stats.std
        self.directions = dirs[:N_BANDS]  # [B, M, w_dim] onset pushes per band
        self.flux_directions = dirs[N_BANDS]  # [M, w_dim] pushes by spectral flux
        # The orbit's walk: directions from their own stream (so the pushes above stay what they were
        # for a seed), restarted by reset() so an offline render repeats.
        self._orbit_seed = 2000003 + int(seed)
        self._orbit_gen = torch.Generator()
        self._orbit_draw = torch.zeros(w_dim)  # [w_dim] CPU scratch: the generator's draw
        self._orbit_step = torch.zeros(w_dim, device=device)  # [w_dim] scratch
        self.orbit_point = torch.zeros(w_dim, device=device)  # [w_dim] the walk's point, offset from the scene
        self._w_unit = float(stats.std.norm())  # length of a move of one standard deviation of W per dimension
        self.chroma_latents = None if chroma_latents is None else (chroma_latents - chroma_latents.mean(0)).float()  # [12, w_dim]
        self._pulse = torch.zeros(1, self.num_ws, w_dim, device=device)  # [1, num_ws, w_dim]
        self.offset = torch.zeros_like(self._pulse)  # [1, num_ws, w_dim] pulse + chroma, handed out (reused)
        self._cap = MAX_PULSE * float(stats.std.norm())
        self._coarse = layer_groups(self.num_ws)[0]
        self.reset()

    def reset(self) -> None:
        self.positions = np.zeros(N_BANDS, dtype=np.float64)  # per group, in keyframes
        self.energy = np.zeros(N_BANDS, dtype=np.float64)  # smoothed band energies
        self.envelope = np.zeros(N_BANDS, dtype=np.float64)  # decaying onset envelope per band
        self.noise_gains = np.ones(N_BANDS, dtype=np.float32)
        self.chroma = np.zeros(12, dtype=np.float64)
        self._next_dir = [0] * N_BANDS
        self._next_flux = 0
        self._orbit_gen.manual_seed(self._orbit_seed)
        self.orbit_point.zero_()
        self._beats = 0
        self._jump_left = 0.0
        self._last_phase: float | None = None
        self._pulse.zero_()
        self.offset.zero_()

    def step(self, dt: float, bands: np.ndarray, onsets: np.ndarray, beat_phase: float | None,
             chroma: np.ndarray | None, p: Mapping, flux: float = 0.0, onset_strength: float = 0.0) -> None:
        """Advance by dt seconds. bands [3] AGC energies, onsets [3] onset strengths since the last
        frame (0 = none), beat_phase in [0, 1) or None (no tempo), chroma [12] or None, flux the mean
        normalised spectral flux since the last frame, onset_strength the mean mel onset strength since
        the last frame (AudioFeatures.onset_strength); p is the parameter snapshot of this frame."""
        dt = max(float(dt), 0.0)
        gains = np.array([p["gain_bass"], p["gain_mid"], p["gain_high"]], dtype=np.float64)
        bands = np.nan_to_num(np.asarray(bands, dtype=np.float64)[:N_BANDS], nan=0.0, posinf=0.0)
        onsets = np.nan_to_num(np.asarray(onsets, dtype=np.float64)[:N_BANDS], nan=0.0, posinf=0.0)

        # motion
        tau = float(p["energy_smoothing"])
        a = 1.0 if tau <= 0 else 1.0 - math.exp(-dt / tau)
        self.energy += (np.clip(bands, 0.0, 2.0) - self.energy) * a
        speed = float(p["motion_base"]) + float(p["motion_speed"]) * gains * self.energy
        self.positions += speed * dt
        self._beat_jumps(beat_phase, int(p["jump_beats"]), dt)

        # pulse
        decay = math.exp(-dt / max(float(p["pulse_decay"]), 1e-3))
        self._pulse.mul_(decay)
        self.envelope *= decay
        strength = gains * np.clip(onsets, 0.0, 2.0)
        for b in range(N_BANDS):
            if strength[b] > 0.0:
                m = self._next_dir[b]
                self._next_dir[b] = (m + 1) % DIRECTIONS_PER_BAND
                self._pulse.add_(self.directions[b, m], alpha=float(p["pulse_gain"]) * float(strength[b]))
                self.envelope[b] = max(self.envelope[b], float(strength[b]))
        # Below the onset threshold the music still has attacks (strums, dense chords): a push in
        # proportion to the spectral flux keeps the motion following them too.
        push = float(p["pulse_flux"]) * max(float(flux), 0.0) * float(p["pulse_gain"])
        if push > 0.0 and math.isfinite(push):
            m = self._next_flux
            self._next_flux = (m + 1) % DIRECTIONS_PER_BAND
            self._pulse.add_(self.flux_directions[m], alpha=min(push, 2.0))
        norm = float(self._pulse.norm()) / max(self.num_ws, 1) ** 0.5  # per-layer norm
        if norm > self._cap:
            self._pulse.mul_(self._cap / norm)
        self.noise_gains[:] = 1.0 + float(p["noise_amount"]) * np.minimum(self.envelope, 2.0)

        # The coarse layers set the scene's layout and colours: `pulse_coarse` < 1 keeps pushes off
        # them (learned mode: the beat moves the picture, the sound model keeps the scene).
        self.offset.copy_(self._pulse)
        coarse = float(p["pulse_coarse"])
        if coarse != 1.0:
            self.offset[:, self._coarse].mul_(coarse)
        self._add_orbit(dt, onset_strength, p)

        # chroma
        amount = float(p["chroma_amount"])
        if chroma is not None:
            self.chroma += (np.asarray(chroma, dtype=np.float64)[:12] - self.chroma) * a
        if amount > 0.0 and self.chroma_latents is not None and self.chroma.sum() > 0:
            weights = torch.from_numpy(self.chroma.astype(np.float32)).to(self.offset.device)  # [12]
            self.offset.add_((weights @ self.chroma_latents) * amount)  # [w_dim] on every layer

    def _add_orbit(self, dt: float, strength: float, p: Mapping) -> None:
        """Walk the orbit's point by `orbit_speed` x strength x dt radians of its sphere (radius `orbit`)
        and add it to the middle and fine layers."""
        radius = float(p["orbit"])
        if radius <= 0.0:
            return
        strength = float(strength)
        if math.isfinite(strength) and strength > 0.0:
            angle = float(p["orbit_speed"]) * min(strength, MAX_ORBIT_STRENGTH) * dt
            self._orbit_walk(min(angle, 2.0) * radius * self._w_unit)
        # Back onto the sphere (also when the radius was just turned down); tensor ops only, so a
        # CUDA show does not wait for the device here.
        cap = radius * self._w_unit
        self.orbit_point.mul_((cap / self.orbit_point.norm().clamp_min(1e-12)).clamp_max(1.0))
        # Off the coarse layers: they hold the scene's layout and colours (validation: an orbit on
        # every layer took the picture off the scene at any radius that moved it visibly).
        self.offset[:, self._coarse.stop:].add_(self.orbit_point)

    def _orbit_walk(self, length: float) -> None:
        """Move the orbit's point by `length` in a random direction (W's own spread per dimension)
        across the radius, so the whole step is motion rather than a move along the radius."""
        torch.randn(self._orbit_draw.shape, generator=self._orbit_gen, out=self._orbit_draw)
        step, point = self._orbit_step, self.orbit_point
        step.copy_(self._orbit_draw).mul_(self.stats.std)
        # Drop the part along the radius (zero while the point is at the scene), then scale to `length`.
        step.sub_(point * ((step @ point) / (point @ point).clamp_min(1e-24)))
        step.mul_(length / step.norm().clamp_min(1e-12))
        point.add_(step)

    def _beat_jumps(self, phase: float | None, every: int, dt: float) -> None:
        if phase is not None and self._last_phase is not None and phase < self._last_phase - 0.5:
            self._beats += 1  # the phase wrapped: a beat fell in this frame
            if every > 0 and self._beats % every == 0:
                self._jump_left += 1.0
        self._last_phase = phase
        if self._jump_left > 0.0:
            move = min(self._jump_left, dt / JUMP_SECONDS)
            self.positions += move
            self._jump_left -= move
