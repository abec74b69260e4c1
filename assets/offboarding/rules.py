"""Offboarding a producer: the rules. Pure: no Dagster, no database.

Offboarding (docs/operations.md, "Offboarding") ends everything a producer has with the
customer, in one database transaction per producer (`service.py` runs it, `store.py` reads and
writes). What is decided here, without I/O:

- which appointments become termination requests (`termination_requests`): every line of the
  producer whose `appointments.status` is `Appointed` (any case), with one of the companies
  asked for (all of the customer's companies, `config/companies.yaml`, when none is named);
  each request carries the reason and effective date given (blank: the state's default reason
  and processing date, as a terminate file's blank cells do). The termination engine
  (`assets/terminations/eligibility.py`) then checks each line as it checks a terminate file's:
  a state that takes no termination through NIPR says so on the line, a reason the state does
  not take or a date it refuses is Not Eligible with its reason, and a line already being
  terminated (an open termination, or one NIPR accepted that the sync does not show yet) is
  Not Eligible with the repeat's reason instead of being filed twice
  (`with_repeats_on_record`): every Appointed line has its termination line on record;
- how its rows become batches (`plan_offboarding_batches`): one termination batch per CoCode
  of the producer (a batch never mixes producers, so one producer's offboarding commits or
  rolls back with its own batches), `Pending Review` unless submit immediately was asked, then
  `Approved` at version 1 with `approved_by` the offboarder, so `approved_batch_sensor` submits
  it exactly once as it does any approved batch;
- what the command prints per producer (`describe`).

The outcome of one producer is `Offboarded`, `Producer Not Found`, `Already Offboarded` (both
change nothing) or `Not Offboarded` (a failure: everything of that producer rolled back).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from assets.batches.planning import BatchPlan
from assets.rules.evidence import (
    DECIDED_BY_OPEN_TRANSACTION,
    EVIDENCE_COLUMNS,
    EVIDENCE_PREFIX,
)
from assets.terminations.eligibility import ENGINE_VERSION, RESULT_COLUMNS, batch_key
from assets.terminations.store import plan_termination_batches
from schemas import statuses

OFFBOARDED = "Offboarded"
PRODUCER_NOT_FOUND = "Producer Not Found"
ALREADY_OFFBOARDED = "Already Offboarded"
NOT_OFFBOARDED = "Not Offboarded"
OUTCOMES = (OFFBOARDED, PRODUCER_NOT_FOUND, ALREADY_OFFBOARDED, NOT_OFFBOARDED)

APPOINTED = "appointed"  # appointments.status, compared in lower case

#: The transaction statuses of lines never sent that offboarding cancels.
UNSENT_STATUSES: tuple[str, ...] = (statuses.READY_TO_SUBMIT, statuses.HELD_JIT)

#: The request columns the termination engine reads (`REQUEST_COLUMNS` and optional ones).
REQUEST_COLUMNS = (
    "request_row",
    "npn",
    "state_code",
    "cocode",
    "loa_code",
    "termination_reason_code",
    "effective_date",
    "submit_immediately",
)


@dataclass(frozen=True)
class OffboardRequest:
    """One producer to offboard, with the options that apply to it."""

    npn: str
    reason_code: str | None = None  # blank: each state's default
    effective_date: dt.date | None = None  # blank: each state's processing date
    cocodes: tuple[str, ...] = ()  # blank: every company of the customer
    row_number: int | None = None  # the upload's spreadsheet row, when from a file


@dataclass(frozen=True)
class CancelledLine:
    transaction_id: str
    batch_id: str
    kind: str
    state_code: str | None
    cocode: str | None
    loa: str | None  # the LOA category or code, as the line has it
    status_before: str


@dataclass(frozen=True)
class RevokedSeat:
    portal_id: str
    status_before: str


@dataclass(frozen=True)
class ProducerOutcome:
    """What offboarding did to one producer (nothing unless `outcome` is Offboarded)."""

    npn: str
    outcome: str
    message: str
    row_number: int | None = None
    terminations: pd.DataFrame = field(default_factory=pd.DataFrame)  # the transactions written
    repeats: pd.DataFrame = field(default_factory=pd.DataFrame)  # lines already being terminated
    batches: pd.DataFrame = field(default_factory=pd.DataFrame)  # the batches written
    cancelled: tuple[CancelledLine, ...] = ()
    closed_batches: tuple[str, ...] = ()  # batches left with no open line: now Completed
    revoked: tuple[RevokedSeat, ...] = ()

    @property
    def changed(self) -> bool:
        return self.outcome == OFFBOARDED

    @property
    def batches_to_approve(self) -> list[str]:
        if self.batches.empty:
            return []
        pending = self.batches["status"].eq(statuses.BATCH_PENDING_REVIEW)
        return self.batches.loc[pending, "batch_id"].tolist()

    @property
    def batches_approved(self) -> list[str]:
        if self.batches.empty:
            return []
        approved = self.batches["status"].eq(statuses.BATCH_APPROVED)
        return self.batches.loc[approved, "batch_id"].tolist()


class OffboardingRefused(ValueError):
    """A request that cannot be carried out as asked; the message says why, for people."""


def parse_cocodes(values: Iterable[str | None]) -> tuple[str, ...]:
    """CoCodes as given (`;` or `,` separated, repeated options), trimmed, each once, in order."""
    seen: dict[str, None] = {}
    for value in values:
        for item in str(value or "").replace(",", ";").split(";"):
            if item.strip():
                seen.setdefault(item.strip(), None)
    return tuple(seen)


def unknown_cocodes(cocodes: Sequence[str], companies: Iterable[str]) -> list[str]:
    """The CoCodes asked for that are not the customer's companies."""
    known = {str(c).strip() for c in companies}
    return [c for c in cocodes if c not in known]


def chosen_cocodes(request: OffboardRequest, companies: Iterable[str]) -> list[str]:
    """The companies whose appointments end: those asked for, else all of the customer's."""
    return list(request.cocodes) if request.cocodes else sorted({str(c) for c in companies})


def termination_requests(
    request: OffboardRequest,
    appointments: pd.DataFrame,
    cocodes: Sequence[str],
    *,
    submit_immediately: bool,
) -> pd.DataFrame:
    """One termination request (`REQUEST_COLUMNS`) per Appointed line of the producer with one
    of `cocodes`, ordered by state, CoCode and line; `request_row` counts from 1."""
    frame = appointments
    if frame.empty:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in REQUEST_COLUMNS})
    status = frame["status"].astype(object).map(lambda s: str(s).strip().lower() if s else "")
    wanted = (
        frame["npn"].astype(str).str.strip().eq(request.npn)
        & status.eq(APPOINTED)
        & frame["cocode"].astype(str).str.strip().isin(list(cocodes))
    )
    lines = (
        frame.loc[wanted, ["npn", "state_code", "cocode", "loa_code"]]
        .astype(str)
        .apply(lambda column: column.str.strip())
        .drop_duplicates()
        .sort_values(["state_code", "cocode", "loa_code"])
        .reset_index(drop=True)
    )
    lines.insert(0, "request_row", range(1, len(lines) + 1))
    lines["termination_reason_code"] = request.reason_code
    lines["effective_date"] = request.effective_date
    lines["submit_immediately"] = submit_immediately
    return lines[list(REQUEST_COLUMNS)]


def with_repeats_on_record(evaluated: pd.DataFrame, requests: pd.DataFrame) -> pd.DataFrame:
    """The engine's rows plus one `Not Eligible` row per line it left out as a repeat (an open
    termination of the line, or one NIPR already accepted), with the repeat's reason: never
    sent, no fee, but every Appointed line of the offboarding has its line on record."""
    repeats = evaluated.attrs.get("repeats")
    if not isinstance(repeats, pd.DataFrame) or repeats.empty:
        return evaluated
    asked = requests.set_index("request_row")
    rows = []
    for repeat in repeats.itertuples(index=False):
        request = asked.loc[int(repeat.request_row)]
        auto = bool(request["submit_immediately"])
        rows.append(
            {
                "request_row": int(repeat.request_row),
                "npn": repeat.npn,
                "state_code": repeat.state_code,
                "cocode": repeat.cocode,
                "company_name": None,
                "loa_code": repeat.loa_code,
                "loa_name": None,
                "termination_reason_code": request["termination_reason_code"],
                "is_resident": None,
                "eligibility_reason": repeat.reason,
                "status": statuses.NOT_ELIGIBLE,
                "estimated_fee": 0.0,
                "estimated_nipr_fee": 0.0,
                "auto_submit": auto,
                "batch_key": batch_key(str(repeat.cocode), auto),
                "effective_date": request["effective_date"],
                # Its evidence: the line, decided by the transaction it repeats (named in
                # `attrs["repeats"]`), not by a row the engine read.
                **dict.fromkeys(EVIDENCE_COLUMNS),
                f"{EVIDENCE_PREFIX}decided_by": DECIDED_BY_OPEN_TRANSACTION,
                f"{EVIDENCE_PREFIX}loa_code": repeat.loa_code,
                f"{EVIDENCE_PREFIX}engine_version": ENGINE_VERSION,
            }
        )
    plain = evaluated.copy()
    plain.attrs = {}  # a DataFrame left in attrs breaks pandas' concat
    on_record = pd.DataFrame(rows, columns=[*RESULT_COLUMNS, *EVIDENCE_COLUMNS])
    out = pd.concat([plain, on_record], ignore_index=True).sort_values(
        ["request_row"], kind="stable", ignore_index=True
    )
    out.attrs["repeats"] = repeats
    return out


def source_id(npn: str, origin: str) -> str:
    """The id the offboarding's batch and transaction ids are made from (as an upload id is
    for a file's): one per producer and offboarding (`origin`: the upload id, the same on every
    run of that upload; else one of its own per offboarding), so ids never collide."""
    digest = hashlib.sha256(f"{origin}/{npn}".encode()).hexdigest()[:12].upper()
    return f"offboard-{digest}"


def plan_offboarding_batches(
    evaluated: pd.DataFrame,
    *,
    npn: str,
    now: dt.datetime,
    offboarded_by: str,
    upload_id: str | None,
    origin: str,
) -> BatchPlan:
    """The termination engine's rows as transactions and batches (`BatchPlan`), as a terminate
    file's are, but: ids from `source_id`, the upload id only when a file asked for it, and an
    approval (submit immediately) recorded as the offboarder's, not as an automatic one."""
    plan = plan_termination_batches(evaluated, source_id(npn, origin), now)
    transactions = plan.transactions.assign(upload_id=upload_id)
    batches = plan.batches.assign(upload_id=upload_id)
    approved = batches["status"].eq(statuses.BATCH_APPROVED)
    batches.loc[approved, "approved_by"] = offboarded_by
    return BatchPlan(
        upload_id=plan.upload_id,
        kind=plan.kind,
        batches=batches,
        transactions=transactions,
        rejections=plan.rejections,
        repeats=plan.repeats,
        evidence=plan.evidence,
    )


# ============================================================================================
# What a person reads
# ============================================================================================


def _money(value: object) -> str:
    number = 0.0 if value is None or pd.isna(value) else float(str(value))
    return f"${number:,.2f}"


def describe(outcome: ProducerOutcome) -> list[str]:
    """The lines printed for one producer: what was terminated, cancelled and revoked, and the
    batches to approve."""
    head = f"NPN {outcome.npn}: {outcome.outcome}. {outcome.message}"
    if not outcome.changed:
        return [head]
    lines = [head]
    t = outcome.terminations
    if t.empty:
        lines.append("  Terminated: no Appointed line with these companies.")
    else:
        ready = int(t["status"].eq(statuses.READY_TO_SUBMIT).sum())
        lines.append(
            f"  Terminated: {len(t)} line(s), {ready} Ready to Submit, {len(t) - ready} Not "
            "Eligible (never sent):"
        )
        repeated = {
            (r.state_code, r.cocode, r.loa_code): r.repeats_transaction_id
            for r in outcome.repeats.itertuples(index=False)
        }
        for row in t.sort_values(["cocode", "state_code", "loa_code"]).itertuples(index=False):
            earlier = repeated.get((row.state_code, row.cocode, row.loa_code))
            also = f" (see {earlier}, not filed twice)" if earlier else ""
            lines.append(
                f"    {row.state_code} CoCode {row.cocode} LOA {row.loa_code}: {row.status}, "
                f"{row.eligibility_reason}{also}, reason {row.termination_reason_code or '-'}, "
                f"state fee {_money(row.estimated_fee)}, NIPR fee {_money(row.estimated_nipr_fee)} "
                f"[{row.transaction_id} in {row.batch_id}]"
            )
    if outcome.cancelled:
        lines.append(f"  Cancelled: {len(outcome.cancelled)} line(s) never sent:")
        for c in outcome.cancelled:
            lines.append(
                f"    {c.transaction_id} ({c.kind}, {c.state_code} CoCode {c.cocode} {c.loa}) "
                f"was {c.status_before}, in {c.batch_id}"
            )
        if outcome.closed_batches:
            lines.append(f"  Completed (no open line left): {', '.join(outcome.closed_batches)}")
    else:
        lines.append("  Cancelled: nothing (no line Ready to Submit or Held (JIT)).")
    if outcome.revoked:
        seats = ", ".join(f"{r.portal_id} (was {r.status_before})" for r in outcome.revoked)
        lines.append(f"  Portal access revoked, seat freed: {seats}.")
    else:
        lines.append("  Portal access: none to revoke.")
    if outcome.batches_to_approve:
        first = outcome.batches_to_approve[0]
        lines.append(
            f"  To approve: {', '.join(outcome.batches_to_approve)} "
            f"(npnflow batches show {first}; npnflow batches approve {first} --by NAME)."
        )
    if outcome.batches_approved:
        lines.append(
            f"  Approved, submitted by approved_batch_sensor: {', '.join(outcome.batches_approved)}."
        )
    return lines
