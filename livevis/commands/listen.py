"""`livevis listen`: a live level meter for checking an audio rig before a show.

Besides level and pitch it runs the live music analysis (livevis.audio.features.LiveAnalyzer) on the
same audio: each line carries the tempo ("bpm", null until confident), the beat phase ("beat", 0 on
the beat) and whether any onset fell since the previous line ("onset").
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

import numpy as np

from livevis.errors import LivevisError

LEVEL_WINDOW_S = 0.1  # rms over the last 100 ms: a responsive meter
PITCH_WINDOW_S = 0.5  # peak frequency over 500 ms: 2 Hz bins before interpolation
JSON_INTERVAL_S = 0.25  # the contract asks for at least every 0.5 s
TEXT_INTERVAL_S = 0.5
LIVE_INTERVAL_S = 0.05
MAX_BEHIND_S = 2.0  # analysis further behind the ring's head than this skips ahead (the ring holds 10 s)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", default="mic", metavar="mic|PATH|synth:KIND",
                        help="what to listen to: mic (default), an audio/video file, or synth:sine|sweep|noise|clicks|silence[@PARAM]")
    parser.add_argument("--device", default=None, metavar="D",
                        help="input device by index or name substring (see `livevis devices`); default input if omitted")
    parser.add_argument("--seconds", type=float, default=None, metavar="S", help="stop after S seconds (default: until Ctrl-C)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object per line (t, rms_db, peak_hz, status, overflows, bpm, beat, onset)")
    parser.add_argument("--rate", type=int, default=16000, metavar="HZ", help="analysis sample rate (default 16000, the models' rate)")
    parser.add_argument("--loop", action="store_true", help="loop a file input")
    parser.add_argument("--playback", action="store_true", help="play a file or synth input to the default output too")


def _validate(args: argparse.Namespace) -> None:
    if args.seconds is not None and not (math.isfinite(args.seconds) and args.seconds > 0):
        raise LivevisError(f"--seconds must be a positive number, got {args.seconds:g}")
    if args.rate < 8000 or args.rate > 96000:
        raise LivevisError(f"--rate must be between 8000 and 96000 Hz, got {args.rate}")
    if args.device is not None and args.input != "mic":
        raise LivevisError("--device selects a microphone; it only applies to --input mic")


class _Analysis:
    """Feeds the LiveAnalyzer with the samples that arrived in the source's ring since the last call."""

    def __init__(self, source):
        from livevis.audio.features import LiveAnalyzer

        self.source = source
        self.analyzer = LiveAnalyzer(source.sample_rate)
        self.next = 0  # absolute index of the next sample to analyse
        self.buf = np.zeros(source.sample_rate, dtype=np.float32)  # [rate] read scratch (1 s)

    def update(self) -> tuple[float | None, float, bool]:
        """(bpm or None, beat phase, any onset since the previous call)."""
        end = self.source.write_index
        if end - self.next > MAX_BEHIND_S * self.source.sample_rate:  # fell far behind: skip to recent audio
            self.next = end - int(MAX_BEHIND_S * self.source.sample_rate)
            self.analyzer.reset(self.next)
        while self.next < end:
            n = min(end - self.next, len(self.buf))
            self.source.read(self.next, n, self.buf[:n])
            self.analyzer.process(self.buf[:n])
            self.next += n
        feats = self.analyzer.features
        onset = bool(self.analyzer.take_onsets().any())
        return feats.bpm, feats.beat_phase, onset


def json_phase(beat: float) -> float:
    """A beat phase in [0, 1) to 3 decimals: 0.9996 rounds to 1.0, which is the next beat's 0.0."""
    return round(beat, 3) % 1.0


def _reading(source, start: float, analysis: _Analysis | None = None) -> dict:
    from livevis.audio.meter import peak_hz, rms_db

    bpm, beat, onset = analysis.update() if analysis is not None else (None, 0.0, False)
    rate = source.sample_rate
    pitch, _end = source.read_last(int(PITCH_WINDOW_S * rate))  # [n]
    level = pitch[-int(LEVEL_WINDOW_S * rate):]
    status = source.status
    return {
        "t": round(time.monotonic() - start, 3),
        "rms_db": round(rms_db(level), 2),
        "peak_hz": round(peak_hz(pitch, rate), 2),
        "status": status.state,
        "overflows": status.overflows,
        "message": status.message,
        "bpm": None if bpm is None else round(bpm, 2),
        "beat": json_phase(beat),
        "onset": onset,
    }


def _json_line(reading: dict) -> str:
    keys = ("t", "rms_db", "peak_hz", "status", "overflows", "bpm", "beat", "onset")
    return json.dumps({k: reading[k] for k in keys})


def _text_line(reading: dict) -> str:
    bpm = "  --.-" if reading["bpm"] is None else f"{reading['bpm']:6.1f}"
    line = (f"{reading['t']:7.2f}s  {reading['rms_db']:7.1f} dB  peak {reading['peak_hz']:8.1f} Hz  "
            f"bpm {bpm}  {reading['status']}  overflows {reading['overflows']}")
    return f"{line}  ({reading['message']})" if reading["message"] else line


def _meter(reading: dict, label: str):
    from rich.table import Table
    from rich.text import Text

    width = 40
    fill = int(round(width * min(1.0, max(0.0, (reading["rms_db"] + 60.0) / 60.0))))  # -60..0 dBFS
    color = "red" if reading["rms_db"] > -3 else "yellow" if reading["rms_db"] > -12 else "green"
    bar = Text("█" * fill, style=color) + Text("·" * (width - fill), style="dim")
    state_style = "green" if reading["status"] == "running" else "bold red"
    table = Table.grid(padding=(0, 2))
    table.add_row("input", label)
    table.add_row("level", bar + Text(f" {reading['rms_db']:6.1f} dBFS"))
    table.add_row("peak", f"{reading['peak_hz']:8.1f} Hz")
    beat = "*" if reading["onset"] else " "
    bpm = "--" if reading["bpm"] is None else f"{reading['bpm']:.1f}"
    table.add_row("tempo", f"{bpm} bpm  beat {'#' * int(reading['beat'] * 8):<8s} {beat}")
    table.add_row("status", Text(reading["status"] + (f" - {reading['message']}" if reading["message"] else ""), style=state_style))
    table.add_row("overflows", str(reading["overflows"]))
    table.add_row("time", f"{reading['t']:.1f} s   (Ctrl-C to stop)")
    return table


def run(args: argparse.Namespace) -> int:
    _validate(args)
    from livevis.audio.opener import open_source

    source = open_source(args.input, sample_rate=args.rate, device=args.device, loop=args.loop, playback=args.playback)
    mode = "json" if args.json else "live" if sys.stdout.isatty() else "text"
    interval = {"json": JSON_INTERVAL_S, "text": TEXT_INTERVAL_S, "live": LIVE_INTERVAL_S}[mode]
    label = args.input if args.input != "mic" else f"mic ({getattr(source, 'device_name', 'default')})"
    analysis = _Analysis(source)  # built before the source starts: it imports librosa
    with source:
        start = time.monotonic()
        if mode == "live":
            from rich.live import Live

            with Live(_meter(_reading(source, start, analysis), label), refresh_per_second=20, transient=False) as live:
                _loop(source, start, args.seconds, interval, lambda r: live.update(_meter(r, label)), analysis)
        else:
            fmt = _json_line if mode == "json" else _text_line

            def emit(reading: dict) -> None:
                sys.stdout.write(fmt(reading) + "\n")
                sys.stdout.flush()

            _loop(source, start, args.seconds, interval, emit, analysis)
    return 0


def _loop(source, start: float, seconds: float | None, interval: float, emit, analysis: _Analysis | None = None) -> None:
    next_at = start + interval
    while True:
        now = time.monotonic()
        done = (seconds is not None and now - start >= seconds) or source.finished
        if now >= next_at or done:
            emit(_reading(source, start, analysis))
            next_at += interval * max(1, math.ceil((now - next_at) / interval + 1e-9))
        if done:
            return
        deadline = next_at if seconds is None else min(next_at, start + seconds)
        time.sleep(max(0.0, min(interval, deadline - time.monotonic())))
