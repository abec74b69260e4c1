"""Termination requests as Dagster assets: from a validated terminate upload to batches.

The same shape as the appointments (`assets/appointments/assets.py`), one step per upload
partition, written in ONE database transaction by the shared step
(`assets/batches/upload_step.py`):

- `core_terminations__transactions` (group `terminations`): every request row (one per state
  and line) checked by `assets/terminations/eligibility.py` (SPEC section 7): Appointment Not
  Found, terminations not filed through NIPR in the state, Termination Reason Required / Not
  Accepted, effective-date limits; the state's default reason filled in when blank.
- `core_terminations__batches` (group `terminations`): one batch per (upload, CoCode,
  submission mode). Submit Immediately = TRUE batches are approved automatically, the others
  wait for review. Submission is the appointments' exactly-once path, unchanged: the
  `approved_batch_sensor` requests `submit_batch_job` for any approved batch, of either kind.

Non-terminate uploads skip.
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg

from assets.batches.upload_step import RequestKind, evaluate_upload
from assets.keys import (
    TERMINATION_BATCHES_KEY,
    TERMINATION_TRANSACTIONS_KEY,
    UPLOADS_PARTITIONS,
    VALIDATED_KEY,
)
from assets.retries import retry_transient_database_errors
from assets.terminations import store as termination_store
from assets.terminations.eligibility import evaluate_termination_requests
from resources.database import OperationalDatabase

TERMINATE_REQUESTS = RequestKind(
    upload_kind="terminate",
    transaction_kind=termination_store.KIND,
    transactions_key=TERMINATION_TRANSACTIONS_KEY,
    batches_key=TERMINATION_BATCHES_KEY,
    read_inputs=termination_store.read_termination_inputs,
    evaluate=evaluate_termination_requests,
    plan=termination_store.plan_termination_batches,
    # The preview's columns in a chosen display order, not a table's columns.
    preview_columns=(
        "request_row",
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
        "batch_id",
    ),
    auto_submit_column="Submit Immediately",
)


@dg.multi_asset(
    name="core_terminations__evaluated",
    partitions_def=UPLOADS_PARTITIONS,
    specs=[
        dg.AssetSpec(
            TERMINATION_TRANSACTIONS_KEY,
            group_name="terminations",
            deps=[VALIDATED_KEY],
            kinds={"pandas", "sql"},
            skippable=True,
            description=(
                "Terminate uploads: each request row (state and line) checked against the "
                "producer's appointments and the state's termination rules (SPEC section 7); "
                "one transaction each, with reason, status, termination reason, estimated "
                "state fee and NIPR's own transaction fee, in `transactions` (kind "
                "termination). Only terminate files materialize it "
                "(partitions `terminate__...`); other files' partitions stay Missing."
            ),
        ),
        dg.AssetSpec(
            TERMINATION_BATCHES_KEY,
            group_name="terminations",
            deps=[TERMINATION_TRANSACTIONS_KEY],
            kinds={"sql"},
            skippable=True,
            description=(
                "The upload's termination transactions grouped per CoCode and submission mode "
                "in `transaction_batches`: Submit Immediately = TRUE batches approved "
                "automatically, the others waiting for review (`npnflow batches approve`). "
                "Only terminate files materialize it; other files' partitions stay Missing."
            ),
        ),
    ],
)
@retry_transient_database_errors
def core_terminations__evaluated(
    context: dg.AssetExecutionContext,
    database: OperationalDatabase,
) -> Iterator[dg.MaterializeResult[Any]]:
    yield from evaluate_upload(context, database, TERMINATE_REQUESTS)


TERMINATION_ASSETS = [core_terminations__evaluated]
__all__ = [
    "TERMINATION_ASSETS",
    "core_terminations__evaluated",
]
