"""Response delay: read off the mean frame-change response around the hits of a click track."""

import numpy as np
import pytest

from livevis.eval.response import click_track, frame_change, onset_per_frame, response_delay

FPS = 60.0


def constructed(delay_frames: int, hits: np.ndarray, frames: int = 700) -> np.ndarray:
    """A change series whose picture moves `delay_frames` frames after the first frame at or after each hit."""
    change = np.full(frames, 0.1)
    for t in hits:
        k0 = int(np.ceil(t * FPS))
        change[k0 + delay_frames] += 1.0
        change[k0 + delay_frames + 1] += 0.4
    return change


@pytest.mark.parametrize("delay_frames", [0, 2, 6])
def test_a_known_delay_is_measured(delay_frames):
    _audio, hits = click_track(10.0, 16000)
    r = response_delay(constructed(delay_frames, hits), FPS, hits)
    lead = np.mean([np.ceil(t * FPS) / FPS - t for t in hits[: r["hits"]]])  # hit -> the next frame's time
    assert r["half"] == pytest.approx(1e3 * (delay_frames / FPS + lead), abs=1e-6)
    assert r["peak"] == pytest.approx(r["half"], abs=1e-6)
    assert r["hits"] >= 15


def test_frame_change_and_onsets_per_frame():
    frames = np.zeros((4, 2, 2, 3), np.uint8)
    frames[2] = 10
    assert frame_change(frames).tolist() == [0.0, 0.0, 10.0, 10.0]
    audio, hits = click_track(3.0, 16000)
    strength = onset_per_frame(audio, 16000, 30.0, 90)
    peaks = np.argsort(strength)[-len(hits):]
    # the strongest onset frames are the ones just after the clicks (within two frames)
    assert all(np.min(np.abs(np.ceil(hits * 30.0) - p)) <= 2 for p in peaks)
