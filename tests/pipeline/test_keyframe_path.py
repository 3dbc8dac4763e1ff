"""KeyframePath: passes through its keyframes (W or W+), continuous, per-group positions."""

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


def test_w_plus_keyframes_keep_their_layers():
    keys = torch.randn(4, 6, 8)  # [K, num_ws, w_dim]: a w per layer
    path = KeyframePath(keys, num_ws=6)
    assert torch.allclose(path.point(2.0), keys[2], atol=1e-6)
    assert torch.allclose(path.center, keys.mean(0))
    out = torch.zeros(1, 6, 8)
    path.evaluate([0.0, 1.0, 3.0], out)  # groups: layers 0-1, 2-3, 4-5
    assert torch.allclose(out[0, :2], keys[0, :2]) and torch.allclose(out[0, 2:4], keys[1, 2:4])
    assert torch.allclose(out[0, 4:], keys[3, 4:])
    path.evaluate([0.5, 0.5, 0.5], out)  # the same position everywhere: the path's full W+ point there
    assert torch.allclose(out[0], path.point(0.5), atol=1e-6)
