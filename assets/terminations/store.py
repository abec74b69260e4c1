"""Termination requests in the operational database: reading the engine's inputs, and turning
its rows into the rows to write.

Reading: what `evaluate_termination_requests` needs (SPEC section 7), the producer-scoped
tables only for the requested NPNs. `appointments` there includes the lines NIPR Accepted
since the last sync (`accepted_appointments.py`): a line appointed an hour ago is terminable
before the next sync brings it in. Planning (pure): the engine's rows become `transactions`
(kind `termination`) and `transaction_batches` rows with the deterministic ids, batches and
automatic approval of `assets/batches/planning.py`, as the appointments do, so a terminate
batch is approved, submitted, polled and reported exactly as an appointment batch is. Writing
goes through the shared `assets/batches/store.py::write_batch_plan`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assets.batches.planning import (
    BatchPlan,
    batch_id_for,
    evidence_rows,
    plan_batches,
    transaction_ids_for,
)
from assets.rules.accepted_appointments import (
    APPOINTMENT_KIND,
    APPOINTMENTS_SCOPE,
    accepted_unsynced_lines,
    with_accepted_appointments,
)
from assets.terminations.eligibility import TRANSACTION_KIND
from assets.terminations.eligibility_evidence import LICENSING_SCOPE
from resources.database import read_table
from resources.scoped_reads import npn_scope, read_for_npns
from schemas import statuses
from schemas.tables import TABLES

KIND = TRANSACTION_KIND
AUTO_APPROVER = "auto (Submit Immediately = TRUE)"

CONFIG_TABLES = (
    "companies",
    "state_termination_reasons",
    "termination_reasons",
    "state_fees",
    "lines_of_authority",
    "state_appointment_rules",
    "nipr_transaction_fees",  # NIPR's own fee per transaction (`estimated_nipr_fee`)
)
PRODUCER_TABLES = ("appointments", "licenses")
# Read for the evidence only (`eligibility_evidence`): the producer's sync status and activity.
PRODUCER_EVIDENCE_COLUMNS = ("npn", "sync_status", "is_active")
# NIPR's scopes whose `data_as_of` the evidence names; APPOINTMENTS also dates the lines
# Accepted since the last sync (`with_accepted_appointments`).
EVIDENCE_SCOPES = (LICENSING_SCOPE, APPOINTMENTS_SCOPE)
# Open terminations repeat; Accepted ones repeat until the NIPR sync shows the appointment
# terminated (see the engine's docstring).
REPEATABLE_STATUSES = tuple(sorted(statuses.OPEN_TRANSACTION_STATUSES | {statuses.ACCEPTED}))

#: The `request_rejections` columns an evaluation writes (all but the generated `id`).
REJECTION_COLUMNS = tuple(c.name for c in TABLES["request_rejections"].columns if c.name != "id")


def read_termination_inputs(
    connection: Connection,
    npns: Iterable[str],
    *,
    replacing_upload_id: str | None = None,
    state_codes: Iterable[str] | None = None,
) -> dict[str, pd.DataFrame]:
    """The frames `evaluate_termination_requests` needs, for these NPNs.

    `appointments` holds the synced appointments and the lines NIPR Accepted since the last
    sync of their producer's appointments in that state (as Appointed from that day).

    `transactions` holds these producers' termination transactions that may be repeated, without
    those of `replacing_upload_id` (an upload being re-evaluated must not repeat itself).

    For the evidence (`eligibility_evidence`): `producers` (npn, sync_status, is_active) and
    `nipr_scope_reports` (the LICENSING and APPOINTMENTS scopes: NIPR's `data_as_of`).

    `state_codes` (the requests' states, as the shared upload step passes them) is not used:
    every state of these producers is read.
    """
    del state_codes
    wanted = sorted({str(n) for n in npns if n is not None and str(n)})
    inputs = {name: read_table(connection, name) for name in CONFIG_TABLES}
    # One temporary table of the NPNs, joined by every producer-scoped read.
    t = TABLES["transactions"]
    with npn_scope(connection, wanted) as scope:
        for name in PRODUCER_TABLES:
            inputs[name] = scope.read(name)
        # The repeatable terminations, and the Accepted appointments that
        # `with_accepted_appointments` reads: a producer's other history is never read.
        transactions = scope.read(
            "transactions",
            where=sa.or_(
                sa.and_(t.c.kind == KIND, t.c.status.in_(REPEATABLE_STATUSES)),
                sa.and_(t.c.kind == APPOINTMENT_KIND, t.c.status == statuses.ACCEPTED),
            ),
        )
        inputs["producers"] = scope.read("producers", PRODUCER_EVIDENCE_COLUMNS)
        scope_reports = scope.read(
            "nipr_scope_reports",
            where=TABLES["nipr_scope_reports"].c.category.in_(EVIDENCE_SCOPES),
        )
    inputs["nipr_scope_reports"] = scope_reports
    inputs["appointments"] = with_accepted_appointments(
        inputs["appointments"], transactions, scope_reports
    )
    keep = transactions["kind"].eq(KIND) & transactions["status"].isin(REPEATABLE_STATUSES)
    if replacing_upload_id is not None:
        keep &= transactions["upload_id"].ne(replacing_upload_id).fillna(True)
    inputs["transactions"] = transactions[keep].reset_index(drop=True)
    return inputs


def accepted_appointment_lines(connection: Connection) -> pd.DataFrame:
    """Every appointment line NIPR Accepted since the last sync of its producer's appointments
    in that state (`accepted_appointments.accepted_unsynced_lines`): what the terminate export
    adds to the licensing report, which shows only synced appointments."""
    t = TABLES["transactions"]
    columns = (
        "transaction_id",
        "npn",
        "state_code",
        "cocode",
        "loa_code",
        "kind",
        "status",
        "completed_at",
        "submitted_at",
        "created_at",
    )
    accepted = pd.DataFrame(
        connection.execute(
            sa.select(*(t.c[name] for name in columns)).where(
                t.c.kind == APPOINTMENT_KIND, t.c.status == statuses.ACCEPTED
            )
        ).all(),
        columns=list(columns),
    )
    npns = sorted({str(n) for n in accepted["npn"].dropna()})
    return accepted_unsynced_lines(accepted, read_for_npns(connection, "nipr_scope_reports", npns))


def nipr_data_as_of(connection: Connection, applied_by: dt.datetime | None) -> dt.datetime | None:
    """The newest NIPR data (`nipr_scope_reports.data_as_of`) among the scopes applied by
    `applied_by` (None: any): how current a report built then could be."""
    scopes = TABLES["nipr_scope_reports"]
    statement = sa.select(sa.func.max(scopes.c.data_as_of))
    if applied_by is not None:
        # Stored in UTC without an offset on SQLite: compare like with like.
        moment = applied_by.astimezone(dt.UTC)
        if connection.dialect.name == "sqlite":
            moment = moment.replace(tzinfo=None)
        statement = statement.where(scopes.c.applied_at <= moment)
    value = connection.execute(statement).scalar_one_or_none()
    if value is None:
        return None
    moment = pd.Timestamp(value).to_pydatetime()
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


def plan_termination_batches(
    evaluated: pd.DataFrame, upload_id: str, now: dt.datetime
) -> BatchPlan:
    """Turn the termination engine's rows into the rows to write (no I/O).

    Every request row becomes a transaction, Not Eligible ones included (the audit of what was
    asked and why it was not sent), so terminations have no request rejections.
    """
    repeats = evaluated.attrs.get("repeats")
    evaluated = evaluated.copy()
    evaluated.attrs = {}  # a DataFrame left in attrs breaks pandas' concat/merge later
    transaction_ids = transaction_ids_for(upload_id, evaluated)
    # One digest per batch, not per line.
    batch_of = {key: batch_id_for(upload_id, key) for key in set(map(str, evaluated["batch_key"]))}
    batch_ids = [batch_of[str(k)] for k in evaluated["batch_key"]]
    transactions = pd.DataFrame(
        {
            "transaction_id": transaction_ids,
            "batch_id": batch_ids,
            "kind": KIND,
            "request_row": evaluated["request_row"],
            "npn": evaluated["npn"],
            "state_code": evaluated["state_code"],
            "cocode": evaluated["cocode"],
            "loa_category": None,
            "loa_code": evaluated["loa_code"],
            "license_number": None,
            "is_jit": False,
            "eligibility_reason": evaluated["eligibility_reason"],
            "status": evaluated["status"],
            "termination_reason_code": evaluated["termination_reason_code"],
            "effective_date": evaluated["effective_date"],
            "estimated_fee": evaluated["estimated_fee"],
            # NULL from a frame without it (rows planned by hand): not estimated, not 0.
            "estimated_nipr_fee": evaluated.get("estimated_nipr_fee"),
            "idempotency_key": transaction_ids,
            "created_at": now,
            "is_resident": evaluated["is_resident"],
            "upload_id": upload_id,
            "auto_submit": evaluated["auto_submit"],
        }
    )
    return BatchPlan(
        upload_id=upload_id,
        kind=KIND,
        batches=plan_batches(transactions, upload_id, KIND, now, AUTO_APPROVER),
        transactions=transactions,
        rejections=pd.DataFrame(columns=list(REJECTION_COLUMNS)),
        repeats=repeats if isinstance(repeats, pd.DataFrame) else pd.DataFrame(),
        evidence=evidence_rows(evaluated, transaction_ids),
    )
