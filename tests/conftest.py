"""Shared test setup. Rigs (PulseAudio null sink, Xvfb display) live in tests/rigs/ as fixtures."""

import os

# Tests never touch the user's cache or download anything.
os.environ.setdefault("LIVEVIS_CACHE_DIR", os.path.join(os.environ.get("TMPDIR", "/tmp"), "livevis-test-cache"))
