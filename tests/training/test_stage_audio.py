"""Stage `audio`: the sound encoder learns to sit next to frozen CLIP image/text embeddings."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from livevis.models import factory
from livevis.training.clip_spec import load_clip
from tests.rigs.tiny_data import metric_rows, tiny_data, tiny_generator, train  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parents[2]


def test_overfits_a_fixed_batch_and_writes_its_encoder(tiny_data, tiny_generator, tmp_path):
    out = tmp_path / "run"
    code, err = train("audio", "--data", tiny_data, "--out", out, "--preset", "tiny", "--steps", 25,
                      "--set", "fixed_batch=true", "--generator", tiny_generator)
    assert code == 0, err
    rows = metric_rows(out)
    assert [int(r["step"]) for r in rows] == list(range(25))
    first, last = rows[0], rows[-1]
    assert last["loss"] < 0.5 * first["loss"], (first, last)
    for term in ("nce_audio_image", "nce_audio_text", "nce_audio_audio"):
        assert last[term] < first[term], term
    # Issue 13: the windows went through the recording chain (the stage counts those it changed),
    # with its speech/music backgrounds rendered once and cached beside the dataset.
    assert all(0.5 <= r["audio_augmented"] <= 1.0 for r in rows), [r["audio_augmented"] for r in rows]
    assert any(Path(tiny_data, "audio_backgrounds").glob("*.npy"))

    # Outputs: config, checkpoints, encoder weights + record, CLIP, evaluation.
    config = json.loads((out / "config.json").read_text())
    assert config["stage"] == "audio" and config["steps"] == 25 and config["fixed_batch"] is True
    record = json.loads((out / "sound_encoder.json").read_text())
    assert (record["config"]["num_ws"], record["config"]["w_dim"]) == (8, 64)      # from --generator
    encoder = factory.build("sound_encoder", record["config"])
    encoder.load_state_dict(load_file(str(out / "sound_encoder.safetensors")))
    ckpt = torch.load(out / "checkpoints/ckpt-00000025.pt", weights_only=True)["models"]["sound_encoder"]
    assert all(torch.equal(v, ckpt[k]) for k, v in encoder.state_dict().items())
    clip, _, _ = load_clip(f"bundle:{out}")
    assert clip.embed_dim == record["config"]["embed_dim"]
    metrics = json.loads((out / "eval.json").read_text())
    assert 0.0 <= metrics["zero_shot_accuracy"] <= 1.0 and 0.0 <= metrics["audio_to_image_r1"] <= 1.0
    assert metrics["val_clips"] >= 2 and "zero_shot_accuracy" in err
    assert record["eval"] == metrics


def test_audio_augmentation_is_configurable_and_changes_what_the_encoder_sees(tiny_data, tmp_path):
    """The same 2 steps with the chain off (p=0) train on the clean windows: other losses, no counter."""
    runs = {}
    for name, p in (("on", "0.8"), ("off", "0")):
        code, err = train("audio", "--data", tiny_data, "--out", tmp_path / name, "--preset", "tiny", "--steps", 2,
                          "--set", f"audio_augment.p={p}")
        assert code == 0, err
        runs[name] = metric_rows(tmp_path / name)
    assert all(r["audio_augmented"] > 0 for r in runs["on"])
    assert all("audio_augmented" not in r for r in runs["off"])
    assert runs["on"][0]["nce_audio_audio"] != runs["off"][0]["nce_audio_audio"]
    config = json.loads((tmp_path / "on" / "config.json").read_text())
    assert config["audio_augment"]["gain_db"] == 20.0 and config["audio_augment"]["p"] == 0.8


def test_real_recordings_of_each_class_reach_the_encoder(tiny_data, tmp_path):
    """audio_augment.real: windows of a class with a recording hear it (the stage counts them)."""
    import numpy as np
    import soundfile as sf

    from livevis.training.data import ClipDataset

    classes = ClipDataset(tiny_data, "train").classes
    real = tmp_path / "real" / classes[0]
    real.mkdir(parents=True)
    sf.write(real / "rec.flac", (0.1 * np.random.default_rng(0).standard_normal(32000)).astype(np.float32), 16000)
    code, err = train("audio", "--data", tiny_data, "--out", tmp_path / "run", "--preset", "tiny", "--steps", 2,
                      "--set", "audio_augment.real=1.0", "--set", f"audio_augment.real_dir={tmp_path / 'real'}")
    assert code == 0, err
    rows = metric_rows(tmp_path / "run")
    assert sum(r["audio_real"] for r in rows) > 0
    assert all(r["audio_real"] < 1.0 for r in rows)      # the other classes have no recording
    bad, err = train("audio", "--data", tiny_data, "--out", tmp_path / "bad", "--preset", "tiny", "--steps", 2,
                     "--set", "audio_augment.real=1.0", "--set", f"audio_augment.real_dir={tmp_path / 'missing'}")
    assert bad != 0 and "no such folder" in err and "Traceback" not in err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    return {**env, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "CUDA_VISIBLE_DEVICES": "", **extra}


@pytest.mark.slow
def test_two_gloo_ranks_match_one_process(tiny_data, tmp_path):
    """Data-parallel audio stage: InfoNCE over the gathered global batch and batch norm over all
    ranks make 2 processes x 4 clips train exactly like 1 process x 8 clips."""
    common = ["train", "audio", "--data", str(tiny_data), "--preset", "tiny", "--steps", "3", "--batch", "8",
              "--device", "cpu"]
    single = subprocess.run([sys.executable, "-m", "livevis.cli", *common, "--out", str(tmp_path / "one")],
                            cwd=ROOT, env=_env(LIVEVIS_TRAIN_DUMP=str(tmp_path / "w1")), capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stderr[-2000:]
    launch = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc_per_node=2",
              "--master_addr=127.0.0.1", f"--master_port={_free_port()}", "-m", "livevis.cli"]
    ddp = subprocess.run([*launch, *common, "--out", str(tmp_path / "two")], cwd=ROOT,
                         env=_env(LIVEVIS_TRAIN_DUMP=str(tmp_path / "w2")), capture_output=True, text=True, timeout=400)
    if ddp.returncode != 0 and ("gloo" in ddp.stderr.lower() and "connect" in ddp.stderr.lower()):
        pytest.skip(f"gloo could not start here: {ddp.stderr.strip().splitlines()[-1]}")
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    one = load_file(str(tmp_path / "w1/rank0.safetensors"))
    r0 = load_file(str(tmp_path / "w2/rank0.safetensors"))
    r1 = load_file(str(tmp_path / "w2/rank1.safetensors"))
    assert set(one) == set(r0) == set(r1)
    for k, v in one.items():
        assert torch.equal(r0[k], r1[k]), f"{k} differs across ranks"
        assert torch.allclose(r0[k].float(), v.float(), atol=2e-5, rtol=1e-4), f"{k}: 2 ranks differ from 1 process"
    rows_one, rows_two = metric_rows(tmp_path / "one"), metric_rows(tmp_path / "two")
    assert len(rows_one) == len(rows_two) == 3
    assert rows_one[0]["loss"] != rows_one[-1]["loss"]  # the weights compared did train
    for a, b in zip(rows_one, rows_two):
        for k in a:
            assert abs(a[k] - b[k]) < 1e-5, k
