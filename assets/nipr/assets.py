"""The NIPR daily sync as Dagster assets (group `nipr`). Thin: the rules live elsewhere.

- `raw_nipr__pdb_alerts` (daily partitions, America/Chicago): the day's PDB Alerts report,
  kept verbatim in the object store (`nipr/pdb_alerts/<yyyy-mm-dd>.mtom`) and recorded in
  `nipr_report_days`, so a day can be re-parsed without asking NIPR again.
- `core_nipr__producers`, `__licenses`, `__license_loas`, `__appointments`: one multi-asset that
  parses the stored replies of its partitions and applies them, in date order, to the
  current-state tables in one database transaction (`current_state.py` decides the rows).
- `core_nipr__initial_sync`: Entity Info for producers not yet synced (`roster.py` decides
  the status), one transaction per producer.
- `core_nipr__subscriptions`: the PDB Alerts target lists follow the tracked producers
  (`roster.plan_subscriptions`).

Operator documentation: docs/nipr-sync.md.
"""

import datetime as dt
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

import dagster as dg
import pandas as pd
from pydantic import Field

from assets.keys import (
    CORE_TABLE_KEYS,
    INITIAL_SYNC_KEY,
    NIPR_DAILY_PARTITIONS,
    RAW_PDB_ALERTS_KEY,
    SUBSCRIPTIONS_KEY,
)
from assets.metadata import markdown_preview
from assets.nipr import store
from assets.nipr.current_state import DATA_TABLES, apply_report
from assets.nipr.parsing import ALERTS, NiprReportError, ParsedReport, parse_pdb_report
from assets.nipr.roster import (
    NIPR_ERROR,
    SUBSCRIPTION_PREFIX,
    SYNC_RETRY_STATUSES,
    SyncOutcome,
    classify_entity_info,
    is_tracked,
    ledger_after_add,
    ledger_after_remove,
    ledger_repairs,
    plan_subscriptions,
)
from resources.database import OperationalDatabase
from resources.nipr import NiprCallFailed, NiprClient, NiprFault, ReportNotReady
from resources.object_store import ObjectStore

GROUP = "nipr"
CORE_TABLES = {
    "producers": "Tracked producers; names and email follow NIPR's demographics.",
    "licenses": "Current licenses of tracked producers, per state (NIPR PDB).",
    "license_loas": "Current lines of authority of each license (NIPR PDB).",
    "appointments": "Current appointments and terminations, per state and company (NIPR PDB).",
}
# Both the daily apply and the initial sync rewrite current-state rows: with a limit of 1 on
# this pool (docs/nipr-sync.md), Dagster never runs them at the same time.
CURRENT_STATE_POOL = "nipr_current_state"

NOT_READY_FAULT = 21
INVALID_DATE_FAULT = 20
SUBSCRIPTION_NAME_NOT_UNIQUE = 12


def raw_object_key(day: dt.date) -> str:
    """Where the raw reply of a report day is kept in the object store."""
    return f"nipr/pdb_alerts/{day.isoformat()}.mtom"


def _now() -> dt.datetime:
    """The time of an event ("reply fetched", "applied"). One seam, so tests can follow the
    NIPR sandbox's clock instead of the wall clock."""
    return dt.datetime.now(dt.UTC)


def _partition_days(context: dg.AssetExecutionContext) -> list[dt.date]:
    return sorted(dt.date.fromisoformat(key) for key in context.partition_keys)


def _md(frame: pd.DataFrame, max_rows: int = 20) -> dg.MarkdownMetadataValue:
    return markdown_preview(frame, max_rows=max_rows)


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
class _DayFetch:
    day: dt.date
    status: str
    source: str  # "NIPR" | "stored reply" | "-"
    object_key: str | None
    size: int


@dg.asset(
    key=RAW_PDB_ALERTS_KEY,
    group_name=GROUP,
    kinds={"xml", "soap"},
    partitions_def=NIPR_DAILY_PARTITIONS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description=(
        "The day's PDB Alerts report (receiveSpecificReport: every subscription), as NIPR sent "
        "it (MTOM), kept in the object store under nipr/pdb_alerts/<day>.mtom."
    ),
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
    database.ensure_migrated()
    fetched: list[_DayFetch] = []
    for day in _partition_days(context):
        fetched.append(_fetch_day(context, config, database, object_store, nipr, day))
    table = pd.DataFrame([vars(f) for f in fetched])
    metadata: dict[str, object] = {
        "days": _md(table),
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
    return dg.MaterializeResult(metadata=metadata)


def _fetch_day(
    context: dg.AssetExecutionContext,
    config: PdbAlertsFetchConfig,
    database: OperationalDatabase,
    object_store: ObjectStore,
    nipr: NiprClient,
    day: dt.date,
) -> _DayFetch:
    key = raw_object_key(day)
    with database.begin() as connection:
        ledger = store.read_report_day(connection, day)
    if not config.refetch and object_store.exists(key):
        content = object_store.get_bytes(key)
        if ledger is None or ledger["status"] not in ("fetched", "applied"):
            with database.begin() as connection:
                store.save_report_day(
                    connection, day, status="fetched", fetched_at=_now(), raw_object_keys=[key]
                )
        context.log.info(f"PDB Alerts report for {day}: re-using the stored reply {key}")
        status = ledger["status"] if ledger and ledger["status"] == "applied" else "fetched"
        return _DayFetch(day, status, "stored reply", key, len(content))

    try:
        reply = nipr.fetch_alerts_report(day)
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

    fetched_at = _now()
    if reply.status == "no_run_today":
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
        return _DayFetch(day, "no_run_today", "NIPR", None, 0)

    stored = object_store.put_bytes(key, reply.content)
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
    return _DayFetch(day, "fetched", "NIPR", key, stored.size)


# ============================================================================================
# core_nipr__producers / licenses / license_loas / appointments
# ============================================================================================


def _report_npns(report: ParsedReport) -> set[str]:
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
    database.ensure_migrated()
    days = _partition_days(context)
    summaries: list[dict[str, object]] = []
    changed: list[pd.DataFrame] = []
    inserted: dict[str, list[pd.DataFrame]] = {t: [] for t in DATA_TABLES}
    updated_producers: list[pd.DataFrame] = []
    totals: dict[str, int] = {}
    ignored_npns: set[str] = set()
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
                summaries.append({"report_date": day.isoformat(), "status": "no_run_today"})
                continue
            report, key = _read_stored_report(object_store, ledger, day)
            applied_at = _now()
            npns = _report_npns(report)
            tracked = store.read_tracked_npns(connection, npns)
            current = store.read_current_rows(connection, tracked)
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
                totals[name] = totals.get(name, 0) + value
            ignored_npns.update(application.ignored_npns)
            changed.append(
                application.changed_scopes[["npn", "state_code", "category"]].assign(
                    report_date=day.isoformat()
                )
            )
            for table in DATA_TABLES:
                inserted[table].append(application.inserted[table])
            updated_producers.append(application.producer_updates)
            summaries.append(
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
            context.log.info(
                f"PDB Alerts {day} ({key}): {counts['scopes_applied']} scopes applied, "
                f"{counts['scopes_changed']} changed, {counts['scopes_skipped_as_older']} "
                f"skipped as older, {len(application.ignored_npns)} untracked NPNs ignored"
            )
        row_counts = store.count_rows(connection, CORE_TABLES)

    days_table = pd.DataFrame(summaries)
    changed_scopes = _concat(changed, ["report_date", "npn", "state_code", "category"])
    common: dict[str, object] = {
        "report_days": _md(days_table),
        "scopes_applied": totals.get("scopes_applied", 0),
        "scopes_changed": totals.get("scopes_changed", 0),
        "scopes_skipped_as_older": totals.get("scopes_skipped_as_older", 0),
        "untracked_npns_ignored": len(ignored_npns),
        "untracked_rows_ignored": totals.get("ignored_rows", 0),
    }
    for table, key in CORE_TABLE_KEYS.items():
        metadata: dict[str, object] = {"table": table, "dagster/row_count": row_counts[table]}
        metadata |= common
        if table == "producers":
            updates = _concat(updated_producers, ["npn", "first_name", "last_name", "email"])
            metadata |= {
                "producers_updated": len(updates),
                "changed_scopes": _md(changed_scopes[changed_scopes["category"] == "DEMOGRAPHICS"]),
                "preview": _md(updates[["npn", "first_name", "last_name"]]),
            }
        else:
            category = "APPOINTMENTS" if table == "appointments" else "LICENSING"
            new_rows = _concat(inserted[table], [])
            metadata |= {
                "rows_deleted": totals.get(f"{table}_deleted", 0),
                "rows_inserted": totals.get(f"{table}_inserted", 0),
                "changed_scopes": _md(changed_scopes[changed_scopes["category"] == category]),
                "preview": _md(new_rows, max_rows=10),
            }
        yield dg.MaterializeResult(asset_key=key, metadata=metadata)


def _read_stored_report(
    object_store: ObjectStore, ledger: dict, day: dt.date
) -> tuple[ParsedReport, str]:
    keys = ledger["raw_object_keys"] or [raw_object_key(day)]
    key = keys[0]
    try:
        content = object_store.get_bytes(key)
    except FileNotFoundError as error:
        raise dg.Failure(
            description=(
                f"The stored PDB Alerts reply for {day} ({key}) is missing from the object "
                f"store: materialize raw_nipr__pdb_alerts for {day} with refetch. Nothing was "
                "applied."
            )
        ) from error
    try:
        report = parse_pdb_report(content)
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


def _concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    return pd.concat(frames, ignore_index=True)


# ============================================================================================
# core_nipr__initial_sync
# ============================================================================================


class InitialSyncConfig(dg.Config):
    max_workers: int = Field(
        default=4, description="Entity Info calls in flight at once (NIPR asks for restraint)."
    )
    max_producers: int | None = Field(
        default=None, description="At most this many producers per run (None: all waiting)."
    )


@dataclass
class _Fetched:
    npn: str
    report: ParsedReport | None
    fetched_at: dt.datetime
    error: str | None


def _fetch_entity_info(nipr: NiprClient, npn: str) -> _Fetched:
    """Fetch and parse one producer's Entity Info (in a worker thread)."""
    try:
        content = nipr.fetch_entity_info(npn)
    except NiprCallFailed as error:
        return _Fetched(npn, None, _now(), str(error))
    fetched_at = _now()
    try:
        report = parse_pdb_report(content, requested_npn=npn)
    except NiprReportError as error:
        return _Fetched(npn, None, fetched_at, f"Entity Info for NPN {npn}: {error}")
    return _Fetched(npn, report, fetched_at, None)


@dg.asset(
    key=INITIAL_SYNC_KEY,
    group_name=GROUP,
    kinds={"xml", "sql"},
    pool=CURRENT_STATE_POOL,
    description=(
        "Entity Info for producers not yet synced (sync_status Not Started or NIPR Error): "
        "their licenses, lines and appointments replaced by NIPR's full picture, and "
        "sync_status / last_synced_at set."
    ),
)
def core_nipr__initial_sync(
    context: dg.AssetExecutionContext,
    config: InitialSyncConfig,
    database: OperationalDatabase,
    nipr: NiprClient,
) -> dg.MaterializeResult:
    """Fetch concurrently (bounded), apply one producer per transaction, so one failure
    never loses the others. `NIPR Error` producers are picked again by the next run."""
    database.ensure_migrated()
    with database.begin() as connection:
        npns = store.producers_to_sync(connection, SYNC_RETRY_STATUSES)
    if config.max_producers is not None:
        npns = npns[: max(0, config.max_producers)]
    started = time.monotonic()
    results: list[dict[str, object]] = []
    rows_written = {table: 0 for table in DATA_TABLES}
    with ThreadPoolExecutor(max_workers=max(1, config.max_workers)) as pool:
        futures = [pool.submit(_fetch_entity_info, nipr, npn) for npn in npns]
        for future in as_completed(futures):
            fetched = future.result()
            outcome, written = _sync_one(database, fetched)
            for table, count in written.items():
                rows_written[table] += count
            results.append(
                {"npn": fetched.npn, "sync_status": outcome.status, "message": outcome.message}
            )
            if outcome.status == NIPR_ERROR:
                context.log.warning(f"NPN {fetched.npn}: {outcome.message}")

    outcomes = pd.DataFrame(results, columns=["npn", "sync_status", "message"]).sort_values(
        "npn", ignore_index=True
    )
    by_status = outcomes["sync_status"].value_counts().to_dict()
    metadata: dict[str, object] = {
        "producers_attempted": len(outcomes),
        "by_status": _md(
            pd.DataFrame(
                {"sync_status": list(by_status), "producers": [int(v) for v in by_status.values()]}
            )
        ),
        "nipr_errors": int(by_status.get(NIPR_ERROR, 0)),
        "not_found": int(by_status.get("Not Found", 0)),
        "problems": _md(outcomes[outcomes["message"] != ""]),
        "seconds": round(time.monotonic() - started, 2),
        **{f"{table}_rows_written": count for table, count in rows_written.items()},
    }
    if len(outcomes) and (outcomes["sync_status"] == NIPR_ERROR).all():
        first = outcomes["message"].iloc[0]
        raise dg.Failure(
            description=(
                f"Entity Info failed for all {len(outcomes)} producers; they stay 'NIPR Error' "
                f"and are retried by the next run. First error: {first}"
            ),
            metadata=metadata,
        )
    return dg.MaterializeResult(metadata=metadata)


def _sync_one(
    database: OperationalDatabase, fetched: _Fetched
) -> tuple[SyncOutcome, dict[str, int]]:
    """Record one producer's outcome, and apply its Entity Info, in its own transaction."""
    npn = fetched.npn
    if fetched.report is None:
        outcome = SyncOutcome(NIPR_ERROR, fetched.error or "no reply")
    else:
        outcome = classify_entity_info(fetched.report, npn)
    written: dict[str, int] = {}
    with database.begin() as connection:
        if outcome.apply and fetched.report is not None:
            current = store.read_current_rows(connection, [npn])
            application = apply_report(
                current,
                fetched.report,
                data_as_of=fetched.fetched_at,
                tracked_npns=[npn],
                applied_at=_now(),
            )
            store.write_application(connection, application)
            written = {t: len(application.inserted[t]) for t in DATA_TABLES}
        # last_synced_at: when NIPR last answered about the producer (not for NIPR Error).
        synced_at = None if outcome.status == NIPR_ERROR else fetched.fetched_at
        store.set_sync_status(connection, npn, outcome.status, synced_at=synced_at)
    return outcome, written


# ============================================================================================
# core_nipr__subscriptions
# ============================================================================================


class SubscriptionsConfig(dg.Config):
    contact_email: str = Field(
        default="nipr-alerts@example.com",
        description="Contact email NIPR requires when a new subscription is created.",
    )
    max_targets_per_subscription: int = Field(
        default=10_000, description="NIPR's recommended maximum of targets per subscription."
    )


@dg.asset(
    key=SUBSCRIPTIONS_KEY,
    group_name=GROUP,
    kinds={"soap", "sql"},
    deps=[INITIAL_SYNC_KEY],
    description=(
        "PDB Alerts target lists (subscriptions npnflow-0001, ...): every active, synced "
        "producer is a target; offboarded producers are removed; refused NPNs are recorded."
    ),
)
def core_nipr__subscriptions(
    context: dg.AssetExecutionContext,
    config: SubscriptionsConfig,
    database: OperationalDatabase,
    nipr: NiprClient,
) -> dg.MaterializeResult:
    """Reconcile NIPR's target lists with the tracked producers. Idempotent: NIPR's lists are
    read first, so a re-run adds and removes nothing new."""
    database.ensure_migrated()
    with database.begin() as connection:
        roster = store.read_roster(connection)
        ledger = store.read_subscription_rows(connection)
    tracked = roster.loc[is_tracked(roster), "npn"].astype(str).tolist()
    refused = ledger.loc[
        ledger["invalid_reason"].notna() & ledger["removed_at"].isna(), "npn"
    ].astype(str)

    try:
        names = nipr.list_subscriptions()
        targets = {
            name: nipr.list_targets(name) for name in names if name.startswith(SUBSCRIPTION_PREFIX)
        }
    except NiprCallFailed as error:
        raise dg.Failure(
            description=f"Reading the PDB Alerts subscriptions and targets failed: {error}"
        ) from error
    plan = plan_subscriptions(
        tracked, targets, refused, capacity=config.max_targets_per_subscription
    )
    for name in plan.create:
        _create_subscription(context, nipr, name, config.contact_email)

    # Removals first (they free room), then additions; the ledger is written after each call,
    # so a failure part-way leaves it true to what NIPR did (the next run reconciles the rest).
    refused_now: list[dict[str, str]] = []
    removed = added = 0
    for name, npns in plan.remove.items():
        _call(nipr.remove_targets, f"removeTargets on {name}", name, npns)
        gone = [n for n in npns if n not in plan.placement]  # else: kept on another of ours
        _save(database, ledger_after_remove(ledger, name, gone, _now()))
        removed += len(npns)
        context.log.info(f"{name}: {len(npns)} targets removed")
    for name, npns in plan.add.items():
        result = _call(nipr.add_targets, f"addTargets on {name}", name, npns)
        reasons = {invalid.input: invalid.reason for invalid in result.invalid}
        _save(database, ledger_after_add(ledger, name, result.valid, reasons, _now()))
        added += len(result.valid)
        refused_now += [
            {"npn": npn, "subscription": name, "reason": reason} for npn, reason in reasons.items()
        ]
        context.log.info(f"{name}: {len(result.valid)} targets added, {len(reasons)} refused")
    repairs = ledger_repairs(plan, ledger, _now())
    _save(database, repairs)

    with database.begin() as connection:
        after = store.read_subscription_rows(connection)
    refused_all = after.loc[
        after["invalid_reason"].notna() & after["removed_at"].isna(),
        ["npn", "subscription_name", "invalid_reason"],
    ].rename(columns={"subscription_name": "subscription", "invalid_reason": "reason"})
    sizes = pd.DataFrame(
        {
            "subscription": list(plan.sizes),
            "targets": list(plan.sizes.values()),
            "added": [len(plan.add.get(n, ())) for n in plan.sizes],
            "removed": [len(plan.remove.get(n, ())) for n in plan.sizes],
        }
    )
    return dg.MaterializeResult(
        metadata={
            "tracked_producers": len(tracked),
            "targets_added": added,
            "targets_removed": removed,
            "targets_refused_now": len(refused_now),
            "targets_refused_total": len(refused_all),
            "subscriptions_created": ", ".join(plan.create) or "none",
            "subscriptions": _md(sizes),
            "refused_targets": _md(refused_all),
            "ledger_rows_repaired": len(repairs),
        }
    )


def _call(method, what: str, *args):
    try:
        return method(*args)
    except NiprCallFailed as error:
        raise dg.Failure(description=f"PDB Alerts {what} failed: {error}") from error


def _create_subscription(
    context: dg.AssetExecutionContext, nipr: NiprClient, name: str, email: str
) -> None:
    try:
        nipr.add_subscription(name, email)
    except NiprFault as error:
        if error.code != SUBSCRIPTION_NAME_NOT_UNIQUE:
            raise dg.Failure(
                description=f"Creating the PDB Alerts subscription {name} failed: {error}"
            ) from error
    except NiprCallFailed as error:
        # Not retried by the client (a resend could fail as a duplicate): look before failing.
        if name not in _call(nipr.list_subscriptions, "retrieveAllSubscriptions"):
            raise dg.Failure(
                description=f"Creating the PDB Alerts subscription {name} failed: {error}"
            ) from error
    context.log.info(f"PDB Alerts subscription {name} created")


def _save(database: OperationalDatabase, rows: pd.DataFrame) -> None:
    if rows.empty:
        return
    with database.begin() as connection:
        store.save_subscription_rows(connection, rows)


NIPR_ASSETS = [
    raw_nipr__pdb_alerts,
    core_nipr__current_state,
    core_nipr__initial_sync,
    core_nipr__subscriptions,
]
