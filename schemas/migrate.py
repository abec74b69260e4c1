"""Bring an operational database to the current schema with Alembic, without an alembic.ini.

`upgrade(url)` is what the app and the tests call; the Alembic config is built here, so the
migrations run the same way from the CLI, a Dagster resource or a test. Nothing happens at
import time.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool
from sqlalchemy.engine import make_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Not Alembic's default `alembic_version`: Dagster's PostgreSQL storage keeps its own Alembic
# history under that name, and the two must not collide if they ever share a database.
VERSION_TABLE = "npnflow_alembic_version"


def alembic_config(database_url: str | None = None) -> Config:
    """An Alembic config for our migrations; `database_url` becomes `sqlalchemy.url`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if database_url is not None:
        # The config is a ConfigParser: a literal % (URL-encoded passwords) must be doubled.
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def _sqlite_file(database_url: str) -> Path | None:
    """The file behind a SQLite URL, or None (another backend, or an in-memory database)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate the database at `database_url` up to `revision` (a no-op when already there)."""
    sqlite_file = _sqlite_file(database_url)
    if sqlite_file is not None:
        sqlite_file.parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    """Migrate the database down to `revision` (`"base"` drops every table we created)."""
    command.downgrade(alembic_config(database_url), revision)


def current_revision(database_url: str) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    sqlite_file = _sqlite_file(database_url)
    if sqlite_file is not None and not sqlite_file.exists():
        return None  # Connecting would create an empty file as a side effect.
    engine = create_engine(database_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
            return context.get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str:
    """The newest revision in `schemas/migrations/versions/`."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no Alembic revisions found under {MIGRATIONS_DIR / 'versions'}")
    return head
