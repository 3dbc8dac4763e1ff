"""A complete, tiny live bundle (32 px StyleGAN2 + sound encoder + recurrent blocks) for pipeline tests.

Untrained, seeded weights: the latent barely moves (recurrent updates start near zero), so what sound
does to the shown picture comes through the audio-reactive post effect.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from livevis.models import factory
from livevis.models.bundle import AudioFrontend, Bundle, save_bundle

NUM_WS, W_DIM = 8, 64  # a 32 px StyleGAN2 has 2 * log2(32) - 2 = 8 ws


def make_tiny_bundle(path: Path, *, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    generator = factory.build("stylegan2", {"z_dim": 64, "w_dim": W_DIM, "img_resolution": 32, "mapping_layers": 2,
                                             "channel_base": 512, "channel_max": 64})
    _, enc_cfg = factory.load_preset("sound_encoder-tiny")
    enc_cfg.update(num_ws=NUM_WS, w_dim=W_DIM)
    _, rec_cfg = factory.load_preset("recurrent-tiny")
    rec_cfg.update(num_ws=NUM_WS, w_dim=W_DIM, groups=None)
    bundle = Bundle.new(generator, name="tiny-test", description="tiny untrained test bundle",
                        sound_encoder=factory.build("sound_encoder", enc_cfg),
                        recurrent=factory.build("recurrent", rec_cfg),
                        audio=AudioFrontend(sample_rate=16000, n_fft=1024, hop_length=256, n_mels=80,
                                            window_seconds=1.0, step_rate=10.0),
                        provenance={"stand_in": True, "recipe": "tests/rigs/tiny_bundle.py"})
    save_bundle(bundle, path)
    return path


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory) -> Path:
    return make_tiny_bundle(tmp_path_factory.mktemp("bundles") / "tiny.bundle")
