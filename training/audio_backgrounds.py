"""Background sounds that audio augmentation mixes under training windows: speech, music, room tone.

Speech is spoken by espeak-ng (a few voices, speeds and pitches over a fixed set of sentences);
music is composed here as MIDI (mido: random chord progressions, bass, melody and sometimes drums in
a random key, tempo and instrumentation) and rendered by fluidsynth with the General MIDI sound font.
Both are rendered once per dataset and cached under DATA/audio_backgrounds/ (atomic .npy files), so
training reads them in milliseconds and every process and resumed run sees the same bank. Room tone
is drawn per use (shaped low-level noise with mains hum), so it never needs a tool.

A missing tool (no espeak-ng, no fluidsynth or sound font) drops that kind with a one-line note on
stderr; the bank always holds at least room tone.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from livevis.util.atomic import atomic_path

BANK_VERSION = 1
SOUND_FONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2")

SENTENCES = [
    "Good morning everyone, and welcome to the evening news.",
    "Could you pass me the salt, please? Thank you very much.",
    "The train to the city centre leaves from platform four in ten minutes.",
    "I think we should try the new restaurant on the corner tonight.",
    "Turn left at the next junction and keep going for two kilometres.",
    "Today we will talk about the history of the printing press.",
    "Hello? Can you hear me? The line is really bad today.",
    "Please remember to switch off your phones during the performance.",
    "The weather will stay dry with sunny spells in the afternoon.",
    "One, two, three, testing, testing. Is this microphone on?",
    "She said she would call back later, after the meeting.",
    "Let me show you how this works, it only takes a minute.",
]
VOICES = ["en", "en-us", "en+f3", "en-us+m3", "en+f2", "de", "fr", "es"]


def _note(text: str) -> None:
    print(f"livevis: audio augmentation: {text}", file=sys.stderr)


def _read_wav(path: Path, sample_rate: int) -> np.ndarray:
    import soundfile as sf
    from scipy.signal import resample_poly

    x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    x = x.mean(1)
    if sr != sample_rate:
        g = np.gcd(int(sr), int(sample_rate))
        x = resample_poly(x, sample_rate // g, sr // g).astype(np.float32)
    return x


def render_speech(sample_rate: int, seed: int = 0) -> np.ndarray | None:
    """All sentences spoken by espeak-ng in turn (voice, speed, pitch varied), with short pauses:
    float32 [samples] or None without espeak-ng."""
    exe = shutil.which("espeak-ng") or shutil.which("espeak")
    if exe is None:
        return None
    rng = np.random.default_rng(seed)
    parts = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, text in enumerate(SENTENCES):
            wav = Path(tmp) / f"{i}.wav"
            voice = VOICES[i % len(VOICES)]
            cmd = [exe, "-v", voice, "-s", str(int(rng.integers(130, 200))), "-p", str(int(rng.integers(25, 75))),
                   "-w", str(wav), text]
            try:
                subprocess.run(cmd, check=True, capture_output=True, timeout=60)
                parts += [_read_wav(wav, sample_rate), np.zeros(int(rng.uniform(0.1, 0.6) * sample_rate), np.float32)]
            except (OSError, subprocess.SubprocessError, RuntimeError):
                continue
    return np.concatenate(parts) if parts else None


def compose_midi(path: Path, rng: np.random.Generator, seconds: float) -> None:
    """A short random piece: chords, bass line, melody (and drums half the time) in one key."""
    import mido

    mid = mido.MidiFile(ticks_per_beat=480)
    tempo = int(rng.integers(70, 150))
    key = int(rng.integers(48, 60))
    minor = rng.random() < 0.5
    scale = np.array([0, 2, 3, 5, 7, 8, 10] if minor else [0, 2, 4, 5, 7, 9, 11])
    degrees = rng.choice([0, 3, 4, 5, 1], size=4)                                   # a four-chord loop
    beats = int(seconds * tempo / 60) + 1
    programs = {"chords": int(rng.choice([0, 4, 16, 19, 24, 48, 52, 88])), "bass": int(rng.choice([32, 33, 35, 38, 43])),
                "melody": int(rng.choice([0, 11, 40, 56, 65, 71, 73, 80]))}
    tpb = mid.ticks_per_beat

    def track(channel: int, program: int | None, notes: list[tuple[int, int, int, int]]) -> None:
        tr = mido.MidiTrack()
        mid.tracks.append(tr)
        if channel == 0:
            tr.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo)))
        if program is not None:
            tr.append(mido.Message("program_change", channel=channel, program=program))
        events = sorted([(s, 1, n, v) for s, d, n, v in notes] + [(s + d, 0, n, 0) for s, d, n, v in notes])
        now = 0
        for t, on, note, vel in events:
            kind = "note_on" if on else "note_off"
            tr.append(mido.Message(kind, channel=channel, note=int(note), velocity=int(vel), time=int(t - now)))
            now = t

    chords, bass, melody, drums = [], [], [], []
    for bar in range(beats // 4 + 1):
        root = key + scale[degrees[bar % 4] % 7]
        third = key + scale[(degrees[bar % 4] + 2) % 7] + (12 if (degrees[bar % 4] + 2) >= 7 else 0)
        fifth = key + scale[(degrees[bar % 4] + 4) % 7] + (12 if (degrees[bar % 4] + 4) >= 7 else 0)
        start = bar * 4 * tpb
        chords += [(start, 4 * tpb - 10, n, int(rng.integers(50, 80))) for n in (root, third, fifth)]
        bass += [(start + b * tpb, tpb - 20, root - 12, int(rng.integers(70, 100))) for b in range(4)]
        for b in range(8):
            if rng.random() < 0.7:
                note = key + 12 + scale[int(rng.integers(0, 7))]
                melody.append((start + b * tpb // 2, tpb // 2 - 10, note, int(rng.integers(60, 100))))
        drums += [(start + b * tpb, tpb // 4, 36 if b % 2 == 0 else 38, 90) for b in range(4)]
        drums += [(start + b * tpb // 2, tpb // 4, 42, 60) for b in range(8)]
    track(0, programs["chords"], chords)
    track(1, programs["bass"], bass)
    track(2, programs["melody"], melody)
    if rng.random() < 0.5:
        track(9, None, drums)
    mid.save(str(path))


def render_music(sample_rate: int, seed: int = 0, pieces: int = 6, seconds: float = 8.0) -> np.ndarray | None:
    """`pieces` random pieces rendered by fluidsynth, concatenated: float32 [samples] or None."""
    exe = shutil.which("fluidsynth")
    font = next((f for f in SOUND_FONTS if Path(f).is_file()), None)
    if exe is None or font is None:
        return None
    import importlib.util

    if importlib.util.find_spec("mido") is None:
        return None
    rng = np.random.default_rng(seed)
    parts = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(pieces):
            mid, wav = Path(tmp) / f"{i}.mid", Path(tmp) / f"{i}.wav"
            compose_midi(mid, rng, seconds)
            cmd = [exe, "-ni", "-q", "-g", "0.5", "-r", str(sample_rate), "-F", str(wav), font, str(mid)]
            try:
                subprocess.run(cmd, check=True, capture_output=True, timeout=120)
                parts.append(_read_wav(wav, sample_rate)[: int(seconds * sample_rate)])
            except (OSError, subprocess.SubprocessError, RuntimeError):
                continue
    return np.concatenate(parts) if parts else None


def room_tone(rng: np.random.Generator, n: int, sample_rate: int) -> np.ndarray:
    """Low-level room noise [n]: pink-to-brown shaped noise, a gentle band limit, sometimes mains hum."""
    f = np.fft.rfftfreq(n, 1.0 / sample_rate) + 1.0
    gain = f ** (-rng.uniform(0.5, 1.0)) / np.sqrt(1.0 + (f / rng.uniform(2000, 7000)) ** 4)
    x = np.fft.irfft(np.fft.rfft(rng.standard_normal(n)) * gain, n)
    if rng.random() < 0.4:
        hz = 50.0 if rng.random() < 0.5 else 60.0
        t = np.arange(n) / sample_rate
        x = x / (np.std(x) + 1e-9) + rng.uniform(0.1, 0.5) * sum(np.sin(2 * np.pi * hz * k * t) / k for k in (1, 2, 3))
    return (x / (np.sqrt(np.mean(x**2)) + 1e-9)).astype(np.float32)


class BackgroundBank:
    """Speech and music tracks for one sample rate, cached under `cache_dir` when given."""

    def __init__(self, sample_rate: int, cache_dir: str | Path | None = None, kinds: tuple[str, ...] = ("speech", "music", "room")):
        self.sample_rate = int(sample_rate)
        self.tracks: dict[str, np.ndarray] = {}
        for kind in kinds:
            if kind == "room":
                continue
            if kind not in ("speech", "music"):
                raise ValueError(f"unknown background kind {kind!r}")
            track = self._load(kind, cache_dir)
            if track is None or len(track) < self.sample_rate:
                tool = "espeak-ng" if kind == "speech" else "fluidsynth (+ fluid-soundfont-gm, mido)"
                _note(f"{tool} not available: no {kind} backgrounds (mixing the others)")
                continue
            self.tracks[kind] = track
        self.kinds = [k for k in kinds if k == "room" or k in self.tracks]
        if not self.kinds:
            self.kinds = ["room"]

    def _load(self, kind: str, cache_dir: str | Path | None) -> np.ndarray | None:
        path = Path(cache_dir) / f"v{BANK_VERSION}-{kind}-{self.sample_rate}.npy" if cache_dir else None
        if path is not None and path.is_file():
            try:
                return np.load(path, allow_pickle=False).astype(np.float32)
            except (OSError, ValueError):
                pass  # damaged: render again
        track = render_speech(self.sample_rate) if kind == "speech" else render_music(self.sample_rate)
        if track is None:
            return None
        track = (track / (np.sqrt(np.mean(track**2)) + 1e-9)).astype(np.float32)   # unit RMS
        if path is not None:
            try:
                with atomic_path(path) as tmp:
                    with open(tmp, "wb") as f:
                        np.save(f, track, allow_pickle=False)
            except OSError as exc:  # a read-only dataset: keep it in memory only
                _note(f"cannot cache backgrounds in {path.parent} ({exc.strerror})")
        return track

    def draw(self, rng: np.random.Generator, n: int) -> tuple[str, np.ndarray]:
        """(kind, a random background excerpt [n] of unit RMS) chosen uniformly among the kinds."""
        kind = self.kinds[int(rng.integers(len(self.kinds)))]
        if kind == "room":
            return kind, room_tone(rng, n, self.sample_rate)
        track = self.tracks[kind]
        if len(track) <= n:
            x = np.resize(track, n)
        else:
            start = int(rng.integers(0, len(track) - n))
            x = track[start:start + n]
        return kind, (x / (np.sqrt(np.mean(x**2)) + 1e-4)).astype(np.float32)
