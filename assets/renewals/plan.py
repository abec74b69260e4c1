"""The renewal plan: what each Appointed line will cost at its state's next renewal, and
whether to terminate it before the cut-off. Pure: no Dagster, no I/O (docs/renewals.md).

`renewal_plan(inputs, cycle, as_of)` takes frames as the tables hold them and returns one row
per Appointed line (npn, state, CoCode, line) of the customer's companies in a state that
renews (`state_appointment_renewals.renews` annual, biennial or birth month), due in `cycle`:

- **renewal date**: NIPR's `appointments.renewal_date` when it falls in the cycle; NIPR's date
  moved to the cycle (by whole years, annual; by two, biennial) when it is another year's;
  else the state's rule (the window's end in the cycle, a window ending before it starts
  having begun the year before); unknown when neither gives one (a birth-month state without
  NIPR's date: the producer's birth month is not on record);
- **cut-off**: the last `termination_cutoff` day on or before the start of the cycle's window
  (the window ending in the cycle; a cut-off in December before a January window falls in the
  year before), or before the renewal date where the state publishes no window; unknown when
  the state publishes no cut-off. `cutoff_passed` (as of `as_of`): terminating now no longer avoids this
  renewal (after the cut-off; with no known cut-off, once the window opened, the invoice
  being built then), so it saves nothing this cycle;
- **fee**: resident when the producer's resident license is in the appointment state,
  non-resident when it is elsewhere, the higher of the two when no resident license is on
  record (the plan never understates). `per_line`: every line pays; `per_appointment`: one fee
  per (npn, state, CoCode), counted on its first line, and saved only when every line of the
  appointment is terminated;
- **recommendation**: `Terminate Before Cut-Off` with every reason that applies, else `Renew`.
  Three reasons are read from `appointment_standing` (the eligibility engine's checks, never
  recomputed here), two are this module's (`REASONS`).

A line due in another cycle (biennial states in their off year) is left out. A line whose
`appointment_standing` row is missing has no standing reason (not yet evaluated).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from assets.rules.month_days import MonthDay, in_year, on_or_before, parse_month_day
from assets.rules.values import flag, one_date_or_text, one_text
from schemas import statuses
from schemas.reference import RENEWING_KINDS, UNKNOWN

RENEW = "Renew"
TERMINATE = "Terminate Before Cut-Off"
RECOMMENDATIONS = (RENEW, TERMINATE)

# The words of the reasons. The first three are `appointment_standing.risk_reason`'s words.
LICENSE_LAPSED = "License inactive or expired in the state"
NO_RESIDENT_LICENSE = "No active resident license"
LINE_INACTIVE = "Line no longer active on the license"
PRODUCER_INACTIVE = "Producer offboarded or inactive"
JIT_NEVER_RELEASED = "Appointed JIT and never released"
REASONS = (
    LICENSE_LAPSED,
    NO_RESIDENT_LICENSE,
    LINE_INACTIVE,
    PRODUCER_INACTIVE,
    JIT_NEVER_RELEASED,
)
REASON_SEPARATOR = "; "

NIPR_DATE = "NIPR renewal date"
NIPR_DATE_MOVED = "NIPR renewal date, moved to the cycle"
WINDOW_END = "state rule: end of the renewal window"
WINDOW_START = "state rule: the renewal invoice date"
UNKNOWN_BIRTH_MONTH = (
    "unknown: renews in the producer's birth month every 24 months; NIPR gives no renewal "
    "date and the birth month is not on record"
)
UNKNOWN_WINDOW = "unknown: the state publishes no window and NIPR gives no renewal date"

# NIPR's renewal processing fee (DOMAIN 2.4, [NIPR-REN]): 1% of the state fees, $5 to $1,000.
NIPR_RATE, NIPR_MINIMUM, NIPR_MAXIMUM = 0.01, 5.0, 1000.0

PLAN_COLUMNS = (
    "cocode",
    "state_code",
    "npn",
    "loa_code",
    "cycle",
    "company_name",
    "renews",
    "renewed_through",
    "renewal_date",
    "renewal_date_basis",
    "window_start_date",
    "cutoff_date",
    "cutoff_passed",
    "is_resident",
    "fee_basis",
    "fee",
    "fee_counted",
    "saving_if_terminated",
    "recommendation",
    "reason",
    "is_assumption",
)
KEY = ("npn", "state_code", "cocode", "loa_code")
APPOINTMENT = ("npn", "state_code", "cocode")


@dataclass(frozen=True)
class StateRule:
    """One row of `state_appointment_renewals`, read."""

    renews: str
    renewed_through: str
    window_start: MonthDay | None
    window_end: MonthDay | None
    cutoff: MonthDay | None
    fee_resident: float
    fee_nonresident: float
    fee_basis: str
    nipr_processing_fee: bool
    is_assumption: bool


def state_rules(renewals: pd.DataFrame) -> dict[str, StateRule]:
    """The renewing states' rules by state code (perpetual and unknown ones left out)."""
    rules: dict[str, StateRule] = {}
    for row in renewals.to_dict("records"):
        if row["renews"] not in RENEWING_KINDS:
            continue

        def day(column: str, row: Mapping[str, object] = row) -> MonthDay | None:
            text = one_text(row.get(column))
            return None if text is None or text == UNKNOWN else parse_month_day(text)

        rules[str(row["state_code"])] = StateRule(
            renews=str(row["renews"]),
            renewed_through=str(row["renewed_through"]),
            window_start=day("window_start"),
            window_end=day("window_end"),
            cutoff=day("termination_cutoff"),
            fee_resident=float(row["fee_resident"]),
            fee_nonresident=float(row["fee_nonresident"]),
            fee_basis=str(row["fee_basis"]),
            nipr_processing_fee=bool(flag(row["nipr_processing_fee"])),
            is_assumption=bool(flag(row["is_assumption"])),
        )
    return rules


# --------------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------------


def _moved(date: dt.date, year: int) -> dt.date:
    """The same month-day in `year` (February 29 becomes February 28)."""
    day = 28 if (date.month, date.day) == (2, 29) else date.day
    return dt.date(year, date.month, day)


def _due_in(rule: StateRule, cycle: int, nipr_date: dt.date | None) -> bool:
    """Whether the line renews in `cycle` at all (biennial rules skip every other year)."""
    if rule.renews == "biennial_even_years":
        return cycle % 2 == 0
    if rule.renews == "biennial_odd_years":
        return cycle % 2 == 1
    if rule.renews == "birth_month_biennial" and nipr_date is not None:
        return (cycle - nipr_date.year) % 2 == 0
    return True


def renewal_date(
    rule: StateRule, cycle: int, nipr_date: dt.date | None
) -> tuple[dt.date | None, str]:
    """The line's renewal date in `cycle` and where it comes from (None: unknown)."""
    if nipr_date is not None:
        if nipr_date.year == cycle:
            return nipr_date, NIPR_DATE
        return _moved(nipr_date, cycle), NIPR_DATE_MOVED
    if rule.renews == "birth_month_biennial":
        return None, UNKNOWN_BIRTH_MONTH
    if rule.window_end is not None:
        return in_year(rule.window_end, cycle), WINDOW_END
    if rule.window_start is not None:
        return in_year(rule.window_start, cycle), WINDOW_START
    return None, UNKNOWN_WINDOW


def window_start_date(rule: StateRule, cycle: int) -> dt.date | None:
    """The day the cycle's renewal window opens (the state builds its invoice then): the last
    window start on or before the window's end in the cycle (a Nov 5 - Jan 2 window of the
    2026 cycle opens on 2025-11-05); the start in the cycle when only the start is known."""
    if rule.window_start is None:
        return None
    if rule.window_end is None:
        return in_year(rule.window_start, cycle)
    return on_or_before(rule.window_start, in_year(rule.window_end, cycle))


def cutoff_date(rule: StateRule, cycle: int, renewal: dt.date | None) -> dt.date | None:
    """The last day to terminate and stay off the cycle's renewal: the last cut-off day on or
    before the window's start, else (no window) on or before the renewal date. One cut-off per
    state and cycle where the state has a window, as the state builds one invoice. None: the
    state's cut-off is unknown (or, without a window, the renewal date)."""
    if rule.cutoff is None:
        return None
    anchor = window_start_date(rule, cycle) or renewal
    return None if anchor is None else on_or_before(rule.cutoff, anchor)


def cutoff_passed(cutoff: dt.date | None, opens: dt.date | None, as_of: dt.date) -> bool | None:
    """Whether terminating on `as_of` is too late for this renewal: after the cut-off; with no
    known cut-off, once the window opened (the invoice is built then, and NIPR's invoiced
    appointments cannot be terminated). None: neither is known."""
    if cutoff is not None:
        return as_of > cutoff
    if opens is not None:
        return as_of >= opens
    return None


# --------------------------------------------------------------------------------------------
# Reasons
# --------------------------------------------------------------------------------------------


def standing_reasons(standing: Mapping[str, object] | None) -> list[str]:
    """The reasons `appointment_standing` gives (its flags; its own words when it is at risk
    for a reason the flags do not name). None: the line was not evaluated, no reason."""
    if standing is None:
        return []
    reasons = [
        words
        for column, words in (
            ("license_ok", LICENSE_LAPSED),
            ("resident_ok", NO_RESIDENT_LICENSE),
            ("line_ok", LINE_INACTIVE),
        )
        if flag(standing.get(column)) is False
    ]
    if not reasons and flag(standing.get("is_at_risk")):
        reasons.append(one_text(standing.get("risk_reason")) or "At risk (no reason recorded)")
    return reasons


def producer_inactive(producer: Mapping[str, object] | None) -> bool:
    """Offboarded (`offboarded_at` set) or marked inactive (`is_active` false; unknown is not)."""
    if producer is None:
        return False
    offboarded = producer.get("offboarded_at")
    return flag(producer.get("is_active")) is False or not (
        offboarded is None or offboarded is pd.NaT or pd.isna(offboarded)
    )


def jit_never_released(transactions: pd.DataFrame) -> set[tuple[str, str, str, str]]:
    """Lines whose latest appointment transaction is a JIT line still held, or cancelled while
    held, never released: the company never recorded the producer's first business, yet the
    appointment stands at NIPR (appointed another way, or before the JIT request)."""
    if transactions.empty:
        return set()
    frame = transactions[transactions["kind"].astype(str) == "appointment"].copy()
    if frame.empty:
        return set()
    frame["_order"] = pd.to_datetime(frame["created_at"], errors="coerce", utc=True)
    latest = frame.sort_values("_order", kind="stable", na_position="first").drop_duplicates(
        list(KEY), keep="last"
    )
    found: set[tuple[str, str, str, str]] = set()
    for row in latest.to_dict("records"):
        released = row.get("released_at")
        never_released = released is None or pd.isna(released)
        status = one_text(row.get("status"))
        held = status == statuses.HELD_JIT or (
            status == statuses.CANCELLED and one_text(row.get("cancelled_by")) is not None
        )
        if flag(row.get("is_jit")) and never_released and held:
            found.add(_key(row))
    return found


def _key(row: Mapping[str, object]) -> tuple[str, str, str, str]:
    return (
        one_text(row.get("npn")) or "",
        (one_text(row.get("state_code")) or "").upper(),
        (one_text(row.get("cocode")) or "").zfill(5),
        one_text(row.get("loa_code")) or "",
    )


# --------------------------------------------------------------------------------------------
# The plan
# --------------------------------------------------------------------------------------------


def resident_states(licenses: pd.DataFrame) -> dict[str, set[str]]:
    """Each producer's resident license states (`licenses.is_resident` true)."""
    found: dict[str, set[str]] = {}
    for row in licenses.to_dict("records"):
        if flag(row.get("is_resident")):
            npn = one_text(row.get("npn")) or ""
            found.setdefault(npn, set()).add((one_text(row.get("state_code")) or "").upper())
    return found


def appointed_lines(appointments: pd.DataFrame) -> pd.DataFrame:
    """The Appointed lines (any case), keys as text."""
    status = appointments["status"].map(one_text).fillna("").str.casefold()
    return appointments[status == "appointed"]


def renewal_plan(inputs: Mapping[str, pd.DataFrame], cycle: int, as_of: dt.date) -> pd.DataFrame:
    """The plan's rows (`PLAN_COLUMNS`), sorted by CoCode, state, NPN and line.

    `inputs`: `appointments`, `state_appointment_renewals`, `appointment_standing`,
    `producers`, `licenses` and `transactions`, with the tables' columns (the last four may be
    empty frames)."""
    rules = state_rules(inputs["state_appointment_renewals"])
    standing = {_key(r): r for r in inputs["appointment_standing"].to_dict("records")}
    producers = {one_text(r.get("npn")) or "": r for r in inputs["producers"].to_dict("records")}
    residents = resident_states(inputs["licenses"])
    jit = jit_never_released(inputs["transactions"])

    rows: list[dict[str, object]] = []
    for line in appointed_lines(inputs["appointments"]).to_dict("records"):
        key = _key(line)
        npn, state, cocode, loa = key
        rule = rules.get(state)
        nipr = one_date_or_text(line.get("renewal_date"))
        nipr_date = nipr if isinstance(nipr, dt.date) else None
        if rule is None or not _due_in(rule, cycle, nipr_date):
            continue
        renewal, basis = renewal_date(rule, cycle, nipr_date)
        cutoff = cutoff_date(rule, cycle, renewal)
        opens = window_start_date(rule, cycle)
        reasons = standing_reasons(standing.get(key))
        if producer_inactive(producers.get(npn)):
            reasons.append(PRODUCER_INACTIVE)
        if key in jit:
            reasons.append(JIT_NEVER_RELEASED)
        home = residents.get(npn)
        is_resident = None if not home else state in home
        fee = (
            max(rule.fee_resident, rule.fee_nonresident)
            if is_resident is None
            else (rule.fee_resident if is_resident else rule.fee_nonresident)
        )
        rows.append(
            {
                "cocode": cocode,
                "state_code": state,
                "npn": npn,
                "loa_code": loa,
                "cycle": cycle,
                "company_name": one_text(line.get("company_name")),
                "renews": rule.renews,
                "renewed_through": rule.renewed_through,
                "renewal_date": renewal,
                "renewal_date_basis": basis,
                "window_start_date": opens,
                "cutoff_date": cutoff,
                "cutoff_passed": cutoff_passed(cutoff, opens, as_of),
                "is_resident": is_resident,
                "fee_basis": rule.fee_basis,
                "fee": fee,
                "recommendation": TERMINATE if reasons else RENEW,
                "reason": REASON_SEPARATOR.join(reasons) or None,
                "is_assumption": rule.is_assumption,
            }
        )
    plan = pd.DataFrame(rows, columns=[c for c in PLAN_COLUMNS if c not in _COUNTED])
    plan = plan.sort_values(["cocode", "state_code", "npn", "loa_code"], kind="stable")
    return _with_counted_fees(plan.reset_index(drop=True))


_COUNTED = ("fee_counted", "saving_if_terminated")


def _with_counted_fees(plan: pd.DataFrame) -> pd.DataFrame:
    """`fee_counted` and `saving_if_terminated`: a per-appointment fee counts once per
    appointment (its first line) and is saved only when all its lines are terminated; no
    saving once the cut-off has passed (the renewal is invoiced whatever is done now)."""
    if plan.empty:
        return pd.DataFrame(columns=list(PLAN_COLUMNS))
    terminate = plan["recommendation"].eq(TERMINATE)
    per_line = plan["fee_basis"].eq("per_line")
    first = ~plan.duplicated(list(APPOINTMENT), keep="first")
    all_terminated = terminate.groupby([plan[c] for c in APPOINTMENT]).transform("all")
    avoidable = plan["cutoff_passed"].map(lambda passed: passed is not True).astype(bool)
    plan["fee_counted"] = (per_line | first).astype(bool)
    saved = (per_line & terminate) | (~per_line & first & all_terminated.astype(bool))
    plan["saving_if_terminated"] = plan["fee"].where(saved & avoidable, 0.0).astype(float)
    plan["fee"] = plan["fee"].astype(float)
    for column in ("cutoff_passed", "is_resident"):  # True, False or None (unknown)
        plan[column] = [None if pd.isna(v) else bool(v) for v in plan[column]]
        plan[column] = plan[column].astype(object)
    return plan[list(PLAN_COLUMNS)]


def nipr_processing_fee(state_fees: float) -> float:
    """NIPR's renewal processing fee on an invoice of `state_fees` (0: no invoice)."""
    if state_fees <= 0:
        return 0.0
    return round(min(max(state_fees * NIPR_RATE, NIPR_MINIMUM), NIPR_MAXIMUM), 2)
