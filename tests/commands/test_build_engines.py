"""`livevis build-engines` on a tiny bundle: per-module report, cache reuse, one-line errors."""

import re
import subprocess
import sys

import pytest

from livevis.cli import main
from tests.rigs.engines import tiny_bundle

ROW = re.compile(r"^(sound_encoder|recurrent|synthesis)\s+(\w+)\s+fp32\s+build\s+[\d.]+ s\s+from cache (yes|no)\s+"
                 r"parity ([\d.e+-]+)\s+eager\s+[\d.]+ ms\s+engine\s+[\d.]+ ms\s+x[\d.]+$")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return tiny_bundle(tmp_path_factory.mktemp("bundle") / "tiny")


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("engine-cache")


@pytest.fixture
def own_cache(shared_cache, monkeypatch):
    # shared by this file's tests, in order: auto reuses the onnxruntime engines built before it
    monkeypatch.setenv("LIVEVIS_CACHE_DIR", str(shared_cache))


def _rows(out: str):
    return {m.group(1): m.groups() for m in map(ROW.match, out.splitlines()) if m}


@pytest.mark.slow
def test_onnxruntime_builds_every_module_then_reuses_the_cache(bundle, own_cache, capsys):
    assert main(["build-engines", "--model", str(bundle), "--backend", "onnxruntime", "--size", "64"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert set(rows) == {"sound_encoder", "recurrent", "synthesis"}
    assert all(r[1] == "onnxruntime" and r[2] == "no" and float(r[3]) < 1e-3 for r in rows.values())
    assert main(["build-engines", "--model", str(bundle), "--backend", "onnxruntime"]) == 0
    assert all(r[2] == "yes" for r in _rows(capsys.readouterr().out).values())


@pytest.mark.slow
def test_auto_between_eager_and_onnxruntime(bundle, own_cache, capsys, monkeypatch):
    from livevis.engines import auto

    # keep this test quick: compile is covered in tests/engines/test_compile.py
    real = auto.available_backends
    monkeypatch.setattr("livevis.engines.auto.available_backends",
                        lambda device, precision: [b for b in real(device, precision) if b != "compile"])
    assert main(["build-engines", "--model", str(bundle)]) == 0
    rows = _rows(capsys.readouterr().out)
    assert set(rows) == {"sound_encoder", "recurrent", "synthesis"}
    assert {r[1] for r in rows.values()} <= {"eager", "onnxruntime"}


@pytest.mark.parametrize("argv, message", [
    (["--size", "128"], "--size 128: this bundle's generator was trained at 64x64"),
    (["--backend", "tensorrt"], "tensorrt backend needs torch-tensorrt (pip install 'livevis[trt]') and a CUDA GPU"),
    (["--precision", "fp16", "--backend", "onnxruntime"], "fp16 needs a CUDA GPU"),
])
def test_user_errors_are_one_line(bundle, own_cache, capsys, argv, message):
    assert main(["build-engines", "--model", str(bundle), *argv]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_missing_bundle_from_the_real_cli(tmp_path):
    out = subprocess.run([sys.executable, "-m", "livevis", "build-engines", "--model", str(tmp_path / "nope")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert out.stderr.startswith("livevis build-engines: error:")
