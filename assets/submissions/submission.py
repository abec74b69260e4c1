"""Exactly-once submission of a batch's transactions to the NIPR Gateway (SPEC sections 8, 13).

A customer pays per transaction, so a transaction must reach NIPR once: never twice, never not
at all, whatever crashes. The tools (docs/submission.md tells the whole story):
- the batch lock (lock.py): one run per batch at a time, released when its process dies;
- the ledger: a `submission_attempts` row is committed before every Gateway call, together with
  `transactions.submission_chunk` for the transactions it carries. So after a crash, "was this
  transaction maybe sent?" has an answer in the database;
- the idempotency key, sent as CUST_TRANS: NIPR (and the sandbox) recognise a resend (3999);
- look-up before any resend: when anything may have reached NIPR, the run first asks the
  Gateway what it has, and only sends what NIPR does not have;
- the settle wait: a request that was in flight when its run died (or timed out) may still be
  processed by NIPR a little later; the look-up waits until the last unanswered call is
  `gateway.settle_seconds` old, so that request cannot be overtaken by a resend.
An unknown outcome (no reply, an unreadable reply, a transaction missing from the reply) leaves
those transactions `Ready to Submit` and goes back to the look-up. Nothing is marked Accepted
without NIPR saying so. This module is the flow; the writes to the ledger and of NIPR's answers
are `attempts.py`.

`submit_batch` and `poll_batch` are what the Dagster op and the CLI call. No Dagster import
here: the resources are passed in, and the log is anything with debug/info/warning.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import sqlalchemy as sa

from assets.batches.events import BatchEvent, record_event
from assets.keys import APPROVED_BATCH_SENSOR_NAME
from assets.submissions.attempts import (
    ANSWERED,
    UNKNOWN,
    BatchChanged,
    Database,
    Gateway,
    Log,
    SubmissionConflict,
    SubmissionReport,
    SubmissionRun,
    batch_state,
    batches_t,
    close_attempt,
    has_attempts,
    record_answers,
    record_attempt,
    settle_unanswered,
    transactions_t,
    wait_for_settle,
)
from assets.submissions.lock import BatchBusy, batch_lock
from assets.submissions.planning import (
    MAX_PER_REQUEST,
    batch_status_after,
    describe_gateway_answer,
    describe_gateway_fault,
    plan_chunks,
    status_counts,
)
from resources.nipr_gateway import GatewayAuthFailed, GatewayError
from resources.nipr_gateway_xml import GatewayTransaction, Outcome
from schemas.statuses import (
    BATCH_COMPLETED,
    BATCH_IN_SUBMISSION_STATUSES,
    BATCH_SUBMITTED,
    BATCH_SUBMITTING,
    DOOR_SENSOR,
    EVENT_SUBMITTED,
    IN_FLIGHT_TRANSACTION_STATUSES,
    READY_TO_SUBMIT,
)
from schemas.tables import TABLES

__all__ = [
    "BatchBusy",
    "SubmissionConflict",
    "SubmissionIncomplete",
    "SubmissionReport",
    "poll_batch",
    "submit_batch",
]

companies_t = TABLES["companies"]
settings_t = TABLES["company_state_settings"]
producers_t = TABLES["producers"]
agencies_t = TABLES["agencies"]

_module_log = logging.getLogger(__name__)

# The first wait before polling again what NIPR said is still pending; each later wait doubles,
# up to the run's poll interval. A state's review may end in a moment or in days: a short first
# wait catches the quick ones, the bounded rounds leave the rest to poll_batch.
FIRST_POLL_WAIT_SECONDS = 0.25


class SubmissionIncomplete(RuntimeError):
    """The Gateway stayed unavailable: some transactions' fate is unknown or unsent. Nothing
    was marked without an answer; a later run looks up and finishes the batch."""

    def __init__(self, message: str, report: SubmissionReport) -> None:
        super().__init__(message)
        self.report = report


def utc_now() -> datetime:
    return datetime.now(UTC)


# ====================================================================== public API
def submit_batch(
    database: Database,
    gateway: Gateway,
    batch_id: str,
    approval_version: int,
    *,
    now: Callable[[], datetime] = utc_now,
    log: Log | None = None,
    chunk_size: int = MAX_PER_REQUEST,
    max_send_rounds: int = 4,
    backoff_seconds: float = 2.0,
    max_poll_rounds: int = 3,
    poll_interval_seconds: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
) -> SubmissionReport:
    """Send the batch's `Ready to Submit` transactions to NIPR exactly once (SPEC 8).

    Does nothing (action "skipped", with the reason) when the batch is missing, superseded by a
    later approval, or not Approved/Submitting/Submitted. Raises BatchBusy when another run holds
    the batch, SubmissionIncomplete when the Gateway stays unavailable for `max_send_rounds`
    rounds (backoff doubling from `backoff_seconds`), GatewayAuthFailed on refused credentials.
    """
    run = SubmissionRun(
        engine=database.engine,
        gateway=gateway,
        batch_id=batch_id,
        approval_version=approval_version,
        now=now,
        log=log or _module_log,
        sleep=sleep,
        report=SubmissionReport(batch_id, approval_version, "submitted"),
    )
    plan_chunks([], chunk_size)  # validates the size before anything happens
    with batch_lock(run.engine, batch_id):
        skip = _start(run)
        if skip is not None:
            run.report.action, run.report.reason = "skipped", skip
            run.log.info(f"batch {batch_id} v{approval_version}: nothing done: {skip}")
            return _finish(run, update_status=False)
        _send_until_done(run, chunk_size, max_send_rounds, backoff_seconds)
        _poll(run, max_poll_rounds, poll_interval_seconds)
        return _finish(run, update_status=True)


def poll_batch(
    database: Database,
    gateway: Gateway,
    batch_id: str,
    *,
    now: Callable[[], datetime] = utc_now,
    log: Log | None = None,
    max_poll_rounds: int = 1,
    poll_interval_seconds: float = 0.0,
    sleep: Callable[[float], None] = time.sleep,
) -> SubmissionReport:
    """Ask NIPR for the final answers of a batch's `Submitted` / `Pending State Review`
    transactions. Never sends a transaction. A `Submitted` batch becomes `Completed` when every
    non-held transaction is final; a `Submitting` batch (a run died) is polled but left for
    submit_batch, which must look up its `Ready to Submit` transactions first."""
    run = SubmissionRun(
        engine=database.engine,
        gateway=gateway,
        batch_id=batch_id,
        approval_version=None,
        now=now,
        log=log or _module_log,
        sleep=sleep,
        report=SubmissionReport(batch_id, None, "polled"),
    )
    with batch_lock(run.engine, batch_id):
        with run.engine.connect() as connection:
            batch = batch_state(connection, batch_id)
        if batch is None or batch.status not in (BATCH_SUBMITTED, BATCH_SUBMITTING):
            status = "no such batch" if batch is None else f"batch status is {batch.status}"
            run.report.action, run.report.reason = (
                "skipped",
                f"{status}; only Submitted batches are polled",
            )
            return _finish(run, update_status=False)
        run.report.approval_version = batch.approval_version
        _poll(run, max_poll_rounds, poll_interval_seconds)
        return _finish(run, update_status=batch.status == BATCH_SUBMITTED)


# ====================================================================== steps
def _start(run: SubmissionRun) -> str | None:
    """Step 1: the batch may be submitted by this run? Set it Submitting. Else: why not."""
    with run.engine.begin() as connection:
        batch = batch_state(connection, run.batch_id)
        if batch is None:
            return "no such batch"
        if batch.approval_version != run.approval_version:
            return (
                f"superseded: the batch is at approval version {batch.approval_version}, "
                f"this run was for version {run.approval_version}"
            )
        if batch.status not in BATCH_IN_SUBMISSION_STATUSES:
            return f"batch status is {batch.status}; only Approved batches are submitted"
        if batch.status != BATCH_SUBMITTING:
            connection.execute(
                sa.update(batches_t)
                .where(batches_t.c.batch_id == run.batch_id)
                .values(status=BATCH_SUBMITTING)
            )
            # The audit trail's `submitted`: the batch handed to the Gateway by this run, in
            # the transaction that claims it, before any answer can be recorded.
            record_event(
                connection,
                BatchEvent(
                    run.batch_id,
                    EVENT_SUBMITTED,
                    APPROVED_BATCH_SENSOR_NAME,
                    DOOR_SENSOR,
                    int(batch.approval_version or 0),
                    "sending to the NIPR Gateway",
                ),
                run.now(),
            )
    return None


def _send_until_done(run: SubmissionRun, chunk_size: int, max_rounds: int, backoff: float) -> None:
    """Steps 2-4: look up (when anything may be at NIPR), send the rest, repeat on unknowns."""
    for round_number in range(1, max_rounds + 1):
        problem: str | None
        try:
            if has_attempts(run):
                _recover(run)
            ready = _ready_transactions(run)
            if not ready:
                return
            problem = _send_chunks(run, ready, chunk_size)
        except GatewayAuthFailed:
            raise
        except GatewayError as error:  # the look-up failed: nothing may be sent blind
            problem = f"look-up failed: {error}"
        if problem is None:
            return
        run.report.problems.append(problem)
        if round_number == max_rounds:
            break
        delay = backoff * 2 ** (round_number - 1)
        run.log.warning(
            f"batch {run.batch_id}: {problem}; looking up before any resend, in {delay:.1f}s "
            f"(round {round_number + 1} of {max_rounds})"
        )
        run.sleep(delay)
    counts = _counts(run)
    run.report.status_counts = counts
    raise SubmissionIncomplete(
        f"batch {run.batch_id}: the NIPR Gateway gave no usable answer after {max_rounds} "
        f"rounds ({run.report.problems[-1]}). {counts.get(READY_TO_SUBMIT, 0)} transaction(s) "
        "are still Ready to Submit; none was marked without an answer. Run the submission again "
        "later: it looks up what NIPR already has before sending anything.",
        run.report,
    )


def _recover(run: SubmissionRun) -> None:
    """Step 2: ask NIPR what it has of our Ready to Submit transactions; record it.

    The sandbox's batch look-up first (one request, not a poll round); if it fails, NIPR-style
    polls of the transactions that may have been sent (submission_chunk set, which happens in
    the same database transaction as the attempt row, before the call). Raises GatewayError when
    neither gives an answer for every candidate: then nothing may be sent.
    """
    with run.engine.connect() as connection:
        candidates = {
            row.idempotency_key: row.submission_chunk
            for row in connection.execute(
                sa.select(
                    transactions_t.c.idempotency_key, transactions_t.c.submission_chunk
                ).where(
                    transactions_t.c.batch_id == run.batch_id,
                    transactions_t.c.status == READY_TO_SUBMIT,
                )
            )
        }
    if not candidates:
        return
    wait_for_settle(run)
    run.log.debug(f"phase:lookup batch={run.batch_id}")
    run.report.lookups += 1
    outcomes: list[Outcome]
    try:
        reply = run.gateway.lookup_batch(run.batch_id)
        if reply.request_errors:
            raise GatewayError(f"the look-up was refused: {reply.describe_request_errors()}")
        # The look-up lists everything NIPR recorded under the batch: absent = not recorded.
        outcomes = list(reply.outcomes.values())
        source = "look-up"
    except GatewayAuthFailed:
        raise
    except GatewayError as error:
        run.log.warning(f"batch {run.batch_id}: {error}; asking by NIPR-style polling instead")
        outcomes = _poll_keys(
            run, [k for k, chunk in sorted(candidates.items()) if chunk is not None]
        )
        source = "poll"
    with run.engine.begin() as connection:
        recorded = record_answers(connection, run, outcomes)
        # The ledger: calls whose run ended before their reply was written are settled now.
        settle_unanswered(connection, run, source)
    found = sum(1 for key in candidates if recorded.get(key))
    run.report.recovered_by_lookup += found
    run.log.info(
        f"batch {run.batch_id}: {source}: NIPR already has {found} of {len(candidates)} "
        "transaction(s) not known to be sent; the rest stay Ready to Submit"
    )


def _poll_keys(run: SubmissionRun, keys: Sequence[str]) -> list[Outcome]:
    """NIPR-style poll of these keys; every key must be answered (found or 3004), else raise."""
    outcomes: list[Outcome] = []
    for chunk in plan_chunks(list(keys)):
        pairs = [(run.batch_id, key) for key in chunk]
        reply = run.gateway.poll(pairs)
        missing = reply.missing(pairs)
        if missing:
            raise GatewayError(
                f"the poll answered {len(pairs) - len(missing)} of {len(pairs)} keys"
                + (f" ({reply.describe_request_errors()})" if reply.request_errors else "")
            )
        outcomes.extend(reply.outcomes.values())
    return outcomes


def _ready_transactions(run: SubmissionRun) -> list[GatewayTransaction]:
    """The batch's Ready to Submit transactions with what the Gateway request carries besides
    the row: the applicant's name (producers; a firm's name is its last_name, else the agency's
    name), the company's name, FEIN and state id (docs/submission.md, "The Gateway request")."""
    t, c, s, p, a = transactions_t, companies_t, settings_t, producers_t, agencies_t
    # NIPR's transaction fee per line (TRANS_FEE) is `transactions.estimated_nipr_fee`; a line
    # evaluated before migration 0008 has none, and TRANS_FEE is then sent as 0.00.
    query = (
        sa.select(
            t.c.transaction_id,
            t.c.idempotency_key,
            t.c.kind,
            t.c.npn,
            t.c.state_code,
            t.c.cocode,
            t.c.loa_code,
            t.c.license_class_code,
            t.c.license_number,
            t.c.effective_date,
            t.c.estimated_fee,
            t.c.termination_reason_code,
            sa.func.coalesce(t.c.agent_type, p.c.agent_type).label("agent_type"),
            p.c.first_name,
            sa.func.coalesce(p.c.last_name, a.c.agency_name).label("last_name"),
            c.c.company_name,
            c.c.fein,
            s.c.state_company_id,
            t.c.estimated_nipr_fee,
        )
        .select_from(
            t.outerjoin(c, c.c.cocode == t.c.cocode)
            .outerjoin(s, sa.and_(s.c.cocode == t.c.cocode, s.c.state_code == t.c.state_code))
            .outerjoin(p, p.c.npn == t.c.npn)
            .outerjoin(a, a.c.agency_npn == t.c.npn)
        )
        .where(t.c.batch_id == run.batch_id, t.c.status == READY_TO_SUBMIT)
        .order_by(t.c.transaction_id)
    )
    with run.engine.connect() as connection:
        rows = connection.execute(query).all()
    missing_keys = [r.transaction_id for r in rows if not r.idempotency_key]
    if missing_keys:
        # Without a key NIPR cannot recognise a resend: such a transaction is never sent.
        raise ValueError(
            f"batch {run.batch_id}: transaction(s) {', '.join(missing_keys[:5])} have no "
            "idempotency_key; refusing to send them"
        )
    return [
        GatewayTransaction(
            idempotency_key=r.idempotency_key,
            kind=r.kind,
            npn=r.npn,
            state_code=r.state_code or "",
            cocode=r.cocode or "",
            loa_code=r.loa_code,
            license_class_code=r.license_class_code,
            effective_date=r.effective_date,
            estimated_fee=r.estimated_fee,
            state_company_id=r.state_company_id,
            fein=r.fein,
            termination_reason_code=r.termination_reason_code,
            license_number=r.license_number,
            agent_type=r.agent_type,
            first_name=r.first_name,
            last_name=r.last_name,
            company_name=r.company_name,
            nipr_fee=r.estimated_nipr_fee,
        )
        for r in rows
    ]


def _send_chunks(
    run: SubmissionRun, ready: list[GatewayTransaction], chunk_size: int
) -> str | None:
    """Step 3. None when every chunk was answered for every transaction, else the problem."""
    for chunk in plan_chunks(ready, chunk_size):
        try:
            attempt = record_attempt(run, chunk)
        except BatchChanged:
            return None  # superseded or rejected meanwhile: stop sending, nothing to retry
        if attempt is None:
            continue  # none of the chunk is Ready to Submit any more (e.g. cancelled)
        attempt_id, chunk_number, sent_at, chunk = attempt
        run.log.debug(f"phase:attempt-recorded batch={run.batch_id} chunk={chunk_number}")
        try:
            run.log.debug(f"phase:calling batch={run.batch_id} chunk={chunk_number}")
            reply = run.gateway.send(chunk, cust_batch=run.batch_id, now=sent_at)
        except GatewayAuthFailed as error:
            close_attempt(run, attempt_id, f"refused: {error}", str(error))
            run.log.warning(
                describe_gateway_fault(run.batch_id, chunk_number, len(chunk), f"refused: {error}")
            )
            raise
        except GatewayError as error:
            run.report.unknown_outcomes += len(chunk)
            close_attempt(run, attempt_id, f"{UNKNOWN}: {type(error).__name__}", str(error))
            run.log.warning(
                describe_gateway_fault(
                    run.batch_id, chunk_number, len(chunk), f"{type(error).__name__}: {error}"
                )
            )
            return f"chunk {chunk_number}: outcome unknown ({error})"
        run.log.debug(f"phase:replied batch={run.batch_id} chunk={chunk_number}")
        run.report.chunks_sent += 1
        run.report.transactions_sent += len(chunk)
        keys = [(run.batch_id, tx.idempotency_key) for tx in chunk]
        missing = [k for k in reply.missing(keys)] + [
            k for k in keys if k in reply.outcomes and not reply.outcomes[k].found
        ]
        with run.engine.begin() as connection:
            record_answers(connection, run, reply.outcomes.values())
            if missing:
                why = f"{len(missing)} of {len(keys)} transaction(s) not in the reply"
                if reply.request_errors:
                    why += f"; {reply.describe_request_errors()}"
                status, message = f"{UNKNOWN}: {why}", why
            else:
                status, message = ANSWERED, None
            close_attempt(run, attempt_id, status, message, connection=connection)
        run.log.debug(f"phase:reply-recorded batch={run.batch_id} chunk={chunk_number}")
        # Each call in the run's log, as docs/submission.md promises: what NIPR said, per chunk.
        answers = [reply.outcomes[k].status for k in keys if k in reply.outcomes]
        run.log.info(
            describe_gateway_answer(run.batch_id, chunk_number, len(chunk), answers, len(missing))
        )
        if reply.request_errors:
            run.log.warning(
                f"batch {run.batch_id}: Gateway call {chunk_number}: NIPR reported "
                f"{reply.describe_request_errors()}"
            )
        if missing:
            run.report.unknown_outcomes += len(missing)
            return f"chunk {chunk_number}: {message}"
    return None


def _poll(run: SubmissionRun, max_rounds: int, interval: float) -> None:
    """Step 5: bounded polling of Submitted / Pending State Review transactions. A failed poll
    is not an error: those transactions simply wait for poll_batch.

    The first round asks at once: the Gateway has just answered the sends, nothing is waited
    for. A later round comes only when NIPR said a transaction is still pending, after a wait
    that doubles from FIRST_POLL_WAIT_SECONDS up to `interval` (no wait when `interval` is 0).
    """
    wait = min(FIRST_POLL_WAIT_SECONDS, interval)
    for round_number in range(max_rounds):
        with run.engine.connect() as connection:
            keys: list[str] = list(
                connection.execute(
                    sa.select(transactions_t.c.idempotency_key)
                    .where(
                        transactions_t.c.batch_id == run.batch_id,
                        transactions_t.c.status.in_(sorted(IN_FLIGHT_TRANSACTION_STATUSES)),
                    )
                    .order_by(transactions_t.c.transaction_id)
                ).scalars()
            )
        if not keys:
            return
        if round_number and wait > 0:
            run.sleep(wait)
            wait = min(wait * 2, interval)
        run.log.debug(f"phase:polling batch={run.batch_id}")
        run.report.poll_rounds += 1
        for chunk in plan_chunks(keys):
            try:
                reply = run.gateway.poll([(run.batch_id, key) for key in chunk])
            except GatewayAuthFailed:
                raise
            except GatewayError as error:
                run.report.problems.append(f"poll: {error}")
                run.log.warning(
                    f"batch {run.batch_id}: poll failed ({error}); later polls ask again"
                )
                return
            with run.engine.begin() as connection:
                record_answers(connection, run, reply.outcomes.values())


def _counts(run: SubmissionRun) -> dict[str, int]:
    with run.engine.connect() as connection:
        statuses: list[str | None] = list(
            connection.execute(
                sa.select(transactions_t.c.status).where(transactions_t.c.batch_id == run.batch_id)
            ).scalars()
        )
        return status_counts(statuses)


def _finish(run: SubmissionRun, update_status: bool) -> SubmissionReport:
    """Step 6: Completed when every non-held transaction is final, else Submitted.

    A batch still in this run's hands gets either status. A batch approved again while this
    run was sending (a newer approval version) is left to that version's run, unless nothing
    is left for it to do: when every line is final, the batch is Completed here, whatever its
    version, so it never waits in Approved for a run with nothing to send. A reviewer's
    Rejected is never overwritten.
    """
    with run.engine.begin() as connection:
        statuses: list[str | None] = list(
            connection.execute(
                sa.select(transactions_t.c.status).where(transactions_t.c.batch_id == run.batch_id)
            ).scalars()
        )
        batch = batch_state(connection, run.batch_id)
        status = batch.status if batch is not None else None
        after = batch_status_after(statuses)
        ours = (
            batch is not None
            and batch.status in (BATCH_SUBMITTING, BATCH_SUBMITTED)
            and (run.approval_version is None or batch.approval_version == run.approval_version)
        )
        done_for_any_version = (
            batch is not None
            and batch.status in BATCH_IN_SUBMISSION_STATUSES
            and after == BATCH_COMPLETED
        )
        if update_status and (ours or done_for_any_version):
            # Conditional on the row as read: a change made meanwhile wins over this one.
            changed = connection.execute(
                sa.update(batches_t)
                .where(
                    batches_t.c.batch_id == run.batch_id,
                    batches_t.c.status == batch.status,
                    batches_t.c.approval_version.is_not_distinct_from(batch.approval_version),
                )
                .values(status=after)
            ).rowcount
            if changed:
                status = after
    run.report.batch_status = status
    run.report.status_counts = status_counts(statuses)
    run.log.info(
        f"batch {run.batch_id}: {run.report.action}"
        + (f" ({run.report.reason})" if run.report.reason else "")
        + f"; batch {status}; {run.report.status_counts}; {run.report.chunks_sent} chunk(s) sent, "
        f"{run.report.recovered_by_lookup} found by look-up, {run.report.unknown_outcomes} unknown"
    )
    return run.report
