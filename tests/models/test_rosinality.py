"""rosinality/stylegan2-pytorch checkpoints: name map coverage, parity with the original, safe loading."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from livevis.errors import LivevisError
from livevis.models.ops.upfirdn2d import setup_filter
from livevis.models.rosinality import config_from_rosinality_state, convert_state_dict, load_rosinality, name_map
from livevis.models.stylegan2 import Generator

GOLDEN = Path(__file__).parent / "golden"


def rosinality_state(size: int = 16, style_dim: int = 8, n_mlp: int = 2, width: int = 8, seed: int = 0) -> dict[str, torch.Tensor]:
    """A rosinality-format g_ema state dict (names and layouts of rosinality's Generator), random values."""
    g = torch.Generator().manual_seed(seed)
    rnd = lambda *shape: torch.randn(*shape, generator=g)  # noqa: E731
    sd: dict[str, torch.Tensor] = {}
    for i in range(1, n_mlp + 1):
        sd[f"style.{i}.weight"], sd[f"style.{i}.bias"] = rnd(style_dim, style_dim), rnd(style_dim)
    kernel = setup_filter([1, 3, 3, 1], gain=4)

    def styled(prefix, cin, cout, up):
        sd[f"{prefix}.conv.weight"] = rnd(1, cout, cin, 3, 3)
        sd[f"{prefix}.conv.modulation.weight"], sd[f"{prefix}.conv.modulation.bias"] = rnd(cin, style_dim), rnd(cin) + 1
        sd[f"{prefix}.noise.weight"], sd[f"{prefix}.activate.bias"] = rnd(1), rnd(cout)
        if up:
            sd[f"{prefix}.conv.blur.kernel"] = kernel.clone()

    def to_rgb(prefix, cin, up):
        sd[f"{prefix}.conv.weight"] = rnd(1, 3, cin, 1, 1)
        sd[f"{prefix}.conv.modulation.weight"], sd[f"{prefix}.conv.modulation.bias"] = rnd(cin, style_dim), rnd(cin) + 1
        sd[f"{prefix}.bias"] = rnd(1, 3, 1, 1)
        if up:
            sd[f"{prefix}.upsample.kernel"] = kernel.clone()

    sd["input.input"] = rnd(1, width, 4, 4)
    styled("conv1", width, width, False)
    to_rgb("to_rgb1", width, False)
    res, k, n = 8, 0, 1
    sd["noises.noise_0"] = rnd(1, 1, 4, 4)
    while res <= size:
        styled(f"convs.{2 * k}", width, width, True)
        styled(f"convs.{2 * k + 1}", width, width, False)
        to_rgb(f"to_rgbs.{k}", width, True)
        sd[f"noises.noise_{n}"], sd[f"noises.noise_{n + 1}"] = rnd(1, 1, res, res), rnd(1, 1, res, res)
        res, k, n = res * 2, k + 1, n + 2
    return sd


def test_golden_parity_with_original_code(tmp_path):
    """Fixture from rosinality's own model.py (tests/models/make_golden_sg2.py)."""
    t = load_file(str(GOLDEN / "sg2_rosinality32.safetensors"))
    path = tmp_path / "550000.pt"
    torch.save({"g_ema": {k[2:]: v for k, v in t.items() if k.startswith("R.")}, "latent_avg": t["latent_avg"]}, path)
    G = load_rosinality(path)
    assert isinstance(G, Generator) and G.img_resolution == 32 and G.num_ws == 8 and not G.training
    with torch.no_grad():
        assert (G.mapping(t["z"]) - t["ws"]).abs().max().item() <= 1e-5
        for fused in (False, True):
            assert (G.synthesis(t["ws"], fused_modconv=fused) - t["img"]).abs().max().item() <= 1e-3
        assert (G(t["z"], truncation_psi=0.5) - t["img_trunc"]).abs().max().item() <= 1e-3
    assert t["img"].abs().max() > 0.1


@pytest.mark.parametrize("size", ["256", "1024"])
def test_name_map_covers_real_rosinality_generator(size):
    real = json.loads((GOLDEN / "sg2_rosinality_names.json").read_text())[size]
    mapping = name_map(int(size), n_mlp=8)
    assert set(mapping) == set(real), sorted(set(mapping) ^ set(real))[:10]
    kernel = setup_filter([1, 3, 3, 1], gain=4)
    sd = {k: (kernel if k.endswith("kernel") else torch.zeros(shape, device="meta")) for k, shape in real.items()}
    cfg = config_from_rosinality_state(sd)
    assert (cfg.img_resolution, cfg.w_dim, cfg.mapping_layers) == (int(size), 512, 8)
    converted = convert_state_dict(sd, cfg.img_resolution, cfg.mapping_layers)
    with torch.device("meta"):
        G = Generator(cfg)
    ours = {k: tuple(v.shape) for k, v in G.state_dict().items() if not k.endswith("resample_filter") and k != "mapping.w_avg"}
    assert {k: tuple(v.shape) for k, v in converted.items()} == ours


def test_built_state_dict_loads_and_runs(tmp_path):
    sd = rosinality_state()
    path = tmp_path / "g.pt"
    torch.save({"g_ema": sd, "latent_avg": torch.zeros(8)}, path)
    G = load_rosinality(path)
    assert (G.img_resolution, G.num_ws, G.w_dim) == (16, 6, 8)
    assert torch.equal(G.synthesis.b8.conv0.weight, sd["convs.0.conv.weight"][0])
    assert torch.equal(G.synthesis.b16.conv1.noise_const, sd["noises.noise_4"][0, 0])
    assert torch.equal(G.synthesis.b4.torgb.bias, sd["to_rgb1.bias"].flatten())
    assert G.synthesis.b8.conv1.noise_strength.shape == ()
    assert G.config.conv_clamp is None
    img = G.synthesis(G.mapping(torch.randn(2, 8)))
    assert img.shape == (2, 3, 16, 16) and torch.isfinite(img).all()


def test_train_checkpoint_with_args_and_without_latent_avg(tmp_path):
    sd = rosinality_state()
    path = tmp_path / "100000.pt"
    torch.save({"g": sd, "d": {}, "g_ema": sd, "args": argparse.Namespace(size=16, latent=8), "ada_aug_p": 0.1}, path)
    G = load_rosinality(path)
    w = G.mapping.w_avg
    assert w.abs().sum() > 0  # estimated from the mapping network
    again = load_rosinality(path).mapping.w_avg
    assert torch.equal(w, again)  # deterministic estimate


def test_mismatches_are_named(tmp_path):
    sd = rosinality_state()
    del sd["convs.1.noise.weight"]
    torch.save({"g_ema": sd}, tmp_path / "missing.pt")
    with pytest.raises(LivevisError, match=r"missing tensors convs\.1\.noise\.weight"):
        load_rosinality(tmp_path / "missing.pt")
    sd = rosinality_state()
    sd["convs.0.extra"] = torch.zeros(1)
    torch.save({"g_ema": sd}, tmp_path / "extra.pt")
    with pytest.raises(LivevisError, match=r"unexpected tensors convs\.0\.extra"):
        load_rosinality(tmp_path / "extra.pt")
    sd = rosinality_state()
    sd["convs.0.conv.blur.kernel"] = torch.ones(4, 4)
    torch.save({"g_ema": sd}, tmp_path / "kernel.pt")
    with pytest.raises(LivevisError, match="blur kernel"):
        load_rosinality(tmp_path / "kernel.pt")


def test_bad_files_are_user_errors(tmp_path):
    with pytest.raises(LivevisError, match="no such file"):
        load_rosinality(tmp_path / "absent.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(LivevisError, match="cannot read rosinality checkpoint"):
        load_rosinality(tmp_path / "junk.pt")
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(LivevisError, match="no 'g_ema'"):
        load_rosinality(tmp_path / "other.pt")


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_code_in_checkpoint_is_refused_without_side_effect(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"g_ema": rosinality_state(), "latent_avg": _Evil(marker)}, tmp_path / "evil.pt")
    with pytest.raises(LivevisError, match="cannot read rosinality checkpoint"):
        load_rosinality(tmp_path / "evil.pt")
    assert not marker.exists()
