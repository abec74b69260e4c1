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

Both are written in ONE database transaction by the step the terminations share
(`assets/batches/upload_step.py`). A re-run replaces the upload's batches while none
of them was approved or sent, and leaves them alone afterwards (which is also why a transient
database error may simply run the step again: `assets/retries.py`). Non-appoint uploads skip.
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg

from assets.appointments import store as appointment_store
from assets.appointments.eligibility import evaluate_appointment_requests
from assets.batches.upload_step import RequestKind, evaluate_upload
from assets.keys import BATCHES_KEY, TRANSACTIONS_KEY, UPLOADS_PARTITIONS, VALIDATED_KEY
from assets.retries import retry_transient_database_errors
from resources.database import OperationalDatabase

APPOINT_REQUESTS = RequestKind(
    upload_kind="appoint",
    transaction_kind=appointment_store.KIND,
    transactions_key=TRANSACTIONS_KEY,
    batches_key=BATCHES_KEY,
    read_inputs=appointment_store.read_eligibility_inputs,
    evaluate=lambda requests, inputs, as_of: evaluate_appointment_requests(
        requests, inputs, as_of=as_of
    ),
    plan=appointment_store.plan_appointment_batches,
    # The preview's columns in a chosen display order, not a table's columns.
    preview_columns=(
        "request_row",
        "npn",
        "state_code",
        "cocode",
        "loa_category",
        "loa_code",
        "license_number",
        "eligibility_reason",
        "status",
        "estimated_fee",
        "estimated_nipr_fee",
        "batch_id",
    ),
    auto_submit_column="Submit",
)


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
                "eligible license, with reason, status, estimated state fee and NIPR's own "
                "transaction fee, in `transactions`. "
                "Only appoint files materialize it (partitions `appoint__...`); other files' "
                "partitions stay Missing."
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
                "waiting for review (`npnflow batches approve`, or approve_batch_job). Only "
                "appoint files materialize it; other files' partitions stay Missing."
            ),
        ),
    ],
)
@retry_transient_database_errors
def core_appointments__evaluated(
    context: dg.AssetExecutionContext,
    database: OperationalDatabase,
) -> Iterator[dg.MaterializeResult[Any]]:
    yield from evaluate_upload(context, database, APPOINT_REQUESTS)


APPOINTMENT_ASSETS = [core_appointments__evaluated]
__all__ = [
    "APPOINTMENT_ASSETS",
    "core_appointments__evaluated",
]
