"""Sensors: what starts a run when something happens. Built from the environment, like the
schedules: they run by themselves in `prod`, and are switched on in the UI elsewhere (or by
`NPNFLOW_SENSORS_RUNNING`, below, which `npnflow ui` sets).

- `inbox_file_sensor`: every 30 s, lists the bucket's `inbox/` from where its cursor stopped,
  asks `assets.uploads.inbox.plan_inbox_tick` which files are new or changed (work per tick is
  capped: a bucket of 10,000 files is a pass of a few cheap ticks), adds one `uploads` dynamic
  partition per file version and requests `process_upload_job` for it, with run key
  "{key}:{etag}" and the key, ETag and kind as run tags.
- `onboarded_producers_sensor`: when an agent upload's onboarding materializes with producers
  `Not Started`, requests `sync_new_producers_job`, so new producers get their Entity Info and
  join the PDB Alerts targets minutes after the file is dropped instead of at the next
  scheduled sync (`sync_new_producers_schedule` still catches anything left, e.g. while this
  sensor is off).
- `unfinished_uploads_sensor`: every 2 minutes, reads the uploads whose steps did not all
  commit (`uploads.completed_at` empty: a crash or a failure between steps) and, once one has
  been quiet for 10 minutes (at once when its file was dropped again under the same name) with
  no run of its partition queued or in progress, requests `process_upload_job` for its
  partition again (run key "{upload_id}:continue:{n}", at most 3
  times; `assets.uploads.continuation` decides). Every step continues where the last commit
  left it, so nothing is done twice.

- `approved_batch_sensor`: every 30 s, reads the batches in `Approved` (the query is
  `assets.batches.store.approved_batches`) and requests one `submit_batch_job` run per
  (batch_id, approval_version), that pair being the run key, after adding the batch's
  `batches` partition. A batch is submitted once per approval; approving it
  again (`npnflow batches retry`) is what asks for another run.
- `submitted_batches_poll_sensor`: every 15 minutes, for batches left `Submitted` (NIPR's
  answers pending state review), requests a polling run of the batch's partition, with the
  batch, its approval version and the hour in the run key: at most one poll per batch an hour.

- `compliance_reports_sensor`: when the daily sync has judged the Appointed lines again
  (`compliance__appointment_standing` materialized), requests `build_reports_job` for the two
  reports that read that judgement, `rpt_appointments_at_risk` and `rpt_sales_authorization`
  (run key "standing:{run_id}"), so a policy system reading them sees the morning's answer.
  Through the reports job, so its run queue keeps one dbt build at a time.

`NPNFLOW_SENSOR_INTERVAL_SECONDS` (optional, a whole number of seconds) replaces every sensor's
minimum interval, so a test or a demo driving a real `dagster-daemon` does not wait 30 s (or
15 minutes) per step. Unset, each sensor keeps its own interval; production leaves it unset.

`NPNFLOW_SENSORS_RUNNING` (optional, sensor names separated by commas) starts those sensors by
themselves outside `prod`, as production starts all of them: `npnflow ui` sets it for the local
instance so the README's walkthrough works without switching anything on. It is only a default:
a sensor switched off in the UI stays off (Dagster keeps that choice in the instance). Unset,
the sensors of `local` and `ci` wait to be switched on (the tests that drive a daemon choose).

Sensors decide, runs act: none writes the database or calls NIPR.
"""

import datetime as dt
import os
from collections.abc import Mapping
from typing import Any

import dagster as dg

from assets.batches.store import approved_batches, submitted_batches
from assets.keys import (
    APPOINTMENT_STANDING_KEY,
    BATCH_PARTITIONS,
    ONBOARDING_KEY,
    TAG_CONTINUES,
    UPLOADS_PARTITIONS,
    batch_run_tags,
)
from assets.uploads import store as upload_store
from assets.uploads.continuation import Unfinished, plan_continuations
from assets.uploads.inbox import INBOX_PREFIX, listing_start_after, plan_inbox_tick
from assets.uploads.ledger import run_tags
from pipelines.jobs import (
    build_reports_job,
    process_upload_job,
    submit_batch_job,
    sync_new_producers_job,
)
from resources.database import OperationalDatabase
from resources.object_store import ObjectStore

INBOX_SENSOR_INTERVAL_SECONDS = 30
COMPLIANCE_REPORTS_SENSOR_INTERVAL_SECONDS = 30
#: The reports built from `appointment_standing` and `sales_authorization` (issue 18).
COMPLIANCE_REPORT_KEYS = (
    dg.AssetKey("rpt_appointments_at_risk"),
    dg.AssetKey("rpt_sales_authorization"),
)
ONBOARDED_SENSOR_INTERVAL_SECONDS = 30
APPROVED_SENSOR_INTERVAL_SECONDS = 30
POLL_SENSOR_INTERVAL_SECONDS = 15 * 60
UNFINISHED_SENSOR_INTERVAL_SECONDS = 120
MAX_UNFINISHED_PER_TICK = 200
# A run of these statuses is still going to work on its partition: no second one is requested.
_BUSY_RUN_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
MAX_BATCHES_PER_TICK = 200
SENSOR_INTERVAL_ENV = "NPNFLOW_SENSOR_INTERVAL_SECONDS"
SENSORS_RUNNING_ENV = "NPNFLOW_SENSORS_RUNNING"
SENSOR_NAMES = (
    "inbox_file_sensor",
    "onboarded_producers_sensor",
    "unfinished_uploads_sensor",
    "approved_batch_sensor",
    "submitted_batches_poll_sensor",
    "compliance_reports_sensor",
)


class SensorConfigError(ValueError):
    pass


def interval_override(environ: Mapping[str, str]) -> int | None:
    """Every sensor's minimum interval from `NPNFLOW_SENSOR_INTERVAL_SECONDS`; None when unset."""
    value = (environ.get(SENSOR_INTERVAL_ENV) or "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise SensorConfigError(
            f"{SENSOR_INTERVAL_ENV}={value!r} is not a whole number of seconds (1 or more)"
        )
    return int(value)


def sensors_running_by_default(environ: Mapping[str, str]) -> frozenset[str]:
    """The sensors `NPNFLOW_SENSORS_RUNNING` names; an unknown name fails the code location's
    load, saying the names there are."""
    value = environ.get(SENSORS_RUNNING_ENV) or ""
    names = frozenset(name.strip() for name in value.split(",") if name.strip())
    unknown = sorted(names - set(SENSOR_NAMES))
    if unknown:
        raise SensorConfigError(
            f"{SENSORS_RUNNING_ENV} names no sensor {', '.join(unknown)}; the sensors are "
            f"{', '.join(SENSOR_NAMES)}"
        )
    return names


def evaluate_inbox(
    context: dg.SensorEvaluationContext, object_store: ObjectStore
) -> dg.SensorResult:
    """One tick of `inbox_file_sensor` (the listing is lazy: the planner takes what it needs).

    A file version whose `uploads` partition exists was requested before, by this sensor or by
    the demo, which runs the same request in process (so Dagster's run-key check cannot see
    it): it is not requested again, whatever the cursor says. Reading the instance's partitions
    is a read: the sensor still writes nothing."""
    objects = object_store.list_objects(
        prefix=INBOX_PREFIX, start_after=listing_start_after(context.cursor)
    )
    known = context.instance.get_dynamic_partitions(str(UPLOADS_PARTITIONS.name))
    tick = plan_inbox_tick(objects, context.cursor, known_partitions=frozenset(known))
    run_requests = [
        dg.RunRequest(
            run_key=f.run_key,
            partition_key=f.partition_key,
            tags=run_tags(f.key, f.etag, f.kind),
        )
        for f in tick.new_files
    ]
    partitions = [f.partition_key for f in tick.new_files]
    return dg.SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=(
            [UPLOADS_PARTITIONS.build_add_request(partitions)] if partitions else []
        ),
        cursor=tick.cursor,
        skip_reason=(
            None
            if run_requests
            else f"No new file in {INBOX_PREFIX} ({tick.listed} object(s) looked at this tick"
            + (f", {tick.already_processed} already processed" if tick.already_processed else "")
            + ")"
        ),
    )


def busy_upload_partitions(instance: dg.DagsterInstance, upload_ids: list[str]) -> set[str]:
    """Those of these partitions with a process_upload_job run queued or in progress."""
    if not upload_ids:
        return set()
    records = instance.get_run_records(
        filters=dg.RunsFilter(job_name=process_upload_job.name, statuses=_BUSY_RUN_STATUSES)
    )
    wanted = set(upload_ids)
    return {
        partition
        for record in records
        if (partition := record.dagster_run.tags.get("dagster/partition")) in wanted
    }


def last_writes(object_store: ObjectStore, keys: list[str]) -> dict[str, dt.datetime]:
    """When each of these objects was last written (a drop again under the same name)."""
    found: dict[str, dt.datetime] = {}
    for key in keys:
        for stored in object_store.list_objects(prefix=key):
            if stored.key == key:
                found[key] = stored.last_modified
                break
    return found


def continuation_requests(
    context: dg.SensorEvaluationContext,
    unfinished: list[tuple[str, dt.datetime, str]],
    written: dict[str, dt.datetime],
) -> dg.SensorResult | dg.SkipReason:
    tick = plan_continuations(
        [
            Unfinished(upload_id, received_at, written.get(object_key))
            for upload_id, received_at, object_key in unfinished
        ],
        busy_upload_partitions(context.instance, [upload_id for upload_id, *_ in unfinished]),
        context.cursor,
        dt.datetime.now(dt.UTC),
    )
    if not tick.requests:
        context.update_cursor(tick.cursor)
        if tick.given_up:
            return dg.SkipReason(
                f"{len(tick.given_up)} upload(s) still unfinished after 3 attempts, left for a "
                f"person: {', '.join(tick.given_up[:10])} (read their runs' errors)."
            )
        return dg.SkipReason("No unfinished upload to continue.")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(run_key=run_key, partition_key=upload_id, tags={TAG_CONTINUES: "yes"})
            for upload_id, run_key in tick.requests
        ],
        cursor=tick.cursor,
    )


def producers_to_sync(event: dg.EventLogEntry) -> int:
    """`producers_to_sync` of an onboarding materialization (0 when absent)."""
    materialization = event.asset_materialization
    # A MetadataValue when read from the event log, a plain number when built by hand.
    value: Any = materialization.metadata.get("producers_to_sync") if materialization else None
    return int(getattr(value, "value", value) or 0)


def submission_requests(approved: list[tuple[str, int]]) -> dg.SensorResult | dg.SkipReason:
    """One run per (batch_id, approval_version): Dagster never launches a run key twice."""
    if not approved:
        return dg.SkipReason("No batch is waiting in Approved.")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=f"{batch_id}:{version}",
                partition_key=batch_id,
                tags=batch_run_tags(batch_id, version),
            )
            for batch_id, version in approved
        ],
        dynamic_partitions_requests=[
            BATCH_PARTITIONS.build_add_request([batch_id for batch_id, _ in approved])
        ],
    )


def poll_requests(
    submitted: list[tuple[str, int]], now: dt.datetime
) -> dg.SensorResult | dg.SkipReason:
    """A polling run per batch still waiting for NIPR, at most once per window."""
    if not submitted:
        return dg.SkipReason("No submitted batch is waiting for NIPR's answers.")
    window = now.strftime("%Y-%m-%dT%H")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=f"{batch_id}:{version}:poll:{window}",
                partition_key=batch_id,
                tags=batch_run_tags(batch_id, version, purpose="poll"),
            )
            for batch_id, version in submitted
        ],
        dynamic_partitions_requests=[
            BATCH_PARTITIONS.build_add_request([batch_id for batch_id, _ in submitted])
        ],
    )


def build_sensors(
    environment: str, environ: Mapping[str, str] | None = None
) -> list[dg.SensorDefinition]:
    environ = os.environ if environ is None else environ
    running = sensors_running_by_default(environ)
    override = interval_override(environ)

    def status_of(name: str) -> dg.DefaultSensorStatus:
        if environment == "prod" or name in running:
            return dg.DefaultSensorStatus.RUNNING
        return dg.DefaultSensorStatus.STOPPED

    @dg.sensor(
        name="inbox_file_sensor",
        job=process_upload_job,
        minimum_interval_seconds=override or INBOX_SENSOR_INTERVAL_SECONDS,
        default_status=status_of("inbox_file_sensor"),
        description=(
            "New or changed files under inbox/ in the bucket: one `uploads` partition and one "
            "process_upload_job run per file version (run key '{key}:{etag}')."
        ),
    )
    def inbox_file_sensor(
        context: dg.SensorEvaluationContext, object_store: ObjectStore
    ) -> dg.SensorResult:
        return evaluate_inbox(context, object_store)

    @dg.asset_sensor(
        asset_key=ONBOARDING_KEY,
        name="onboarded_producers_sensor",
        job=sync_new_producers_job,
        minimum_interval_seconds=override or ONBOARDED_SENSOR_INTERVAL_SECONDS,
        default_status=status_of("onboarded_producers_sensor"),
        description=(
            "After an agent upload onboarded producers Not Started, sync them with NIPR "
            "(sync_new_producers_job) without waiting for the schedule."
        ),
    )
    def onboarded_producers_sensor(
        context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry
    ) -> dg.RunRequest | dg.SkipReason:
        waiting = producers_to_sync(asset_event)
        if not waiting:
            return dg.SkipReason("The latest onboarding left no producer Not Started.")
        partition = asset_event.dagster_event.partition if asset_event.dagster_event else None
        return dg.RunRequest(
            run_key=f"onboarded:{asset_event.run_id}",
            tags={"npnflow/upload_id": partition or ""},
        )

    @dg.sensor(
        name="unfinished_uploads_sensor",
        job=process_upload_job,
        minimum_interval_seconds=override or UNFINISHED_SENSOR_INTERVAL_SECONDS,
        default_status=status_of("unfinished_uploads_sensor"),
        description=(
            "Uploads whose steps did not all commit (a crash or failure between steps): "
            "process_upload_job requested again for their partition once quiet for 10 minutes, "
            "or at once when the file is dropped again under the same name; at most 3 times "
            "(run key '{upload_id}:continue:{n}')."
        ),
    )
    def unfinished_uploads_sensor(
        context: dg.SensorEvaluationContext,
        database: OperationalDatabase,
        object_store: ObjectStore,
    ) -> dg.SensorResult | dg.SkipReason:
        with database.engine.connect() as connection:
            unfinished = upload_store.unfinished_uploads(connection, MAX_UNFINISHED_PER_TICK)
        written = last_writes(object_store, [key for *_, key in unfinished])
        return continuation_requests(context, unfinished, written)

    @dg.sensor(
        name="approved_batch_sensor",
        job=submit_batch_job,
        minimum_interval_seconds=override or APPROVED_SENSOR_INTERVAL_SECONDS,
        default_status=status_of("approved_batch_sensor"),
        description=(
            "Approved batches (by a person, or automatically for Submit = TRUE): one "
            "submit_batch_job run per batch and approval (run key '{batch_id}:{approval_version}')."
        ),
    )
    def approved_batch_sensor(
        context: dg.SensorEvaluationContext, database: OperationalDatabase
    ) -> dg.SensorResult | dg.SkipReason:
        # Read only: a connection, no transaction (a sensor never writes the database).
        with database.engine.connect() as connection:
            approved = approved_batches(connection, MAX_BATCHES_PER_TICK)
        return submission_requests(approved)

    @dg.sensor(
        name="submitted_batches_poll_sensor",
        job=submit_batch_job,
        minimum_interval_seconds=override or POLL_SENSOR_INTERVAL_SECONDS,
        default_status=status_of("submitted_batches_poll_sensor"),
        description=(
            "Batches sent but waiting for NIPR's answers (state review): a polling run per "
            "batch, at most once an hour. Polling never sends a transaction."
        ),
    )
    def submitted_batches_poll_sensor(
        context: dg.SensorEvaluationContext, database: OperationalDatabase
    ) -> dg.SensorResult | dg.SkipReason:
        with database.engine.connect() as connection:
            submitted = submitted_batches(connection, MAX_BATCHES_PER_TICK)
        return poll_requests(submitted, dt.datetime.now(dt.UTC))

    @dg.asset_sensor(
        asset_key=APPOINTMENT_STANDING_KEY,
        name="compliance_reports_sensor",
        job=build_reports_job,
        minimum_interval_seconds=override or COMPLIANCE_REPORTS_SENSOR_INTERVAL_SECONDS,
        default_status=status_of("compliance_reports_sensor"),
        description=(
            "After the daily sync judged the Appointed lines again, rebuild "
            "rpt_appointments_at_risk and rpt_sales_authorization (build_reports_job, run key "
            "'standing:{run_id}')."
        ),
    )
    def compliance_reports_sensor(
        context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry
    ) -> dg.RunRequest:
        return dg.RunRequest(
            run_key=f"standing:{asset_event.run_id}",
            asset_selection=list(COMPLIANCE_REPORT_KEYS),
        )

    return [
        inbox_file_sensor,
        onboarded_producers_sensor,
        unfinished_uploads_sensor,
        approved_batch_sensor,
        submitted_batches_poll_sensor,
        compliance_reports_sensor,
    ]
