"""One submission run per batch at a time, across processes, released the moment its holder dies.

A lock row in a table would survive a SIGKILLed holder and need a timeout to expire, during
which nobody can finish the batch (or, with too short a timeout, two runs send at once). So the
lock is bound to the holder's process instead:
- PostgreSQL: a session-level `pg_try_advisory_lock` on a connection held for the whole run;
  the server drops it when the session ends, including when the process is killed.
- SQLite file: `fcntl.flock` on a lock file next to the database file; the kernel drops it when
  the file descriptor closes, including on SIGKILL. (Not on network file systems; SQLite itself
  does not work well there either.)
- in-memory SQLite: only this process can see the database, so a threading lock is enough.
Never blocking: a busy batch raises BatchBusy at once, and the run does nothing.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

_memory_locks: dict[str, threading.Lock] = {}
_memory_guard = threading.Lock()


class BatchBusy(RuntimeError):
    """Another submission run holds the batch's lock."""

    def __init__(self, batch_id: str) -> None:
        super().__init__(
            f"another submission run is sending batch {batch_id}; this run did nothing. "
            "Wait for that run to finish (or fail), then run again if the batch is not Completed."
        )
        self.batch_id = batch_id


def lock_key(batch_id: str) -> int:
    """A stable signed 64-bit key for pg_try_advisory_lock (namespaced to submissions)."""
    digest = hashlib.sha256(f"npnflow.submission:{batch_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_file_path(database: str, batch_id: str) -> Path:
    """The lock file of a batch, next to the SQLite database file."""
    name = hashlib.sha256(batch_id.encode()).hexdigest()[:24]
    return Path(f"{database}.submit-{name}.lock")


@contextmanager
def batch_lock(engine: Engine, batch_id: str) -> Iterator[None]:
    """Hold the batch's submission lock for the block, or raise BatchBusy at once."""
    backend = engine.url.get_backend_name()
    if backend == "postgresql":
        with _postgres_lock(engine, batch_id):
            yield
    elif backend == "sqlite":
        database = engine.url.database
        if not database or database == ":memory:" or database.startswith("file:"):
            with _memory_lock(f"{id(engine)}:{batch_id}", batch_id):
                yield
        else:
            with _file_lock(lock_file_path(database, batch_id), batch_id):
                yield
    else:
        raise NotImplementedError(f"no submission lock for database backend {backend!r}")


@contextmanager
def _postgres_lock(engine: Engine, batch_id: str) -> Iterator[None]:
    key = lock_key(batch_id)
    # A dedicated connection, kept for the whole run: the lock lives as long as this session.
    connection = engine.connect()
    try:
        taken: bool = connection.execute(sa.select(sa.func.pg_try_advisory_lock(key))).scalar_one()
        connection.commit()  # session-level lock: not tied to this transaction
        if not taken:
            raise BatchBusy(batch_id)
        try:
            yield
        finally:
            try:
                connection.execute(sa.select(sa.func.pg_advisory_unlock(key)))
                connection.commit()
            except sa.exc.DBAPIError:
                pass  # the session is gone, and its lock with it
    finally:
        connection.close()


@contextmanager
def _file_lock(path: Path, batch_id: str) -> Iterator[None]:
    import fcntl  # POSIX only; imported here so the module loads anywhere

    path.parent.mkdir(parents=True, exist_ok=True)
    # The file is never deleted: unlinking a lock file races with a process about to lock it.
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BatchBusy(batch_id) from None
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


@contextmanager
def _memory_lock(name: str, batch_id: str) -> Iterator[None]:
    with _memory_guard:
        lock = _memory_locks.setdefault(name, threading.Lock())
    if not lock.acquire(blocking=False):
        raise BatchBusy(batch_id)
    try:
        yield
    finally:
        lock.release()


@contextmanager
def wait_for_batch_lock(
    engine: Engine, batch_id: str, wait_seconds: float, retry_seconds: float = 0.2
) -> Iterator[None]:
    """The batch's lock, tried again every `retry_seconds` for up to `wait_seconds`: another
    short writer (an offboarding, a JIT release) holds it for a moment, a submission run far
    longer, and then `BatchBusy` is raised."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            with batch_lock(engine, batch_id):
                yield
            return
        except BatchBusy as busy:
            if busy.batch_id != batch_id or time.monotonic() >= deadline:
                raise
            time.sleep(retry_seconds)
