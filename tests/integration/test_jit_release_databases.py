"""Releasing held JIT lines on both databases (SQLite file and PostgreSQL): a failure between
moving the lines and approving their batch leaves every line where it was, and two releases of
the same lines at once move each line once, into one Approved batch.

The world is tests/support/jit.py's (Ann's FL and GA Life lines Held (JIT)), seeded with the
shipped reference tables.
"""

from __future__ import annotations

import threading

import pandas as pd
import pytest

from assets.jit.rules import ReleaseRequest
from assets.jit.service import release_held_lines
from schemas import statuses
from support.jit import ANN, jit_database


@pytest.fixture
def database(database_url):
    database = jit_database(database_url)
    yield database
    database.engine.dispose()


def _lines(database) -> pd.DataFrame:
    t = database.read_table("transactions")
    return t[t["loa_code"] == "16"].sort_values("transaction_id").reset_index(drop=True)


def test_a_failure_before_the_approval_leaves_no_line_in_two_batches(database) -> None:
    before = _lines(database)
    batches_before = sorted(database.read_table("transaction_batches")["batch_id"])

    def crash(connection) -> None:
        raise RuntimeError("process killed between moving the lines and approving the batch")

    with pytest.raises(RuntimeError, match="process killed"):
        release_held_lines(
            database, [ReleaseRequest(npn=ANN)], released_by="Dana", before_approval=crash
        )
    after = _lines(database)
    assert after["batch_id"].tolist() == before["batch_id"].tolist()
    assert set(after["status"]) == {statuses.HELD_JIT}
    assert after["released_at"].isna().all()
    assert sorted(database.read_table("transaction_batches")["batch_id"]) == batches_before


def test_two_releases_at_once_move_each_line_once(database) -> None:
    outcomes: list[object] = []
    start = threading.Barrier(2)

    def release(by: str) -> None:
        start.wait()
        try:
            outcomes.append(release_held_lines(database, [ReleaseRequest(npn=ANN)], released_by=by))
        except RuntimeError as changed:  # the loser saw the lines move under it: rolled back
            outcomes.append(changed)

    threads = [threading.Thread(target=release, args=(name,)) for name in ("Dana", "Eve")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    released = [o for o in outcomes if not isinstance(o, Exception) and o.released]
    assert len(outcomes) == 2 and len(released) == 1
    lines = _lines(database)
    assert set(lines["status"]) == {statuses.READY_TO_SUBMIT}
    (batch_id,) = set(lines["batch_id"])
    batches = database.read_table("transaction_batches")
    approved = batches[batches["status"] == statuses.BATCH_APPROVED]
    assert approved["batch_id"].tolist() == [batch_id]
    assert approved["approved_by"].iloc[0] in ("Dana", "Eve")
