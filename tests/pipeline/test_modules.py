"""The live path runs on every CPU backend: engines are built (cached), pass parity, and drive frames."""

import numpy as np
import pytest
import torch

from livevis.models.bundle import load_bundle
from livevis.pipeline.initial import latent_from_seed
from livevis.pipeline.latent import LatentDriver, array_window_reader
from livevis.pipeline.modules import RGBAConverter, build_live_modules
from tests.rigs.tiny_bundle import tiny_bundle  # noqa: F401 - fixture


def _frames(modules, audio: np.ndarray, n: int = 12) -> np.ndarray:
    driver = LatentDriver(mel=modules.mel, encoder=modules.encoder, recurrent_step=modules.recurrent_step,
                          hidden_init=modules.hidden_init, window_samples=modules.window_samples,
                          step_samples=modules.step_samples, max_catchup=None)
    driver.reset(latent_from_seed(modules.mapping, modules.z_dim, 3), 0)
    reader = array_window_reader(audio, modules.window_samples)
    to_rgba = RGBAConverter(modules.resolution)
    out = []
    with torch.inference_mode():
        for k in range(n):
            ws = driver.advance(k * modules.sample_rate // 10, reader)
            out.append(to_rgba(modules.synthesis(ws)).copy())
    return np.stack(out).astype(np.int16)


@pytest.mark.parametrize("backend", ["onnxruntime", pytest.param("compile", marks=pytest.mark.slow)])
def test_pipeline_runs_on_engine_backend(tiny_bundle, backend, tmp_path, monkeypatch):
    monkeypatch.setenv("LIVEVIS_CACHE_DIR", str(tmp_path / "cache"))
    bundle = load_bundle(tiny_bundle)
    audio = np.random.default_rng(0).standard_normal(16000 * 2).astype(np.float32) * 0.3
    eager = _frames(build_live_modules(bundle, backend="eager"), audio)
    modules = build_live_modules(bundle, backend=backend)
    assert set(modules.backends.values()) == {backend}
    engine = _frames(modules, audio)
    # parity (1e-3 on [-1, 1] images) -> at most a 1-level rounding difference in 8-bit pixels
    assert np.abs(engine - eager).max() <= 1
    # second build comes from the engine cache
    again = build_live_modules(bundle, backend=backend)
    assert all(e.from_cache for e in (again.encoder, again.recurrent_step, again.synthesis))
