"""How the demo drives Dagster: the real sensors evaluated and the real jobs run in process, on
the persistent local instance, as the daemon would.

Every step of the demo goes through these few functions, so what the demo shows is what the
product does when a file lands in the bucket; the steps themselves only choose what to drop
and what to print.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
from typing import TYPE_CHECKING, Any

import click

from resources import paths

if TYPE_CHECKING:
    from dagster import DagsterInstance, Definitions, ExecuteInProcessResult, RunRequest

    # `evaluate_tick`'s return type: dagster exports it only from its internals.
    from dagster._core.definitions.sensor_definition import SensorExecutionData

# What a person reads is the summary; each run's full event log is in the UI.
#: Who drops the demo's files (`npnflow drop --by`); the approver is another person.
DROPPED_BY = "Demo Uploader"
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def heading(text: str) -> None:
    click.echo("")
    click.secho(text, bold=True)


def run_job(
    defs: Definitions,
    job_name: str,
    instance: DagsterInstance,
    *,
    quiet_stdout: bool = False,
    **kwargs: Any,
) -> ExecuteInProcessResult:
    """Run `job_name` in process; print the failed steps, if any."""
    # dbt writes its whole log to stdout (kept in the run's logs in the UI); the demo prints
    # only the failures, below.
    with contextlib.redirect_stdout(io.StringIO()) if quiet_stdout else contextlib.nullcontext():
        result = defs.resolve_job_def(job_name).execute_in_process(
            instance=instance, raise_on_error=False, run_config=QUIET, **kwargs
        )
    if not result.success:
        for event in result.all_events:
            if event.is_step_failure:
                error = getattr(event.event_specific_data, "error", None)
                click.secho(
                    f"   FAILED {event.step_key}: {error.message if error else event.message}",
                    fg="red",
                )
    return result


def add_partitions(instance: DagsterInstance, tick: SensorExecutionData) -> list[RunRequest]:
    """What the daemon does with a sensor's tick before it launches the runs: add the dynamic
    partitions the tick asks for. Returns the tick's run requests."""
    for request in tick.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return list(tick.run_requests or [])


# The inbox sensor's cursor between the demo's drops, as the daemon keeps it between ticks.
_INBOX_CURSOR: dict[str, str | None] = {}


def drop_file(defs: Definitions, instance: DagsterInstance, key: str, content: bytes) -> str | None:
    """Drop a file into the local bucket, let the real inbox sensor find it, run
    `process_upload_job` for its partition as the daemon would, print the upload's outcome and
    return its upload id (None when something failed)."""
    from dagster import build_sensor_context

    from assets.batches.events import record_dropper
    from assets.uploads.ledger import content_sha256
    from resources.database import OperationalDatabase
    from resources.object_store import LocalFolderObjectStore

    database = OperationalDatabase(url=paths.database_url())
    store = LocalFolderObjectStore(root=str(paths.bucket_dir()))
    # As `npnflow drop FILE --by NAME` does: who dropped the file, which its batches' events
    # (`npnflow batches history`) name.
    with database.begin() as connection:
        record_dropper(
            connection,
            content_sha256=content_sha256(content),
            object_key=key,
            by=DROPPED_BY,
            now=dt.datetime.now(dt.UTC),
        )
    store.put_bytes(key, content)
    click.echo(f"   dropped {key} in {store.root}")

    sensor = defs.resolve_sensor_def("inbox_file_sensor")
    with build_sensor_context(
        instance=instance,
        instance_ref=instance.get_ref(),
        resources={"object_store": store},
        definitions=defs,
        # As the daemon does: each tick starts where the previous one stopped.
        cursor=_INBOX_CURSOR.get("cursor"),
    ) as context:
        tick = sensor.evaluate_tick(context)
    _INBOX_CURSOR["cursor"] = tick.cursor
    # What the daemon does with the tick: add the partitions, launch the runs.
    requests = add_partitions(instance, tick)
    ours = [r for r in requests if str(r.run_key).startswith(f"{key}:")]
    others = len(requests) - len(ours)
    click.echo(
        f"   inbox_file_sensor: {len(requests)} new file(s), partition "
        f"{ours[0].partition_key if ours else '-'}"
        + (f" ({others} other dropped file(s) left for the sensor)" if others else "")
    )
    if not ours:
        click.secho("   the sensor did not request the dropped file", fg="red")
        return None
    request = ours[0]
    if not run_job(
        defs,
        "process_upload_job",
        instance,
        partition_key=request.partition_key,
        tags=dict(request.tags),
    ).success:
        return None
    upload = database.read_table("uploads").set_index("upload_id").loc[request.partition_key]
    if isinstance(upload.duplicate_of, str) and upload.duplicate_of:
        # A later demo run drops the same content again: processed once, never twice.
        click.echo(
            f"   process_upload_job: {upload.status} of {upload.duplicate_of}: the same "
            "content was processed then; nothing is done twice"
        )
        return str(request.partition_key)
    click.echo(
        f"   process_upload_job: {upload.status}; {int(upload.rows_total or 0)} rows: "
        f"{int(upload.rows_valid or 0)} valid, {int(upload.rows_rejected or 0)} rejected, "
        f"{int(upload.rows_blank or 0)} blank"
    )
    if isinstance(upload.error_report_key, str) and upload.error_report_key:
        report = store.get_bytes(upload.error_report_key).decode("utf-8-sig").splitlines()
        click.echo(f"   error report: {paths.bucket_dir() / upload.error_report_key}")
        for line in report[:4]:
            click.echo(f"     {line}")
    return str(request.partition_key)


def duplicate_of(upload_id: str) -> str | None:
    """The upload whose content this one repeats (processed then, not again), or None."""
    from resources.database import OperationalDatabase

    uploads = OperationalDatabase(url=paths.database_url()).read_table(
        "uploads", ["upload_id", "duplicate_of"]
    )
    found = uploads[uploads.upload_id == upload_id].duplicate_of
    return str(found.iloc[0]) if len(found) and isinstance(found.iloc[0], str) else None


def sync_onboarded(defs: Definitions, instance: DagsterInstance) -> bool:
    """`onboarded_producers_sensor` asks for the sync of the new producers; run it."""
    from dagster import build_sensor_context

    sensor = defs.resolve_sensor_def("onboarded_producers_sensor")
    with build_sensor_context(instance=instance, definitions=defs) as context:
        tick = sensor.evaluate_tick(context)
    if not tick.run_requests:
        click.echo(f"   onboarded_producers_sensor: {tick.skip_message}; syncing anyway")
        return run_job(defs, "sync_new_producers_job", instance).success
    request = tick.run_requests[0]
    click.echo(
        f"   onboarded_producers_sensor requested sync_new_producers_job ({request.run_key})"
    )
    return run_job(defs, "sync_new_producers_job", instance, tags=dict(request.tags)).success
