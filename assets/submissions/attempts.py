"""The submission's ledger and NIPR's answers on record: what a run writes to the database.

`submit_batch` / `poll_batch` (`submission.py`) decide what to send and when; this module holds
the writes they make and why each is safe after any crash:
- a `submission_attempts` row is committed before every Gateway call, together with
  `transactions.submission_chunk` for the transactions it carries, so "was this transaction
  maybe sent?" always has an answer in the database (`record_attempt`);
- the attempt is closed with the reply's fate: answered, unknown, refused (`close_attempt`);
- NIPR's answers are written onto the batch's transactions only where `may_overwrite` allows
  (`record_answers`): a final status is never undone.
Separate from the flow so the ledger's rules can be read in one place. No Dagster import.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from assets.batches.events import BatchEvent, record_event
from assets.submissions.planning import (
    may_overwrite,
    next_chunk_number,
    request_digest,
    status_counts,
)
from resources.nipr_gateway_xml import GatewayReply, GatewayTransaction, Outcome
from schemas.statuses import (
    BATCH_SUBMITTING,
    DOOR_SENSOR,
    EVENT_ANSWERED,
    FINAL_TRANSACTION_STATUSES,
    READY_TO_SUBMIT,
)
from schemas.tables import TABLES

batches_t = TABLES["transaction_batches"]
#: Who an `answered` event names: the answers come from NIPR, through the run a sensor started.
NIPR_ANSWERS_BY = "NIPR Gateway"

transactions_t = TABLES["transactions"]
attempts_t = TABLES["submission_attempts"]

# submission_attempts.response_status of a closed attempt.
ANSWERED = "answered"
UNKNOWN = "unknown"  # response_status "unknown: <why>"


class Log(Protocol):
    def debug(self, msg: str) -> Any: ...
    def info(self, msg: str) -> Any: ...
    def warning(self, msg: str) -> Any: ...


class Gateway(Protocol):
    settle_seconds: float

    def send(
        self,
        transactions: Sequence[GatewayTransaction],
        *,
        cust_batch: str,
        now: datetime | None = None,
    ) -> GatewayReply: ...
    def poll(self, keys: Sequence[tuple[str, str]]) -> GatewayReply: ...
    def lookup_batch(self, cust_batch: str) -> GatewayReply: ...


class Database(Protocol):
    @property
    def engine(self) -> Engine: ...


class BatchChanged(Exception):
    """The batch was superseded or left Submitting while this run was sending (the flow stops
    sending; not raised out of `submit_batch`)."""


class SubmissionConflict(RuntimeError):
    """Another run recorded the same chunk number: it is sending this batch despite the lock.
    This run stopped before calling the Gateway."""


@dataclass
class SubmissionReport:
    batch_id: str
    approval_version: int | None
    action: str  # "submitted" | "polled" | "skipped"
    reason: str = ""
    batch_status: str | None = None
    status_counts: dict[str, int] = field(default_factory=dict)
    chunks_sent: int = 0
    transactions_sent: int = 0
    recovered_by_lookup: int = 0  # found at NIPR by a look-up instead of being sent again
    unknown_outcomes: int = 0  # transactions whose call gave no usable answer (then looked up)
    lookups: int = 0
    poll_rounds: int = 0
    problems: list[str] = field(default_factory=list)

    def as_metadata(self) -> dict[str, Any]:
        """Plain values for Dagster metadata or a CLI line."""
        return {
            "batch_id": self.batch_id,
            "approval_version": self.approval_version,
            "action": self.action,
            "reason": self.reason,
            "batch_status": self.batch_status,
            "status_counts": dict(self.status_counts),
            "chunks_sent": self.chunks_sent,
            "transactions_sent": self.transactions_sent,
            "recovered_by_lookup": self.recovered_by_lookup,
            "unknown_outcomes": self.unknown_outcomes,
            "lookups": self.lookups,
            "poll_rounds": self.poll_rounds,
            "problems": list(self.problems),
        }


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything we write is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


@dataclass
class SubmissionRun:
    """What one call of submit_batch / poll_batch carries around."""

    engine: Engine
    gateway: Gateway
    batch_id: str
    approval_version: int | None
    now: Callable[[], datetime]
    log: Log
    sleep: Callable[[float], None]
    report: SubmissionReport


# ====================================================================== reading and writing
def batch_state(connection: Connection, batch_id: str) -> Any:
    """The batch's (status, approval_version, kind) row; None when there is no such batch."""
    return connection.execute(
        sa.select(batches_t.c.status, batches_t.c.approval_version, batches_t.c.kind).where(
            batches_t.c.batch_id == batch_id
        )
    ).first()


def has_attempts(run: SubmissionRun) -> bool:
    # Any version: a call made under an earlier approval may have reached NIPR too.
    with run.engine.connect() as connection:
        return (
            connection.execute(
                sa.select(attempts_t.c.id).where(attempts_t.c.batch_id == run.batch_id).limit(1)
            ).first()
            is not None
        )


def wait_for_settle(run: SubmissionRun) -> None:
    """Let a request that was in flight when its run died (or timed out) land before we ask."""
    settle = float(getattr(run.gateway, "settle_seconds", 0.0) or 0.0)
    if settle <= 0:
        return
    with run.engine.connect() as connection:
        last = connection.execute(
            sa.select(sa.func.max(attempts_t.c.sent_at)).where(
                attempts_t.c.batch_id == run.batch_id,
                sa.or_(
                    attempts_t.c.response_status.is_(None),
                    attempts_t.c.response_status.like(f"{UNKNOWN}%"),
                ),
            )
        ).scalar()
    last = _aware(last)
    if last is None:
        return
    wait = min(settle, settle - (run.now() - last).total_seconds())
    if wait > 0:
        run.log.info(
            f"batch {run.batch_id}: waiting {wait:.1f}s for an unanswered call to settle at NIPR"
        )
        run.sleep(wait)


def record_attempt(
    run: SubmissionRun, chunk: list[GatewayTransaction]
) -> tuple[int, int, datetime, list[GatewayTransaction]] | None:
    """The ledger row, committed before the call, with submission_chunk on its transactions."""
    sent_at = run.now()
    with run.engine.begin() as connection:
        batch = batch_state(connection, run.batch_id)
        if (
            batch is None
            or batch.approval_version != run.approval_version
            or batch.status != BATCH_SUBMITTING
        ):
            why = (
                "gone"
                if batch is None
                else f"status {batch.status}, version {batch.approval_version}"
            )
            run.report.problems.append(f"the batch changed during the run ({why}); sending stopped")
            run.log.warning(
                f"batch {run.batch_id}: changed during the run ({why}); sending stopped"
            )
            raise BatchChanged(why)
        still_ready: set[str] = set(
            connection.execute(
                sa.select(transactions_t.c.idempotency_key).where(
                    transactions_t.c.batch_id == run.batch_id,
                    transactions_t.c.status == READY_TO_SUBMIT,
                    transactions_t.c.idempotency_key.in_([tx.idempotency_key for tx in chunk]),
                )
            ).scalars()
        )
        chunk = [tx for tx in chunk if tx.idempotency_key in still_ready]
        if not chunk:
            return None
        existing: list[int] = list(
            connection.execute(
                sa.select(attempts_t.c.chunk).where(
                    attempts_t.c.batch_id == run.batch_id,
                    attempts_t.c.approval_version == run.approval_version,
                )
            ).scalars()
        )
        number = next_chunk_number(existing)
        keys = [tx.idempotency_key for tx in chunk]
        try:
            inserted = connection.execute(
                sa.insert(attempts_t).values(
                    batch_id=run.batch_id,
                    approval_version=run.approval_version,
                    chunk=number,
                    sent_at=sent_at,
                    request_digest=request_digest(keys),
                    transaction_count=len(keys),
                    response_status=None,
                )
            ).inserted_primary_key
        except sa.exc.IntegrityError:
            raise SubmissionConflict(
                f"batch {run.batch_id}: chunk {number} of approval version {run.approval_version} "
                "was recorded by another run; this run stopped without calling the Gateway"
            ) from None
        assert inserted is not None  # an INSERT of one row always reports its primary key
        attempt_id = int(inserted[0])
        connection.execute(
            sa.update(transactions_t)
            .where(
                transactions_t.c.batch_id == run.batch_id,
                transactions_t.c.idempotency_key.in_(keys),
            )
            .values(submission_chunk=number)
        )
    return attempt_id, number, sent_at, chunk


def close_attempt(
    run: SubmissionRun,
    attempt_id: int,
    status: str,
    message: str | None,
    *,
    connection: Connection | None = None,
) -> None:
    """Write the call's fate on its ledger row: in the caller's transaction when given one (so
    it commits with the answers the call brought), else in a transaction of its own."""
    statement = (
        sa.update(attempts_t)
        .where(attempts_t.c.id == attempt_id)
        .values(response_status=status[:255], answered_at=run.now(), error_message=message)
    )
    if connection is not None:
        connection.execute(statement)
        return
    with run.engine.begin() as own:
        own.execute(statement)


def settle_unanswered(connection: Connection, run: SubmissionRun, source: str) -> None:
    """Calls whose run ended before their reply was written: settled by a look-up or poll."""
    connection.execute(
        sa.update(attempts_t)
        .where(attempts_t.c.batch_id == run.batch_id, attempts_t.c.response_status.is_(None))
        .values(
            response_status=f"{UNKNOWN}: the run ended before the reply was recorded",
            error_message=f"settled by a {source} at {run.now().isoformat()}",
        )
    )


def record_answers(
    connection: Connection, run: SubmissionRun, outcomes: Iterable[Outcome]
) -> dict[str, str]:
    """Write NIPR's answers onto this batch's transactions; returns key -> new status.

    Only keys of this batch (a one-to-many reply can carry finals of other batches: their own
    runs poll for them) and only moves `may_overwrite` allows (a final status is never undone).
    The answers of a reply are written by one statement (`_write_answers`), in the caller's
    transaction: all of them or none.
    """
    mine = {o.key[1]: o for o in outcomes if o.key[0] == run.batch_id and o.found}
    if not mine:
        return {}
    t = transactions_t
    current = {
        row.idempotency_key: row
        for row in connection.execute(
            sa.select(
                t.c.transaction_id,
                t.c.idempotency_key,
                t.c.status,
                t.c.submitted_at,
                t.c.completed_at,
                t.c.nipr_trans,
            ).where(t.c.batch_id == run.batch_id, t.c.idempotency_key.in_(list(mine)))
        )
    }
    now = run.now()
    recorded: dict[str, str] = {}
    changes: list[dict[str, Any]] = []
    for key, outcome in mine.items():
        row = current.get(key)
        if row is None or outcome.status is None or not may_overwrite(row.status, outcome.status):
            continue
        # Every column of the one statement is written; a column the answer leaves alone keeps
        # the row's value (NIPR's id when the answer names none, completed_at until final).
        changes.append(
            {
                "transaction_id": row.transaction_id,
                "status": outcome.status,
                "nipr_status": outcome.nipr_status,
                "nipr_message": outcome.nipr_message,
                "submitted_at": row.submitted_at or now,
                "nipr_trans": outcome.nipr_trans or row.nipr_trans,
                "completed_at": (
                    now if outcome.status in FINAL_TRANSACTION_STATUSES else row.completed_at
                ),
            }
        )
        recorded[key] = outcome.status
    _write_answers(connection, changes)
    if recorded:
        # NIPR's answers, in the audit trail, in the transaction that wrote them.
        counts = status_counts(recorded.values())
        record_event(
            connection,
            BatchEvent(
                run.batch_id,
                EVENT_ANSWERED,
                NIPR_ANSWERS_BY,
                DOOR_SENSOR,
                int(run.approval_version or 0),
                "NIPR answered " + ", ".join(f"{n} {status}" for status, n in counts.items() if n),
            ),
            now,
        )
    return recorded


_ANSWER_COLUMNS = ("status", "nipr_status", "nipr_message", "submitted_at", "nipr_trans")


def _write_answers(connection: Connection, changes: list[dict[str, Any]]) -> None:
    """One statement for a reply's answers: on PostgreSQL an UPDATE ... FROM (VALUES ...), one
    round trip; elsewhere (SQLite) one prepared UPDATE run for every row by executemany."""
    if not changes:
        return
    t = transactions_t
    columns = (*_ANSWER_COLUMNS, "completed_at")
    if connection.dialect.name == "postgresql":
        answers = sa.values(
            sa.column("transaction_id", sa.String),
            *(sa.column(name, t.c[name].type) for name in columns),
            name="answers",
        ).data([tuple(change[c] for c in ("transaction_id", *columns)) for change in changes])
        connection.execute(
            sa.update(t)
            .where(t.c.transaction_id == answers.c.transaction_id)
            # A column of NULLs in VALUES is text to PostgreSQL: cast back to the column's type.
            .values({name: sa.cast(answers.c[name], t.c[name].type) for name in columns})
        )
        return
    connection.execute(
        sa.update(t)
        .where(t.c.transaction_id == sa.bindparam("b_transaction_id"))
        .values({name: sa.bindparam(f"b_{name}") for name in columns}),
        [{f"b_{name}": value for name, value in change.items()} for change in changes],
    )
