"""The scoring used for the tempo / onset figures (livevis.audio.beat_eval)."""

import numpy as np

from livevis.audio.beat_eval import onset_delays, track_scores
from livevis.audio.synth import make_signal


def test_track_scores_of_a_click_track():
    s = track_scores(make_signal("clicks", 9.0, 16000, bpm=100.0), 16000, 100.0)
    assert abs(s["rel_error"]) < 0.01 and s["lock_s"] is not None and s["lock_s"] < 5.0
    assert s["within_2pct_after"] == 1.0 and s["phase_err_ms_p90_abs"] < 30.0


def test_track_scores_notice_a_wrong_tempo():
    s = track_scores(make_signal("clicks", 9.0, 16000, bpm=100.0), 16000, 150.0)  # the wrong truth
    assert s["lock_s"] is None and s["within_2pct_after"] == 0.0 and s["phase_err_ms_median"] is None


def test_onset_delay_is_at_most_one_block():
    d = onset_delays(120.0, 4.0, 16000)
    assert len(d) == 8 and np.all((d > 0) & (d <= 128))
