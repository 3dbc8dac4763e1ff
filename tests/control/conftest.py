"""Fixtures for the control tests: a registry, a hub with a presets folder under tmp_path, and the
user's config folder pointed at tmp_path (MIDI mappings, presets)."""

import pytest

from livevis.control.catalog import live_params
from livevis.control.hub import ControlHub
from livevis.control.presets import PresetStore


@pytest.fixture(autouse=True)
def config_home(tmp_path, monkeypatch):
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


@pytest.fixture
def registry():
    return live_params()


@pytest.fixture
def logs():
    return []


@pytest.fixture
def hub(registry, logs):
    return ControlHub(registry, presets=PresetStore(params=registry.params), log=logs.append)


@pytest.fixture
def wait():
    return wait_for


def wait_for(cond, timeout=10.0, interval=0.005):
    """Poll until cond() is true (a condition, not a timing assertion: the timeout only bounds a hang)."""
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(interval)
    return cond()
