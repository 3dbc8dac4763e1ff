import threading
import time

import numpy as np

from livevis.render.frame import Frame
from livevis.render.mailbox import Mailbox


def _frame(seq: int) -> Frame:
    return Frame(rgba=np.zeros((2, 2, 4), np.uint8), audio_index=seq * 100, seq=seq)


def test_keeps_only_the_newest_and_counts_drops():
    box = Mailbox()
    for i in range(5):
        box.put(_frame(i))
    got = box.get_latest()
    assert got.seq == 4
    assert box.drops == 4 and box.puts == 5 and box.taken == 1
    assert box.get_latest() is None  # taken: nothing queued behind it


def test_get_latest_waits_for_a_frame_only_when_asked():
    box = Mailbox()
    start = time.monotonic()
    assert box.get_latest() is None
    assert time.monotonic() - start < 0.05
    threading.Timer(0.05, lambda: box.put(_frame(7))).start()
    got = box.get_latest(timeout=2.0)
    assert got is not None and got.seq == 7


def test_close_wakes_waiters_and_refuses_puts():
    box = Mailbox()
    threading.Timer(0.05, box.close).start()
    start = time.monotonic()
    assert box.get_latest(timeout=5.0) is None
    assert time.monotonic() - start < 2.0
    assert box.put(_frame(1)) is False
    assert box.get_latest() is None


def test_fast_producer_slow_consumer_never_builds_a_queue():
    box = Mailbox()
    stop = threading.Event()
    produced = []

    def produce():
        seq = 0
        while not stop.is_set():
            box.put(_frame(seq))
            produced.append(seq)
            seq += 1
            time.sleep(0.0005)

    thread = threading.Thread(target=produce)
    thread.start()
    seen = []
    try:
        for _ in range(20):
            frame = box.get_latest(timeout=1.0)
            assert frame is not None
            seen.append(frame.seq)
            time.sleep(0.01)  # slow consumer
    finally:
        stop.set()
        thread.join()
    assert seen == sorted(seen) and len(set(seen)) == len(seen)  # monotonic, never the same frame twice
    # Each take is the newest at that moment: the consumer skips ahead, frames are dropped, not queued.
    assert max(b - a for a, b in zip(seen, seen[1:])) > 1
    assert box.drops > 0
    assert box.puts == len(produced)
    assert box.drops + box.taken + (1 if box.get_latest() is not None else 0) == box.puts
