"""Run `livevis ...` as a user would (a subprocess) and check the one-line error contract."""

from __future__ import annotations

import subprocess
import sys

from tests.rigs.display import run_env

LIVEVIS = [sys.executable, "-m", "livevis"]


def livevis(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*LIVEVIS, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env=env or run_env(), stdin=subprocess.DEVNULL)


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    """Exit != 0, no traceback, and the error is one line on stderr naming what is wrong."""
    assert proc.returncode != 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, proc.stderr
    for needle in needles:
        assert needle.lower() in errors[0].lower(), proc.stderr
