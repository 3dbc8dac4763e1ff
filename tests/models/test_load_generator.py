"""livevis.models.load_generator: one entry point for NVlabs pickles, rosinality checkpoints, bundles."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

import livevis.models
from livevis.errors import LivevisError
from livevis.models import factory
from livevis.models.loading import load_generator
from tests.models.nvlabs_standin import nvlabs_kwargs_for, write_network_pickle
from tests.models.test_rosinality import rosinality_state
from tests.rigs.tiny_bundle import make_tiny_bundle


def _check_contract(G, resolution):
    z = torch.randn(2, G.z_dim)
    with torch.no_grad():
        ws = G.mapping(z, truncation_psi=1.0)
        assert ws.shape == (2, G.num_ws, G.w_dim)
        img = G.synthesis(ws)
        assert img.shape == (2, 3, resolution, resolution)
        assert torch.equal(img, G.synthesis(ws))  # const noise by default: deterministic
    assert G.img_resolution == resolution and not G.training


def test_lazy_reexport():
    assert livevis.models.load_generator is load_generator
    code = "import sys, livevis.models; print('livevis.models.loading' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


def test_nvlabs_stylegan2_pickle(tmp_path):
    torch.manual_seed(0)
    G = factory.build("stylegan2", {"z_dim": 8, "w_dim": 8, "img_resolution": 16, "channel_base": 64, "channel_max": 8,
                                    "mapping_layers": 1}).eval()
    path = write_network_pickle(tmp_path / "sg2.pkl", G, nvlabs_kwargs_for(G.config))
    loaded = load_generator(path)
    _check_contract(loaded, 16)
    ws = G.mapping(torch.randn(1, 8))
    assert torch.equal(loaded.synthesis(ws), G.synthesis(ws))


def test_nvlabs_stylegan3_pickle(tmp_path):
    pytest.importorskip("livevis.models.stylegan3")
    arch, cfg = factory.load_preset("stylegan3-t-tiny")
    torch.manual_seed(0)
    G = factory.build(arch, cfg).eval()
    mapping = {"num_layers": cfg.pop("mapping_layers"), "lr_multiplier": cfg.pop("mapping_lr_multiplier"),
               "w_avg_beta": cfg.pop("w_avg_beta")}
    path = write_network_pickle(tmp_path / "sg3.pkl", G, dict(cfg, mapping_kwargs=mapping))
    loaded = load_generator(path)
    assert type(loaded).__module__ == "livevis.models.stylegan3"
    _check_contract(loaded, cfg["img_resolution"])
    ws = G.mapping(torch.randn(1, G.z_dim), None)
    assert torch.equal(loaded.synthesis(ws), G.synthesis(ws))


def test_rosinality_checkpoint(tmp_path):
    for suffix in (".pt", ".pth"):
        path = tmp_path / f"g{suffix}"
        torch.save({"g_ema": rosinality_state(), "latent_avg": torch.zeros(8)}, path)
        _check_contract(load_generator(path), 16)


def test_bundle_directory(tmp_path):
    path = make_tiny_bundle(tmp_path / "tiny.bundle")
    _check_contract(load_generator(path), 32)


def test_missing_and_unknown_are_user_errors(tmp_path):
    with pytest.raises(LivevisError, match="no such file or directory"):
        load_generator(tmp_path / "nothing.pkl")
    (tmp_path / "model.onnx").write_bytes(b"\x00")
    with pytest.raises(LivevisError, match="unknown generator format '.onnx'"):
        load_generator(tmp_path / "model.onnx")
    (tmp_path / "broken.pkl").write_bytes(b"\x80\x04garbage")
    with pytest.raises(LivevisError):
        load_generator(tmp_path / "broken.pkl")
