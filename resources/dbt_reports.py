"""dbt_reports (SPEC section 10) run by the dbt CLI against the operational database.

The dbt project lives in `dbt_reports/`; this module is the one place that knows where, how its
manifest is prepared and how dbt is pointed at a database:

- `reports_project()`: the `DbtProject`. Its manifest (`dbt_reports/target/manifest.json`) is
  prepared by a build step, `npnflow reports prepare` (run by `make install`), never when the
  code location loads; `prepared_manifest_path()` fails with that command when it is missing.
- `dbt_target_for(url)`: the profiles.yml target (`sqlite` or `postgres`) and the environment
  variables it reads, derived from the SQLAlchemy URL of the `database` resource. So the reports
  are always built in the database the pipeline writes, whichever environment picked it.
- `ReportsDbt`: the resource the report assets use. `build()` runs `dbt build` through
  dagster-dbt with that target and streams the models and tests back as Dagster events.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import sqlalchemy as sa

from resources import paths

if TYPE_CHECKING:
    from dagster_dbt import DbtCliResource, DbtProject

DBT_REPORTS_DIR = paths.PROJECT_ROOT / "dbt_reports"
PREPARE_COMMAND = "npnflow reports prepare"
# The secret's variable starts with DBT_ENV_SECRET_: dbt scrubs such values from its logs.
PASSWORD_VARIABLE = "DBT_ENV_SECRET_NPNFLOW_DBT_PG_PASSWORD"


class ReportsNotPrepared(RuntimeError):
    """dbt_reports has no manifest yet: the build step was not run in this checkout."""


class UnsupportedDatabase(ValueError):
    """The operational database is one dbt_reports cannot be pointed at."""


# --------------------------------------------------------------------------------------------
# Which database: the profiles.yml target and its variables, from the database URL
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DbtTarget:
    """A target of dbt_reports/profiles.yml and the environment variables it reads."""

    name: str  # "sqlite" or "postgres"
    where: str  # for messages and metadata: the file, or host/dbname (never the password)
    env: Mapping[str, str] = field(repr=False)


def dbt_target_for(database_url: str) -> DbtTarget:
    """The dbt target writing into the database at `database_url` (a SQLAlchemy URL).

    SQLite: the models go into the same file, schema `main` (dbt-sqlite's `schemas_and_paths`).
    PostgreSQL: the same database, schema `reports`; the sources stay in `public`.
    """
    url = sa.make_url(database_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            raise UnsupportedDatabase(
                "dbt reads the SQLite operational database from a file, but the database URL "
                f"names {'an in-memory database' if database != '' else 'no file'} "
                f"({url.render_as_string(hide_password=True)}). Use sqlite:///path/to/npnflow.db."
            )
        # The same file SQLAlchemy opens: a relative path is relative to this process's
        # directory, while dbt runs in dbt_reports/.
        path = Path(database).expanduser().resolve()
        return DbtTarget(
            name="sqlite",
            where=f"SQLite file {path}",
            env={
                "NPNFLOW_DBT_TARGET": "sqlite",
                "NPNFLOW_DBT_SQLITE_PATH": str(path),
                # dbt-sqlite attaches every *.db file of this folder as a schema; npnflow
                # writes only to `main`, so it gets a folder of its own that stays empty.
                "NPNFLOW_DBT_SQLITE_SCHEMA_DIR": str(path.parent / "dbt_schemas"),
            },
        )
    if backend == "postgresql":
        missing = [
            part
            for part, value in (("host", url.host), ("database name", url.database))
            if not value
        ]
        if missing:
            raise UnsupportedDatabase(
                f"The PostgreSQL URL {url.render_as_string(hide_password=True)} has no "
                f"{' and no '.join(missing)}; dbt needs both: "
                "postgresql+psycopg2://USER:PASSWORD@HOST:PORT/DBNAME."
            )
        env = {
            "NPNFLOW_DBT_TARGET": "postgres",
            "NPNFLOW_DBT_PG_HOST": str(url.host),
            "NPNFLOW_DBT_PG_PORT": str(url.port or 5432),
            # libpq's default user is the login name; dbt-postgres needs it spelled out.
            "NPNFLOW_DBT_PG_USER": url.username or _login_name(),
            "NPNFLOW_DBT_PG_DBNAME": str(url.database),
            PASSWORD_VARIABLE: url.password or "",
        }
        sslmode = url.query.get("sslmode")
        if sslmode:
            env["NPNFLOW_DBT_PG_SSLMODE"] = sslmode if isinstance(sslmode, str) else sslmode[-1]
        return DbtTarget(
            name="postgres",
            where=f"PostgreSQL {url.host}:{url.port or 5432}/{url.database}, schema reports",
            env=env,
        )
    raise UnsupportedDatabase(
        f"dbt_reports runs on SQLite or PostgreSQL; the operational database is {backend} "
        f"({url.render_as_string(hide_password=True)})."
    )


def _login_name() -> str:
    import getpass

    return getpass.getuser()


# --------------------------------------------------------------------------------------------
# The dbt project and its manifest
# --------------------------------------------------------------------------------------------


@functools.cache
def reports_project() -> DbtProject:
    """dbt_reports as dagster-dbt's DbtProject (profiles.yml is inside the project)."""
    from dagster_dbt import DbtProject

    return DbtProject(project_dir=DBT_REPORTS_DIR)


def dbt_executable() -> str:
    """The dbt of this Python environment.

    dagster-dbt runs `dbt` from PATH, which misses the virtualenv's when npnflow is started as
    `.venv/bin/npnflow` or `.venv/bin/pytest` without activating it.
    """
    beside_python = Path(sys.executable).parent / "dbt"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("dbt")
    if found is None:
        raise ReportsNotPrepared(
            "dbt is not installed in this Python environment (dbt-core, dbt-sqlite and "
            "dbt-postgres come with npnflow): run `make install`."
        )
    return found


@functools.cache
def _dbt_cli() -> DbtCliResource:
    """One per process: dagster-dbt asks `dbt --version` once per resource object (a second)."""
    from dagster_dbt import DbtCliResource

    return DbtCliResource(project_dir=reports_project(), dbt_executable=dbt_executable())


def prepare_reports_project() -> Path:
    """Parse dbt_reports into its manifest (`dbt parse`): the build step, never run at import.

    Parsing renders profiles.yml but connects to no database: the default (sqlite) target's
    variables have defaults, so this needs no configuration.
    """
    project = reports_project()
    target = project.project_dir / project.target_path
    target.mkdir(parents=True, exist_ok=True)
    # Parsed beside the target, then moved into place in one step: a code location loading
    # meanwhile (or another parse, under `dagster dev`) never reads a half-written manifest.
    parsed = Path(tempfile.mkdtemp(prefix=".prepare-", dir=target))
    try:
        # Always the sqlite target, whatever the shell says: the manifest is the same in every
        # checkout, and a build for PostgreSQL parses again with its own target anyway.
        with _environment({"NPNFLOW_DBT_TARGET": "sqlite"}):
            invocation = _dbt_cli().cli(["parse", "--quiet"], target_path=parsed)
        invocation.wait()
        # partial_parse.msgpack lets each build start from this parse.
        for artifact in ("partial_parse.msgpack", "manifest.json"):
            os.replace(parsed / artifact, target / artifact)
    finally:
        shutil.rmtree(parsed, ignore_errors=True)
    return project.manifest_path


def prepared_manifest_path() -> Path:
    """The manifest the report assets are defined from; a clear error when it was not built."""
    manifest = reports_project().manifest_path
    if not manifest.exists():
        raise ReportsNotPrepared(
            f"The dbt reports are not prepared in this checkout: {manifest} is missing. Run "
            f"`{PREPARE_COMMAND}` (`make install` runs it), then load the definitions again."
        )
    return manifest


# --------------------------------------------------------------------------------------------
# Running dbt
# --------------------------------------------------------------------------------------------


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """os.environ with `values` for the duration of the block, then exactly as before.

    `DbtCliResource.cli()` builds the dbt process's environment from os.environ and takes no
    extra variables (dagster-io/dagster#29656; the maintainers point to setting them around the
    call). It also loads the profile in this process, for its adapter handle. Both happen
    inside `cli()`, so the connection variables are set only around that call, not for the
    process. (A run executes its steps one at a time in a process, so nothing else reads the
    environment meanwhile.)
    """
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# Bare, as Dagster's own docs subclass it: ConfigurableResource[X] would build a new pydantic
# class at run time. (type-arg is only reported where mypy is strict: hence unused-ignore.)
class ReportsDbt(dg.ConfigurableResource):  # type: ignore[type-arg, unused-ignore]
    """dbt_reports, built by the dbt CLI in the operational database a run is given.

    It holds no connection settings of its own: `build()` takes the URL of the run's `database`
    resource, so dbt always writes where the pipeline writes.
    """

    def build(
        self, context: dg.AssetExecutionContext, *, database_url: str, as_of: dt.date
    ) -> Iterator[Any]:
        """`dbt build` of the selected reports and their tests, as Dagster events.

        The models and tests stream back as they finish (materializations, asset check
        results). dbt's artifacts (its debug log, compiled SQL, run results) go to a temporary
        folder: removed after a successful build, since a folder per run would pile up in
        dbt_reports/target; kept after a failure, where the error message points to them.
        """
        target = dbt_target_for(database_url)
        context.log.info(f"dbt build of the reports in the {target.where}, as of {as_of}.")
        args = ["build", "--vars", json.dumps({"as_of": as_of.isoformat()})]
        artifacts = Path(tempfile.mkdtemp(prefix="npnflow-dbt-"))
        with _environment(target.env):
            invocation = _dbt_cli().cli(args, context=context, target_path=artifacts)
        # Not dagster-dbt's fetch_row_counts(): it names each table as the prepared (sqlite)
        # manifest does, which is not where PostgreSQL has it. The report assets count the
        # rows through the `database` resource instead.
        yield from invocation.stream()
        shutil.rmtree(artifacts, ignore_errors=True)
