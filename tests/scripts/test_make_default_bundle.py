"""scripts/make_default_bundle.sh end to end at smoke size: the `cpu` profile read first, the
environment overriding it, every stage, eval, and the fp16 bundle with its provenance; UNTIL and
unknown profiles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from livevis.models.bundle import load_bundle

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "make_default_bundle.sh"
LIVEVIS = f"{sys.executable} -m livevis"

SMOKE = {  # overrides of the cpu profile: seconds instead of an hour
    "CLIPS": "18", "SIZE": "32", "CLIP_SECONDS": "1.5", "EVAL_CLIPS": "3", "WORKERS": "1",
    "GEN_STEPS": "2", "GEN_SET": "G.img_resolution=32 G.channel_base=256 G.channel_max=32 sample_every=0",
    "CLIP_STEPS": "2", "CLIP_SET": "model.image_size=32", "AUDIO_STEPS": "2",
    "VIDEO_STEPS": "2", "VIDEO_SET": "clip_steps=4 sample_every=0",
    "TOKENS_STEPS": "2", "TEXT_SOUND_STEPS": "2", "UP_CLIPS": "9", "UP_SIZE": "64", "UP_STEPS": "2",
    "UP_BATCH": "", "UP_SET": "",  # the tiny preset's x2 upscaler, not the profile's x4 at patch 128
    "REAL_SOUNDS": "",             # not the profile's Debian extraction (downloads); the smoke run passes a folder
    "SC_STEPS": "2", "SC_SET": "model.hidden=16 real_windows=0.5 scenes.bank=32 scenes.frames_per_clip=2",
    "VAL_RECORDINGS": "",          # no validation report at smoke size
}


def _recipe(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "OMP_NUM_THREADS": "1", "LIVEVIS": LIVEVIS, "PYTHON": sys.executable,
            "WORK": str(tmp_path / "work"), "OUT": str(tmp_path / "default"), **env}
    return subprocess.run(["bash", str(SCRIPT), *args], cwd=ROOT, env=full, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_cpu_profile_smoke_run_makes_a_playable_fp16_bundle(tmp_path):
    import numpy as np
    import soundfile as sf

    real = tmp_path / "real" / "rain"   # REAL_SOUNDS: a labelled recording the audio and video stages mix in
    real.mkdir(parents=True)
    sf.write(real / "rec.flac", (0.1 * np.random.default_rng(0).standard_normal(32000)).astype(np.float32), 16000)
    proc = _recipe(tmp_path, "cpu", **{**SMOKE, "REAL_SOUNDS": str(tmp_path / "real")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    for stage, p in (("audio", "0.5"), ("video", "0.3")):
        augment = json.loads((tmp_path / "work" / stage / "config.json").read_text())["audio_augment"]
        assert augment["real_dir"] == str(tmp_path / "real") and augment["real"] == float(p)
        assert augment["real_mix_db"] == ([-12, 0] if stage == "video" else [-30.0, 0.0])
    bundle = load_bundle(tmp_path / "default")
    prov = bundle.config["provenance"]
    assert bundle.config["weights_dtype"] == "float16" and bundle.name == "default"
    assert prov["recipe"] == "scripts/make_default_bundle.sh" and prov["stand_in"] is False
    assert prov["knobs"]["PRESET"] == "tiny" and prov["knobs"]["FPS"] == "10"      # from the profile
    assert prov["knobs"]["CLIPS"] == "18" and prov["knobs"]["GEN_STEPS"] == "2"    # the environment wins
    assert set(prov["stage_seconds"]) == {"generator", "clip", "audio", "video", "sound-classes", "sound-tokens",
                                          "text-sound", "upscaler"}
    classes = json.loads((tmp_path / "work" / "sound-classes" / "config.json").read_text())
    assert classes["real_windows"] == 0.5 and classes["audio_augment"]["real_dir"] == str(tmp_path / "real")
    result = json.loads((tmp_path / "work" / "eval.json").read_text())
    assert prov["eval"] == result and result["clips"] == 3
    assert bundle.image_discriminator is None and bundle.clip is not None and bundle.generator.img_resolution == 32
    # one recipe builds every part the default ships: the text-to-sound pair too
    assert bundle.sound_tokenizer is not None and bundle.text_sound is not None and bundle.upscaler is not None
    assert bundle.sound_classes is not None and bundle.sound_classes.scenes.abs().sum() > 0
    assert (tmp_path / "work" / "eval-generate.json").is_file()


def test_until_stops_after_the_named_stage_and_bad_profiles_are_refused(tmp_path):
    proc = _recipe(tmp_path, "cpu", UNTIL="prepare", **SMOKE)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "work" / "data" / "index.json").is_file()
    assert not (tmp_path / "work" / "generator").exists() and "stopping after prepare" in proc.stderr
    bad = _recipe(tmp_path, "nope")
    assert bad.returncode == 2 and "no profile 'nope'" in bad.stderr
    bad = _recipe(tmp_path, UNTIL="everything")
    assert bad.returncode == 2 and "UNTIL must be" in bad.stderr


def test_gen_bundle_skips_generator_training_and_must_exist(tmp_path):
    """GEN_BUNDLE: build the rest on an existing generator (e.g. the shipped default's) without training one."""
    proc = _recipe(tmp_path, "cpu", UNTIL="generator", GEN_BUNDLE=str(ROOT / "livevis" / "data" / "default"), **SMOKE)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "building on" in proc.stderr and "stopping after generator" in proc.stderr
    assert not (tmp_path / "work" / "generator").exists()
    bad = _recipe(tmp_path, "cpu", UNTIL="generator", GEN_BUNDLE=str(tmp_path / "missing"), **SMOKE)
    assert bad.returncode == 2 and "GEN_BUNDLE" in bad.stderr and "does not exist" in bad.stderr


@pytest.mark.slow
def test_base_bundle_remakes_only_the_sound_class_model_on_a_copy(tmp_path):
    """BASE_BUNDLE: every stage but sound-classes is kept from a finished bundle (here the shipped
    default), whose copy becomes the video stage's bundle; the original is left as it was."""
    from training.stages.common import path_sha256

    base = ROOT / "livevis" / "data" / "default"
    before = path_sha256(base)
    proc = _recipe(tmp_path, "cpu", UNTIL="sound-classes", BASE_BUNDLE=str(base), **SMOKE)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for stage in ("generator", "clip", "audio", "video"):
        assert f"{stage}: kept from {base}" in proc.stderr
    work = tmp_path / "work"
    assert not any((work / d).exists() for d in ("generator", "clip", "audio"))
    remade, shipped = load_bundle(work / "video" / "bundle"), load_bundle(base)
    assert remade.sound_classes is not None and remade.upscaler is not None and remade.text_sound is not None
    assert not torch_equal(remade.sound_classes.state_dict(), shipped.sound_classes.state_dict())
    assert torch_equal(remade.generator.state_dict(), shipped.generator.state_dict())
    assert path_sha256(base) == before
    bad = _recipe(tmp_path, "cpu", UNTIL="sound-classes", BASE_BUNDLE=str(tmp_path / "missing"), **SMOKE)
    assert bad.returncode == 2 and "BASE_BUNDLE" in bad.stderr and "not a bundle directory" in bad.stderr


def torch_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(a[k].shape == b[k].shape and bool((a[k] == b[k]).all()) for k in a)
