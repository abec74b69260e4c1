"""Effective-date limits of `state_appointment_rules` (DOMAIN 3.4), worded once for both engines.

The reasons quote the state, the day limit or the text given, in the same words for an
appointment and a termination. `appointment_date_reasons` is the appointment engine's tenth
check: per request row, the first limit its Effective Date breaks, for a date the user gave (a
blank date is the state's processing date, always accepted):

- `Effective Date <value> Unreadable`: a date that cannot be read is not guessed at;
- `Effective Date Not Specifiable In <state>` where `effective_date_specifiable` is false;
- `Future Effective Date Not Accepted In <state>` after `as_of` where
  `allows_future_effective_date` is false;
- `Effective Date More Than <N> Days Back Not Accepted In <state>` before `as_of` minus
  `max_backdate_days`.

A blank rule, a state with no row, or no table at all means no limit: NIPR, not a guess of
ours, then decides. Pure, no Dagster.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from assets.rules.values import flag, one_date_or_text, one_text

# The columns of `state_appointment_rules` the appointment check reads.
APPOINTMENT_DATE_RULE_COLUMNS = (
    "state_code",
    "effective_date_specifiable",
    "max_backdate_days",
    "allows_future_effective_date",
)


def date_not_specifiable_reason(state_code: str) -> str:
    """A date was given where the state uses its own processing date."""
    return f"Effective Date Not Specifiable In {state_code}"


def future_date_reason(state_code: str) -> str:
    """A date after the as-of date."""
    return f"Future Effective Date Not Accepted In {state_code}"


def backdate_reason(days: int, state_code: str) -> str:
    """A date further back than the state's limit in days."""
    return f"Effective Date More Than {days} Days Back Not Accepted In {state_code}"


def unreadable_date_reason(value: object) -> str:
    """A date that cannot be read, quoted as given (never guessed)."""
    return f"Effective Date {value} Unreadable"


def appointment_date_reasons(
    effective_dates: pd.Series,
    state_codes: pd.Series,
    rules: pd.DataFrame | None,
    as_of: dt.date,
) -> np.ndarray:
    """Per row, the reason its effective date is refused, or None when it is accepted.

    `rules` has `APPOINTMENT_DATE_RULE_COLUMNS` (other columns are ignored); None applies no
    state rule, so only an unreadable date is refused.
    """
    reasons = np.full(len(effective_dates), None, dtype=object)
    # A file has few distinct dates and states: each (date, state) pair is judged once, and the
    # verdicts spread back to the rows (100,000 rows cost what their few pairs cost).
    date_codes, dates = pd.factorize(pd.Series(effective_dates, dtype=object), sort=False)
    given = [one_date_or_text(v) for v in dates]
    # Most uploads leave the date blank: nothing to check, and nothing to look up.
    if all(v is None for v in given):
        return reasons
    state_codes_, states = pd.factorize(pd.Series(state_codes, dtype=object), sort=False)
    state_names = [None if (t := one_text(v)) is None else t.upper() for v in states]
    limits = _limits_by_state(rules)
    dated = np.flatnonzero(date_codes >= 0)
    # One number per (date, state) pair; a missing state (-1) gets its own slot.
    pairs = date_codes[dated].astype(np.int64) * (len(states) + 1) + (state_codes_[dated] + 1)
    unique_pairs, pair_of_row = np.unique(pairs, return_inverse=True)
    verdicts = np.full(len(unique_pairs), None, dtype=object)
    for index, pair in enumerate(unique_pairs.tolist()):
        date_index, state_slot = divmod(pair, len(states) + 1)
        value = given[date_index]
        state = state_names[state_slot - 1] if state_slot else None
        verdicts[index] = _date_reason(value, state, limits, as_of)
    reasons[dated] = verdicts[pair_of_row]
    return reasons


def _date_reason(
    value: dt.date | str | None,
    state: str | None,
    limits: dict[str, tuple[bool | None, int | None, bool | None]],
    as_of: dt.date,
) -> str | None:
    """The reason one date given for one state is refused, or None when it is accepted."""
    if value is None:
        return None
    if isinstance(value, str):
        return unreadable_date_reason(value)
    specifiable, backdate_days, allows_future = limits.get(state or "", (None, None, None))
    if specifiable is False:
        return date_not_specifiable_reason(str(state))
    if allows_future is False and value > as_of:
        return future_date_reason(str(state))
    if backdate_days is not None and value < as_of - dt.timedelta(days=backdate_days):
        return backdate_reason(backdate_days, str(state))
    return None


def _limits_by_state(
    rules: pd.DataFrame | None,
) -> dict[str, tuple[bool | None, int | None, bool | None]]:
    """(specifiable, max backdate days, future allowed) per state; None where blank."""
    if rules is None or rules.empty:
        return {}
    missing = [c for c in APPOINTMENT_DATE_RULE_COLUMNS if c not in rules.columns]
    if missing:
        raise ValueError(
            f"the 'state_appointment_rules' frame lacks column(s): {', '.join(missing)}"
        )
    days = pd.to_numeric(rules["max_backdate_days"], errors="coerce")
    limits: dict[str, tuple[bool | None, int | None, bool | None]] = {}
    # A repeated state: the last row wins, as the termination engine reads it.
    for state, specifiable, backdate, future in zip(
        rules["state_code"],
        rules["effective_date_specifiable"],
        days,
        rules["allows_future_effective_date"],
        strict=True,
    ):
        code = one_text(state)
        if code is None:
            continue
        limits[code.upper()] = (
            flag(specifiable),
            None if pd.isna(backdate) else int(backdate),
            flag(future),
        )
    return limits
