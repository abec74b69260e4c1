"""Whether the process Dagster recorded for a run still runs (`npnflow.instance`): gone,
a zombie, or a later process that got the same pid all count as dead."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from npnflow.instance import process_is_alive

needs_proc = pytest.mark.skipif(not Path("/proc/stat").exists(), reason="reads Linux's /proc")


def test_this_process_is_alive():
    assert process_is_alive(os.getpid(), time.time())


def test_a_process_that_exited_and_was_reaped_is_dead():
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    assert not process_is_alive(finished.pid, time.time())
    assert not process_is_alive(0, time.time())


@needs_proc
def test_a_zombie_is_dead():
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 10
        while Path(f"/proc/{exited.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
            assert time.monotonic() < deadline, "the child never exited"
            time.sleep(0.01)
        assert not process_is_alive(exited.pid, time.time())
    finally:
        exited.wait()


@needs_proc
def test_a_pid_recorded_before_its_process_started_belongs_to_a_dead_one():
    # This process started moments ago; a pid recorded an hour ago was another process's.
    assert not process_is_alive(os.getpid(), time.time() - 3600)
