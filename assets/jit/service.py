"""Releasing and cancelling held JIT lines, in ONE database transaction per command or file.

The same steps whoever asks (`npnflow jit release`, a `jit_release` upload's asset,
`release_jit_job`). A release (docs/decisions/0026-jit-release.md):

1. finds the `Held (JIT)` appointment lines the requests name; a batch a submission run may be
   sending (Approved, Submitting, Submitted) that holds one is locked first with its
   submission lock (`assets/submissions/lock.py`, waited for a few seconds);
2. in one transaction: takes the open-line claim (`serialise_line_claims`, as an upload
   does), re-checks each line with the appointment engine as of today's NIPR business date
   (a license may have lapsed since the hold: the line becomes `Not Eligible` with the
   engine's reason and is never sent), with the business date as its effective date where
   the state takes one; creates one new `appointment` batch per CoCode, moves the still
   eligible lines into it (`Ready to Submit`, state fee as evaluated now and NIPR's fee,
   `held_batch_id`, `released_at`/`released_by`, `jit_business_date`, `jit_due_date`), and
   approves it at version 1 with `approved_by` the releaser; a held batch left with no open
   line is `Completed`.

The line itself moves (same transaction id, same idempotency key): released twice, it is
found `Held (JIT)` only once, and a concurrent second release changes nothing. A failure at
any step rolls back the whole release: no line is ever in two batches.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from decimal import Decimal

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assets.appointments.eligibility import evaluate_appointment_requests
from assets.appointments.eligibility_vocabulary import REPEAT_OF_OPEN_TRANSACTION
from assets.appointments.store import read_eligibility_inputs
from assets.batches.approvers import ApproversConfigError, approval_refusal, load_approvers
from assets.batches.events import BatchEvent, droppers_of_upload, record_events
from assets.batches.store import serialise_line_claims
from assets.jit.rules import (
    RELEASE_BATCH_PREFIX,
    JitLine,
    JitRefused,
    ReleaseOutcome,
    ReleaseRequest,
    as_date,
    check_request,
    deadline_days_by_state,
    effective_date_specifiable_by_state,
    held_line_matches,
    jit_due_date,
    released_effective_date,
)
from assets.rules.business_day import nipr_business_date
from assets.submissions.lock import BatchBusy, wait_for_batch_lock
from resources.database import OperationalDatabase
from schemas import statuses
from schemas.tables import TABLES

__all__ = ["cancel_held_lines", "held_lines", "release_held_lines"]

transactions = TABLES["transactions"]
batches = TABLES["transaction_batches"]

KIND = "appointment"
#: How long to wait for a held batch's submission lock (a submission run holds it far longer).
LOCK_WAIT_SECONDS = 5.0


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def held_lines(connection: Connection, npns: Sequence[str] | None = None) -> pd.DataFrame:
    """The `Held (JIT)` appointment lines (of these NPNs), with their batch's status."""
    statement = (
        sa.select(transactions, batches.c.status.label("batch_status"))
        .select_from(transactions.join(batches, batches.c.batch_id == transactions.c.batch_id))
        .where(transactions.c.kind == KIND, transactions.c.status == statuses.HELD_JIT)
        .order_by(transactions.c.transaction_id)
    )
    if npns is not None:
        statement = statement.where(transactions.c.npn.in_(sorted(set(npns))))
    rows = connection.execute(statement)
    return pd.DataFrame(rows.fetchall(), columns=list(rows.keys()))


def _select(
    held: pd.DataFrame, requests: Sequence[ReleaseRequest]
) -> tuple[list[tuple[dict[str, object], ReleaseRequest]], list[str]]:
    """Each held line named, once (the first request naming it), and the requests naming none."""
    chosen: dict[str, tuple[dict[str, object], ReleaseRequest]] = {}
    unmatched: list[str] = []
    records = held.to_dict("records")
    for request in requests:
        found = [r for r in records if held_line_matches(r, request)]
        if not found:
            unmatched.append(request.label())
        for record in found:
            chosen.setdefault(str(record["transaction_id"]), (record, request))
    return list(chosen.values()), unmatched


def _npns(requests: Sequence[ReleaseRequest]) -> list[str] | None:
    if any(r.transaction_ids for r in requests):
        return None  # by id: any producer
    return sorted({str(r.npn).strip() for r in requests})


def _locked(database: OperationalDatabase, batch_ids: Sequence[str], stack: ExitStack) -> None:
    for batch_id in sorted(set(batch_ids)):
        try:
            stack.enter_context(wait_for_batch_lock(database.engine, batch_id, LOCK_WAIT_SECONDS))
        except BatchBusy:
            raise JitRefused(
                f"Batch {batch_id} holds a line named and a submission run is sending it right "
                "now: nothing changed. Run the command again when that run ends."
            ) from None


def _held_in_submission(held: pd.DataFrame) -> list[str]:
    in_submission = held["batch_status"].isin(sorted(statuses.BATCH_IN_SUBMISSION_STATUSES))
    return sorted(set(held.loc[in_submission, "batch_id"].astype(str)))


def _by(name: str) -> str:
    by = (name or "").strip()
    if not by:
        # The release is the approval of lines that cost fees: who decided is never blank.
        raise JitRefused("Say who releases (--by NAME): the name is recorded as the approver.")
    return by


def release_held_lines(
    database: OperationalDatabase,
    requests: Sequence[ReleaseRequest],
    *,
    released_by: str,
    origin: str | None = None,
    now: Callable[[], dt.datetime] = _now,
    before_approval: Callable[[Connection], None] | None = None,
    door: str | None = None,
) -> ReleaseOutcome:
    """Release the held lines the requests name (module docstring). `origin` (an upload id)
    makes the new batch ids deterministic; `before_approval` runs between moving the lines
    and approving their batch, in the same transaction (tests inject a failure there).

    Raises `JitRefused`, before changing anything, for a blank name, a request naming
    nothing, or a held batch a submission run is sending. Each new batch gets its `created` and
    `released` events (`door`: upload when `origin` is given, else cli unless said)."""
    by = _by(released_by)
    door = door or (statuses.DOOR_UPLOAD if origin else statuses.DOOR_CLI)
    if not requests:
        raise JitRefused("Nothing to release: name the held lines.")
    for request in requests:
        check_request(request)
    moment = now()
    with database.begin() as connection:
        before = held_lines(connection, _npns(requests))
    chosen, _ = _select(before, requests)
    to_lock = (
        _held_in_submission(
            before[before["transaction_id"].isin([r[0]["transaction_id"] for r in chosen])]
        )
        if chosen
        else []
    )
    with ExitStack() as stack:
        _locked(database, to_lock, stack)
        with database.begin() as connection:
            return _release(connection, requests, by, moment, origin, before_approval, door)


def _release(
    connection: Connection,
    requests: Sequence[ReleaseRequest],
    by: str,
    moment: dt.datetime,
    origin: str | None,
    before_approval: Callable[[Connection], None] | None,
    door: str,
) -> ReleaseOutcome:
    # No other writer creates or moves an open line until this transaction ends.
    serialise_line_claims(connection)
    held = held_lines(connection, _npns(requests))
    chosen, unmatched = _select(held, requests)
    if not chosen:
        return ReleaseOutcome(unmatched=tuple(unmatched))
    today = nipr_business_date(moment)
    npns = sorted({str(r["npn"]) for r, _ in chosen})
    inputs = read_eligibility_inputs(connection, npns)
    ids = {str(r["transaction_id"]) for r, _ in chosen}
    # The lines being released are not repeats of themselves.
    inputs["transactions"] = inputs["transactions"][
        ~inputs["transactions"]["transaction_id"].isin(ids)
    ].reset_index(drop=True)
    rules = inputs.get("state_appointment_rules")
    deadlines = deadline_days_by_state(rules)
    specifiable = effective_date_specifiable_by_state(rules)

    # One request per (producer, state, company, category, agent type): the engine expands a
    # category into its lines, so two held lines of one category are one request's lines.
    groups: dict[tuple[str, ...], int] = {}
    request_rows: list[dict[str, object]] = []
    plan: list[tuple[dict[str, object], int, dt.date, dt.date | None]] = []
    for record, request in chosen:
        state = str(record["state_code"] or "").upper()
        business = request.business_date or today
        effective = released_effective_date(
            request.business_date, as_date(record.get("effective_date")), specifiable.get(state)
        )
        key = tuple(
            str(record.get(c) or "")
            for c in ("npn", "state_code", "cocode", "loa_category", "agent_type")
        ) + (str(effective),)
        if key not in groups:
            groups[key] = len(request_rows) + 1
            request_rows.append(
                {
                    "request_row": groups[key],
                    "npn": record["npn"],
                    "state_code": record["state_code"],
                    "cocode": record["cocode"],
                    "loa_category": record["loa_category"],
                    "agent_type": record.get("agent_type"),
                    "submit": True,
                    "submit_just_in_time": True,
                    "effective_date": effective,
                }
            )
        plan.append((record, groups[key], business, effective))
    evaluated = evaluate_appointment_requests(pd.DataFrame(request_rows), inputs, as_of=today)
    repeats = evaluated.attrs.get("repeats")
    evaluated = evaluated.copy()
    evaluated.attrs = {}

    released: list[JitLine] = []
    refused: list[JitLine] = []
    moves: list[dict[str, object]] = []
    for record, row_number, business, effective in plan:
        line = _engine_line(evaluated, record, row_number)
        tx_id = str(record["transaction_id"])
        state = str(record["state_code"] or "").upper()
        if line is not None and line["status"] in (
            statuses.READY_TO_SUBMIT,
            statuses.HELD_JIT,
        ):
            due = jit_due_date(business, deadlines.get(state))
            moves.append(
                {
                    "transaction_id": tx_id,
                    "cocode": str(record["cocode"]),
                    "held_batch_id": str(record["batch_id"]),
                    "effective_date": effective,
                    "eligibility_reason": line["eligibility_reason"],
                    "license_number": line["license_number"] or record.get("license_number"),
                    "estimated_fee": _money(line["estimated_fee"]),
                    "estimated_nipr_fee": _money(line["estimated_nipr_fee"]),
                    "jit_business_date": business,
                    "jit_due_date": due,
                }
            )
            continue
        if line is None:
            reason = _repeat_reason(repeats, row_number, record)
            status = statuses.NOT_ELIGIBLE
        else:
            reason = str(line["eligibility_reason"])
            # A request the producer checks refuse (Producer Inactive...) is a line not eligible.
            status = (
                statuses.NOT_ELIGIBLE
                if line["status"] == statuses.REQUEST_REJECTED
                else str(line["status"])
            )
        _conditional_update(
            connection,
            [tx_id],
            status=status,
            eligibility_reason=reason,
            estimated_fee=0,
            estimated_nipr_fee=0,
            completed_at=moment if status in statuses.FINAL_TRANSACTION_STATUSES else None,
        )
        refused.append(_jit_line(record, status, reason, str(record["batch_id"]), None))

    new_batches: list[str] = []
    new_batch_fees: list[float] = []
    by_cocode: dict[str, list[dict[str, object]]] = {}
    for move in moves:
        by_cocode.setdefault(str(move["cocode"]), []).append(move)
    source = origin or f"{moment:%Y%m%dT%H%M%S.%f}/{uuid.uuid4().hex}"
    for cocode, lines in sorted(by_cocode.items()):
        batch_id = _batch_id(source, cocode)
        fees = sum(_money(m["estimated_fee"]) + _money(m["estimated_nipr_fee"]) for m in lines)
        new_batch_fees.append(fees)
        connection.execute(
            batches.insert().values(
                batch_id=batch_id,
                kind=KIND,
                cocode=cocode,
                upload_id=origin,
                status=statuses.BATCH_PENDING_REVIEW,
                approval_version=0,
                submit_immediately=True,
                estimated_fees=round(fees, 2),
                created_at=moment,
            )
        )
        for move in lines:
            values = {k: v for k, v in move.items() if k not in ("transaction_id", "cocode")}
            _conditional_update(
                connection,
                [str(move["transaction_id"])],
                batch_id=batch_id,
                status=statuses.READY_TO_SUBMIT,
                auto_submit=True,
                released_at=moment,
                released_by=by,
                **values,
            )
            released.append(
                _jit_line(
                    move,
                    statuses.READY_TO_SUBMIT,
                    str(move["eligibility_reason"]),
                    batch_id,
                    as_date(move["jit_due_date"]),
                    source=dict(
                        next(r for r, *_ in plan if r["transaction_id"] == move["transaction_id"])
                    ),
                )
            )
        new_batches.append(batch_id)
    if before_approval is not None:
        before_approval(connection)
    # config/approvers.yaml: the release is an approval; a refusal rolls the whole release back.
    for batch_id, cocode, fees in zip(new_batches, sorted(by_cocode), new_batch_fees, strict=True):
        _check_approvers(connection, batch_id, cocode, fees, by_cocode[cocode], by, door, origin)
    if new_batches:
        # The release is the decision: approved at version 1 by the releaser.
        connection.execute(
            batches.update()
            .where(batches.c.batch_id.in_(new_batches))
            .values(
                status=statuses.BATCH_APPROVED,
                approval_version=1,
                approved_by=by,
                approved_at=moment,
            )
        )
        record_events(
            connection,
            [
                BatchEvent(
                    batch_id,
                    event,
                    by,
                    door,
                    version,
                    f"{len(by_cocode[cocode])} held JIT line(s) of batch(es) "
                    + ", ".join(sorted({str(m["held_batch_id"]) for m in by_cocode[cocode]}))
                    + (" moved here" if event == statuses.EVENT_CREATED else " released"),
                )
                for batch_id, cocode in zip(new_batches, sorted(by_cocode), strict=True)
                for event, version in ((statuses.EVENT_CREATED, 0), (statuses.EVENT_RELEASED, 1))
            ],
            moment,
        )
    _complete_emptied(connection, {str(r["batch_id"]) for r, _ in chosen})
    return ReleaseOutcome(
        released=tuple(released),
        not_eligible=tuple(refused),
        batches=tuple(new_batches),
        unmatched=tuple(unmatched),
    )


def cancel_held_lines(
    database: OperationalDatabase,
    requests: Sequence[ReleaseRequest],
    *,
    cancelled_by: str,
    now: Callable[[], dt.datetime] = _now,
) -> tuple[list[JitLine], list[str]]:
    """Cancel the held lines the requests name (`Cancelled`, final, never sent); a held batch
    left with no open line is Completed. Returns the cancelled lines and the requests that
    named no held line."""
    by = (cancelled_by or "").strip()
    if not by:
        raise JitRefused("Say who cancels (--by NAME): the name is recorded.")
    for request in requests:
        check_request(request)
    moment = now()
    with database.begin() as connection:
        before = held_lines(connection, _npns(requests))
    chosen, _ = _select(before, requests)
    ids = [r[0]["transaction_id"] for r in chosen]
    to_lock = _held_in_submission(before[before["transaction_id"].isin(ids)]) if chosen else []
    with ExitStack() as stack:
        _locked(database, to_lock, stack)
        with database.begin() as connection:
            serialise_line_claims(connection)
            held = held_lines(connection, _npns(requests))
            chosen, unmatched = _select(held, requests)
            if chosen:
                _conditional_update(
                    connection,
                    [str(r["transaction_id"]) for r, _ in chosen],
                    status=statuses.CANCELLED,
                    cancelled_by=by,
                    completed_at=moment,
                )
                _complete_emptied(connection, {str(r["batch_id"]) for r, _ in chosen})
    return (
        [_jit_line(r, statuses.CANCELLED, None, str(r["batch_id"]), None) for r, _ in chosen],
        unmatched,
    )


# --- helpers ---------------------------------------------------------------------------------


def _check_approvers(
    connection: Connection,
    batch_id: str,
    cocode: str,
    fees: float,
    lines: Sequence[dict[str, object]],
    by: str,
    door: str,
    origin: str | None,
) -> None:
    """Refuse the release (JitRefused) when config/approvers.yaml does not let its approver
    approve the new batch: the releaser, or for a `jit_release` file its dropper(s); with
    four_eyes, not whoever dropped the file the held lines came from."""
    try:
        policy = load_approvers()
    except ApproversConfigError as error:
        raise JitRefused(f"Not released: {error}. Fix the file, then release again.") from None
    if policy is None:
        return
    approvers = droppers_of_upload(connection, origin) if door == statuses.DOOR_UPLOAD else [by]
    held = sorted({str(m["held_batch_id"]) for m in lines})
    uploads: list[str | None] = list(
        connection.execute(
            sa.select(batches.c.upload_id).where(batches.c.batch_id.in_(held))
        ).scalars()
    )
    droppers = sorted({d for u in uploads for d in droppers_of_upload(connection, u)})
    refusals = [
        approval_refusal(
            policy,
            batch_id=batch_id,
            cocode=cocode,
            kind=KIND,
            fees=Decimal(str(round(fees, 2))),
            approver=approver,
            droppers=droppers,
        )
        for approver in approvers
    ]
    if not approvers:
        raise JitRefused(
            f"Not released: who dropped the release file is not known (`npnflow drop --by "
            f"NAME`), and {policy.path} lists who may approve; release with `npnflow jit "
            "release --by NAME` instead."
        )
    if all(refusals):
        raise JitRefused(f"Not released: {refusals[0]}")


def _conditional_update(connection: Connection, ids: list[str], **values: object) -> None:
    """Update these lines only while still `Held (JIT)`: a line another writer moved meanwhile
    makes the whole release fail (rolled back) rather than be sent or changed twice."""
    changed = connection.execute(
        transactions.update()
        .where(transactions.c.transaction_id.in_(ids), transactions.c.status == statuses.HELD_JIT)
        .values(**values)
    ).rowcount
    if changed != len(ids):
        raise RuntimeError(
            f"{len(ids) - changed} held line(s) changed while being released or cancelled "
            "(another release or cancellation?); nothing changed. Run the command again."
        )


def _complete_emptied(connection: Connection, batch_ids: set[str]) -> None:
    """The held batches left with no open line are Completed (every line final or moved)."""
    ids = sorted(batch_ids)
    if not ids:
        return
    still_open = (
        sa.select(transactions.c.transaction_id)
        .where(
            transactions.c.batch_id == batches.c.batch_id,
            transactions.c.status.in_(sorted(statuses.OPEN_TRANSACTION_STATUSES)),
        )
        .exists()
    )
    connection.execute(
        batches.update()
        .where(
            batches.c.batch_id.in_(ids),
            batches.c.status.not_in([statuses.BATCH_COMPLETED, statuses.BATCH_REJECTED]),
            ~still_open,
        )
        .values(status=statuses.BATCH_COMPLETED)
    )


def _engine_line(
    evaluated: pd.DataFrame, record: dict[str, object], row_number: int
) -> dict[str, object] | None:
    """The engine's row for this held line: same request, same line of authority; an eligible
    row first (the same license preferred), else the line's refusal, else the request's."""
    rows = evaluated[evaluated["request_row"] == row_number]
    if rows.empty:
        return None
    same_line = rows[rows["loa_code"].astype(str) == str(record["loa_code"])]
    eligible = same_line[same_line["status"].isin([statuses.READY_TO_SUBMIT, statuses.HELD_JIT])]
    if not eligible.empty:
        same_license = eligible[
            eligible["license_number"].astype(str) == str(record.get("license_number"))
        ]
        return dict((same_license if not same_license.empty else eligible).iloc[0])
    if not same_line.empty:
        return dict(same_line.iloc[0])
    rejected = rows[rows["status"] == statuses.REQUEST_REJECTED]
    if not rejected.empty:
        return dict(rejected.iloc[0])
    return None


def _repeat_reason(repeats: object, row_number: int, record: dict[str, object]) -> str:
    if isinstance(repeats, pd.DataFrame) and not repeats.empty:
        mine = repeats[
            (repeats["request_row"] == row_number)
            & (repeats["loa_code"].astype(str) == str(record["loa_code"]))
        ]
        if not mine.empty:
            return str(mine.iloc[0]["reason"])
        return REPEAT_OF_OPEN_TRANSACTION
    # Not an eligible line of the state's company rules any more (its rule was removed).
    return "Company Does Not Appoint for requested loas"


def _batch_id(source: str, cocode: str) -> str:
    digest = hashlib.sha256(f"{source}|{cocode}".encode()).hexdigest()[:12]
    return f"{RELEASE_BATCH_PREFIX}-{cocode}-{digest}"


def _money(value: object) -> float:
    number = pd.to_numeric(value, errors="coerce")
    return 0.0 if pd.isna(number) else round(float(number), 2)


def _jit_line(
    record: dict[str, object],
    status: str,
    reason: str | None,
    batch_id: str | None,
    due: dt.date | None,
    *,
    source: dict[str, object] | None = None,
) -> JitLine:
    base = source or record
    return JitLine(
        transaction_id=str(record["transaction_id"]),
        npn=str(base["npn"]),
        state_code=_text(base.get("state_code")),
        cocode=_text(base.get("cocode")),
        loa=_text(base.get("loa_category")) or _text(base.get("loa_code")),
        status=status,
        reason=reason,
        batch_id=batch_id,
        jit_due_date=due,
    )


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return str(value)
