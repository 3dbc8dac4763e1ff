"""render_offline: the same audio gives the same program frames, pixel for pixel (before encoding)."""

import numpy as np

from livevis.audio.synth import make_signal
from livevis.control import live_params
from livevis.models.bundle import load_bundle
from livevis.pipeline import offline
from livevis.pipeline.modules import build_live_modules
from livevis.render import renderer as renderer_module
from tests.rigs.tiny_bundle import tiny_bundle  # noqa: F401 - fixture


def test_same_audio_same_program_frames(tiny_bundle, tmp_path, monkeypatch):
    modules = build_live_modules(load_bundle(tiny_bundle), backend="eager")
    audio = make_signal("noise", 1.5, modules.sample_rate, seed=3)
    shown: list[list[np.ndarray]] = []
    read = renderer_module.Renderer.read_pixels

    def spy(self, out=None, **kw):
        pixels = read(self, out, **kw)
        shown[-1].append(pixels.copy())
        return pixels

    monkeypatch.setattr(renderer_module.Renderer, "read_pixels", spy)
    for run in range(2):
        shown.append([])
        params = live_params("learned")
        params.set("seed", 4)
        offline.render_offline(modules, audio, tmp_path / f"{run}.mp4", fps=15, size=64, params=params)
    assert len(shown[0]) == len(shown[1]) == 22
    assert all(np.array_equal(a, b) for a, b in zip(*shown))
    assert np.abs(shown[0][5].astype(int) - shown[0][15]).mean() > 1.0  # and they move
