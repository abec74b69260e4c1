"""NIPR faults during the daily sync and the initial sync, injected by the sandbox over HTTP.

Every scenario ends one of two ways: the run succeeds after retries (the client's own, or a
retry of the step), or it fails with a message naming the NIPR call and the day, and the
current-state tables are exactly as they were before (the last good state).

Client timeouts and backoffs are tiny, and the step waits 0 s between retries, so the whole
module runs in seconds.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd
import pytest

import assets.nipr.sync_common as nipr_assets
from assets.nipr.daily_sync import (
    core_nipr__current_state,
    raw_nipr__pdb_alerts,
    raw_object_key,
)
from assets.nipr.initial_sync import core_nipr__initial_sync
from assets.nipr.subscriptions import core_nipr__subscriptions
from npnflow.sandbox.server import NiprSandbox
from resources.database import OperationalDatabase
from resources.nipr import NiprClient
from resources.object_store import LocalFolderObjectStore
from schemas.migrate import upgrade
from schemas.tables import producers
from support.sandbox import client_settings, sandbox_fixture

pytestmark = pytest.mark.sandbox

CENTRAL = ZoneInfo("America/Chicago")
ONBOARDED = dt.date(2026, 3, 6)
DAY = dt.date(2026, 3, 7)  # a Saturday with alerts
NEXT = dt.date(2026, 3, 9)  # the Monday after
TABLES = ("producers", "licenses", "license_loas", "appointments", "nipr_scope_reports")
STEP_RETRIES = {
    "failed_call_retries": 1,
    "failed_call_wait_seconds": 0,
    "not_ready_wait_seconds": 0,
}


sandbox = sandbox_fixture(producers=120, today=ONBOARDED)


def _client(sandbox: NiprSandbox) -> NiprClient:
    return NiprClient(
        **client_settings(sandbox),
        timeout_seconds=0.4,
        connect_timeout_seconds=0.4,
        read_retries=2,
        backoff_seconds=0.01,
    )


def _follow_sandbox_clock(patcher, sandbox) -> None:
    patcher.setattr(
        nipr_assets, "_now", lambda: sandbox.now().replace(tzinfo=CENTRAL).astimezone(dt.UTC)
    )


@dataclass
class Env:
    sandbox: NiprSandbox
    database: OperationalDatabase
    store: LocalFolderObjectStore
    nipr: NiprClient
    tracked: list[str]

    def run(
        self, selection, raw_config=None, sync_config=None, **kwargs
    ) -> dg.ExecuteInProcessResult:
        ops = {}
        if raw_config:
            ops["raw_nipr__pdb_alerts"] = {"config": raw_config}
        if sync_config:
            ops["core_nipr__initial_sync"] = {"config": sync_config}
        run_config = {"ops": ops} if ops else None
        return dg.materialize(
            selection,
            resources={"database": self.database, "object_store": self.store, "nipr": self.nipr},
            run_config=run_config,
            raise_on_error=False,
            **kwargs,
        )

    def daily(self, day: dt.date, **kwargs) -> dg.ExecuteInProcessResult:
        return self.run(
            [raw_nipr__pdb_alerts, core_nipr__current_state],
            raw_config=kwargs.pop("raw_config", STEP_RETRIES),
            partition_key=day.isoformat(),
            **kwargs,
        )

    def snapshot(self) -> dict[str, pd.DataFrame]:
        frames = {}
        for table in TABLES:
            frame = self.database.read_table(table)
            frames[table] = frame.sort_values(list(frame.columns)[:3], ignore_index=True)
        return frames

    def assert_unchanged(self, before: dict[str, pd.DataFrame]) -> None:
        after = self.snapshot()
        for table in TABLES:
            pd.testing.assert_frame_equal(before[table], after[table], obj=table)


def _onboard(path, sandbox, tracked) -> Env:
    url = f"sqlite:///{path / 'npnflow.db'}"
    upgrade(url)
    database = OperationalDatabase(url=url)
    with database.begin() as connection:
        connection.execute(
            producers.insert(),
            [{"npn": n, "first_name": "x", "last_name": n, "is_active": True} for n in tracked],
        )
    return Env(
        sandbox,
        database,
        LocalFolderObjectStore(root=str(path / "bucket")),
        _client(sandbox),
        tracked,
    )


@pytest.fixture(scope="module")
def synced_database(sandbox, tmp_path_factory):
    """Producers who change on DAY and NEXT, synced on ONBOARDED (built once)."""
    world = sandbox.world
    tracked = sorted({c.npn for day in (DAY, NEXT) for c in world.changes_on(day)})
    path = tmp_path_factory.mktemp("synced")
    with pytest.MonkeyPatch.context() as patcher:
        sandbox.reset()
        sandbox.set_clock(ONBOARDED)
        _follow_sandbox_clock(patcher, sandbox)
        env = _onboard(path, sandbox, tracked)
        result = env.run([core_nipr__initial_sync, core_nipr__subscriptions])
        assert result.success
    env.database.engine.dispose()
    return path / "npnflow.db", tracked


@pytest.fixture
def env(sandbox, synced_database, tmp_path, monkeypatch) -> Env:
    source, tracked = synced_database
    shutil.copyfile(source, tmp_path / "npnflow.db")
    sandbox.reset()
    sandbox.set_clock(DAY)
    _follow_sandbox_clock(monkeypatch, sandbox)
    environment = Env(
        sandbox,
        OperationalDatabase(url=f"sqlite:///{tmp_path / 'npnflow.db'}"),
        LocalFolderObjectStore(root=str(tmp_path / "bucket")),
        _client(sandbox),
        tracked,
    )
    environment.nipr.add_subscription("npnflow-0001", "nipr-alerts@example.com")
    environment.nipr.add_targets("npnflow-0001", tracked)
    return environment


def failure_text(result, node: str) -> str:
    failure = result.failure_data_for_node(node)
    described = getattr(failure.user_failure_data, "description", None) or ""
    return f"{failure.error.message if failure.error else ''} {described}"


def report_day_rows(env: Env) -> pd.DataFrame:
    return env.database.read_table("nipr_report_days")


# ------------------------------------------------------------------------------ PDB Alerts


@pytest.mark.parametrize("kind", ["http_503", "timeout", "truncated"])
def test_a_passing_alerts_fault_is_retried_by_the_client(env, kind):
    env.sandbox.add_fault(
        target="alerts", method="receiveSpecificReport", kind=kind, count=1, delay_seconds=0.6
    )
    result = env.daily(DAY)
    assert result.success
    assert env.sandbox.faults.pending() == []  # the fault was hit
    applied = result.asset_materializations_for_node("core_nipr__current_state")[0]
    assert applied.metadata["scopes_applied"].value > 0
    assert report_day_rows(env).set_index("report_date").loc[DAY, "status"] == "applied"


def test_malformed_xml_is_not_retried_by_the_client_but_by_the_step(env):
    env.sandbox.add_fault(
        target="alerts", method="receiveSpecificReport", kind="malformed_xml", count=1
    )
    result = env.daily(DAY)
    assert result.success
    attempts = [
        e
        for e in result.all_events
        if e.event_type_value == "STEP_UP_FOR_RETRY" and e.step_key == "raw_nipr__pdb_alerts"
    ]
    assert len(attempts) == 1
    assert report_day_rows(env).set_index("report_date").loc[DAY, "status"] == "applied"


@pytest.mark.parametrize("kind", ["http_500", "timeout", "malformed_xml"])
def test_a_lasting_alerts_fault_fails_naming_the_call_and_the_day(env, kind):
    before = env.snapshot()
    env.sandbox.add_fault(
        target="alerts", method="receiveSpecificReport", kind=kind, count=50, delay_seconds=0.6
    )
    result = env.daily(DAY)
    assert not result.success
    message = failure_text(result, "raw_nipr__pdb_alerts")
    assert "receiveSpecificReport" in message
    assert DAY.isoformat() in message
    assert "sandbox:sandbox" not in message  # never the credentials
    env.assert_unchanged(before)
    assert DAY not in set(report_day_rows(env).report_date)
    assert not env.store.exists(raw_object_key(DAY))


def test_a_report_not_ready_is_retried_then_fails_clearly(env):
    env.sandbox.set_clock(dt.datetime.combine(DAY, dt.time(8, 0)))  # NIPR publishes by 10:00
    before = env.snapshot()
    result = env.daily(DAY, raw_config={**STEP_RETRIES, "not_ready_retries": 2})
    assert not result.success
    retries = [
        e
        for e in result.all_events
        if e.event_type_value == "STEP_UP_FOR_RETRY" and e.step_key == "raw_nipr__pdb_alerts"
    ]
    assert len(retries) == 2
    message = failure_text(result, "raw_nipr__pdb_alerts")
    assert "still not finished" in message and DAY.isoformat() in message
    assert "receiveSpecificReport" in message
    env.assert_unchanged(before)
    # Later that morning the same partition goes through.
    env.sandbox.set_clock(DAY)
    assert env.daily(DAY).success


def test_a_report_older_than_nipr_keeps_fails_without_retrying(env):
    env.sandbox.set_clock(DAY + dt.timedelta(days=20))
    before = env.snapshot()
    result = env.daily(DAY)
    assert not result.success
    message = failure_text(result, "raw_nipr__pdb_alerts")
    assert "14 days" in message and DAY.isoformat() in message
    env.assert_unchanged(before)


def test_an_unreadable_stored_reply_fails_the_whole_backfill_and_changes_nothing(env):
    env.sandbox.set_clock(NEXT)
    fetched = env.run(
        [raw_nipr__pdb_alerts],
        tags={
            "dagster/asset_partition_range_start": DAY.isoformat(),
            "dagster/asset_partition_range_end": NEXT.isoformat(),
        },
    )
    assert fetched.success
    before = env.snapshot()
    good = env.store.get_bytes(raw_object_key(NEXT))
    env.store.put_bytes(raw_object_key(NEXT), good[: len(good) * 2 // 3])  # cut short
    result = env.run(
        [core_nipr__current_state],
        tags={
            "dagster/asset_partition_range_start": DAY.isoformat(),
            "dagster/asset_partition_range_end": NEXT.isoformat(),
        },
    )
    assert not result.success
    message = failure_text(result, "core_nipr__current_state")
    assert NEXT.isoformat() in message and raw_object_key(NEXT) in message
    env.assert_unchanged(before)  # DAY was fine, but the run is one transaction
    statuses = report_day_rows(env).set_index("report_date").status.to_dict()
    assert statuses[DAY] == "fetched" and statuses[NEXT] == "fetched"
    # Re-fetching the day repairs it without touching the other days' stored replies.
    refetched = env.run(
        [raw_nipr__pdb_alerts, core_nipr__current_state],
        raw_config={**STEP_RETRIES, "refetch": True},
        partition_key=NEXT.isoformat(),
    )
    assert refetched.success


# ------------------------------------------------------------------------------ Entity Info


@pytest.fixture
def onboarding(sandbox, tmp_path, monkeypatch) -> Env:
    sandbox.reset()
    sandbox.set_clock(ONBOARDED)
    _follow_sandbox_clock(monkeypatch, sandbox)
    return _onboard(tmp_path, sandbox, sandbox.world.individual_npns()[:6])


@pytest.mark.parametrize("kind", ["http_500", "timeout"])
def test_a_passing_entity_info_fault_is_retried(onboarding, kind):
    onboarding.sandbox.add_fault(target="entityinfo", kind=kind, count=1, delay_seconds=0.6)
    result = onboarding.run([core_nipr__initial_sync])
    assert result.success
    statuses = onboarding.database.read_table("producers").sync_status
    assert set(statuses) == {"Success"}


@pytest.mark.parametrize(
    ("kind", "count"),
    [("http_500", 3), ("malformed_xml", 1)],  # 5xx: 1 + 2 client retries; malformed: no retry
)
def test_an_entity_info_fault_marks_one_producer_and_spares_the_others(onboarding, kind, count):
    onboarding.sandbox.add_fault(target="entityinfo", kind=kind, count=count)
    # One call at a time, so the fault hits one producer (the first) rather than several.
    result = onboarding.run([core_nipr__initial_sync], sync_config={"max_workers": 1})
    assert result.success  # the others went through
    people = onboarding.database.read_table("producers").set_index("npn")
    errors = people[people.sync_status == "NIPR Error"]
    assert len(errors) == 1
    assert errors.last_synced_at.isna().all()
    assert (people.sync_status == "Success").sum() == len(onboarding.tracked) - 1
    failed = errors.index[0]
    assert failed == sorted(onboarding.tracked)[0]
    licenses = onboarding.database.read_table("licenses")
    assert failed not in set(licenses.npn)
    assert set(licenses.npn) == set(onboarding.tracked) - {failed}
    problems = result.asset_materializations_for_node("core_nipr__initial_sync")[0]
    assert f"Entity Info for NPN {failed}" in problems.metadata["problems"].value
    # The next run picks up the NIPR Error producer, and only it.
    again = onboarding.run([core_nipr__initial_sync])
    assert again.success
    assert (
        again.asset_materializations_for_node("core_nipr__initial_sync")[0]
        .metadata["producers_attempted"]
        .value
        == 1
    )
    assert set(onboarding.database.read_table("producers").sync_status) == {"Success"}


def test_subscriptions_fail_clearly_when_nipr_is_down(env):
    env.sandbox.add_fault(target="alerts", kind="http_500", count=50)
    before = env.database.read_table("nipr_subscriptions")
    result = env.run([core_nipr__subscriptions])
    assert not result.success
    assert "retrieveAllSubscriptions" in failure_text(result, "core_nipr__subscriptions")
    pd.testing.assert_frame_equal(before, env.database.read_table("nipr_subscriptions"))
