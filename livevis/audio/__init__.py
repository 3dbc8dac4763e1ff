"""Sound in: sources (mic, file, synth), the ring buffer and the streaming log-mel.

Names are loaded lazily so `livevis devices` stays free of torch and librosa.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "log_mel": "livevis.audio.mel",
    "StreamingLogMel": "livevis.audio.mel",
    "open_source": "livevis.audio.opener",
    "AudioSource": "livevis.audio.source",
    "SourceStatus": "livevis.audio.source",
    "RingBuffer": "livevis.audio.ring",
    "load_audio": "livevis.audio.decode",
    "make_signal": "livevis.audio.synth",
    "list_input_devices": "livevis.audio.devices",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'livevis.audio' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
