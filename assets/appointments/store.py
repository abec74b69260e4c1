"""Appointment requests in the operational database: reading the eligibility engine's inputs,
and turning its rows into the rows to write.

Reading: the eligibility engine's inputs (SPEC section 6), with the producer-scoped tables
read only for the requested NPNs. Planning (pure): the engine's rows become `transactions`,
`transaction_batches` and `request_rejections` rows with the deterministic ids, batches and
automatic approval of `assets/batches/planning.py`; `assets/batches/store.py` writes them, in
the caller's database transaction, the same way for every transaction kind.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pandas as pd
from sqlalchemy.engine import Connection

from assets.appointments.eligibility_evidence import LICENSING_SCOPE
from assets.appointments.eligibility_inputs import (
    EVIDENCE_INPUT_COLUMNS,
    INPUT_COLUMNS,
    SCOPE_REPORTS_INPUT,
)
from assets.batches.planning import (
    BatchPlan,
    batch_id_for,
    evidence_rows,
    plan_batches,
    rejection_evidence,
    transaction_ids_for,
)
from assets.rules.accepted_appointments import APPOINTMENTS_SCOPE, with_accepted_appointments
from resources.database import read_table
from resources.scoped_reads import npn_scope
from schemas import statuses
from schemas.tables import TABLES

KIND = "appointment"
AUTO_APPROVER = "auto (Submit = TRUE)"

# Read whole: small configuration and reference tables.
CONFIG_TABLES = (
    "companies",
    "company_loa_categories",
    "company_state_settings",
    "gateway_business_rules",
    "loa_categories",
    "state_fees",
    "lines_of_authority",
    # Check 10's effective-date limits, loaded by the reference job from
    # config/reference/state_appointment_rules.csv.
    "state_appointment_rules",
    # NIPR's own fee per transaction (`estimated_nipr_fee`), config/reference/
    # nipr_transaction_fees.csv.
    "nipr_transaction_fees",
)
# Read for the requested NPNs only: these grow with the producer population.
PRODUCER_TABLES = ("producers", "licenses", "license_loas", "appointments", "producer_assignments")
# Of those, only the columns the engine reads (`INPUT_COLUMNS`, and its evidence's
# `EVIDENCE_INPUT_COLUMNS`: issue and effective dates) and, for `appointments` and
# `transactions`, what the accepted-appointments rule and the repeat filter below read: a
# whole book's request reads millions of rows, and every column left out is memory not spent.
READ_COLUMNS: dict[str, tuple[str, ...] | None] = {
    "producers": INPUT_COLUMNS["producers"],
    "licenses": (*INPUT_COLUMNS["licenses"], *EVIDENCE_INPUT_COLUMNS["licenses"]),
    "license_loas": (*INPUT_COLUMNS["license_loas"], *EVIDENCE_INPUT_COLUMNS["license_loas"]),
    "appointments": (*INPUT_COLUMNS["appointments"], "effective_date"),
    "producer_assignments": None,  # every column
    "transactions": (
        *INPUT_COLUMNS["transactions"],
        *EVIDENCE_INPUT_COLUMNS["transactions"],
        "kind",
        "upload_id",
        "completed_at",
        "submitted_at",
        "created_at",
    ),
}
# Read only for the requested (NPN, state) pairs when the states are given: the engine joins
# them on the request's producer and state alone (checks 4, 8 and 9; the repeat check), as the
# accepted-appointment rule does. (Licenses: every state, for check 7's resident license.)
BY_STATE = ("license_loas", "appointments", "producer_assignments")
# The transactions read: the open and recorded ones (SPEC 6 step 6, check 9) and the Accepted
# ones (`with_accepted_appointments`); a producer's other history is never read.
READ_TRANSACTION_STATUSES = statuses.OPEN_TRANSACTION_STATUSES | {
    statuses.RECORDED,
    statuses.ACCEPTED,
}
# The NIPR scopes read: APPOINTMENTS (the accepted-appointments rule, and the evidence) and
# LICENSING (the evidence: when NIPR's licenses of the producer and state were current).
SCOPE_REPORT_CATEGORIES = (LICENSING_SCOPE, APPOINTMENTS_SCOPE)


def read_eligibility_inputs(
    connection: Connection,
    npns: Iterable[str],
    *,
    replacing_upload_id: str | None = None,
    state_codes: Iterable[str] | None = None,
) -> dict[str, pd.DataFrame]:
    """The frames `evaluate_appointment_requests` needs, for these NPNs.

    `appointments` holds the synced appointments and the lines NIPR Accepted since the last
    sync of their producer's appointments in that state (`assets/rules/accepted_appointments.py`).

    `transactions` holds the open transactions of these producers (SPEC 6 step 6), without
    those of `replacing_upload_id`: an upload being re-evaluated must not repeat itself.

    `state_codes`, one per NPN (the requests' states): the tables the engine reads only for a
    request's own producer and state (`BY_STATE`) are read for those pairs only; `licenses`
    stays whole per producer (check 7 looks for a resident license in any state).
    """
    inputs: dict[str, pd.DataFrame] = {}
    for name in CONFIG_TABLES:
        inputs[name] = read_table(connection, name)
    # One temporary table of the NPNs, joined by every producer-scoped read.
    with npn_scope(connection, npns, state_codes) as scope:
        for name in PRODUCER_TABLES:
            inputs[name] = scope.read(name, READ_COLUMNS[name], by_state=name in BY_STATE)
        transactions = scope.read(
            "transactions",
            READ_COLUMNS["transactions"],
            where=TABLES["transactions"].c.status.in_(sorted(READ_TRANSACTION_STATUSES)),
            by_state=True,
        )
        # APPOINTMENTS for the accepted-appointments rule; both for the evidence's data_as_of.
        scope_reports = scope.read(
            "nipr_scope_reports",
            where=TABLES["nipr_scope_reports"].c.category.in_(SCOPE_REPORT_CATEGORIES),
            by_state=True,
        )
    inputs[SCOPE_REPORTS_INPUT] = scope_reports
    appointment_scopes = scope_reports[scope_reports["category"].eq(APPOINTMENTS_SCOPE)]
    # A line NIPR Accepted since the last sync of its producer's appointments in that state is
    # appointed at NIPR already: check 9 reads it as Already Appointed, so asking again before
    # the next sync never pays NIPR and the state a second time.
    inputs["appointments"] = with_accepted_appointments(
        inputs["appointments"], transactions, appointment_scopes.reset_index(drop=True)
    )
    # The open ones (SPEC 6 step 6) and the recorded ones (a registry state's appointments,
    # which check 9 counts as appointed: they are in the carrier's register, not NIPR's).
    kept = statuses.OPEN_TRANSACTION_STATUSES | {statuses.RECORDED}
    transactions = transactions[transactions["status"].isin(kept)]
    if replacing_upload_id is not None:
        transactions = transactions[transactions["upload_id"].ne(replacing_upload_id).fillna(True)]
    inputs["transactions"] = transactions.reset_index(drop=True)
    return inputs


def plan_appointment_batches(
    evaluated: pd.DataFrame, upload_id: str, now: dt.datetime
) -> BatchPlan:
    """Turn the engine's rows into the rows to write (no I/O)."""
    repeats = evaluated.attrs.get("repeats")
    # A DataFrame left in attrs breaks pandas' concat/merge of derived frames.
    evaluated = evaluated.copy()
    evaluated.attrs = {}
    rejected = evaluated["status"].eq(statuses.REQUEST_REJECTED)
    rejections = evaluated.loc[rejected]
    rejections = pd.DataFrame(
        {
            "upload_id": upload_id,
            "kind": KIND,
            "request_row": rejections["request_row"],
            "npn": rejections["npn"],
            "state_code": rejections["state_code"],
            "cocode": rejections["cocode"],
            "loa_category": rejections["loa_category"],
            "loa_code": rejections["loa_code"],
            "eligibility_reason": rejections["eligibility_reason"],
            "status": rejections["status"],
            "created_at": now,
            **rejection_evidence(rejections),
        }
    ).reset_index(drop=True)

    created = evaluated.loc[~rejected].reset_index(drop=True)
    transaction_ids = transaction_ids_for(upload_id, created)
    # One digest per batch, not per line.
    batch_of = {key: batch_id_for(upload_id, key) for key in set(map(str, created["batch_key"]))}
    batch_ids = [batch_of[str(k)] for k in created["batch_key"]]
    effective = created.get("effective_date")
    transactions = pd.DataFrame(
        {
            "transaction_id": transaction_ids,
            "batch_id": batch_ids,
            "kind": KIND,
            "request_row": created["request_row"],
            "npn": created["npn"],
            "state_code": created["state_code"],
            "cocode": created["cocode"],
            "loa_category": created["loa_category"],
            "loa_code": created["loa_code"],
            "license_number": created["license_number"],
            "is_jit": created["is_jit"],
            "eligibility_reason": created["eligibility_reason"],
            "status": created["status"],
            "effective_date": effective,
            "estimated_fee": created["estimated_fee"],
            # NULL from a frame without it (rows planned by hand): not estimated, not 0.
            "estimated_nipr_fee": created.get("estimated_nipr_fee"),
            "idempotency_key": transaction_ids,
            "created_at": now,
            "agent_type": created["agent_type"],
            "license_class_code": created["license_class_code"],
            "is_resident": created["is_resident"],
            "upload_id": upload_id,
            "auto_submit": created["auto_submit"],
        }
    )
    return BatchPlan(
        upload_id=upload_id,
        kind=KIND,
        batches=plan_batches(transactions, upload_id, KIND, now, AUTO_APPROVER),
        transactions=transactions,
        rejections=rejections,
        repeats=repeats if isinstance(repeats, pd.DataFrame) else pd.DataFrame(),
        evidence=evidence_rows(created, transaction_ids),
    )
