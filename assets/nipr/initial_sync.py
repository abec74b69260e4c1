"""The NIPR initial sync: `core_nipr__initial_sync`, Entity Info for producers not yet synced.

Producers' Entity Info is fetched concurrently as a bounded stream and applied as it arrives,
many producers per transaction (`initial_sync_batch.py`: `roster.classify_entity_info`
decides each status); a batch that cannot be stored is applied one producer per transaction,
so one failure never loses the others. `NIPR Error` producers are picked again by the next
run. Memory does not grow with the number of producers. The asset body is thin; the steps
are the plain functions below it and in `initial_sync_batch.py`. Operator documentation:
docs/nipr-sync.md.
"""

import functools
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field

from assets.keys import INITIAL_SYNC_KEY
from assets.nipr import store
from assets.nipr.current_state import DATA_TABLES
from assets.nipr.initial_sync_batch import (
    FetchedEntityInfo,
    apply_batch,
    fetch_and_classify,
    fetch_entity_info,
    fetch_stream,
    sync_one,
)
from assets.nipr.roster import NIPR_ERROR, SYNC_RETRY_STATUSES, SyncOutcome
from assets.nipr.sync_common import CURRENT_STATE_POOL, GROUP, md
from resources.database import OperationalDatabase
from resources.nipr import NiprClient
from schemas.npns import canonical_npn

__all__ = [
    "FetchedEntityInfo",
    "InitialSyncConfig",
    "SyncRun",
    "core_nipr__initial_sync",
    "fetch_entity_info",
    "initial_sync_metadata",
    "sync_one",
    "sync_producers",
]

# A batch is applied when it holds this many producers, or its first reply waited this long:
# large enough that a batch's fixed cost (reads, frame work, statements) is spread thin,
# small enough that a batch's replies and frames stay a few MB.
BATCH_PRODUCERS = 200
BATCH_SECONDS = 1.0
# Replies submitted and not yet handed over, per worker: enough that the workers keep
# fetching while a batch is applied (~1 s at 100 replies/s), few enough that memory stays
# flat (a reply's rows are a few kB) however many producers wait.
IN_FLIGHT_PER_WORKER = 32
# This many producers in a row that could not be stored (each in its own transaction) is not
# one bad producer but a database that refuses them all: the run stops there.
UNSTORED_IN_A_ROW = 25


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
class SyncRun:
    """What one initial sync run did: producers per status, the producers with a message
    (Not Found, NIPR Error: few, kept whole), rows written per table. No per-producer row is
    kept for the others, so memory does not grow with the run."""

    by_status: Counter[str] = field(default_factory=Counter)
    problems: list[dict[str, str]] = field(default_factory=list)
    rows_written: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DATA_TABLES, 0))
    seconds: float = 0.0
    unstored: list[tuple[str, Exception]] = field(default_factory=list)
    failing_in_a_row: int = 0  # producers that could not be stored since the last stored one

    @property
    def attempted(self) -> int:
        return sum(self.by_status.values())

    def record(self, npn: str, outcome: SyncOutcome, log: Any) -> None:
        self.by_status[outcome.status] += 1
        if outcome.message:
            self.problems.append(
                {"npn": npn, "sync_status": outcome.status, "message": outcome.message}
            )
        if outcome.status == NIPR_ERROR:
            log.warning(f"NPN {npn}: {outcome.message}")

    def problem_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.problems, columns=["npn", "sync_status", "message"]).sort_values(
            "npn", ignore_index=True
        )


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
    """Fetch concurrently (bounded), apply many producers per transaction (a batch that
    cannot be stored goes one producer per transaction, so one failure never loses the
    others). `NIPR Error` producers are picked again by the next run."""
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
    metadata = initial_sync_metadata(run)
    if run.attempted and run.by_status[NIPR_ERROR] == run.attempted:
        first = run.problem_frame()["message"].iloc[0]
        raise dg.Failure(
            description=(
                f"Entity Info failed for all {run.attempted} producers; they stay 'NIPR Error' "
                f"and are retried by the next run. First error: {first}"
            ),
            metadata=metadata,
        )
    return dg.MaterializeResult(metadata=metadata)


def sync_producers(
    database: OperationalDatabase,
    nipr: NiprClient,
    npns: list[str],
    max_workers: int,
    log: Any,
    *,
    batch_producers: int = BATCH_PRODUCERS,
    batch_seconds: float = BATCH_SECONDS,
    max_in_flight: int | None = None,
) -> SyncRun:
    """Fetch every producer's Entity Info in worker threads (at most `max_in_flight` replies
    outstanding); apply them in batches as they arrive, and let each batch go once applied."""
    started = time.monotonic()
    run = SyncRun()
    workers = max(1, max_workers)
    in_flight = max_in_flight or IN_FLIGHT_PER_WORKER * workers
    fetch = functools.partial(fetch_and_classify, nipr)
    batch: list[FetchedEntityInfo] = []
    batch_started = 0.0

    def apply() -> None:
        result = apply_batch(database, batch, log)
        batch.clear()
        for npn, outcome in result.outcomes:
            run.record(npn, outcome, log)
        for table, count in result.written.items():
            run.rows_written[table] += count
        run.unstored.extend(result.unstored)
        run.failing_in_a_row = 0 if result.outcomes else run.failing_in_a_row + len(result.unstored)
        if run.failing_in_a_row >= UNSTORED_IN_A_ROW:
            # Not one bad producer: nothing can be stored (a schema, a permission...). Stop.
            raise _unstored_error(run)

    for fetched in fetch_stream(fetch, npns, workers, in_flight):
        if not batch:
            batch_started = time.monotonic()
        batch.append(fetched)
        if len(batch) >= batch_producers or time.monotonic() - batch_started >= batch_seconds:
            apply()
    if batch:
        apply()
    run.seconds = round(time.monotonic() - started, 2)
    if run.unstored:
        # The others are stored; these keep their status and are attempted again next run.
        raise _unstored_error(run)
    return run


def _unstored_error(run: SyncRun) -> Exception:
    npn, first = run.unstored[0]
    error = RuntimeError(
        f"{len(run.unstored)} producer(s) could not be stored and keep their sync status "
        f"(the others were synced); the first, NPN {npn}: {type(first).__name__}: {first}"
    )
    error.__cause__ = first
    return error


def initial_sync_metadata(run: SyncRun) -> dict[str, Any]:
    """The asset's metadata: producers per status, the problems, rows written."""
    by_status = run.by_status.most_common()
    return {
        "producers_attempted": run.attempted,
        "by_status": md(
            pd.DataFrame(
                {
                    "sync_status": [status for status, _ in by_status],
                    "producers": [int(count) for _, count in by_status],
                }
            )
        ),
        "nipr_errors": int(run.by_status[NIPR_ERROR]),
        "not_found": int(run.by_status["Not Found"]),
        "problems": md(run.problem_frame()),
        "seconds": run.seconds,
        **{f"{table}_rows_written": count for table, count in run.rows_written.items()},
    }
