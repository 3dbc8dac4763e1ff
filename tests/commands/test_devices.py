import builtins
import subprocess
import sys

import pytest

from livevis.cli import main
from tests.commands.test_listen import run_in_pty
from tests.rigs.pulse import pulse_rig  # noqa: F401 - fixture

LIVEVIS = [sys.executable, "-m", "livevis"]


@pytest.mark.pulse
def test_devices_lists_inputs_with_the_default_marked(pulse_rig):
    res = subprocess.run([*LIVEVIS, "devices"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert any("pulse" in line and "Hz" in line and " ch" in line for line in lines)
    assert sum(line.startswith("*") for line in lines) == 1  # exactly one default


@pytest.mark.pulse
def test_devices_table_on_a_terminal(pulse_rig):
    rc, out = run_in_pty([*LIVEVIS, "devices"])
    assert rc == 0, out
    assert "index" in out and "default rate" in out and "pulse" in out and "*" in out


@pytest.mark.pulse
def test_devices_json_and_no_torch(pulse_rig):
    code = ("import sys, json; from livevis.cli import main; rc = main(['devices', '--json']); "
            "assert 'torch' not in sys.modules, 'devices imported torch'; sys.exit(rc)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    import json

    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert {"index", "name", "channels", "default_samplerate", "is_default"} <= set(rows[0])
    assert any(r["name"] == "pulse" for r in rows)


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_devices_without_portaudio_is_one_clear_line(monkeypatch, capsys):
    real_import = builtins.__import__

    def no_portaudio(name, *args, **kwargs):
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_portaudio)
    assert main(["devices"]) != 0
    assert "PortAudio" in _one_error_line(capsys)


def test_devices_without_inputs_is_one_clear_line(monkeypatch, capsys):
    sd = pytest.importorskip("sounddevice")
    monkeypatch.setattr(sd, "query_devices", lambda *a, **k: [
        {"index": 0, "name": "speakers", "max_input_channels": 0, "default_samplerate": 48000.0}])
    assert main(["devices"]) != 0
    assert "no audio input devices" in _one_error_line(capsys)
