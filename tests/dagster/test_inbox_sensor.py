"""`inbox_file_sensor` and `onboarded_producers_sensor` through `build_sensor_context`.

The inbox sensor lists a real `LocalFolderObjectStore`; a dropped agent file then goes all the
way through the run the sensor requested: producers in the database and an error report
beside the file.
"""

from __future__ import annotations

import json
import os
import shutil
import time

import dagster as dg
import pytest

from assets.keys import TAG_ETAG, TAG_KIND, TAG_OBJECT_KEY, UPLOADS_PARTITIONS
from assets.uploads.assets import UPLOAD_ASSETS
from assets.uploads.inbox import MAX_CURSOR_BYTES, partition_key_for
from pipelines.definitions import build_definitions
from pipelines.sensors import SensorConfigError, build_sensors
from resources.database import OperationalDatabase
from resources.object_store import LocalFolderObjectStore
from resources.ssn import SsnVault
from support.seed import seeded_database

AGENT_FILE = (
    b"Agency NPN,First Name,Last Name,Agent NPN,Agent Email,Agent SSN\r\n"
    b"9000001,Ann,Lee,10000001,ann@example.com,\r\n"
    b",,,,,\r\n"
    b"9000001,Bob,Ray,12A45,bob@example.com,\r\n"
)


def _sensor(name: str) -> dg.SensorDefinition:
    return next(s for s in build_sensors("local") if s.name == name)


@pytest.fixture
def store(tmp_path) -> LocalFolderObjectStore:
    return LocalFolderObjectStore(root=str(tmp_path / "bucket"))


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def _tick(instance, store, cursor=None):
    defs = build_definitions("local")
    context = dg.build_sensor_context(
        instance=instance,
        instance_ref=instance.get_ref(),
        cursor=cursor,
        resources={"object_store": store},
        definitions=defs,
    )
    return defs.resolve_sensor_def("inbox_file_sensor").evaluate_tick(context)


def test_new_files_get_a_partition_and_a_run_each(instance, store):
    a = store.put_bytes("inbox/agent/a.csv", b"one")
    b = store.put_bytes("inbox/appoint/b.csv", b"two")
    store.put_bytes("inbox/agent/a.csv.errors.csv", b"report")  # our own report: never a run
    store.put_bytes("inbox/agent/.partial", b"hidden")
    store.put_bytes("nipr/pdb_alerts/2026-03-10.mtom", b"not an upload")
    tick = _tick(instance, store)

    assert [r.run_key for r in tick.run_requests] == [
        f"inbox/agent/a.csv:{a.etag}",
        f"inbox/appoint/b.csv:{b.etag}",
    ]
    expected = [partition_key_for(a.key, a.etag), partition_key_for(b.key, b.etag)]
    assert [r.partition_key for r in tick.run_requests] == expected
    first = tick.run_requests[0]
    assert first.tags[TAG_OBJECT_KEY] == "inbox/agent/a.csv"
    assert first.tags[TAG_ETAG] == a.etag
    assert first.tags[TAG_KIND] == "agent"
    [request] = tick.dynamic_partitions_requests
    assert request.partitions_def_name == UPLOADS_PARTITIONS.name
    assert list(request.partition_keys) == expected
    cursor = json.loads(tick.cursor)
    assert cursor["v"] == 1 and len(tick.cursor.encode()) <= MAX_CURSOR_BYTES


def test_an_unchanged_file_is_not_requested_again_and_a_changed_one_is(instance, store):
    store.put_bytes("inbox/agent/a.csv", b"one")
    first = _tick(instance, store)
    assert len(first.run_requests) == 1
    again = _tick(instance, store, first.cursor)
    assert again.run_requests == [] and not again.dynamic_partitions_requests
    assert "No new file" in (again.skip_message or "")

    changed = store.put_bytes("inbox/agent/a.csv", b"one, corrected")
    third = _tick(instance, store, again.cursor)
    assert [r.run_key for r in third.run_requests] == [f"inbox/agent/a.csv:{changed.etag}"]
    assert third.run_requests[0].partition_key != first.run_requests[0].partition_key


def test_a_file_already_processed_is_not_requested_again_without_the_cursor(instance, store):
    """The demo runs the sensor's requests in process, and a sensor switched on afterwards in
    the UI starts with no cursor: files whose partition exists are not processed again."""
    store.put_bytes("inbox/agent/a.csv", b"one")
    first = _tick(instance, store)
    assert len(first.run_requests) == 1
    # Evaluating the tick wrote nothing: the partition is added by whoever acts on the tick.
    assert instance.get_dynamic_partitions(UPLOADS_PARTITIONS.name) == []
    instance.add_dynamic_partitions(UPLOADS_PARTITIONS.name, [first.run_requests[0].partition_key])
    new = store.put_bytes("inbox/appoint/b.csv", b"two")

    fresh = _tick(instance, store, cursor=None)

    assert [r.run_key for r in fresh.run_requests] == [f"inbox/appoint/b.csv:{new.etag}"]
    only_old = _tick(instance, store, cursor=None)
    instance.add_dynamic_partitions(
        UPLOADS_PARTITIONS.name, [only_old.run_requests[0].partition_key]
    )
    none_left = _tick(instance, store, cursor=None)
    assert none_left.run_requests == []
    assert "2 already processed" in (none_left.skip_message or "")


def test_work_per_tick_is_capped_and_the_cursor_stays_small(instance, store):
    for i in range(250):
        store.put_bytes(f"inbox/agent/file-{i:04d}.csv", f"{i}".encode())
    seen: set[str] = set()
    cursor = None
    for _ in range(5):
        tick = _tick(instance, store, cursor)
        assert len(tick.run_requests) <= 100
        seen.update(r.run_key for r in tick.run_requests)
        cursor = tick.cursor
        assert len(cursor.encode()) <= MAX_CURSOR_BYTES
    assert len(seen) == 250


def test_the_sensor_is_on_by_itself_only_in_production():
    local = {s.name: s for s in build_sensors("local")}
    prod = {s.name: s for s in build_sensors("prod")}
    assert local["inbox_file_sensor"].default_status == dg.DefaultSensorStatus.STOPPED
    assert prod["inbox_file_sensor"].default_status == dg.DefaultSensorStatus.RUNNING
    assert prod["inbox_file_sensor"].minimum_interval_seconds == 30
    assert prod["inbox_file_sensor"].job_name == "process_upload_job"
    assert prod["onboarded_producers_sensor"].job_name == "sync_new_producers_job"


def test_npnflow_sensors_running_starts_the_named_sensors_outside_production():
    named = "inbox_file_sensor, approved_batch_sensor"
    local = {s.name: s for s in build_sensors("local", {"NPNFLOW_SENSORS_RUNNING": named})}
    running = {n for n, s in local.items() if s.default_status == dg.DefaultSensorStatus.RUNNING}
    assert running == {"inbox_file_sensor", "approved_batch_sensor"}
    with pytest.raises(SensorConfigError, match="names no sensor inbox_sensor; the sensors are"):
        build_sensors("local", {"NPNFLOW_SENSORS_RUNNING": "inbox_sensor"})


@pytest.fixture
def database(tmp_path) -> OperationalDatabase:
    return seeded_database(f"sqlite:///{tmp_path / 'npnflow.db'}")


def test_a_dropped_file_goes_through_the_sensor_to_producers_and_a_report(
    instance, store, database, tmp_path
):
    # Dropped as a person would: copied into the folder, not written through the store.
    source = tmp_path / "roster.csv"
    source.write_bytes(AGENT_FILE)
    inbox = tmp_path / "bucket" / "inbox" / "agent"
    inbox.mkdir(parents=True)
    shutil.copy(source, inbox / "roster.csv")
    old = time.time() - 3600
    os.utime(inbox / "roster.csv", (old, old))  # an old mtime (cp -p) still reads as new

    tick = _tick(instance, store)
    [run] = tick.run_requests
    for request in tick.dynamic_partitions_requests:  # what the daemon does with them
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    result = dg.materialize(
        UPLOAD_ASSETS,
        partition_key=run.partition_key,
        instance=instance,
        tags=run.tags,
        resources={"database": database, "object_store": store, "ssn_vault": SsnVault()},
    )
    assert result.success
    assert list(database.read_table("producers").npn) == ["10000001"]
    report = store.get_bytes("inbox/agent/roster.csv.errors.csv").decode("utf-8-sig")
    assert report.splitlines()[1].startswith("4,")  # the spreadsheet row of 12A45

    # The report is not an upload, and the processed file is not requested again.
    assert _tick(instance, store, tick.cursor).run_requests == []

    # The onboarding left a producer Not Started: its NIPR sync is requested at once.
    defs = build_definitions("local")
    context = dg.build_sensor_context(instance=instance, definitions=defs)
    sync = defs.resolve_sensor_def("onboarded_producers_sensor").evaluate_tick(context)
    [request] = sync.run_requests
    assert request.run_key == f"onboarded:{result.run_id}"
    assert request.tags["npnflow/upload_id"] == run.partition_key
