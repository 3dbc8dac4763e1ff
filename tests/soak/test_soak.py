"""Long shows: a headless `livevis run` from the PulseAudio rig's mic with music, the device unplugged
and replugged every 30 s, recording on. The 3-minute version runs in CI (slow); the long one only with
`-m soak` (LIVEVIS_SOAK_SECONDS, default 600).

What "outside the unplugged seconds" means: an unplugged span runs from the rig's unplug to the first
web-stats sample after the replug in which the mic reports "running", widened by 1 s on each side;
the first 2 s of the show are left out too. New frames are counted from `--output file:FRAMES.mp4`,
which gets every new frame stamped by when it was shown (packet pts on the fps grid), so frames are
placed in time without decoding. Target = fps x seconds outside.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest

from tests.rigs.display import run_env
from tests.rigs.pulse import pulse_rig  # noqa: F401 - fixture

FPS = 30
UNPLUG_EVERY_S = 30.0
UNPLUG_FOR_S = 5.0
RSS_EVERY_S = 5.0
MUSIC = sorted((Path(__file__).resolve().parents[1] / "data" / "music").glob("*.flac"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> tuple[float, float] | None:
    """(VmRSS, RssAnon) in MB. RssAnon is the process's private anonymous memory, where a leak shows;
    VmRSS adds the pages of mapped files (libtorch's code alone is hundreds of MB), which come and go
    with first use of a code path and with the kernel's page reclaim, so it is reported, not gated."""
    fields = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon"):
                fields[key] = int(value.split()[0]) / 1024
    except OSError:
        return None
    return (fields["VmRSS"], fields["RssAnon"]) if len(fields) == 2 else None


RSS_SLOPE_LIMIT_MB_MIN = 1.0


def slope_mb_per_min(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) samples, in MB per minute."""
    t, mb = np.array(samples, dtype=np.float64).T
    return float(np.polyfit(t / 60.0, mb, 1)[0])


class _StatsWatcher(threading.Thread):
    """Follows the web page's stats stream ({"device": state, ...} ~4x a second) with wall times."""

    def __init__(self, port: int):
        super().__init__(name="soak-stats", daemon=True)
        self.port = port
        self.samples: list[tuple[float, str]] = []  # (time.monotonic(), device state)
        self.stop = threading.Event()

    def run(self):
        from websockets.sync.client import connect

        while not self.stop.is_set():
            try:
                with connect(f"ws://127.0.0.1:{self.port}/ws", open_timeout=2) as ws:
                    while not self.stop.is_set():
                        try:
                            msg = json.loads(ws.recv(timeout=1.0))
                        except TimeoutError:
                            continue
                        stats = msg.get("stats") if msg.get("type") in ("stats", "hello") else None
                        if stats and "device" in stats:
                            self.samples.append((time.monotonic(), stats["device"]))
            except Exception:  # noqa: BLE001 - not up yet, or the show ended: retry until stopped
                time.sleep(0.25)

    def first(self, state: str, after: float, before: float = float("inf")) -> float | None:
        return next((t for t, s in self.samples if after <= t <= before and s == state), None)


def _pipe_lines(stream, into: list[tuple[float, str]]) -> None:
    for line in iter(stream.readline, ""):
        into.append((time.monotonic(), line.rstrip("\n")))


def _frame_times(path: Path) -> tuple[np.ndarray, float]:
    """Seconds after the first sent frame at which each new frame was shown (packet pts), and fps."""
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        pts = [p.pts for p in c.demux(stream) if p.pts is not None]
        return np.sort(np.array(pts, dtype=np.float64)) * float(stream.time_base), float(stream.average_rate)


def _decode_all(path: Path) -> dict:
    """Decode every video frame and audio sample (raises on a damaged file); counts and rates."""
    out = {"video_frames": 0, "audio_samples": 0}
    with av.open(str(path)) as c:
        out["kinds"] = sorted(s.type for s in c.streams)
        out["fps"] = float(c.streams.video[0].average_rate)
        out["sample_rate"] = c.streams.audio[0].codec_context.sample_rate
        for frame in c.decode(video=0, audio=0):
            if isinstance(frame, av.VideoFrame):
                out["video_frames"] += 1
            else:
                out["audio_samples"] += frame.samples
    out["video_s"] = out["video_frames"] / out["fps"]
    out["audio_s"] = out["audio_samples"] / out["sample_rate"]
    return out


def run_soak(rig, tmp_path: Path, seconds: float) -> dict:
    """Run the show with unplugs; return every figure the checks (and BENCHMARKS.md) need."""
    assert MUSIC, "tests/data/music/*.flac missing"
    record, frames_out = tmp_path / "soak.mp4", tmp_path / "frames.mp4"
    port = _free_port()
    cmd = [sys.executable, "-m", "livevis", "run", "--input", "mic", "--device", rig.capture_device,
           "--headless", "--record", str(record), "--seconds", str(seconds), "--model", "default",
           "--size", "256", "--fps", str(FPS), "--output", f"file:{frames_out}", "--web", f"127.0.0.1:{port}"]
    rig.play_loop(MUSIC)
    lines: list[tuple[float, str]] = []
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            text=True, env=run_env())
    reader = threading.Thread(target=_pipe_lines, args=(proc.stderr, lines), daemon=True)
    reader.start()
    watcher = _StatsWatcher(port)
    watcher.start()
    rss: list[tuple[float, float]] = []  # (s, VmRSS MB)
    anon: list[tuple[float, float]] = []  # (s, RssAnon MB)
    unplugs: list[dict] = []
    try:
        deadline = time.monotonic() + 600  # model load + engine builds, once
        while not any("livevis: running on" in line for _, line in lines):
            assert proc.poll() is None, "\n".join(line for _, line in lines)
            assert time.monotonic() < deadline, "the show did not start within 10 min"
            time.sleep(0.1)
        t_start = next(t for t, line in lines if "livevis: running on" in line)
        t_end = t_start + seconds
        next_rss, next_unplug = t_start, t_start + UNPLUG_EVERY_S
        while proc.poll() is None:
            now = time.monotonic()
            if now >= next_rss:
                sample = _rss_mb(proc.pid)
                if sample is not None and now <= t_end:
                    rss.append((now - t_start, sample[0]))
                    anon.append((now - t_start, sample[1]))
                next_rss += RSS_EVERY_S
            if now >= next_unplug and now + UNPLUG_FOR_S + 10 < t_end:
                rig.unplug()
                t_un = time.monotonic()
                time.sleep(UNPLUG_FOR_S)
                rig.replug()
                rig.play_loop(MUSIC)
                unplugs.append({"unplug": t_un, "replug": time.monotonic()})
                next_unplug += UNPLUG_EVERY_S
            time.sleep(0.1)
        proc.wait(timeout=seconds + 300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=10)
        watcher.stop.set()
        watcher.join(timeout=5)
        rig.stop_playing()
    stderr = "\n".join(line for _, line in lines)

    # Each unplug: "device lost" reported, then "running" again after the replug.
    for u in unplugs:
        u["lost_at"] = watcher.first("device lost", u["unplug"], u["replug"] + 1.0)
        u["running_at"] = watcher.first("running", u["replug"])
    spans = [(u["unplug"] - 1.0, (u["running_at"] or u["replug"] + 15.0) + 1.0) for u in unplugs]

    figures = {"cmd": " ".join(cmd), "rc": proc.returncode, "stderr": stderr, "unplugs": unplugs, "rss": rss,
               "anon": anon, "seconds": seconds, "record": record}
    m = re.search(r"livevis: (\d+) frames shown at ([\d.]+) fps", stderr)
    figures["frames_shown"] = int(m.group(1)) if m else None
    if frames_out.exists():
        times, fps = _frame_times(frames_out)
        # The file sink's t=0 is its first frame, sent right after the show's first image ("running on").
        wall = t_start + times
        outside = [(t_start + 2.0, t_end)]
        for lo, hi in spans:
            outside = [piece for a, b in outside for piece in ((a, min(b, lo)), (max(a, hi), b)) if piece[1] > piece[0]]
        outside_s = sum(b - a for a, b in outside)
        shown = int(sum(((wall >= a) & (wall < b)).sum() for a, b in outside))
        figures.update(outside_s=outside_s, frames_outside=shown, target_outside=fps * outside_s,
                       frames_sent=len(times))
    for key, series in (("rss", rss), ("anon", anon)):
        last2 = [(t, mb) for t, mb in series if t >= seconds - 120.0]
        figures[f"{key}_slope_last2min"] = slope_mb_per_min(last2) if len(last2) >= 3 else None
        figures[f"{key}_slope_all"] = slope_mb_per_min(series) if len(series) >= 3 else None
    return figures


def check_soak(fig: dict) -> None:
    stderr = fig["stderr"]
    assert fig["rc"] == 0, stderr
    assert "Traceback" not in stderr, stderr
    expected_unplugs = int((fig["seconds"] - UNPLUG_FOR_S - 10) // UNPLUG_EVERY_S)
    assert len(fig["unplugs"]) >= max(1, expected_unplugs - 1), fig["unplugs"]
    for i, u in enumerate(fig["unplugs"]):
        assert u["lost_at"] is not None, f"unplug {i + 1}: the mic never reported 'device lost'"
        assert u["running_at"] is not None, f"unplug {i + 1}: the mic never came back"
    assert fig["frames_shown"] is not None and "frames_outside" in fig, stderr
    ratio = fig["frames_outside"] / fig["target_outside"]
    assert ratio >= 0.95, f"{fig['frames_outside']} new frames outside unplugs, target {fig['target_outside']:.0f}"
    info = _decode_all(fig["record"])  # the recording: complete and decodable to the end
    assert info["kinds"] == ["audio", "video"], info
    assert abs(info["video_s"] - fig["seconds"]) < 2.0, info
    assert abs(info["audio_s"] - fig["seconds"]) < 2.0, info
    fig["recording"] = info
    # The target: < 1 MB/min of memory growth. Gated on private anonymous memory, where a leak
    # shows: the mic-reopen creep fixed earlier (+0.5 MB each, ~3 MB/min) was glibc heap. VmRSS also
    # counts mapped file pages; a CI run once saw it rise 10 MB after the first unplug (4.4 MB/min)
    # while local runs stay at 0.14, with no breakdown to say which part grew: both are in the report.
    assert fig["anon_slope_last2min"] is not None and fig["anon_slope_last2min"] < RSS_SLOPE_LIMIT_MB_MIN, \
        f"{report(fig)}\nRssAnon samples (s, MB): {json.dumps(fig['anon'])}\nVmRSS samples: {json.dumps(fig['rss'])}"


def report(fig: dict) -> str:
    u = fig["unplugs"]
    rss = fig["rss"]
    return "\n".join([
        f"command: {fig['cmd']}",
        f"frames shown (run's line): {fig['frames_shown']} / target {FPS * fig['seconds']}",
        f"new frames outside unplugged spans: {fig.get('frames_outside')} / {fig.get('target_outside', 0):.0f}"
        f" ({fig.get('outside_s', 0):.1f} s outside)",
        f"unplugs: {len(u)}; loss reported each time: {all(x['lost_at'] for x in u)};"
        f" loss after {[round(x['lost_at'] - x['unplug'], 2) if x['lost_at'] else None for x in u]} s;"
        f" running again after replug {[round(x['running_at'] - x['replug'], 2) if x['running_at'] else None for x in u]} s",
        _memory_line("RSS", rss, fig["rss_slope_last2min"], fig["rss_slope_all"]),
        _memory_line("RssAnon", fig["anon"], fig["anon_slope_last2min"], fig["anon_slope_all"]),
        f"recording: {fig.get('recording')}",
    ])


def _memory_line(name: str, series: list, slope_last2: float | None, slope_all: float | None) -> str:
    if len(series) < 3 or slope_last2 is None or slope_all is None:
        return f"{name} samples: {series}"
    return (f"{name}: start {series[0][1]:.1f} MB, end {series[-1][1]:.1f} MB, slope last 2 min {slope_last2:.2f} MB/min,"
            f" whole run {slope_all:.2f} MB/min")


def _soak(rig, tmp_path, seconds):
    fig = run_soak(rig, tmp_path, seconds)
    out = os.environ.get("LIVEVIS_SOAK_REPORT")  # a file for the figures (BENCHMARKS.md), pass or fail
    try:
        check_soak(fig)
    finally:
        text = report(fig)
        print(text)
        if out:
            Path(out).write_text(text + "\n\nRSS samples (s, MB):\n" + json.dumps(fig["rss"])
                                 + "\n\nRssAnon samples (s, MB):\n" + json.dumps(fig["anon"]) + "\n")


SOAK_SECONDS = float(os.environ.get("LIVEVIS_SOAK_SECONDS", "600"))
STARTUP_ALLOWANCE_S = 900  # model load and a first engine build, then decoding the recording


@pytest.mark.pulse
@pytest.mark.slow
@pytest.mark.timeout(180 + STARTUP_ALLOWANCE_S)
def test_three_minute_show_with_unplugs(pulse_rig, tmp_path):
    _soak(pulse_rig, tmp_path, 180)


@pytest.mark.pulse
@pytest.mark.soak
@pytest.mark.timeout(SOAK_SECONDS + STARTUP_ALLOWANCE_S)
def test_long_show_with_unplugs(pulse_rig, tmp_path):
    _soak(pulse_rig, tmp_path, SOAK_SECONDS)
