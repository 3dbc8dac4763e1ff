"""Stage `video`: encoder + recurrent blocks + D_I/D_V on a frozen generator, ending in a bundle
that `livevis render` plays."""

from __future__ import annotations

import contextlib
import io
import json

import av
import numpy as np
import pytest
import torch

from livevis.models.bundle import load_bundle
from livevis.training.stages.video import onset_strength
from tests.rigs.tiny_data import metric_rows, tiny_data, tiny_generator, train  # noqa: F401 (fixtures)


def test_overfits_a_fixed_batch(tiny_data, tiny_generator, tmp_path):
    out = tmp_path / "run"
    code, err = train("video", "--data", tiny_data, "--out", out, "--preset", "tiny", "--steps", 20,
                      "--generator", tiny_generator, "--set", "fixed_batch=true", "--set", "sample_every=0",
                      "--set", "loss.w_adv_image=0", "--set", "loss.w_adv_video=0",
                      "--set", "loss.w_latent=0", "--set", "recurrent.linear_path=false",   # both tested below
                      # clean audio: whether 20 steps line the picture up with the onsets must not
                      # hang on which room, microphone and background the chain drew (tested below)
                      "--set", "audio_augment.p=0")
    assert code == 0, err
    rows = metric_rows(out)
    first, last = rows[0], rows[-1]
    assert last["loss_g"] < first["loss_g"] - 0.5, (first, last)
    assert last["clip_av"] < 0.5 * first["clip_av"]
    assert last["sync"] < 0.9 * first["sync"]          # picture changes line up with the audio's onsets (the physically informed sounds: a slower start than the old ones)
    assert last["clip_vv"] < first["clip_vv"]          # looks more like the clip's own frames
    assert all(np.isfinite(r["loss_d_video"]) for r in rows)


def test_pooled_pixel_term_alone_pulls_frames_toward_the_footage(tiny_data, tiny_generator, tmp_path):
    """The 8x8-pooled pixel loss on its own (beside the others it is a small share of the objective
    and need not fall within 20 steps on a random generator)."""
    out = tmp_path / "run"
    off = ["loss.w_clip_av=0", "loss.w_clip_at=0", "loss.w_sync=0", "loss.w_clip_vv=0", "loss.lambda_b=0",
           "loss.w_adv_image=0", "loss.w_adv_video=0", "loss.w_latent=0", "audio_augment.p=0",
           "fixed_batch=true", "sample_every=0"]
    code, err = train("video", "--data", tiny_data, "--out", out, "--preset", "tiny", "--steps", 12,
                      "--generator", tiny_generator, *[x for item in off for x in ("--set", item)])
    assert code == 0, err
    rows = metric_rows(out)
    assert rows[-1]["frame"] < 0.95 * rows[0]["frame"], [round(r["frame"], 4) for r in rows]


def test_the_encoder_hears_augmented_audio(tiny_data, tiny_generator, tmp_path):
    """Issue 13: with the presets' chain on, the sound inversion encoder hears augmented clips."""
    out = tmp_path / "run"
    code, err = train("video", "--data", tiny_data, "--out", out, "--preset", "tiny", "--steps", 3,
                      "--generator", tiny_generator, "--set", "sample_every=0")
    assert code == 0, err
    rows = metric_rows(out)
    assert all(r["audio_augmented"] > 0 for r in rows), [r["audio_augmented"] for r in rows]


def test_audio_then_video_run_ends_in_a_bundle_that_renders(tiny_data, tiny_generator, tmp_path):
    audio_run, video_run = tmp_path / "audio", tmp_path / "video"
    code, err = train("audio", "--data", tiny_data, "--out", audio_run, "--preset", "tiny", "--steps", 3)
    assert code == 0, err
    code, err = train("video", "--data", tiny_data, "--out", video_run, "--preset", "tiny", "--steps", 4,
                      "--generator", tiny_generator, "--init", audio_run, "--ckpt-every", 2,
                      "--set", "sample_every=2", "--set", "loss.adversarial=nonsaturating")
    assert code == 0, err
    config = json.loads((video_run / "config.json").read_text())
    assert config["init"] == str(audio_run) and config["clip"] == f"bundle:{audio_run}"
    assert config["loss"]["adversarial"] == "nonsaturating" and "lambda_b" in config["loss"]
    assert {p.name for p in (video_run / "samples").iterdir()} >= {"step0000002.png", "step0000002.mp4", "step0000004.mp4"}
    assert (video_run / "checkpoints/ckpt-00000004.pt").is_file()

    bundle = load_bundle(video_run / "bundle")
    for part in ("sound_encoder", "recurrent", "clip", "image_discriminator", "video_discriminator"):
        assert bundle.part(part) is not None, part
    assert [c.name for c in bundle.classes][:2] == ["thunderstorm", "rain"]
    prov = bundle.config["provenance"]
    assert set(prov["inputs"]) == {"data", "generator", "init", "clip"} and prov["stand_in"] is False
    # The video stage started from the audio run: same CLIP, and its encoder trunk was copied in.
    assert bundle.clip.embed_dim == json.loads((audio_run / "sound_encoder.json").read_text())["config"]["embed_dim"]
    ckpt = torch.load(video_run / "checkpoints/ckpt-00000004.pt", weights_only=True)["models"]
    assert torch.equal(bundle.recurrent.state_dict()["blocks.0.update.weight"], ckpt["recurrent"]["blocks.0.update.weight"])

    from livevis.cli import main

    sr = bundle.audio.sample_rate
    t = np.arange(int(1.5 * sr)) / sr
    wav = tmp_path / "beat.wav"
    _write_wav(wav, (0.4 * np.sin(2 * np.pi * 220 * t) * ((t % 0.5) < 0.1)).astype(np.float32), sr)
    mp4 = tmp_path / "out.mp4"
    with contextlib.redirect_stderr(io.StringIO()):
        assert main(["render", str(wav), "--out", str(mp4), "--model", str(video_run / "bundle"), "--fps", "10",
                     "--out-size", "32x32"]) == 0
    with av.open(str(mp4)) as f:
        frames = [fr.to_ndarray(format="rgb24") for fr in f.decode(video=0)]
    assert len(frames) == 15 and frames[0].shape[:2] == (32, 32)


def test_a_frozen_trunk_keeps_what_the_audio_stage_learned(tiny_data, tiny_generator, tmp_path):
    """encoder_trunk=frozen: the trunk, band statistics and embedding head (BatchNorm statistics too)
    leave the video stage as the audio stage made them, through sample grids; the offset head learns."""
    from safetensors.torch import load_file

    from livevis.training.stages.audio import ENCODER_WEIGHTS

    audio_run, video_run = tmp_path / "audio", tmp_path / "video"
    code, err = train("audio", "--data", tiny_data, "--out", audio_run, "--preset", "tiny", "--steps", 3,
                      "--set", "encoder.stats_width=16")
    assert code == 0, err
    code, err = train("video", "--data", tiny_data, "--out", video_run, "--preset", "tiny", "--steps", 4,
                      "--generator", tiny_generator, "--init", audio_run, "--set", "sample_every=2",
                      "--set", "encoder_trunk=frozen", "--ckpt-every", 1)
    assert code == 0, err
    before = load_file(str(audio_run / ENCODER_WEIGHTS))
    after = load_bundle(video_run / "bundle").part("sound_encoder").state_dict()
    trunk = [k for k in after if not k.startswith("offset_head.")]
    assert any(k.startswith("stats.") for k in trunk) and any("running_mean" in k for k in trunk)
    # compared in the bundle's weight dtype (an fp16 bundle rounds them): not moved by training
    moved = [k for k in trunk if not torch.equal(after[k].float(), before[k].to(after[k].dtype).float())]
    assert not moved, moved
    first = torch.load(sorted((video_run / "checkpoints").glob("*.pt"))[0], weights_only=True)["models"]["sound_encoder"]
    last = torch.load(sorted((video_run / "checkpoints").glob("*.pt"))[-1], weights_only=True)["models"]["sound_encoder"]
    assert not torch.equal(first["offset_head.weight"], last["offset_head.weight"])


def test_encoder_trunk_takes_train_or_frozen(tiny_data, tiny_generator, tmp_path):
    code, err = train("video", "--data", tiny_data, "--out", tmp_path / "run", "--preset", "tiny", "--steps", 1,
                      "--generator", tiny_generator, "--set", "encoder_trunk=thawed")
    assert code != 0 and "encoder_trunk must be train or frozen" in err and "Traceback" not in err


def _write_wav(path, samples: np.ndarray, sr: int) -> None:
    import wave

    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype(np.int16).tobytes())


def test_latent_targets_pull_the_trajectory_and_the_linear_path_speeds_it(tiny_data, tiny_generator, tmp_path):
    """The latent term alone: ws approach the bank latents of the real frames step after step, and
    faster with the recurrent blocks' linear path than through the GRU alone."""
    others = [x for k in ("w_clip_av", "w_clip_at", "lambda_b", "w_sync", "w_clip_vv", "w_frame", "w_adv_image", "w_adv_video")
              for x in ("--set", f"loss.{k}=0")]
    curves = {}
    for path in ("true", "false"):
        out = tmp_path / path
        code, err = train("video", "--data", tiny_data, "--out", out, "--preset", "tiny", "--steps", 20,
                          "--generator", tiny_generator, "--set", "fixed_batch=true", "--set", "sample_every=0",
                          *others, "--set", f"recurrent.linear_path={path}")
        assert code == 0, err
        curves[path] = [r["latent"] for r in metric_rows(out)]
    fast, slow = curves["true"], curves["false"]
    assert fast[0] == pytest.approx(slow[0], rel=1e-3)        # same start: the path begins at zero
    assert all(b < a for a, b in zip(fast, fast[1:]))
    assert fast[-1] < 0.75 * fast[0] and fast[-1] < slow[-1] - 0.03, curves


def test_discriminator_from_the_generator_bundle_and_the_w_spread_term(tiny_data, tmp_path):
    """image_discriminator=from_generator starts D_I as the generator stage's D (then trains it);
    the w_spread term is logged (losses.layer_spread is checked in tests/training/test_losses.py)."""
    gen_run = tmp_path / "gen"
    code, err = train("generator", "--data", tiny_data, "--out", gen_run, "--preset", "tiny", "--steps", 2,
                      "--set", "sample_every=0")
    assert code == 0, err
    gen_bundle = gen_run / "generator.bundle"
    out = tmp_path / "video"
    code, err = train("video", "--data", tiny_data, "--out", out, "--preset", "tiny", "--steps", 6,
                      "--generator", gen_bundle, "--set", "image_discriminator=from_generator",
                      "--set", "loss.w_spread=50", "--set", "fixed_batch=true", "--set", "sample_every=0",
                      "--set", "recurrent.update_scale=1.0")
    assert code == 0, err
    start = load_bundle(gen_bundle).image_discriminator.state_dict()
    trained = load_bundle(out / "bundle").image_discriminator.state_dict()
    assert start.keys() == trained.keys()                                   # the same network ...
    assert any(not torch.equal(start[k], trained[k]) for k in start)      # ... trained further
    assert all(np.isfinite(r["spread"]) for r in metric_rows(out))
    code, err = train("video", "--data", tiny_data, "--out", tmp_path / "bad", "--preset", "tiny", "--steps", 1,
                      "--generator", tmp_path / "nope.pkl", "--set", "image_discriminator=from_generator")
    assert code == 1 and "no such file" in err, err


def test_onset_strength_rises_on_a_click():
    from livevis.audio import log_mel

    sr, n = 16000, 16000
    quiet = np.random.default_rng(0).normal(0, 1e-3, n).astype(np.float32)
    click = quiet.copy()
    click[-800:-700] += 0.8                                   # an event in the last step of the window
    mel = torch.from_numpy(np.stack([log_mel(x, sr, 1024, 256, 80) for x in (quiet, click)]))
    s = onset_strength(mel, frames=7)
    assert s[1] > 3 * s[0]


@pytest.mark.parametrize("extra, message", [
    ((), "needs --generator"),
    (("--generator", "/nonexistent/g.pkl"), "--generator: no such file"),
    (("--generator", "BADPKL"), "--generator: cannot read network pickle"),
    (("--generator", "GEN", "--init", "/nonexistent/run"), "no sound_encoder.json"),
    (("--generator", "GEN", "--set", "loss.adversarial=wgan"), "loss.adversarial must be one of"),
    (("--generator", "GEN", "--set", "anchor_leak=1.5"), "anchor_leak must be in [0, 1)"),
    (("--generator", "GEN", "--set", "latent_bank.k=0"), "loss.w_latent needs latent_bank.size >= 1 and latent_bank.k >= 1"),
])
def test_video_errors_are_one_line(tiny_data, tiny_generator, tmp_path, extra, message):
    (tmp_path / "bad.pkl").write_bytes(b"not a pickle")
    extra = tuple({"GEN": str(tiny_generator), "BADPKL": str(tmp_path / "bad.pkl")}.get(x, x) for x in extra)
    code, err = train("video", "--data", tiny_data, "--out", tmp_path / "run", "--preset", "tiny", "--steps", 1, *extra)
    assert code == 1 and message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "run").exists()  # nothing to clean up before trying again
