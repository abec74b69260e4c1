"""Appointments NIPR accepted that the NIPR sync has not brought in yet. Pure: no Dagster, no I/O.

`appointments` is NIPR's current state as of the last sync. An appointment line our Gateway
submission sent and NIPR Accepted an hour ago is appointed at NIPR, but `appointments` shows it
only after the next sync has applied the producer's APPOINTMENTS in that state. In between,
terminating it must not read `Appointment Not Found` (NIPR would accept the termination), and
appointing it again must read `Already Appointed` (NIPR and the state would charge twice): both
engines' inputs read `appointments` through this module.

`with_accepted_appointments(appointments, transactions, scope_reports)` returns `appointments`
with each such line Appointed:

- a line counts when a transaction of kind `appointment` has status `Accepted` and no
  APPOINTMENTS scope of its producer and state (`nipr_scope_reports`) was applied at or after
  NIPR's answer (`completed_at`, else `submitted_at`, else `created_at`); once such a sync has
  been applied, `appointments` says what NIPR holds and is left as it is;
- the line's row becomes `Appointed` from the day NIPR accepted it (a Terminated row of the
  line is an older state of it; an Appointed row keeps its status, its effective date moved
  to the acceptance when that is later: a re-appointment after a termination NIPR accepted);
  a line with no row gets one (company name unknown);
- `accepted_transaction_id` names the transaction a row was made Appointed from (None for the
  rows as synced), so the audit can tell the two apart.

The termination engine's rule "a termination NIPR already accepted is never sent again" keeps
working on these rows: it compares the accepted termination's date with the appointment's
effective date, which is here the day NIPR accepted the appointment.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from assets.rules.values import one_date_or_text, one_text

APPOINTMENT_KIND = "appointment"
ACCEPTED = "Accepted"
APPOINTED = "Appointed"
APPOINTMENTS_SCOPE = "APPOINTMENTS"
KEY = ("npn", "state_code", "cocode", "loa_code")
#: The column naming the accepted transaction a row was made Appointed from.
SOURCE_COLUMN = "accepted_transaction_id"


def _moment(value: Any) -> pd.Timestamp | None:
    """A timestamp in UTC (naive values are UTC, as stored), or None."""
    if value is None or value is pd.NaT:
        return None
    try:
        moment = pd.Timestamp(value)
    except (TypeError, ValueError):
        return None
    if pd.isna(moment):
        return None
    return moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")


def _key(row: dict[str, Any]) -> tuple[str | None, ...]:
    text = [one_text(row.get(column)) for column in KEY]
    return (text[0], text[1].upper() if text[1] else None, text[2], text[3])


def accepted_unsynced_lines(
    transactions: pd.DataFrame, scope_reports: pd.DataFrame
) -> pd.DataFrame:
    """The appointment lines NIPR Accepted since the last applied APPOINTMENTS sync of their
    producer and state: npn, state_code, cocode, loa_code, accepted_on (date),
    accepted_transaction_id; the latest acceptance per line."""
    columns = [*KEY, "accepted_on", SOURCE_COLUMN]
    synced: dict[tuple[str | None, str | None], pd.Timestamp] = {}
    if not scope_reports.empty:
        for row in scope_reports.to_dict("records"):
            if one_text(row.get("category")) != APPOINTMENTS_SCOPE:
                continue
            applied = _moment(row.get("applied_at"))
            state = one_text(row.get("state_code"))
            scope = (one_text(row.get("npn")), state.upper() if state else None)
            if applied is not None and (scope not in synced or applied > synced[scope]):
                synced[scope] = applied
    latest: dict[tuple[str | None, ...], dict[str, Any]] = {}
    for row in transactions.to_dict("records"):
        if one_text(row.get("kind")) != APPOINTMENT_KIND or one_text(row.get("status")) != ACCEPTED:
            continue
        key = _key(row)
        if any(part is None for part in key):
            continue
        answered = next(
            (
                moment
                for moment in (
                    _moment(row.get(c)) for c in ("completed_at", "submitted_at", "created_at")
                )
                if moment is not None
            ),
            None,
        )
        last_sync = synced.get((key[0], key[1]))
        if last_sync is not None and (answered is None or last_sync >= answered):
            continue  # a sync applied since NIPR's answer: `appointments` is NIPR's word
        if key in latest and (answered is None or answered <= latest[key]["_answered"]):
            continue
        latest[key] = {
            **dict(zip(KEY, key, strict=True)),
            "accepted_on": answered.date() if answered is not None else None,
            SOURCE_COLUMN: one_text(row.get("transaction_id")),
            "_answered": answered or pd.Timestamp.min.tz_localize("UTC"),
        }
    return pd.DataFrame(
        [{c: line[c] for c in columns} for line in latest.values()], columns=columns
    )


def with_accepted_appointments(
    appointments: pd.DataFrame, transactions: pd.DataFrame, scope_reports: pd.DataFrame
) -> pd.DataFrame:
    """`appointments` with every line NIPR Accepted since the last sync Appointed (see the
    module docstring), and the `accepted_transaction_id` column."""
    result = appointments.copy()
    if "effective_date" not in result.columns:  # frames written by hand may lack it
        result["effective_date"] = None
    result[SOURCE_COLUMN] = None
    lines = accepted_unsynced_lines(transactions, scope_reports)
    if lines.empty:
        return result
    position = {_key(row): i for i, row in enumerate(result.to_dict("records"))}
    added: list[dict[str, Any]] = []
    for line in lines.to_dict("records"):
        key = _key(line)
        accepted_on: dt.date | None = line["accepted_on"]
        if key not in position:
            added.append(
                {
                    **dict(zip(KEY, key, strict=True)),
                    "status": APPOINTED,
                    "effective_date": accepted_on,
                    SOURCE_COLUMN: line[SOURCE_COLUMN],
                }
            )
            continue
        index = result.index[position[key]]
        was_appointed = (one_text(result.at[index, "status"]) or "").lower() == APPOINTED.lower()
        since = one_date_or_text(result.at[index, "effective_date"])
        later = accepted_on is not None and (not isinstance(since, dt.date) or accepted_on > since)
        if was_appointed and not later:
            continue  # already Appointed since before NIPR's answer: nothing to add
        result.at[index, "status"] = APPOINTED
        if accepted_on is not None and (later or not was_appointed):
            result.at[index, "effective_date"] = accepted_on
        result.at[index, SOURCE_COLUMN] = line[SOURCE_COLUMN]
    if added:
        frame = pd.DataFrame(added, columns=[*KEY, "status", "effective_date", SOURCE_COLUMN])
        result = pd.concat([result, frame], ignore_index=True) if len(result) else frame
        result = result.reindex(
            columns=list(dict.fromkeys([*appointments.columns, "effective_date", SOURCE_COLUMN]))
        )
    return result
