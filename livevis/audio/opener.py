"""`open_source(spec)`: "mic", a file path or "synth:KIND[@PARAM]" -> an AudioSource (not started)."""

from __future__ import annotations

import functools

from livevis.audio.source import AudioSource
from livevis.errors import LivevisError


def open_source(spec: str, *, sample_rate: int, device: str | int | None = None, realtime: bool = True,
                loop: bool = False, playback: bool = False, ring_seconds: float = 10.0) -> AudioSource:
    """Build the source named by `spec`; call .start() (or use it as a context manager) to run it.

    "mic": live input from `device` (index, name substring, or the default input).
    PATH: a decoded file streamed at real-time pace (or by .advance(n) with realtime=False), looping
    with `loop`, heard through the default output with `playback`; its program audio is the file's
    own rate and channels.
    "synth:KIND[@PARAM]": an endless deterministic test signal (see livevis.audio.synth.KINDS).
    Unknown spec, missing/bad file, unknown device -> LivevisError.
    """
    if not isinstance(spec, str) or not spec:
        raise LivevisError("no audio input given; use mic, a file path or synth:KIND")
    if sample_rate <= 0:
        raise LivevisError(f"sample rate must be positive, got {sample_rate}")
    if spec == "mic":
        if not realtime:
            raise LivevisError("the microphone is live only; offline rendering needs a file or synth input")
        from livevis.audio.mic import MicSource

        return MicSource(device, sample_rate=sample_rate, ring_seconds=ring_seconds)
    from livevis.audio.stream_source import StreamSource

    if spec.startswith("synth:"):
        from livevis.audio.synth import parse_spec, render_chunk

        kind, params = parse_spec(spec[len("synth:"):])
        produce = functools.partial(_render, render_chunk, kind, sample_rate, params)
        return StreamSource(produce, None, sample_rate=sample_rate, realtime=realtime, loop=loop,
                            playback=playback, ring_seconds=ring_seconds, name=spec)
    from livevis.audio.decode import load_audio
    from livevis.audio.program_audio import load_program_audio

    samples = load_audio(spec, sample_rate)  # [N]; LivevisError for missing / bad files
    # The file as heard, for recordings and playback: its own rate and channels ([M, C]).
    program = load_program_audio(spec)
    frames = program.samples
    return StreamSource(lambda start, n: samples[start : start + n], len(samples), sample_rate=sample_rate,
                        realtime=realtime, loop=loop, playback=playback, ring_seconds=ring_seconds, name=spec,
                        program=lambda start, n: frames[start : start + n], program_length=len(program),
                        program_rate=program.sample_rate, program_channels=program.channels)


def _render(render_chunk, kind, sample_rate, params, start, n):
    return render_chunk(kind, start, n, sample_rate, **params)
