"""Registry entries, name resolution, and registry downloads converted to bundles (local server)."""

import re

import pytest
import torch

from livevis.errors import LivevisError
from livevis.models import registry
from livevis.models.bundle import bundle_sha256, load_bundle, read_config, save_bundle
from livevis.models.download import is_cached, read_pins
from livevis.models.registry import RegistryEntry
from livevis.models.resolve import cached_bundle_path, default_bundle_path, resolve_model
from tests.models.nvlabs_standin import nvlabs_kwargs_for, write_network_pickle
from tests.rigs.http_server import http_server  # noqa: F401 - pytest fixture
from tests.rigs.tiny_parts import tiny_bundle, tiny_generator


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LIVEVIS_CACHE_DIR", str(tmp_path / "cache"))


def test_entries_are_well_formed():
    assert len(registry.REGISTRY) == len(registry.names())
    for entry in registry.REGISTRY.values():
        assert entry.format in registry.FORMATS
        assert entry.licence and entry.description
        assert entry.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", entry.sha256)
        if entry.format == "open_clip":
            assert entry.url is None and entry.open_clip_name and entry.open_clip_tag
            continue
        assert entry.url.startswith(("https://api.ngc.nvidia.com/v2/models/nvidia/research/",
                                     "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/"))
        assert entry.url.endswith(".pkl") and entry.filename == entry.url.rsplit("/", 1)[1]
        if entry.name.startswith(("stylegan3-", "stylegan2-")) and "-ada-" not in entry.name:
            # NGC names: the file stem is the registry name and carries the resolution.
            assert entry.filename == f"{entry.name}.pkl"
            assert entry.name.endswith(f"-{entry.resolution}x{entry.resolution}")


def test_published_urls_exactly():
    sg3 = "https://api.ngc.nvidia.com/v2/models/nvidia/research/stylegan3/versions/1/files/"
    assert registry.get("stylegan3-t-ffhqu-256x256").url == sg3 + "stylegan3-t-ffhqu-256x256.pkl"
    assert registry.get("stylegan3-r-afhqv2-512x512").url == sg3 + "stylegan3-r-afhqv2-512x512.pkl"
    assert registry.get("stylegan2-ffhq-1024x1024").url == (
        "https://api.ngc.nvidia.com/v2/models/nvidia/research/stylegan2/versions/1/files/stylegan2-ffhq-1024x1024.pkl")
    assert registry.get("stylegan2-ada-metfaces").url == (
        "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metfaces.pkl")
    clip = registry.get("clip-vit-b-32-openai")
    assert (clip.open_clip_name, clip.open_clip_tag) == ("ViT-B-32", "openai")


def test_unknown_name_lists_known_names():
    with pytest.raises(LivevisError, match=r"unknown model 'nope' \(known: default, .*stylegan3-t-ffhqu-256x256"):
        registry.get("nope")
    with pytest.raises(LivevisError, match=r"unknown model 'nope' \(known: default, "):
        resolve_model("nope")


def test_resolve_paths(tmp_path):
    assert resolve_model(None) == resolve_model("default") == default_bundle_path()
    assert resolve_model(str(tmp_path)) == tmp_path
    for missing in (tmp_path / "no.bundle", "missing/dir", "net.pkl"):
        with pytest.raises(LivevisError, match="no such file or directory"):
            resolve_model(str(missing))


def test_clip_entry_is_not_a_generator():
    with pytest.raises(LivevisError, match="is a CLIP model, not a generator"):
        resolve_model("clip-vit-b-32-openai")


@pytest.fixture
def served_entry(http_server, tmp_path, monkeypatch):
    """A registry entry for a tiny NVlabs-format pickle on the local server."""
    G = tiny_generator(seed=3)
    pkl = write_network_pickle(tmp_path / "tiny-nvlabs.pkl", G, nvlabs_kwargs_for(G.config), marker=tmp_path / "ran")
    url = http_server.add("files/tiny-nvlabs.pkl", pkl.read_bytes())
    entry = RegistryEntry("tiny-test-16x16", "nvlabs-pkl", url, None, "test licence", 16, "tiny test generator")
    monkeypatch.setitem(registry.REGISTRY, entry.name, entry)
    return entry, G, pkl


@torch.no_grad()
def test_registry_name_downloads_and_converts_once(served_entry, http_server):
    entry, G, pkl = served_entry
    path = resolve_model(entry.name)
    assert path == cached_bundle_path(entry.name)
    doc = read_config(path)
    assert doc["provenance"]["source_url"] == entry.url
    assert doc["provenance"]["inputs"] == {"tiny-nvlabs.pkl": read_pins()[entry.url]}
    assert "sound_encoder" not in doc and doc["provenance"]["stand_in"] is False
    loaded = load_bundle(entry.name)
    ws = G.mapping(torch.randn(1, G.z_dim))
    assert torch.equal(loaded.generator.synthesis(ws), G.synthesis(ws))
    # Second use: no network at all.
    before = len(http_server.requests)
    assert resolve_model(entry.name) == path
    assert len(http_server.requests) == before


def test_registry_download_of_a_bad_file_is_a_user_error(served_entry, http_server):
    entry, _, _ = served_entry
    http_server.add("files/tiny-nvlabs.pkl", b"<html>not a pickle</html>")
    with pytest.raises(LivevisError, match="cannot convert it") as info:
        resolve_model(entry.name)
    assert "\n" not in str(info.value)
    assert not cached_bundle_path(entry.name).exists()
    # Neither the useless file nor its hash is kept: the next attempt starts afresh.
    assert entry.url not in read_pins()
    assert not is_cached(entry)


def test_cached_bundle_is_reused_without_network(monkeypatch):
    entry = RegistryEntry("offline-test", "nvlabs-pkl", "http://127.0.0.1:1/never.pkl", None, "test", 16, "test")
    monkeypatch.setitem(registry.REGISTRY, entry.name, entry)
    save_bundle(tiny_bundle(generator_only=True), cached_bundle_path(entry.name))
    path = resolve_model(entry.name)
    assert path == cached_bundle_path(entry.name) and len(bundle_sha256(path)) == 64
