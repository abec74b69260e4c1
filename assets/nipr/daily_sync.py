"""The NIPR daily sync: the day's PDB Alerts report, fetched and kept, then applied.

- `raw_nipr__pdb_alerts` (daily partitions, America/Chicago): the day's PDB Alerts report,
  kept verbatim in the object store (`nipr/pdb_alerts/<yyyy-mm-dd>.mtom`) and recorded in
  `nipr_report_days`, so a day can be re-parsed without asking NIPR again.
- `core_nipr__producers`, `__licenses`, `__license_loas`, `__appointments`: one multi-asset that
  parses the stored replies of its partitions and applies them, in date order, to the
  current-state tables in one database transaction (`current_state.py` decides the rows).

The asset bodies are thin; the steps are the plain functions below them. A reply is never held
whole in memory: NIPR's body streams to a temporary file (`NiprClient.fetch_alerts_report_to`
checks it on the way), from there to the object store (`put_stream`), and the apply parses it
back from the store's reader (`open_reader`). Operator documentation: docs/nipr-sync.md.
"""

import datetime as dt
import io
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import dagster as dg
import pandas as pd
from pydantic import Field

from assets.keys import CORE_TABLE_KEYS, NIPR_DAILY_PARTITIONS, RAW_PDB_ALERTS_KEY
from assets.nipr import store, sync_common
from assets.nipr.current_state import DATA_TABLES, apply_report
from assets.nipr.parsing import ALERTS, NiprReportError, ParsedReport, parse_pdb_report
from assets.nipr.sync_common import (
    CURRENT_STATE_POOL,
    GROUP,
    concat_frames,
    md,
    partition_days,
)
from resources.database import OperationalDatabase
from resources.nipr import (
    AlertsReportReceipt,
    NiprCallFailed,
    NiprClient,
    NiprFault,
    ReportNotReady,
)
from resources.object_store import STREAM_CHUNK_BYTES, ObjectStore

CORE_TABLES = {
    "producers": "Tracked producers; names and email follow NIPR's demographics.",
    "licenses": "Current licenses of tracked producers, per state (NIPR PDB).",
    "license_loas": "Current lines of authority of each license and class (NIPR PDB).",
    "appointments": "Current appointments and terminations, per state and company (NIPR PDB).",
}

NOT_READY_FAULT = 21
INVALID_DATE_FAULT = 20


def raw_object_key(day: dt.date) -> str:
    """Where the raw reply of a report day is kept in the object store."""
    return f"nipr/pdb_alerts/{day.isoformat()}.mtom"


# ============================================================================================
# raw_nipr__pdb_alerts
# ============================================================================================


class PdbAlertsFetchConfig(dg.Config):
    refetch: bool = Field(
        default=False,
        description=(
            "Ask NIPR again even when the day's reply is already stored. Off: a "
            "re-materialization re-uses the stored reply (re-parse without calling NIPR)."
        ),
    )
    not_ready_retries: int = Field(
        default=8, description="Retries of the step while NIPR says the run is not finished."
    )
    not_ready_wait_seconds: float = Field(
        default=900.0, description="Wait between those retries (NIPR publishes by 10:00 CT)."
    )
    failed_call_retries: int = Field(
        default=2,
        description="Retries of the step after a NIPR call failed despite the client's retries.",
    )
    failed_call_wait_seconds: float = Field(
        default=300.0, description="Wait before each of those retries."
    )


@dataclass
class DayFetch:
    day: dt.date
    status: str
    source: str  # "NIPR" | "stored reply" | "-"
    object_key: str | None
    size: int


# A multi_asset of one spec, not @dg.asset: `backfill_policy` is a beta parameter of @dg.asset
# (a BetaWarning on every load of the code location) and a stable one of @dg.multi_asset.
@dg.multi_asset(
    name="raw_nipr__pdb_alerts",
    specs=[
        dg.AssetSpec(
            RAW_PDB_ALERTS_KEY,
            group_name=GROUP,
            kinds={"xml", "soap"},
            description=(
                "The day's PDB Alerts report (receiveSpecificReport: every subscription), as NIPR "
                "sent it (MTOM), kept in the object store under nipr/pdb_alerts/<day>.mtom."
            ),
        )
    ],
    partitions_def=NIPR_DAILY_PARTITIONS,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def raw_nipr__pdb_alerts(
    context: dg.AssetExecutionContext,
    config: PdbAlertsFetchConfig,
    database: OperationalDatabase,
    object_store: ObjectStore,
    nipr: NiprClient,
) -> dg.MaterializeResult:
    """Fetch each day of the partition range (oldest first) and keep the reply verbatim.

    Fault 21 (run not finished) retries the step later; fault 22 (no alerts run that day)
    materializes the day as `no_run_today`, with no object. A stored reply is re-used unless
    `refetch` is set, so re-running a day never depends on NIPR still having it.
    """
    fetched = [
        fetch_day(context, config, database, object_store, nipr, day)
        for day in partition_days(context)
    ]
    return dg.MaterializeResult(metadata=fetch_metadata(fetched))


def fetch_metadata(fetched: list[DayFetch]) -> dict[str, Any]:
    """The raw asset's metadata: a row per day, and the totals."""
    table = pd.DataFrame([vars(f) for f in fetched])
    metadata: dict[str, Any] = {
        "days": md(table),
        "days_fetched_from_nipr": int((table["source"] == "NIPR").sum()),
        "days_reused_from_store": int((table["source"] == "stored reply").sum()),
        "days_without_alerts_run": int((table["status"] == "no_run_today").sum()),
        "bytes": int(table["size"].sum()),
    }
    if len(fetched) == 1:
        only = fetched[0]
        metadata |= {"report_date": only.day.isoformat(), "status": only.status}
        if only.object_key:
            metadata["object_key"] = dg.MetadataValue.path(only.object_key)
    return metadata


def fetch_day(
    context: dg.AssetExecutionContext,
    config: PdbAlertsFetchConfig,
    database: OperationalDatabase,
    object_store: ObjectStore,
    nipr: NiprClient,
    day: dt.date,
) -> DayFetch:
    """One day: re-use the stored reply, or stream NIPR's reply into the object store."""
    key = raw_object_key(day)
    with database.begin() as connection:
        ledger = store.read_report_day(connection, day)
    if not config.refetch and object_store.exists(key):
        size = stored_size(object_store, key)
        if ledger is None or ledger["status"] not in ("fetched", "applied"):
            with database.begin() as connection:
                store.save_report_day(
                    connection,
                    day,
                    status="fetched",
                    fetched_at=sync_common.now(),
                    raw_object_keys=[key],
                )
        context.log.info(f"PDB Alerts report for {day}: re-using the stored reply {key}")
        status = ledger["status"] if ledger and ledger["status"] == "applied" else "fetched"
        return DayFetch(day, status, "stored reply", key, size)

    # The reply goes to a temporary file on disk, not to memory: the client checks it as it
    # streams and rewinds the file before a retry; then it streams on to the object store.
    with tempfile.TemporaryFile() as spool:
        receipt = fetch_reply_to(context, config, nipr, day, spool)
        fetched_at = sync_common.now()
        if receipt.status == "no_run_today":
            with database.begin() as connection:
                store.save_report_day(
                    connection,
                    day,
                    status="no_run_today",
                    fetched_at=fetched_at,
                    applied_at=None,
                    raw_object_keys=[],
                )
            context.log.info(f"NIPR ran no PDB Alerts on {day} (fault 22): nothing to apply")
            return DayFetch(day, "no_run_today", "NIPR", None, 0)
        spool.seek(0)
        stored = object_store.put_stream(key, spool)
    with database.begin() as connection:
        store.save_report_day(
            connection,
            day,
            status="fetched",
            fetched_at=fetched_at,
            applied_at=None,
            raw_object_keys=[key],
            producers_reported=None,
            scopes_applied=None,
            scopes_skipped_as_older=None,
        )
    context.log.info(f"PDB Alerts report for {day}: {stored.size:,} bytes stored as {key}")
    return DayFetch(day, "fetched", "NIPR", key, stored.size)


def fetch_reply_to(
    context: dg.AssetExecutionContext,
    config: PdbAlertsFetchConfig,
    nipr: NiprClient,
    day: dt.date,
    sink: BinaryIO,
) -> AlertsReportReceipt:
    """NIPR's reply for `day`, streamed into `sink`; NIPR's answers turned into the step's
    retries (run not finished, call failed) or a failure that says what to do."""
    try:
        return nipr.fetch_alerts_report_to(day, sink)
    except ReportNotReady as error:
        if context.retry_number < config.not_ready_retries:
            context.log.info(f"{error}; trying again in {config.not_ready_wait_seconds:g}s")
            raise dg.RetryRequested(
                max_retries=config.not_ready_retries,
                seconds_to_wait=config.not_ready_wait_seconds,
            ) from error
        raise dg.Failure(
            description=(
                f"NIPR's PDB Alerts run for {day} is still not finished after "
                f"{context.retry_number + 1} attempts (receiveSpecificReport, fault 21). "
                "Materialize the partition again later."
            ),
            allow_retries=False,
        ) from error
    except NiprFault as error:
        if error.code == INVALID_DATE_FAULT:
            raise dg.Failure(
                description=(
                    f"NIPR refused the PDB Alerts report for {day} (receiveSpecificReport, "
                    f"fault 20 {error.name}): NIPR serves reports at most 14 days back. {error}"
                ),
                allow_retries=False,
            ) from error
        raise dg.Failure(
            description=f"Fetching the PDB Alerts report for {day} failed: {error}",
            allow_retries=False,
        ) from error
    except NiprCallFailed as error:
        if context.retry_number < config.failed_call_retries:
            context.log.warning(
                f"{error}; retrying the step in {config.failed_call_wait_seconds:g}s"
            )
            raise dg.RetryRequested(
                max_retries=config.failed_call_retries,
                seconds_to_wait=config.failed_call_wait_seconds,
            ) from error
        raise dg.Failure(
            description=(
                f"Fetching the PDB Alerts report for {day} failed after "
                f"{context.retry_number + 1} attempts of the step: {error}"
            ),
            allow_retries=False,
        ) from error


def stored_size(object_store: ObjectStore, key: str) -> int:
    """The size of a stored object, read in pieces (a seekable reader is just measured)."""
    with object_store.open_reader(key) as reader:
        if reader.seekable():
            return reader.seek(0, io.SEEK_END)
        size = 0
        while piece := reader.read(STREAM_CHUNK_BYTES):
            size += len(piece)
        return size


# ============================================================================================
# core_nipr__producers / licenses / license_loas / appointments
# ============================================================================================


@dataclass
class DaysApplied:
    """What applying a partition range did, for the assets' metadata."""

    summaries: list[dict[str, object]] = field(default_factory=list)
    changed: list[pd.DataFrame] = field(default_factory=list)
    inserted: dict[str, list[pd.DataFrame]] = field(
        default_factory=lambda: {t: [] for t in DATA_TABLES}
    )
    updated_producers: list[pd.DataFrame] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)
    ignored_npns: set[str] = field(default_factory=set)
    row_counts: dict[str, int] = field(default_factory=dict)


@dg.multi_asset(
    name="core_nipr__current_state",
    specs=[
        dg.AssetSpec(
            key,
            description=CORE_TABLES[table],
            group_name=GROUP,
            kinds={"xml", "sql"},
            deps=[RAW_PDB_ALERTS_KEY],
            metadata={"table": table},
        )
        for table, key in CORE_TABLE_KEYS.items()
    ],
    partitions_def=NIPR_DAILY_PARTITIONS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=CURRENT_STATE_POOL,
)
def core_nipr__current_state(
    context: dg.AssetExecutionContext,
    database: OperationalDatabase,
    object_store: ObjectStore,
) -> Iterator[dg.MaterializeResult]:
    """Apply the stored PDB Alerts replies of the partition range, oldest day first, in ONE
    transaction: every day applies, or nothing changes. Re-applying a day is a no-op, and an
    older day never overwrites newer data (see current_state.py)."""
    applied = apply_stored_days(database, object_store, partition_days(context), context.log)
    yield from current_state_results(applied)


def apply_stored_days(
    database: OperationalDatabase,
    object_store: ObjectStore,
    days: list[dt.date],
    log: Any,
) -> DaysApplied:
    """Apply each day's stored reply, oldest first, in one database transaction."""
    applied = DaysApplied()
    with database.begin() as connection:
        for day in days:
            ledger = store.read_report_day(connection, day)
            if ledger is None or ledger["status"] not in ("fetched", "applied", "no_run_today"):
                raise dg.Failure(
                    description=(
                        f"No PDB Alerts reply is stored for {day}: materialize "
                        f"raw_nipr__pdb_alerts for {day} first. Nothing was applied."
                    )
                )
            if ledger["status"] == "no_run_today":
                applied.summaries.append({"report_date": day.isoformat(), "status": "no_run_today"})
                continue
            report, key = read_stored_report(object_store, ledger, day)
            applied_at = sync_common.now()
            npns = report_npns(report)
            tracked = store.read_tracked_npns(connection, npns)
            current = store.read_scope_rows(connection, tracked, tracked_scopes(report, tracked))
            data_as_of = report.as_of or ledger["fetched_at"] or applied_at
            application = apply_report(
                current,
                report,
                data_as_of=data_as_of,
                tracked_npns=tracked,
                applied_at=applied_at,
                report_date=day,
            )
            store.write_application(connection, application)
            counts = application.counts()
            store.save_report_day(
                connection,
                day,
                status="applied",
                applied_at=applied_at,
                producers_reported=len(npns),
                scopes_applied=counts["scopes_applied"],
                scopes_skipped_as_older=counts["scopes_skipped_as_older"],
            )
            for name, value in counts.items():
                applied.totals[name] = applied.totals.get(name, 0) + value
            applied.ignored_npns.update(application.ignored_npns)
            applied.changed.append(
                application.changed_scopes[["npn", "state_code", "category"]].assign(
                    report_date=day.isoformat()
                )
            )
            for table in DATA_TABLES:
                applied.inserted[table].append(application.inserted[table])
            applied.updated_producers.append(application.producer_updates)
            applied.summaries.append(
                {
                    "report_date": day.isoformat(),
                    "status": "applied",
                    "data_as_of": pd.Timestamp(data_as_of).isoformat(),
                    "producers_reported": len(npns),
                    "producers_tracked": len(tracked),
                    **{
                        k: counts[k]
                        for k in (
                            "scopes_applied",
                            "scopes_changed",
                            "scopes_skipped_as_older",
                            "ignored_rows",
                        )
                    },
                }
            )
            log.info(
                f"PDB Alerts {day} ({key}): {counts['scopes_applied']} scopes applied, "
                f"{counts['scopes_changed']} changed, {counts['scopes_skipped_as_older']} "
                f"skipped as older, {len(application.ignored_npns)} untracked NPNs ignored"
            )
        applied.row_counts = store.count_rows(connection, CORE_TABLES)
    return applied


def current_state_results(applied: DaysApplied) -> Iterator[dg.MaterializeResult[Any]]:
    """One materialization per current-state table, with what the days changed in it."""
    totals = applied.totals
    days_table = pd.DataFrame(applied.summaries)
    changed_scopes = concat_frames(
        applied.changed, ["report_date", "npn", "state_code", "category"]
    )
    common: dict[str, Any] = {
        "report_days": md(days_table),
        "scopes_applied": totals.get("scopes_applied", 0),
        "scopes_changed": totals.get("scopes_changed", 0),
        "scopes_skipped_as_older": totals.get("scopes_skipped_as_older", 0),
        "untracked_npns_ignored": len(applied.ignored_npns),
        "untracked_rows_ignored": totals.get("ignored_rows", 0),
    }
    for table, key in CORE_TABLE_KEYS.items():
        metadata: dict[str, Any] = {
            "table": table,
            "dagster/row_count": applied.row_counts[table],
        }
        metadata |= common
        if table == "producers":
            updates = concat_frames(
                applied.updated_producers, ["npn", "first_name", "last_name", "email"]
            )
            metadata |= {
                "producers_updated": len(updates),
                "changed_scopes": md(changed_scopes[changed_scopes["category"] == "DEMOGRAPHICS"]),
                "preview": md(updates[["npn", "first_name", "last_name"]]),
            }
        else:
            category = "APPOINTMENTS" if table == "appointments" else "LICENSING"
            new_rows = concat_frames(applied.inserted[table], [])
            metadata |= {
                "rows_deleted": totals.get(f"{table}_deleted", 0),
                "rows_inserted": totals.get(f"{table}_inserted", 0),
                "changed_scopes": md(changed_scopes[changed_scopes["category"] == category]),
                "preview": md(new_rows, max_rows=10),
            }
        yield dg.MaterializeResult(asset_key=key, metadata=metadata)


def tracked_scopes(report: ParsedReport, tracked: set[str]) -> list[tuple[str, str]]:
    """The (npn, state_code) pairs of the report's scopes of tracked producers: the only rows
    an Alerts report replaces, hence the only ones its apply reads."""
    scopes = report.reported_scopes[["npn", "state_code"]].dropna().astype(str)
    scopes = scopes[scopes["npn"].isin(tracked)].drop_duplicates()
    return list(scopes.itertuples(index=False, name=None))


def report_npns(report: ParsedReport) -> set[str]:
    """Every NPN a report mentions, in any of its frames."""
    npns: set[str] = set()
    for frame in (
        report.reported_scopes,
        report.producers,
        report.licenses,
        report.license_loas,
        report.appointments,
    ):
        npns.update(frame["npn"].dropna().astype(str))
    return npns


def read_stored_report(
    object_store: ObjectStore, ledger: dict[str, Any], day: dt.date
) -> tuple[ParsedReport, str]:
    """Parse a day's stored reply as it streams from the object store (never read whole)."""
    keys = ledger["raw_object_keys"] or [raw_object_key(day)]
    key = keys[0]
    try:
        reader = object_store.open_reader(key)
    except FileNotFoundError as error:
        raise dg.Failure(
            description=(
                f"The stored PDB Alerts reply for {day} ({key}) is missing from the object "
                f"store: materialize raw_nipr__pdb_alerts for {day} with refetch. Nothing was "
                "applied."
            )
        ) from error
    with reader:
        try:
            report = parse_pdb_report(reader)
        except NiprReportError as error:
            raise dg.Failure(
                description=(
                    f"The stored PDB Alerts reply for {day} ({key}) cannot be read: {error}. "
                    f"Nothing was applied; re-fetch the day (raw_nipr__pdb_alerts, refetch)."
                )
            ) from error
    if report.report_kind != ALERTS:
        raise dg.Failure(
            description=f"The stored reply for {day} ({key}) is not a PDB Alerts report."
        )
    return report, key
