"""The initial sync's steps: fetch Entity Info replies as a bounded stream, and apply them
many producers per transaction.

Why a stream: a large carrier's first sync is 100k producers or more. Keeping a `Future` (and
its parsed report) per producer until the end grew memory by 0.1 MB a producer; here at most
`max_in_flight` replies are fetched or waiting at any time, and each is dropped once applied.

Why batches: applying one producer cost a fixed ~70 ms of reads, frame work and statements
whatever its size, while the fetch threads sat idle. A worker thread reads each reply into
plain lists and decides its status (`initial_sync_parse.py`); a batch of up to a few hundred
producers is then one `read_current_rows`, one report made of all their rows, one vectorised
`apply_report` (each producer's scopes carry its own as-of: the time its reply was fetched),
one `write_application` and one statement or so of statuses, in one transaction.

Failure isolation is kept: when a batch's transaction fails for a reason other than a
transient database error (which fails the run, to be retried, as before), its producers are
applied one by one (`sync_one`, one transaction each), so one bad producer never loses the
others. Operator documentation: docs/nipr-sync.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, TypeVar

from assets.nipr import store, sync_common
from assets.nipr.current_state import DATA_TABLES, apply_report
from assets.nipr.initial_sync_parse import (
    EntityInfoRows,
    batch_report,
    classify_reply,
    read_entity_info,
    rows_of_report,
)
from assets.nipr.parsing import NiprReportError, ParsedReport, parse_pdb_report
from assets.nipr.roster import NIPR_ERROR, SyncOutcome, classify_entity_info
from resources.database import OperationalDatabase, is_transient_database_error
from resources.nipr import NiprCallFailed, NiprClient

__all__ = [
    "BatchResult",
    "FetchedEntityInfo",
    "apply_batch",
    "fetch_and_classify",
    "fetch_entity_info",
    "fetch_stream",
    "sync_one",
]

T = TypeVar("T")


@dataclass
class FetchedEntityInfo:
    npn: str
    report: ParsedReport | None
    fetched_at: dt.datetime
    error: str | None
    outcome: SyncOutcome | None = None  # the reply's sync status, when already decided
    rows: EntityInfoRows | None = None  # the reply as lists (`fetch_and_classify`)


# --------------------------------------------------------------------------------------------
# Fetching
# --------------------------------------------------------------------------------------------


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


def fetch_and_classify(nipr: NiprClient, npn: str) -> FetchedEntityInfo:
    """Fetch one producer's Entity Info, read it into lists and decide its status (in a
    worker thread); a reply that is not applied is dropped at once. No frames are made:
    a batch's are made together (`initial_sync_parse.py`)."""
    try:
        content = nipr.fetch_entity_info(npn)
    except NiprCallFailed as error:
        return _failed(npn, sync_common.now(), str(error))
    fetched_at = sync_common.now()
    try:
        rows = read_entity_info(content, npn)
    except NiprReportError as error:
        return _failed(npn, fetched_at, f"Entity Info for NPN {npn}: {error}")
    outcome = classify_reply(rows)
    return FetchedEntityInfo(
        npn, None, fetched_at, None, outcome=outcome, rows=rows if outcome.apply else None
    )


def _failed(npn: str, fetched_at: dt.datetime, error: str) -> FetchedEntityInfo:
    return FetchedEntityInfo(
        npn, None, fetched_at, error, outcome=SyncOutcome(NIPR_ERROR, error or "no reply")
    )


def outcome_of(fetched: FetchedEntityInfo) -> SyncOutcome:
    if fetched.outcome is not None:
        return fetched.outcome
    if fetched.report is None:
        return SyncOutcome(NIPR_ERROR, fetched.error or "no reply")
    return classify_entity_info(fetched.report, fetched.npn)


def _report_of(fetched: FetchedEntityInfo) -> ParsedReport | None:
    if fetched.report is None and fetched.rows is not None:
        return batch_report([fetched.rows])
    return fetched.report


def _rows_of(fetched: FetchedEntityInfo) -> EntityInfoRows | None:
    if fetched.rows is None and fetched.report is not None:
        return rows_of_report(fetched.report, fetched.npn)
    return fetched.rows


def fetch_stream(
    fetch: Callable[[str], T], npns: Iterable[str], max_workers: int, max_in_flight: int
) -> Iterator[T]:
    """`fetch(npn)` for every NPN on `max_workers` threads, yielded as each completes.

    At most `max_in_flight` calls are submitted and not yet handed to the caller at any time;
    the pool is refilled (in the NPNs' order) before each hand-over, so the workers keep
    fetching while the caller applies. Nothing is kept once handed over. When the caller
    stops early, the calls not yet started are cancelled.
    """
    workers = max(1, max_workers)
    bound = max(workers, max_in_flight)
    waiting = iter(npns)
    pending: set[Future[T]] = set()
    with ThreadPoolExecutor(max_workers=workers) as pool:

        def refill(limit: int) -> None:
            while len(pending) < limit:
                npn = next(waiting, None)
                if npn is None:
                    return
                pending.add(pool.submit(fetch, npn))

        try:
            refill(bound)
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                pending.difference_update(done)
                ready = list(done)
                del done
                while ready:
                    future = ready.pop()
                    # The replies not yet handed over (this one too) count against the bound.
                    refill(bound - len(ready) - 1)
                    yield future.result()
                    del future
                refill(bound)
        finally:
            for future in pending:
                future.cancel()


# --------------------------------------------------------------------------------------------
# Applying
# --------------------------------------------------------------------------------------------


@dataclass
class BatchResult:
    """What applying a batch did: each stored producer's outcome, rows written per table,
    and the producers that could not be stored (left as they were, with the error)."""

    outcomes: list[tuple[str, SyncOutcome]]
    written: dict[str, int]
    unstored: list[tuple[str, Exception]] = field(default_factory=list)


def apply_batch(
    database: OperationalDatabase, batch: Sequence[FetchedEntityInfo], log: Any
) -> BatchResult:
    """Apply a batch of fetched replies and record every producer's status, in one
    transaction.

    A transient database error is raised (the run fails and is retried, as before). Any other
    failure of the batch's transaction applies its producers one by one instead, so one
    producer that cannot be stored never loses the others; it is returned in `unstored`.
    """
    outcomes = [(fetched.npn, outcome_of(fetched)) for fetched in batch]
    try:
        with database.begin() as connection:
            written = _apply_together(connection, batch, outcomes)
        return BatchResult(outcomes, written)
    except Exception as error:
        if is_transient_database_error(error):
            raise
        if len(batch) > 1:
            log.warning(
                f"Applying {len(batch)} producers together failed ({type(error).__name__}: "
                f"{error}); applying them one by one."
            )
    return _apply_one_by_one(database, batch, log)


def _apply_together(
    connection: Any, batch: Sequence[FetchedEntityInfo], outcomes: list[tuple[str, SyncOutcome]]
) -> dict[str, int]:
    applying: list[tuple[FetchedEntityInfo, EntityInfoRows]] = []
    for fetched, (_, outcome) in zip(batch, outcomes, strict=True):
        rows = _rows_of(fetched) if outcome.apply else None
        if rows is not None:
            applying.append((fetched, rows))
    written = dict.fromkeys(DATA_TABLES, 0)
    if applying:
        npns = [fetched.npn for fetched, _ in applying]
        current = store.read_current_rows(connection, npns)
        application = apply_report(
            current,
            batch_report([rows for _, rows in applying]),
            data_as_of={fetched.npn: fetched.fetched_at for fetched, _ in applying},
            tracked_npns=npns,
            applied_at=sync_common.now(),
        )
        store.write_application(connection, application)
        written = {table: len(application.inserted[table]) for table in DATA_TABLES}
    # last_synced_at: when NIPR last answered about the producer (not for NIPR Error).
    store.set_sync_statuses(
        connection,
        [
            (npn, outcome.status, None if outcome.status == NIPR_ERROR else fetched.fetched_at)
            for fetched, (npn, outcome) in zip(batch, outcomes, strict=True)
        ],
    )
    return written


def _apply_one_by_one(
    database: OperationalDatabase, batch: Sequence[FetchedEntityInfo], log: Any
) -> BatchResult:
    result = BatchResult([], dict.fromkeys(DATA_TABLES, 0))
    for fetched in batch:
        try:
            outcome, counts = sync_one(database, fetched)
        except Exception as error:
            if is_transient_database_error(error):
                raise
            log.error(f"NPN {fetched.npn}: could not be stored ({type(error).__name__}: {error})")
            result.unstored.append((fetched.npn, error))
            continue
        result.outcomes.append((fetched.npn, outcome))
        for table, count in counts.items():
            result.written[table] += count
    return result


def sync_one(
    database: OperationalDatabase, fetched: FetchedEntityInfo
) -> tuple[SyncOutcome, dict[str, int]]:
    """Record one producer's outcome, and apply its Entity Info, in its own transaction."""
    npn = fetched.npn
    outcome = outcome_of(fetched)
    report = _report_of(fetched) if outcome.apply else None
    written: dict[str, int] = {}
    with database.begin() as connection:
        if report is not None:
            current = store.read_current_rows(connection, [npn])
            application = apply_report(
                current,
                report,
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
