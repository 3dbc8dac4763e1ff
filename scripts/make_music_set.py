#!/usr/bin/env python3
"""Write the small synthesized music set under tests/data/music/ (tempo / beat ground truth).

Nothing can be downloaded, so the music is made here: MIDI written with mido (drums on GM channel 10,
bass, chords / melody), rendered with the fluidsynth CLI and the FluidR3_GM soundfont (Debian package
fluid-soundfont-gm, MIT licence), trimmed and converted by sox to mono 22050 Hz 16-bit FLAC.
Each track gets `<name>.json` with its bpm and beat times and a row in MANIFEST.md.

    .venv/bin/python scripts/make_music_set.py [--out tests/data/music] [--seconds 14]

Deterministic: the same script and soundfont give the same MIDI (humanisation uses a fixed seed).
Beat k of a track falls at `offset + k * 60 / bpm` seconds (bpm exactly as the MIDI tempo gives it).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import mido
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from livevis.util.atomic import atomic_open, atomic_path  # noqa: E402

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
RATE = 22050
TPB = 480  # ticks per beat
DRUMS = 9  # GM channel 10 (0-based 9)
KICK, STICK, SNARE, CLAP, HAT, PEDAL, OPEN, CRASH, RIDE = 36, 37, 38, 39, 42, 44, 46, 49, 51


@dataclass
class Song:
    name: str
    bpm: float | None  # None: no tempo (ambient)
    split: str  # "validation" (tuning) or "test" (reporting only)
    style: str
    offset_beats: float = 0.5  # silence before the first downbeat, in beats
    events: list = field(default_factory=list)  # (tick, channel, note, velocity, length_ticks)
    programs: dict = field(default_factory=dict)  # channel -> GM program (0-based)

    def note(self, beat: float, channel: int, note: int, vel: int, length: float = 0.25) -> None:
        tick = int(round((beat + self.offset_beats) * TPB))
        self.events.append((tick, channel, note, int(np.clip(vel, 1, 127)), max(1, int(round(length * TPB)))))


def _hum(rng, vel: int, spread: int = 8) -> int:
    return int(vel + rng.integers(-spread, spread + 1))


def _chords(song: Song, rng, bars: int, ch: int, prog: list[list[int]], beats_per_chord: int = 4, vel: int = 60,
            length: float | None = None) -> None:
    for bar in range(bars * 4 // beats_per_chord):
        chord = prog[bar % len(prog)]
        for n in chord:
            song.note(bar * beats_per_chord, ch, n, _hum(rng, vel, 4), length or beats_per_chord * 0.95)


def house(rng) -> Song:
    s = Song("house_124", 124.0, "validation", "four-on-the-floor house: kick every beat, clap 2/4, off-beat open hat, synth bass, electric piano stabs")
    s.programs = {0: 38, 1: 4}
    bars = 10
    roots = [45, 41, 43, 40]  # A F G E
    for b in range(bars * 4):
        s.note(b, DRUMS, KICK, _hum(rng, 112))
        s.note(b + 0.5, DRUMS, OPEN, _hum(rng, 70))
        if b % 2 == 1:
            s.note(b, DRUMS, CLAP, _hum(rng, 95))
        for q in (0.25, 0.75):
            s.note(b + q, DRUMS, HAT, _hum(rng, 45))
        s.note(b + 0.5, 0, roots[(b // 4) % 4] - 12 + 12, _hum(rng, 90), 0.4)
    _chords(s, rng, bars, 1, [[57, 60, 64], [53, 57, 60], [55, 59, 62], [52, 56, 59]], vel=55, length=0.3)
    return s


def hiphop(rng) -> Song:
    s = Song("hiphop_90", 90.0, "test", "boom-bap hip-hop: kick 1 and 3-and, snare 2/4, straight 8th hats, fingered bass, piano")
    s.programs = {0: 33, 1: 0}
    bars = 6
    for bar in range(bars):
        o = bar * 4
        for k in (0, 1.75, 2.5):
            s.note(o + k, DRUMS, KICK, _hum(rng, 110))
        for k in (1, 3):
            s.note(o + k, DRUMS, SNARE, _hum(rng, 105))
        for e in range(8):
            s.note(o + e * 0.5, DRUMS, HAT, _hum(rng, 70 if e % 2 == 0 else 50))
        root = [38, 41, 43, 36][bar % 4]
        for k, d in ((0, 0.9), (1.75, 0.4), (2.5, 1.2)):
            s.note(o + k, 0, root, _hum(rng, 95), d)
    _chords(s, rng, bars, 1, [[62, 65, 69, 72], [65, 69, 72, 76], [67, 71, 74, 77], [60, 64, 67, 71]], vel=50, length=1.8)
    return s


def rock(rng) -> Song:
    s = Song("rock_140", 140.0, "validation", "rock: kick 1/3, snare 2/4, 8th closed hats, crash every 4 bars, 8th-note power chords on overdriven guitar, picked bass")
    s.programs = {0: 34, 1: 29}
    bars = 9
    roots = [40, 43, 45, 38]  # E G A D
    for bar in range(bars):
        o = bar * 4
        if bar % 4 == 0:
            s.note(o, DRUMS, CRASH, _hum(rng, 90))
        for k in (0, 2, 2.5):
            s.note(o + k, DRUMS, KICK, _hum(rng, 110))
        for k in (1, 3):
            s.note(o + k, DRUMS, SNARE, _hum(rng, 112))
        for e in range(8):
            s.note(o + e * 0.5, DRUMS, HAT, _hum(rng, 65))
            r = roots[bar % 4]
            s.note(o + e * 0.5, 0, r - 12 + 12, _hum(rng, 90), 0.45)
            for n in (r + 12, r + 19):
                s.note(o + e * 0.5, 1, n, _hum(rng, 80), 0.45)
    return s


def dnb(rng) -> Song:
    s = Song("dnb_172", 172.0, "test", "drum and bass: two-step kick 1 and 3-and, snare 2/4, 8th hats with ghost snares, sub bass, string pad")
    s.programs = {0: 38, 1: 48}
    bars = 10
    for bar in range(bars):
        o = bar * 4
        for k in (0, 2.5):
            s.note(o + k, DRUMS, KICK, _hum(rng, 115))
        for k in (1, 3):
            s.note(o + k, DRUMS, SNARE, _hum(rng, 115))
        s.note(o + 3.75, DRUMS, SNARE, _hum(rng, 45))
        for e in range(8):
            s.note(o + e * 0.5, DRUMS, HAT, _hum(rng, 60 if e % 2 else 75))
        root = [38, 38, 34, 36][(bar // 2) % 4]
        s.note(o, 0, root, _hum(rng, 100), 2.3)
        s.note(o + 2.5, 0, root + 7, _hum(rng, 90), 1.3)
    _chords(s, rng, bars, 1, [[62, 65, 69], [62, 65, 69], [58, 62, 65], [60, 64, 67]], beats_per_chord=8, vel=45)
    return s


def ballad(rng) -> Song:
    s = Song("ballad_72", 72.0, "test", "slow ballad: soft kick 1/3, side-stick 2/4, pedal hat 8ths, piano arpeggios, strings, bass")
    s.programs = {0: 32, 1: 0, 2: 48}
    bars = 5
    prog = [[48, 55, 60, 64], [45, 52, 57, 60], [41, 48, 53, 57], [43, 50, 55, 59]]  # C Am F G
    for bar in range(bars):
        o = bar * 4
        for k in (0, 2):
            s.note(o + k, DRUMS, KICK, _hum(rng, 85))
        for k in (1, 3):
            s.note(o + k, DRUMS, STICK, _hum(rng, 80))
        for e in range(8):
            s.note(o + e * 0.5, DRUMS, PEDAL, _hum(rng, 45))
        chord = prog[bar % 4]
        s.note(o, 0, chord[0] - 12, _hum(rng, 85), 1.9)
        s.note(o + 2, 0, chord[0] - 5, _hum(rng, 80), 1.9)
        for e in range(8):
            s.note(o + e * 0.5, 1, chord[1 + e % 3] + 12, _hum(rng, 70 if e % 2 == 0 else 55), 0.9)
    _chords(s, rng, bars, 2, [[c + 12 for c in ch[1:]] for ch in prog], vel=45)
    return s


def swing(rng) -> Song:
    s = Song("swing_116", 116.0, "validation", "jazz swing: ride 'ding ding-a ding' with swung 8ths, pedal hat 2/4, feathered kick, walking bass on every beat, piano comping")
    s.programs = {0: 32, 1: 0}
    bars = 8
    walk = [[41, 45, 48, 50], [46, 45, 43, 41], [43, 46, 50, 48], [48, 47, 45, 43]]
    for bar in range(bars):
        o = bar * 4
        for b in range(4):
            s.note(o + b, DRUMS, RIDE, _hum(rng, 85))
            s.note(o + b, DRUMS, KICK, _hum(rng, 55))
            if b % 2 == 1:
                s.note(o + b + 2 / 3, DRUMS, RIDE, _hum(rng, 65))
                s.note(o + b, DRUMS, PEDAL, _hum(rng, 75))
            s.note(o + b, 0, walk[bar % 4][b], _hum(rng, 95), 0.9)
        chord = [[65, 69, 72, 76], [70, 74, 77, 81], [67, 70, 74, 77], [72, 76, 79, 82]][bar % 4]
        for k in (1 + 2 / 3, 3):
            for n in chord:
                s.note(o + k, 1, n - 12, _hum(rng, 62), 0.3)
    return s


def funk(rng) -> Song:
    s = Song("funk_100", 100.0, "validation", "funk: syncopated kick, snare 2/4 with ghost notes, 16th hats, slap bass, clavinet-ish organ stabs")
    s.programs = {0: 36, 1: 7}
    bars = 7
    for bar in range(bars):
        o = bar * 4
        for k in (0, 0.75, 2.25, 2.5):
            s.note(o + k, DRUMS, KICK, _hum(rng, 108))
        for k in (1, 3):
            s.note(o + k, DRUMS, SNARE, _hum(rng, 112))
        for k in (1.75, 3.25):
            s.note(o + k, DRUMS, SNARE, _hum(rng, 40))
        for q in range(16):
            s.note(o + q * 0.25, DRUMS, HAT, _hum(rng, 60 if q % 2 == 0 else 38))
        for k, n in ((0, 40), (0.75, 40), (1.5, 52), (2.25, 43), (2.5, 45), (3.5, 47)):
            s.note(o + k, 0, n, _hum(rng, 100), 0.2)
        for k in (0.5, 1.5, 2.75, 3.5):
            for n in (64, 67, 71):
                s.note(o + k, 1, n, _hum(rng, 70), 0.12)
    return s


def techno(rng) -> Song:
    s = Song("techno_132", 132.0, "test", "techno: kick every beat, off-beat open hat, 16th closed hats, rim on 2/4, rolling 16th synth bass, no chords")
    s.programs = {0: 39}
    bars = 10
    for bar in range(bars):
        o = bar * 4
        for b in range(4):
            s.note(o + b, DRUMS, KICK, _hum(rng, 118))
            s.note(o + b + 0.5, DRUMS, OPEN, _hum(rng, 60))
            if b % 2 == 1:
                s.note(o + b, DRUMS, STICK, _hum(rng, 70))
            for q in (0.25, 0.75):
                s.note(o + b + q, DRUMS, HAT, _hum(rng, 50))
            for q in (0.25, 0.5, 0.75):
                s.note(o + b + q, 0, 36 + (12 if q == 0.5 else 0), _hum(rng, 85), 0.2)
    return s


def ambient(rng) -> Song:
    s = Song("ambient_pad", None, "validation", "tempo-less ambient: overlapping slow pad chords (new-age pad, warm pad), no drums, no regular attacks", offset_beats=0.0)
    s.programs = {0: 88, 1: 89}
    # Written at a nominal 60 BPM; entries at irregular times so no pulse emerges.
    starts = [0.0, 2.7, 6.1, 8.3, 11.9]
    chords = [[48, 55, 64, 71], [45, 52, 60, 67], [53, 57, 64, 72], [50, 57, 62, 69], [48, 55, 62, 67]]
    for i, (t, ch) in enumerate(zip(starts, chords)):
        for n in ch:
            s.note(t, i % 2, n, _hum(rng, 70, 6), 6.5)
    return s


SONGS = (house, hiphop, rock, dnb, ballad, swing, funk, techno, ambient)


def write_midi(song: Song, path: Path) -> float:
    """Write the song as a type-0 MIDI file; returns the exact bpm its tempo meta event encodes."""
    bpm = song.bpm or 60.0
    tempo = mido.bpm2tempo(bpm)  # microseconds per beat (integer)
    msgs = [(0, mido.MetaMessage("set_tempo", tempo=tempo))]
    for ch, prog in song.programs.items():
        msgs.append((0, mido.Message("program_change", channel=ch, program=prog)))
    for tick, ch, note, vel, length in song.events:
        msgs.append((tick, mido.Message("note_on", channel=ch, note=note, velocity=vel)))
        msgs.append((tick + length, mido.Message("note_off", channel=ch, note=note, velocity=0)))
    msgs.sort(key=lambda m: (m[0], m[1].type != "set_tempo", m[1].type == "note_on"))  # offs before ons
    track = mido.MidiTrack()
    last = 0
    for tick, msg in msgs:
        track.append(msg.copy(time=tick - last))
        last = tick
    mid = mido.MidiFile(type=0, ticks_per_beat=TPB)
    mid.tracks.append(track)
    with atomic_path(path) as tmp:
        mid.save(str(tmp))
    return 60e6 / tempo


def render(song: Song, out_dir: Path, seconds: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        bpm = write_midi(song, tmp / "song.mid")
        subprocess.run(["fluidsynth", "-ni", "-g", "0.5", "-R", "0", "-C", "0", "-F", str(tmp / "song.wav"),
                        "-r", str(RATE), str(SOUNDFONT), str(tmp / "song.mid")], check=True, capture_output=True)
        flac = out_dir / f"{song.name}.flac"
        with atomic_path(flac) as out:
            subprocess.run(["sox", str(tmp / "song.wav"), "-t", "flac", "-c", "1", "-r", str(RATE), "-b", "16",
                            str(out), "trim", "0", f"{seconds:g}", "fade", "t", "0", f"{seconds:g}", "0.3",
                            "norm", "-1"], check=True, capture_output=True)
    period = 60.0 / bpm
    offset = song.offset_beats * period
    beats = [] if song.bpm is None else [round(offset + k * period, 6) for k in range(int((seconds - offset) / period) + 1)]
    truth = {"file": flac.name, "bpm": None if song.bpm is None else round(bpm, 6),
             "beat_offset_s": None if song.bpm is None else round(offset, 6),
             "beat_period_s": None if song.bpm is None else round(period, 9), "beats": beats,
             "seconds": seconds, "sample_rate": RATE, "split": song.split, "style": song.style}
    with atomic_open(out_dir / f"{song.name}.json", "w") as f:
        json.dump(truth, f, indent=1)
        f.write("\n")
    return truth


MANIFEST_HEAD = """# Synthesized music set (tempo and beat ground truth)

Made by `scripts/make_music_set.py` (run it to rebuild; the MIDI is deterministic, renders match up to dither-level noise): MIDI written with mido, rendered
with `fluidsynth -ni -g 0.5 -R 0 -C 0 -r 22050` and the FluidR3_GM General MIDI soundfont
(`/usr/share/sounds/sf2/FluidR3_GM.sf2`, Debian package `fluid-soundfont-gm`, MIT licence), then
`sox ... -c 1 -r 22050 -b 16 trim 0 S fade t 0 S 0.3 norm -1` to mono 22050 Hz 16-bit FLAC.

Licence of the audio, MIDI and JSON: generated by this script for livevis (same licence as livevis);
the instrument samples come from FluidR3_GM (MIT). No recordings from other packages are used.

Ground truth: `<name>.json` next to each file: `bpm` (exact, from the MIDI tempo), `beat_offset_s`,
`beat_period_s`, `beats` (beat k at `beat_offset_s + k * beat_period_s` seconds), `split`.
Split: `validation` tracks are the only ones used to tune the analysis; `test` tracks are for
reporting only. `ambient_pad` has no tempo (bpm null).

| file | split | bpm | beats | how made |
|---|---|---|---|---|
"""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "tests" / "data" / "music")
    p.add_argument("--seconds", type=float, default=11.5)
    args = p.parse_args(argv)
    for tool in ("fluidsynth", "sox"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found (apt-get install fluidsynth fluid-soundfont-gm sox)")
    if not SOUNDFONT.exists():
        sys.exit(f"{SOUNDFONT} not found (apt-get install fluid-soundfont-gm)")
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for make in SONGS:
        song = make(np.random.default_rng(zlib.crc32(make.__name__.encode())))  # per-song fixed seed
        truth = render(song, args.out, args.seconds)
        beats = "none" if truth["bpm"] is None else f"{truth['beat_offset_s']:.4f} + k * {truth['beat_period_s']:.6f} s"
        rows.append(f"| {truth['file']} | {song.split} | {truth['bpm'] or '-'} | {beats} | {song.style} |")
        print(f"{truth['file']}: {(args.out / truth['file']).stat().st_size / 1e3:.0f} kB", flush=True)
    with atomic_open(args.out / "MANIFEST.md", "w") as f:
        f.write(MANIFEST_HEAD + "\n".join(rows) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
