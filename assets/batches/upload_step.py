"""One validated upload of requests, evaluated into transactions and batches: the step that the
appoint and the terminate assets share (`assets/appointments/assets.py`,
`assets/terminations/assets.py`), so it lives with the batches, not in either domain.

What differs per kind (which upload kind, which engine, which inputs, how rows become
transactions) is a `RequestKind`; what is the same is here, once:

- skip uploads of another kind, or not in a processable status;
- keep an upload's batches once one of them was approved or sent (checked before and again
  inside the writing transaction, so an approval that lands meanwhile wins);
- read the request rows `core_uploads__validated` stored (`assets/uploads/request_rows.py`:
  the file is not fetched or validated again), evaluate as of today, write transactions and
  batches in ONE database transaction;
- the metadata a reviewer reads: counts per reason and status, a preview, repeats; and the
  batches page (the batches table with the state fees and NIPR's own fees beside them, the
  status and the next step), read back from the database by `observation.py`, as every later
  observation of the page is.

No `from __future__ import annotations` here: Dagster reads the annotations of what it wraps.
"""

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg
import pandas as pd
from sqlalchemy.engine import Connection

from assets.batches import store as batch_store
from assets.batches.observation import batches_page_metadata
from assets.batches.planning import BatchPlan
from assets.metadata import markdown_preview
from assets.rules.business_day import nipr_business_date
from assets.uploads import ledger, request_rows
from assets.uploads import store as upload_store
from resources.database import OperationalDatabase

SHOWN_ROWS = 25


@dataclass(frozen=True)
class RequestKind:
    """How one upload kind becomes transactions of one transaction kind."""

    upload_kind: str  # uploads.kind: appoint | terminate
    transaction_kind: str  # transactions.kind: appointment | termination
    transactions_key: dg.AssetKey
    batches_key: dg.AssetKey
    # (connection, npns, replacing_upload_id=, state_codes=): the requests' NPNs and states
    read_inputs: Callable[..., dict[str, pd.DataFrame]]
    evaluate: Callable[[pd.DataFrame, Mapping[str, pd.DataFrame], dt.date], pd.DataFrame]
    plan: Callable[[pd.DataFrame, str, dt.datetime], BatchPlan]
    preview_columns: Sequence[str]
    auto_submit_column: str  # the template column that auto-approves, for the messages


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


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


def _skip_note(upload_kind: str, kind: str | None, status: str | None) -> str:
    if status is not None and not ledger.should_process(status):
        return f"Upload is {status}: no request to evaluate."
    return f"Not a {upload_kind} upload ({kind}): nothing to evaluate."


def evaluate_upload(
    context: dg.AssetExecutionContext,
    database: OperationalDatabase,
    request_kind: RequestKind,
) -> Iterator[dg.MaterializeResult[Any]]:
    """The body of an upload → transactions → batches multi-asset (see the module docstring)."""
    rk = request_kind
    partition_id = context.partition_key
    with database.begin() as connection:
        row = upload_store.work_target(connection, partition_id)
    upload_id = row["upload_id"] if row else partition_id
    if row is None or row["kind"] != rk.upload_kind or not ledger.should_process(row["status"]):
        context.log.info(
            f"Upload {upload_id}: "
            + _skip_note(
                rk.upload_kind, row["kind"] if row else None, row["status"] if row else None
            )
        )
        return
    continuing = bool(row["continuing"])
    if continuing:
        context.log.info(f"Upload {partition_id} continues upload {upload_id}.")
    with database.begin() as connection:
        existing = batch_store.existing_batches(connection, upload_id, rk.transaction_kind)
        if not existing.replaceable:
            upload_store.mark_completed(connection, upload_id, _now())
    if not existing.replaceable:
        context.log.info(f"Upload {upload_id}: {existing.why_not}.")
        note = f"Not re-evaluated: {existing.why_not}."
        yield dg.MaterializeResult(asset_key=rk.transactions_key, metadata={"note": note})
        yield dg.MaterializeResult(
            asset_key=rk.batches_key,
            metadata={"note": note, "batch_ids": ", ".join(existing.batch_ids)},
        )
        return
    try:
        with database.begin() as connection:
            requests = request_rows.read_request_rows(connection, upload_id, rk.upload_kind)
    except request_rows.RequestRowsMissing as missing:
        raise dg.Failure(description=str(missing), allow_retries=False) from None
    outcome = _evaluate_and_write(
        database, rk, requests, upload_id, continuing, row["completed_at"] is not None
    )
    if outcome is None:
        context.log.info(f"Upload {upload_id} was finished by another run meanwhile.")
        return
    plan, as_of = outcome

    counts = plan.counts
    context.log.info(
        f"Upload {upload_id}: {len(requests)} request row(s) evaluated as of {as_of}: "
        f"{counts['transactions']} {rk.transaction_kind} transaction(s) "
        f"({counts['ready_to_submit']} ready, {counts['held_jit']} held JIT, "
        f"{counts['not_eligible']} not eligible), {counts['request_rows_rejected']} request "
        f"row(s) rejected, {counts['repeats_not_created']} repeat(s) not created, "
        f"{counts['batches']} batch(es)"
    )
    yield dg.MaterializeResult(
        asset_key=rk.transactions_key, metadata=_transactions_metadata(rk, plan, requests, as_of)
    )
    # The page is read back from the database, as every later observation of it is
    # (assets/batches/observation.py): one description of the batches, whoever records it.
    with database.begin() as connection:
        page = batches_page_metadata(connection, upload_id, rk.transaction_kind)
    # The asset's Overview tab shows this materialization as it was; say where the news is.
    page["later_changes"] = (
        "Each approval, rejection, retry and submission run records this upload's page again "
        "(an observation): the Partitions tab, this upload's partition, shows the latest."
    )
    yield dg.MaterializeResult(asset_key=rk.batches_key, metadata=page)


def _evaluate_and_write(
    database: OperationalDatabase,
    rk: RequestKind,
    requests: pd.DataFrame,
    upload_id: str,
    continuing: bool,
    was_completed: bool,
) -> tuple[BatchPlan, dt.date] | None:
    """Evaluate and write in ONE transaction that holds the open-line claim.

    The transaction first locks the upload's row (one writer per upload: its own run and a drop
    continuing it never interleave; on SQLite this first write takes the database's write
    lock), then the open-line claim (`batch_store.serialise_line_claims`), and only then reads
    the open transactions the repeat check compares with. Two uploads asking for the same line
    at the same moment are therefore evaluated one after the other: the second reads the first
    one's transaction and reports its line as a repeat. Returns None when another run finished
    the upload meanwhile (its own, or a drop of the same content continuing it); else the plan
    written and the evaluation date.
    """
    now = _now()
    as_of = nipr_business_date(now)
    with database.begin() as connection:
        upload_store.lock_upload_row(connection, upload_id)
        batch_store.serialise_line_claims(connection)
        if not was_completed and upload_store.is_completed(connection, upload_id):
            return None  # another run (its own, or a drop continuing it) finished it
        # Checked again inside the writing transaction: a batch approved meanwhile wins.
        if not batch_store.existing_batches(connection, upload_id, rk.transaction_kind).replaceable:
            if continuing:
                return None
            raise dg.Failure(
                description=(
                    f"Upload {upload_id}: one of its batches was approved while it was being "
                    "re-evaluated; nothing was changed."
                ),
                allow_retries=False,
            )
        plan = _plan(connection, rk, requests, upload_id, as_of, now)
        batch_store.write_batch_plan(connection, plan)
        upload_store.mark_completed(connection, upload_id, now)
    return plan, as_of


def _plan(
    connection: Connection,
    rk: RequestKind,
    requests: pd.DataFrame,
    upload_id: str,
    as_of: dt.date,
    now: dt.datetime,
) -> BatchPlan:
    inputs = read_request_inputs(connection, rk, requests, replacing_upload_id=upload_id)
    return plan_requests(rk, requests, inputs, upload_id, as_of, now)


def read_request_inputs(
    connection: Connection,
    rk: RequestKind,
    requests: pd.DataFrame,
    *,
    replacing_upload_id: str | None,
) -> dict[str, pd.DataFrame]:
    """The engine's inputs for these requests, read on the caller's connection (only reads:
    `npnflow check` runs it too, in a transaction it rolls back)."""
    return rk.read_inputs(
        connection,
        requests["npn"],
        replacing_upload_id=replacing_upload_id,
        state_codes=requests["state_code"],
    )


def plan_requests(
    rk: RequestKind,
    requests: pd.DataFrame,
    inputs: Mapping[str, pd.DataFrame],
    upload_id: str,
    as_of: dt.date,
    now: dt.datetime,
) -> BatchPlan:
    """Pure: the engine's evaluation of the requests and the batch plan of its rows, exactly
    what the step writes (and what a dry run prints)."""
    evaluated = rk.evaluate(requests, inputs, as_of)
    return rk.plan(evaluated, upload_id, now)


def _transactions_metadata(
    rk: RequestKind, plan: BatchPlan, requests: pd.DataFrame, as_of: dt.date
) -> dict[str, Any]:
    reasons = reason_counts(plan.transactions, plan.rejections)
    shown = plan.transactions[list(rk.preview_columns)]
    metadata: dict[str, Any] = {
        "as_of": as_of.isoformat(),
        "request_rows": len(requests),
        **plan.counts,
        "by_reason_and_status": markdown_preview(ledger.markdown_safe(reasons), max_rows=40),
        "transactions_preview": markdown_preview(ledger.markdown_safe(shown), SHOWN_ROWS),
    }
    if len(plan.rejections):
        metadata["rejected_request_rows"] = markdown_preview(
            ledger.markdown_safe(
                plan.rejections[
                    ["request_row", "npn", "state_code", "cocode", "eligibility_reason"]
                ]
            ),
            SHOWN_ROWS,
        )
    if len(plan.repeats):
        metadata["repeats_not_created"] = markdown_preview(
            ledger.markdown_safe(plan.repeats), SHOWN_ROWS
        )
    return metadata
