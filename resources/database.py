"""The operational database (SPEC section 3) as a Dagster resource.

One narrow interface over SQLAlchemy: replace a set of tables atomically, read a table as a
frame, count rows. Assets never build engines or SQL themselves. The engine is created when a
run starts (`setup_for_execution`), never when the code location loads.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import dagster as dg
import pandas as pd
import sqlalchemy as sa
from pydantic import Field, PrivateAttr
from sqlalchemy.engine import Connection, Engine

from resources.bulk_writes import insert_frame
from resources.column_values import driver_value
from schemas.tables import metadata


class DatabaseNotMigrated(RuntimeError):
    """The database is missing tables or is behind the code's migrations."""


# How long a SQLite statement waits for another connection's write lock before it fails with
# "database is locked". Generous: the embedded default shares one file between the webserver,
# the daemon and runs, and "database is locked" is SQLite's usual failure. A lock held longer
# still is a transient error that the steps retry with backoff (assets/retries.py).
SQLITE_BUSY_TIMEOUT_SECONDS = 30.0

# SQLSTATEs PostgreSQL uses for a failure that the same work, done again, can get past.
_TRANSIENT_SQLSTATES = frozenset(
    {
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "57P01",  # admin_shutdown: the server is restarting
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now: the server is starting up
    }
)
_SQLITE_BUSY_MESSAGES = ("database is locked", "database table is locked", "database is busy")


def create_database_engine(
    url: str, *, sqlite_busy_timeout_seconds: float = SQLITE_BUSY_TIMEOUT_SECONDS
) -> Engine:
    """An engine with the settings npnflow relies on for each backend."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": sqlite_busy_timeout_seconds})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def is_transient_database_error(error: BaseException) -> bool:
    """Whether `error` (or what it was raised from) is a database failure that goes away by
    itself: SQLite busy or locked past the busy timeout; PostgreSQL's serialization failure,
    deadlock, a server restarting, or a connection lost mid-way. Everything else (a missing
    table, a constraint violated, a wrong password, a bug) fails the same way every time."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sa.exc.DBAPIError) and (
            current.connection_invalidated or _is_transient_driver_error(current.orig)
        ):
            return True
        current = current.__cause__
    return False


def _is_transient_driver_error(orig: BaseException | None) -> bool:
    if orig is None:
        return False
    # sqlite3 names its error codes (Python 3.11+): SQLITE_BUSY*, SQLITE_LOCKED*.
    name = getattr(orig, "sqlite_errorname", None)
    if isinstance(name, str) and name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return True
    # psycopg2 calls the SQLSTATE pgcode, psycopg 3 sqlstate.
    state = getattr(orig, "pgcode", None) or getattr(orig, "sqlstate", None)
    if isinstance(state, str) and (state in _TRANSIENT_SQLSTATES or state.startswith("08")):
        return True
    return type(orig).__module__.startswith("sqlite3") and str(orig).lower().startswith(
        _SQLITE_BUSY_MESSAGES
    )


def _python_value(value: Any, column: sa.Column[Any]) -> Any:
    """A cell as the DB driver wants it: None for missing, date for Date, plain Python types."""
    return driver_value(value, column.type)


def frame_to_rows(frame: pd.DataFrame, table: sa.Table) -> list[dict[str, Any]]:
    """Rows for `table.insert()`; a column the table lacks is a programming error, said plainly."""
    unknown = [c for c in frame.columns if c not in table.c]
    if unknown:
        raise ValueError(f"table {table.name} has no column(s) {', '.join(map(str, unknown))}")
    columns = [table.c[name] for name in frame.columns]
    return [
        {col.name: _python_value(value, col) for col, value in zip(columns, row, strict=True)}
        for row in frame.itertuples(index=False, name=None)
    ]


# Bare, as Dagster's own docs subclass it: ConfigurableResource[X] would build a new pydantic
# class at run time. (type-arg is only reported where mypy is strict: hence unused-ignore.)
class OperationalDatabase(dg.ConfigurableResource):  # type: ignore[type-arg, unused-ignore]
    """npnflow's operational database: SQLite in the embedded default, PostgreSQL in production."""

    # repr=False: a URL can hold the password (`display_url` is the one to show).
    url: str = Field(
        repr=False,
        description=(
            "SQLAlchemy URL, e.g. sqlite:///.npnflow/npnflow.db or postgresql+psycopg2://..."
        ),
    )
    sqlite_busy_timeout_seconds: float = Field(
        default=SQLITE_BUSY_TIMEOUT_SECONDS,
        description=(
            "SQLite only: how long a statement waits for another connection's write lock "
            "before failing with 'database is locked' (the step is then retried with backoff)."
        ),
    )

    _engine: Engine | None = PrivateAttr(default=None)
    _migration_check_pending: bool = PrivateAttr(default=False)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._engine = self._create_engine()
        # The migration check, once per run (each step's resources are set up here), so no
        # asset has to remember it. Made at the first use rather than here, so that a run
        # against an unmigrated database fails in the step that needed it, with the command
        # to run, before that step reads or writes anything.
        self._migration_check_pending = True

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def _create_engine(self) -> Engine:
        return create_database_engine(
            self.url, sqlite_busy_timeout_seconds=self.sqlite_busy_timeout_seconds
        )

    @property
    def engine(self) -> Engine:
        if self._migration_check_pending:
            self.ensure_migrated()  # raises until the database is migrated
            self._migration_check_pending = False
        if self._engine is None:
            # Used outside a Dagster run (CLI, tests): create lazily, still never at import.
            self._engine = self._create_engine()
        return self._engine

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One database transaction: everything inside commits together or not at all."""
        with self.engine.begin() as connection:
            yield connection

    def ensure_migrated(self) -> None:
        """Fail with the command to run when the schema is not at the code's head revision."""
        from schemas.migrate import current_revision, head_revision

        current, head = current_revision(self.url), head_revision()
        if current != head:
            raise DatabaseNotMigrated(
                f"The operational database is at migration {current or 'none'}, the code needs "
                f"{head}. Run `npnflow db upgrade` (database: {self.display_url})."
            )

    @property
    def migrated_url(self) -> str:
        """The URL, for a tool that connects by itself (dbt), after the run's migration check."""
        if self._migration_check_pending:
            self.ensure_migrated()
            self._migration_check_pending = False
        return self.url

    @property
    def display_url(self) -> str:
        """The URL with any password hidden, for messages and metadata."""
        return sa.make_url(self.url).render_as_string(hide_password=True)

    def replace_tables(self, frames: Mapping[str, pd.DataFrame]) -> dict[str, int]:
        """Replace the whole content of each named table, all in one transaction.

        Children are emptied before parents and parents filled before children, so foreign
        keys hold at every statement. Returns the rows written per table.
        """
        tables = [metadata.tables[name] for name in frames]
        ordered = [t for t in metadata.sorted_tables if t in tables]
        with self.begin() as connection:
            for table in reversed(ordered):
                connection.execute(table.delete())
            written: dict[str, int] = {}
            for table in ordered:
                written[table.name] = insert_frame(connection, table, frames[table.name])
        return written

    def read_table(self, name: str, columns: Iterable[str] | None = None) -> pd.DataFrame:
        with self.engine.connect() as connection:
            return read_table(connection, name, columns)

    def count_rows(self, names: Iterable[str]) -> dict[str, int]:
        with self.engine.connect() as connection:
            return {
                name: connection.execute(
                    sa.select(sa.func.count()).select_from(metadata.tables[name])
                ).scalar_one()
                for name in names
            }


# --- reading on the caller's connection: the one read_table, shared by the resource and the
# stores that read inside their own database transaction ---------------------------------------


def read_table(
    connection: Connection, name: str, columns: Iterable[str] | None = None
) -> pd.DataFrame:
    """A whole table (or these of its columns) as a frame, on the caller's connection, so a
    read can share the database transaction of the write that follows it."""
    table = metadata.tables[name]
    selected = [table.c[c] for c in columns] if columns else list(table.c)
    result = connection.execute(sa.select(*selected))
    # Plain tuples: given SQLAlchemy rows, pandas probes each for named-tuple fields (six
    # times slower: 28 ms against 5 ms for the 3,600 lines of authority the checks read).
    rows = [tuple(row) for row in result.fetchall()]  # iterating fetches a row per call
    return pd.DataFrame(rows, columns=[c.name for c in selected])


# Producer-scoped reads join a temporary table of the NPNs (resources/scoped_reads.py).
from resources.scoped_reads import read_for_npns as read_for_npns  # noqa: E402
