"""Reading the operational database from a quick command (`npnflow batches list`, `batches
show`): a plain SQLAlchemy engine, the same migration check as the OperationalDatabase
resource, and nothing else imported.

The resource is a Dagster resource (importing it imports Dagster), and its migration check
asks Alembic (which imports its whole DDL layer): together more than half a second of a
command that prints in a tenth. Here the check reads the database's revision with one SELECT
and compares it with the head of the migration files read as text; whenever that cannot say
"at head" for certain, Alembic's own check decides and words the refusal.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from resources import paths

T = TypeVar("T")

VERSIONS_DIR = Path(__file__).resolve().parents[1] / "schemas" / "migrations" / "versions"
# schemas/migrate.py's VERSION_TABLE (that module imports Alembic).
VERSION_TABLE = "npnflow_alembic_version"
# How long a read waits for a writer's lock on the SQLite file: resources/database.py's
# SQLITE_BUSY_TIMEOUT_SECONDS.
SQLITE_BUSY_TIMEOUT_SECONDS = 30.0

_REVISION = re.compile(r"^revision(?:\s*:\s*str)?\s*=\s*[\"']([^\"']+)[\"']\s*$", re.MULTILINE)
_DOWN_REVISION = re.compile(
    r"^down_revision(?:\s*:\s*[^=]+)?\s*=\s*(?:None|[\"']([^\"']+)[\"'])\s*$", re.MULTILINE
)


def head_of_migration_files(versions_dir: Path = VERSIONS_DIR) -> str | None:
    """The one head of the migration files' chain, read as text; None when any file does not
    read plainly (a revision or down revision not a literal, several heads, a merge): then
    only Alembic can tell."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted(versions_dir.glob("*.py")):
        if path.name == "__init__.py":
            continue
        text = path.read_text(encoding="utf-8")
        revision, down = _REVISION.findall(text), _DOWN_REVISION.findall(text)
        if len(revision) != 1 or len(down) != 1:
            return None
        revisions.add(revision[0])
        if down[0]:
            parents.add(down[0])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


def _at_head(url: str, engine: sa.Engine) -> bool:
    """Whether the database is certainly at the code's head revision, checked cheaply."""
    head = head_of_migration_files()
    if head is None:
        return False
    if url.startswith("sqlite"):
        database = sa.make_url(url).database
        if not database or database == ":memory:" or not Path(database).exists():
            return False  # connecting would create the file: Alembic's check says why not
    try:
        with engine.connect() as connection:
            versions = connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}"))
            return [row[0] for row in versions] == [head]
    except sa.exc.DBAPIError:
        return False  # no version table (never migrated), or not reachable: Alembic says


def refusal_when_not_migrated(url: str, engine: sa.Engine) -> str | None:
    """OperationalDatabase.ensure_migrated's refusal, word for word; None at head."""
    if _at_head(url, engine):
        return None
    from schemas.migrate import current_revision, head_revision

    current, head = current_revision(url), head_revision()
    if current == head:
        return None
    shown_url = sa.make_url(url).render_as_string(hide_password=True)
    return (
        f"The operational database is at migration {current or 'none'}, the code needs "
        f"{head}. Run `npnflow db upgrade` (database: {shown_url})."
    )


def reading(work: Callable[[Connection], T]) -> T:
    """Run the read-only `work(connection)` in one database transaction on the configured
    database (NPNFLOW_DATABASE_URL or the data folder's); a database behind the code or an
    unknown batch prints why and exits 1, as the batch commands do."""
    from assets.batches.detail import BatchNotFound

    url = paths.database_url()
    sqlite = url.startswith("sqlite")
    # One connection for the check and the reading on a server (pooled); a file needs none.
    engine = sa.create_engine(
        url,
        poolclass=NullPool if sqlite else None,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS} if sqlite else {},
    )
    try:
        refusal = refusal_when_not_migrated(url, engine)
        if refusal is not None:
            click.echo(refusal, err=True)
            sys.exit(1)
        with engine.begin() as connection:
            return work(connection)
    except BatchNotFound as missing:
        click.echo(str(missing), err=True)
        sys.exit(1)
    finally:
        engine.dispose()
