import json
import os
import select
import subprocess
import sys
import time

import pytest

from tests.audio.media_files import bad_files
from tests.rigs.pulse import pulse_rig, tone_wav, write_wav  # noqa: F401 - fixture

LIVEVIS = [sys.executable, "-m", "livevis"]
KEYS = {"t", "rms_db", "peak_hz", "status", "overflows", "bpm", "beat", "onset"}


def _listen(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([*LIVEVIS, "listen", *args], capture_output=True, text=True, timeout=timeout)


def run_in_pty(args: list[str], timeout: float = 60) -> tuple[int, str]:
    """Run `args` with stdout on a pseudo-terminal (so rich draws its live display); (rc, output)."""
    master, slave = os.openpty()
    proc = subprocess.Popen(args, stdout=slave, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            env={**os.environ, "COLUMNS": "100", "TERM": "xterm"})
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(master)
    rc = proc.wait(timeout=10)
    return rc, b"".join(chunks).decode("utf-8", "replace")


def _json_lines(stdout: str) -> list[dict]:
    rows = [json.loads(line) for line in stdout.splitlines()]
    for row in rows:
        assert set(row) == KEYS, row
    return rows


@pytest.mark.pulse
def test_listen_mic_json_reports_the_rig_tone(pulse_rig, tmp_path):
    pulse_rig.play(tone_wav(tmp_path / "a440.wav", 440.0, seconds=15))
    try:
        res = _listen("--input", "mic", "--device", "pulse", "--json", "--seconds", "3")
    finally:
        pulse_rig.stop_playing()
    assert res.returncode == 0, res.stderr
    rows = _json_lines(res.stdout)
    times = [r["t"] for r in rows]
    assert times[-1] >= 2.9 and max(b - a for a, b in zip([0.0, *times], times)) <= 0.5
    assert all(r["status"] in ("running", "device lost") for r in rows)
    heard = [r for r in rows if r["rms_db"] > -40]
    assert heard, rows
    assert abs(heard[-1]["peak_hz"] - 440.0) <= 5.0
    assert isinstance(heard[-1]["overflows"], int)


@pytest.mark.pulse
def test_listen_survives_an_unplugged_device(pulse_rig, tmp_path):
    wav = tone_wav(tmp_path / "a440.wav", 440.0, seconds=30)
    pulse_rig.play(wav)
    proc = subprocess.Popen([*LIVEVIS, "listen", "--device", "pulse", "--json", "--seconds", "10"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rows: list[dict] = []
    try:
        for line in proc.stdout:  # lines arrive as they are printed (flushed)
            rows.append(json.loads(line))
            if rows[-1]["t"] >= 3.0 and pulse_rig.plugged and not any(r["status"] == "device lost" for r in rows):
                pulse_rig.unplug()
            if rows[-1]["status"] == "device lost" and not pulse_rig.plugged:
                pulse_rig.replug()
                pulse_rig.play(wav)
        rc = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = proc.stderr.read()
    assert rc == 0 and "Traceback" not in stderr, stderr
    states = [r["status"] for r in rows]
    assert "device lost" in states
    lost_at = states.index("device lost")
    assert "running" in states[lost_at:]  # back by itself, same process
    assert rows[-1]["t"] >= 9.9


def _assert_tempo(rows: list[dict], bpm: float, tol: float) -> None:
    for row in rows:
        assert 0.0 <= row["beat"] < 1.0 and isinstance(row["onset"], bool)
        assert row["bpm"] is None or isinstance(row["bpm"], float)
    # Lines come every 0.25 s and a click every ~0.5 s: about half the lines carry an onset.
    share = sum(r["onset"] for r in rows) / len(rows)
    assert 0.3 < share < 0.8, share
    last = rows[-1]["bpm"]
    assert last is not None and abs(last / bpm - 1) < tol, [r["bpm"] for r in rows]


def test_listen_json_reports_the_bpm_of_a_click_track_file(tmp_path):
    from livevis.audio.synth import make_signal
    from tests.audio.media_files import write_audio

    path = write_audio(tmp_path / "clicks.wav", make_signal("clicks", 7.0, 22050, bpm=128.0), 22050)
    res = _listen("--input", str(path), "--json")  # ends with the file (played at real-time pace)
    assert res.returncode == 0, res.stderr
    rows = _json_lines(res.stdout)
    assert rows[0]["bpm"] is None  # no tempo before there is audio to hear it in
    _assert_tempo(rows, 128.0, 0.01)


@pytest.mark.pulse
def test_listen_mic_json_reports_the_bpm_of_a_click_track_through_the_rig(pulse_rig, tmp_path):
    from livevis.audio.synth import make_signal

    pulse_rig.play(write_wav(tmp_path / "clicks.wav", make_signal("clicks", 20.0, 44100, bpm=118.0), 44100))
    try:
        res = _listen("--input", "mic", "--device", "pulse", "--json", "--seconds", "10")
    finally:
        pulse_rig.stop_playing()
    assert res.returncode == 0, res.stderr
    rows = _json_lines(res.stdout)
    assert rows[-1]["status"] == "running"
    _assert_tempo(rows, 118.0, 0.02)


def test_listen_synth_json_lines_are_regular_and_flushed():
    res = _listen("--input", "synth:sine@1000", "--json", "--seconds", "1.2")
    assert res.returncode == 0, res.stderr
    rows = _json_lines(res.stdout)
    assert len(rows) >= 3 and rows[-1]["t"] >= 1.2
    assert all(abs(r["peak_hz"] - 1000.0) < 3 and r["status"] == "running" for r in rows)
    assert all(abs(r["rms_db"] - (-9.03)) < 0.2 for r in rows)  # 0.5-amplitude sine


def test_listen_file_ends_with_the_file_and_prints_plain_text(tmp_path):
    from livevis.audio.synth import make_signal
    from tests.audio.media_files import write_audio

    path = write_audio(tmp_path / "s.wav", make_signal("sine", 0.8, 16000, freq=500.0), 16000)
    res = _listen("--input", str(path))  # no --seconds: stops when the file ends; no TTY: text
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines and "finished" in lines[-1] and "Hz" in lines[-1]
    with pytest.raises(json.JSONDecodeError):
        json.loads(lines[0])


def test_listen_on_a_terminal_draws_the_live_meter():
    rc, out = run_in_pty([*LIVEVIS, "listen", "--input", "synth:sine@440", "--seconds", "1"])
    assert rc == 0, out
    for part in ("level", "dBFS", "440", "running", "overflows"):
        assert part in out, out[-2000:]


def _assert_one_line_error(res: subprocess.CompletedProcess, expected: str) -> None:
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, res.stderr
    assert expected in lines[0], lines[0]


def test_listen_bad_files(tmp_path):
    for name, (path, expected) in bad_files(tmp_path).items():
        _assert_one_line_error(_listen("--input", str(path), "--seconds", "1"), expected)


@pytest.mark.parametrize("seconds", ["0", "-2", "nan"])
def test_listen_rejects_non_positive_seconds(seconds):
    _assert_one_line_error(_listen("--input", "synth:sine", f"--seconds={seconds}"), "--seconds")


def test_listen_unknown_synth_kind():
    _assert_one_line_error(_listen("--input", "synth:hum", "--seconds", "1"), "unknown synth kind")


@pytest.mark.pulse
def test_listen_unknown_device(pulse_rig):
    _assert_one_line_error(_listen("--device", "no-such-interface", "--seconds", "1"), "no audio input device")
    _assert_one_line_error(_listen("--device", "987", "--seconds", "1"), "index 987")


@pytest.mark.parametrize("beat, shown", [(0.0, 0.0), (0.4567, 0.457), (0.9994, 0.999), (0.9996, 0.0)])
def test_the_beat_phase_in_json_stays_below_one(beat, shown):
    from livevis.commands.listen import json_phase

    assert json_phase(beat) == pytest.approx(shown) and 0.0 <= json_phase(beat) < 1.0
