"""Offboarding in Dagster: `offboard` uploads and the Launchpad op.

- `core_offboarding__producers` (group `offboarding`, partitioned by `uploads` like the other
  upload steps): the producers of a validated `offboard` upload offboarded
  (`service.offboard_producers`: terminations, cancelled unsent lines, portal seats revoked,
  marked offboarded), one database transaction per producer. The upload's rows say who, which
  reason, date and companies; who offboards is recorded as `upload <file>`. Other kinds skip.
- `offboard_producers` (the op of `offboard_producers_job`): the same for NPNs typed on the
  Launchpad, with the options of `npnflow offboard`.

A run fails (after offboarding every producer it could) when a producer's offboarding failed:
that producer was rolled back, and running again offboards it, while the producers already
offboarded are reported `Already Offboarded` and left alone.

No `from __future__ import annotations` here: Dagster reads the annotations of what it wraps.
"""

import datetime as dt
from collections.abc import Iterator
from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field

from assets.keys import OFFBOARDING_KEY, UPLOADS_PARTITIONS, VALIDATED_KEY
from assets.metadata import markdown_preview
from assets.offboarding.rules import (
    ALREADY_OFFBOARDED,
    NOT_OFFBOARDED,
    OFFBOARDED,
    PRODUCER_NOT_FOUND,
    OffboardingRefused,
    OffboardRequest,
    describe,
    parse_cocodes,
)
from assets.offboarding.service import OffboardingRun, offboard_producers
from assets.uploads import ledger
from assets.uploads import store as upload_store
from assets.uploads.acting import upload_to_act_on
from resources.database import OperationalDatabase

UPLOAD_KIND = "offboard"
SHOWN_ROWS = 50


def _date(value: object) -> dt.date | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return pd.Timestamp(value).date()


def _text(value: object) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return str(value).strip() or None


def requests_from_rows(rows: pd.DataFrame) -> list[OffboardRequest]:
    """An offboard upload's stored rows as requests (one per producer)."""
    return [
        OffboardRequest(
            npn=str(r.npn).strip(),
            reason_code=_text(r.termination_reason_code),
            effective_date=_date(r.effective_date),
            cocodes=parse_cocodes([_text(r.cocodes)]),
            row_number=int(r.row_number),
        )
        for r in rows.itertuples(index=False)
    ]


def offboarding_metadata(run: OffboardingRun) -> dict[str, Any]:
    """What a person reads of a run: counts, each producer's outcome, the batches to approve."""
    summary = pd.DataFrame(
        [
            {
                "row": o.row_number if o.row_number is not None else "",
                "npn": o.npn,
                "outcome": o.outcome,
                "terminations": len(o.terminations),
                "cancelled": len(o.cancelled),
                "seats_revoked": len(o.revoked),
                "batches_to_approve": ", ".join(o.batches_to_approve),
                "message": o.message,
            }
            for o in run.outcomes
        ]
    )
    to_approve = [b for o in run.outcomes for b in o.batches_to_approve]
    approved = [b for o in run.outcomes for b in o.batches_approved]
    return {
        "producers": len(run.outcomes),
        "offboarded": run.count(OFFBOARDED),
        "not_found": run.count(PRODUCER_NOT_FOUND),
        "already_offboarded": run.count(ALREADY_OFFBOARDED),
        "failed": run.count(NOT_OFFBOARDED),
        "terminations": sum(len(o.terminations) for o in run.outcomes),
        "lines_cancelled": sum(len(o.cancelled) for o in run.outcomes),
        "seats_revoked": sum(len(o.revoked) for o in run.outcomes),
        "batches_to_approve": ", ".join(to_approve) or "none",
        "batches_approved": ", ".join(approved) or "none",
        "producers_table": markdown_preview(ledger.markdown_safe(summary), SHOWN_ROWS),
        "next": (
            f"Review then approve: `npnflow batches show {to_approve[0]}`, `npnflow batches "
            f"approve {to_approve[0]} --by <name>` (or launch approve_batch_job)."
            if to_approve
            else "Nothing to approve."
        ),
    }


def _log(log: Any, run: OffboardingRun) -> None:
    for outcome in run.outcomes:
        for line in describe(outcome):
            log.info(line)


def _failure(run: OffboardingRun, metadata: dict[str, Any]) -> dg.Failure:
    failed = "; ".join(f"NPN {o.npn}: {o.message}" for o in run.failed)
    return dg.Failure(
        description=(
            f"{len(run.failed)} producer(s) not offboarded (each rolled back whole): {failed}. "
            "The others stand; re-execute this run once the cause is fixed."
        ),
        metadata=metadata,
        allow_retries=False,
    )


@dg.multi_asset(
    name="core_offboarding__producers",
    partitions_def=UPLOADS_PARTITIONS,
    specs=[
        dg.AssetSpec(
            OFFBOARDING_KEY,
            group_name="offboarding",
            deps=[VALIDATED_KEY],
            kinds={"sql"},
            skippable=True,
            description=(
                "offboard uploads: each valid row's producer offboarded in one database "
                "transaction: every Appointed line with the customer's companies (or the "
                "row's CoCodes) becomes a termination (one batch per CoCode, Pending Review), "
                "lines never sent are Cancelled, portal seats Revoked, the producer marked "
                "offboarded (off the PDB Alerts targets at the next subscriptions run). Only "
                "offboard files materialize it; other files' partitions stay Missing."
            ),
        )
    ],
)
def core_offboarding__producers(
    context: dg.AssetExecutionContext,
    database: OperationalDatabase,
) -> Iterator[dg.MaterializeResult[Any]]:
    target = upload_to_act_on(
        database, context.partition_key, UPLOAD_KIND, context.log, "nobody to offboard"
    )
    if target is None:
        return
    upload_id, row, rows = target.upload_id, target.row, target.rows
    try:
        run = offboard_producers(
            database,
            requests_from_rows(rows),
            offboarded_by=f"upload {row['object_key']}",
            upload_id=upload_id,
        )
    except OffboardingRefused as refusal:
        raise dg.Failure(description=str(refusal), allow_retries=False) from None
    _log(context.log, run)
    metadata = offboarding_metadata(run)
    if run.failed:
        raise _failure(run, metadata)
    # Offboarding again changes nothing (Already Offboarded), so a continuing run may repeat
    # this step safely.
    with database.begin() as connection:
        upload_store.mark_completed(connection, upload_id, dt.datetime.now(dt.UTC))
    yield dg.MaterializeResult(asset_key=OFFBOARDING_KEY, metadata=metadata)


class OffboardProducersConfig(dg.Config):
    npns: list[str] = Field(description="The producers' NPNs (digits, up to 10 each).")
    offboarded_by: str = Field(description="Who offboards them (recorded).")
    reason: str | None = Field(
        default=None,
        description="Termination reason code for every termination (blank: each state's default).",
    )
    effective_date: str | None = Field(
        default=None,
        description="YYYY-MM-DD effective date of the terminations (blank: each state's "
        "processing date).",
    )
    cocodes: list[str] = Field(
        default_factory=list,
        description="Only these companies' appointments (blank: every company of config/).",
    )
    submit_immediately: bool = Field(
        default=False,
        description="Approve the termination batches at once (approved_by: offboarded_by); "
        "approved_batch_sensor then submits them.",
    )


@dg.op(
    description=(
        "Offboard producers (config: npns, offboarded_by; reason, effective_date, cocodes, "
        "submit_immediately), as `npnflow offboard` does: terminations, unsent lines "
        "cancelled, portal seats revoked, producers marked offboarded; one transaction each."
    ),
)
def offboard_named_producers(
    context: dg.OpExecutionContext,
    config: OffboardProducersConfig,
    database: OperationalDatabase,
) -> None:
    npns = [n.strip() for value in config.npns for n in value.replace(";", ",").split(",")]
    npns = [n for n in npns if n]
    if not npns:
        raise dg.Failure(description="No NPNs given: list them in the config's npns.")
    try:
        effective = (
            dt.date.fromisoformat(config.effective_date.strip())
            if config.effective_date and config.effective_date.strip()
            else None
        )
    except ValueError:
        raise dg.Failure(
            description=f"effective_date {config.effective_date!r} is not a YYYY-MM-DD date.",
            allow_retries=False,
        ) from None
    cocodes = parse_cocodes(config.cocodes)
    requests = [
        OffboardRequest(
            npn=npn,
            reason_code=(config.reason or "").strip() or None,
            effective_date=effective,
            cocodes=cocodes,
        )
        for npn in npns
    ]
    try:
        run = offboard_producers(
            database,
            requests,
            offboarded_by=config.offboarded_by,
            submit_immediately=config.submit_immediately,
        )
    except OffboardingRefused as refusal:
        raise dg.Failure(description=str(refusal), allow_retries=False) from None
    _log(context.log, run)
    metadata = offboarding_metadata(run)
    if run.failed:
        raise _failure(run, metadata)
    context.add_output_metadata(metadata)


OFFBOARDING_ASSETS = [core_offboarding__producers]
__all__ = [
    "OFFBOARDING_ASSETS",
    "OffboardProducersConfig",
    "core_offboarding__producers",
    "offboard_named_producers",
    "offboarding_metadata",
    "requests_from_rows",
]
