import threading

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


def test_writer_thread_racing_readers_never_sees_torn_or_stale_data():
    # Each sample's value is its own absolute index, so any torn/stale read shows as a wrong value.
    ring = RingBuffer(1024)
    total = 400_000
    stop = threading.Event()
    errors: list[str] = []

    def writer():
        i = 0
        while i < total:
            n = 1 + (i * 7919) % 300  # odd chunk sizes, so writes straddle the seam at many offsets
            ring.write(np.arange(i, i + n, dtype=np.float32))
            i += n
        stop.set()

    def reader():
        reads = 0
        while not stop.is_set() or reads < 50:
            out, end = ring.read_last(700)
            expected = np.arange(end - 700, end, dtype=np.float32)
            expected[expected < 0] = 0
            if not np.array_equal(out, expected):
                bad = int(np.flatnonzero(out != expected)[0])
                errors.append(f"end={end} pos={bad} got={out[bad]} want={expected[bad]}")
                return
            reads += 1

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors[:3]
    assert ring.write_index >= total
