"""Batch planning, pure: deterministic ids, the batches of planned transactions, and the
automatic approval rule. The same for every transaction kind (appointments, terminations).

No Dagster and no I/O here (the frames come in and go out), so every rule is a plain function
with plain unit tests; `assets/batches/store.py` writes what is planned here.

Ids are deterministic so a re-run of the same upload finds its own rows:
- batch_id `B-<12 hex>` from (upload_id, batch_key); NIPR's CUST_BATCH;
- transaction_id `T-<16 hex>` from (upload_id, request_row, state, CoCode, category, line,
  license); also the idempotency key sent as NIPR's CUST_TRANS, so a resend after a crash is
  recognised by NIPR as the same transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from assets.rules.evidence import EVIDENCE_NAMES, EVIDENCE_PREFIX
from schemas import statuses
from schemas.tables import TABLES
from schemas.tables_evidence import REJECTION_EVIDENCE_COLUMNS

#: The `transaction_batches` columns a new batch has: every column but the rejection, which is
#: recorded later, by `reject_batch`.
BATCH_COLUMNS: tuple[str, ...] = tuple(
    c.name
    for c in TABLES["transaction_batches"].columns
    if c.name not in ("rejected_by", "rejected_at")
)


def _digest(parts: Iterable[object], length: int) -> str:
    text = "/".join(
        "" if p is None or (isinstance(p, float) and math.isnan(p)) else str(p) for p in parts
    )
    return hashlib.sha256(text.encode()).hexdigest()[:length].upper()


def batch_id_for(upload_id: str, batch_key: str) -> str:
    return "B-" + _digest((upload_id, batch_key), 12)


def transaction_id_for(upload_id: str, row: Mapping[str, object]) -> str:
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


#: What `transaction_id_for` reads of a row, in digest order.
TRANSACTION_ID_PARTS: tuple[str, ...] = (
    "request_row",
    "state_code",
    "cocode",
    "loa_category",
    "loa_code",
    "license_number",
)


def transaction_ids_for(upload_id: str, frame: pd.DataFrame) -> list[str]:
    """`transaction_id_for` of each of the frame's rows (a missing column reads as None),
    column by column: the rows as dicts cost more than their digests at an upload's size."""
    absent = [None] * len(frame)
    # `tolist` boxes values as `to_dict("records")` does (Python scalars, NaN, NA).
    parts = [frame[c].tolist() if c in frame.columns else absent for c in TRANSACTION_ID_PARTS]
    return ["T-" + _digest((upload_id, *row), 16) for row in zip(*parts, strict=True)]


@dataclass(frozen=True)
class BatchPlan:
    """What one upload's evaluation writes (appointments or terminations: `kind`)."""

    upload_id: str
    kind: str
    batches: pd.DataFrame  # transaction_batches rows
    transactions: pd.DataFrame  # transactions rows
    rejections: pd.DataFrame  # request_rejections rows
    repeats: pd.DataFrame = field(default_factory=pd.DataFrame)  # not created: repeats
    # transaction_evidence rows: one per transaction the engine gave evidence for
    evidence: pd.DataFrame = field(default_factory=pd.DataFrame)

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


def planned_batch_status(ready: int, held: int, auto: bool) -> str:
    """The automatic approval rule: a new batch's status from its transactions.

    Approved at once when every transaction asked for it (Submit = TRUE) and something is ready
    to send; Pending Review (a person approves) otherwise; Completed when nothing is to send
    and nothing held, since every transaction is already final (Not Eligible).
    """
    if ready == 0 and held == 0:
        return statuses.BATCH_COMPLETED
    if auto and ready > 0:
        return statuses.BATCH_APPROVED
    return statuses.BATCH_PENDING_REVIEW


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
        status = planned_batch_status(int(ready.sum()), int(held.sum()), auto)
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


def evidence_rows(evaluated: pd.DataFrame, transaction_ids: list[str]) -> pd.DataFrame:
    """The `transaction_evidence` rows of the engine's rows (`evidence_<field>` columns, see
    `assets/rules/evidence.py`), keyed by the transactions planned from them, row for row.
    Empty when the engine gave no evidence (rows planned by hand): nothing is invented."""
    if "evidence_decided_by" not in evaluated.columns:
        return pd.DataFrame(columns=["transaction_id", *EVIDENCE_NAMES])
    frame = pd.DataFrame({"transaction_id": transaction_ids})
    for name in EVIDENCE_NAMES:
        column = evaluated.get(EVIDENCE_PREFIX + name)
        frame[name] = None if column is None else column.to_numpy(dtype=object)
    return frame


def rejection_evidence(rejected: pd.DataFrame) -> dict[str, object]:
    """The evidence columns of `request_rejections` (the producer row decided), from the
    engine's rows of the rejected requests; None where the engine gave none."""
    return {
        name: (
            rejected[EVIDENCE_PREFIX + name].to_numpy(dtype=object)
            if EVIDENCE_PREFIX + name in rejected.columns
            else None
        )
        for name in REJECTION_EVIDENCE_COLUMNS
    }
