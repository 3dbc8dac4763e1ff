"""RecurrentBlocks: group split, GRU-from-Linear equivalence, step/forward parity, causality."""

import pytest
import torch

from livevis.errors import LivevisError
from livevis.models import factory
from livevis.models.recurrent import (LinearGRUCell, RecurrentBlocks, RecurrentConfig, default_groups,
                                      validate_groups)

TINY = dict(num_ws=8, w_dim=16, input_dim=24, hidden_dim=20, update_scale=0.5)


def _trained_like(config: RecurrentConfig, seed: int = 0) -> RecurrentBlocks:
    """Blocks with trained-sized weights (the small init would make every test trivially pass)."""
    torch.manual_seed(seed)
    rec = RecurrentBlocks(config).eval()
    for blk in rec.blocks:
        torch.nn.init.normal_(blk.update.weight, std=0.2)
        torch.nn.init.normal_(blk.update.bias, std=0.05)
    return rec


def test_default_groups():
    assert default_groups(16) == ((0, 3), (3, 6), (6, 16))  # the paper's coarse / mid / fine
    for n in range(1, 33):
        groups = default_groups(n)
        assert validate_groups(groups, n) == groups
        assert len(groups) == min(n, 3)
    assert default_groups(14) == ((0, 3), (3, 5), (5, 14))
    assert default_groups(18) == ((0, 3), (3, 7), (7, 18))


@pytest.mark.parametrize("groups", [[[0, 3], [4, 8]], [[0, 3], [3, 7]], [[0, 0], [0, 8]], [[3, 8], [0, 3]],
                                    [[0, 9]], []])
def test_bad_groups_rejected(groups):
    with pytest.raises(LivevisError, match="groups"):
        RecurrentConfig(**{**TINY, "groups": groups})


def test_config_resolves_and_round_trips_groups():
    cfg = RecurrentConfig.from_dict({**TINY, "groups": None})
    assert cfg.groups == default_groups(8)
    again = RecurrentConfig.from_dict(cfg.to_dict())
    assert again == cfg and again.to_dict()["groups"] == [list(g) for g in default_groups(8)]
    custom = RecurrentConfig.from_dict({**TINY, "groups": [[0, 2], [2, 8]]})
    assert RecurrentBlocks(custom).num_groups == 2


def test_linear_gru_cell_matches_torch_gru_cell():
    torch.manual_seed(0)
    ours, ref = LinearGRUCell(12, 10), torch.nn.GRUCell(12, 10)
    with torch.no_grad():
        ours.x_gates.weight.copy_(ref.weight_ih)
        ours.x_gates.bias.copy_(ref.bias_ih)
        ours.h_gates.weight.copy_(ref.weight_hh)
        ours.h_gates.bias.copy_(ref.bias_hh)
    x, h = torch.randn(5, 12), torch.randn(5, 10)
    torch.testing.assert_close(ours(x, h), ref(x, h), atol=1e-6, rtol=1e-5)


def test_shapes_and_init_hidden():
    rec = RecurrentBlocks(RecurrentConfig(**TINY))
    h = rec.init_hidden(3)
    assert h.shape == (3, 3, 20) and h.abs().sum() == 0 and h.device == next(rec.parameters()).device
    ws, off = torch.randn(3, 8, 16), torch.randn(3, 8, 16)
    ws1, h1 = rec.step(ws, h, off)
    assert ws1.shape == (3, 8, 16) and h1.shape == (3, 3, 20)
    assert rec(ws, torch.randn(3, 5, 8, 16)).shape == (3, 5, 8, 16)


def test_untrained_update_is_small():
    rec = RecurrentBlocks(RecurrentConfig(**TINY))
    ws = torch.randn(2, 8, 16)
    seq = torch.cat([ws[:, None], rec(ws, torch.randn(2, 10, 8, 16))], dim=1)  # [B, 1 + T, num_ws, w_dim]
    per_step = (seq[:, 1:] - seq[:, :-1]).abs()
    assert per_step.max() < 0.05, "an untrained block must barely move the latents per keyframe"
    assert per_step.max() > 0


def test_step_reproduces_forward_over_64_steps():
    rec = _trained_like(RecurrentConfig(**TINY))
    torch.manual_seed(1)
    ws0 = torch.randn(2, 8, 16)                # [B, num_ws, w_dim]
    offsets = torch.randn(2, 64, 8, 16) * 0.5  # [B, T, num_ws, w_dim]
    with torch.no_grad():
        seq = rec(ws0, offsets)
        ws, hidden = ws0, rec.init_hidden(2)
        for t in range(64):
            ws, hidden = rec.step(ws, hidden, offsets[:, t])
            assert (ws - seq[:, t]).abs().max() <= 1e-5, f"step {t} diverges from forward"
    assert (seq[:, -1] - seq[:, 0]).abs().max() > 1e-2  # the trajectory really moves


def test_forward_with_leash_is_the_live_drivers_step_and_lerp():
    rec = _trained_like(RecurrentConfig(**TINY))
    torch.manual_seed(2)
    ws0 = torch.randn(2, 8, 16)                # [B, num_ws, w_dim]
    offsets = torch.randn(2, 12, 8, 16)        # [B, T, num_ws, w_dim]
    with torch.no_grad():
        seq = rec(ws0, offsets, anchor_leak=0.25)
        free = rec(ws0, offsets)
        ws, hidden = ws0, rec.init_hidden(2)
        for t in range(12):  # LatentDriver._keyframe: step, then lerp towards the anchor
            ws, hidden = rec.step(ws, hidden, offsets[:, t])
            ws = torch.lerp(ws, ws0, 0.25)
            assert (ws - seq[:, t]).abs().max() <= 1e-5, f"step {t} diverges from the live driver"
    # the leash keeps the trajectory nearer its anchor than the free run
    assert (seq - ws0[:, None]).norm() < (free - ws0[:, None]).norm()


def test_forward_is_causal():
    rec = _trained_like(RecurrentConfig(**TINY))
    ws0, offsets = torch.randn(1, 8, 16), torch.randn(1, 12, 8, 16)
    t0 = 5
    perturbed = offsets.clone()
    perturbed[:, t0:] += torch.randn_like(perturbed[:, t0:])
    with torch.no_grad():
        a, b = rec(ws0, offsets), rec(ws0, perturbed)
    torch.testing.assert_close(a[:, :t0], b[:, :t0], atol=0, rtol=0)  # past untouched, bit for bit
    assert (a[:, t0] - b[:, t0]).abs().max() > 1e-4                  # offsets[:, t] feeds ws_seq[:, t]


def test_groups_update_only_their_ws():
    """Each block reads and writes its own ws slice: an offset in the fine group leaves coarse ws alone."""
    cfg = RecurrentConfig(**TINY)
    rec = _trained_like(cfg)
    start, end = cfg.groups[-1]
    ws, hidden = torch.randn(1, 8, 16), rec.init_hidden(1)
    off = torch.zeros(1, 8, 16)
    off2 = off.clone()
    off2[:, start:end] = 1.0
    with torch.no_grad():
        a, ha = rec.step(ws, hidden, off)
        b, hb = rec.step(ws, hidden, off2)
    torch.testing.assert_close(a[:, :start], b[:, :start], atol=0, rtol=0)
    assert (a[:, start:] - b[:, start:]).abs().max() > 1e-4
    torch.testing.assert_close(ha[:, :-1], hb[:, :-1], atol=0, rtol=0)


@pytest.mark.parametrize("which", ["ws", "hidden", "offset"])
def test_wrong_shapes_are_clear_errors(which):
    rec = RecurrentBlocks(RecurrentConfig(**TINY))
    args = {"ws": torch.zeros(1, 8, 16), "hidden": rec.init_hidden(1), "offset": torch.zeros(1, 8, 16)}
    args[which] = torch.zeros(1, 7, 16) if which != "hidden" else torch.zeros(1, 2, 20)
    with pytest.raises(LivevisError, match=which):
        rec.step(args["ws"], args["hidden"], args["offset"])
    with pytest.raises(LivevisError, match="offsets"):
        rec(torch.zeros(1, 8, 16), torch.zeros(1, 4, 8, 15))


def test_live_preset():
    arch, cfg = factory.load_preset("recurrent-live")
    rec = factory.build(arch, cfg)
    assert isinstance(rec, RecurrentBlocks)
    assert rec.config.num_ws == 14 and rec.config.groups == default_groups(14)
    # Bundle writers override num_ws for their generator: the preset's split follows (groups: null).
    cfg["num_ws"] = 16
    assert factory.build(arch, cfg).config.groups == ((0, 3), (3, 6), (6, 16))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (CPU path is covered above)")
def test_cuda_step_matches_cpu():
    rec = _trained_like(RecurrentConfig(**TINY))
    ws0, offsets = torch.randn(1, 8, 16), torch.randn(1, 16, 8, 16)
    with torch.no_grad():
        want = rec(ws0, offsets)
        gpu = rec.to("cuda")
        assert gpu.init_hidden(1).device.type == "cuda"
        got = gpu(ws0.cuda(), offsets.cuda()).cpu()
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


def test_backprop_through_time_reaches_all_weights_and_offsets():
    rec = RecurrentBlocks(RecurrentConfig(**TINY))
    ws0 = torch.randn(2, 8, 16)
    offsets = torch.randn(2, 6, 8, 16, requires_grad=True)
    target = torch.randn(2, 6, 8, 16)
    loss = (rec(ws0, offsets) - target).square().mean()
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in rec.parameters())
    assert offsets.grad[:, 0].abs().sum() > 0  # the first offset influences later steps' loss


def test_linear_path_starts_silent_and_keeps_old_weights_loadable():
    plain = _trained_like(RecurrentConfig(**TINY))
    with_path = RecurrentBlocks(RecurrentConfig(**TINY, linear_path=True)).eval()
    extra = set(with_path.state_dict()) - set(plain.state_dict())
    assert extra == {f"blocks.{g}.{k}" for g in range(3) for k in ("linear.weight", "linear.bias")}
    # Bundles saved before linear_path existed hold exactly the plain keys, and load as before.
    with_path.load_state_dict(plain.state_dict(), strict=False)
    ws0, offsets = torch.randn(2, 8, 16), torch.randn(2, 5, 8, 16)
    with torch.no_grad():
        assert torch.equal(with_path(ws0, offsets), plain(ws0, offsets))   # zero-initialised path adds nothing


def test_linear_path_can_pull_the_latent_to_where_the_sound_says():
    """With the GRU's update silenced and the path set to -I, each step moves ws half way to -offset:
    the pull towards a sound's latent is one matrix, reachable from any starting latent."""
    rec = RecurrentBlocks(RecurrentConfig(**TINY, linear_path=True)).eval()
    with torch.no_grad():
        for blk in rec.blocks:
            blk.update.weight.zero_()
            blk.linear.weight.copy_(-torch.eye(16))
    target = torch.randn(1, 8, 16)
    offsets = (-target)[:, None].expand(1, 30, 8, 16)
    for start in (torch.randn(1, 8, 16), torch.randn(1, 8, 16) * 5):
        with torch.no_grad():
            seq = rec(start, offsets)                                       # ws_t = ws_{t-1} - 0.5 (ws_{t-1} - target)
        assert torch.allclose(seq[:, 0], 0.5 * (start + target), atol=1e-6)
        assert torch.allclose(seq[:, -1], target, atol=1e-5)
    grads = torch.autograd.grad(rec(start, offsets).sum(), [b.linear.weight for b in rec.blocks])
    assert all(g.abs().sum() > 0 for g in grads)
