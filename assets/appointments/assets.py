"""Appointment requests as Dagster assets: from a validated appoint upload to batches.

One step per upload partition (the same `uploads` dynamic partitions as the upload assets, so a
dropped file is followed in the UI from `raw_uploads__file` to its transactions and batches):

- `core_appointments__transactions` (group `appointments`): every request row of the upload
  evaluated by `assets/appointments/eligibility.py` (SPEC section 6) against the current state
  as of today: one transaction per line and eligible license, with its eligibility reason,
  status and estimated fee; request rows that created none in `request_rejections`.
- `core_appointments__batches` (group `appointments`): one batch per (upload, CoCode,
  submission mode). Submit = TRUE batches are approved automatically (approval version 1),
  others wait in `Pending Review` for `npnflow batches approve` or `approve_batch_job`.

Both are written in ONE database transaction. A re-run replaces the upload's batches while
none of them was approved or sent, and leaves them alone afterwards. Non-appoint uploads skip.
"""

import datetime as dt

import dagster as dg
import pandas as pd

from assets.appointments import statuses
from assets.appointments import store as appointment_store
from assets.appointments.eligibility import evaluate_appointment_requests
from assets.metadata import markdown_preview
from assets.uploads import ledger
from assets.uploads import store as upload_store
from assets.uploads.assets import UPLOADS_PARTITIONS, VALIDATED_KEY, validate_stored_upload
from assets.uploads.reading import UploadRejected
from resources.database import OperationalDatabase
from resources.object_store import ObjectStore

TRANSACTIONS_KEY = dg.AssetKey("core_appointments__transactions")
BATCHES_KEY = dg.AssetKey("core_appointments__batches")
APPOINTMENT_ASSET_KEYS = (TRANSACTIONS_KEY, BATCHES_KEY)
SHOWN_ROWS = 25


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _money(value: float) -> str:
    return f"${value:,.2f}"


def reason_counts(transactions: pd.DataFrame, rejections: pd.DataFrame) -> pd.DataFrame:
    """Rows per (eligibility reason, status), request rejections included: the audit view."""
    frame = pd.concat(
        [
            transactions[["eligibility_reason", "status"]],
            rejections[["eligibility_reason", "status"]],
        ],
        ignore_index=True,
    )
    if frame.empty:
        return pd.DataFrame(columns=["eligibility_reason", "status", "rows"])
    return (
        frame.groupby(["eligibility_reason", "status"], dropna=False)
        .size()
        .rename("rows")
        .reset_index()
        .sort_values(["rows", "eligibility_reason"], ascending=[False, True])
    )


def batch_summary(plan: appointment_store.AppointmentPlan) -> pd.DataFrame:
    t = plan.transactions
    if plan.batches.empty:
        return pd.DataFrame(
            columns=["batch_id", "cocode", "status", "to_send", "held", "not_eligible", "fees"]
        )
    per_batch = t.groupby("batch_id").agg(
        to_send=("status", lambda s: int(s.eq(statuses.READY_TO_SUBMIT).sum())),
        held=("status", lambda s: int(s.eq(statuses.HELD_JIT).sum())),
        not_eligible=("status", lambda s: int(s.eq(statuses.NOT_ELIGIBLE).sum())),
    )
    out = plan.batches.set_index("batch_id").join(per_batch).reset_index()
    out["fees"] = out["estimated_fees"].map(_money)
    out["approval"] = out["approved_by"].fillna("")
    return out[["batch_id", "cocode", "status", "approval", "to_send", "held", "not_eligible",
                "fees"]]  # fmt: skip


def _skip_note(kind: str | None, status: str | None) -> str:
    if status is not None and not ledger.should_process(status):
        return f"Upload is {status}: no request to evaluate."
    return f"Not an appoint upload ({kind}): nothing to evaluate."


@dg.multi_asset(
    name="core_appointments__evaluated",
    partitions_def=UPLOADS_PARTITIONS,
    specs=[
        dg.AssetSpec(
            TRANSACTIONS_KEY,
            group_name="appointments",
            deps=[VALIDATED_KEY],
            kinds={"duckdb", "sql"},
            skippable=True,
            description=(
                "Appoint uploads: each request row checked for eligibility (SPEC section 6) "
                "against the current NIPR state and company setup; one transaction per line and "
                "eligible license, with reason, status and estimated fee, in `transactions`."
            ),
        ),
        dg.AssetSpec(
            BATCHES_KEY,
            group_name="appointments",
            deps=[TRANSACTIONS_KEY],
            kinds={"sql"},
            skippable=True,
            description=(
                "The upload's transactions grouped per CoCode and submission mode in "
                "`transaction_batches`: Submit = TRUE batches approved automatically, the others "
                "waiting for review (`npnflow batches approve`, or approve_batch_job)."
            ),
        ),
    ],
)
def core_appointments__evaluated(
    context: dg.AssetExecutionContext,
    database: OperationalDatabase,
    object_store: ObjectStore,
):
    database.ensure_migrated()
    upload_id = context.partition_key
    with database.begin() as connection:
        row = upload_store.read_upload_row(connection, upload_id)
    if row is None or row["kind"] != "appoint" or not ledger.should_process(row["status"]):
        context.log.info(
            f"Upload {upload_id}: "
            + _skip_note(row["kind"] if row else None, row["status"] if row else None)
        )
        return
    with database.begin() as connection:
        existing = appointment_store.existing_batches(connection, upload_id)
    if not existing.replaceable:
        context.log.info(f"Upload {upload_id}: {existing.why_not}.")
        note = f"Not re-evaluated: {existing.why_not}."
        yield dg.MaterializeResult(asset_key=TRANSACTIONS_KEY, metadata={"note": note})
        yield dg.MaterializeResult(
            asset_key=BATCHES_KEY,
            metadata={"note": note, "batch_ids": ", ".join(existing.batch_ids)},
        )
        return
    try:
        _, validated = validate_stored_upload(database, object_store, upload_id, row)
    except UploadRejected as rejection:
        raise dg.Failure(
            description=f"Upload {upload_id} can no longer be read: {rejection.message}",
            allow_retries=False,
        ) from None
    requests = validated.exploded()
    as_of = _now().date()
    now = _now()
    with database.begin() as connection:
        inputs = appointment_store.read_eligibility_inputs(
            connection, requests["npn"], replacing_upload_id=upload_id
        )
        evaluated = evaluate_appointment_requests(requests, inputs, as_of=as_of)
        plan = appointment_store.plan_appointment_batches(evaluated, upload_id, now)
        # Checked again inside the writing transaction: a batch approved meanwhile wins.
        if not appointment_store.existing_batches(connection, upload_id).replaceable:
            raise dg.Failure(
                description=(
                    f"Upload {upload_id}: one of its batches was approved while it was being "
                    "re-evaluated; nothing was changed."
                ),
                allow_retries=False,
            )
        appointment_store.write_appointment_plan(connection, plan)

    counts = plan.counts
    context.log.info(
        f"Upload {upload_id}: {len(requests)} request row(s) evaluated as of {as_of}: "
        f"{counts['transactions']} transaction(s) ({counts['ready_to_submit']} ready, "
        f"{counts['held_jit']} held JIT, {counts['not_eligible']} not eligible), "
        f"{counts['request_rows_rejected']} request row(s) rejected, {counts['batches']} batch(es)"
    )
    reasons = reason_counts(plan.transactions, plan.rejections)
    shown = plan.transactions[
        ["request_row", "npn", "state_code", "cocode", "loa_category", "loa_code",
         "license_number", "eligibility_reason", "status", "estimated_fee", "batch_id"]
    ]  # fmt: skip
    transactions_metadata: dict[str, object] = {
        "as_of": as_of.isoformat(),
        "request_rows": len(requests),
        **counts,
        "by_reason_and_status": markdown_preview(ledger.markdown_safe(reasons), max_rows=40),
        "transactions_preview": markdown_preview(ledger.markdown_safe(shown), SHOWN_ROWS),
    }
    if len(plan.rejections):
        transactions_metadata["rejected_request_rows"] = markdown_preview(
            ledger.markdown_safe(
                plan.rejections[
                    ["request_row", "npn", "state_code", "cocode", "eligibility_reason"]
                ]  # fmt: skip
            ),
            SHOWN_ROWS,
        )
    if len(plan.repeats):
        transactions_metadata["repeats_not_created"] = markdown_preview(
            ledger.markdown_safe(plan.repeats), SHOWN_ROWS
        )
    yield dg.MaterializeResult(asset_key=TRANSACTIONS_KEY, metadata=transactions_metadata)

    summary = batch_summary(plan)
    pending = plan.batches.loc[
        plan.batches["status"].eq(statuses.BATCH_PENDING_REVIEW), "batch_id"
    ].tolist()
    auto = plan.batches.loc[plan.batches["status"].eq(statuses.BATCH_APPROVED), "batch_id"]
    next_steps = []
    if pending:
        next_steps.append(
            f"Review then approve: `npnflow batches show {pending[0]}`, `npnflow batches approve "
            f"{pending[0]} --by <name>` (or launch approve_batch_job)."
        )
    if len(auto):
        next_steps.append(
            f"{len(auto)} batch(es) approved automatically (Submit = TRUE): approved_batch_sensor "
            "requests their submission runs."
        )
    yield dg.MaterializeResult(
        asset_key=BATCHES_KEY,
        metadata={
            "batches": len(plan.batches),
            "batch_ids": ", ".join(plan.batches["batch_id"]),
            "fees_to_send": dg.MetadataValue.float(float(plan.batches["estimated_fees"].sum())),
            "batches_table": markdown_preview(ledger.markdown_safe(summary), max_rows=50),
            "next": " ".join(next_steps) or "Nothing to approve: every transaction is final.",
        },
    )


APPOINTMENT_ASSETS = [core_appointments__evaluated]
__all__ = [
    "APPOINTMENT_ASSETS",
    "APPOINTMENT_ASSET_KEYS",
    "BATCHES_KEY",
    "TRANSACTIONS_KEY",
    "core_appointments__evaluated",
]
