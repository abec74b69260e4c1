"""`remove_unknown_producer` on both databases (SQLite file and PostgreSQL): one transaction,
all or nothing, and two removals of the same producer at once removing it once.

The world is tests/support/answers.py's, seeded with the shipped reference tables.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa

from assets.onboarding import removal as removal_module
from assets.onboarding.removal import RemovalRefused, remove_unknown_producer
from schemas import statuses
from support.answers import NED, NORA, world_tables
from support.seed import seeded_database

NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def database(database_url):
    database = seeded_database(database_url, world_tables())
    yield database
    database.engine.dispose()


def _rows(database, table: str, npn: str) -> int:
    with database.engine.connect() as connection:
        return connection.execute(
            sa.text(f"SELECT COUNT(*) FROM {table} WHERE npn = :npn"),  # table: a literal below
            {"npn": npn},
        ).scalar_one()


def test_removal_deletes_the_producer_its_seat_and_assignments_and_cancels_unsent_lines(
    database,
) -> None:
    with database.begin() as connection:
        removal = remove_unknown_producer(connection, NORA, removed_by="Dana", now=NOW)
    assert removal.rows_removed == {
        "portal_users": 1,
        "producer_assignments": 1,
        "nipr_subscriptions": 0,
        "producers": 1,
    }
    assert removal.transactions_cancelled == ["T-NORA"]
    for table in ("producers", "portal_users", "producer_assignments"):
        assert _rows(database, table, NORA) == 0
    lines = database.read_table("transactions").set_index("transaction_id")
    assert lines.at["T-NORA", "status"] == statuses.CANCELLED
    assert lines.at["T-NORA", "cancelled_by"] == "Dana"


def test_a_failure_half_way_leaves_everything_as_it_was(database, monkeypatch) -> None:
    def failing(connection, npn):
        # After the lines were cancelled, in the same transaction: the database refuses.
        connection.execute(
            sa.text("UPDATE producers SET sync_status = NULL WHERE npn = :n"), {"n": npn}
        )
        return []

    monkeypatch.setattr(removal_module, "_sent_lines", failing)
    with pytest.raises(sa.exc.IntegrityError), database.begin() as connection:
        remove_unknown_producer(connection, NORA, removed_by="Dana", now=NOW)
    assert _rows(database, "producers", NORA) == 1
    assert _rows(database, "portal_users", NORA) == 1
    lines = database.read_table("transactions").set_index("transaction_id")
    assert lines.at["T-NORA", "status"] == statuses.READY_TO_SUBMIT


def test_a_sent_line_blocks_the_removal_on_either_database(database) -> None:
    with pytest.raises(RemovalRefused, match="T-NED \\(Submitted\\)"), database.begin() as c:
        remove_unknown_producer(c, NED, removed_by="Dana", now=NOW)
    assert _rows(database, "producers", NED) == 1


def test_two_removals_at_once_remove_the_producer_once(database) -> None:
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def remove() -> None:
        barrier.wait()
        try:
            with database.begin() as connection:
                remove_unknown_producer(connection, NORA, removed_by="Dana", now=NOW)
            outcomes.append("removed")
        except RemovalRefused as refusal:
            outcomes.append(str(refusal))
        except sa.exc.OperationalError as error:  # SQLite: the second writer waits, then fails
            outcomes.append(f"busy: {error.orig}")

    threads = [threading.Thread(target=remove) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes)[-1] == "removed" and outcomes.count("removed") == 1
    assert _rows(database, "producers", NORA) == 0
