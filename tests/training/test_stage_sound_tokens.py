"""Stage `sound-tokens`: the VQ sound tokenizer reconstructs log-mel, uses its codebook, and its hybrid
contrastive terms (inter-modal audio <-> frame, intra-modal view <-> view) are learnt."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from livevis.models.bundle import AudioFrontend
from livevis.training.data import ClipDataset
from livevis.training.stages.sound_tokens import clip_mel, load_tokenizer
from tests.rigs.tiny_data import metric_rows, tiny_data, train  # noqa: F401 (fixtures)

# Measured on the tiny set (preset tiny, 60 steps, CPU): held-out L1 7.2 to 10.0 dB over runs (BLAS
# rounding changes the codebook's restarts), perplexity 17 of 32; predicting every clip with the
# training set's mean band levels scores 13.7 dB.
MAX_L1_DB = 11.0
ROOT = Path(__file__).resolve().parents[2]
MIN_PERPLEXITY = 8.0


def _mean_band_baseline(data) -> float:
    fe = AudioFrontend()
    tr, va = ClipDataset(data, "train"), ClipDataset(data, "val")
    mean = torch.stack([clip_mel(tr[i]["audio"], fe) for i in range(len(tr))]).mean((0, 2))   # [n_mels]
    return float(torch.stack([(clip_mel(va[i]["audio"], fe) - mean[:, None]).abs().mean() for i in range(len(va))]).mean())


def test_round_trip_reconstructs_mel_and_uses_the_codebook(tiny_data, tmp_path):
    out = tmp_path / "tok"
    code, err = train("sound-tokens", "--data", tiny_data, "--out", out, "--preset", "tiny")
    assert code == 0, err
    record = json.loads((out / "sound_tokenizer.json").read_text())
    ev = record["eval"]
    assert ev["rec_l1_db"] < MAX_L1_DB and ev["rec_l1_db"] < 0.85 * _mean_band_baseline(tiny_data), ev
    assert ev["perplexity"] > MIN_PERPLEXITY and ev["codes_used"] >= MIN_PERPLEXITY, ev
    assert "rec_l1_db" in err
    # The saved tokenizer is the last checkpoint's, and its own round trip gives the recorded error.
    tok, fe, _ = load_tokenizer(out)
    ckpt = torch.load(out / "checkpoints/ckpt-00000060.pt", weights_only=True)["models"]["sound_tokenizer"]
    assert all(torch.equal(v, ckpt[k]) for k, v in load_file(str(out / "sound_tokenizer.safetensors")).items())
    va = ClipDataset(tiny_data, "val")
    mel = clip_mel(va[0]["audio"], fe)[None]
    with torch.no_grad():
        recon = tok.decode_tokens(tok.tokenize(mel))[..., : mel.shape[-1]]
    assert float((recon - mel).abs().mean()) < MAX_L1_DB
    assert record["config"]["mel_std"] > 1.0 and record["audio"] == fe.to_dict()
    rows = metric_rows(out)
    assert rows[-1]["rec_l1_db"] < 0.6 * rows[0]["rec_l1_db"]
    assert any(r["adv_d"] > 0 for r in rows[20:]) and all(r["adv_d"] == 0 for r in rows[:20])  # adversarial from adv_start


def test_contrastive_terms_decrease(tiny_data, tmp_path):
    out = tmp_path / "c"
    code, err = train("sound-tokens", "--data", tiny_data, "--out", out, "--preset", "tiny", "--steps", 30,
                      "--set", "fixed_batch=true", "--set", "loss.adv_start=1000")
    assert code == 0, err
    rows = metric_rows(out)
    head = {k: sum(r[k] for r in rows[:5]) / 5 for k in ("nce_inter", "nce_intra")}
    tail = {k: sum(r[k] for r in rows[-5:]) / 5 for k in ("nce_inter", "nce_intra")}
    assert tail["nce_inter"] < 0.9 * head["nce_inter"], (head, tail)
    assert tail["nce_intra"] < 0.5 * head["nce_intra"], (head, tail)


def _cli(*argv, **env) -> subprocess.CompletedProcess:
    extra = {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "CUDA_VISIBLE_DEVICES": "", **env}
    return subprocess.run([sys.executable, "-m", "livevis", "train", *map(str, argv)], capture_output=True, text=True,
                          env={**os.environ, **extra}, timeout=300)


def test_killed_run_resumes_exactly(tiny_data, tmp_path):
    """EMA codebook, dead-code restarts (global RNG) and the discriminator all come back from the checkpoint."""
    base = ("sound-tokens", "--data", tiny_data, "--preset", "tiny", "--steps", 10, "--ckpt-every", 5,
            "--set", "loss.adv_start=3")
    full = _cli(*base, "--out", tmp_path / "full")
    assert full.returncode == 0, full.stderr
    killed = _cli(*base, "--out", tmp_path / "cut", LIVEVIS_TRAIN_FAULT="kill@7")
    assert killed.returncode == -signal.SIGKILL
    resumed = _cli(*base, "--out", tmp_path / "cut", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    want, got = metric_rows(tmp_path / "full"), metric_rows(tmp_path / "cut")
    assert [r["step"] for r in got] == list(range(10))
    assert all(abs(w[k] - g[k]) <= 1e-6 for w, g in zip(want, got) for k in w), (want[-1], got[-1])
