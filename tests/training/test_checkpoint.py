"""Checkpoints: exact round trip of models, optimisers, scalers and RNG; safe loading; rotation; atomicity."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch

from livevis.errors import LivevisError
from livevis.training.checkpoint import CheckpointDir, load_checkpoint, save_checkpoint


def _trained(seed: int = 0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(3):
        loss = model(torch.randn(5, 4)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model, opt


def _draws():
    return random.random(), float(np.random.rand()), float(torch.rand(()))


def test_round_trip_restores_weights_optimiser_scaler_rng_and_extra(tmp_path):
    model, opt = _trained(0)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    scaler._init_scale = 512.0  # a non-default value must survive the round trip
    path = save_checkpoint(tmp_path / "c.pt", models={"g": model}, optimizers={"g": opt}, scalers={"amp": scaler},
                           step=42, extra={"best": 0.5, "names": ["a", "b"]})
    expected = _draws()
    fresh, fresh_opt = _trained(1)
    fresh_scaler = torch.amp.GradScaler("cpu")
    _draws()  # move every generator on
    step, extra = load_checkpoint(path, models={"g": fresh}, optimizers={"g": fresh_opt}, scalers={"amp": fresh_scaler})
    assert step == 42 and extra == {"best": 0.5, "names": ["a", "b"]}
    assert _draws() == expected
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values()):
        assert torch.equal(a, b)
    sa, sb = opt.state_dict(), fresh_opt.state_dict()
    assert sa["param_groups"] == sb["param_groups"]
    for k in sa["state"]:
        for name in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(sa["state"][k][name], sb["state"][k][name])
    assert fresh_scaler.state_dict() == scaler.state_dict()


def test_file_loads_with_weights_only(tmp_path):
    model, opt = _trained()
    path = save_checkpoint(tmp_path / "c.pt", models={"m": model}, optimizers={"m": opt}, step=1)
    payload = torch.load(path, weights_only=True)  # no arbitrary objects inside
    assert payload["step"] == 1 and set(payload) >= {"models", "optimizers", "rng"}


def test_ddp_like_wrapper_saves_inner_names(tmp_path):
    model, opt = _trained()
    wrapper = torch.nn.Module()
    wrapper.module = model
    path = save_checkpoint(tmp_path / "c.pt", models={"m": wrapper}, optimizers={"m": opt}, step=1)
    assert all(not k.startswith("module.") for k in torch.load(path, weights_only=True)["models"]["m"])


def test_bad_checkpoints_are_user_errors(tmp_path):
    model, opt = _trained()
    with pytest.raises(LivevisError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt", models={"m": model}, optimizers={})
    (tmp_path / "junk.pt").write_bytes(b"garbage" * 10)
    with pytest.raises(LivevisError, match="cannot read checkpoint"):
        load_checkpoint(tmp_path / "junk.pt", models={"m": model}, optimizers={})
    path = save_checkpoint(tmp_path / "c.pt", models={"m": model}, optimizers={"m": opt}, step=3)
    with pytest.raises(LivevisError, match="no model state for d"):
        load_checkpoint(path, models={"d": model}, optimizers={})
    other = torch.nn.Linear(3, 3)
    with pytest.raises(LivevisError, match="does not fit this model"):
        load_checkpoint(path, models={"m": other}, optimizers={})


def test_failed_save_leaves_previous_file_and_no_temporaries(tmp_path):
    model, opt = _trained()
    path = save_checkpoint(tmp_path / "c.pt", models={"m": model}, optimizers={"m": opt}, step=1)
    before = path.read_bytes()
    with pytest.raises(Exception):
        save_checkpoint(path, models={"m": model}, optimizers={"m": opt}, step=2, extra={"bad": lambda: 0})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt"]


def test_directory_keeps_last_k_and_points_at_latest(tmp_path):
    model, opt = _trained()
    ckpts = CheckpointDir(tmp_path / "ck", keep=2)
    assert ckpts.latest() is None
    for step in (5, 10, 15):
        ckpts.save(step, models={"m": model}, optimizers={"m": opt})
    names = sorted(p.name for p in (tmp_path / "ck").iterdir())
    assert names == ["ckpt-00000010.pt", "ckpt-00000015.pt", "latest.json"]
    assert ckpts.latest().name == "ckpt-00000015.pt"
    assert json.loads((tmp_path / "ck" / "latest.json").read_text())["step"] == 15
    (tmp_path / "ck" / "ckpt-00000015.pt").unlink()
    with pytest.raises(LivevisError, match="missing"):
        ckpts.latest()
