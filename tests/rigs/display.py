"""GL rigs: a private Xvfb display (session fixture) and a headless EGL context.

Use in tests:  `from tests.rigs.display import xvfb, display, egl_ctx, quadrant_frame`
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest


def _free_display() -> int:
    for n in range(90, 200):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return n
    raise RuntimeError("no free X display number in 90..199")


@pytest.fixture(scope="session")
def xvfb():
    """Start `Xvfb :N -screen 0 1280x720x24` on a free display number; yields ':N'."""
    binary = shutil.which("Xvfb")
    if binary is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb)")
    for _ in range(3):  # another process may grab the same number between the check and the start
        n = _free_display()
        proc = subprocess.Popen([binary, f":{n}", "-screen", "0", "1280x720x24", "-nolisten", "tcp", "-noreset"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None and not Path(f"/tmp/.X11-unix/X{n}").exists():
            time.sleep(0.05)
        if proc.poll() is None and Path(f"/tmp/.X11-unix/X{n}").exists():
            break
        proc.kill()
        proc.wait()
    else:
        pytest.skip("Xvfb did not start")
    try:
        yield f":{n}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def display(xvfb, monkeypatch):
    """DISPLAY set to the Xvfb rig for one test."""
    monkeypatch.setenv("DISPLAY", xvfb)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    return xvfb


@pytest.fixture(scope="module")
def egl_ctx():
    """A standalone EGL OpenGL context (Mesa llvmpipe on CI)."""
    from livevis.errors import LivevisError
    from livevis.render.offscreen import create_egl_context

    try:
        ctx = create_egl_context()
    except LivevisError as exc:
        pytest.skip(str(exc))
    yield ctx
    ctx.release()


def quadrant_frame(width: int, height: int) -> np.ndarray:
    """[H, W, 4] uint8: top-left red, top-right green, bottom-left blue, bottom-right white."""
    rgba = np.zeros((height, width, 4), dtype=np.uint8)
    h2, w2 = height // 2, width // 2
    rgba[:h2, :w2, 0] = 255
    rgba[:h2, w2:, 1] = 255
    rgba[h2:, :w2, 2] = 255
    rgba[h2:, w2:, :3] = 255
    rgba[..., 3] = 255
    return rgba


def run_env() -> dict:
    """Environment for subprocesses that import livevis from this checkout."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("OMP_NUM_THREADS", "1")
    return env
