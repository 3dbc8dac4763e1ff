"""Offline rendering: an audio file -> an mp4 with every frame computed, audio muxed, deterministic.

Same latent path and shaders as the live show, driven by the audio clock instead of the wall clock:
frame k shows the latent at audio index round(k * sample_rate / fps) and every keyframe is computed
(no live catch-up skipping), so the same inputs give the same frames.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch

from livevis.pipeline.initial import latent_from_seed
from livevis.pipeline.latent import LatentDriver, array_window_reader
from livevis.pipeline.modules import LiveModules, RGBAConverter
from livevis.pipeline.reactive import AudioReactivity
from livevis.render.frame import Frame


def frame_count(num_samples: int, sample_rate: int, fps: float) -> int:
    """Frames covering the audio: the video's duration equals the audio's within one frame."""
    return max(1, int(round(num_samples / sample_rate * fps)))


@torch.inference_mode()
def render_offline(modules: LiveModules, audio: np.ndarray, out: str | Path, *, fps: float, size: int, seed: int = 0,
                   initial_ws: torch.Tensor | None = None, truncation_psi: float = 0.7, anchor_leak: float = 0.02,
                   effects: bool = True, on_frame: Callable[[int, int], None] | None = None) -> int:
    """Render `audio` (float32 [N] at the bundle's rate) to `out`; returns the number of frames written.

    The mp4 is written atomically (complete file or none). on_frame(k, total) reports progress.
    """
    from livevis.render.display_loop import DisplayLoop
    from livevis.render.offscreen import Offscreen
    from livevis.render.recorder import Recorder
    from livevis.render.renderer import Renderer

    sample_rate = modules.sample_rate
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    total = frame_count(audio.shape[0], sample_rate, fps)
    driver = LatentDriver(mel=modules.mel, encoder=modules.encoder, recurrent_step=modules.recurrent_step,
                          hidden_init=modules.hidden_init, window_samples=modules.window_samples,
                          step_samples=modules.step_samples, device=modules.device, anchor_leak=anchor_leak,
                          max_catchup=None)
    ws0 = initial_ws if initial_ws is not None else latent_from_seed(
        modules.mapping, modules.z_dim, seed, truncation_psi=truncation_psi, device=modules.device)
    driver.reset(ws0, 0)
    reader = array_window_reader(audio, modules.window_samples)
    to_rgba = RGBAConverter(modules.resolution)
    react = AudioReactivity()
    res = modules.resolution

    target = Offscreen(size, size)
    try:
        renderer = Renderer(target.ctx, res, res)
        target.effects_on = effects
        try:
            with Recorder(out, res, res, fps, sample_rate) as recorder:
                loop = DisplayLoop(target, renderer, None, fps=None, recorder=recorder)
                prev = 0
                for k in range(total):
                    # Frame k is shown at time k / fps and sees the audio up to that instant (causal).
                    index = min(int(round(k * sample_rate / fps)), audio.shape[0])
                    ws = driver.advance(index, reader)
                    rgba = to_rgba(modules.synthesis(ws))
                    level, onset = react.update(audio[prev:index])
                    loop.step(Frame(rgba=rgba, audio_index=index, seq=k),
                              post={"level": level, "onset": onset, "time": k / fps})
                    # The frame's display interval [k, k+1) / fps carries that span of audio.
                    nxt = min(int(round((k + 1) * sample_rate / fps)), audio.shape[0])
                    recorder.write_audio(audio[index:nxt])
                    prev = index
                    if on_frame is not None:
                        on_frame(k + 1, total)
        finally:
            renderer.release()
    finally:
        target.close()
    return total
