"""`fetch_stream` (assets/nipr/initial_sync_batch.py): every NPN fetched once and handed over
once, never more than the bound submitted and not yet handed over, whatever the caller's
pace, and nothing more started once the caller stops."""

from __future__ import annotations

import threading
import time

import pytest

from assets.nipr.initial_sync_batch import fetch_stream


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started = 0
        self.handed = 0
        self.ahead: list[int] = []

    def fetch(self, npn: str) -> str:
        with self.lock:
            self.started += 1
            self.ahead.append(self.started - self.handed)
        time.sleep(0.001)
        return npn


@pytest.mark.parametrize(("workers", "bound"), [(1, 2), (2, 3), (4, 16)])
def test_replies_in_flight_never_exceed_the_bound(workers, bound):
    recorder = Recorder()
    npns = [str(n) for n in range(200)]
    got = []
    for npn in fetch_stream(recorder.fetch, npns, workers, bound):
        with recorder.lock:
            recorder.handed += 1
        got.append(npn)
        if len(got) % 25 == 0:
            time.sleep(0.02)  # a batch being applied: the workers run ahead, up to the bound
    assert sorted(got, key=int) == npns
    assert max(recorder.ahead) <= bound
    # Reached (the reply being handed over counts until the caller has it): the bound is
    # what held the workers back.
    assert max(recorder.ahead) >= bound - 1


def test_a_single_worker_fetches_in_the_given_order():
    recorder = Recorder()
    npns = [str(n) for n in range(30)]
    assert list(fetch_stream(recorder.fetch, npns, 1, 4)) == npns


def test_nothing_more_is_started_once_the_caller_stops():
    recorder = Recorder()
    stream = fetch_stream(recorder.fetch, [str(n) for n in range(1000)], 2, 8)
    for _ in range(10):
        next(stream)
    stream.close()
    started = recorder.started
    time.sleep(0.05)
    assert recorder.started == started <= 10 + 8
