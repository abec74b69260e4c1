"""Fixtures shared by the whole suite. Nothing here is autouse.

PostgreSQL: tests ask for `postgres_url` (one database for the session) or
`fresh_postgres_url` (one database per test). Each is a new, uniquely named database on the
server at `NPNFLOW_TEST_POSTGRES_URL` (default: postgres on 127.0.0.1:5432, maintenance db
`postgres`), dropped afterwards. With no server answering, the test skips, unless `CI=true`:
then it fails, so a CI run cannot pass by silently skipping the PostgreSQL tests.

The other shared fixtures and helpers live in tests/support (imported as `support`); the
modules that define fixtures are registered here for the whole suite.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

pytest_plugins = ["support.s3"]

DEFAULT_POSTGRES_SERVER_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"


def _server_url() -> sa.URL:
    return sa.make_url(os.environ.get("NPNFLOW_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_SERVER_URL)


@contextmanager
def _temporary_database(purpose: str) -> Iterator[str]:
    server = _server_url()
    engine = sa.create_engine(
        server,
        isolation_level="AUTOCOMMIT",  # CREATE/DROP DATABASE cannot run in a transaction
        poolclass=NullPool,
        connect_args={"connect_timeout": 5},
    )
    # A generated identifier, not user input; identifiers cannot be bound parameters.
    name = f"npnflow_test_{purpose}_{uuid.uuid4().hex[:12]}"
    try:
        with engine.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except OperationalError as error:
        engine.dispose()
        where = server.render_as_string(hide_password=True)
        message = f"no PostgreSQL server answers at {where}: {error.orig}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message} (CI=true: PostgreSQL tests are required)", pytrace=False)
        pytest.skip(message)
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:
            # FORCE (PostgreSQL 13+) ends sessions a test left open, e.g. a Dagster instance.
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database shared by the session's tests (migrate it as you need)."""
    with _temporary_database("session") as url:
        yield url


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """An empty PostgreSQL database for this test alone."""
    with _temporary_database("fn") as url:
        yield url
