"""ReactiveLayer: onsets push and decay, energy sets the motion speed, silence stays still."""

import numpy as np
import torch

from livevis.control import live_params
from livevis.pipeline.reactive_layer import WStats, ReactiveLayer

DT = 1 / 60


def layer(**changes):
    p = live_params()
    p.set_many(changes)
    stats = WStats(mean=torch.zeros(16), std=torch.ones(16) * 0.5)
    return ReactiveLayer(num_ws=6, stats=stats, seed=1), p.snapshot()


def quiet():
    return np.zeros(3), np.zeros(3)


def test_onset_pushes_then_decays_with_pulse_decay():
    r, p = layer(pulse_decay=0.1, pulse_gain=1.0)
    bands, none = quiet()
    r.step(DT, bands, np.array([1.0, 0.0, 0.0]), None, None, p)
    pushed = float(r.offset.norm())
    assert pushed > 0.5  # about one W standard deviation per layer
    for _ in range(6):  # 0.1 s later: one time constant
        r.step(DT, bands, none, None, None, p)
    assert abs(float(r.offset.norm()) / pushed - np.exp(-1.0)) < 0.02


def test_consecutive_onsets_move_the_picture_each_time():
    r, p = layer()
    bands, _ = quiet()
    seen = []
    for _ in range(4):
        before = r.offset.clone()
        r.step(DT, bands, np.array([1.0, 0.0, 0.0]), None, None, p)
        seen.append(float((r.offset - before).norm()))
    assert min(seen) > 0.3 * max(seen)


def test_energy_drives_group_speed_and_silence_only_drifts():
    r, p = layer(motion_base=0.0, motion_speed=1.0, energy_smoothing=0.0)
    r.step(1.0, np.array([1.0, 0.0, 0.5]), np.zeros(3), None, None, p)
    assert np.allclose(r.positions, [1.0, 0.0, 0.5])
    r2, p2 = layer(motion_base=0.0)
    for _ in range(60):
        r2.step(DT, *quiet(), None, None, p2)
    assert np.allclose(r2.positions, 0.0) and float(r2.offset.abs().max()) == 0.0


def test_gains_scale_and_zero_gain_silences_a_band():
    r, p = layer(gain_bass=0.0)
    r.step(DT, np.zeros(3), np.array([1.0, 0.0, 0.0]), None, None, p)
    assert float(r.offset.abs().max()) == 0.0


def test_beat_jumps_every_n_beats():
    r, p = layer(jump_beats=2, motion_base=0.0, motion_speed=0.0)
    phases = [0.1, 0.5, 0.9, 0.1, 0.5, 0.9, 0.1]  # two wraps: one jump
    for ph in phases:
        r.step(DT, np.zeros(3), np.zeros(3), ph, None, p)
    for _ in range(30):
        r.step(DT, np.zeros(3), np.zeros(3), 0.5, None, p)
    assert np.allclose(r.positions, 1.0)


def test_orbit_moves_by_each_attack_and_stays_on_its_circle():
    """Each frame's move is the chord the attack's strength turns; with no sound nothing moves back."""
    r, p = layer(orbit=1.0, orbit_speed=6.0, pulse_gain=0.0)
    bands, none = quiet()
    moves, points = [], []
    for strength in (0.0, 1.0, 0.0, 0.0, 2.0, 0.5, 0.0):
        before = r.offset.clone()
        r.step(DT, bands, none, None, None, p, onset_strength=strength)
        moves.append(float((r.offset - before)[0, -1].norm()))
        points.append(r.offset[0, -1].clone())
    assert moves[0] == 0.0 and moves[2] == moves[3] == moves[6] == 0.0
    # A chord of angle a on a circle of radius r (per-dimension spread 0.5 over 16 dims: |u| = 2) is 2 r |u| sin(a / 2).
    for k, strength in ((1, 1.0), (4, 2.0), (5, 0.5)):
        angle = 6.0 * strength * DT
        assert abs(moves[k] - 2 * 2.0 * np.sin(angle / 2)) < 1e-4
    # The circle passes through the unmoved latent, and every point stays on it.
    u, v = r.orbit_plane
    centre = -u  # radius 1: offset = (cos a - 1) u + sin a v
    for point in points[1:]:
        assert abs(float((point - centre).norm()) - float(u.norm())) < 1e-4
    assert abs(float(u @ v)) < 1e-3 * float(u.norm()) ** 2


def test_orbit_off_or_silent_leaves_the_latent_and_keeps_off_the_coarse_layers():
    r, p = layer(orbit=0.0, orbit_speed=6.0, pulse_gain=0.0)
    r.step(DT, *quiet(), None, None, p, onset_strength=3.0)
    assert float(r.offset.abs().max()) == 0.0
    r, p = layer(orbit=0.5, orbit_speed=6.0, pulse_gain=0.0, pulse_coarse=1.0)
    r.step(DT, *quiet(), None, None, p, onset_strength=float("nan"))
    assert float(r.offset.abs().max()) == 0.0
    r.step(DT, *quiet(), None, None, p, onset_strength=1.0)
    norms = r.offset[0].norm(dim=-1)  # [num_ws]: 6 layers, the first two coarse
    assert float(norms[:2].max()) == 0.0 and float(norms[2:].min()) > 0.0
