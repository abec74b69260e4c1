"""PostgreSQL's transient errors, made for real on a server, are recognised as such
(`resources.database.is_transient_database_error`, which decides the step retries of
assets/retries.py); its permanent ones are not."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from resources.database import create_database_engine, is_transient_database_error

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(fresh_postgres_url):
    engine = create_database_engine(fresh_postgres_url)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)"))
        connection.execute(sa.text("INSERT INTO t VALUES (1, 0), (2, 0)"))
    yield engine
    engine.dispose()


def test_a_serialization_failure_is_transient(engine):
    with engine.connect() as late, engine.connect() as early:
        late = late.execution_options(isolation_level="REPEATABLE READ")
        late.execute(sa.text("SELECT n FROM t WHERE id = 1"))  # its snapshot is taken
        early.execute(sa.text("UPDATE t SET n = 1 WHERE id = 1"))
        early.commit()
        with pytest.raises(sa.exc.OperationalError) as raised:
            late.execute(sa.text("UPDATE t SET n = 2 WHERE id = 1"))
        late.rollback()
    assert raised.value.orig.pgcode == "40001"
    assert is_transient_database_error(raised.value)


def test_a_deadlock_is_transient(engine):
    failures: list[BaseException] = []
    both_locked = threading.Barrier(2)

    def lock_then(first: int, second: int) -> None:
        with engine.connect() as connection:
            connection.execute(sa.text("SET deadlock_timeout = '100ms'"))
            connection.execute(sa.text("UPDATE t SET n = n + 1 WHERE id = :id"), {"id": first})
            both_locked.wait(timeout=10)
            try:
                connection.execute(sa.text("UPDATE t SET n = n + 1 WHERE id = :id"), {"id": second})
                connection.commit()
            except sa.exc.DBAPIError as error:
                failures.append(error)
                connection.rollback()

    threads = [threading.Thread(target=lock_then, args=pair) for pair in ((1, 2), (2, 1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    (deadlock,) = failures
    assert deadlock.orig.pgcode == "40P01"
    assert is_transient_database_error(deadlock)


def test_a_connection_lost_mid_way_is_transient(engine):
    with engine.connect() as victim, engine.connect() as killer:
        pid = victim.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        victim.commit()
        killer.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        killer.commit()
        with pytest.raises(sa.exc.DBAPIError) as raised:
            victim.execute(sa.text("SELECT 1"))
    assert raised.value.connection_invalidated
    assert is_transient_database_error(raised.value)


def test_permanent_errors_are_not_transient(engine):
    with engine.connect() as connection:
        with pytest.raises(sa.exc.DBAPIError) as missing:
            connection.execute(sa.text("SELECT * FROM no_such_table"))
        connection.rollback()
        with pytest.raises(sa.exc.IntegrityError) as duplicate:
            connection.execute(sa.text("INSERT INTO t VALUES (1, 0)"))
        connection.rollback()
    assert not is_transient_database_error(missing.value)
    assert not is_transient_database_error(duplicate.value)
