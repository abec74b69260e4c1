"""Alembic environment for the operational database.

Run through `schemas.migrate` (there is no alembic.ini): the database URL comes from the
Alembic config (`sqlalchemy.url`), never from the process environment, and a caller that
already holds a connection passes it as `config.attributes["connection"]`.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool
from sqlalchemy.engine import Connection

from schemas.migrate import VERSION_TABLE
from schemas.tables import metadata

config = context.config

# Batch mode lets later migrations alter tables on SQLite (which rebuilds them to do so);
# on PostgreSQL it emits ordinary ALTER statements.
_CONFIGURE_OPTIONS = {
    "target_metadata": metadata,
    "version_table": VERSION_TABLE,
    "render_as_batch": True,
    "compare_type": True,
}


def _database_url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("schemas/migrations/env.py: the Alembic config has no sqlalchemy.url")
    return url


def run_migrations_offline() -> None:
    context.configure(
        url=_database_url(),
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **_CONFIGURE_OPTIONS,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_with(connection: Connection) -> None:
    context.configure(connection=connection, **_CONFIGURE_OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        # The caller owns this connection and its transaction, and commits it.
        _run_with(connection)
        return
    engine = create_engine(_database_url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            _run_with(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
