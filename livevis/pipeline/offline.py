"""Offline rendering: an audio file -> an mp4 with every frame computed, audio muxed, deterministic.

Same latent path (SceneDriver: analysis, the mode's driver, the reactive layer) and shaders as the live
show, driven by the audio clock instead of the wall clock: frame k shows the latent at audio index
round(k * sample_rate / fps) and every keyframe is computed (no live catch-up skipping), so the same
inputs give the same frames.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from livevis.pipeline.latent import array_window_reader
from livevis.pipeline.modules import LiveModules, RGBAConverter
from livevis.pipeline.reactive import AudioReactivity
from livevis.pipeline.scene import SceneDriver
from livevis.pipeline.show import post_values
from livevis.render.frame import Frame


def frame_count(num_samples: int, sample_rate: int, fps: float) -> int:
    """Frames covering the audio: the video's duration equals the audio's within one frame."""
    return max(1, int(round(num_samples / sample_rate * fps)))


def frame_index(k: int, sample_rate: int, fps: float, length: int) -> int:
    """Frame k is shown at time k / fps and sees the audio up to that instant (causal)."""
    return min(int(round(k * sample_rate / fps)), length)


@torch.inference_mode()
def scene_frames(modules: LiveModules, audio: np.ndarray, *, fps: float, params, bank=None, text_embed=None,
                 total: int | None = None) -> Iterator[tuple[int, int, torch.Tensor]]:
    """(k, audio index, ws [1, num_ws, w_dim]) for every frame of `audio` (float32 [N] at the model's
    rate), exactly as the live show computes them. ws is reused: copy it to keep it."""
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    total = frame_count(audio.shape[0], modules.sample_rate, fps) if total is None else total
    scene = SceneDriver(modules, params, max_catchup=None, bank=bank, text_embed=text_embed)
    scene.reset(0)
    reader = array_window_reader(audio, modules.window_samples)
    prev = 0
    for k in range(total):
        index = frame_index(k, modules.sample_rate, fps, audio.shape[0])
        yield k, index, scene.frame(index, audio[prev:index], reader)
        prev = index


@torch.inference_mode()
def render_offline(modules: LiveModules, audio: np.ndarray, out: str | Path, *, fps: float, params,
                   size: int | None = None, out_size: tuple[int, int] | None = None, fit: str = "cover",
                   resample: str = "lanczos", bank=None, text_embed=None, effects: bool = True, program=None,
                   on_frame: Callable[[int, int], None] | None = None) -> int:
    """Render `audio` (float32 [N] at the bundle's rate) to `out`; returns the number of frames written.

    The video is the program frame at `out_size` (w, h) (default: size x size, else the frames'
    resolution), fitted by `fit` and resampled by `resample` (livevis.render.output_stage); a learned
    upscaler is already inside `modules.synthesis` (livevis.render.upscale.with_upscaler).

    program: the source's own audio (livevis.audio.program_audio.ProgramAudio: its rate and channels),
    muxed instead of the model-rate mono when given. The mp4 is written atomically (complete file or
    none). on_frame(k, total) reports progress.
    """
    from livevis.audio.program_audio import program_index
    from livevis.render.display_loop import DisplayLoop
    from livevis.render.offscreen import Offscreen
    from livevis.render.recorder import Recorder
    from livevis.render.renderer import Renderer

    sample_rate = modules.sample_rate
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    total = frame_count(audio.shape[0], sample_rate, fps)
    to_rgba = RGBAConverter(modules.resolution)
    react = AudioReactivity()
    res = modules.resolution
    p = params.snapshot()

    out_w, out_h = out_size or ((size, size) if size else (res, res))
    target = Offscreen(out_w, out_h)
    try:
        renderer = Renderer(target.ctx, res, res, out_size=(out_w, out_h), fit=fit, resample=resample)
        target.effects_on = effects
        try:
            rec_rate = program.sample_rate if program is not None else sample_rate
            channels = program.samples.shape[1] if program is not None else 1
            with Recorder(out, out_w, out_h, fps, rec_rate, channels=channels) as recorder:
                loop = DisplayLoop(target, renderer, None, fps=None, recorder=recorder)
                prev = 0
                for k, index, ws in scene_frames(modules, audio, fps=fps, params=params, bank=bank,
                                                 text_embed=text_embed, total=total):
                    rgba = to_rgba(modules.synthesis(ws))
                    level, onset = react.update(audio[prev:index])
                    loop.step(Frame(rgba=rgba, audio_index=index, seq=k), post=post_values(p, level, onset, k / fps))
                    # The frame's display interval [k, k+1) / fps carries that span of audio.
                    nxt = frame_index(k + 1, sample_rate, fps, audio.shape[0])
                    if program is None:
                        recorder.write_audio(audio[index:nxt])
                    else:
                        a, b = (program_index(i, sample_rate, program.sample_rate) for i in (index, nxt))
                        if k + 1 == total:
                            b = program.samples.shape[0]  # the source's last samples, whatever the rounding
                        recorder.write_audio(program.samples[a:b])
                    prev = index
                    if on_frame is not None:
                        on_frame(k + 1, total)
        finally:
            renderer.release()
    finally:
        target.close()
    return total
