"""torch.compile after an OpenGL context: a clear refusal instead of a segfault (triton vs Mesa's LLVM).

Runs in a subprocess: once a GL context exists, the test process itself could no longer compile."""

import subprocess
import sys

from tests.rigs.display import run_env

SNIPPET = """
import torch
from livevis.engines import available_backends, build
from livevis.engines.errors import BackendUnavailable
from livevis.render.offscreen import Offscreen
Offscreen(16, 16).close()
assert "compile" not in available_backends("cpu"), available_backends("cpu")
try:
    build(torch.nn.Linear(2, 2), (torch.zeros(1, 2),), backend="compile", name="lin")
except BackendUnavailable as exc:
    print("refused:", exc)
"""


def test_compile_refused_after_a_gl_context():
    proc = subprocess.run([sys.executable, "-c", SNIPPET], capture_output=True, text=True, timeout=300, env=run_env())
    assert proc.returncode == 0, proc.stderr
    assert "refused:" in proc.stdout and "OpenGL" in proc.stdout
