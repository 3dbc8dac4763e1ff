"""`livevis outputs`: every sink kind, available or not and why (calls the command module directly;
the CLI registration is livevis/cli.py's)."""

import argparse
import json
import subprocess
import sys

import pytest

from livevis.commands import outputs
from livevis.render.sinks import KINDS
from livevis.render.sinks.v4l2 import loopback_devices


def _run(argv, capsys):
    parser = argparse.ArgumentParser()
    outputs.add_arguments(parser)
    rc = outputs.run(parser.parse_args(argv))
    return rc, capsys.readouterr().out


def test_json_lists_every_kind_with_a_reason(capsys):
    rc, out = _run(["--json"], capsys)
    assert rc == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["kind"] for r in rows] == list(KINDS) == ["v4l2", "ndi", "syphon", "spout", "file"]
    for r in rows:
        assert {"kind", "available", "reason", "devices", "extra", "license", "example"} <= set(r)
        assert isinstance(r["available"], bool) and r["reason"]
    by_kind = {r["kind"]: r for r in rows}
    assert by_kind["file"]["available"]
    if sys.platform.startswith("linux"):
        assert not by_kind["syphon"]["available"] and "macOS only" in by_kind["syphon"]["reason"]
        assert not by_kind["spout"]["available"] and "Windows only" in by_kind["spout"]["reason"]
    if not loopback_devices():
        assert not by_kind["v4l2"]["available"] and "no v4l2loopback device" in by_kind["v4l2"]["reason"]
    else:
        assert by_kind["v4l2"]["available"] and by_kind["v4l2"]["devices"]
    try:
        import cyndilib  # noqa: F401
    except ImportError:
        assert not by_kind["ndi"]["available"] and "pip install 'livevis[ndi]'" in by_kind["ndi"]["reason"]
    else:
        assert by_kind["ndi"]["available"]


def test_ndi_without_the_extra_says_how_to_get_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "cyndilib", None)  # as if not installed: import raises ImportError
    rc, out = _run(["--json"], capsys)
    ndi = next(json.loads(line) for line in out.splitlines() if json.loads(line)["kind"] == "ndi")
    assert rc == 0 and not ndi["available"] and "livevis[ndi]" in ndi["reason"]


def test_plain_listing_one_line_per_kind(capsys):
    rc, out = _run([], capsys)  # stdout is not a terminal under pytest: plain lines
    lines = out.splitlines()
    assert rc == 0 and len(lines) == len(KINDS)
    assert all(line[:1] in "+-" and ("available" in line) for line in lines)


@pytest.mark.parametrize("argv", [["--json"]])
def test_outputs_imports_no_torch(argv):
    code = ("import sys, argparse; from livevis.commands import outputs; p = argparse.ArgumentParser(); "
            "outputs.add_arguments(p); rc = outputs.run(p.parse_args(%r)); "
            "assert 'torch' not in sys.modules, 'outputs imported torch'; sys.exit(rc)" % argv)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
