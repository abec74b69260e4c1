"""Termination eligibility (SPEC section 7): which termination requests become transactions. Pure.

No Dagster, no database: `evaluate_termination_requests` takes the request rows of a
`terminate` upload (`ValidatedUpload.exploded()`, one row per request, state and line) and the
SPEC section 3 tables as DataFrames, and returns one row per request row.

Per row, the first failing check sets the reason and the status `Not Eligible`:

1. `Appointment Not Found`: no `Appointed` appointment for npn, state, CoCode and loa_code.
2. `Termination Reason Required`: the reason is blank and the state has no single default.
3. `Termination Reason <code> Not Accepted In <state_code>`: the code is not among the state's
   reasons.

Otherwise `In Good Standing`, `Ready to Submit`.

Decisions where SPEC leaves room (always the side that charges no fee nobody asked for):

- A blank loa_code is looked up by loa_name (any case, surrounding spaces ignored) in
  `lines_of_authority` for the state; a name that maps to no code or to several stays
  unresolved, so the row is `Appointment Not Found`.
- A state with several `is_default` reasons has no single default: a blank reason there is
  `Termination Reason Required` rather than a guess sent to NIPR.
- Reason codes match case-insensitively; the resolved code is spelled as the state's table
  spells it. When `termination_reasons` is given, a state reason missing from it is not
  accepted.
- Unknown is not true: an unreadable Submit Immediately does not auto-submit, an appointment
  status other than `Appointed` (any case) is not appointed.
- Fees: the state's `termination` row of `state_fees`; `resident_fee` when a license of the
  producer in the state is resident, `nonresident_fee` when its licenses there are known and
  non-resident, the higher of the two when residency is unknown. No fee row: 0. `per_loa`
  false: the first Ready row of each (npn, state, CoCode) in the result carries the fee, the
  others 0. Not Eligible rows: 0.
- Repeats: a Ready row is left out of the result when an open termination transaction exists
  for the same npn, state, CoCode and loa_code, or when an earlier request row of the same call
  terminates the same line (one NIPR transaction each would be charged twice). What was left
  out is in `result.attrs["repeats"]`; Not Eligible rows are never left out (the audit).
- `as_of` is accepted for symmetry with the appointment engine; no termination rule depends on
  the date.

Frames may arrive as read from a database or files: keys as numbers or text, booleans as
objects ('true', 1, None), dates as strings; keys are compared as trimmed text.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from assets.appointments import statuses

STATUS_READY = statuses.READY_TO_SUBMIT
STATUS_NOT_ELIGIBLE = statuses.NOT_ELIGIBLE
OPEN_STATUSES = statuses.OPEN_TRANSACTION_STATUSES

REASON_APPOINTMENT_NOT_FOUND = "Appointment Not Found"
REASON_REASON_REQUIRED = "Termination Reason Required"
REASON_IN_GOOD_STANDING = "In Good Standing"

REPEAT_OF_OPEN_TRANSACTION = "Repeats an open transaction for the same line"
REPEAT_IN_REQUESTS = "Repeats an earlier request row for the same line"

APPOINTMENT_APPOINTED = "Appointed"
TRANSACTION_KIND = "termination"
BATCH_AUTO = "auto"
BATCH_REVIEW = "review"

KEY = ["npn", "state_code", "cocode", "loa_code"]

RESULT_COLUMNS = (
    "request_row",
    "npn",
    "state_code",
    "cocode",
    "company_name",
    "loa_code",
    "loa_name",
    "termination_reason_code",
    "is_resident",
    "eligibility_reason",
    "status",
    "estimated_fee",
    "auto_submit",
    "batch_key",
    "effective_date",
)
REPEAT_COLUMNS = (
    "request_row",
    "npn",
    "state_code",
    "cocode",
    "loa_code",
    "repeats_transaction_id",
    "repeats_request_row",
    "reason",
)

REQUEST_COLUMNS = ("request_row", "npn", "state_code", "cocode")
REQUEST_OPTIONAL_COLUMNS = ("loa_code", "loa_name", "termination_reason_code", "submit_immediately")

INPUT_COLUMNS: dict[str, tuple[str, ...]] = {
    "appointments": ("npn", "state_code", "cocode", "loa_code", "status"),
    "state_termination_reasons": ("state_code", "reason_code", "is_default"),
    "state_fees": ("state_code", "transaction_kind", "resident_fee", "nonresident_fee", "per_loa"),
    "termination_reasons": ("reason_code",),
    "companies": ("cocode", "company_name"),
    "lines_of_authority": ("state_code", "loa_code", "loa_name"),
    "licenses": ("npn", "state_code", "is_resident"),
    "transactions": ("npn", "state_code", "cocode", "loa_code", "kind", "status"),
}
OPTIONAL_INPUTS = (
    "termination_reasons",
    "companies",
    "lines_of_authority",
    "licenses",
    "transactions",
)

_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})


def not_accepted_reason(reason_code: str, state_code: str) -> str:
    return f"Termination Reason {reason_code} Not Accepted In {state_code}"


def batch_key(cocode: str, auto_submit: bool) -> str:
    """The batch a transaction goes to within its upload (the caller prefixes the upload)."""
    return f"{TRANSACTION_KIND}/{cocode}/{BATCH_AUTO if auto_submit else BATCH_REVIEW}"


def evaluate_termination_requests(
    requests: pd.DataFrame,
    inputs: Mapping[str, pd.DataFrame],
    as_of: dt.date | None = None,
) -> pd.DataFrame:
    """One row per request row (repeats left out, see the module docstring), sorted by
    request_row, state_code, loa_code; `result.attrs["repeats"]` lists what was left out."""
    frames = {name: _input_frame(inputs, name) for name in INPUT_COLUMNS}
    req = _request_frame(requests)
    if req.empty:
        return _finish(req.assign(**{c: None for c in RESULT_COLUMNS}), _empty_repeats())

    req = _resolve_lines(req, frames["lines_of_authority"])
    req["has_appointment"] = _has_appointment(req, frames["appointments"])
    req = _resolve_reasons(req, frames["state_termination_reasons"], frames["termination_reasons"])

    reason_code = req["termination_reason_code"]
    not_accepted = [
        not_accepted_reason(code, state) if code is not None else None
        for code, state in zip(req["given_reason"], req["state_code"], strict=True)
    ]
    req["eligibility_reason"] = np.select(
        [~req["has_appointment"], reason_code.isna(), ~req["accepted"]],
        [
            REASON_APPOINTMENT_NOT_FOUND,
            REASON_REASON_REQUIRED,
            np.array(not_accepted, dtype=object),
        ],
        default=REASON_IN_GOOD_STANDING,
    )
    ready = req["eligibility_reason"] == REASON_IN_GOOD_STANDING
    req["status"] = np.where(ready, STATUS_READY, STATUS_NOT_ELIGIBLE)
    req["auto_submit"] = req["submit_immediately"].map(_flag).eq(True)
    req["batch_key"] = [
        batch_key(c, a) for c, a in zip(req["cocode"], req["auto_submit"], strict=True)
    ]
    req["company_name"] = _company_names(req, frames["companies"])

    req = req.sort_values(["request_row", "state_code", "loa_code", "_pos"], na_position="last")
    req, repeats = _drop_repeats(req, frames["transactions"])
    req = _fees(req, frames["state_fees"], frames["licenses"])
    return _finish(req, repeats)


# --------------------------------------------------------------------------------------------
# Steps
# --------------------------------------------------------------------------------------------


def _resolve_lines(req: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """A blank loa_code takes the code its loa_name has in the state, when exactly one."""
    table = pd.DataFrame(
        {
            "state_code": _upper(lines["state_code"]),
            "name_key": _lower(lines["loa_name"]),
            "named_code": _text(lines["loa_code"]),
        }
    ).dropna()
    table = table.drop_duplicates()
    table = table[~table.duplicated(["state_code", "name_key"], keep=False)]
    req["name_key"] = _lower(req["loa_name"])
    merged = req.merge(table, on=["state_code", "name_key"], how="left")
    merged["loa_code"] = merged["loa_code"].where(merged["loa_code"].notna(), merged["named_code"])
    return merged.drop(columns=["name_key", "named_code"])


def _has_appointment(req: pd.DataFrame, appointments: pd.DataFrame) -> pd.Series:
    appointed = _normalise_keys(appointments)
    status = _lower(appointments["status"])
    appointed = appointed[status.eq(APPOINTMENT_APPOINTED.lower()).to_numpy()]
    keys = set(appointed[KEY].dropna().itertuples(index=False, name=None))
    found = [key in keys for key in req[KEY].itertuples(index=False, name=None)]
    return pd.Series(found, index=req.index, dtype=bool)


def _resolve_reasons(
    req: pd.DataFrame, state_reasons: pd.DataFrame, known_reasons: pd.DataFrame
) -> pd.DataFrame:
    table = pd.DataFrame(
        {
            "state_code": _upper(state_reasons["state_code"]),
            "reason_code": _text(state_reasons["reason_code"]),
            "is_default": state_reasons["is_default"].map(_flag).eq(True).to_numpy(),
        }
    ).dropna(subset=["state_code", "reason_code"])
    if not known_reasons.attrs.get("_absent"):
        known = set(_upper(known_reasons["reason_code"]).dropna())
        table = table[table["reason_code"].str.upper().isin(known)]
    accepted = {
        (state, code.upper()): code
        for state, code in zip(table["state_code"], table["reason_code"], strict=True)
    }
    defaults = table[table["is_default"]].drop_duplicates(["state_code", "reason_code"])
    defaults = defaults[~defaults.duplicated("state_code", keep=False)]
    default_of = dict(zip(defaults["state_code"], defaults["reason_code"], strict=True))

    given = _text(req["termination_reason_code"])
    resolved: list[str | None] = []
    is_accepted: list[bool] = []
    for state, code in zip(req["state_code"], given, strict=True):
        if code is None:
            default = default_of.get(state)
            resolved.append(default)
            is_accepted.append(default is not None)
        else:
            canonical = accepted.get((state, code.upper()))
            resolved.append(canonical if canonical is not None else code)
            is_accepted.append(canonical is not None)
    req["given_reason"] = given
    req["termination_reason_code"] = pd.Series(resolved, index=req.index, dtype=object)
    req["accepted"] = pd.Series(is_accepted, index=req.index, dtype=bool)
    return req


def _company_names(req: pd.DataFrame, companies: pd.DataFrame) -> pd.Series:
    names = pd.DataFrame(
        {"cocode": _text(companies["cocode"]), "name": _text(companies["company_name"])}
    ).dropna()
    name_of = names.groupby("cocode")["name"].min().to_dict()
    return pd.Series([name_of.get(c) for c in req["cocode"]], index=req.index, dtype=object)


def _drop_repeats(
    req: pd.DataFrame, transactions: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    ready = req["status"].eq(STATUS_READY)
    open_tx = _normalise_keys(transactions)
    open_tx["transaction_id"] = (
        _text(transactions["transaction_id"]) if "transaction_id" in transactions.columns else None
    )
    is_open = (
        _lower(transactions["kind"]).eq(TRANSACTION_KIND)
        & _text(transactions["status"]).isin(sorted(OPEN_STATUSES))
    ).to_numpy()
    open_tx = open_tx[is_open].dropna(subset=KEY)
    ids: dict[tuple, list[str]] = {}
    for key, tx_id in zip(
        open_tx[KEY].itertuples(index=False, name=None), open_tx["transaction_id"], strict=True
    ):
        ids.setdefault(key, []).extend([tx_id] if tx_id is not None else [])
    open_of = {key: min(found) if found else None for key, found in ids.items()}

    dropped: list[dict[str, Any]] = []
    first_row: dict[tuple, int] = {}
    keep = np.ones(len(req), dtype=bool)
    keys = req[KEY].itertuples(index=False, name=None)
    for i, (key, is_ready, row) in enumerate(zip(keys, ready, req["request_row"], strict=True)):
        if not is_ready:
            continue
        record = dict(zip(KEY, key, strict=True), request_row=row)
        if key in open_of:
            dropped.append(
                record
                | {
                    "repeats_transaction_id": open_of[key],
                    "repeats_request_row": None,
                    "reason": REPEAT_OF_OPEN_TRANSACTION,
                }
            )
            keep[i] = False
        elif key in first_row:
            dropped.append(
                record
                | {
                    "repeats_transaction_id": None,
                    "repeats_request_row": first_row[key],
                    "reason": REPEAT_IN_REQUESTS,
                }
            )
            keep[i] = False
        else:
            first_row[key] = row
    repeats = pd.DataFrame(dropped, columns=list(REPEAT_COLUMNS)) if dropped else _empty_repeats()
    return req[keep], repeats


def _fees(req: pd.DataFrame, state_fees: pd.DataFrame, licenses: pd.DataFrame) -> pd.DataFrame:
    fees = pd.DataFrame(
        {
            "state_code": _upper(state_fees["state_code"]),
            "resident_fee": pd.to_numeric(state_fees["resident_fee"], errors="coerce"),
            "nonresident_fee": pd.to_numeric(state_fees["nonresident_fee"], errors="coerce"),
            "per_loa": state_fees["per_loa"].map(_flag).eq(True).to_numpy(),
        }
    )[_lower(state_fees["transaction_kind"]).eq(TRANSACTION_KIND).to_numpy()]
    fees = fees.groupby("state_code", as_index=False).agg(
        resident_fee=("resident_fee", "max"),
        nonresident_fee=("nonresident_fee", "max"),
        per_loa=("per_loa", "any"),
    )

    residency = pd.DataFrame(
        {
            "npn": _text(licenses["npn"]),
            "state_code": _upper(licenses["state_code"]),
            "flag": licenses["is_resident"].map(_flag).to_numpy(),
        }
    ).dropna()
    residency = residency.groupby(["npn", "state_code"], as_index=False).agg(
        is_resident=("flag", "any")
    )

    out = req.merge(fees, on="state_code", how="left").merge(
        residency, on=["npn", "state_code"], how="left"
    )
    resident = out["resident_fee"].fillna(0.0).to_numpy(dtype=np.float64)
    nonresident = out["nonresident_fee"].fillna(0.0).to_numpy(dtype=np.float64)
    known = out["is_resident"].notna().to_numpy()
    is_resident = out["is_resident"].eq(True).to_numpy()
    fee = np.where(
        known, np.where(is_resident, resident, nonresident), np.maximum(resident, nonresident)
    )
    ready = out["status"].eq(STATUS_READY).to_numpy()
    per_loa = out["per_loa"].eq(True).to_numpy()
    # Rows are already in result order, so the first of each appointment carries the fee.
    repeat_of_appointment = (
        out[ready][["npn", "state_code", "cocode"]]
        .duplicated()
        .reindex(out.index, fill_value=False)
        .to_numpy(dtype=bool)
    )
    charged = ready & (per_loa | ~repeat_of_appointment)
    out["estimated_fee"] = np.where(charged, fee, 0.0)
    out["is_resident"] = [None if pd.isna(v) else bool(v) for v in out["is_resident"]]
    return out


# --------------------------------------------------------------------------------------------
# Input and output
# --------------------------------------------------------------------------------------------


def _request_frame(requests: pd.DataFrame) -> pd.DataFrame:
    missing = [column for column in REQUEST_COLUMNS if column not in requests.columns]
    if missing:
        raise ValueError(f"termination requests lack column(s): {', '.join(missing)}")
    frame = pd.DataFrame(
        {
            "request_row": pd.to_numeric(requests["request_row"]).to_numpy(dtype=np.int64),
            "npn": _text(requests["npn"]).to_numpy(),
            "state_code": _upper(requests["state_code"]).to_numpy(),
            "cocode": _text(requests["cocode"]).to_numpy(),
        }
    )
    for column in REQUEST_OPTIONAL_COLUMNS:
        values = requests[column] if column in requests.columns else None
        frame[column] = (
            _text(values).to_numpy() if values is not None else np.full(len(frame), None, object)
        )
    frame["submit_immediately"] = (
        requests["submit_immediately"].to_numpy(dtype=object)
        if "submit_immediately" in requests.columns
        else np.full(len(frame), None, object)
    )
    frame["effective_date"] = (
        requests["effective_date"].to_numpy(dtype=object)
        if "effective_date" in requests.columns
        else np.full(len(frame), None, object)
    )
    frame["_pos"] = np.arange(len(frame), dtype=np.int64)
    return frame


def _input_frame(inputs: Mapping[str, pd.DataFrame], name: str) -> pd.DataFrame:
    columns = list(INPUT_COLUMNS[name])
    frame = inputs.get(name)
    if frame is None:
        if name not in OPTIONAL_INPUTS:
            raise ValueError(f"termination eligibility needs the {name!r} frame")
        empty = pd.DataFrame({column: pd.Series(dtype=object) for column in columns})
        empty.attrs["_absent"] = True
        return empty
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"the {name!r} frame lacks column(s): {', '.join(missing)}")
    extra = ["transaction_id"] if name == "transactions" and "transaction_id" in frame else []
    return frame.loc[:, columns + extra].reset_index(drop=True)


def _finish(result: pd.DataFrame, repeats: pd.DataFrame) -> pd.DataFrame:
    out = result.loc[:, list(RESULT_COLUMNS)].reset_index(drop=True)
    out["request_row"] = out["request_row"].astype(np.int64)
    out["estimated_fee"] = out["estimated_fee"].astype(np.float64)
    out["auto_submit"] = out["auto_submit"].astype(bool)
    for column in RESULT_COLUMNS:
        if column not in ("request_row", "estimated_fee", "auto_submit", "effective_date"):
            out[column] = out[column].astype(object).where(out[column].notna(), None)
    repeats = repeats.loc[:, list(REPEAT_COLUMNS)].reset_index(drop=True)
    repeats["request_row"] = repeats["request_row"].astype(np.int64)
    repeats["repeats_request_row"] = repeats["repeats_request_row"].astype("Int64")
    out.attrs["repeats"] = repeats
    return out


def _empty_repeats() -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype=object) for column in REPEAT_COLUMNS})


def _normalise_keys(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "npn": _text(frame["npn"]),
            "state_code": _upper(frame["state_code"]),
            "cocode": _text(frame["cocode"]),
            "loa_code": _text(frame["loa_code"]),
        }
    )


def _one_text(value: Any) -> str | None:
    """Trimmed text; None for missing or blank. A whole float (1001.0) reads as 1001."""
    if value is None:
        return None
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return None
        if float(value).is_integer():
            return str(int(value))
    elif not isinstance(value, str) and pd.isna(value):
        return None
    text = str(value).strip()
    return text or None


def _flag(value: Any) -> bool | None:
    """True, False, or None when missing or unreadable."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    text = _one_text(value)
    if text is None:
        return None
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return None


def _text(values: pd.Series) -> pd.Series:
    return pd.Series([_one_text(v) for v in values], index=values.index, dtype=object)


def _upper(values: pd.Series) -> pd.Series:
    return pd.Series(
        [None if (t := _one_text(v)) is None else t.upper() for v in values],
        index=values.index,
        dtype=object,
    )


def _lower(values: pd.Series) -> pd.Series:
    return pd.Series(
        [None if (t := _one_text(v)) is None else t.lower() for v in values],
        index=values.index,
        dtype=object,
    )
