"""InferenceWorker's warm-up: the whole frame path runs before the input starts, then the show starts over."""

import pytest

from livevis.audio.opener import open_source
from livevis.control import live_params
from livevis.models.bundle import load_bundle
from livevis.pipeline import live
from livevis.pipeline.modules import build_live_modules
from livevis.pipeline.show import LiveShow, ShowOptions
from livevis.render.mailbox import Mailbox
from livevis.render.offscreen import Offscreen
from tests.rigs.display import egl_ctx  # noqa: F401 - fixture
from tests.rigs.tiny_bundle import tiny_bundle  # noqa: F401 - fixture


@pytest.fixture(scope="module")
def modules(tiny_bundle):
    return build_live_modules(load_bundle(tiny_bundle), backend="eager")


class Untouchable:
    """A source the warm-up must not use: anything but its rate fails the test."""

    def __init__(self, sample_rate: int):
        self.sample_rate = sample_rate

    def __getattr__(self, name):
        raise AssertionError(f"the warm-up used the input ({name})")


def test_warm_up_runs_every_stage_without_the_input_and_leaves_no_trace(modules):
    worker = live.InferenceWorker(modules, Untouchable(modules.sample_rate), Mailbox(), fps=30.0,
                                  params=live_params("learned"))
    stages = []
    add = worker.stats.add
    worker.stats.add = lambda stage, ms: (stages.append(stage), add(stage, ms))
    worker.warm_up(seconds=0.5)
    assert {"analysis", "mel", "encoder", "recurrent", "synthesis"} <= set(stages)
    assert worker.stats.summary() == {} and worker.mailbox.get_latest() is None  # not the show's figures or frames


def test_the_show_starts_its_input_only_after_the_warm_up(modules, egl_ctx, monkeypatch):
    """A file input plays in real time from start(): started before first calls compile (numba on a
    fresh install took 11 s here), a 10 s demo showed 3 frames and ended with the file."""
    events = []
    warm_up = live.InferenceWorker.warm_up
    monkeypatch.setattr(live.InferenceWorker, "warm_up", lambda self, *a, **k: (events.append("warm-up"), warm_up(self, *a, **k)))
    source = open_source("synth:clicks", sample_rate=modules.sample_rate)
    start = source.start
    monkeypatch.setattr(source, "start", lambda: (events.append("input"), start())[1])
    show = LiveShow(modules, source, ShowOptions(size=32, headless=True, seconds=0.3, fps=30.0),
                    target=Offscreen(32, 32, ctx=egl_ctx))
    stats = show.run()
    assert events == ["warm-up", "input"]
    assert stats.ticks >= 3
