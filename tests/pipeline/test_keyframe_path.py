"""KeyframePath: passes through its keyframes, continuous, per-group positions."""

import torch

from livevis.pipeline.keyframe_path import KeyframePath, layer_groups


def test_layer_groups_cover_every_layer_once():
    for n in (1, 2, 10, 14, 18):
        groups = layer_groups(n)
        covered = [i for g in groups for i in range(n)[g]]
        assert covered == list(range(n))


def test_passes_through_keyframes_and_loops():
    keys = torch.randn(5, 8)
    path = KeyframePath(keys, num_ws=6)
    for i in range(5):
        assert torch.allclose(path.point(float(i)), keys[i], atol=1e-6)
        assert torch.allclose(path.point(float(i + 5)), keys[i], atol=1e-6)  # a loop


def test_continuous_and_groups_move_independently():
    keys = torch.randn(4, 8)
    path = KeyframePath(keys, num_ws=6)
    a, b = path.point(1.2).clone(), path.point(1.2001).clone()
    assert (a - b).abs().max() < 1e-2
    out = torch.zeros(1, 6, 8)
    path.evaluate([0.0, 1.0, 2.0], out)
    assert torch.allclose(out[0, 0], keys[0]) and torch.allclose(out[0, 2], keys[1]) and torch.allclose(out[0, 5], keys[2])
