"""The audit trail on migrated databases (issue 19): `batch_events` is append-only (migration
0018's triggers refuse UPDATE and DELETE, on PostgreSQL and on SQLite), PostgreSQL records the
database login (session_user) beside the name given, and an event rolls back with its change."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from unit.test_batch_approval import COCODE, NOW, T0, UPLOAD, add_batch, ready

from assets.batches.approval import approve_in_transaction, reject_in_transaction
from assets.batches.events import batch_history
from resources.database import OperationalDatabase
from schemas import statuses
from schemas.migrate import upgrade
from schemas.tables import TABLES


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request, tmp_path) -> Iterator[OperationalDatabase]:
    url = (
        f"sqlite:///{tmp_path / 'ops.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("fresh_postgres_url")
    )
    yield from _database_with_two_batches(url)


@pytest.fixture
def postgres_database(fresh_postgres_url) -> Iterator[OperationalDatabase]:
    yield from _database_with_two_batches(fresh_postgres_url)


def _database_with_two_batches(url: str) -> Iterator[OperationalDatabase]:
    upgrade(url)
    database = OperationalDatabase(url=url)
    with database.begin() as connection:
        connection.execute(
            TABLES["companies"].insert(), [{"cocode": COCODE, "company_name": "Acme"}]
        )
        connection.execute(
            TABLES["uploads"].insert(),
            [
                {
                    "upload_id": UPLOAD,
                    "object_key": "inbox/appoint/acme.csv",
                    "content_sha256": UPLOAD,
                    "kind": "appoint",
                    "received_at": T0,
                    "status": "processed",
                }
            ],
        )
        add_batch(connection, "B-1", [ready("30.00")])
        add_batch(connection, "B-2", [ready("30.00")])
    yield database
    database.engine.dispose()


def test_an_approval_records_the_door_the_name_and_the_database_login(database):
    approve_in_transaction(
        database, "B-1", approved_by="Dana", now=NOW, door=statuses.DOOR_LAUNCHPAD
    )
    with database.begin() as connection:
        (event,) = batch_history(connection, "B-1")
    assert (event.event, event.door, event.actor, event.approval_version) == (
        "approved",
        "launchpad",
        "Dana",
        1,
    )
    if database.engine.dialect.name == "postgresql":
        assert event.db_session_user == "postgres"
    else:
        assert event.db_session_user is None


@pytest.mark.parametrize("statement", ["update", "delete"])
def test_events_cannot_be_updated_or_deleted(database, statement):
    reject_in_transaction(database, "B-2", rejected_by="Lee", now=NOW)
    events = TABLES["batch_events"]
    change = (
        events.update().values(actor="Someone else") if statement == "update" else events.delete()
    )
    refused = pytest.raises(sa.exc.DBAPIError, match="batch_events is append-only")
    with refused, database.begin() as connection:
        connection.execute(change.where(events.c.batch_id == "B-2"))
    with database.begin() as connection:
        assert [(e.event, e.actor) for e in batch_history(connection, "B-2")] == [
            ("rejected", "Lee")
        ]


@pytest.mark.postgres
def test_truncate_is_refused_on_postgresql(postgres_database):
    # SQLite has no TRUNCATE (a DELETE without WHERE, refused by the test above).
    database = postgres_database
    reject_in_transaction(database, "B-2", rejected_by="Lee", now=NOW)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), database.begin() as connection:
        connection.execute(sa.text("TRUNCATE batch_events"))


def test_a_failure_after_the_change_rolls_back_the_event_too(database):
    class Boom(RuntimeError):
        pass

    with pytest.raises(Boom), database.begin() as connection:
        from assets.batches.approval import approve_batch

        approve_batch(connection, "B-1", approved_by="Dana", now=NOW)
        raise Boom
    with database.begin() as connection:
        assert batch_history(connection, "B-1") == []
        status = connection.execute(
            sa.select(TABLES["transaction_batches"].c.status).where(
                TABLES["transaction_batches"].c.batch_id == "B-1"
            )
        ).scalar_one()
    assert status == statuses.BATCH_PENDING_REVIEW
