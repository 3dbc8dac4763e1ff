"""Eval's trajectories: the live latent path (causal, deterministic) and the matched random walk."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from livevis.eval import generate
from livevis.models.bundle import load_bundle
from livevis.pipeline.modules import build_live_modules
from tests.rigs.tiny_bundle import tiny_bundle  # noqa: F401 (fixture)


@pytest.fixture(scope="module")
def modules(tiny_bundle):
    bundle = load_bundle(tiny_bundle)
    with torch.no_grad():  # make sound move the latent visibly (the rig's recurrent updates start near zero)
        for p in bundle.recurrent.parameters():
            p.mul_(30.0)
    return build_live_modules(bundle)


def test_sound_trajectory_is_causal_and_deterministic(modules):
    rng = np.random.default_rng(0)
    audio = rng.normal(0, 0.1, 16000).astype(np.float32)
    ws0 = generate.initial_latent(modules, 5, 0.7)
    a = generate.sound_trajectory(modules, audio, 8, ws0)
    b = generate.sound_trajectory(modules, audio, 8, ws0)
    assert torch.equal(a.ws, b.ws) and a.ws.shape == (8, modules.num_ws, modules.w_dim)
    assert a.embeddings.shape[0] == 8
    # Changing the sound after the boundary of keyframe 4 ((4 + 1) * step samples) leaves frames 0..4 alone.
    later = audio.copy()
    later[5 * modules.step_samples:] = rng.normal(0, 0.5, 16000 - 5 * modules.step_samples)
    c = generate.sound_trajectory(modules, later, 8, ws0)
    assert torch.equal(c.ws[:5], a.ws[:5]) and not torch.allclose(c.ws[5:], a.ws[5:])


def test_random_walk_matches_the_step_length_and_stays_leashed(modules):
    ws0 = generate.initial_latent(modules, 1, 0.7)
    walk = generate.random_walk(ws0, 20, step_size=0.5, seed=3, anchor_leak=0.0)
    assert generate.mean_step([walk], [ws0]) == pytest.approx(0.5, rel=1e-4)
    leashed = generate.random_walk(ws0, 400, step_size=0.5, seed=3, anchor_leak=0.1)
    free = generate.random_walk(ws0, 400, step_size=0.5, seed=3, anchor_leak=0.0)
    assert (leashed.ws[-1] - ws0[0]).norm() < 0.5 * (free.ws[-1] - ws0[0]).norm()
    frames = generate.synthesize(modules, walk.ws[:3])
    assert frames.shape == (3, 3, modules.resolution, modules.resolution) and frames.abs().max() <= 1


def test_scene_trajectory_frame_t_hears_nothing_after_step_t(modules):
    """The show's path (analyzer, pushes, orbit) must not hear step t + 1 in frame t: the eval pairs
    frame t's change with step t's onset strength."""
    from livevis.control import live_params

    rng = np.random.default_rng(1)
    audio = rng.normal(0, 0.05, 16000).astype(np.float32)
    ws0 = generate.initial_latent(modules, 5, 0.7)
    a = generate.scene_trajectory(modules, audio, 8, live_params("react"), ws0=ws0)
    # A loud burst from the end of step 4 on: frames 0..4 stay, later ones react.
    later = audio.copy()
    later[5 * modules.step_samples:] = rng.normal(0, 0.8, 16000 - 5 * modules.step_samples)
    b = generate.scene_trajectory(modules, later, 8, live_params("react"), ws0=ws0)
    assert torch.equal(b.ws[:5], a.ws[:5]) and not torch.allclose(b.ws[5:], a.ws[5:])
