"""Newest-only hand-over between the inference thread and the render thread.

Latest request wins: a producer faster than the consumer overwrites the unread frame (counted as a
drop), so a slow stage lowers the frame rate and never builds a queue of stale frames.
"""

from __future__ import annotations

import threading

from livevis.render.frame import Frame


class Mailbox:
    """One slot, thread-safe. `put` replaces, `get_latest` takes."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._frame: Frame | None = None
        self._closed = False
        self.puts = 0  # frames offered by the producer
        self.drops = 0  # frames replaced before the consumer saw them
        self.taken = 0  # frames handed to the consumer

    def put(self, frame: Frame) -> bool:
        """Offer the newest frame; returns False (and keeps nothing) once closed."""
        with self._cond:
            if self._closed:
                return False
            if self._frame is not None:
                self.drops += 1
            self._frame = frame
            self.puts += 1
            self._cond.notify_all()
            return True

    def get_latest(self, timeout: float | None = None) -> Frame | None:
        """Take the newest unread frame.

        timeout=None: don't wait (the render loop polls once per tick); timeout > 0: wait up to that
        many seconds for a frame. Returns None when nothing new arrived or the mailbox is closed.
        """
        with self._cond:
            if self._frame is None and timeout is not None and timeout > 0 and not self._closed:
                self._cond.wait_for(lambda: self._frame is not None or self._closed, timeout)
            frame, self._frame = self._frame, None
            if frame is not None:
                self.taken += 1
            return frame

    def close(self) -> None:
        """Wake any waiter; later puts are refused. An unread frame can still be taken."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed
