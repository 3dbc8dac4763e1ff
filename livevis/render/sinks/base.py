"""The `Sink` interface: a video output beside the window that never stalls the show.

The render thread calls `send(frame)` once per program frame. `send` only copies the frame into a
free buffer of a small preallocated pool and publishes it in a newest-only slot; the sink's own
worker thread converts and writes it. A sink slower than the show finds a newer frame waiting and
the older one is dropped (and counted). A sink whose write raises, or blocks for longer than
`timeout`, is dropped with one warning line; its frames are then only counted, the show goes on.

Subclasses implement `_open_device(width, height, fps)` (caller's thread: errors are the user's,
LivevisError), optionally `_start_worker()` (worker thread: for APIs bound to the thread that made
their context, e.g. an OpenGL context), `_write(frame, when)` and `_close_device()`.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
import time
from typing import Callable

import numpy as np

from livevis.errors import LivevisError

POOL = 3  # one being written by the worker, one waiting in the slot, one being filled by send()


@dataclasses.dataclass(frozen=True)
class SinkStats:
    sent: int  # frames the sink wrote
    dropped: int  # frames given to send() that were never written (sink slower than the show, or dead)
    error: str | None  # why the sink was dropped, None while it works


def _warn(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Sink:
    """Base of every video output. Use: `open(w, h, fps)`, `send(frame)` per frame, `close()`."""

    kind = "sink"

    def __init__(self, target: str, *, timeout: float = 5.0, warn: Callable[[str], None] | None = None):
        self.target = target
        self.spec = f"{self.kind}:{target}"
        self.timeout = float(timeout)
        self._warn = warn or _warn
        self.width = self.height = 0
        self.fps = 0.0
        self._cond = threading.Condition()
        self._pool: list[np.ndarray] = []
        self._slot: np.ndarray | None = None  # newest frame not yet taken by the worker
        self._slot_when = 0.0
        self._busy: np.ndarray | None = None  # frame the worker is writing
        self._busy_since = 0.0  # monotonic start of the current write (0: idle)
        self._sent = 0
        self._dropped = 0
        self._error: str | None = None
        self._halt = False
        self._opened = False
        self._worker: threading.Thread | None = None

    # -- the show's side -----------------------------------------------------------------------------
    def open(self, width: int, height: int, fps: float) -> "Sink":
        """Open the output for frames of width x height at about `fps`; LivevisError if it cannot."""
        if self._opened:
            raise RuntimeError(f"{self.spec} is already open")
        if width <= 0 or height <= 0 or fps <= 0:
            raise LivevisError(f"output {self.spec}: size and fps must be positive, got {width}x{height} at {fps}")
        self.width, self.height, self.fps = int(width), int(height), float(fps)
        # Converters load here: an import in the worker's first write can starve behind a busy main
        # thread holding the GIL, and look like a hung device.
        import av  # noqa: F401

        self._open_device(self.width, self.height, self.fps)
        self._opened = True
        self._worker = threading.Thread(target=self._run, name=f"livevis-out-{self.kind}", daemon=True)
        self._worker.start()
        return self

    def send(self, frame: np.ndarray) -> None:
        """Hand over one program frame, [H, W, 3 | 4] uint8 RGB(A), top row first. Never blocks.

        The frame is copied, so the caller may reuse its buffer at once.
        """
        if not self._opened:
            return
        if frame.shape[:2] != (self.height, self.width) or frame.shape[2:] not in ((3,), (4,)) or frame.dtype != np.uint8:
            raise ValueError(f"{self.spec}: expected [{self.height}, {self.width}, 3|4] uint8, got {frame.shape} {frame.dtype}")
        if self._error is None:
            busy_since = self._busy_since
            if busy_since and time.monotonic() - busy_since > self.timeout:
                self._fail(f"blocked for more than {self.timeout:g} s")
        if self._error is not None:
            self._count_drop()
            return
        with self._cond:
            if not self._pool or self._pool[0].shape != frame.shape:
                self._pool = [np.empty(frame.shape, np.uint8) for _ in range(POOL)]
            free = next(b for b in self._pool if b is not self._slot and b is not self._busy)
        np.copyto(free, frame)  # outside the lock: neither the slot nor the worker holds `free`
        with self._cond:
            if self._slot is not None:
                self._dropped += 1  # the worker never got to the older one
            self._slot, self._slot_when = free, time.monotonic()
            self._cond.notify()

    def close(self) -> None:
        """Stop the worker (the frame it is writing is finished) and release the output. Safe twice."""
        if not self._opened:
            return
        self._opened = False
        with self._cond:
            self._halt = True
            if self._slot is not None:
                self._dropped += 1
                self._slot = None
            self._cond.notify()
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.join(timeout=self.timeout)
            if worker.is_alive():  # stuck in a write: leave the daemon thread and its device behind
                self._fail(f"still blocked after {self.timeout:g} s at close")
                return
        try:
            self._close_device()
        except Exception as exc:  # noqa: BLE001 - a vanished device must not break the show's shutdown
            self._fail(f"close failed: {_one_line(exc)}")

    @property
    def stats(self) -> SinkStats:
        return SinkStats(self._sent, self._dropped, self._error)

    @property
    def alive(self) -> bool:
        return self._error is None

    def __enter__(self) -> "Sink":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the worker ------------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._start_worker()
            self._loop()
        except Exception as exc:  # noqa: BLE001 - any failure of an output library drops the sink only
            self._fail(_one_line(exc))
        finally:
            try:
                self._stop_worker()
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._slot is None and not self._halt:
                    self._cond.wait()
                if self._halt:
                    return
                frame, when = self._slot, self._slot_when
                self._slot, self._busy = None, frame
                self._busy_since = time.monotonic()
            try:
                self._write(frame, when)
            except BaseException:
                self._count_drop()  # the frame it failed on never went out
                raise
            finally:
                with self._cond:
                    self._busy, self._busy_since = None, 0.0
            if self._error is not None:  # declared blocked while it was writing
                self._count_drop()
                return
            self._sent += 1

    def _count_drop(self) -> None:
        with self._cond:  # both threads count drops
            self._dropped += 1

    def _fail(self, reason: str) -> None:
        with self._cond:
            if self._error is not None:
                return
            self._error = reason
            self._halt = True
            self._cond.notify()
        self._warn(f"livevis: output {self.spec} dropped: {reason}; the show goes on without it")

    # -- for subclasses --------------------------------------------------------------------------------
    def _open_device(self, width: int, height: int, fps: float) -> None:
        raise NotImplementedError

    def _start_worker(self) -> None:
        """Runs first in the worker thread (thread-bound contexts)."""

    def _write(self, frame: np.ndarray, when: float) -> None:
        """Write one frame [H, W, 3 | 4] uint8, handed over at monotonic time `when`."""
        raise NotImplementedError

    def _stop_worker(self) -> None:
        """Runs last in the worker thread."""

    def _close_device(self) -> None:
        raise NotImplementedError


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


def to_rgba(frame: np.ndarray, out: np.ndarray) -> np.ndarray:
    """[H, W, 3 | 4] uint8 -> `out` [H, W, 4] (opaque alpha for RGB).

    RGB goes through swscale: ~3 ms at 1920x1080 here, where numpy's strided 3-of-4 copy takes ~33.
    """
    if frame.shape[2] == 4:
        np.copyto(out, frame)
        return out
    import av

    np.copyto(out, av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(format="rgba").to_ndarray())
    return out
