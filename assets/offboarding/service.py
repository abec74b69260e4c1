"""Offboarding producers: the steps, in ONE database transaction per producer.

The same steps whoever asks (`npnflow offboard`, an `offboard` upload's asset,
`offboard_producers_job` from the Launchpad). For each producer, in its own transaction:

1. mark it offboarded (`is_active` false, `offboarded_at`, `offboarded_by`): the first write,
   which also finds an unknown or already offboarded NPN (then nothing changes). The next
   subscriptions run takes it off the PDB Alerts targets (`assets/nipr/roster.py`);
2. every Appointed line with the companies asked for becomes a termination request, checked
   by the termination engine as a terminate file's are, written as one termination batch per
   CoCode (`rules.py`);
3. its appointment lines never sent (Ready to Submit, Held (JIT)) are Cancelled; a batch left
   with no open line is Completed. A batch a submission run may be sending is locked first
   (its submission lock, `assets/submissions/lock.py`, waited for a few seconds, as another
   offboarding holds it for a moment): while a run holds it, the producer is not offboarded
   and the outcome says to try again when the run ends;
4. its portal seats are Revoked (free again, the invitation link void).

A failure in any step rolls back every step of that producer; producers before it stay
offboarded, producers after it are still tried. A Dagster caller fails its run when one failed.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy.engine import Connection

from assets.batches import store as batch_store
from assets.offboarding import store
from assets.offboarding.rules import (
    ALREADY_OFFBOARDED,
    NOT_OFFBOARDED,
    OFFBOARDED,
    PRODUCER_NOT_FOUND,
    OffboardingRefused,
    OffboardRequest,
    ProducerOutcome,
    chosen_cocodes,
    plan_offboarding_batches,
    termination_requests,
    unknown_cocodes,
    with_repeats_on_record,
)
from assets.rules.business_day import nipr_business_date
from assets.submissions.lock import BatchBusy, wait_for_batch_lock
from assets.terminations.eligibility import evaluate_termination_requests
from assets.terminations.store import read_termination_inputs
from resources.database import OperationalDatabase
from schemas import statuses

__all__ = ["OffboardingRun", "offboard_producers"]

#: The columns of a written termination a person reads.
TERMINATION_COLUMNS = (
    "transaction_id",
    "batch_id",
    "npn",
    "state_code",
    "cocode",
    "loa_code",
    "termination_reason_code",
    "effective_date",
    "eligibility_reason",
    "status",
    "estimated_fee",
    "estimated_nipr_fee",
)
BATCH_COLUMNS = (
    "batch_id",
    "cocode",
    "status",
    "approval_version",
    "approved_by",
    "estimated_fees",
)


@dataclass(frozen=True)
class OffboardingRun:
    """The outcome of each producer asked for, in the order asked."""

    outcomes: list[ProducerOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[ProducerOutcome]:
        return [o for o in self.outcomes if o.outcome == NOT_OFFBOARDED]

    def count(self, outcome: str) -> int:
        return sum(o.outcome == outcome for o in self.outcomes)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def offboard_producers(
    database: OperationalDatabase,
    requests: Sequence[OffboardRequest],
    *,
    offboarded_by: str,
    submit_immediately: bool = False,
    upload_id: str | None = None,
    now: Callable[[], dt.datetime] = _now,
) -> OffboardingRun:
    """Offboard each requested producer in a transaction of its own (module docstring).

    Raises `OffboardingRefused`, before changing anything, for a blank name or a CoCode that
    is not one of the customer's companies."""
    by = (offboarded_by or "").strip()
    if not by:
        # Who decided is the audit trail of terminations that cost fees: never blank.
        raise OffboardingRefused("Say who offboards (--by NAME): the name is recorded.")
    with database.begin() as connection:
        companies = store.company_cocodes(connection)
    asked = sorted({c for r in requests for c in r.cocodes})
    unknown = unknown_cocodes(asked, companies)
    if unknown:
        raise OffboardingRefused(
            f"CoCode(s) {', '.join(unknown)} not among your companies (config/companies.yaml: "
            f"{', '.join(companies) or 'none loaded'}); nothing was offboarded. Name your "
            "companies' CoCodes, or none for all of them."
        )
    outcomes = []
    seen: set[str] = set()
    for request in requests:
        if request.npn in seen:
            continue  # listed twice: offboarded once
        seen.add(request.npn)
        outcomes.append(
            _offboard_one(
                database,
                request,
                chosen_cocodes(request, companies),
                by=by,
                submit_immediately=submit_immediately,
                upload_id=upload_id,
                now=now(),
            )
        )
    return OffboardingRun(outcomes)


def _offboard_one(
    database: OperationalDatabase,
    request: OffboardRequest,
    cocodes: list[str],
    *,
    by: str,
    submit_immediately: bool,
    upload_id: str | None,
    now: dt.datetime,
) -> ProducerOutcome:
    npn = request.npn
    with database.begin() as connection:
        before = store.read_producer(connection, npn)
        to_lock = store.unsent_batches_in_submission(connection, npn) if before else []
    if before is None:
        return ProducerOutcome(
            npn,
            PRODUCER_NOT_FOUND,
            "Not a producer on record: nothing changed. Check the NPN.",
            request.row_number,
        )
    if before.offboarded_at is not None:
        return _already(request, before)
    try:
        with ExitStack() as locks:
            for batch_id in to_lock:
                locks.enter_context(
                    wait_for_batch_lock(database.engine, batch_id, LOCK_WAIT_SECONDS)
                )
            with database.begin() as connection:
                outcome = _steps(
                    connection, request, cocodes, by, submit_immediately, upload_id, now, to_lock
                )
    except BatchBusy as busy:
        return ProducerOutcome(
            npn,
            NOT_OFFBOARDED,
            f"Batch {busy.batch_id} holds a line of this producer not yet sent and a submission "
            "run is sending it right now: nothing changed. Offboard it again when that run "
            "ends.",
            request.row_number,
        )
    except _AlreadyOffboarded:
        with database.begin() as connection:
            now_state = store.read_producer(connection, npn)
        return _already(request, now_state or before)
    except Exception as error:  # noqa: BLE001 - any failure: this producer rolled back, say so
        return ProducerOutcome(
            npn,
            NOT_OFFBOARDED,
            f"Failed ({type(error).__name__}: {error}); every step of this producer was "
            "rolled back, nothing of it changed. Fix the cause and offboard it again.",
            request.row_number,
        )
    return outcome


#: How long to wait for a batch's submission lock: another offboarding holds it for a moment
#: (the producer's transaction); a submission run holds it while it sends, far longer.
LOCK_WAIT_SECONDS = 5.0


class _AlreadyOffboarded(Exception):
    """Another offboarding of the producer committed between the read and the write."""


def _already(request: OffboardRequest, state: store.ProducerState) -> ProducerOutcome:
    when = (
        pd.Timestamp(state.offboarded_at).strftime("%Y-%m-%d %H:%M UTC")
        if state.offboarded_at is not None
        else "earlier"
    )
    return ProducerOutcome(
        request.npn,
        ALREADY_OFFBOARDED,
        f"Offboarded on {when} by {state.offboarded_by or 'someone'}: nothing changed. "
        "An agent file onboards it again.",
        request.row_number,
    )


def _steps(
    connection: Connection,
    request: OffboardRequest,
    cocodes: list[str],
    by: str,
    submit_immediately: bool,
    upload_id: str | None,
    now: dt.datetime,
    locked: list[str],
) -> ProducerOutcome:
    npn = request.npn
    if not store.mark_offboarded(connection, npn, by=by, now=now):
        raise _AlreadyOffboarded(npn)
    # The termination repeat check reads the open lines: no other writer creates one meanwhile.
    batch_store.serialise_line_claims(connection)
    inputs = read_termination_inputs(connection, [npn])
    requests = termination_requests(
        request, inputs["appointments"], cocodes, submit_immediately=submit_immediately
    )
    terminations = pd.DataFrame(columns=list(TERMINATION_COLUMNS))
    written = pd.DataFrame(columns=list(BATCH_COLUMNS))
    repeats = pd.DataFrame()
    new_batches: list[str] = []
    if len(requests):
        evaluated = with_repeats_on_record(
            evaluate_termination_requests(requests, inputs, nipr_business_date(now)), requests
        )
        # From a file: the upload's id (a continued run finds its own ids); else one of its own.
        origin = upload_id or f"{now:%Y%m%dT%H%M%S.%f}/{uuid.uuid4().hex}"
        plan = plan_offboarding_batches(
            evaluated, npn=npn, now=now, offboarded_by=by, upload_id=upload_id, origin=origin
        )
        store.write_batches(
            connection,
            plan,
            by=by,
            door=statuses.DOOR_UPLOAD if upload_id else statuses.DOOR_OFFBOARDING,
        )
        terminations = store.frame_of(plan.transactions, TERMINATION_COLUMNS)
        written = store.frame_of(plan.batches, BATCH_COLUMNS)
        repeats = plan.repeats
        new_batches = plan.batches["batch_id"].tolist()
    cancelled = store.cancel_unsent_lines(connection, npn, now=now, keep_batches=new_batches)
    closed = store.complete_batches_without_open_lines(
        connection, [c.batch_id for c in cancelled] + list(locked)
    )
    revoked = store.revoke_portal_access(connection, npn, by=by, now=now)
    companies = ", ".join(cocodes) if cocodes else "none loaded"
    return ProducerOutcome(
        npn,
        OFFBOARDED,
        f"Marked offboarded by {by} (no longer active; off the PDB Alerts targets at the next "
        f"subscriptions run). Companies: {companies}.",
        request.row_number,
        terminations=terminations,
        repeats=repeats,
        batches=written,
        cancelled=tuple(cancelled),
        closed_batches=tuple(closed),
        revoked=tuple(revoked),
    )
