"""Stage `text-sound`: the Transformer learns the tokenizer's codes of each clip from its text, and
`--bundle` attaches the tokenizer and the model to a bundle with the same CLIP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from livevis.models import factory
from livevis.models.bundle import load_bundle, save_bundle
from livevis.training.clip_spec import load_clip
from livevis.training.data import ClipDataset
from livevis.training.stages.sound_tokens import load_tokenizer
from livevis.training.stages.text_sound import tokenize_clips
from tests.rigs.tiny_bundle import make_tiny_bundle
from tests.rigs.tiny_data import metric_rows, tiny_data, train  # noqa: F401 (fixtures)


@pytest.fixture(scope="module")
def tokens_run(tiny_data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tokens") / "tok"
    code, err = train("sound-tokens", "--data", tiny_data, "--out", out, "--preset", "tiny", "--steps", 20)
    assert code == 0, err
    return out


def bundle_with_clip(path: Path, clip_spec: str = "tiny") -> Path:
    """The tiny live bundle plus a tiny CLIP (what `generate` needs besides the sound parts)."""
    make_tiny_bundle(path)
    bundle = load_bundle(path)
    bundle.clip = load_clip(clip_spec)[0]
    bundle.config["clip"] = {"kind": "open_clip_config"}
    save_bundle(bundle, path)
    return path


def test_overfits_the_tiny_set_to_its_exact_tokens(tiny_data, tokens_run, tmp_path):
    out = tmp_path / "ts"
    code, err = train("text-sound", "--data", tiny_data, "--out", out, "--preset", "tiny", "--tokens", tokens_run,
                      "--set", "vary_text=false", "--set", "model.cond_drop=0", "--set", "model.dropout=0")
    assert code == 0, err
    rows = metric_rows(out)
    assert rows[-1]["loss"] < 0.1 * rows[0]["loss"] and rows[-1]["token_accuracy"] > 0.95
    record = json.loads((out / "text_sound.json").read_text())
    model = factory.build("text_sound", record["config"]).eval()
    model.load_state_dict(load_file(str(out / "text_sound.safetensors")))
    clip = load_clip(f"bundle:{out}")[0]
    tokenizer, fe, _ = load_tokenizer(tokens_run)
    train_set = ClipDataset(tiny_data, "train")
    codes = tokenize_clips(tokenizer, train_set, fe, "cpu")                 # [N, L]
    captions = [c["caption"] for c in train_set.clips]
    unique = [i for i, c in enumerate(captions) if captions.count(c) == 1]
    assert len(unique) >= 5
    for i in unique:
        with torch.no_grad():
            got = model.sample(clip.encode_text([captions[i]]), codes.shape[1], temperature=0.0, guidance=1.0)
        assert torch.equal(got[0], codes[i]), (i, got, codes[i])
    assert set(record["eval"]) >= {"val_cross_entropy", "val_token_accuracy"}


def test_attaches_to_a_bundle_with_its_clip_and_refuses_another(tiny_data, tokens_run, tmp_path):
    good = bundle_with_clip(tmp_path / "good.bundle")
    other = bundle_with_clip(tmp_path / "other.bundle", "tiny:5")
    before = load_bundle(good)
    assert before.text_sound is None and before.sound_tokenizer is None   # bundles without the parts still load
    code, err = train("text-sound", "--data", tiny_data, "--out", tmp_path / "a", "--preset", "tiny", "--steps", 3,
                      "--tokens", tokens_run, "--clip", f"bundle:{good}", "--bundle", other)
    assert code == 1 and "CLIP" in err and len([ln for ln in err.splitlines() if "error" in ln]) == 1, err
    assert load_bundle(other).text_sound is None                          # left as it was
    code, err = train("text-sound", "--data", tiny_data, "--out", tmp_path / "b", "--preset", "tiny", "--steps", 3,
                      "--tokens", tokens_run, "--clip", f"bundle:{good}", "--bundle", good)
    assert code == 0, err
    after = load_bundle(good)
    assert after.text_sound is not None and after.sound_tokenizer is not None
    run_weights = load_file(str(tmp_path / "b" / "text_sound.safetensors"))
    assert all(torch.equal(v, run_weights[k]) for k, v in after.text_sound.state_dict().items())
    tok, _, _ = load_tokenizer(tokens_run)
    assert all(torch.equal(v, tok.state_dict()[k]) for k, v in after.sound_tokenizer.state_dict().items())
    assert all(torch.equal(v, before.generator.state_dict()[k]) for k, v in after.generator.state_dict().items())
    assert "text_sound" in after.config["provenance"]


def test_needs_a_tokens_run(tiny_data, tmp_path):
    code, err = train("text-sound", "--data", tiny_data, "--out", tmp_path / "x", "--preset", "tiny", "--tokens", tmp_path)
    assert code == 1 and "sound tokenizer" in err, err
