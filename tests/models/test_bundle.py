"""Bundle format: round trips (fp32, fp16), strict tensor checks, corrupt files, atomic saves."""

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from livevis.errors import LivevisError
from livevis.models import bundle as bmod
from livevis.models.bundle import AudioFrontend, Bundle, bundle_sha256, load_bundle, read_config, save_bundle
from tests.rigs.tiny_parts import TINY_AUDIO, full_bundle, run_parts, tiny_bundle


@pytest.fixture
def saved(tmp_path):
    b = tiny_bundle()
    save_bundle(b, tmp_path / "tiny.bundle")
    return b, tmp_path / "tiny.bundle"


def _rewrite(file, edit):
    tensors = load_file(str(file))
    edit(tensors)
    save_file(tensors, str(file))


def test_round_trip_identical_outputs(saved):
    original, path = saved
    assert sorted(p.name for p in path.iterdir()) == [
        "config.json", "generator.safetensors", "recurrent.safetensors", "sound_encoder.safetensors"
    ]
    loaded = load_bundle(path)
    assert loaded.path == path
    assert not loaded.generator.training
    before, after = run_parts(original), run_parts(loaded)
    assert before.keys() == after.keys()
    for key in before:
        assert torch.equal(before[key], after[key]), key
    assert loaded.audio == TINY_AUDIO
    assert [c.name for c in loaded.classes] == ["rain", "fire"]
    assert loaded.is_stand_in
    doc = json.loads((path / "config.json").read_text())
    assert doc["format"] == "livevis-bundle" and doc["version"] == 1
    assert doc["generator"]["arch"] == "stylegan2"
    assert doc["generator"]["config"] == original.generator.config.to_dict()
    assert doc["weights_dtype"] == "float32"
    assert doc["provenance"]["livevis_version"] and doc["provenance"]["created"]
    assert "image_discriminator" not in doc and "clip" not in doc


def test_fp16_storage_loads_as_fp32(saved, tmp_path):
    original, path32 = saved
    path16 = save_bundle(original, tmp_path / "half.bundle", weights_dtype=torch.float16)
    with safe_open(str(path16 / "generator.safetensors"), "pt") as f:
        assert f.get_tensor("synthesis.b4.const").dtype == torch.float16
    size = lambda p: sum(f.stat().st_size for f in p.glob("*.safetensors"))  # noqa: E731
    assert size(path16) < 0.6 * size(path32)
    loaded = load_bundle(path16)
    assert read_config(path16)["weights_dtype"] == "float16"
    assert all(p.dtype == torch.float32 for p in loaded.generator.parameters())
    before, after = run_parts(original), run_parts(loaded)
    for key in before:
        scale = before[key].abs().max().item() + 1e-6
        assert (before[key] - after[key]).abs().max().item() <= 2e-2 * scale, key


@torch.no_grad()
def test_every_part_round_trips(tmp_path):
    original = full_bundle()
    path = save_bundle(original, tmp_path / "full.bundle", weights_dtype=torch.float16)
    names = sorted(p.name for p in path.glob("*.safetensors"))
    assert names == sorted(f"{p}.safetensors" for p in bmod.PARTS)
    doc = read_config(path)
    assert doc["clip"]["kind"] == "open_clip_config" and doc["clip"]["model_cfg"]["embed_dim"] == 16
    loaded = load_bundle(path)
    img = torch.rand(2, 3, 16, 16) * 2 - 1  # [B, 3, H, W]
    clip_before, clip_after = original.clip.encode_image(img), loaded.clip.encode_image(img)
    assert (clip_before - clip_after).abs().max() < 2e-2
    text = ["a photo of rain"]
    assert (original.clip.encode_text(text) - loaded.clip.encode_text(text)).abs().max() < 2e-2
    for part in ("image_discriminator", "video_discriminator", "sound_classes"):
        a, b = getattr(original, part).state_dict(), getattr(loaded, part).state_dict()
        assert a.keys() == b.keys()
        for key in a:
            assert torch.allclose(a[key].float(), b[key], atol=1e-2, rtol=1e-2), (part, key)
    # A damaged CLIP file is named like any other part.
    _rewrite(path / "clip.safetensors", lambda t: t.pop(sorted(t)[0]))
    with pytest.raises(LivevisError, match=r"clip\.safetensors: missing tensor"):
        load_bundle(path)


def test_generator_only_bundle(tmp_path):
    b = tiny_bundle(generator_only=True)
    path = save_bundle(b, tmp_path / "g.bundle")
    loaded = load_bundle(str(path))
    assert loaded.sound_encoder is None and loaded.recurrent is None and loaded.clip is None
    assert torch.equal(run_parts(b)["img"], run_parts(loaded)["img"])


def test_sha256_tracks_content(saved, tmp_path):
    original, path = saved
    digest = bundle_sha256(path)
    assert digest == bundle_sha256(path) and len(digest) == 64
    with torch.no_grad():
        original.generator.synthesis.b4.const.add_(1.0)
    other = save_bundle(original, tmp_path / "changed.bundle")
    assert bundle_sha256(other) != digest


def test_missing_tensor_named(saved):
    _, path = saved
    _rewrite(path / "generator.safetensors", lambda t: t.pop("synthesis.b4.const"))
    with pytest.raises(LivevisError, match=r"generator\.safetensors: missing tensor 'synthesis\.b4\.const'"):
        load_bundle(path)


def test_unexpected_tensor_named(saved):
    _, path = saved
    _rewrite(path / "recurrent.safetensors", lambda t: t.__setitem__("blocks.9.extra", torch.zeros(3)))
    with pytest.raises(LivevisError, match=r"recurrent\.safetensors: unexpected tensor 'blocks\.9\.extra'"):
        load_bundle(path)


def test_wrong_shape_named(saved):
    _, path = saved
    _rewrite(path / "sound_encoder.safetensors", lambda t: t.__setitem__("embed_head.bias", torch.zeros(99)))
    with pytest.raises(LivevisError, match=r"sound_encoder\.safetensors: tensor 'embed_head\.bias' has shape \[99\], expected \[16\]"):
        load_bundle(path)


def test_truncated_safetensors(saved):
    _, path = saved
    file = path / "generator.safetensors"
    file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])
    with pytest.raises(LivevisError, match=r"generator\.safetensors: corrupt safetensors") as info:
        load_bundle(path)
    assert "\n" not in str(info.value)


def test_missing_and_stray_weight_files(saved):
    _, path = saved
    (path / "recurrent.safetensors").rename(path / "clip.safetensors")
    with pytest.raises(LivevisError, match=r"clip\.safetensors: weights file for a part config\.json does not declare"):
        load_bundle(path)
    (path / "clip.safetensors").unlink()
    with pytest.raises(LivevisError, match=r"recurrent\.safetensors: weights file missing"):
        load_bundle(path)


def _edit_config(path, edit):
    doc = json.loads((path / "config.json").read_text())
    edit(doc)
    (path / "config.json").write_text(json.dumps(doc))


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d["generator"]["config"].__setitem__("bogus", 1), r"generator: StyleGAN2Config: unknown key\(s\) bogus"),
        (lambda d: d["recurrent"]["config"].__setitem__("hidden", 3), r"recurrent: RecurrentConfig: unknown key\(s\) hidden"),
        (lambda d: d.__setitem__("format", "something-else"), r"not a livevis bundle"),
        (lambda d: d.__setitem__("version", 99), r"unsupported bundle version 99"),
        (lambda d: d.__setitem__("extra", {}), r"unknown key\(s\) extra"),
        (lambda d: d["generator"].__setitem__("arch", "sound_encoder"), r"generator arch 'sound_encoder' is not one of"),
        (lambda d: d["audio"].__setitem__("hop_length", 0), r"hop_length must be a positive number"),
        (lambda d: d["audio"].__setitem__("n_bins", 0), r"AudioFrontend: unknown key\(s\) n_bins"),
        (lambda d: d.__setitem__("classes", [{"name": "x"}]), r"ClassPrompt: missing key\(s\) prompt"),
        (lambda d: d.__setitem__("weights_dtype", "int8"), r"weights_dtype must be one of"),
        (lambda d: d.__setitem__("clip", {"kind": "magic"}), r"unknown clip kind 'magic'"),
        (lambda d: d.pop("generator"), r"no 'generator' part"),
    ],
)
def test_bad_config_rejected(saved, edit, message):
    _, path = saved
    _edit_config(path, edit)
    with pytest.raises(LivevisError, match=message) as info:
        load_bundle(path)
    assert "config.json" in str(info.value)


def test_bad_json(saved):
    _, path = saved
    (path / "config.json").write_text('{"format": "livevis-bundle", ')
    with pytest.raises(LivevisError, match=r"config\.json: unreadable JSON"):
        load_bundle(path)


def test_not_a_bundle(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(LivevisError, match="no config.json"):
        load_bundle(tmp_path / "empty")
    (tmp_path / "net.pkl").write_bytes(b"\x80\x04N.")
    with pytest.raises(LivevisError, match="livevis models import"):
        load_bundle(tmp_path / "net.pkl")
    with pytest.raises(LivevisError, match="no such file"):
        load_bundle(tmp_path / "nothing" / "here.bundle")


def test_bad_device(saved):
    _, path = saved
    with pytest.raises(LivevisError, match="device"):
        load_bundle(path, device="nonsense")


def test_save_is_atomic(saved, monkeypatch):
    original, path = saved
    digest = bundle_sha256(path)
    import safetensors.torch

    calls = []

    def failing_save(tensors, filename, metadata=None):
        calls.append(filename)
        if len(calls) == 2:
            raise OSError("disk full")
        return save_file(tensors, filename, metadata=metadata)

    monkeypatch.setattr(safetensors.torch, "save_file", failing_save)
    with torch.no_grad():
        original.generator.synthesis.b4.const.zero_()
    with pytest.raises(OSError, match="disk full"):
        save_bundle(original, path)
    # The old bundle is untouched and no temporary directories are left next to it.
    assert bundle_sha256(path) == digest
    assert sorted(p.name for p in path.parent.iterdir()) == ["tiny.bundle"]


def test_save_rejects_unknown_config_keys(tmp_path):
    b = tiny_bundle()
    b.config["ws_split"] = [3, 3]
    with pytest.raises(LivevisError, match=r"unknown key\(s\) ws_split"):
        save_bundle(b, tmp_path / "x.bundle")
    assert not (tmp_path / "x.bundle").exists()


def test_save_never_clobbers_other_things(tmp_path, saved):
    original, path = saved
    precious = tmp_path / "documents"
    precious.mkdir()
    (precious / "thesis.txt").write_text("years of work")
    (tmp_path / "file.txt").write_text("x")
    for target in (precious, tmp_path / "file.txt"):
        with pytest.raises(LivevisError, match="is not a livevis bundle; refusing to overwrite"):
            save_bundle(original, target)
    assert (precious / "thesis.txt").read_text() == "years of work"
    (tmp_path / "empty").mkdir()
    save_bundle(original, tmp_path / "empty")  # an empty directory or an old bundle is fine
    save_bundle(original, path)
    assert load_bundle(tmp_path / "empty").name == "tiny"


def test_audio_frontend_validation():
    assert AudioFrontend().frames == 1 + (16000 - 1024) // 256
    with pytest.raises(LivevisError, match="fmin < fmax"):
        AudioFrontend(fmin=9000.0)
    with pytest.raises(LivevisError, match="exceeds n_fft"):
        AudioFrontend(hop_length=2048)
    with pytest.raises(LivevisError, match="shorter than n_fft"):
        AudioFrontend(window_seconds=0.01)


def test_bundle_new_validates_classes():
    g = tiny_bundle(generator_only=True).generator
    with pytest.raises(LivevisError, match="unknown key"):
        Bundle.new(g, name="x", description="y", classes=[{"name": "a", "prompt": "b", "extra": 1}])
    assert bmod.PARTS[0] == "generator"


# ---------------------------------------------------------------------------------------------
# the shipped default (trained by scripts/make_default_bundle.sh; its eval is in tests/eval)


def test_shipped_default_is_the_recipes_trained_bundle():
    from livevis.models.resolve import default_bundle_path, resolve_model

    path = resolve_model(None)
    assert path == resolve_model("default") == default_bundle_path()
    doc = read_config(path)
    prov = doc["provenance"]
    assert prov["stand_in"] is False and prov["recipe"] == "scripts/make_default_bundle.sh"
    assert set(prov["knobs"]) >= {"SEED", "CLIPS", "SIZE", "GEN_STEPS", "VIDEO_STEPS"}   # the recipe's settings as run
    assert set(prov["stage_seconds"]) == {"generator", "clip", "audio", "video", "sound-classes", "sound-tokens",
                                          "text-sound", "upscaler"} and prov["hardware"]["name"]
    result = prov["eval"]                                   # what `livevis eval` measured when it was made
    assert result["semantic_accuracy"] > result["baseline"]["semantic_accuracy"] + 0.2
    assert result["sync_r"] > result["baseline"]["sync_r"]
    assert doc["weights_dtype"] == "float16" and doc["name"] == "default"
    assert "clip" in doc and "image_discriminator" not in doc and "video_discriminator" not in doc
    # every part the recipe builds: the output stage's upscaler and the text-to-sound pair too
    assert {"upscaler", "sound_tokenizer", "text_sound", "sound_classes"} <= set(doc)
    assert [c["name"] for c in doc["classes"]] == [
        "thunderstorm", "rain", "waterfall", "fire_crackling", "wind", "underwater_bubbling", "volcano",
        "splashing_water", "calm",
    ]
    assert sum(f.stat().st_size for f in path.iterdir()) < 60e6   # the weight budget


def test_recipe_profile_is_what_made_the_shipped_default():
    """One of scripts/default-bundle-*.env (`make_default_bundle.sh PROFILE`) holds exactly the knobs the
    shipped bundle records, so the documented command regenerates it."""
    from pathlib import Path

    from livevis.models.resolve import default_bundle_path

    prov = read_config(default_bundle_path())["provenance"]
    shipped = dict(prov["knobs"])
    built_on = shipped.pop("GEN_BUNDLE", "")
    matching = []
    for profile in sorted((Path(__file__).resolve().parents[2] / "scripts").glob("default-bundle-*.env")):
        lines = [ln for ln in profile.read_text().splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        knobs_file = dict(ln.split("=", 1) for ln in lines)
        if built_on and {k: knobs_file.get(k) for k in prov["generator_from"]["knobs"]} != prov["generator_from"]["knobs"]:
            continue   # built on an earlier default's generator: that generator came from this profile's GEN_* knobs
        if {k: knobs_file.get(k, "") for k in shipped} == shipped:
            matching.append(profile.name)
    assert matching, f"no scripts/default-bundle-*.env holds the shipped knobs {shipped}"


@torch.no_grad()
def test_shipped_default_runs_one_live_step():
    from livevis.audio.mel import log_mel

    b = load_bundle("default")
    assert not b.is_stand_in and b.clip is not None
    a, gen = b.audio, b.generator
    R = gen.img_resolution
    samples = torch.from_numpy(__import__("numpy").random.default_rng(0).standard_normal(a.window_samples).astype("float32"))
    mel = log_mel(samples * 0.1, a.sample_rate, a.n_fft, a.hop_length, a.n_mels, a.fmin, a.fmax).unsqueeze(0)
    assert mel.shape == (1, a.n_mels, a.frames)
    emb, offset = b.sound_encoder(mel)  # [1, D], [1, num_ws, w_dim]
    assert emb.shape == (1, b.clip.embed_dim) and offset.shape == (1, gen.num_ws, gen.w_dim)
    ws = gen.mapping(torch.randn(1, gen.z_dim, generator=torch.Generator().manual_seed(0)))
    ws_next, hidden = b.recurrent.step(ws, b.recurrent.init_hidden(1), offset)
    img = gen.synthesis(ws_next, noise_mode="const")
    assert img.shape == (1, 3, R, R) and torch.isfinite(img).all()
    assert not torch.equal(ws_next, ws)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@torch.no_grad()
def test_shipped_default_on_cuda():
    b = load_bundle("default", device="cuda")
    gen = b.generator
    assert next(gen.parameters()).device.type == "cuda"
    a = b.audio
    mel = torch.full((1, a.n_mels, a.frames), -40.0, device="cuda")
    _, offset = b.sound_encoder(mel)
    ws = gen.mapping(torch.zeros(1, gen.z_dim, device="cuda"))
    ws_next, _ = b.recurrent.step(ws, b.recurrent.init_hidden(1), offset)
    img = gen.synthesis(ws_next)
    cpu = load_bundle("default")
    ws_cpu, _ = cpu.recurrent.step(ws.cpu(), cpu.recurrent.init_hidden(1), cpu.sound_encoder(mel.cpu())[1])
    assert (img.cpu() - cpu.generator.synthesis(ws_cpu)).abs().max() < 1e-2


def test_cuda_without_cuda_is_a_user_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(LivevisError, match="cannot use device 'cuda'"):
        load_bundle("default", device="cuda")


def test_open_clip_pretrained_reference(tmp_path, monkeypatch):
    from livevis.models import clip as clipmod

    b = tiny_bundle()
    b.config["clip"] = {"kind": "open_clip_pretrained", "name": "ViT-B-32", "pretrained": "openai"}
    path = save_bundle(b, tmp_path / "ref.bundle")
    assert not (path / "clip.safetensors").exists()
    assert read_config(path)["clip"] == {"kind": "open_clip_pretrained", "name": "ViT-B-32", "pretrained": "openai"}
    assert load_bundle(path, load_clip=False).clip is None
    calls = []

    def fake_from_open_clip(name, pretrained):  # no network in tests: stand in a tiny CLIP
        calls.append((name, pretrained))
        return clipmod.ClipSpace.from_config(clipmod.tiny_clip_config(embed_dim=16, image_size=32))

    monkeypatch.setattr(clipmod.ClipSpace, "from_open_clip", staticmethod(fake_from_open_clip))
    assert load_bundle(path).clip is not None and calls == [("ViT-B-32", "openai")]
