"""Just-in-time appointments in Dagster: `jit_release` uploads and the Launchpad op.

- `core_jit__released` (group `jit`, partitioned by `uploads` like the other upload steps): the
  held lines a validated `jit_release` upload ("first business" feed: NPN, State, CoCode, LOA
  Category, Business Date) names, released (`service.release_held_lines`): re-checked as of
  today, moved into a new Approved batch per CoCode (approved by `upload <file>`), which
  `approved_batch_sensor` submits once. One database transaction for the whole file. Other
  kinds skip.
- `release_named_jit_lines` (the op of `release_jit_job`): the same for lines named on the
  Launchpad, with the options of `npnflow jit release`.

Running either again releases nothing twice: a released line is no longer `Held (JIT)`.

No `from __future__ import annotations` here: Dagster reads the annotations of what it wraps.
"""

import datetime as dt
from collections.abc import Iterator
from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field

from assets.jit.rules import JitRefused, ReleaseOutcome, ReleaseRequest, describe_release
from assets.jit.service import release_held_lines
from assets.keys import JIT_RELEASE_KEY, UPLOADS_PARTITIONS, VALIDATED_KEY
from assets.metadata import markdown_preview
from assets.uploads import ledger
from assets.uploads import store as upload_store
from assets.uploads.acting import upload_to_act_on
from resources.database import OperationalDatabase
from schemas import statuses

UPLOAD_KIND = "jit_release"
SHOWN_ROWS = 50


def _text(value: object) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return str(value).strip() or None


def _date(value: object) -> dt.date | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return pd.Timestamp(value).date()


def requests_from_rows(rows: pd.DataFrame) -> list[ReleaseRequest]:
    """A jit_release upload's stored rows as requests (one per row and state)."""
    return [
        ReleaseRequest(
            npn=str(r.npn).strip(),
            state_code=state.strip().upper(),
            cocode=_text(r.cocode),
            loa_category=_text(r.loa_category),
            business_date=_date(r.business_date),
            row_number=int(r.row_number),
        )
        for r in rows.itertuples(index=False)
        for state in str(r.state_codes or "").split(";")
        if state.strip()
    ]


def release_metadata(outcome: ReleaseOutcome) -> dict[str, Any]:
    """What a person reads of a release: counts, the lines, the batches the sensor submits."""
    lines = pd.DataFrame(
        [
            {
                "transaction_id": line.transaction_id,
                "npn": line.npn,
                "state": line.state_code,
                "cocode": line.cocode,
                "loa": line.loa,
                "status": line.status,
                "reason": line.reason or "",
                "jit_due_date": line.jit_due_date.isoformat() if line.jit_due_date else "",
                "batch_id": line.batch_id or "",
            }
            for line in (*outcome.released, *outcome.not_eligible)
        ]
    )
    return {
        "released": len(outcome.released),
        "not_eligible": len(outcome.not_eligible),
        "nothing_held_for": len(outcome.unmatched),
        "batches_approved": ", ".join(outcome.batches) or "none",
        "lines": markdown_preview(ledger.markdown_safe(lines), SHOWN_ROWS),
        "not_matched": "; ".join(outcome.unmatched) or "none",
        "next": (
            "approved_batch_sensor submits the Approved batch(es) once; "
            f"`npnflow batches show {outcome.batches[0]}` follows it."
            if outcome.batches
            else "Nothing to submit."
        ),
    }


def _log(log: Any, outcome: ReleaseOutcome, by: str) -> None:
    for line in describe_release(outcome, by):
        log.info(line)


@dg.multi_asset(
    name="core_jit__released",
    partitions_def=UPLOADS_PARTITIONS,
    specs=[
        dg.AssetSpec(
            JIT_RELEASE_KEY,
            group_name="jit",
            deps=[VALIDATED_KEY],
            kinds={"duckdb", "sql"},
            skippable=True,
            description=(
                'jit_release uploads ("first business" feed): the Held (JIT) lines each valid '
                "row names, re-checked for eligibility as of today and moved into a new batch "
                "per CoCode, Approved at version 1 (approved_batch_sensor submits it once), with "
                "the business date as effective date where the state takes one and its JIT due "
                "date; lines no longer eligible become Not Eligible, never sent. Only jit_release "
                "files materialize it; other files' partitions stay Missing."
            ),
        )
    ],
)
def core_jit__released(
    context: dg.AssetExecutionContext,
    database: OperationalDatabase,
) -> Iterator[dg.MaterializeResult[Any]]:
    target = upload_to_act_on(
        database, context.partition_key, UPLOAD_KIND, context.log, "nothing to release"
    )
    if target is None:
        return
    upload_id, row, rows = target.upload_id, target.row, target.rows
    by = f"upload {row['object_key']}"
    requests = requests_from_rows(rows)
    outcome = ReleaseOutcome()
    if requests:
        try:
            outcome = release_held_lines(database, requests, released_by=by, origin=upload_id)
        except JitRefused as refusal:
            raise dg.Failure(description=str(refusal), allow_retries=False) from None
    _log(context.log, outcome, by)
    # Releasing again releases nothing twice, so a continuing run may repeat this step safely.
    with database.begin() as connection:
        upload_store.mark_completed(connection, upload_id, dt.datetime.now(dt.UTC))
    yield dg.MaterializeResult(asset_key=JIT_RELEASE_KEY, metadata=release_metadata(outcome))


class ReleaseJitConfig(dg.Config):
    released_by: str = Field(description="Who releases (recorded as the batch's approver).")
    transaction_ids: list[str] = Field(
        default_factory=list, description="Held lines by transaction id (or name an NPN)."
    )
    npn: str | None = Field(default=None, description="Every held line of this producer ...")
    state: str | None = Field(default=None, description="... in this state")
    cocode: str | None = Field(default=None, description="... with this company")
    loa_category: str | None = Field(default=None, description="... of this LOA category")
    business_date: str | None = Field(
        default=None,
        description="YYYY-MM-DD: when the first business arrived (blank: today); the effective "
        "date where the state takes one, and the start of the state's JIT deadline.",
    )


@dg.op(
    description=(
        "Release held JIT lines (config: released_by; transaction_ids, or npn with state, "
        "cocode, loa_category; business_date), as `npnflow jit release` does: re-checked as "
        "of today, moved into a new Approved batch that approved_batch_sensor submits once."
    ),
)
def release_named_jit_lines(
    context: dg.OpExecutionContext,
    config: ReleaseJitConfig,
    database: OperationalDatabase,
) -> None:
    try:
        business = (
            dt.date.fromisoformat(config.business_date.strip())
            if config.business_date and config.business_date.strip()
            else None
        )
    except ValueError:
        raise dg.Failure(
            description=f"business_date {config.business_date!r} is not a YYYY-MM-DD date.",
            allow_retries=False,
        ) from None
    ids = tuple(
        i.strip() for value in config.transaction_ids for i in value.split(",") if i.strip()
    )
    request = (
        ReleaseRequest(transaction_ids=ids, business_date=business)
        if ids
        else ReleaseRequest(
            npn=(config.npn or "").strip() or None,
            state_code=config.state,
            cocode=config.cocode,
            loa_category=config.loa_category,
            business_date=business,
        )
    )
    try:
        outcome = release_held_lines(
            database, [request], released_by=config.released_by, door=statuses.DOOR_LAUNCHPAD
        )
    except JitRefused as refusal:
        raise dg.Failure(description=str(refusal), allow_retries=False) from None
    _log(context.log, outcome, config.released_by.strip())
    context.add_output_metadata(release_metadata(outcome))


JIT_ASSETS = [core_jit__released]
__all__ = [
    "JIT_ASSETS",
    "ReleaseJitConfig",
    "core_jit__released",
    "release_metadata",
    "release_named_jit_lines",
    "requests_from_rows",
]
