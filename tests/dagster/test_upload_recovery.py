"""A crash between an upload's steps loses nothing (issue 13, item 5).

A run killed after `core_uploads__processed` committed leaves the upload `Processed` with no
transactions and no `completed_at`. Before migration 0006 nothing asked for the missing step
again, and dropping the file again was refused as `Duplicate`. Now:
- dropping the same content again (any name) continues the unfinished upload: its steps run
  for the first upload, once, and the new drop is recorded as `Duplicate` of it;
- `unfinished_uploads_sensor` requests the partition again by itself once it has been quiet;

The kill is made exact by materializing only the first steps of the job, which is what a run
killed at that point has committed.
"""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg
import pytest
import sqlalchemy as sa

from assets.appointments.assets import APPOINTMENT_ASSETS
from assets.keys import UPLOADS_PARTITIONS
from assets.uploads.assets import UPLOAD_ASSETS
from assets.uploads.continuation import Unfinished, plan_continuations
from assets.uploads.inbox import partition_key_for
from assets.uploads.ledger import run_tags
from schemas import statuses
from schemas.tables import uploads

from .test_appointment_assets import NPN, template_db  # noqa: F401  (the module's template)

NOW_FILE = "\r\n".join(
    [
        "NPN,States,CoCode,LOA Category,Agent Type,Submit,Submit Just In Time",
        f"{NPN},TX,91234,Life,Producer,TRUE,TRUE",
        f"{NPN},CA,91234,Life,Producer,TRUE,TRUE",
        "",
    ]
).encode()


@pytest.fixture
def pipeline(make_pipeline, template_db):  # noqa: F811
    return make_pipeline(template_db, APPOINTMENT_ASSETS)


def _crash_after_validation(pipeline, key: str, data: bytes) -> str:
    """What a run killed right after `core_uploads__processed` committed leaves behind."""
    stored = pipeline.store.put_bytes(key, data)
    partition = partition_key_for(key, stored.etag)
    pipeline.instance.add_dynamic_partitions(UPLOADS_PARTITIONS.name, [partition])
    result = dg.materialize(
        UPLOAD_ASSETS,
        partition_key=partition,
        instance=pipeline.instance,
        resources=pipeline.resources,
        tags=run_tags(key, stored.etag, "appoint"),
    )
    assert result.success
    return partition


def _upload(pipeline, upload_id: str) -> dict:
    rows = pipeline.table("uploads").set_index("upload_id")
    return rows.loc[upload_id].to_dict()


def _open_lines(pipeline) -> list[tuple]:
    t = pipeline.table("transactions")
    t = t[t["status"].isin(sorted(statuses.OPEN_TRANSACTION_STATUSES))]
    return sorted(zip(t["upload_id"], t["state_code"], t["loa_code"], strict=True))


def test_dropping_the_same_file_again_continues_an_upload_cut_short(pipeline):
    first = _crash_after_validation(pipeline, "inbox/appoint/now.csv", NOW_FILE)
    cut_short = _upload(pipeline, first)
    assert cut_short["status"] == "Processed" and cut_short["completed_at"] is None
    assert pipeline.table("transactions").empty

    again, result = pipeline.drop_and_process("inbox/appoint/now (1).csv", NOW_FILE, "appoint")

    # The first upload's steps ran, for the first upload, once.
    assert _open_lines(pipeline) == [(first, "CA", "16"), (first, "TX", "825")]
    assert _upload(pipeline, first)["completed_at"] is not None
    copy = _upload(pipeline, again)
    assert copy["status"] == "Duplicate" and copy["duplicate_of"] == first
    assert "did not finish" in copy["error_message"] and "continues" in copy["error_message"]
    batches = pipeline.table("transaction_batches")
    assert set(batches["upload_id"]) == {first}

    # A third drop of the same bytes: the first upload is finished, so nothing at all happens.
    third, _ = pipeline.drop_and_process("inbox/appoint/now (2).csv", NOW_FILE, "appoint")
    assert _upload(pipeline, third)["status"] == "Duplicate"
    assert "already processed" in _upload(pipeline, third)["error_message"]
    assert _open_lines(pipeline) == [(first, "CA", "16"), (first, "TX", "825")]
    assert len(pipeline.table("transaction_batches")) == len(batches)


def test_running_the_cut_short_partition_again_finishes_it(pipeline):
    first = _crash_after_validation(pipeline, "inbox/appoint/now.csv", NOW_FILE)
    result = dg.materialize(
        pipeline.assets,
        partition_key=first,
        instance=pipeline.instance,
        resources=pipeline.resources,
    )
    assert result.success
    assert _open_lines(pipeline) == [(first, "CA", "16"), (first, "TX", "825")]
    assert _upload(pipeline, first)["completed_at"] is not None


def test_the_sensor_requests_an_unfinished_upload_once_it_is_quiet(pipeline):
    first = _crash_after_validation(pipeline, "inbox/appoint/now.csv", NOW_FILE)
    result = pipeline.sensor_tick("unfinished_uploads_sensor")
    assert not result.run_requests  # just received: its own run may still be on its way

    an_hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    with pipeline.database.begin() as connection:
        connection.execute(
            sa.update(uploads).where(uploads.c.upload_id == first).values(received_at=an_hour_ago)
        )
    result = pipeline.sensor_tick("unfinished_uploads_sensor")
    assert [(r.partition_key, r.run_key) for r in result.run_requests] == [
        (first, f"{first}:continue:1")
    ]


def test_dropping_the_file_again_under_the_same_name_asks_for_the_missing_steps_at_once(
    pipeline,
):
    """The same bytes under the same name are the same partition, which the inbox sensor
    requests once: the unfinished-uploads sensor sees the new write and asks at once."""
    first = _crash_after_validation(pipeline, "inbox/appoint/now.csv", NOW_FILE)
    assert not pipeline.sensor_tick("unfinished_uploads_sensor").run_requests

    pipeline.store.put_bytes("inbox/appoint/now.csv", NOW_FILE)  # `npnflow drop` again
    result = pipeline.sensor_tick("unfinished_uploads_sensor")
    [request] = result.run_requests
    assert (request.partition_key, request.run_key) == (first, f"{first}:continue:1")

    continued = dg.materialize(
        pipeline.assets,
        partition_key=request.partition_key,
        instance=pipeline.instance,
        resources=pipeline.resources,
        tags=request.tags,
    )
    assert continued.success
    assert _open_lines(pipeline) == [(first, "CA", "16"), (first, "TX", "825")]
    assert _upload(pipeline, first)["completed_at"] is not None


def test_continuations_wait_for_quiet_skip_busy_partitions_and_give_up_after_three():
    now = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)
    old = Unfinished("a", now - dt.timedelta(hours=1))
    fresh = Unfinished("b", now - dt.timedelta(minutes=1))
    busy = Unfinished("c", now - dt.timedelta(hours=1))

    tick = plan_continuations([old, fresh, busy], {"c"}, None, now)
    assert tick.requests == [("a", "a:continue:1")]
    # Right after a request, the next tick waits for the run instead of asking again.
    assert plan_continuations([old], set(), tick.cursor, now).requests == []
    cursor = tick.cursor
    for attempt in (2, 3):
        now += dt.timedelta(minutes=11)
        tick = plan_continuations([old], set(), cursor, now)
        assert tick.requests == [("a", f"a:continue:{attempt}")]
        cursor = tick.cursor
    now += dt.timedelta(minutes=11)
    tick = plan_continuations([old], set(), cursor, now)
    assert tick.requests == [] and tick.given_up == ["a"]
    # A finished upload leaves the cursor.
    assert json.loads(plan_continuations([], set(), tick.cursor, now).cursor) == {"uploads": {}}
    # A drop of the file again since the last attempt is asked for at once, quiet or not.
    redropped = Unfinished("d", now - dt.timedelta(minutes=1), now - dt.timedelta(seconds=5))
    assert plan_continuations([redropped], set(), None, now).requests == [("d", "d:continue:1")]
    stale = Unfinished("e", now - dt.timedelta(minutes=1), now - dt.timedelta(minutes=2))
    assert plan_continuations([stale], set(), None, now).requests == []
    # An unreadable cursor starts afresh rather than failing the sensor.
    assert plan_continuations([old], set(), "not json", now).requests == [("a", "a:continue:1")]
