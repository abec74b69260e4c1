"""Termination eligibility's evidence (issue 19): the rows each result row's decision read. Pure.

Beside each row's reason, the `EVIDENCE_COLUMNS` of `assets/rules/evidence.py`, so that "why
is this Not Eligible?" and "what did you know when you approved this?" are answered from data:

- `decided_by`: the row the first failing check read (`DECIDED_BY_OF_CHECK`, in the order of
  the entry point's checks): the appointment (Appointment Not Found), the state rule (not filed
  through NIPR, the effective-date limits), the state's termination reasons (Reason Required,
  Not Accepted), the request itself (an unreadable effective date); `all_checks` when Ready.
- The appointment of the row's line (npn, state, CoCode, loa_code): its `Appointed` row when
  one exists (the row check 1 found, the one a Ready row ends), else the line's other row
  (a `Terminated` one: what Appointment Not Found found instead), else NULL. Its source is
  NIPR's sync, or a line NIPR accepted since (`accepted_transaction_id`,
  `assets/rules/accepted_appointments.py`).
- `loa_code`: the line as resolved (a blank one looked up by its name); NULL when unresolved.
- `state_reason_code`: the reason code as the state's table spells it (a blank one: the state's
  single default); NULL when the table gives none (Reason Required, Not Accepted: the code
  given is then in the result's `termination_reason_code`).
- The license: the producer's license in the state that the fee's residency reads, the
  resident one when any, else the first by license number (several alike: the first by number).
- The producer row (`producers`, when given), the state rule and the state's `termination` fee
  row with their `source` and `is_assumption`, and NIPR's `data_as_of` for the producer's
  LICENSING and APPOINTMENTS scopes in the state (`nipr_scope_reports`, when given). These are
  named on every row of a state that has them, whatever decided it: they are what was read;
  `decided_by` says which row decided.

Not read for a termination, hence always NULL: the line on the license (`loa_is_active`,
`loa_issue_date`), check 7's resident license (`resident_*`), the business rule and company
state setting (`rule_*`, `company_in_state`, `company_is_jit`) and the producer assignment
(`assignment_*`). SPEC 7 ends an appointment whatever the licenses, the company's settings and
the assignments say today.

Separate from the checks because nothing here decides: it names what decided. Vectorised:
each table is reduced to one row per key and merged once. Pure, no Dagster.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
import pandas as pd

from assets.rules.accepted_appointments import APPOINTMENTS_SCOPE
from assets.rules.evidence import (
    APPOINTMENT_FROM_ACCEPTED,
    APPOINTMENT_FROM_NIPR,
    DECIDED_BY_ALL_CHECKS,
    DECIDED_BY_APPOINTMENT,
    DECIDED_BY_REQUEST,
    DECIDED_BY_STATE_RULE,
    DECIDED_BY_TERMINATION_REASON,
    EVIDENCE_NAMES,
    EVIDENCE_PREFIX,
)
from assets.terminations.eligibility_values import (
    flag,
    lower,
    one_date_or_text,
    text,
    upper,
)
from assets.terminations.eligibility_vocabulary import (
    APPOINTMENT_APPOINTED,
    KEY,
    TRANSACTION_KIND,
)

#: The row each check reads, in the order of the entry point's `_failing_checks`.
DECIDED_BY_OF_CHECK: Final = (
    DECIDED_BY_APPOINTMENT,  # 1. Appointment Not Found
    DECIDED_BY_STATE_RULE,  # 2. Terminations Not Filed Through NIPR In <state>
    DECIDED_BY_TERMINATION_REASON,  # 3. Termination Reason Required
    DECIDED_BY_TERMINATION_REASON,  # 4. Termination Reason <code> Not Accepted In <state>
    DECIDED_BY_REQUEST,  # 5. Effective Date <value> Unreadable
    DECIDED_BY_STATE_RULE,  # 5. Effective Date Not Specifiable In <state>
    DECIDED_BY_STATE_RULE,  # 5. Future Effective Date Not Accepted In <state>
    DECIDED_BY_STATE_RULE,  # 5. Effective Date More Than <N> Days Back Not Accepted In <state>
)
# NIPR's scope categories whose `data_as_of` is named (`nipr_scope_reports.category`).
LICENSING_SCOPE: Final = "LICENSING"


def decided_by(failing: Sequence[pd.Series]) -> np.ndarray:
    """Per row, the row the first failing check read; `all_checks` when every check passed."""
    if len(failing) != len(DECIDED_BY_OF_CHECK):
        raise ValueError("every termination check needs its `decided_by` (DECIDED_BY_OF_CHECK)")
    return np.select(
        [np.asarray(f, dtype=bool) for f in failing],
        list(DECIDED_BY_OF_CHECK),
        default=DECIDED_BY_ALL_CHECKS,
    ).astype(object)


def with_evidence(
    req: pd.DataFrame,
    frames: Mapping[str, pd.DataFrame],
    keys_of: Mapping[str, pd.DataFrame],
    version: str,
) -> pd.DataFrame:
    """`req` (the result's rows, with `decided_by`, the resolved `loa_code` and
    `termination_reason_code`, and `accepted`) with every `evidence_<field>` column.

    `keys_of`, the keys the checks read, not read again: `appointments` (`normalise_keys`) and
    `licenses` (`producer_state_keys`).
    """
    rows = len(req)
    keys = req[[*KEY]].reset_index(drop=True)
    # Each table is reduced to one row per key first: a merge never adds a row.
    found = keys
    for table, on in (
        (_appointments(frames["appointments"], keys_of["appointments"], keys), KEY),
        (_licenses(frames["licenses"], keys_of["licenses"], keys), ["npn", "state_code"]),
        (_producers(frames["producers"]), ["npn"]),
        (_state_rules(frames["state_appointment_rules"]), ["state_code"]),
        (_state_fees(frames["state_fees"]), ["state_code"]),
        (_scopes_as_of(frames["nipr_scope_reports"]), ["npn", "state_code"]),
    ):
        found = found.merge(table, on=on, how="left")
    accepted = req["accepted"].to_numpy(dtype=bool)
    values: dict[str, Any] = {
        "decided_by": req["decided_by"].to_numpy(dtype=object),
        "loa_code": req["loa_code"].to_numpy(dtype=object),
        "state_reason_code": np.where(
            accepted, req["termination_reason_code"].to_numpy(dtype=object), None
        ),
        "engine_version": np.full(rows, version, dtype=object),
    }
    for name in EVIDENCE_NAMES:
        if name not in values:
            values[name] = (
                _plain(found[name]) if name in found.columns else np.full(rows, None, object)
            )
    evidence = pd.DataFrame(
        {EVIDENCE_PREFIX + name: values[name] for name in EVIDENCE_NAMES}, index=req.index
    )
    return pd.concat([req, evidence], axis=1)


def _plain(values: pd.Series) -> np.ndarray:
    """An object array with None where a value is missing (the result's plain values)."""
    out = values.to_numpy(dtype=object, copy=True)
    out[pd.isna(values).to_numpy()] = None
    return out


def _date(value: Any) -> dt.date | None:
    """A date, or None (blank or unreadable: evidence names what was read, never a guess)."""
    read = one_date_or_text(value)
    return read if isinstance(read, dt.date) else None


def _dates(values: pd.Series) -> np.ndarray:
    """`_date` of each value, as an object array; a column of timestamps (as a database or
    a file reader gives it) in one pass."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return _plain(pd.Series(values.dt.date.to_numpy(dtype=object), dtype=object))
    return values.map(_date).to_numpy(dtype=object)


def _requested(table_keys: pd.DataFrame, wanted: pd.DataFrame) -> np.ndarray:
    """The positions of the rows of `table_keys` whose key (the columns of `wanted`) a request
    has: a book's table is narrowed on its keys before its other columns are read."""
    on = list(wanted.columns)
    positions = table_keys[on].assign(_at=np.arange(len(table_keys)))
    # A blank key names nothing (pandas would match None with None).
    found = positions.dropna(subset=on).merge(wanted.dropna().drop_duplicates(), on=on)
    return np.sort(found["_at"].to_numpy())


def _appointments(
    appointments: pd.DataFrame, appointment_keys: pd.DataFrame, wanted: pd.DataFrame
) -> pd.DataFrame:
    """One row per requested line: its Appointed row when any, else its latest other row."""
    at = _requested(appointment_keys, wanted)
    rows = appointments.iloc[at].reset_index(drop=True)
    table = appointment_keys.iloc[at].reset_index(drop=True)
    status = text(rows["status"])
    table["appointment_status"] = status.to_numpy()
    table["appointment_effective_date"] = _dates(rows["effective_date"])
    table["appointment_source"] = np.where(
        text(rows["accepted_transaction_id"]).notna(),
        APPOINTMENT_FROM_ACCEPTED,
        APPOINTMENT_FROM_NIPR,
    ).astype(object)
    table["_not_appointed"] = ~lower(status).eq(APPOINTMENT_APPOINTED.lower()).to_numpy()
    table["_since"] = pd.to_datetime(table["appointment_effective_date"], errors="coerce")
    table = table.sort_values(
        ["_not_appointed", "_since"], ascending=[True, False], na_position="last", kind="stable"
    )
    return table.drop_duplicates(KEY).drop(columns=["_not_appointed", "_since"])


def _licenses(
    licenses: pd.DataFrame, license_keys: pd.DataFrame, wanted: pd.DataFrame
) -> pd.DataFrame:
    """One license per requested producer and state: the resident one when any, else the
    first by license number (the one the fee's residency reads)."""
    at = _requested(license_keys, wanted[["npn", "state_code"]])
    rows = licenses.iloc[at].reset_index(drop=True)
    table = license_keys.iloc[at].reset_index(drop=True)
    table["license_number"] = text(rows["license_number"]).to_numpy()
    table["license_class_code"] = text(rows["license_class_code"]).to_numpy()
    table["license_is_resident"] = rows["is_resident"].map(flag).to_numpy(dtype=object)
    table["license_is_active"] = rows["is_active"].map(flag).to_numpy(dtype=object)
    table["license_issue_date"] = _dates(rows["issue_date"])
    table["license_expiration_date"] = _dates(rows["expiration_date"])
    table["_not_resident"] = ~table["license_is_resident"].eq(True)
    table = table.sort_values(
        ["npn", "state_code", "_not_resident", "license_number"], na_position="last", kind="stable"
    )
    return table.drop_duplicates(["npn", "state_code"]).drop(columns="_not_resident")


def _producers(producers: pd.DataFrame) -> pd.DataFrame:
    """One row per producer: its NIPR sync status and whether it is active."""
    table = pd.DataFrame(
        {
            "npn": text(producers["npn"]).to_numpy(),
            "producer_sync_status": text(producers["sync_status"]).to_numpy(),
            "producer_is_active": producers["is_active"].map(flag).to_numpy(dtype=object),
        }
    )
    return table.dropna(subset=["npn"]).drop_duplicates("npn")


def _state_rules(rules: pd.DataFrame) -> pd.DataFrame:
    """One state rule per state: the last given, as `eligibility_state_rules` reads it."""
    table = pd.DataFrame(
        {
            "state_code": upper(rules["state_code"]).to_numpy(),
            "state_rule_source": text(rules["source"]).to_numpy(),
            "state_rule_is_assumption": rules["is_assumption"].map(flag).to_numpy(dtype=object),
        }
    )
    return table.dropna(subset=["state_code"]).drop_duplicates("state_code", keep="last")


def _state_fees(state_fees: pd.DataFrame) -> pd.DataFrame:
    """One `termination` fee row per state, its amounts as `eligibility_fees` reads them."""
    is_termination = lower(state_fees["transaction_kind"]).eq(TRANSACTION_KIND).to_numpy()
    rows = state_fees[is_termination]
    table = pd.DataFrame(
        {
            "state_code": upper(rows["state_code"]).to_numpy(),
            "fee_resident": pd.to_numeric(rows["resident_fee"], errors="coerce").to_numpy(),
            "fee_nonresident": pd.to_numeric(rows["nonresident_fee"], errors="coerce").to_numpy(),
            "fee_per_loa": rows["per_loa"].map(flag).eq(True).to_numpy(),
            "fee_source": text(rows["source"]).to_numpy(),
            "fee_is_assumption": rows["is_assumption"].map(flag).to_numpy(dtype=object),
        }
    ).dropna(subset=["state_code"])
    return table.groupby("state_code", as_index=False, dropna=False).agg(
        fee_resident=("fee_resident", "max"),
        fee_nonresident=("fee_nonresident", "max"),
        fee_per_loa=("fee_per_loa", "any"),
        fee_source=("fee_source", "first"),
        fee_is_assumption=("fee_is_assumption", "first"),
    )


def _scopes_as_of(scope_reports: pd.DataFrame) -> pd.DataFrame:
    """Per producer and state, the newest `data_as_of` of its LICENSING and APPOINTMENTS
    scopes (UTC). The store reads them for the requested producers only."""
    rows = scope_reports
    table = pd.DataFrame(
        {
            "npn": text(rows["npn"]).to_numpy(),
            "state_code": upper(rows["state_code"]).to_numpy(),
            "category": upper(rows["category"]).to_numpy(),
            "as_of": pd.to_datetime(rows["data_as_of"], errors="coerce", utc=True).array,
        }
    ).dropna()
    newest = table.groupby(["npn", "state_code", "category"], as_index=False)["as_of"].max()
    out = pd.DataFrame({"npn": pd.Series(dtype=object), "state_code": pd.Series(dtype=object)})
    for category, column in (
        (LICENSING_SCOPE, "licensing_data_as_of"),
        (APPOINTMENTS_SCOPE, "appointments_data_as_of"),
    ):
        of_category = newest[newest["category"].eq(category)].drop(columns="category")
        out = out.merge(
            of_category.rename(columns={"as_of": column}), on=["npn", "state_code"], how="outer"
        )
    return out
