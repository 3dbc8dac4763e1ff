"""NoiseGainSynthesis: gains of 1 are the const-noise synthesis; each gain scales its group's noise."""

import torch

from livevis.models import factory
from livevis.models.noise_gain import NoiseGainSynthesis, noise_layers
from livevis.pipeline.keyframe_path import layer_groups


def test_gains_scale_the_noise_of_their_layer_group():
    torch.manual_seed(0)
    g = factory.build("stylegan2", {"z_dim": 16, "w_dim": 16, "img_resolution": 32, "channel_base": 256,
                                    "channel_max": 16, "mapping_layers": 1}).eval()
    for layer, _ in noise_layers(g.synthesis):
        layer.noise_strength.data.fill_(0.5)  # trained generators have non-zero noise strengths
    wrapped = NoiseGainSynthesis(g.synthesis, layer_groups(g.num_ws)).eval()
    ws = g.mapping(torch.randn(1, 16))
    with torch.no_grad():
        base = g.synthesis(ws)
        assert torch.equal(wrapped(ws, torch.ones(3)), base)
        fine_off = wrapped(ws, torch.tensor([1.0, 1.0, 0.0]))
        coarse_up = wrapped(ws, torch.tensor([3.0, 1.0, 1.0]))
    assert not torch.equal(fine_off, base) and not torch.equal(coarse_up, base)
    assert sorted(set(wrapped.group_of)) == [0, 1, 2]  # every group owns some noise layers
    # StyleGAN3 has no noise inputs: nothing to wrap
    arch, cfg = factory.load_preset("stylegan3-t-tiny")
    assert noise_layers(factory.build(arch, cfg).synthesis) == []
