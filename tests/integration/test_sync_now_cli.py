"""`npnflow sync now [NPN...]` through click's runner: the real Dagster jobs in process on a
throwaway data folder's instance, against the NIPR sandbox over HTTP."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from npnflow.cli import main
from resources import paths
from schemas.migrate import upgrade
from schemas.tables import producers
from support.ports import free_port
from support.sandbox import sandbox_fixture

pytestmark = pytest.mark.sandbox

sandbox = sandbox_fixture(producers=60)


@pytest.fixture
def world(sandbox, tmp_path, monkeypatch):
    """Two of the sandbox's producers onboarded, not synced yet."""
    for name in ("NPNFLOW_DATABASE_URL", "NPNFLOW_ENV", "DAGSTER_DEPLOYMENT", "NPNFLOW_BUCKET_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NPNFLOW_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))  # restored afterwards
    monkeypatch.setenv("NPNFLOW_NIPR_SANDBOX_URL", sandbox.base_url)
    sandbox.reset()
    url = paths.database_url()
    upgrade(url)
    npns = sandbox.world.individual_npns()[:2]
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            producers.insert(), [{"npn": n, "first_name": "New", "is_active": True} for n in npns]
        )
    yield engine, npns
    engine.dispose()


def _status(engine, npn: str) -> str:
    with engine.connect() as connection:
        return connection.execute(
            sa.select(producers.c.sync_status).where(producers.c.npn == npn)
        ).scalar_one()


def test_sync_now_with_npns_syncs_those_producers_and_says_what_changed(world) -> None:
    engine, (first, second) = world
    result = CliRunner().invoke(main, ["sync", "now", "0" + first, "999999999"])
    assert result.exit_code == 1, result.output  # an NPN no producer has: said, and status 1
    out = result.output
    assert f"NPN 0{first} read as {first}" in out
    assert "NPN 999999999: no such producer, not synced" in out
    assert f"  {first}: Not Started -> Success; rows now: licenses " in out
    assert _status(engine, first) == "Success" and _status(engine, second) == "Not Started"
    # Again, already synced: its picture is refreshed, the exit status clean.
    again = CliRunner().invoke(main, ["sync", "now", first])
    assert again.exit_code == 0, again.output
    assert f"  {first}: Success; rows now: licenses " in again.output


def test_sync_now_without_npns_applies_the_latest_alerts_day(world) -> None:
    result = CliRunner().invoke(main, ["sync", "now"])
    assert result.exit_code == 0, result.output
    assert "daily_nipr_sync_job: the PDB Alerts report of " in result.output
    assert "rows now: licenses " in result.output


def test_sync_now_says_how_to_start_the_sandbox_when_it_does_not_answer(world, monkeypatch):
    monkeypatch.setenv("NPNFLOW_NIPR_SANDBOX_URL", f"http://127.0.0.1:{free_port()}")
    result = CliRunner().invoke(main, ["sync", "now"])
    assert result.exit_code == 1
    assert "The NIPR sandbox does not answer" in result.output and "`npnflow ui`" in result.output
