"""Shared test setup. Rigs (PulseAudio null sink, Xvfb display) live in tests/rigs/ as fixtures."""

import os

import pytest

# Tests never touch the user's cache or download anything.
os.environ.setdefault("LIVEVIS_CACHE_DIR", os.path.join(os.environ.get("TMPDIR", "/tmp"), "livevis-test-cache"))


def pytest_collection_modifyitems(config, items):
    """Tests marked `soak` (long runs: the 10-minute show, the 30 s OSC flood) run only with `-m soak`.
    By the marker alone: a test whose path or name merely contains "soak" (the 3-minute CI soak in
    tests/soak/) runs with the rest of the suite."""
    if "soak" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="long soak run: only with -m soak")
    for item in items:
        if item.get_closest_marker("soak") is not None:
            item.add_marker(skip)
