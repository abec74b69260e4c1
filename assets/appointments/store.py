"""Appointment transactions and batches in the operational database.

Reading: the eligibility engine's inputs (SPEC section 6), with the producer-scoped tables
read only for the requested NPNs. Planning (pure): the engine's rows become `transactions`,
`transaction_batches` and `request_rejections` rows with deterministic ids. Writing: one
upload's batches, all at once, in the caller's database transaction.

Ids are deterministic so a re-run of the same upload finds its own rows:
- batch_id `B-<12 hex>` from (upload_id, batch_key); NIPR's CUST_BATCH;
- transaction_id `T-<16 hex>` from (upload_id, request_row, state, CoCode, category, line,
  license); also the idempotency key sent as NIPR's CUST_TRANS, so a resend after a crash is
  recognised by NIPR as the same transaction.

Re-evaluating an upload replaces its batches only while nothing of it was approved or sent;
once a batch has moved on, the upload's transactions are history and are left alone.

Batches, their ids, statuses and the replace-or-keep rule are the same for every transaction
kind: `plan_batches`, `existing_batches` and `write_batch_plan` serve the terminations too
(`assets/terminations/store.py`), so both kinds reach the one submission path alike.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from resources.database import frame_to_rows
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
)
# Read for the requested NPNs only: these grow with the producer population.
PRODUCER_TABLES = ("producers", "licenses", "license_loas", "appointments", "producer_assignments")
_IN_CHUNK = 500  # bound parameters per IN (): well under SQLite's and PostgreSQL's limits
_WHOLE_TABLE_NPNS = 20_000  # beyond this many NPNs one full scan beats many IN queries


def _frame(connection: Connection, statement: sa.Select, columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(connection.execute(statement).fetchall(), columns=list(columns))


def read_table(connection: Connection, name: str) -> pd.DataFrame:
    """A whole (small, configuration) table as a frame."""
    table = TABLES[name]
    return _frame(connection, sa.select(table), [c.name for c in table.c])


def read_for_npns(connection: Connection, name: str, npns: list[str]) -> pd.DataFrame:
    """A producer-scoped table's rows for these NPNs only."""
    table = TABLES[name]
    columns = [c.name for c in table.c]
    if len(npns) > _WHOLE_TABLE_NPNS:
        frame = _frame(connection, sa.select(table), columns)
        return frame[frame["npn"].isin(npns)].reset_index(drop=True)
    parts = [
        _frame(
            connection,
            sa.select(table).where(table.c.npn.in_(npns[start : start + _IN_CHUNK])),
            columns,
        )
        for start in range(0, len(npns), _IN_CHUNK)
    ]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def read_eligibility_inputs(
    connection: Connection, npns: Iterable[str], *, replacing_upload_id: str | None = None
) -> dict[str, pd.DataFrame]:
    """The frames `evaluate_appointment_requests` needs, for these NPNs.

    `transactions` holds the open transactions of these producers (SPEC 6 step 6), without
    those of `replacing_upload_id`: an upload being re-evaluated must not repeat itself.
    """
    wanted = sorted({str(n) for n in npns if n is not None and str(n)})
    inputs: dict[str, pd.DataFrame] = {}
    for name in CONFIG_TABLES:
        inputs[name] = read_table(connection, name)
    for name in PRODUCER_TABLES:
        inputs[name] = read_for_npns(connection, name, wanted)
    transactions = read_for_npns(connection, "transactions", wanted)
    transactions = transactions[transactions["status"].isin(statuses.OPEN_TRANSACTION_STATUSES)]
    if replacing_upload_id is not None:
        transactions = transactions[transactions["upload_id"].ne(replacing_upload_id).fillna(True)]
    inputs["transactions"] = transactions.reset_index(drop=True)
    return inputs


# ============================================================================================
# Planning (pure)
# ============================================================================================


def _digest(parts: Iterable[object], length: int) -> str:
    text = "/".join("" if p is None or (isinstance(p, float) and np.isnan(p)) else str(p)
                    for p in parts)  # fmt: skip
    return hashlib.sha256(text.encode()).hexdigest()[:length].upper()


def batch_id_for(upload_id: str, batch_key: str) -> str:
    return "B-" + _digest((upload_id, batch_key), 12)


def transaction_id_for(upload_id: str, row: dict) -> str:
    return "T-" + _digest(
        (
            upload_id,
            row.get("request_row"),
            row.get("state_code"),
            row.get("cocode"),
            row.get("loa_category"),
            row.get("loa_code"),
            row.get("license_number"),
        ),
        16,
    )


@dataclass(frozen=True)
class BatchPlan:
    """What one upload's evaluation writes (appointments or terminations: `kind`)."""

    upload_id: str
    kind: str
    batches: pd.DataFrame  # transaction_batches rows
    transactions: pd.DataFrame  # transactions rows
    rejections: pd.DataFrame  # request_rejections rows
    repeats: pd.DataFrame = field(default_factory=pd.DataFrame)  # not created: repeats

    @property
    def counts(self) -> dict[str, int]:
        t = self.transactions
        return {
            "request_rows_rejected": int(self.rejections["request_row"].nunique())
            if len(self.rejections)
            else 0,
            "transactions": len(t),
            "ready_to_submit": int(t["status"].eq(statuses.READY_TO_SUBMIT).sum()),
            "held_jit": int(t["status"].eq(statuses.HELD_JIT).sum()),
            "not_eligible": int(t["status"].eq(statuses.NOT_ELIGIBLE).sum()),
            "batches": len(self.batches),
            "repeats_not_created": len(self.repeats),
        }


def _batch_status(ready: int, held: int, auto: bool) -> str:
    # Nothing to send and nothing held: every transaction is already final (Not Eligible).
    if ready == 0 and held == 0:
        return statuses.BATCH_COMPLETED
    if auto and ready > 0:
        return statuses.BATCH_APPROVED
    return statuses.BATCH_PENDING_REVIEW


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
        }
    ).reset_index(drop=True)

    created = evaluated.loc[~rejected].reset_index(drop=True)
    records = created.to_dict("records")
    transaction_ids = [transaction_id_for(upload_id, r) for r in records]
    batch_ids = [batch_id_for(upload_id, str(k)) for k in created["batch_key"]]
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
    )


BATCH_COLUMNS = (
    "batch_id",
    "kind",
    "cocode",
    "upload_id",
    "status",
    "approval_version",
    "approved_by",
    "approved_at",
    "submit_immediately",
    "estimated_fees",
    "created_at",
)


def plan_batches(
    transactions: pd.DataFrame, upload_id: str, kind: str, now: dt.datetime, auto_approver: str
) -> pd.DataFrame:
    """The `transaction_batches` rows of planned transactions (already carrying batch_id)."""
    if transactions["transaction_id"].duplicated().any():
        # The engine promises one row per (request, line, license); a repeat here would make
        # two transactions share one idempotency key, so stop rather than write it.
        dupes = transactions.loc[transactions["transaction_id"].duplicated(), "transaction_id"]
        raise ValueError(f"duplicate transaction ids planned: {', '.join(dupes.head(5))}")

    rows = []
    for batch_id, group in transactions.groupby("batch_id", sort=True):
        ready = group["status"].eq(statuses.READY_TO_SUBMIT)
        held = group["status"].eq(statuses.HELD_JIT)
        auto = bool(group["auto_submit"].fillna(False).astype(bool).all())
        status = _batch_status(int(ready.sum()), int(held.sum()), auto)
        approved = status == statuses.BATCH_APPROVED
        rows.append(
            {
                "batch_id": batch_id,
                "kind": kind,
                "cocode": str(group["cocode"].iloc[0]),
                "upload_id": upload_id,
                "status": status,
                # An auto-approved batch starts at version 1: the sensor's run key is
                # (batch_id, approval_version), exactly as after a person's approval.
                "approval_version": 1 if approved else 0,
                "approved_by": auto_approver if approved else None,
                "approved_at": now if approved else None,
                "submit_immediately": auto,
                "estimated_fees": round(float(group.loc[ready, "estimated_fee"].sum()), 2),
                "created_at": now,
            }
        )
    return pd.DataFrame(rows, columns=list(BATCH_COLUMNS))


# ============================================================================================
# Writing
# ============================================================================================


@dataclass(frozen=True)
class ExistingBatches:
    batch_ids: list[str]
    replaceable: bool
    why_not: str = ""


def existing_batches(connection: Connection, upload_id: str, kind: str = KIND) -> ExistingBatches:
    """This upload's batches of `kind`, and whether a re-evaluation may replace them."""
    batches = TABLES["transaction_batches"]
    attempts = TABLES["submission_attempts"]
    rows = connection.execute(
        sa.select(batches.c.batch_id, batches.c.status, batches.c.approval_version)
        .where(batches.c.upload_id == upload_id, batches.c.kind == kind)
        .order_by(batches.c.batch_id)
    ).all()
    ids = [r.batch_id for r in rows]
    if not ids:
        return ExistingBatches([], True)
    sent = connection.execute(
        sa.select(sa.func.count()).select_from(attempts).where(attempts.c.batch_id.in_(ids))
    ).scalar_one()
    moved = [
        r.batch_id
        for r in rows
        if r.status not in (statuses.BATCH_PENDING_REVIEW, statuses.BATCH_COMPLETED)
        or (r.status == statuses.BATCH_COMPLETED and r.approval_version)
    ]
    if sent or moved:
        return ExistingBatches(
            ids,
            False,
            f"batch(es) {', '.join(moved or ids)} were already approved or sent; the upload's "
            "transactions are kept as they are",
        )
    return ExistingBatches(ids, True)


def write_batch_plan(connection: Connection, plan: BatchPlan) -> None:
    """Replace the upload's (unapproved) batches, transactions and rejections with the plan."""
    batches = TABLES["transaction_batches"]
    transactions = TABLES["transactions"]
    rejections = TABLES["request_rejections"]
    old = existing_batches(connection, plan.upload_id, plan.kind)
    if not old.replaceable:
        raise ValueError(f"upload {plan.upload_id}: {old.why_not}")
    if old.batch_ids:
        connection.execute(transactions.delete().where(transactions.c.batch_id.in_(old.batch_ids)))
        connection.execute(batches.delete().where(batches.c.batch_id.in_(old.batch_ids)))
    connection.execute(
        rejections.delete().where(
            rejections.c.upload_id == plan.upload_id, rejections.c.kind == plan.kind
        )
    )
    for table, frame in (
        (batches, plan.batches),
        (transactions, plan.transactions),
        (rejections, plan.rejections),
    ):
        rows = frame_to_rows(frame, table)
        if rows:
            connection.execute(table.insert(), rows)
