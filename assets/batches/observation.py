"""The batches asset's page kept true: its metadata, built from the database, and the asset
observation that records it after each change of a batch.

A batch belongs to the batches asset of its kind (`core_appointments__batches`,
`core_terminations__batches`), on the partition of its upload (the partition key is the
upload id). The upload's run materializes that partition with `batches_page_metadata`; every
later change (approval, rejection, retry, submission, completion) records an
`AssetObservation` with the same metadata, read again, so the latest event of the partition
shows the batch's current status, NIPR's answers and the next step, whichever door changed it.

How the observation is recorded depends on where the change happened, so the callers pass a
`record` callable: inside a run `context.log_event`, outside one (the CLI)
`record_outside_a_run`, which writes it to the instance as a runless event. An observation
carries no data version: the batches' content did not change, only their progress, and
Dagster's staleness of the reports below does not look at observations of a materialized
asset (docs/decisions/0030-batch-pages-observations.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any, Protocol
from urllib.parse import quote

import dagster as dg
from sqlalchemy.engine import Connection

from assets.batches.page import BatchesPage, batch_pages_of, read_batches_page
from assets.keys import BATCHES_KEY, TERMINATION_BATCHES_KEY
from assets.metadata import markdown_preview
from assets.uploads.ledger import markdown_safe

#: The batches asset of each transaction kind.
BATCHES_ASSET_OF_KIND = {"appointment": BATCHES_KEY, "termination": TERMINATION_BATCHES_KEY}

#: What records an observation: `context.log_event` in a run, `record_outside_a_run` outside.
RecordObservation = Callable[[dg.AssetObservation], None]


def page_metadata(page: BatchesPage) -> dict[str, Any]:
    """What the page shows: the current status, NIPR's answers, the fees still to send, the
    batches table and the next step."""
    return {
        "status": page.status,
        "batches": len(page.batches),
        "batch_ids": ", ".join(page.batch_ids),
        "to_send": page.total("to_send"),
        "accepted": page.total("accepted"),
        "rejected": page.total("rejected"),
        "pending_at_nipr": page.total("in_flight"),
        "fees_to_send": dg.MetadataValue.float(float(page.fees_to_send)),
        # NIPR bills its own fee apart from the state fees: beside, not added in.
        "nipr_fees_to_send": dg.MetadataValue.float(float(page.nipr_fees_to_send)),
        "batches_table": markdown_preview(markdown_safe(page.table()), max_rows=50),
        "next": page.next_step,
        # Issue 19: every line's decision and evidence, where a person reads them.
        "evidence": dg.MetadataValue.md(evidence_links(page.batch_ids)),
    }


def evidence_links(batch_ids: list[str]) -> str:
    """The commands that show each batch's lines explained, and export them for an auditor."""
    lines = [
        f"- `npnflow batches show {batch_id} --evidence`, "
        f"`npnflow batches export {batch_id} -o {batch_id}.xlsx`"
        for batch_id in batch_ids
    ]
    return "\n".join(
        [*lines, "- one line: `npnflow explain TRANSACTION_ID` (ids in `batches show`)"]
    )


def batches_page_metadata(connection: Connection, upload_id: str, kind: str) -> dict[str, Any]:
    """The metadata of the upload's batches page of this kind, as the database holds it now."""
    return page_metadata(read_batches_page(connection, upload_id, kind))


def batch_page_observations(
    connection: Connection, batch_ids: Iterable[str], *, because: str
) -> list[dg.AssetObservation]:
    """One observation per page these batches are on (their upload's partition of their
    kind's batches asset), with the page's metadata read now and why it was recorded."""
    observations = []
    for upload_id, kind in batch_pages_of(connection, sorted(set(batch_ids))):
        key = BATCHES_ASSET_OF_KIND.get(kind)
        if key is None:
            continue
        metadata = {
            "recorded_because": because,
            **batches_page_metadata(connection, upload_id, kind),
        }
        observations.append(
            dg.AssetObservation(asset_key=key, partition=upload_id, metadata=metadata)
        )
    return observations


class _Transactional(Protocol):
    """What opens a database transaction: the `OperationalDatabase` resource."""

    def begin(self) -> AbstractContextManager[Connection]: ...


def record_batch_pages(
    database: _Transactional, batch_ids: Iterable[str], record: RecordObservation, *, because: str
) -> list[dg.AssetObservation]:
    """Read the pages of these batches in a transaction of their own (after the change has
    committed, so the page never shows what was rolled back) and record each one."""
    with database.begin() as connection:
        observations = batch_page_observations(connection, batch_ids, because=because)
    for observation in observations:
        record(observation)
    return observations


def batch_page_path(observation: dg.AssetObservation) -> str:
    """Where the UI shows the page an observation was recorded on: the asset's Partitions tab
    with the upload's partition selected (the Overview tab ignores `?partition=` and shows the
    asset's latest materialization, whichever partition that was)."""
    key = "/".join(quote(part, safe="") for part in observation.asset_key.path)
    partition = quote(observation.partition or "", safe="")
    return f"/assets/{key}?view=partitions&partition={partition}"


def record_outside_a_run(instance: dg.DagsterInstance) -> RecordObservation:
    """Record observations on the instance as runless events (the CLI's changes)."""
    return instance.report_runless_asset_event
