"""A step that meets a transient database error runs again after a backoff; any other error
fails it at once (assets/retries.py).

The real appointment step on a SQLite file, with a busy timeout of 0.2 s and the policy's
delays shrunk: another connection holds the database's write lock for longer than the busy
timeout, then lets go. Issue 13, item 10: such a lock used to fail the step for good.
"""

from __future__ import annotations

import sqlite3
import threading
import time

import dagster as dg
import pytest

from assets.appointments.assets import APPOINTMENT_ASSETS
from resources.database import OperationalDatabase
from support.waiting import scaled

APPOINT_FILE = (
    b"NPN,States,CoCode,LOA Category,Agent Type,Submit\r\n2000002,TX,91234,Life,Producer,TRUE\r\n"
)
KEY = "inbox/appoint/requests.csv"


@pytest.fixture(scope="module")
def template_db(tmp_path_factory, seeded_database):
    return seeded_database(tmp_path_factory.mktemp("template") / "npnflow.db", {})


@pytest.fixture
def processed_upload(make_pipeline, template_db, monkeypatch):
    """An appoint upload through the upload steps (validated, request rows stored), the
    appointment step not yet run, and retries a few tenths of a second apart."""
    monkeypatch.setattr(
        "assets.retries.TRANSIENT_DATABASE_RETRY_POLICY",
        dg.RetryPolicy(max_retries=8, delay=0.3),
    )
    pipeline = make_pipeline(template_db, [])
    upload_id, _ = pipeline.drop_and_process(KEY, APPOINT_FILE, "appoint")
    return pipeline, upload_id


def _materialize_appointments(pipeline, upload_id: str) -> dg.ExecuteInProcessResult:
    impatient = OperationalDatabase(url=pipeline.database.url, sqlite_busy_timeout_seconds=0.2)
    return dg.materialize(
        APPOINTMENT_ASSETS,
        partition_key=upload_id,
        instance=pipeline.instance,
        resources={**pipeline.resources, "database": impatient},
        raise_on_error=False,
    )


def _retries(result: dg.ExecuteInProcessResult) -> list[dg.DagsterEvent]:
    return [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]


def _retry_events(instance: dg.DagsterInstance) -> list:
    return [
        record
        for run in instance.get_runs()
        for record in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY)
    ]


def _database_file(pipeline) -> str:
    return pipeline.database.engine.url.database


def test_a_write_lock_held_past_the_busy_timeout_is_waited_out(processed_upload):
    pipeline, upload_id = processed_upload
    holder = sqlite3.connect(_database_file(pipeline), check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # the write lock, as another process's long transaction

    def release_after_the_first_failure() -> None:
        # Held until the step has failed on it at least once (however slowly the run starts),
        # then a little longer, so the first retry may well find it still taken.
        deadline = time.monotonic() + scaled(60)
        while not _retry_events(pipeline.instance) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.4)
        holder.rollback()
        holder.close()

    release = threading.Thread(target=release_after_the_first_failure)
    release.start()
    try:
        result = _materialize_appointments(pipeline, upload_id)
    finally:
        release.join()

    assert result.success
    assert _retries(result), "the lock was held past the busy timeout: the step must have retried"
    warnings = [
        entry.user_message
        for entry in pipeline.instance.all_logs(result.run_id)
        if "The database was busy or unreachable" in entry.user_message
    ]
    assert warnings and "(database is locked)" in warnings[0]
    assert warnings[0].endswith("(retry 1 of 8).")
    # The step's work is there once: the one request, rejected for an unknown producer.
    rejections = pipeline.table("request_rejections")
    assert list(rejections["eligibility_reason"]) == ["Producer Not Found"]


def test_a_permanent_database_error_is_not_retried(processed_upload):
    pipeline, upload_id = processed_upload
    with sqlite3.connect(_database_file(pipeline)) as broken:
        broken.execute("DROP TABLE request_rejections")

    result = _materialize_appointments(pipeline, upload_id)

    assert not result.success
    assert _retries(result) == []
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert "no such table: request_rejections" in failure.event_specific_data.error.to_string()
