"""The NIPR daily sync through `dg.materialize`, against an in-process NIPR sandbox.

Real local resources: a migrated SQLite `OperationalDatabase`, a `LocalFolderObjectStore` in
tmp_path and a `NiprClient` on the sandbox. The sandbox's clock is frozen at noon Central of
a chosen day; the assets' clock (`assets.nipr.assets._now`, the time a reply is "fetched")
follows it, so the as-of ordering of Entity Info and Alerts data behaves as it would on
those days rather than on the wall clock's.

The expected rows come from the sandbox's world (`world.producer(npn, as_of=day)`) and its
change model (`world.changes_on(day)`), never from the code under test.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import tracemalloc
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

import assets.nipr.sync_common as nipr_assets
from assets.nipr.daily_sync import (
    PdbAlertsFetchConfig,
    core_nipr__current_state,
    fetch_day,
    raw_nipr__pdb_alerts,
    raw_object_key,
)
from assets.nipr.initial_sync import core_nipr__initial_sync
from assets.nipr.subscriptions import core_nipr__subscriptions
from npnflow.sandbox.server import NiprSandbox
from resources.database import OperationalDatabase
from resources.nipr import AlertsReportReceipt, NiprClient
from resources.object_store import STREAM_CHUNK_BYTES, LocalFolderObjectStore
from schemas.migrate import upgrade
from schemas.tables import producers
from support.sandbox import client_settings, sandbox_fixture

CENTRAL = ZoneInfo("America/Chicago")
ONBOARDED = dt.date(2026, 3, 6)  # Friday: producers onboarded, initial sync
SATURDAY = dt.date(2026, 3, 7)
SUNDAY = dt.date(2026, 3, 8)  # NIPR runs no alerts
MONDAY = dt.date(2026, 3, 9)
TUESDAY = dt.date(2026, 3, 10)
ALERT_DAYS = (SATURDAY, MONDAY, TUESDAY)
UNKNOWN_NPN = "1"  # the sandbox has no such producer
TABLES = ("producers", "licenses", "license_loas", "appointments")


sandbox = sandbox_fixture(producers=200, today=ONBOARDED)


@dataclass
class Sync:
    sandbox: NiprSandbox
    database: OperationalDatabase
    store: LocalFolderObjectStore
    nipr: NiprClient
    tracked: list[str]

    @property
    def resources(self) -> dict[str, object]:
        return {"database": self.database, "object_store": self.store, "nipr": self.nipr}

    def at(self, day: dt.date) -> None:
        self.sandbox.set_clock(day)

    def materialize(self, selection, **kwargs) -> dg.ExecuteInProcessResult:
        return dg.materialize(selection, resources=self.resources, **kwargs)

    def sync_new_producers(self) -> dg.ExecuteInProcessResult:
        result = self.materialize([core_nipr__initial_sync, core_nipr__subscriptions])
        assert result.success
        return result

    def daily(self, day: dt.date, **kwargs) -> dg.ExecuteInProcessResult:
        return self.materialize(
            [raw_nipr__pdb_alerts, core_nipr__current_state],
            partition_key=day.isoformat(),
            **kwargs,
        )

    def tables(self) -> dict[str, pd.DataFrame]:
        frames = {}
        for table in TABLES:
            frame = self.database.read_table(table)
            frame = frame.drop(columns=["updated_at"], errors="ignore")
            frames[table] = frame.sort_values(list(frame.columns)[:4], ignore_index=True)
        return frames


def _follow_sandbox_clock(patcher: pytest.MonkeyPatch, sandbox: NiprSandbox) -> None:
    patcher.setattr(
        nipr_assets, "_now", lambda: sandbox.now().replace(tzinfo=CENTRAL).astimezone(dt.UTC)
    )


def _tracked(world) -> list[str]:
    """Everyone who changes on the test days, and a few who do not."""
    changed = {c.npn for day in ALERT_DAYS for c in world.changes_on(day)}
    quiet = [n for n in world.individual_npns() if n not in changed][:3]
    return sorted(changed) + quiet


def _client(sandbox: NiprSandbox) -> NiprClient:
    return NiprClient(
        **client_settings(sandbox),
        timeout_seconds=5,
        read_retries=1,
        backoff_seconds=0.01,
    )


def _onboard(path, sandbox: NiprSandbox, tracked: list[str]) -> Sync:
    """A migrated database whose producers were just onboarded (sync_status Not Started)."""
    url = f"sqlite:///{path / 'npnflow.db'}"
    upgrade(url)
    database = OperationalDatabase(url=url)
    with database.begin() as connection:
        connection.execute(
            producers.insert(),
            [
                {"npn": npn, "first_name": "Onboarded", "last_name": npn, "is_active": True}
                for npn in [*tracked, UNKNOWN_NPN]
            ],
        )
    store = LocalFolderObjectStore(root=str(path / "bucket"))
    return Sync(sandbox, database, store, _client(sandbox), tracked)


@pytest.fixture
def fresh(sandbox, tmp_path, monkeypatch) -> Sync:
    """Producers onboarded on Friday, nothing fetched from NIPR yet."""
    sandbox.reset()
    sandbox.set_clock(ONBOARDED)
    _follow_sandbox_clock(monkeypatch, sandbox)
    return _onboard(tmp_path, sandbox, _tracked(sandbox.world))


@pytest.fixture(scope="module")
def synced_database(sandbox, tmp_path_factory):
    """Friday's initial sync and subscriptions, done once; each test gets a copy."""
    path = tmp_path_factory.mktemp("synced")
    with pytest.MonkeyPatch.context() as patcher:
        sandbox.reset()
        sandbox.set_clock(ONBOARDED)
        _follow_sandbox_clock(patcher, sandbox)
        synced = _onboard(path, sandbox, _tracked(sandbox.world))
        synced.sync_new_producers()
    synced.database.engine.dispose()  # SQLite folds its WAL into the file on the last close
    return path / "npnflow.db", synced.tracked


@pytest.fixture
def sync(sandbox, synced_database, tmp_path, monkeypatch) -> Sync:
    """Producers synced with NIPR on Friday and on the target list (a copy per test)."""
    source, tracked = synced_database
    shutil.copyfile(source, tmp_path / "npnflow.db")
    sandbox.reset()
    sandbox.set_clock(ONBOARDED)
    _follow_sandbox_clock(monkeypatch, sandbox)
    database = OperationalDatabase(url=f"sqlite:///{tmp_path / 'npnflow.db'}")
    store = LocalFolderObjectStore(root=str(tmp_path / "bucket"))
    result = Sync(sandbox, database, store, _client(sandbox), tracked)
    result.nipr.add_subscription("npnflow-0001", "nipr-alerts@example.com")
    result.nipr.add_targets("npnflow-0001", tracked)  # the sandbox forgets between tests
    return result


# ------------------------------------------------------------------------------ expectations


def world_rows(world, npns, day) -> dict[str, set[tuple]]:
    """What NIPR holds for these producers on `day`, in our tables' terms."""
    rows: dict[str, set[tuple]] = {"licenses": set(), "license_loas": set(), "appointments": set()}
    for npn in npns:
        producer = world.producer(npn, as_of=day)
        if producer is None:
            continue
        for lic in producer.licenses:
            rows["licenses"].add(
                (
                    npn,
                    lic.state,
                    lic.number,
                    str(lic.class_code),
                    lic.is_active,
                    lic.expiration_date,
                )
            )
            for line in lic.loas:
                rows["license_loas"].add(
                    (
                        npn,
                        lic.state,
                        lic.number,
                        str(lic.class_code),
                        str(line.code),
                        line.is_active,
                    )
                )
        for a in producer.appointments:
            rows["appointments"].add((npn, a.state, a.cocode, str(a.loa_code), a.status))
    return rows


def our_rows(database: OperationalDatabase) -> dict[str, set[tuple]]:
    licenses = database.read_table("licenses")
    loas = database.read_table("license_loas")
    appointments = database.read_table("appointments")
    return {
        "licenses": set(
            zip(
                licenses.npn,
                licenses.state_code,
                licenses.license_number,
                licenses.license_class_code,
                licenses.is_active,
                licenses.expiration_date,
                strict=True,
            )
        ),
        "license_loas": set(
            zip(
                loas.npn,
                loas.state_code,
                loas.license_number,
                loas.license_class_code,
                loas.loa_code,
                loas.is_active,
                strict=True,
            )
        ),
        "appointments": set(
            zip(
                appointments.npn,
                appointments.state_code,
                appointments.cocode,
                appointments.loa_code,
                appointments.status,
                strict=True,
            )
        ),
    }


def in_scope(rows: set[tuple], npn: str, state: str) -> set[tuple]:
    return {row for row in rows if row[0] == npn and row[1] == state}


def materialization(result, key: str):
    events = [
        e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == key
    ]
    assert events, f"no materialization of {key}"
    return events[-1].materialization


def metadata_value(result, key: str, name: str):
    return materialization(result, key).metadata[name].value


def failure_text(result, node: str) -> str:
    failure = result.failure_data_for_node(node)
    described = getattr(failure.user_failure_data, "description", None) or ""
    return f"{failure.error.message if failure.error else ''} {described}"


def statuses(database) -> dict[str, str]:
    frame = database.read_table("producers", ["npn", "sync_status"])
    return dict(zip(frame.npn, frame.sync_status, strict=True))


# ------------------------------------------------------------------------------ initial sync


def test_initial_sync_fills_the_tables_and_sets_every_status(fresh):
    result = fresh.materialize([core_nipr__initial_sync])
    assert result.success
    expected = world_rows(fresh.sandbox.world, fresh.tracked, ONBOARDED)
    assert our_rows(fresh.database) == expected
    assert all(len(rows) for rows in expected.values())
    found = statuses(fresh.database)
    assert found.pop(UNKNOWN_NPN) == "Not Found"
    assert set(found.values()) == {"Success"}  # every sandbox producer keeps a license
    synced = fresh.database.read_table("producers", ["npn", "last_synced_at"])
    assert synced.last_synced_at.notna().all()
    # Names and email follow NIPR's demographics.
    people = fresh.database.read_table("producers").set_index("npn")
    first = fresh.sandbox.world.producer(fresh.tracked[0], as_of=ONBOARDED)
    if not first.is_firm:
        assert people.loc[first.npn, "last_name"] == first.last_name
    assert people.loc[UNKNOWN_NPN, "last_name"] == UNKNOWN_NPN  # not found: untouched
    assert (
        metadata_value(result, "core_nipr__initial_sync", "producers_attempted")
        == len(fresh.tracked) + 1
    )
    # Everyone is settled: the next run has nothing to do.
    again = fresh.materialize([core_nipr__initial_sync])
    assert metadata_value(again, "core_nipr__initial_sync", "producers_attempted") == 0


def test_initial_sync_retries_nipr_errors_on_the_next_run(fresh):
    target = fresh.tracked[0]
    with fresh.database.begin() as connection:
        connection.execute(
            producers.update().where(producers.c.npn != target).values(sync_status="Success")
        )
    fresh.sandbox.add_fault(target="entityinfo", kind="http_500", count=2)  # 1 + 1 retry
    failed = fresh.materialize([core_nipr__initial_sync], raise_on_error=False)
    assert not failed.success  # every producer attempted failed: the run says so
    assert f"Entity Info for NPN {target}" in failure_text(failed, "core_nipr__initial_sync")
    assert statuses(fresh.database)[target] == "NIPR Error"
    assert fresh.database.count_rows(["licenses"])["licenses"] == 0
    retried = fresh.materialize([core_nipr__initial_sync])
    assert retried.success
    assert statuses(fresh.database)[target] == "Success"
    assert fresh.database.count_rows(["licenses"])["licenses"] > 0


def test_initial_sync_of_named_npns_syncs_them_whatever_their_status(fresh):
    """Config `npns` (`npnflow sync now NPN...`): only those producers, a synced one again."""
    first, second = fresh.tracked[:2]
    config = {"ops": {"core_nipr__initial_sync": {"config": {"npns": ["00" + first, "404"]}}}}
    result = fresh.materialize([core_nipr__initial_sync], run_config=config)
    assert result.success
    found = statuses(fresh.database)
    assert found[first] == "Success"  # read as NIPR writes it: leading zeros stripped
    assert {found[n] for n in fresh.tracked[1:]} == {"Not Started"}  # the others wait
    assert metadata_value(result, "core_nipr__initial_sync", "producers_attempted") == 1
    before = fresh.database.read_table("producers").set_index("npn").at[first, "last_synced_at"]
    fresh.sandbox.set_clock(SATURDAY)
    config["ops"]["core_nipr__initial_sync"]["config"]["npns"] = [first, second]
    again = fresh.materialize([core_nipr__initial_sync], run_config=config)
    assert metadata_value(again, "core_nipr__initial_sync", "producers_attempted") == 2
    synced = fresh.database.read_table("producers").set_index("npn")
    assert synced.at[first, "last_synced_at"] > before  # refreshed, though already Success
    assert synced.at[second, "sync_status"] == "Success"
    expected = world_rows(fresh.sandbox.world, [first, second], SATURDAY)
    assert our_rows(fresh.database) == expected


# ------------------------------------------------------------------------------ subscriptions


def test_subscriptions_track_synced_producers_and_drop_offboarded_ones(fresh):
    result = fresh.sync_new_producers()
    assert fresh.nipr.list_subscriptions() == ["npnflow-0001"]
    assert sorted(fresh.nipr.list_targets("npnflow-0001")) == sorted(fresh.tracked)
    assert metadata_value(result, "core_nipr__subscriptions", "targets_added") == len(fresh.tracked)
    ledger = fresh.database.read_table("nipr_subscriptions").set_index("npn")
    assert sorted(ledger.index) == sorted(fresh.tracked)  # Not Found: never a target
    assert ledger.removed_at.isna().all()

    offboarded = fresh.tracked[1]
    with fresh.database.begin() as connection:
        connection.execute(
            producers.update().where(producers.c.npn == offboarded).values(is_active=False)
        )
    result = fresh.materialize([core_nipr__subscriptions])
    assert result.success
    assert offboarded not in fresh.nipr.list_targets("npnflow-0001")
    assert metadata_value(result, "core_nipr__subscriptions", "targets_removed") == 1
    ledger = fresh.database.read_table("nipr_subscriptions").set_index("npn")
    assert pd.notna(ledger.loc[offboarded, "removed_at"])

    # An NPN NIPR refuses as a target is recorded with NIPR's reason and shown.
    with fresh.database.begin() as connection:
        connection.execute(
            producers.update().where(producers.c.npn == UNKNOWN_NPN).values(sync_status="Success")
        )
    refused = fresh.materialize([core_nipr__subscriptions])
    assert metadata_value(refused, "core_nipr__subscriptions", "targets_refused_now") == 1
    assert UNKNOWN_NPN in metadata_value(refused, "core_nipr__subscriptions", "refused_targets")
    ledger = fresh.database.read_table("nipr_subscriptions").set_index("npn")
    assert ledger.loc[UNKNOWN_NPN, "invalid_reason"]

    # Idempotent: NIPR already matches, nothing is added, removed or offered again.
    again = fresh.materialize([core_nipr__subscriptions])
    assert metadata_value(again, "core_nipr__subscriptions", "targets_refused_now") == 0
    assert metadata_value(again, "core_nipr__subscriptions", "targets_added") == 0
    assert metadata_value(again, "core_nipr__subscriptions", "targets_removed") == 0
    assert metadata_value(again, "core_nipr__subscriptions", "subscriptions_created") == "none"


# ------------------------------------------------------------------------------ daily reports


def test_a_day_applies_nipr_changes_including_deletions(sync):
    world = sync.sandbox.world
    changes = world.changes_on(SATURDAY, sync.tracked)
    assert changes, "the sandbox's change model changes someone every run day"
    # A target we do not track (added by hand at NIPR) that changes that day too.
    strangers = [c.npn for c in world.changes_on(SATURDAY) if c.npn not in sync.tracked]
    stranger = (
        strangers[0]
        if strangers
        else next(n for n in world.individual_npns() if n not in sync.tracked)
    )
    sync.nipr.add_targets("npnflow-0001", [stranger])
    before = our_rows(sync.database)

    sync.at(SATURDAY)
    result = sync.daily(SATURDAY)
    assert result.success
    after = our_rows(sync.database)
    expected = world_rows(world, sync.tracked, SATURDAY)
    table_of = {"LICENSING": ("licenses", "license_loas"), "APPOINTMENTS": ("appointments",)}
    for change in changes:
        for table in table_of.get(change.category, ()):
            assert in_scope(after[table], change.npn, change.state) == in_scope(
                expected[table], change.npn, change.state
            ), (change, table)
    # Everything else stayed, and the whole picture is now NIPR's as of that day.
    assert after == expected
    assert after != before
    assert materialization(result, "core_nipr__licenses").metadata["scopes_changed"].value > 0
    if strangers:
        assert metadata_value(result, "core_nipr__producers", "untracked_npns_ignored") == 1
    assert stranger not in {row[0] for row in after["licenses"]}
    # The raw reply is kept for re-parsing, and the day is recorded as applied.
    assert sync.store.exists(raw_object_key(SATURDAY))
    day = sync.database.read_table("nipr_report_days").set_index("report_date")
    assert day.loc[SATURDAY, "status"] == "applied"


def test_a_report_sent_inline_as_base64_applies_like_an_attachment(sync, monkeypatch):
    # NIPR's WSDL types alertsReport as base64Binary: the report may be text in the envelope.
    monkeypatch.setattr(sync.sandbox.alerts, "inline_reports", True)
    sync.at(SATURDAY)
    result = sync.daily(SATURDAY)
    assert result.success
    stored = sync.store.get_bytes(raw_object_key(SATURDAY))
    assert b"xop:Include" not in stored and b"alertsReport>" in stored  # kept as NIPR sent it
    assert our_rows(sync.database) == world_rows(sync.sandbox.world, sync.tracked, SATURDAY)


def test_deletions_in_a_report_remove_rows(sync):
    world = sync.sandbox.world
    deletions = [
        (day, c)
        for day in ALERT_DAYS
        for c in world.changes_on(day, sync.tracked)
        if c.kind in ("licenses_deleted", "appointments_deleted")
    ]
    assert deletions, "the chosen days must include a deletion"
    for day in ALERT_DAYS:
        sync.at(day)
        assert sync.daily(day).success
    rows = our_rows(sync.database)
    for _day, change in deletions:
        table = "licenses" if change.kind == "licenses_deleted" else "appointments"
        assert not in_scope(rows[table], change.npn, change.state), change
    assert rows == world_rows(world, sync.tracked, TUESDAY)


def test_rematerializing_a_day_changes_nothing(sync):
    sync.at(SATURDAY)
    assert sync.daily(SATURDAY).success
    first = sync.tables()
    again = sync.daily(SATURDAY)
    assert again.success
    assert metadata_value(again, "raw_nipr__pdb_alerts", "days_reused_from_store") == 1
    assert metadata_value(again, "core_nipr__licenses", "scopes_changed") == 0
    second = sync.tables()
    for table in TABLES:
        pd.testing.assert_frame_equal(first[table], second[table])


def test_an_older_day_after_a_newer_one_changes_nothing(sync):
    world = sync.sandbox.world
    both = {(c.npn, c.state) for c in world.changes_on(MONDAY, sync.tracked)} & {
        (c.npn, c.state) for c in world.changes_on(TUESDAY, sync.tracked)
    }
    assert both, "Monday and Tuesday must share a changed (npn, state) for this test"
    sync.at(MONDAY)
    assert sync.daily(MONDAY).success
    sync.at(TUESDAY)
    assert sync.daily(TUESDAY).success
    newest = sync.tables()
    # Monday again, from its stored reply: its data is older than Tuesday's for those scopes.
    older = sync.daily(MONDAY)
    assert older.success
    assert metadata_value(older, "core_nipr__licenses", "scopes_skipped_as_older") >= len(both)
    for table in TABLES:
        pd.testing.assert_frame_equal(newest[table], sync.tables()[table])


def test_a_backfill_of_several_days_runs_once_in_date_order(sync):
    sync.at(TUESDAY)
    result = sync.materialize(
        [raw_nipr__pdb_alerts, core_nipr__current_state],
        tags={
            "dagster/asset_partition_range_start": SATURDAY.isoformat(),
            "dagster/asset_partition_range_end": TUESDAY.isoformat(),
        },
    )
    assert result.success
    days = sync.database.read_table("nipr_report_days").set_index("report_date")
    assert days.status.to_dict() == {
        SATURDAY: "applied",
        SUNDAY: "no_run_today",
        MONDAY: "applied",
        TUESDAY: "applied",
    }
    applied = days[days.status == "applied"].sort_values("applied_at")
    assert list(applied.index) == [SATURDAY, MONDAY, TUESDAY]  # oldest first
    assert our_rows(sync.database) == world_rows(sync.sandbox.world, sync.tracked, TUESDAY)
    raw = materialization(result, "raw_nipr__pdb_alerts")
    assert raw.metadata["days_fetched_from_nipr"].value == 4
    assert raw.metadata["days_without_alerts_run"].value == 1
    # One run materialized every partition of the range.
    partitions = {
        e.partition
        for e in result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == "core_nipr__licenses"
    }
    assert partitions == {d.isoformat() for d in (SATURDAY, SUNDAY, MONDAY, TUESDAY)}


def test_a_sunday_materializes_as_no_run_today(sync):
    sync.at(MONDAY)
    before = sync.tables()
    result = sync.daily(SUNDAY)
    assert result.success
    assert metadata_value(result, "raw_nipr__pdb_alerts", "status") == "no_run_today"
    assert not sync.store.exists(raw_object_key(SUNDAY))
    with sync.database.begin() as connection:
        status = connection.execute(
            sa.text("SELECT status FROM nipr_report_days WHERE report_date = :day"),
            {"day": SUNDAY.isoformat()},
        ).scalar_one()
    assert status == "no_run_today"
    for table in TABLES:
        pd.testing.assert_frame_equal(before[table], sync.tables()[table])


def test_applying_a_day_that_was_never_fetched_fails_and_changes_nothing(fresh):
    result = fresh.materialize(
        [core_nipr__current_state], partition_key=MONDAY.isoformat(), raise_on_error=False
    )
    assert not result.success
    message = failure_text(result, "core_nipr__current_state")
    assert "raw_nipr__pdb_alerts" in message and MONDAY.isoformat() in message


# ------------------------------------------------------------------------------ streaming


class _RecordingReader:
    """A stored object's reader that records each read: (bytes asked, bytes returned)."""

    def __init__(self, handle, reads: list[tuple[int, int]]) -> None:
        self._handle = handle
        self._reads = reads

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self._reads.append((size, len(data)))
        return data

    def __getattr__(self, name):
        return getattr(self._handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self._handle.close()


def _refuse_whole(*args, **kwargs):
    raise AssertionError("the daily sync held a PDB Alerts reply whole (a whole-bytes call)")


def test_the_daily_sync_streams_the_alerts_reply_and_never_reads_it_whole(sync, monkeypatch):
    """NIPR -> temporary file -> object store (put_stream) -> reader (open_reader) -> parser:
    none of the whole-bytes calls is made, and the stored reply is read back in pieces."""
    monkeypatch.setattr(NiprClient, "fetch_alerts_report", _refuse_whole)
    monkeypatch.setattr(LocalFolderObjectStore, "get_bytes", _refuse_whole)
    monkeypatch.setattr(LocalFolderObjectStore, "put_bytes", _refuse_whole)
    reads: list[tuple[int, int]] = []
    open_reader = LocalFolderObjectStore.open_reader
    monkeypatch.setattr(
        LocalFolderObjectStore,
        "open_reader",
        lambda store, key: _RecordingReader(open_reader(store, key), reads),
    )
    sync.at(SATURDAY)

    result = sync.daily(SATURDAY)

    assert result.success
    stored = list(sync.store.list_objects("nipr/"))
    assert [o.key for o in stored] == [raw_object_key(SATURDAY)]
    assert metadata_value(result, "raw_nipr__pdb_alerts", "bytes") == stored[0].size > 0
    assert metadata_value(result, "core_nipr__licenses", "scopes_applied") > 0
    # Every read asks for a bounded piece; the one unbounded read is the MTOM reader's look at
    # the closing delimiter in the last 512 bytes (after a seek), never the whole reply.
    assert reads and sum(got for _, got in reads) >= stored[0].size
    assert all(0 < asked <= STREAM_CHUNK_BYTES or got <= 512 for asked, got in reads), reads


def test_fetching_a_large_alerts_reply_holds_none_of_it_in_memory(sync):
    """A 24 MB reply goes from the client's sink to the object store while the memory the
    fetch allocates stays a small fraction of it: holding the reply whole would need 24 MB."""
    total, chunk = 24 * 1024 * 1024, 64 * 1024
    block = bytes(range(256)) * (chunk // 256)
    digest = hashlib.md5()
    for _ in range(total // chunk):
        digest.update(block)

    class LargeReplyClient:
        def fetch_alerts_report_to(self, day, sink, subscription=None):
            for _ in range(total // chunk):
                sink.write(block)
            return AlertsReportReceipt("ready", "multipart/related", day, subscription, total)

        fetch_alerts_report = _refuse_whole

    context = dg.build_asset_context()
    tracemalloc.start()
    try:
        fetched = fetch_day(
            context,
            PdbAlertsFetchConfig(),
            sync.database,
            sync.store,
            LargeReplyClient(),
            SATURDAY,
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert (fetched.status, fetched.size) == ("fetched", total)
    [stored] = sync.store.list_objects("nipr/")
    assert (stored.size, stored.etag) == (total, digest.hexdigest())
    assert peak < total // 6, f"the fetch allocated {peak:,} bytes for a {total:,}-byte reply"
