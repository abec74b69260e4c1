"""Production shape on PostgreSQL: Dagster's instance storage from deploy/dagster.yaml and the
operational database, both on a real server, running the reference-data job."""

from __future__ import annotations

import shutil

import pytest
import sqlalchemy as sa
from dagster import DagsterInstance

from resources import paths
from resources.database import OperationalDatabase
from schemas.migrate import upgrade

pytestmark = pytest.mark.postgres


def test_reference_job_on_postgres_storage_and_data(fresh_postgres_url, tmp_path, monkeypatch):
    url = sa.make_url(fresh_postgres_url)
    monkeypatch.setenv("DAGSTER_PG_USERNAME", url.username or "postgres")
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", url.password or "")
    monkeypatch.setenv("DAGSTER_PG_HOST", url.host or "127.0.0.1")
    monkeypatch.setenv("DAGSTER_PG_PORT", str(url.port or 5432))
    monkeypatch.setenv("DAGSTER_PG_DB", url.database)
    monkeypatch.setenv("NPNFLOW_ENV", "ci")
    monkeypatch.setenv("NPNFLOW_DATABASE_URL", fresh_postgres_url)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(paths.PROJECT_ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    upgrade(fresh_postgres_url)

    from pipelines.definitions import build_definitions

    job = build_definitions("ci").resolve_job_def("load_reference_data_job")
    with DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        result = job.execute_in_process(instance=instance)
        assert result.success
        # The run and its materializations are in PostgreSQL, where the UI and daemon read them.
        assert instance.get_run_by_id(result.run_id) is not None

    counts = OperationalDatabase(url=fresh_postgres_url).count_rows(["jurisdictions", "companies"])
    assert counts["jurisdictions"] == 54
    assert counts["companies"] > 0
