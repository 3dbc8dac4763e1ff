"""LatentDriver: keyframe schedule, causality, live catch-up, causal smoothing (and the legacy
look-back interpolation), anchor leash."""

import numpy as np
import pytest
import torch

from livevis.pipeline.latent import LatentDriver, array_window_reader

NUM_WS, W_DIM, WINDOW, STEP = 4, 8, 400, 100


class FakeParts:
    """mel = window itself; encoder offset = mean of the window; recurrent = ws + offset. Counts calls."""

    def __init__(self):
        self.calls = 0

    def mel(self, samples):
        return samples[None, None, :]  # [1, 1, WINDOW]

    def encoder(self, mel):
        self.calls += 1
        level = mel.mean()
        return torch.ones(1, 2) * level, torch.full((1, NUM_WS, W_DIM), 1.0) * level

    def step(self, ws, hidden, offset):
        return ws + offset, hidden + 1


def make_driver(parts, *, max_catchup=None, leak=0.0, smoothing=0.0):
    d = LatentDriver(mel=parts.mel, encoder=parts.encoder, recurrent_step=parts.step,
                     hidden_init=torch.zeros(1, 3, 5), window_samples=WINDOW, step_samples=STEP,
                     anchor_leak=leak, max_catchup=max_catchup, smoothing=smoothing, sample_rate=1000)
    d.reset(torch.zeros(1, NUM_WS, W_DIM), 0)
    return d


def test_keyframes_at_step_boundaries():
    parts = FakeParts()
    audio = np.ones(2000, dtype=np.float32)
    d = make_driver(parts)
    reader = array_window_reader(audio, WINDOW)
    for index in range(0, 1001, 10):
        d.advance(index, reader)
    assert parts.calls == 10  # boundaries 100, 200, ..., 1000
    assert d.info.audio_index == 1000


def test_output_is_causal():
    """The latent shown at index j must not change when audio after j changes."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal(3000).astype(np.float32)
    b = a.copy()
    j = 1234
    b[j:] = rng.standard_normal(3000 - j).astype(np.float32) * 10
    outs = []
    for audio in (a, b):
        d = make_driver(FakeParts())
        reader = array_window_reader(audio, WINDOW)
        for index in range(0, j + 1, 7):
            ws = d.advance(index, reader)
        outs.append(ws.clone())
    torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=0)
    # ...while audio before j does matter.
    c = a.copy()
    c[:j] += 1.0
    d = make_driver(FakeParts())
    reader = array_window_reader(c, WINDOW)
    for index in range(0, j + 1, 7):
        ws = d.advance(index, reader)
    assert not torch.equal(ws, outs[0])


def test_live_catchup_skips_stale_keyframes():
    parts = FakeParts()
    d = make_driver(parts, max_catchup=1)
    audio = np.ones(5000, dtype=np.float32)
    d.advance(1050, array_window_reader(audio, WINDOW))  # 10 keyframes due at once
    assert parts.calls == 1  # live: only the newest, never a burst that adds latency
    d.advance(1150, array_window_reader(audio, WINDOW))
    assert parts.calls == 2


def test_newest_keyframe_shows_at_once_without_smoothing():
    parts = FakeParts()
    d = make_driver(parts, smoothing=0.0)
    reader = array_window_reader(np.ones(1000, dtype=np.float32), WINDOW)
    assert d.advance(100, reader)[0, 0, 0].item() == pytest.approx(100 / WINDOW)  # no look-back step


def test_causal_smoothing_approaches_the_newest_keyframe():
    parts = FakeParts()
    d = make_driver(parts, smoothing=0.05)  # 50 samples at 1 kHz
    reader = array_window_reader(np.ones(1000, dtype=np.float32), WINDOW)
    assert d.advance(99, reader)[0, 0, 0].item() == pytest.approx(0.0)  # before the first keyframe: the anchor
    k1 = 100 / WINDOW
    # the keyframe exists from sample 100 on; the picture approaches it for the time since the last frame
    assert d.advance(100, reader)[0, 0, 0].item() == pytest.approx(k1 * (1 - np.exp(-1 / 50)), rel=1e-5)
    assert d.advance(150, reader)[0, 0, 0].item() == pytest.approx(k1 * (1 - np.exp(-51 / 50)), rel=1e-5)
    fast = make_driver(FakeParts(), smoothing=0.05)
    fast.advance(100, reader)                       # 100 samples toward k1: exp(-2) of the gap left
    # catchup 4 (an onset): four times faster over the next 25 samples, exp(-2) of that gap left
    assert fast.advance(125, reader, 4.0)[0, 0, 0].item() == pytest.approx(k1 * (1 - np.exp(-4.0)), rel=1e-5)


def test_frames_on_keyframe_instants_still_move():
    """Rendering at the step rate puts every frame on a keyframe's first sample: the picture must still
    approach each new keyframe (it used to stay on the anchor for the whole render)."""
    d = make_driver(FakeParts(), smoothing=0.05)
    reader = array_window_reader(np.ones(1000, dtype=np.float32), WINDOW)
    shown = [d.advance(index, reader)[0, 0, 0].item() for index in range(0, 1000, 100)]
    assert shown[0] == 0.0 and all(b > a for a, b in zip(shown[1:], shown[2:])), shown


def test_legacy_interpolates_between_keyframes():
    parts = FakeParts()
    d = make_driver(parts, smoothing=None)
    audio = np.ones(1000, dtype=np.float32)
    reader = array_window_reader(audio, WINDOW)
    d.advance(100, reader)  # keyframe 1: ws = 0 + mean(window ending at 100) = 100/400
    k1 = 100 / WINDOW
    assert d.advance(100, reader)[0, 0, 0].item() == pytest.approx(0.0)  # alpha 0: previous keyframe
    assert d.advance(150, reader)[0, 0, 0].item() == pytest.approx(k1 * 0.5)
    assert d.advance(199, reader)[0, 0, 0].item() == pytest.approx(k1 * 0.99)


def test_anchor_leak_bounds_drift():
    audio = np.ones(200_000, dtype=np.float32)
    free, leashed = make_driver(FakeParts(), leak=0.0), make_driver(FakeParts(), leak=0.2)
    for d in (free, leashed):
        reader = array_window_reader(audio, WINDOW)
        for index in range(0, 200_000, STEP):
            d.advance(index, reader)
    # constant push of 1 per step: unbounded without the leash, bounded (1 - 0.2) / 0.2 = 4 with it
    assert free._cur.max().item() > 1000
    assert leashed._cur.max().item() == pytest.approx(4.0, rel=1e-3)


def test_array_window_reader_pads_and_clamps():
    audio = np.arange(1, 11, dtype=np.float32)
    read = array_window_reader(audio, 4)
    window, end = read(2)
    assert end == 2 and window.tolist() == [0, 0, 1, 2]
    window, end = read(50)
    assert end == 10 and window.tolist() == [7, 8, 9, 10]
