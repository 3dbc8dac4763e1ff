"""Audio augmentation for training windows: what real recordings do to a sound on its way to livevis.

The chain, in the order the world applies it (each step on with its own probability, all settings
drawn per window from one seeded generator, so a window is augmented the same way in any process,
batch position or resumed run):

    room reverb -> background at a random SNR (speech, music, room tone) -> band-limited microphone
    (phone / laptop / headset: high-pass + low-pass + a resonance) -> EQ (shelves, a peak) and
    spectral tilt -> compression -> codec round trip (mp3 or ogg vorbis) -> gain +-20 dB -> clip at
    full scale

Library: pedalboard (Spotify). It was chosen over audiomentations and pyroomacoustics (all three
install from wheels on Python 3.11 here) because one compiled, numpy-only wheel does every step of
the chain itself (Reverb, shelf/peak/pass filters, Compressor, Gain, and an in-process LAME
MP3Compressor) at well under a millisecond per effect on a 1 s window; audiomentations would wrap
pedalboard/scipy for most of these and needs ffmpeg-style decoders for codecs, and pyroomacoustics
only covers the room (image-source RIRs, tens of ms each). Ogg vorbis goes through libsndfile
(soundfile). Backgrounds come from training/audio_backgrounds.py.

Cost (1 s windows at 16 kHz, this 2-core CPU, one thread; `python -m livevis.training.augment_audio`
measures it): about 3-4 ms per augmented window on average with the default probabilities (codec
round trips, ~3-5 ms each, dominate), so a batch of 32 anchors + 32 second views costs ~0.2 s.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

DEFAULTS: dict[str, Any] = {
    "p": 0.8,                  # fraction of windows augmented at all (the rest stay clean)
    "gain_db": 20.0,           # gain drawn uniformly in [-gain_db, +gain_db]
    "reverb": 0.4,             # probability of each step
    "background": 0.5,
    "mic": 0.3,
    "eq": 0.6,
    "compress": 0.3,
    "codec": 0.25,
    "snr_db": [0.0, 30.0],     # background level under the signal
    "tilt_db": 3.0,            # spectral tilt, +- dB per octave around 1 kHz
    "backgrounds": ["speech", "music", "room"],
    "preroll_s": 0.25,         # audio before the window that goes through the chain (reverb tails)
    # Real recordings of the window's class (training/real_sounds.py), mixed in before the chain:
    # with probability `real` the window becomes a real excerpt plus the procedural sound at
    # `real_mix_db` relative to it (-30: nearly the real sound alone; 0: both alike). Off by default.
    "real": 0.0,
    "real_dir": "",            # DIR/<class>/*.flac; required when real > 0
    "real_mix_db": [-30.0, 0.0],
}

MICS = {  # high-pass Hz, low-pass Hz, resonance Hz ranges of cheap microphones and their codecs
    "phone": ((250, 400), (3000, 3800), (1000, 2500)),
    "laptop": ((100, 250), (5000, 7500), (2000, 5000)),
    "headset": ((150, 300), (4000, 6000), (1500, 3500)),
}


def config_with_defaults(config: dict[str, Any] | None) -> dict[str, Any]:
    cfg = dict(DEFAULTS)
    cfg.update(config or {})
    unknown = set(cfg) - set(DEFAULTS)
    if unknown:
        from livevis.errors import LivevisError

        raise LivevisError(f"audio_augment: unknown key(s) {', '.join(sorted(unknown))}")
    return cfg


def rng_from(gen: torch.Generator) -> np.random.Generator:
    """A numpy generator seeded from a torch generator's next draw (per-sample randomness)."""
    return np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=gen)))


class AudioAugment:
    """The seeded chain. `plan(rng)` draws a window's settings; `apply(x, plan)` runs them on x [n];
    `augment(x, rng)` does both. Counters `windows` / `changed` record what the chain did."""

    def __init__(self, config: dict[str, Any] | None, sample_rate: int, cache_dir: str | Path | None = None,
                 classes: list[str] | None = None):
        self.cfg = config_with_defaults(config)
        self.sample_rate = int(sample_rate)
        self.cache_dir = cache_dir
        self._bank = None
        self.real_bank = None
        if float(self.cfg["real"]) > 0:
            from livevis.errors import LivevisError
            from livevis.training.real_sounds import RealSoundBank

            if not self.cfg["real_dir"] or classes is None:
                raise LivevisError("audio_augment.real > 0 needs audio_augment.real_dir=DIR (DIR/<class>/*.flac)")
            self.real_bank = RealSoundBank(self.cfg["real_dir"], list(classes), self.sample_rate)
        self.real_mixed = 0
        self._codec_notes: set[str] = set()
        self.windows = 0
        self.changed = 0

    @property
    def enabled(self) -> bool:
        return float(self.cfg["p"]) > 0 or self.real_bank is not None

    @property
    def bank(self):
        if self._bank is None:
            from livevis.training.audio_backgrounds import BackgroundBank

            self._bank = BackgroundBank(self.sample_rate, self.cache_dir, tuple(self.cfg["backgrounds"]))
        return self._bank

    # ---- settings ------------------------------------------------------------------------------
    def plan(self, rng: np.random.Generator) -> dict[str, Any]:
        """Every setting is drawn, used or not, in a fixed order: turning one step off leaves the
        others' draws unchanged."""
        c, sr = self.cfg, self.sample_rate
        u = rng.uniform
        on = {k: bool(u() < float(c[k])) for k in ("reverb", "background", "mic", "eq", "compress", "codec")}
        mic = list(MICS)[int(rng.integers(len(MICS)))]
        hp, lp, res = MICS[mic]
        return {
            "augment": bool(u() < float(c["p"])), **on,
            "room_size": u(0.1, 0.9), "damping": u(0.1, 0.9), "wet": u(0.1, 0.6), "dry": u(0.5, 1.0),
            "snr_db": u(*c["snr_db"]), "bg_seed": int(rng.integers(2**62)),
            "mic_kind": mic, "mic_hp": u(*hp), "mic_lp": min(u(*lp), 0.45 * sr), "mic_res": min(u(*res), 0.4 * sr),
            "mic_res_db": u(0, 8),
            "low_shelf": (u(80, 300), u(-8, 8)), "peak": (u(300, min(5000, 0.4 * sr)), u(-8, 8), u(0.5, 3.0)),
            "high_shelf": (min(u(2000, 6000), 0.4 * sr), u(-8, 8)), "tilt": u(-1, 1) * float(c["tilt_db"]),
            "threshold_db": u(-40, -15), "ratio": u(2, 10), "attack_ms": u(1, 20), "release_ms": u(50, 300),
            "codec_kind": "mp3" if u() < 0.7 else "ogg", "mp3_quality": u(2, 9.5),
            "gain_db": u(-1, 1) * float(c["gain_db"]),
            # drawn last, so the draws above are those of a config without real sounds
            "real": bool(u() < float(c["real"])), "real_seed": int(rng.integers(2**62)),
            "real_mix_db": u(*c["real_mix_db"]),
        }

    # ---- the chain -----------------------------------------------------------------------------
    def mix_real(self, x: np.ndarray, p: dict[str, Any], label: int | None) -> np.ndarray:
        """x [n] -> a real recording of class `label` with x at real_mix_db under it (x itself when
        the plan draws no real sound, or the class has none)."""
        if not p.get("real") or self.real_bank is None or label is None:
            return x
        real = self.real_bank.draw(np.random.default_rng(p["real_seed"]), int(label), len(x))
        if real is None:
            return x
        self.real_mixed += 1
        rms = float(np.sqrt(np.mean(np.asarray(x, np.float64) ** 2)))
        under = x * (10 ** (p["real_mix_db"] / 20) * (float(np.sqrt(np.mean(real.astype(np.float64) ** 2))) / max(rms, 1e-5)))
        return np.clip(real + under, -1.0, 1.0).astype(np.float32)

    def apply(self, x: np.ndarray, p: dict[str, Any], label: int | None = None) -> np.ndarray:
        """x float32 [n] (of class `label`) -> augmented float32 [n] (same length, finite, within [-1, 1])."""
        import pedalboard as pb

        x = self.mix_real(x, p, label)
        if not p["augment"]:
            return x
        sr, n = self.sample_rate, len(x)
        y = np.ascontiguousarray(x, np.float32)[None]                                      # [1, n]
        if p["reverb"]:
            y = pb.Reverb(room_size=p["room_size"], damping=p["damping"], wet_level=p["wet"], dry_level=p["dry"],
                          width=0.0)(y, sr)
        if p["background"]:
            kind, bg = self.bank.draw(np.random.default_rng(p["bg_seed"]), n)
            rms = max(float(np.sqrt(np.mean(y**2))), 10 ** (-50 / 20))                    # silence still gets a floor
            y = y + bg[None] * (rms / 10 ** (p["snr_db"] / 20))
        board = []
        if p["mic"]:
            board += [pb.HighpassFilter(p["mic_hp"]), pb.HighpassFilter(p["mic_hp"]),
                      pb.LowpassFilter(p["mic_lp"]), pb.LowpassFilter(p["mic_lp"]),
                      pb.PeakFilter(p["mic_res"], p["mic_res_db"], 1.5)]
        if p["eq"]:
            (fl, gl), (fp, gp, q), (fh, gh) = p["low_shelf"], p["peak"], p["high_shelf"]
            board += [pb.LowShelfFilter(fl, gl), pb.PeakFilter(fp, gp, q), pb.HighShelfFilter(fh, gh)]
            # Spectral tilt of `tilt` dB/octave around 1 kHz, as two shelves 2 octaves either side.
            board += [pb.LowShelfFilter(250.0, -2 * p["tilt"]), pb.HighShelfFilter(min(4000.0, 0.4 * sr), 2 * p["tilt"])]
        if board:
            y = pb.Pedalboard(board)(y, sr)
        if p["compress"]:
            before = float(np.sqrt(np.mean(y**2))) + 1e-9
            y = pb.Compressor(p["threshold_db"], p["ratio"], p["attack_ms"], p["release_ms"])(y, sr)
            y = y * (before / (float(np.sqrt(np.mean(y**2))) + 1e-9))                       # make-up gain
        if p["codec"]:
            y = self._codec(np.clip(y, -1, 1), p)
        y = y * 10 ** (p["gain_db"] / 20)
        y = np.clip(np.nan_to_num(y[0, :n], nan=0.0, posinf=0.0, neginf=0.0), -1.0, 1.0)   # a recorder's ceiling
        return y.astype(np.float32)

    def _codec(self, y: np.ndarray, p: dict[str, Any]) -> np.ndarray:
        """An mp3 (LAME VBR) or ogg vorbis round trip, same length as y [1, n]."""
        import pedalboard as pb

        sr, n = self.sample_rate, y.shape[1]
        for kind in (p["codec_kind"], "ogg" if p["codec_kind"] == "mp3" else "mp3"):
            try:
                if kind == "mp3":  # LAME takes 8-48 kHz rates only
                    return pb.MP3Compressor(vbr_quality=p["mp3_quality"])(y, sr)[:, :n]
                import soundfile as sf

                buf = io.BytesIO()
                sf.write(buf, y[0], sr, format="OGG", subtype="VORBIS")
                buf.seek(0)
                out, _ = sf.read(buf, dtype="float32")
                return np.pad(out[:n], (0, max(0, n - len(out))))[None]
            except (ValueError, RuntimeError, OSError) as exc:  # this rate or build lacks the codec
                if kind not in self._codec_notes:
                    self._codec_notes.add(kind)
                    print(f"livevis: audio augmentation: no {kind} round trip at {sr} Hz ({exc})", file=sys.stderr)
        return y

    def augment(self, x: np.ndarray, rng: np.random.Generator, label: int | None = None) -> np.ndarray:
        return self.apply(x, self.plan(rng), label)

    # ---- batches for the training stages -------------------------------------------------------
    def batch(self, audio: torch.Tensor, gens: list[torch.Generator], labels: list[int] | None = None) -> torch.Tensor:
        """audio [B, n] (classes labels[b]) -> augmented [B, n], sample b driven by gens[b]; updates the counters."""
        out = audio.clone()
        for b, gen in enumerate(gens):
            label = None if labels is None else int(labels[b])
            y = torch.from_numpy(self.augment(audio[b].numpy(), rng_from(gen), label))
            self.windows += 1
            self.changed += int(not torch.equal(y, audio[b]))
            out[b] = y
        return out

    def preroll(self) -> int:
        return int(round(float(self.cfg["preroll_s"]) * self.sample_rate))


def augmented_windows(aug: AudioAugment | None, audio: list[torch.Tensor], ends: list[int], window: int,
                      gens: list[torch.Generator], labels: list[int] | None = None) -> tuple[torch.Tensor, int]:
    """Windows [B, window] ending at ends[i] of audio[i], each augmented with its pre-roll (so a
    reverb tail or compressor state comes from the audio before it), and how many changed."""
    from livevis.training.stages.common import window_batch

    if aug is None or not aug.enabled:
        return window_batch(audio, ends, window), 0
    pre = aug.preroll()
    long = window_batch(audio, ends, window + pre)                                      # [B, pre + window]
    changed = aug.changed
    out = aug.batch(long, gens, labels)[:, pre:]
    return out.contiguous(), aug.changed - changed


def build(config: dict[str, Any] | None, sample_rate: int, data_dir: str | Path | None,
          classes: list[str] | None = None) -> AudioAugment | None:
    """The stage's chain, or None when the config turns it off (p = 0 or no config: older runs)."""
    if not config:
        return None
    import importlib.util

    if float(config.get("p", DEFAULTS["p"])) > 0 and importlib.util.find_spec("pedalboard") is None:
        from livevis.errors import LivevisError

        raise LivevisError("audio augmentation needs pedalboard (pip install pedalboard), or turn it off with --set audio_augment.p=0")
    aug = AudioAugment(config, sample_rate, Path(data_dir) / "audio_backgrounds" if data_dir else None, classes)
    return aug if aug.enabled else None


def _benchmark(windows: int = 200, sample_rate: int = 16000) -> None:
    """ms per 1 s window: the whole default chain, and each step alone."""
    import tempfile
    import time

    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal(sample_rate + int(0.25 * sample_rate))).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        aug = AudioAugment({}, sample_rate, tmp)
        aug.bank  # build the background bank outside the timing (it is cached per dataset)
        steps = ["reverb", "background", "mic", "eq", "compress", "codec"]
        cases = {"default chain": {}} | {f"{s} only": {k: float(k == s) for k in steps} | {"p": 1.0} for s in steps}
        for name, over in cases.items():
            aug.cfg = config_with_defaults(over)
            t0 = time.perf_counter()
            for i in range(windows):
                aug.augment(x, np.random.default_rng(i))
            print(f"{name:>18}: {(time.perf_counter() - t0) / windows * 1e3:.2f} ms per 1.25 s window")


if __name__ == "__main__":
    _benchmark()


def augmented_clip(aug: AudioAugment | None, audio: torch.Tensor, start: int, end: int,
                   gen: torch.Generator, label: int | None = None) -> tuple[torch.Tensor, bool]:
    """audio [S] with samples [start, end) replaced by one augmented draw of them (a whole stretch
    of a clip heard through the same room, microphone and codec), and whether it changed."""
    if aug is None or not aug.enabled or end <= start:
        return audio, False
    out = audio.clone()
    seg = torch.from_numpy(aug.augment(audio[start:end].numpy(), rng_from(gen), label))
    out[start:end] = seg
    aug.windows += 1
    changed = not torch.equal(seg, audio[start:end])
    aug.changed += int(changed)
    return out, changed
