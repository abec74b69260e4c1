"""The NIPR initial sync: `core_nipr__initial_sync`, Entity Info for producers not yet synced.

Each waiting producer's Entity Info is fetched (concurrently, bounded) and applied in its own
transaction (`roster.classify_entity_info` decides the status), so one failure never loses the
others; `NIPR Error` producers are picked again by the next run. The asset body is thin; the
steps are the plain functions below it. Operator documentation: docs/nipr-sync.md.
"""

import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field

from assets.keys import INITIAL_SYNC_KEY
from assets.nipr import store, sync_common
from assets.nipr.current_state import DATA_TABLES, apply_report
from assets.nipr.parsing import NiprReportError, ParsedReport, parse_pdb_report
from assets.nipr.roster import (
    NIPR_ERROR,
    SYNC_RETRY_STATUSES,
    SyncOutcome,
    classify_entity_info,
)
from assets.nipr.sync_common import CURRENT_STATE_POOL, GROUP, md
from resources.database import OperationalDatabase
from resources.nipr import NiprCallFailed, NiprClient
from schemas.npns import canonical_npn


class InitialSyncConfig(dg.Config):
    max_workers: int = Field(
        default=4, description="Entity Info calls in flight at once (NIPR asks for restraint)."
    )
    max_producers: int | None = Field(
        default=None, description="At most this many producers per run (None: all waiting)."
    )
    npns: list[str] = Field(
        default_factory=list,
        description=(
            "Sync exactly these producers, whatever their status (a synced one's picture is "
            "refreshed), instead of the waiting ones; `npnflow sync now NPN...` sets it. NPNs "
            "are read as NIPR writes them (no leading zeros); one no producer has is skipped."
        ),
    )


@dataclass
class FetchedEntityInfo:
    npn: str
    report: ParsedReport | None
    fetched_at: dt.datetime
    error: str | None


@dataclass
class SyncRun:
    """What one initial sync run did: a row per producer, rows written per table."""

    results: list[dict[str, object]] = field(default_factory=list)
    rows_written: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DATA_TABLES, 0))
    seconds: float = 0.0


@dg.asset(
    key=INITIAL_SYNC_KEY,
    group_name=GROUP,
    kinds={"xml", "sql"},
    pool=CURRENT_STATE_POOL,
    description=(
        "Entity Info for producers not yet synced (sync_status Not Started or NIPR Error), or "
        "for the producers its config `npns` names (`npnflow sync now NPN...`): their licenses, lines and appointments replaced by NIPR's full picture, and "
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
    with database.begin() as connection:
        if config.npns:
            wanted = sorted({canonical_npn(n) for n in config.npns if str(n).strip()})
            npns = sorted(store.read_tracked_npns(connection, wanted))
            unknown = sorted(set(wanted) - set(npns))
            if unknown:
                context.log.warning(f"No producer has NPN {', '.join(unknown)}: not synced.")
        else:
            npns = store.producers_to_sync(connection, SYNC_RETRY_STATUSES)
    if config.max_producers is not None:
        npns = npns[: max(0, config.max_producers)]
    run = sync_producers(database, nipr, npns, config.max_workers, context.log)
    outcomes = pd.DataFrame(run.results, columns=["npn", "sync_status", "message"]).sort_values(
        "npn", ignore_index=True
    )
    metadata = initial_sync_metadata(run, outcomes)
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


def sync_producers(
    database: OperationalDatabase, nipr: NiprClient, npns: list[str], max_workers: int, log: Any
) -> SyncRun:
    """Fetch every producer's Entity Info in worker threads; apply each as it arrives."""
    started = time.monotonic()
    run = SyncRun()
    with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
        futures = [pool.submit(fetch_entity_info, nipr, npn) for npn in npns]
        for future in as_completed(futures):
            fetched = future.result()
            outcome, written = sync_one(database, fetched)
            for table, count in written.items():
                run.rows_written[table] += count
            run.results.append(
                {"npn": fetched.npn, "sync_status": outcome.status, "message": outcome.message}
            )
            if outcome.status == NIPR_ERROR:
                log.warning(f"NPN {fetched.npn}: {outcome.message}")
    run.seconds = round(time.monotonic() - started, 2)
    return run


def initial_sync_metadata(run: SyncRun, outcomes: pd.DataFrame) -> dict[str, Any]:
    """The asset's metadata: producers per status, the problems, rows written."""
    by_status = outcomes["sync_status"].value_counts().to_dict()
    return {
        "producers_attempted": len(outcomes),
        "by_status": md(
            pd.DataFrame(
                {"sync_status": list(by_status), "producers": [int(v) for v in by_status.values()]}
            )
        ),
        "nipr_errors": int(by_status.get(NIPR_ERROR, 0)),
        "not_found": int(by_status.get("Not Found", 0)),
        "problems": md(outcomes[outcomes["message"] != ""]),
        "seconds": run.seconds,
        **{f"{table}_rows_written": count for table, count in run.rows_written.items()},
    }


def fetch_entity_info(nipr: NiprClient, npn: str) -> FetchedEntityInfo:
    """Fetch and parse one producer's Entity Info (in a worker thread)."""
    try:
        content = nipr.fetch_entity_info(npn)
    except NiprCallFailed as error:
        return FetchedEntityInfo(npn, None, sync_common.now(), str(error))
    fetched_at = sync_common.now()
    try:
        report = parse_pdb_report(content, requested_npn=npn)
    except NiprReportError as error:
        return FetchedEntityInfo(npn, None, fetched_at, f"Entity Info for NPN {npn}: {error}")
    return FetchedEntityInfo(npn, report, fetched_at, None)


def sync_one(
    database: OperationalDatabase, fetched: FetchedEntityInfo
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
                applied_at=sync_common.now(),
            )
            store.write_application(connection, application)
            written = {t: len(application.inserted[t]) for t in DATA_TABLES}
        # last_synced_at: when NIPR last answered about the producer (not for NIPR Error).
        synced_at = None if outcome.status == NIPR_ERROR else fetched.fetched_at
        store.set_sync_status(connection, npn, outcome.status, synced_at=synced_at)
    return outcome, written
