"""`livevis models list | download | import | info`: output, bundles written, one-line errors."""

import hashlib
import json
import os
import subprocess
import sys

import pytest
import torch

from livevis.cli import main
from livevis.models import registry
from livevis.models.bundle import load_bundle, read_config
from livevis.models.download import downloads_dir
from livevis.models.registry import RegistryEntry
from tests.models.nvlabs_standin import nvlabs_kwargs_for, write_network_pickle
from tests.rigs.http_server import http_server  # noqa: F401 - pytest fixture
from tests.rigs.tiny_parts import tiny_generator


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LIVEVIS_CACHE_DIR", str(tmp_path / "cache"))


def livevis(*args, env_cache):
    env = dict(os.environ, LIVEVIS_CACHE_DIR=str(env_cache), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "livevis", *map(str, args)], capture_output=True, text=True,
                          timeout=300, env=env, stdin=subprocess.DEVNULL)


def assert_one_line_error(proc, needle):
    assert proc.returncode != 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert needle in lines[0], proc.stderr


def nvlabs_pickle(tmp_path, seed=3):
    G = tiny_generator(seed)
    return G, write_network_pickle(tmp_path / "tiny-nvlabs.pkl", G, nvlabs_kwargs_for(G.config), marker=tmp_path / "ran")


def test_list(capsys):
    entry = registry.get("stylegan3-t-ffhqu-256x256")
    (downloads_dir() / entry.filename).write_bytes(b"x")  # looks downloaded
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    for needle in ("name", "format", "resolution", "licence", "cached", "default", "nvlabs-pkl", "open_clip",
                   "stylegan2-ada-afhqwild", "clip-vit-b-32-openai"):
        assert needle in out
    row = next(line for line in out.splitlines() if "stylegan3-t-ffhqu-256x256" in line)
    assert "download" in row and "256" in row
    row = next(line for line in out.splitlines() if "stylegan3-r-ffhqu-256x256" in line)
    assert row.rstrip(" │|").endswith("no")


def test_info_default(capsys):
    assert main(["models", "info"]) == 0
    out = capsys.readouterr().out
    lines = dict(line.split(":", 1) for line in out.splitlines())
    assert lines["description"].strip().startswith("trained by livevis")
    assert lines["stand-in"].strip() == "no"
    assert lines["sound_encoder"].strip().startswith("sound_encoder (")
    assert lines["clip"].strip().startswith("open_clip_config (")  # the small CLIP the recipe trains
    assert "thunderstorm" in lines["classes"]
    assert main(["models", "info", "default", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["config"]["provenance"]["stand_in"] is False and len(doc["sha256"]) == 64


def test_info_of_a_registry_entry_does_not_download(capsys):
    assert main(["models", "info", "stylegan3-t-ffhqu-256x256"]) == 0
    out = capsys.readouterr().out
    assert "https://api.ngc.nvidia.com/v2/models/nvidia/research/stylegan3/versions/1/files/stylegan3-t-ffhqu-256x256.pkl" in out
    assert "livevis models download stylegan3-t-ffhqu-256x256" in out
    assert not any(downloads_dir().iterdir())


@torch.no_grad()
def test_import_nvlabs_pickle(tmp_path, capsys):
    G, pkl = nvlabs_pickle(tmp_path)
    out = tmp_path / "my.bundle"
    assert main(["models", "import", str(pkl), "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    doc = read_config(out)
    assert doc["name"] == "tiny-nvlabs" and doc["weights_dtype"] == "float32"
    assert doc["provenance"]["inputs"] == {"tiny-nvlabs.pkl": hashlib.sha256(pkl.read_bytes()).hexdigest()}
    loaded = load_bundle(out)
    ws = G.mapping(torch.randn(2, G.z_dim))
    assert torch.equal(loaded.generator.synthesis(ws), G.synthesis(ws))
    # fp16 storage: half the size, close outputs.
    half = tmp_path / "half.bundle"
    assert main(["models", "import", str(pkl), "--out", str(half), "--fp16", "--name", "tiny half"]) == 0
    assert read_config(half)["name"] == "tiny half"
    assert (half / "generator.safetensors").stat().st_size < 0.6 * (out / "generator.safetensors").stat().st_size
    img = load_bundle(half).generator.synthesis(ws)
    assert (img - G.synthesis(ws)).abs().max() < 0.05


@torch.no_grad()
def test_import_rosinality_checkpoint(tmp_path, capsys):
    from livevis.models.rosinality import load_rosinality
    from tests.models.test_rosinality import rosinality_state

    ckpt = tmp_path / "550000.pt"
    sd = rosinality_state()
    torch.save({"g_ema": sd, "latent_avg": torch.zeros(sd["style.1.bias"].shape[0])}, ckpt)
    out = tmp_path / "ros.bundle"
    assert main(["models", "import", str(ckpt), "--out", str(out)]) == 0
    reference = load_rosinality(ckpt)
    ws = reference.mapping(torch.randn(2, reference.z_dim))
    assert torch.equal(load_bundle(out).generator.synthesis(ws), reference.synthesis(ws))
    assert read_config(out)["provenance"]["inputs"] == {"550000.pt": hashlib.sha256(ckpt.read_bytes()).hexdigest()}


def test_download_converts_to_a_bundle(http_server, tmp_path, monkeypatch, capsys):
    _, pkl = nvlabs_pickle(tmp_path)
    url = http_server.add("tiny-nvlabs.pkl", pkl.read_bytes())
    entry = RegistryEntry("tiny-cli-test", "nvlabs-pkl", url, None, "test", 16, "test")
    monkeypatch.setitem(registry.REGISTRY, entry.name, entry)
    assert main(["models", "download", entry.name, "--no-progress"]) == 0
    captured = capsys.readouterr()
    path = captured.out.strip()
    assert read_config(path)["provenance"]["source_url"] == url
    assert "no published sha256" in captured.err
    assert main(["models", "list"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if entry.name in line)
    assert "bundle" in row


def test_download_404_is_one_line(http_server, monkeypatch, capsys):
    entry = RegistryEntry("gone-test", "nvlabs-pkl", http_server.url("gone.pkl"), None, "test", 16, "test")
    monkeypatch.setitem(registry.REGISTRY, entry.name, entry)
    assert main(["models", "download", entry.name, "--no-progress"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "HTTP 404" in err[0]


def test_user_errors_are_one_line(tmp_path):
    cache = tmp_path / "cache"
    assert_one_line_error(livevis("models", "info", "no-such-model", env_cache=cache), "unknown model 'no-such-model'")
    assert_one_line_error(livevis("models", "download", "nope", env_cache=cache), "unknown model 'nope'")
    assert_one_line_error(livevis("models", "import", tmp_path / "missing.pkl", "--out", tmp_path / "b", env_cache=cache),
                          "no such file")
    garbage = tmp_path / "garbage.pkl"
    garbage.write_bytes(b"this is not a pickle at all")
    assert_one_line_error(livevis("models", "import", garbage, "--out", tmp_path / "b", env_cache=cache), "garbage.pkl")
    assert not (tmp_path / "b").exists()
    bad = tmp_path / "bad.bundle"
    bad.mkdir()
    (bad / "config.json").write_text("{nope")
    assert_one_line_error(livevis("models", "info", bad, env_cache=cache), "unreadable JSON")
    proc = livevis("models", env_cache=cache)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
