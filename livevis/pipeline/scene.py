"""Audio -> ws for every rendered frame, in each mode. Live (`InferenceWorker`), offline (`render`,
`eval`, `bench`) and tests all go through `SceneDriver.frame`, so they show the same frames.

Modes (the `mode` live parameter):
- learned:  the bundle's sound model (encoder + recurrent blocks, keyframes at its step rate, newest
            keyframe shown at once, smoothed causally), moved to the heard class's scene when the
            bundle has a sound class model (livevis.pipeline.sound_scene), with the reactive pulses on top;
- react:    training-free, any generator: a loop of keyframe latents travelled at the music's pace
            plus onset pulses (livevis.pipeline.reactive_layer);
- retrieve: the sound encoder's CLIP-space embedding picks the nearest samples of a bank of the
            generator's own pictures; the scene glides there, the reactive layer moves around it.
Seed and prompt changes crossfade from the picture shown to the new scene over `crossfade`.
"""

from __future__ import annotations

import contextlib
import math
from typing import Mapping

import numpy as np
import torch

from livevis.errors import LivevisError
from livevis.pipeline.initial import latent_from_seed
from livevis.pipeline.keyframe_path import KeyframePath
from livevis.pipeline.latent import LatentDriver, WindowReader
from livevis.pipeline.reactive_layer import ReactiveLayer, w_stats
from livevis.pipeline.sound_scene import SoundScene

MODES = ("learned", "react", "retrieve")
CHROMA_SEED_OFFSET = 7919


def available_modes(modules, bank) -> list[str]:
    modes = ["react"]
    if modules.encoder is not None and modules.recurrent_step is not None:
        modes.insert(0, "learned")
    if modules.encoder is not None and bank is not None:
        modes.append("retrieve")
    return modes


def default_mode(modules) -> str:
    """learned when the bundle has a sound model, react otherwise."""
    return "learned" if modules.encoder is not None and modules.recurrent_step is not None else "react"


def check_mode(mode: str, modules, has_clip: bool) -> None:
    """One clear line when a mode cannot run on this model."""
    if mode not in MODES:
        raise LivevisError(f"unknown mode {mode!r} (use {', '.join(MODES)})")
    if mode == "learned" and (modules.encoder is None or modules.recurrent_step is None):
        raise LivevisError("--mode learned needs a bundle with a sound model (sound encoder + recurrent blocks); "
                           "this model has a generator only: use --mode react")
    if mode == "retrieve" and (modules.encoder is None or not has_clip):
        raise LivevisError("--mode retrieve needs a bundle with a sound encoder and a CLIP model; use --mode react")


SOUND_SCENE_PARAMS = {"sound_scene": "strength", "sound_scene_smoothing": "smoothing", "sound_scene_motion": "motion",
                      "sound_scene_motion_layers": "motion_layers"}


def sound_scene_of(modules, params: Mapping | None = None) -> SoundScene | None:
    """The learned mode's scene-from-sound when the bundle has a sound class model (else None), set
    from live parameters (`params`; default: the catalog's defaults)."""
    if modules.sound_classes is None:
        return None
    scene = SoundScene(modules.sound_classes, modules.num_ws)
    apply_sound_scene_params(scene, params)
    return scene


def apply_sound_scene_params(scene: SoundScene, params: Mapping | None = None) -> None:
    if params is None:
        from livevis.control.catalog import PARAMS

        params = {p.name: p.default for p in PARAMS}
    for name, attr in SOUND_SCENE_PARAMS.items():
        value = params[name]
        setattr(scene, attr, value if isinstance(value, str) else float(value))


def _smoothstep(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3.0 - 2.0 * x)


class SceneDriver:
    """Owns the live analysis, the mode's latent source and the reactive layer of one show.

    Args:
        modules:     LiveModules (encoder / recurrent_step may be None for generator-only models)
        params:      ParamRegistry (livevis.control.catalog); read once per frame
        max_catchup: learned-mode keyframes per frame at most (live 1; offline None: all)
        bank:        SampleBank for retrieve and prompts (None: neither)
        text_embed:  callable text -> [1, D] CLIP text embedding (prompts), or None
        stats:       StageStats timing "analysis" (live features) and "react" (reactive layer and
                     drivers, the sound model's own stages excluded: they are timed by the caller)
    """

    def __init__(self, modules, params, *, max_catchup: int | None = 1, bank=None, text_embed=None,
                 analyzer=None, stats=None):
        from livevis.audio.features import LiveAnalyzer

        self.m = modules
        self.params = params
        self.bank = bank
        self.text_embed = text_embed
        self._time = stats.time if stats is not None else (lambda _stage: contextlib.nullcontext())
        self.sample_rate = int(modules.sample_rate)
        self.analyzer = analyzer if analyzer is not None else LiveAnalyzer(self.sample_rate)
        self.stats = w_stats(modules.mapping, modules.z_dim, device=modules.device)
        self.modes = available_modes(modules, bank)
        self.learned = None
        if "learned" in self.modes:
            self.learned = LatentDriver(mel=modules.mel, encoder=modules.encoder, recurrent_step=modules.recurrent_step,
                                        hidden_init=modules.hidden_init, window_samples=modules.window_samples,
                                        step_samples=modules.step_samples, device=modules.device,
                                        max_catchup=max_catchup, sample_rate=self.sample_rate,
                                        sound_scene=sound_scene_of(modules))
        shape = (1, modules.num_ws, modules.w_dim)
        self.out = torch.zeros(shape, device=modules.device)  # [1, num_ws, w_dim] handed out (reused)
        self._path_ws = torch.zeros(shape, device=modules.device)
        self._base = torch.zeros(shape, device=modules.device)  # retrieve: the gliding scene latent
        self._fade_from = torch.zeros(shape, device=modules.device)
        self._fade_left = 0.0
        self._fade_total = 0.0
        self._applied: Mapping | None = None
        self.index = 0
        self.mode = None
        self.embedding: torch.Tensor | None = None  # [1, D] the newest sound embedding (retrieve)
        self._next_embed = 0
        self._target = None  # retrieve: the bank's target, [w_dim] or [num_ws, w_dim]

    # -- setup -------------------------------------------------------------------------------------
    def _anchor(self, p: Mapping) -> torch.Tensor:
        """ws [1, num_ws, w_dim] of the scene the seed (or the prompt, through the bank) picks."""
        if p["prompt"] and self.bank is not None and self.text_embed is not None:
            w = self.bank.nearest(self.text_embed(p["prompt"]))  # [w_dim] or [num_ws, w_dim] (W+ bank)
            return w.to(self.out).expand(1, self.m.num_ws, -1).clone()
        return latent_from_seed(self.m.mapping, self.m.z_dim, int(p["seed"]), truncation_psi=float(p["truncation"]),
                                device=self.m.device).float()

    def _keyframes(self, p: Mapping, anchor: torch.Tensor) -> None:
        k, seed, psi = int(p["keyframes"]), int(p["seed"]), float(p["truncation"])
        g = torch.Generator().manual_seed(seed * 7 + 3)
        z = torch.randn(k - 1 + 12, self.m.z_dim, generator=g).to(self.m.device)  # keyframes + chroma latents
        with torch.inference_mode():
            w = self.m.mapping(z, truncation_psi=psi)[:, 0].float()  # [k - 1 + 12, w_dim]
        if bool((anchor[0] == anchor[0, :1]).all()):  # one w on every layer: a W path
            keys = torch.cat([anchor[:, 0], w[: k - 1]])  # [k, w_dim]
        else:  # a W+ scene (a prompt's class scene): keep its layers
            keys = torch.cat([anchor, w[: k - 1, None].expand(-1, self.m.num_ws, -1)])  # [k, num_ws, w_dim]
        self.path = KeyframePath(keys, self.m.num_ws)
        self.react = ReactiveLayer(self.m.num_ws, self.stats, seed=seed, chroma_latents=w[k - 1:])

    @torch.inference_mode()
    def reset(self, index: int = 0, anchor: torch.Tensor | None = None) -> None:
        """Start the show's scene at audio index `index` (no crossfade), from the seed's (or the
        prompt's) latent, or from `anchor` ws [1, num_ws, w_dim] when given."""
        p = self.params.snapshot()
        self.mode = self._pick_mode(p)
        self.index = int(index)
        self.analyzer.reset(start_index=int(index))  # absolute indices: taps and beats line up with the audio
        self._start_scene(p, index, anchor)
        self._fade_left = 0.0
        self._applied = p
        self._apply_tempo(p, None)

    def heard(self) -> tuple[str, float] | None:
        """(class name, averaged probability) the learned mode's sound class model hears now, or None
        (another mode, no such model, nothing heard yet). Safe to call from other threads."""
        scene = self.learned.sound_scene if self.learned is not None and self.mode == "learned" else None
        heard = scene.heard if scene is not None else None
        if heard is None:
            return None
        index, p = heard
        names = self.m.class_names
        return (names[index] if index < len(names) else str(index)), p

    def _pick_mode(self, p: Mapping) -> str:
        mode = p["mode"]
        if mode not in self.modes:
            raise LivevisError(f"mode {mode} is not available for this model (available: {', '.join(self.modes)})")
        return mode

    def _start_scene(self, p: Mapping, index: int, anchor: torch.Tensor | None = None) -> None:
        anchor = self._anchor(p) if anchor is None else anchor.detach().to(self.out).clone()
        self._keyframes(p, anchor)
        self._base.copy_(anchor)
        self._target = None
        self._next_embed = (int(index) // self.m.step_samples + 1) * self.m.step_samples
        if self.learned is not None:
            self._learned_settings(p)
            self.learned.reset(anchor, index, pick=int(p["seed"]))

    def _learned_settings(self, p: Mapping) -> None:
        self.learned.anchor_leak = float(p["anchor_leash"])
        self.learned.smoothing = float(p["learned_smoothing"])
        if self.learned.sound_scene is not None:
            apply_sound_scene_params(self.learned.sound_scene, p)
            self.learned.sound_scene.pinned = bool(p["prompt"])

    def _apply_tempo(self, p: Mapping, old: Mapping | None) -> None:
        if old is None or p["bpm"] != old["bpm"]:
            bpm = float(p["bpm"])
            self.analyzer.set_fixed_bpm(bpm if bpm >= 20.0 else None)

    def tap(self, index: int | None = None) -> None:
        """Tap tempo at audio index `index` (default: the newest frame's)."""
        self.analyzer.tap(self.index if index is None else int(index))

    def _crossfade_seconds(self, p: Mapping) -> float:
        t = float(p["crossfade"])
        if p["crossfade_unit"] == "beats":
            bpm = self.analyzer.features.bpm or 120.0
            t *= 60.0 / bpm
        return t

    def _apply_changes(self, p: Mapping, index: int) -> None:
        """Parameter changes that need more than reading a value: a new scene (crossfaded), a mode
        switch, tempo, learned-path settings."""
        old = self._applied
        self._applied = p
        if old is None or old is p:
            return
        self._apply_tempo(p, old)
        if self.learned is not None:
            self._learned_settings(p)
        new_mode = p["mode"] if p["mode"] in self.modes else self.mode
        scene_keys = ("seed", "prompt", "truncation", "keyframes")
        if new_mode != self.mode or any(p[k] != old[k] for k in scene_keys):
            self._fade_from.copy_(self.out)
            self._fade_total = self._fade_left = self._crossfade_seconds(p)
            self.mode = new_mode
            self._start_scene(p, index)

    # -- per frame ---------------------------------------------------------------------------------
    @torch.inference_mode()
    def frame(self, index: int, fresh: np.ndarray, reader: WindowReader) -> torch.Tensor:
        """ws [1, num_ws, w_dim] to show at audio index `index`. `fresh`: the samples since the
        previous frame (float32 mono at the model's rate); `reader` gives encoder windows. The
        returned tensor is reused by the next call."""
        p = self.params.snapshot()
        self._apply_changes(p, index)
        dt = max(int(index) - self.index, 0) / self.sample_rate
        self.index = int(index)
        with self._time("analysis"):
            f, flux, strength = self._analyse(fresh)
            onsets = self.analyzer.take_onsets()
        phase = f.beat_phase if f.bpm else None
        untimed = float(p["pulse_untimed"])
        if not f.bpm and untimed != 1.0:  # no tempo: the onset reaction at its untimed share
            onsets = onsets * untimed
            strength = strength * untimed
        with self._time("react"):
            self.react.step(dt, f.bands, onsets, phase, f.chroma, p, flux=flux, onset_strength=strength)
            if self.m.noise_gains is not None:
                self.m.noise_gains.copy_(torch.from_numpy(self.react.noise_gains))
        out = self.out
        if self.mode == "learned":
            # The scene catches up with the sound model faster on onsets: its moves land on the hits.
            catchup = 1.0 + float(p["learned_onset_catchup"]) * float(self.react.envelope.max())
            out.copy_(self.learned.advance(index, reader, catchup))
        elif self.mode == "react":
            with self._time("react"):
                self.path.evaluate(self.react.positions, out)
        else:
            self._retrieve(index, reader, dt, p)
            self.path.evaluate(self.react.positions, self._path_ws)
            out.copy_(self._base).add_(self._path_ws.sub_(self.path.center), alpha=float(p["motion_depth"]))
        out.add_(self.react.offset)
        if self._fade_left > 0.0:
            self._fade_left = max(self._fade_left - dt, 0.0)
            a = _smoothstep(1.0 - self._fade_left / self._fade_total) if self._fade_total > 0 else 1.0
            out.copy_(torch.lerp(self._fade_from, out, a))
        return out

    def _analyse(self, fresh: np.ndarray):
        """Feed the new audio block by block; (newest features, mean spectral flux and mean mel onset
        strength of those blocks)."""
        an = self.analyzer
        hop = an.hop
        flux, strength, blocks, f = 0.0, 0.0, 0, an.features
        for start in range(0, fresh.shape[0], hop):
            before = f.index
            f = an.process(fresh[start:start + hop])
            if f.index != before:  # a block was analysed
                flux += f.flux
                strength += f.onset_strength
                blocks += 1
        if not blocks:
            return f, 0.0, 0.0
        return f, flux / blocks, strength / blocks

    def _retrieve(self, index: int, reader: WindowReader, dt: float, p: Mapping) -> None:
        """Every step boundary: embed the newest window, look up the bank; glide the base there."""
        if index >= self._next_embed:
            samples, _end = reader(index)
            window = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32)).to(self.m.device)
            emb, _offset = self.m.encoder(self.m.mel(window))
            self.embedding = emb
            self._target = self.bank.nearest(emb).to(self._base)  # [w_dim] or [num_ws, w_dim] (W+ bank)
            steps = (index - self._next_embed) // self.m.step_samples + 1
            self._next_embed += steps * self.m.step_samples
        if self._target is not None:
            a = 1.0 - math.exp(-dt / max(float(p["glide"]), 1e-3))
            self._base.lerp_(self._target.expand_as(self._base), a)
