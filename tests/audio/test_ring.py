import sys
import threading
import time

import numpy as np
import pytest

from livevis.audio.ring import RingBuffer


def test_read_last_before_anything_written_is_zeros():
    ring = RingBuffer(8)
    out, end = ring.read_last(5)
    assert end == 0 and out.dtype == np.float32 and out.shape == (5,)
    assert not out.any()


def test_read_longer_than_written_is_zero_padded_at_the_front():
    ring = RingBuffer(8)
    ring.write(np.array([1, 2, 3], np.float32))
    out, end = ring.read_last(6)
    assert end == 3
    np.testing.assert_array_equal(out, [0, 0, 0, 1, 2, 3])


def test_wrap_around_keeps_the_newest_and_reads_across_the_seam():
    ring = RingBuffer(5)
    ring.write(np.arange(1, 5, dtype=np.float32))  # 1..4
    ring.write(np.arange(5, 8, dtype=np.float32))  # 5..7: wraps, overwrites 1, 2
    assert ring.write_index == 7
    out, end = ring.read_last(5)  # spans the seam (positions 2,3,4,0,1)
    assert end == 7
    np.testing.assert_array_equal(out, [3, 4, 5, 6, 7])
    # More than capacity: the part no longer held reads as zeros, not stale data.
    out, _ = ring.read_last(7)
    np.testing.assert_array_equal(out, [0, 0, 3, 4, 5, 6, 7])


def test_write_longer_than_capacity_keeps_the_tail():
    ring = RingBuffer(4)
    ring.write(np.arange(10, dtype=np.float32))
    assert ring.write_index == 10
    np.testing.assert_array_equal(ring.read_last(4)[0], [6, 7, 8, 9])


def test_read_by_absolute_index_and_future_positions():
    ring = RingBuffer(6)
    ring.write(np.arange(10, dtype=np.float32))  # holds 4..9
    np.testing.assert_array_equal(ring.read(5, 3), [5, 6, 7])
    np.testing.assert_array_equal(ring.read(2, 4), [0, 0, 4, 5])  # 2, 3 are gone
    np.testing.assert_array_equal(ring.read(8, 4), [8, 9, 0, 0])  # 10, 11 not yet written


def test_write_zeros_advances_the_head_with_silence():
    ring = RingBuffer(5)
    ring.write(np.ones(5, np.float32))
    ring.write_zeros(3)
    assert ring.write_index == 8
    np.testing.assert_array_equal(ring.read_last(5)[0], [1, 1, 0, 0, 0])
    ring.write_zeros(12)  # more than capacity
    assert ring.write_index == 20 and not ring.read_last(5)[0].any()


def test_multichannel_frames_and_out_buffer_reuse():
    ring = RingBuffer(4, frame_shape=(2,))
    ring.write(np.array([[1, -1], [2, -2], [3, -3]], np.float32))
    ring.write(np.array([[4, -4], [5, -5]], np.float32))
    out = np.empty((3, 2), np.float32)
    got, end = ring.read_last(3, out=out)
    assert got is out and end == 5
    np.testing.assert_array_equal(out, [[3, -3], [4, -4], [5, -5]])
    with pytest.raises(AssertionError):
        ring.write(np.zeros((2, 3), np.float32))


def _ramp(start: int, n: int) -> np.ndarray:
    """Sample value = absolute index (mod 2**24, where float32 stops being exact)."""
    return (np.arange(start, start + n) % (1 << 24)).astype(np.float32)


def test_writer_thread_racing_readers_never_sees_torn_or_stale_data():
    # Each sample's value is its own absolute index, so any torn/stale read shows as a wrong value.
    ring = RingBuffer(1024)
    stop = threading.Event()
    errors: list[str] = []

    def writer():
        i, t_end = 0, time.monotonic() + 1.5
        while time.monotonic() < t_end and not errors:
            n = 1 + (i * 7919) % 300  # odd chunk sizes, so writes straddle the seam at many offsets
            ring.write(_ramp(i, n))
            i += n
        stop.set()

    def reader():
        while not stop.is_set():
            out, end = ring.read_last(700)
            expected = _ramp(end - 700, 700)
            expected[: max(0, 700 - end)] = 0
            if not np.array_equal(out, expected):
                bad = int(np.flatnonzero(out != expected)[0])
                errors.append(f"read_last: end={end} pos={bad} got={out[bad]} want={expected[bad]}")
                return

    def lagging_reader():
        # read(start, n) near the oldest held frame: frames lapped meanwhile read as zeros (a prefix),
        # every other frame must be exactly right.
        while not stop.is_set():
            start = ring.write_index - 1000
            if start <= 0:
                continue
            out = ring.read(start, 600)
            expected = _ramp(start, 600)
            k = int(np.argmax(out != 0)) if out.any() else 600
            if out[:k].any() or not np.array_equal(out[k:], expected[k:]):
                errors.append(f"read({start}, 600) wrong after position {k}")
                return

    threads = [threading.Thread(target=writer), threading.Thread(target=lagging_reader)]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, so reads and writes really interleave
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        sys.setswitchinterval(interval)
    assert not errors, errors[:3]
    assert ring.write_index > 100_000
