"""Submission to the NIPR Gateway as a Dagster asset: one dynamic partition per batch.

`approved_batch_sensor` adds the batch's partition and requests `submit_batch_job` with run key
"{batch_id}:{approval_version}" and the version as a run tag, so a batch is submitted by one run
per approval. The run does the work in `assets/submissions/submission.py` (exactly once: its
own attempt ledger, idempotency keys, a look-up at NIPR before any resend, a lock per batch);
this asset only reads the tags, calls it and shows the outcome. After a run that sent or
polled, the batch's own page (its upload's partition of the batches asset) records where the
batch now stands (`assets/batches/observation.py`), so that page never shows a stale status.

The batches partitions depend on every upload partition's batches (`AllPartitionMapping`):
lineage in the UI runs from a dropped file through its batches to their submissions.
"""

from typing import Any

import dagster as dg
import pandas as pd

from assets.batches.detail import batch_detail
from assets.batches.observation import record_batch_pages
from assets.batches.store import current_approval_version
from assets.keys import (
    BATCH_PARTITIONS,
    BATCHES_KEY,
    SUBMISSIONS_KEY,
    TAG_APPROVAL_VERSION,
    TAG_PURPOSE,
    TERMINATION_BATCHES_KEY,
)
from assets.metadata import markdown_preview
from assets.retries import retry_transient_database_errors
from assets.submissions.submission import (
    BatchBusy,
    SubmissionIncomplete,
    SubmissionReport,
    poll_batch,
    submit_batch,
)
from assets.uploads.ledger import markdown_safe
from resources.database import OperationalDatabase
from resources.nipr_gateway import NiprGateway

# NIPR down: the step tries again in the same run (1, 3, then 7 minutes later: Dagster's
# exponential backoff waits (2**n - 1) * delay before try n+1); each try first
# asks NIPR what it already has. After that the batch waits for `npnflow batches retry`.
SUBMISSION_RETRY_POLICY = dg.RetryPolicy(max_retries=3, delay=60, backoff=dg.Backoff.EXPONENTIAL)

# Another run holds the batch (a poll, or the run of an earlier approval still finishing): the
# step waits for it (about 1/2, 1 1/2, 3 1/2, then 7 1/2 minutes, give or take 30 s) instead of
# failing, because the sensor asks for one run per approval and never again. When the holder
# finished the batch, the next try finds it Completed and does nothing.
BATCH_BUSY_RETRY_POLICY = dg.RetryPolicy(
    max_retries=4, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


def _current_version(database: OperationalDatabase, batch_id: str) -> int | None:
    with database.begin() as connection:
        return current_approval_version(connection, batch_id)


@dg.asset(
    key=SUBMISSIONS_KEY,
    group_name="submissions",
    partitions_def=BATCH_PARTITIONS,
    deps=[
        dg.AssetDep(key, partition_mapping=dg.AllPartitionMapping())
        for key in (BATCHES_KEY, TERMINATION_BATCHES_KEY)
    ],
    kinds={"xml"},
    retry_policy=SUBMISSION_RETRY_POLICY,
    description=(
        "One approved batch of appointments or terminations sent to the NIPR Gateway (a "
        "partition per batch): every eligible transaction exactly once, in chunks of at most 100, each attempt recorded before the "
        "call; NIPR's answers (Accepted, Rejected with NIPR's message, Pending State Review) "
        "written to `transactions`."
    ),
)
@retry_transient_database_errors
def out_nipr__gateway_submissions(
    context: dg.AssetExecutionContext,
    database: OperationalDatabase,
    nipr_gateway: NiprGateway,
) -> dg.MaterializeResult[Any]:
    batch_id = context.partition_key
    purpose = context.run.tags.get(TAG_PURPOSE, "submit")
    try:
        report = _submit_or_poll(context, database, nipr_gateway, batch_id, purpose)
    except SubmissionIncomplete as incomplete:
        # The batch stays Submitting with lines unsent: its page says so, and what to do.
        _record_batch_page(
            context,
            database,
            batch_id,
            f"{purpose} run stopped: no usable answer from the NIPR Gateway",
        )
        raise dg.Failure(
            description=str(incomplete), metadata=incomplete.report.as_metadata()
        ) from None
    if report.action != "skipped":
        _record_batch_page(
            context, database, batch_id, f"{report.action}: batch {report.batch_status}"
        )
    with database.begin() as connection:
        transactions = batch_detail(connection, batch_id).transactions
    # A chosen display order, not the table's columns: what a reviewer of the outcome reads.
    shown = transactions[
        ["transaction_id", "npn", "state_code", "loa_code", "status", "nipr_message"]
    ]
    counts = transactions["status"].value_counts().to_dict()
    return dg.MaterializeResult(
        metadata={
            "purpose": purpose,
            **report.as_metadata(),
            "transactions_by_status": markdown_preview(
                pd.DataFrame({"status": list(counts), "transactions": list(counts.values())}),
                max_rows=20,
            ),
            "transactions": markdown_preview(markdown_safe(shown), max_rows=30),
        }
    )


def _submit_or_poll(
    context: dg.AssetExecutionContext,
    database: OperationalDatabase,
    nipr_gateway: NiprGateway,
    batch_id: str,
    purpose: str,
) -> SubmissionReport:
    if purpose == "poll":
        return poll_batch(database, nipr_gateway, batch_id, log=context.log)
    version_tag = context.run.tags.get(TAG_APPROVAL_VERSION)
    # Launched by hand from the UI: the batch's current approval. The ledger and the lock
    # still make a second run for the same approval harmless.
    version = int(version_tag) if version_tag else _current_version(database, batch_id)
    if version is None:
        raise dg.Failure(
            description=f"Batch {batch_id} does not exist (see `npnflow batches list`).",
            allow_retries=False,
        )
    try:
        return submit_batch(database, nipr_gateway, batch_id, version, log=context.log)
    except BatchBusy as busy:
        raise dg.RetryRequested(
            max_retries=BATCH_BUSY_RETRY_POLICY.max_retries,
            seconds_to_wait=BATCH_BUSY_RETRY_POLICY.calculate_delay(context.retry_number + 1),
        ) from busy


def _record_batch_page(
    context: dg.AssetExecutionContext, database: OperationalDatabase, batch_id: str, because: str
) -> None:
    """The batch's page (its upload's partition of the batches asset) records where the batch
    stands after this run, in the run's event log: Completed with NIPR's answers, or still
    waiting, whichever door approved it (a person, the upload, a JIT release, offboarding)."""
    record_batch_pages(database, [batch_id], context.log_event, because=because)


SUBMISSION_ASSETS = [out_nipr__gateway_submissions]
__all__ = [
    "SUBMISSION_ASSETS",
    "out_nipr__gateway_submissions",
]
