"""`livevis bench --json`: one object per backend with the contract's keys, measured numbers."""

import json

from tests.rigs.cli import assert_one_line_error, livevis
from tests.rigs.tiny_bundle import tiny_bundle  # noqa: F401 - fixture

STAGES = {"mel", "encoder", "recurrent", "synthesis", "upload", "draw"}


def test_bench_json_contract(tiny_bundle):
    proc = livevis("bench", "--model", tiny_bundle, "--compute", "cpu", "--frames", 30, "--warmup", 3, "--json")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    r = json.loads(lines[0])
    assert {"backend", "device", "size", "fps", "stages_ms", "latency_ms"} <= set(r)
    assert r["backend"] == "onnxruntime" and r["size"] == 32  # the CPU default
    assert r["device"].startswith("cpu: "), r["device"]  # --compute cpu: the models ran on the CPU
    assert STAGES <= set(r["stages_ms"])
    for stage in STAGES:
        s = r["stages_ms"][stage]
        assert 0 < s["median"] <= s["p95"], (stage, s)
    assert r["fps"] > 0 and 0 < r["latency_ms"]["median"] <= r["latency_ms"]["p95"]
    # per-frame stages can't take longer than the frame they are part of
    assert r["stages_ms"]["synthesis"]["median"] <= 1000.0 / r["fps"] * 1.5


def test_bench_bad_options(tiny_bundle):
    assert_one_line_error(livevis("bench", "--model", tiny_bundle, "--frames", 2), "--frames")
    assert_one_line_error(livevis("bench", "--model", tiny_bundle, "--backends", "eager,warp"), "warp")
