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


def test_orbit_moves_by_each_attack_and_stays_within_its_sphere():
    """Each frame's move is the arc the attack's strength asks for; with no sound nothing moves back."""
    r, p = layer(orbit=1.0, orbit_speed=6.0, pulse_gain=0.0)
    unit = 0.5 * 16 ** 0.5  # a move of one W standard deviation (0.5) in each of the 16 dimensions
    moves, radii = [], []
    for strength in (0.0, 1.0, 0.0, 0.0, 2.0, 0.5, 0.0):
        before = r.offset.clone()
        r.step(DT, *quiet(), None, None, p, onset_strength=strength)
        moves.append(float((r.offset - before)[0, -1].norm()))
        radii.append(float(r.offset[0, -1].norm()))
    assert moves[0] == 0.0 and moves[2] == moves[3] == moves[6] == 0.0
    # From the scene, a move across the radius: the point's distance grows as sqrt(sum of squared steps).
    steps = [6.0 * s * DT * unit for s in (1.0, 2.0, 0.5)]
    for k, step in zip((1, 4, 5), steps):
        assert abs(moves[k] - step) < 1e-4 * unit
    assert abs(radii[5] - float(np.sqrt(np.sum(np.square(steps))))) < 1e-4 * unit
    # Many attacks: the point reaches the sphere and stays on it, still moving with every attack.
    for _ in range(200):
        before = r.offset.clone()
        r.step(DT, *quiet(), None, None, p, onset_strength=1.0)
    assert abs(float(r.offset[0, -1].norm()) - unit) < 1e-4 * unit
    assert float((r.offset - before)[0, -1].norm()) > 0.05 * unit


def test_orbit_repeats_after_reset_and_turning_it_down_pulls_the_point_in():
    r, p = layer(orbit=2.0, orbit_speed=20.0, pulse_gain=0.0)
    runs = []
    for _ in range(2):
        r.reset()
        path = []
        for k in range(40):
            r.step(DT, *quiet(), None, None, p, onset_strength=float(k % 3))
            path.append(r.offset.clone())
        runs.append(torch.stack(path))
    assert torch.equal(runs[0], runs[1])  # an offline render repeats
    p = dict(p, orbit=0.5)
    r.step(DT, *quiet(), None, None, p, onset_strength=0.0)
    assert float(r.offset[0, -1].norm()) <= 0.5 * 0.5 * 16 ** 0.5 * (1 + 1e-5)


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
