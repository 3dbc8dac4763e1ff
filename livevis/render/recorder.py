"""MP4 recording of what is shown: H.264 yuv420p video + AAC audio, muxed in sync with PyAV.

The audio is the program audio (the input as heard: a file's own rate and channels, the
microphone's device rate), AAC at 128 kb/s mono / 192 kb/s stereo unless told otherwise.

Timing comes from counts, not clocks: video frame n has pts n at 1/fps, audio sample k has pts k at
1/sample_rate, so both streams start at 0 together. Audio is held back until the video has reached
it, and at close() it is padded with silence or trimmed to the video's duration. The file is written
to a temporary sibling and renamed into place by close() (also on Ctrl-C / SIGTERM via finally or
`with`), so the target path is either absent or a complete, playable file.

Live recordings (`fragmented=True`, what `run --record` uses) are fragmented MP4: FFmpeg's mov muxer
otherwise keeps every sample's index entry in memory until close (0.33 MB per recorded minute, about
20 MB an hour, measured), while fragments flush it at each keyframe. Players and PyAV read them as
usual; the stream header's frame count is 0 (decode to count). Renders stay plain MP4 for editors.
"""

from __future__ import annotations

import contextlib
import fractions
import signal
import threading
from pathlib import Path

import av
import numpy as np

from livevis.audio.program_audio import aac_bitrate, to_channels
from livevis.errors import LivevisError
from livevis.util.atomic import atomic_path

VIDEO_CODEC = "libx264"  # PyAV's bundled FFmpeg has libx264 and the native aac encoder
AUDIO_CODEC = "aac"
FRAGMENTED_MP4 = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}  # index flushed per fragment


class Recorder:
    """Constant-rate MP4 writer. write_video once per output frame; write_audio as audio arrives.

    Both writers are thread-safe (the audio thread may feed audio while the render thread feeds video).
    """

    def __init__(
        self,
        path: str | Path,        # the .mp4 to create (appears on close)
        width: int,              # video size, even (yuv420p)
        height: int,
        fps: float,              # constant video rate: one write_video call per frame
        sample_rate: int,        # of the samples given to write_audio (the program audio's own rate)
        *,
        channels: int = 1,       # 1 or 2: the program audio's channels
        audio_bitrate: int | None = None,  # AAC bits/s; None: 128k mono, 192k stereo
        crf: int = 20,           # x264 quality (lower: better, bigger)
        preset: str = "veryfast",  # x264 speed/size trade-off; fast enough for live use
        fragmented: bool = False,  # fragmented MP4: bounded muxer memory for long live recordings
    ) -> None:
        if width <= 0 or height <= 0 or width % 2 or height % 2:
            raise LivevisError(f"recording size must be positive and even for yuv420p, got {width}x{height}")
        if fps <= 0:
            raise LivevisError(f"recording fps must be positive, got {fps}")
        if sample_rate <= 0 or channels not in (1, 2):
            raise LivevisError(f"recording audio must be mono or stereo at a positive rate, got {channels} ch at {sample_rate} Hz")
        if audio_bitrate is not None and audio_bitrate <= 0:
            raise LivevisError(f"recording audio bitrate must be positive, got {audio_bitrate}")
        self.path = Path(path)
        self.width, self.height = width, height
        self.fps = fractions.Fraction(fps).limit_denominator(1001)
        self.sample_rate = int(sample_rate)
        self.channels = channels
        self.audio_bitrate = int(audio_bitrate or aac_bitrate(channels))
        self.frames_written = 0
        self.samples_written = 0  # audio samples encoded (per channel)
        self._pending: list[np.ndarray] = []  # [channels, n] float32 chunks not yet encoded
        self._pending_samples = 0
        self._lock = threading.Lock()
        self._closed = False
        self._stack = contextlib.ExitStack()
        try:
            self._tmp = self._stack.enter_context(atomic_path(self.path))
            self._container = av.open(str(self._tmp), mode="w", format="mp4",
                                      options=dict(FRAGMENTED_MP4) if fragmented else {})
        except OSError as exc:
            self._stack.close()
            raise LivevisError(f"cannot write recording {self.path}: {exc.strerror or exc}") from None
        self._video = self._container.add_stream(VIDEO_CODEC, rate=self.fps)
        self._video.width, self._video.height = width, height
        self._video.pix_fmt = "yuv420p"
        self._video.options = {"crf": str(crf), "preset": preset}
        self._video.codec_context.time_base = 1 / self.fps
        self._audio = self._container.add_stream(AUDIO_CODEC, rate=self.sample_rate, layout="mono" if channels == 1 else "stereo")
        self._audio.bit_rate = self.audio_bitrate
        self._audio.codec_context.time_base = fractions.Fraction(1, self.sample_rate)
        self._audio_chunk = None  # encoder frame size, known once the codec is open

    # -- writing -------------------------------------------------------------------------------
    def write_video(self, rgb: np.ndarray) -> None:
        """rgb: [H, W, 3] uint8, top row first. One call = one frame at the constant recording fps."""
        assert rgb.shape == (self.height, self.width, 3) and rgb.dtype == np.uint8, f"bad video frame {rgb.shape} {rgb.dtype}"
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        with self._lock:
            self._check_open()
            frame.pts = self.frames_written
            frame.time_base = self._video.codec_context.time_base
            self._mux(self._video.encode(frame))
            self.frames_written += 1
            self._encode_audio(limit=self._video_samples())

    def write_audio(self, samples: np.ndarray) -> None:
        """samples: float32 in [-1, 1] at the recording's rate, [N] or [N, C] (C = 1 or 2; mono is
        repeated into stereo, stereo into a mono recording is the plain mean). Sample 0 lines up with
        video frame 0.

        Audio arriving after close() (an audio thread racing the shutdown) is ignored.
        """
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim == 1:
            samples = samples[:, None]
        assert samples.ndim == 2 and samples.shape[1] in (1, 2), f"bad audio block {samples.shape}"
        samples = to_channels(samples, self.channels)  # [N, channels]
        with self._lock:
            if self._closed:
                return
            self._pending.append(np.ascontiguousarray(samples.T))  # [channels, N]
            self._pending_samples += samples.shape[0]
            self._encode_audio(limit=self._video_samples())

    @property
    def duration(self) -> float:
        """Seconds of video written."""
        return float(self.frames_written / self.fps)

    # -- internals -----------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise LivevisError(f"recording {self.path} is already closed")

    def _video_samples(self) -> int:
        return int(round(self.frames_written * self.sample_rate / self.fps))

    def _mux(self, packets) -> None:
        for packet in packets:
            self._container.mux(packet)

    def _take(self, n: int) -> np.ndarray:
        """Pop the first n pending samples as [channels, n]."""
        joined = np.concatenate(self._pending, axis=1) if len(self._pending) > 1 else self._pending[0]
        head, rest = joined[:, :n], joined[:, n:]
        self._pending = [rest] if rest.shape[1] else []
        self._pending_samples = rest.shape[1]
        return head

    def _encode_audio(self, limit: int, final: bool = False) -> None:
        """Encode pending audio in encoder-sized chunks, never past sample `limit`."""
        if self._audio_chunk is None:
            self._audio_chunk = self._audio.codec_context.frame_size or 1024
        chunk = self._audio_chunk
        while self._pending_samples:
            room = limit - self.samples_written
            n = min(chunk, self._pending_samples, room)
            if n <= 0 or (n < chunk and not final):
                return
            block = self._take(n)  # [channels, n]
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block), format="fltp", layout=self._audio.layout.name)
            frame.sample_rate = self.sample_rate
            frame.pts = self.samples_written
            frame.time_base = fractions.Fraction(1, self.sample_rate)
            self._mux(self._audio.encode(frame))
            self.samples_written += n

    # -- closing -------------------------------------------------------------------------------
    def close(self) -> None:
        """Pad/trim audio to the video's length, flush both encoders and move the file into place.

        With no video frame written there is nothing to play: the temporary file is removed and no
        file appears. Safe to call twice. Ctrl-C/SIGTERM arriving during close is held until the file
        is finished, then re-raised.
        """
        if self._closed:
            return
        with _signals_held():
            with self._lock:
                self._closed = True
                try:
                    if self.frames_written == 0:
                        self._container.close()
                        raise _Discard
                    target = self._video_samples()
                    missing = target - self.samples_written - self._pending_samples
                    if missing > 0:
                        self._pending.append(np.zeros((self.channels, missing), dtype=np.float32))
                        self._pending_samples += missing
                    self._encode_audio(limit=target, final=True)
                    self._pending, self._pending_samples = [], 0
                    self._mux(self._video.encode(None))
                    self._mux(self._audio.encode(None))
                    self._container.close()
                except _Discard:
                    self._stack.__exit__(_Discard, _Discard(), None)
                except BaseException as exc:
                    self._stack.__exit__(type(exc), exc, exc.__traceback__)
                    raise
                else:
                    self._stack.close()

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Discard(Exception):
    """Internal: close without keeping the file."""


@contextlib.contextmanager
def _signals_held():
    """Defer SIGINT/SIGTERM handlers (main thread only) so a second signal can't truncate the file."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.getsignal(sig)
        signal.signal(sig, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if received:
            handler = previous[received[0]]
            if callable(handler):
                handler(received[0], None)
            elif handler == signal.SIG_DFL and received[0] == signal.SIGINT:
                raise KeyboardInterrupt
            elif handler == signal.SIG_DFL:
                signal.raise_signal(received[0])
