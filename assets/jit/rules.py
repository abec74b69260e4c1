"""Just-in-time (JIT) appointments: the rules of releasing and cancelling held lines. Pure.

A JIT line is created `Held (JIT)` (docs/eligibility.md) and waits for the producer's first
business. Releasing it (docs/operations.md, "Just-in-time appointments";
docs/decisions/0026-jit-release.md) is decided here without I/O, and run by `service.py`:

- which held lines a request names (`ReleaseRequest`: transaction ids, or an NPN with an
  optional state, CoCode and LOA category);
- the business date and the deadline (`jit_due_date`: business date +
  `state_appointment_rules.jit_deadline_days`, none when the state gives none). What starts
  the clock is the state's `jit_trigger` (`jit_clock`): in most states the first business
  (the application received or written); where the clock runs from "contract execution or
  first business", whichever comes first, the held line's own date stands for the contract
  (the carrier asks to appoint when it contracts the producer), so such a line has a due
  date while it is still held (`held_due_date`) and is `Late JIT Filing` when still held past
  it. A released line's due date is the business date + the deadline days, as issue 15
  defines it, in every state;
- the effective date sent (`released_effective_date`: the business date, unless the state
  takes no effective date, then none: the state uses its processing date);
- whether a line is `Late JIT Filing` (`is_late`): submitted after its due date, or still
  not submitted past it;
- what the command prints (`describe_release`, `describe_cancel`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from assets.rules.business_day import nipr_business_date
from assets.rules.values import flag

#: The flag of a line filed after its state's JIT deadline (batch detail, `jit list`, report).
LATE_JIT_FILING = "Late JIT Filing"

#: Who approved a release batch is the releaser; its id says where it came from.
RELEASE_BATCH_PREFIX = "jit-release"


class JitRefused(ValueError):
    """A release or cancellation refused before anything changed (an analyst can act on it)."""


@dataclass(frozen=True)
class ReleaseRequest:
    """Held lines to release (or cancel): by transaction id, or by producer and line.

    `business_date`: when the producer's first business arrived (None: the release's own
    NIPR business date). `row_number`: the file row it came from, if any."""

    transaction_ids: tuple[str, ...] = ()
    npn: str | None = None
    state_code: str | None = None
    cocode: str | None = None
    loa_category: str | None = None
    business_date: dt.date | None = None
    row_number: int | None = None

    def label(self) -> str:
        if self.transaction_ids:
            return "transaction(s) " + ", ".join(self.transaction_ids)
        parts = [f"NPN {self.npn}"]
        for name, value in (
            ("state", self.state_code),
            ("CoCode", self.cocode),
            ("LOA category", self.loa_category),
        ):
            if value:
                parts.append(f"{name} {value}")
        where = f" (row {self.row_number})" if self.row_number is not None else ""
        return ", ".join(parts) + where


def check_request(request: ReleaseRequest) -> None:
    """Refuse a request that names no held line precisely enough."""
    if not request.transaction_ids and not (request.npn or "").strip():
        raise JitRefused(
            "Name the held lines: --transaction ID..., or --npn N (with --state, --cocode, "
            "--loa-category to narrow it), or --file F."
        )


def held_line_matches(line: Mapping[str, object], request: ReleaseRequest) -> bool:
    """Whether a held transaction row is one the request names (case-blind codes)."""
    if request.transaction_ids:
        return str(line["transaction_id"]) in request.transaction_ids

    def same(value: object, wanted: str | None) -> bool:
        if not wanted:
            return True
        return str(value or "").strip().upper() == wanted.strip().upper()

    return (
        str(line["npn"]) == str(request.npn).strip()
        and same(line.get("state_code"), request.state_code)
        and same(line.get("cocode"), request.cocode)
        and same(line.get("loa_category"), request.loa_category)
    )


def deadline_days_by_state(rules: pd.DataFrame | None) -> dict[str, int]:
    """`state_appointment_rules.jit_deadline_days` per state (blank: no deadline, left out)."""
    if rules is None or rules.empty or "jit_deadline_days" not in rules.columns:
        return {}
    days: dict[str, int] = {}
    for state, value in zip(rules["state_code"], rules["jit_deadline_days"], strict=True):
        number = pd.to_numeric(value, errors="coerce")
        if pd.notna(number):
            days[str(state).upper()] = int(number)
    return days


def effective_date_specifiable_by_state(rules: pd.DataFrame | None) -> dict[str, bool]:
    """`state_appointment_rules.effective_date_specifiable` per state (blank: left out)."""
    if rules is None or rules.empty or "effective_date_specifiable" not in rules.columns:
        return {}
    out: dict[str, bool] = {}
    for state, value in zip(rules["state_code"], rules["effective_date_specifiable"], strict=True):
        specifiable = flag(value)
        if specifiable is not None:
            out[str(state).upper()] = specifiable
    return out


#: What starts a state's JIT clock, read from `state_appointment_rules.jit_trigger`.
CLOCK_FIRST_BUSINESS = "first business"
CLOCK_CONTRACT_OR_FIRST_BUSINESS = "contract or first business"


def jit_clock(trigger: object) -> str:
    """The clock a state's `jit_trigger` text describes (the states' own words, e.g. "within
    15 days after the application is received", "within 15 days of contract execution or
    first business submission").

    Contract execution named without "later of" means the earlier of the two events starts
    the clock: `CLOCK_CONTRACT_OR_FIRST_BUSINESS`. Everything else (the application received
    or written, the first business, the appointment effective date, which a release sets to
    the business date, "the later of contract signing or the first application") runs from
    the first business. Reading "contract" as the earlier event can only make a due date
    earlier, never later: a deadline is never missed for reading the rule leniently."""
    text = str(trigger or "").lower() if not pd.isna(trigger) else ""
    if "contract" in text and "later of" not in text:
        return CLOCK_CONTRACT_OR_FIRST_BUSINESS
    return CLOCK_FIRST_BUSINESS


def clock_by_state(rules: pd.DataFrame | None) -> dict[str, str]:
    """`jit_clock` of each state's `jit_trigger` (no rules: every state's clock is the first
    business)."""
    if rules is None or rules.empty or "jit_trigger" not in rules.columns:
        return {}
    return {
        str(state).upper(): jit_clock(trigger)
        for state, trigger in zip(rules["state_code"], rules["jit_trigger"], strict=True)
    }


def held_due_date(
    held_on: dt.date | None, deadline_days: int | None, clock: str | None
) -> dt.date | None:
    """The due date of a line still held: only where the contract starts the clock (the
    held line's date + the deadline days); a first-business clock has not started."""
    if held_on is None or deadline_days is None or clock != CLOCK_CONTRACT_OR_FIRST_BUSINESS:
        return None
    return held_on + dt.timedelta(days=int(deadline_days))


def jit_due_date(business_date: dt.date, deadline_days: int | None) -> dt.date | None:
    """The last day to file a released line: business date + the state's JIT deadline days."""
    if deadline_days is None:
        return None
    return business_date + dt.timedelta(days=int(deadline_days))


def released_effective_date(
    business_date: dt.date | None, held_effective: dt.date | None, specifiable: bool | None
) -> dt.date | None:
    """The appointment effective date of a released line: the business date when one was
    given, except in a state that takes no effective date (its processing date applies);
    without a business date, the date the held line already had."""
    if business_date is None:
        return held_effective
    if specifiable is False:
        return None
    return business_date


def is_late(
    due: dt.date | None, submitted_on: dt.date | None, today: dt.date, *, sent: bool
) -> bool:
    """`Late JIT Filing`: filed after the due date, or not filed and the due date has passed."""
    if due is None:
        return False
    if sent:
        return submitted_on is not None and submitted_on > due
    return today > due


@dataclass(frozen=True)
class JitLine:
    """One held line acted on, as the command prints it."""

    transaction_id: str
    npn: str
    state_code: str | None
    cocode: str | None
    loa: str | None
    status: str
    reason: str | None = None
    batch_id: str | None = None
    jit_due_date: dt.date | None = None


@dataclass(frozen=True)
class ReleaseOutcome:
    """What one release did: lines released into `batches`, lines now Not Eligible."""

    released: tuple[JitLine, ...] = ()
    not_eligible: tuple[JitLine, ...] = ()
    batches: tuple[str, ...] = ()
    unmatched: tuple[str, ...] = field(default_factory=tuple)


def describe_release(outcome: ReleaseOutcome, released_by: str) -> list[str]:
    lines: list[str] = []
    if outcome.released:
        lines.append(
            f"Released {len(outcome.released)} line(s) into Approved batch(es) "
            f"{', '.join(outcome.batches)} (approved by {released_by}); the approved-batch "
            "sensor submits them once."
        )
        lines.extend(_line_text(line) for line in outcome.released)
    if outcome.not_eligible:
        lines.append(
            f"Not Eligible now, never sent ({len(outcome.not_eligible)} line(s)): fix the cause "
            "(e.g. renew the license), then request the appointment again."
        )
        lines.extend(_line_text(line) for line in outcome.not_eligible)
    for label in outcome.unmatched:
        lines.append(
            f"No Held (JIT) line for {label}: nothing released (`npnflow jit list` shows "
            "the held lines; a line released or cancelled before is not released again)."
        )
    if not lines:
        lines.append("Nothing released.")
    return lines


def describe_cancel(cancelled: Sequence[JitLine], unmatched: Iterable[str]) -> list[str]:
    lines = [f"Cancelled {len(cancelled)} held line(s):"] if cancelled else []
    lines.extend(_line_text(line) for line in cancelled)
    for label in unmatched:
        lines.append(f"No Held (JIT) line for {label}: nothing cancelled.")
    return lines or ["Nothing cancelled."]


def _line_text(line: JitLine) -> str:
    due = f", due {line.jit_due_date.isoformat()}" if line.jit_due_date else ""
    reason = f": {line.reason}" if line.reason else ""
    batch = f" [{line.batch_id}]" if line.batch_id else ""
    return (
        f"  {line.transaction_id}{batch} NPN {line.npn} {line.state_code or '-'} "
        f"CoCode {line.cocode or '-'} {line.loa or '-'} -> {line.status}{reason}{due}"
    )


def held_on(created_at: object) -> dt.date | None:
    """The day a line was held: NIPR's business date of its `created_at` (naive: UTC)."""
    if created_at is None or created_at is pd.NaT:
        return None
    try:
        stamp = pd.Timestamp(created_at)
    except (TypeError, ValueError):
        return None
    if pd.isna(stamp):
        return None
    return nipr_business_date(stamp.to_pydatetime())


def as_date(value: object) -> dt.date | None:
    """A date from a cell (date, timestamp or ISO text); None when blank or unreadable."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


__all__ = [
    "LATE_JIT_FILING",
    "RELEASE_BATCH_PREFIX",
    "JitLine",
    "JitRefused",
    "ReleaseOutcome",
    "ReleaseRequest",
    "as_date",
    "check_request",
    "deadline_days_by_state",
    "describe_cancel",
    "describe_release",
    "effective_date_specifiable_by_state",
    "held_line_matches",
    "is_late",
    "jit_due_date",
    "released_effective_date",
]
