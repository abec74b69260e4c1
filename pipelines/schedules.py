"""Schedules: when the NIPR sync runs. Built when the definitions load, from the environment.

- `daily_nipr_sync_schedule`: the day's PDB Alerts report. NIPR runs alerts Monday to Saturday
  and publishes by 10:00 Central, so the default is 10:30 America/Chicago, Monday to Saturday.
  `NPNFLOW_NIPR_SYNC_CRON` / `NPNFLOW_NIPR_SYNC_TIMEZONE` override it. Each tick requests the
  partition of its own day, as NIPR's day (Central) sees it, with the day as run key.
- `sync_new_producers_schedule`: Entity Info for new producers and the target lists, by
  default at 11:00 and 20:00 every day (`NPNFLOW_NEW_PRODUCERS_SYNC_CRON`): the 20:00 run puts
  the day's new producers on the target lists before NIPR's 21:00 cut-off for the next alerts
  run. `NPNFLOW_NIPR_ALERTS_EMAIL` (optional) is the contact email of new subscriptions.
- `weekly_nipr_quality_schedule`: the quality checks on the whole current-state tables
  (`check_nipr_current_state_job`), Sunday 04:00 in the sync's time zone: NIPR runs no alerts
  on Sunday, so no daily sync writes the tables meanwhile. The daily sync's own checks cover
  only the scopes its day applied; this one covers every row once a week.

Schedules start running by themselves in `prod`; elsewhere they are off until turned on in
the UI (a laptop without the sandbox running should not fail every morning).
"""

import datetime as dt
import os
from collections.abc import Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dagster as dg

from assets.keys import NIPR_TIMEZONE, SUBSCRIPTIONS_KEY
from pipelines.jobs import (
    check_nipr_current_state_job,
    daily_nipr_sync_job,
    sync_new_producers_job,
)

DEFAULT_NIPR_SYNC_CRON = "30 10 * * 1-6"
DEFAULT_NIPR_SYNC_TIMEZONE = "America/Chicago"
DEFAULT_NEW_PRODUCERS_SYNC_CRON = "0 11,20 * * *"
WEEKLY_QUALITY_CRON = "0 4 * * 0"


class ScheduleConfigError(ValueError):
    pass


def _cron(environ: Mapping[str, str], name: str, default: str) -> str:
    value = (environ.get(name) or default).strip()
    fields = value.split()
    # Dagster validates the expression itself; this catches the usual slip (not 5 fields)
    # with a message that names the variable.
    if len(fields) != 5:
        raise ScheduleConfigError(
            f"{name}={value!r} is not a cron expression of 5 fields (minute hour day month "
            "weekday), e.g. '30 10 * * 1-6'"
        )
    return value


def _timezone(environ: Mapping[str, str], name: str, default: str) -> str:
    value = (environ.get(name) or default).strip()
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ScheduleConfigError(f"{name}={value!r} is not an IANA time zone") from error
    return value


def report_day(scheduled: dt.datetime) -> dt.date:
    """NIPR's day (Central time) at a scheduled instant: the report day to fetch."""
    return scheduled.astimezone(ZoneInfo(NIPR_TIMEZONE)).date()


def build_schedules(
    environment: str, environ: Mapping[str, str] | None = None
) -> list[dg.ScheduleDefinition]:
    environ = os.environ if environ is None else environ
    timezone = _timezone(environ, "NPNFLOW_NIPR_SYNC_TIMEZONE", DEFAULT_NIPR_SYNC_TIMEZONE)
    daily_cron = _cron(environ, "NPNFLOW_NIPR_SYNC_CRON", DEFAULT_NIPR_SYNC_CRON)
    new_cron = _cron(environ, "NPNFLOW_NEW_PRODUCERS_SYNC_CRON", DEFAULT_NEW_PRODUCERS_SYNC_CRON)
    email = (environ.get("NPNFLOW_NIPR_ALERTS_EMAIL") or "").strip()
    status = (
        dg.DefaultScheduleStatus.RUNNING
        if environment == "prod"
        else dg.DefaultScheduleStatus.STOPPED
    )

    @dg.schedule(
        name="daily_nipr_sync_schedule",
        cron_schedule=daily_cron,
        execution_timezone=timezone,
        job=daily_nipr_sync_job,
        default_status=status,
        description=(
            "The day's PDB Alerts report, after NIPR publishes it (10:30 Central, Monday to "
            "Saturday, unless NPNFLOW_NIPR_SYNC_CRON / NPNFLOW_NIPR_SYNC_TIMEZONE say otherwise)."
        ),
    )
    def daily_nipr_sync_schedule(context):
        day = report_day(context.scheduled_execution_time).isoformat()
        return dg.RunRequest(run_key=day, partition_key=day)

    @dg.schedule(
        name="sync_new_producers_schedule",
        cron_schedule=new_cron,
        execution_timezone=timezone,
        job=sync_new_producers_job,
        default_status=status,
        description=(
            "Entity Info for new producers and the PDB Alerts target lists (11:00 and 20:00 "
            "Central unless NPNFLOW_NEW_PRODUCERS_SYNC_CRON says otherwise)."
        ),
    )
    def sync_new_producers_schedule(context):
        run_config = {}
        if email:
            op = SUBSCRIPTIONS_KEY.to_python_identifier()
            run_config = {"ops": {op: {"config": {"contact_email": email}}}}
        return dg.RunRequest(
            run_key=context.scheduled_execution_time.isoformat(), run_config=run_config
        )

    @dg.schedule(
        name="weekly_nipr_quality_schedule",
        cron_schedule=WEEKLY_QUALITY_CRON,
        execution_timezone=timezone,
        job=check_nipr_current_state_job,
        default_status=status,
        description=(
            "The quality checks on the whole NIPR current-state tables, Sunday 04:00 Central "
            "(no alerts run on Sunday); the daily sync checks only the scopes its day applied."
        ),
    )
    def weekly_nipr_quality_schedule(context):
        return dg.RunRequest(run_key=context.scheduled_execution_time.isoformat())

    return [daily_nipr_sync_schedule, sync_new_producers_schedule, weekly_nipr_quality_schedule]
