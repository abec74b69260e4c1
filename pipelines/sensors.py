"""Sensors: what starts a run when something happens. Built from the environment, like the
schedules: they run by themselves in `prod`, and are switched on in the UI elsewhere.

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

Sensors decide, runs act: neither writes the database nor calls NIPR.
"""

import dagster as dg

from assets.uploads.assets import ONBOARDING_KEY, UPLOADS_PARTITIONS
from assets.uploads.inbox import INBOX_PREFIX, listing_start_after, plan_inbox_tick
from assets.uploads.ledger import run_tags
from pipelines.jobs import process_upload_job, sync_new_producers_job
from resources.object_store import ObjectStore

INBOX_SENSOR_INTERVAL_SECONDS = 30
ONBOARDED_SENSOR_INTERVAL_SECONDS = 30


def evaluate_inbox(
    context: dg.SensorEvaluationContext, object_store: ObjectStore
) -> dg.SensorResult:
    """One tick of `inbox_file_sensor` (the listing is lazy: the planner takes what it needs)."""
    objects = object_store.list_objects(
        prefix=INBOX_PREFIX, start_after=listing_start_after(context.cursor)
    )
    tick = plan_inbox_tick(objects, context.cursor)
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
            else f"No new file in {INBOX_PREFIX} ({tick.listed} object(s) looked at this tick)"
        ),
    )


def producers_to_sync(event: dg.EventLogEntry) -> int:
    """`producers_to_sync` of an onboarding materialization (0 when absent)."""
    materialization = event.asset_materialization
    value = materialization.metadata.get("producers_to_sync") if materialization else None
    return int(getattr(value, "value", value) or 0)


def build_sensors(environment: str) -> list[dg.SensorDefinition]:
    status = (
        dg.DefaultSensorStatus.RUNNING if environment == "prod" else dg.DefaultSensorStatus.STOPPED
    )

    @dg.sensor(
        name="inbox_file_sensor",
        job=process_upload_job,
        minimum_interval_seconds=INBOX_SENSOR_INTERVAL_SECONDS,
        default_status=status,
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
        minimum_interval_seconds=ONBOARDED_SENSOR_INTERVAL_SECONDS,
        default_status=status,
        description=(
            "After an agent upload onboarded producers Not Started, sync them with NIPR "
            "(sync_new_producers_job) without waiting for the schedule."
        ),
    )
    def onboarded_producers_sensor(context: dg.SensorEvaluationContext, asset_event):
        waiting = producers_to_sync(asset_event)
        if not waiting:
            return dg.SkipReason("The latest onboarding left no producer Not Started.")
        partition = asset_event.dagster_event.partition if asset_event.dagster_event else None
        return dg.RunRequest(
            run_key=f"onboarded:{asset_event.run_id}",
            tags={"npnflow/upload_id": partition or ""},
        )

    return [inbox_file_sensor, onboarded_producers_sensor]
