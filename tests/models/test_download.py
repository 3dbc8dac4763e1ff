"""Downloads against a local http.server: right hash, wrong hash, truncated + resumed, 404, TOFU pins."""

import hashlib
import os
import socket

import pytest

from livevis.errors import LivevisError
from livevis.models import download as dl
from livevis.models.registry import RegistryEntry
from tests.rigs.http_server import http_server  # noqa: F401 - pytest fixture

PAYLOAD = os.urandom(300_000)
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LIVEVIS_CACHE_DIR", str(tmp_path / "cache"))


def test_right_hash(http_server, tmp_path):
    url = http_server.add("net.pkl", PAYLOAD)
    path = dl.download(url, tmp_path / "net.pkl", sha256=PAYLOAD_SHA, progress=False)
    assert path.read_bytes() == PAYLOAD
    assert not (tmp_path / "net.pkl.part").exists()
    # A complete, verified file is reused without another request.
    before = len(http_server.requests)
    assert dl.download(url, tmp_path / "net.pkl", sha256=PAYLOAD_SHA, progress=False) == path
    assert len(http_server.requests) == before


def test_default_destination_is_the_cache(http_server):
    url = http_server.add("some/dir/file.bin", PAYLOAD)
    path = dl.download(url, progress=True)
    assert path == dl.downloads_dir() / "file.bin"
    assert path.read_bytes() == PAYLOAD


def test_wrong_hash_deletes_and_fails(http_server, tmp_path):
    url = http_server.add("net.pkl", PAYLOAD)
    with pytest.raises(LivevisError, match="sha256 mismatch") as info:
        dl.download(url, tmp_path / "net.pkl", sha256="0" * 64, progress=False)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "net.pkl").exists()
    assert not (tmp_path / "net.pkl.part").exists()


def test_truncated_then_resumed(http_server, tmp_path):
    url = http_server.add("net.pkl", PAYLOAD)
    http_server.truncate_next("net.pkl", 100_000)
    with pytest.raises(LivevisError, match="interrupted at 100000 of 300000 bytes"):
        dl.download(url, tmp_path / "net.pkl", sha256=PAYLOAD_SHA, progress=False)
    # The partial never looks complete.
    assert not (tmp_path / "net.pkl").exists()
    assert (tmp_path / "net.pkl.part").stat().st_size == 100_000

    path = dl.download(url, tmp_path / "net.pkl", sha256=PAYLOAD_SHA, progress=False)
    assert path.read_bytes() == PAYLOAD
    assert http_server.requests[-1] == ("/net.pkl", "bytes=100000-")
    assert not (tmp_path / "net.pkl.part").exists()


def test_resume_when_server_ignores_range(http_server, tmp_path):
    url = http_server.add("net.pkl", PAYLOAD)
    http_server.range_support = False
    (tmp_path / "net.pkl.part").write_bytes(b"garbage that must not be kept")
    path = dl.download(url, tmp_path / "net.pkl", sha256=PAYLOAD_SHA, progress=False)
    assert path.read_bytes() == PAYLOAD


def test_partial_longer_than_remote_restarts(http_server, tmp_path):
    url = http_server.add("net.pkl", PAYLOAD)
    (tmp_path / "net.pkl.part").write_bytes(b"x" * (len(PAYLOAD) + 10))
    path = dl.download(url, tmp_path / "net.pkl", sha256=PAYLOAD_SHA, progress=False)
    assert path.read_bytes() == PAYLOAD


def test_404(http_server, tmp_path):
    with pytest.raises(LivevisError, match="HTTP 404") as info:
        dl.download(http_server.url("missing.pkl"), tmp_path / "missing.pkl", progress=False)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "missing.pkl").exists()


def test_unreachable_host(tmp_path):
    with socket.socket() as s:  # a port nobody listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(LivevisError, match="cannot reach") as info:
        dl.download(f"http://127.0.0.1:{port}/x.pkl", tmp_path / "x.pkl", progress=False)
    assert "\n" not in str(info.value)


def test_trust_on_first_use(http_server, capsys):
    url = http_server.add("tofu.pkl", PAYLOAD)
    entry = RegistryEntry("tofu-test", "nvlabs-pkl", url, None, "test", 32, "test entry")
    path = dl.fetch(entry, progress=False)
    assert path.read_bytes() == PAYLOAD
    assert dl.read_pins()[url] == PAYLOAD_SHA
    assert "no published sha256" in capsys.readouterr().err

    # The remote file changes: a fresh download must now fail against the pin.
    path.unlink()
    http_server.add("tofu.pkl", b"tampered" + PAYLOAD[8:])
    with pytest.raises(LivevisError, match="sha256 mismatch"):
        dl.fetch(entry, progress=False)
    assert not path.exists()
    assert dl.is_cached(entry) is False


def test_published_hash_is_enforced(http_server):
    url = http_server.add("pub.pkl", PAYLOAD)
    entry = RegistryEntry("pub-test", "nvlabs-pkl", url, "f" * 64, "test", 32, "test entry")
    with pytest.raises(LivevisError, match="sha256 mismatch"):
        dl.fetch(entry, progress=False)
    assert url not in dl.read_pins()


def test_concurrent_downloads_take_turns(http_server, tmp_path):
    import threading

    url = http_server.add("net.pkl", PAYLOAD)
    results, errors = [], []

    def worker():
        try:
            results.append(dl.download(url, tmp_path / "net.pkl", sha256=PAYLOAD_SHA, progress=False))
        except Exception as exc:  # surfaced by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and len(results) == 3
    assert (tmp_path / "net.pkl").read_bytes() == PAYLOAD
    assert len(http_server.requests) == 1  # the others found the finished file
