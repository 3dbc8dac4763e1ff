"""The latent path: audio windows -> sound encoder -> recurrent step (keyframes at the bundle's step
rate) -> the newest keyframe, smoothed causally, at the render rate.

Causal by construction: the keyframe computed at audio index i only sees samples before i, and the
latent shown at index j moves toward the newest keyframe at or before j from the moment it exists
(exponential smoothing with a time constant of `smoothing` seconds). The old way, interpolating
from the previous keyframe to the newest over one more step, put visible motion 117 ms (half) /
200 ms (peak) behind the sound; `smoothing=None` keeps it for comparison. Live and
offline rendering share this class; they differ only in how audio windows are read and in
`max_catchup` (live skips stale keyframes instead of queueing them; offline computes every one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

# reader(end_index) -> (window samples float32 [window_samples], actual end index of that window)
WindowReader = Callable[[int], "tuple[np.ndarray, int]"]


@dataclass
class KeyframeInfo:
    """What the last keyframe saw: for stats, reactive effects and tests."""

    audio_index: int = 0
    embedding: torch.Tensor | None = None  # [1, D] CLIP-space embedding of that window
    offset_norm: float = 0.0  # mean |E_a(x)| of that window: how hard sound pushed the latent


class LatentDriver:
    """Steps the recurrent latent from audio and returns the interpolated ws for any audio index.

    Args:
        mel:            callable, samples [window_samples] float32 tensor -> log-mel [1, n_mels, frames]
        encoder:        callable, log-mel [1, n_mels, frames] -> (embedding [1, D], w_offset [1, num_ws, w_dim])
        recurrent_step: callable, (ws, hidden, offset) -> (ws_next, hidden_next)
        hidden_init:    zero hidden state [1, G, H] of the recurrent blocks
        window_samples: samples per encoder window
        step_samples:   samples between keyframes (sample_rate / step_rate)
        anchor_leak:    per-keyframe pull of ws back towards the anchor latent. The recurrent blocks are
                        trained on clips of a few seconds; a show lasts hours, so without a leash the
                        latent would drift off the generator's manifold. 0 disables it.
        max_catchup:    keyframes computed per advance() at most when audio ran ahead (live: 1-2;
                        offline: None = all, so every keyframe exists and output is deterministic).
        smoothing:      seconds: time constant of the causal approach to the newest keyframe (0: show
                        it at once); None: the legacy look-back interpolation over one step.
        sample_rate:    audio rate, to turn `smoothing` into samples.
        sound_scene:    SoundScene (livevis.pipeline.sound_scene) or None: every keyframe also moves the
                        shown latent toward the scene of the heard class; the recurrent state itself
                        stays on its own path around the anchor.
    """

    def __init__(
        self,
        *,
        mel: Callable,
        encoder: Callable,
        recurrent_step: Callable,
        hidden_init: torch.Tensor,
        window_samples: int,
        step_samples: int,
        device: torch.device | str = "cpu",
        anchor_leak: float = 0.02,
        max_catchup: int | None = 1,
        smoothing: float | None = 0.04,
        sample_rate: int = 16000,
        sound_scene=None,
    ):
        assert step_samples > 0 and window_samples > 0
        assert 0.0 <= anchor_leak < 1.0
        self.mel = mel
        self.encoder = encoder
        self.recurrent_step = recurrent_step
        self.window_samples = int(window_samples)
        self.step_samples = int(step_samples)
        self.device = torch.device(device)
        self.anchor_leak = float(anchor_leak)
        self.max_catchup = max_catchup
        self.smoothing = smoothing
        self.sample_rate = int(sample_rate)
        self._hidden0 = hidden_init.detach().clone()
        self._window = torch.zeros(self.window_samples, dtype=torch.float32, device=self.device)
        self.info = KeyframeInfo()
        self._anchor: torch.Tensor | None = None
        self.sound_scene = sound_scene

    def reset(self, ws_anchor: torch.Tensor, audio_index: int = 0, pick: int = 0) -> None:
        """Start (or restart, on a new seed) from the anchor latent ws_anchor [1, num_ws, w_dim];
        `pick` chooses the sound scene's latent of each class (the seed)."""
        assert ws_anchor.ndim == 3 and ws_anchor.shape[0] == 1, f"ws_anchor must be [1, num_ws, w_dim], got {tuple(ws_anchor.shape)}"
        self._anchor = ws_anchor.detach().to(self.device, torch.float32).clone()
        self._state = self._anchor.clone()  # [1, num_ws, w_dim] the recurrent blocks' own latent
        if self.sound_scene is not None:
            self.sound_scene.reset(self._anchor, pick)
        self._prev = self._anchor.clone()  # [1, num_ws, w_dim] keyframe before the newest
        self._cur = self._anchor.clone()  # [1, num_ws, w_dim] newest keyframe
        self._out = self._anchor.clone()  # [1, num_ws, w_dim] interpolated ws handed out (reused)
        self._hidden = self._hidden0.clone()
        self._cur_index = int(audio_index)
        self._shown_index = int(audio_index)
        # First keyframe at the first step boundary strictly after the start index.
        self._next_boundary = (int(audio_index) // self.step_samples + 1) * self.step_samples

    @property
    def anchor(self) -> torch.Tensor:
        assert self._anchor is not None, "call reset() first"
        return self._anchor

    @torch.inference_mode()
    def _keyframe(self, samples: np.ndarray, end_index: int) -> None:
        assert samples.shape == (self.window_samples,), f"window must be [{self.window_samples}], got {samples.shape}"
        self._window.copy_(torch.from_numpy(samples))
        mel = self.mel(self._window)  # [1, n_mels, frames]
        embedding, offset = self.encoder(mel)  # [1, D], [1, num_ws, w_dim]
        ws_next, hidden_next = self.recurrent_step(self._state, self._hidden, offset)
        if self.anchor_leak > 0:
            ws_next = torch.lerp(ws_next, self._anchor, self.anchor_leak)
        self._state.copy_(ws_next)
        self._prev.copy_(self._cur)
        self._cur.copy_(ws_next)
        if self.sound_scene is not None:
            self._cur.add_(self.sound_scene.update(mel, self.step_samples / self.sample_rate, self._state))
        self._hidden.copy_(hidden_next)
        self._cur_index = int(end_index)
        self.info = KeyframeInfo(audio_index=int(end_index), embedding=embedding, offset_norm=float(offset.abs().mean()))

    def advance(self, audio_index: int, reader: WindowReader, catchup: float = 1.0) -> torch.Tensor:
        """Compute the keyframes due up to `audio_index`; return ws [1, num_ws, w_dim] to show there.

        catchup >= 1 divides the smoothing time for this call (the scene driver passes more on onsets,
        so the picture catches up with the sound model on the hits). The returned tensor is reused by
        the next call: copy it if you keep it.
        """
        assert self._anchor is not None, "call reset() first"
        due = 0
        if audio_index >= self._next_boundary:
            due = (audio_index - self._next_boundary) // self.step_samples + 1
        if due:
            skip = 0 if self.max_catchup is None else max(0, due - self.max_catchup)
            self._next_boundary += skip * self.step_samples
            for _ in range(due - skip):
                samples, end = reader(self._next_boundary)
                self._keyframe(samples, end)
                self._next_boundary += self.step_samples
        if self.smoothing is None:
            # Legacy: lerp from the previous keyframe to the newest over one step interval (smooth at
            # any render rate, one step of added latency).
            alpha = min(max((audio_index - self._cur_index) / self.step_samples, 0.0), 1.0)
            torch.lerp(self._prev, self._cur, alpha, out=self._out)
        else:
            # Time since the previous frame, spent approaching the newest keyframe. (Counting only the
            # time since the keyframe existed froze the picture whenever frames fell on keyframe
            # instants, as when rendering at the step rate: every keyframe was 0 s old when shown.)
            elapsed = max(audio_index - self._shown_index, 0) / self.sample_rate
            alpha = 1.0 if self.smoothing <= 0 else 1.0 - math.exp(-elapsed * max(catchup, 1.0) / self.smoothing)
            self._out.lerp_(self._cur, alpha)
        self._shown_index = max(self._shown_index, int(audio_index))
        return self._out


def array_window_reader(audio: np.ndarray, window_samples: int) -> WindowReader:
    """Exact windows from a whole decoded signal (offline render, eval): the window ending at
    `end` sample, zero-padded before the start and clamped at the end of the audio."""
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    buf = np.zeros(window_samples, dtype=np.float32)

    def read(end: int) -> tuple[np.ndarray, int]:
        end = min(int(end), audio.shape[0])
        start = end - window_samples
        buf[:] = 0.0
        if end > 0:
            lo = max(start, 0)
            buf[window_samples - (end - lo):] = audio[lo:end]
        return buf, end

    return read


def source_window_reader(source, window_samples: int) -> WindowReader:
    """Live windows: the newest `window_samples` at the ring's write head (freshest audio wins over
    exact step boundaries: lower latency, and a late keyframe is better than a stale one).
    The window is read into one reused buffer (the driver copies it at once)."""
    buf = np.zeros(window_samples, dtype=np.float32)

    def read(_end: int) -> tuple[np.ndarray, int]:
        return source.read_last(window_samples, buf)

    return read
