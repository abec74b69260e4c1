"""Termination eligibility (SPEC section 7): which termination requests become transactions. Pure.

No Dagster, no database: `evaluate_termination_requests` takes the request rows of a
`terminate` upload (`ValidatedUpload.exploded()`, one row per request, state and line) and the
SPEC section 3 tables as DataFrames, and returns one row per request row.

Per row, the first failing check sets the reason and the status `Not Eligible`:

1. `Appointment Not Found`: no `Appointed` appointment for npn, state, CoCode and loa_code.
2. `Terminations Not Filed Through NIPR In <state_code>`: the state's
   `state_appointment_rules.terminations_via_nipr` is false (NY ends appointments on the DFS
   portal; IL is a registry state where the carrier keeps its own register). Said on the
   transaction, never sent: NIPR would refuse it and the customer would still pay for the try.
3. `Termination Reason Required`: the reason is blank and the state has no single default.
4. `Termination Reason <code> Not Accepted In <state_code>`: the code is not among the state's
   reasons.
5. Effective date limits of `state_appointment_rules` (DOMAIN 3.4), for a date the user gave
   (blank: the state's processing date, always accepted):
   - `Effective Date Not Specifiable In <state_code>` where `termination_date_specifiable` is
     false (TX, NY use their processing date: the date asked for would not be honoured);
   - `Future Effective Date Not Accepted In <state_code>` for a date after `as_of`, in every
     state (each state with a known rule refuses it; a future termination is dropped later);
   - `Effective Date More Than <N> Days Back Not Accepted In <state_code>` for a date before
     `as_of` minus `termination_max_backdate_days` (FL 33, NJ 60, PA 30, VA 29, WA 14).
   - `Effective Date <value> Unreadable`: a date that cannot be read is not guessed at.

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
  terminates the same line (one NIPR transaction each would be charged twice). Also when NIPR
  already ACCEPTED a termination of that line on or after the appointment's effective date:
  `appointments` changes only with the next NIPR sync, and until then the line still reads
  Appointed, so a second drop would pay for the same termination again. (A re-appointment has
  a later effective date and can be terminated again.) What was left out is in
  `result.attrs["repeats"]`; Not Eligible rows are never left out (the audit).
- `state_appointment_rules` absent (unit worlds): no state rule applies. A state missing from a
  given table has no known rule either: NIPR, not a guess of ours, then decides.
- `as_of` (default today) is the date the effective-date limits count from.

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

from schemas import statuses

STATUS_READY = statuses.READY_TO_SUBMIT
STATUS_NOT_ELIGIBLE = statuses.NOT_ELIGIBLE
OPEN_STATUSES = statuses.OPEN_TRANSACTION_STATUSES

REASON_APPOINTMENT_NOT_FOUND = "Appointment Not Found"
REASON_REASON_REQUIRED = "Termination Reason Required"
REASON_IN_GOOD_STANDING = "In Good Standing"

REPEAT_OF_OPEN_TRANSACTION = "Repeats an open transaction for the same line"
REPEAT_IN_REQUESTS = "Repeats an earlier request row for the same line"
REPEAT_OF_ACCEPTED = "Repeats a termination NIPR already accepted (the NIPR sync will show it)"

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
    "state_appointment_rules": (
        "state_code",
        "terminations_via_nipr",
        "termination_date_specifiable",
        "termination_max_backdate_days",
    ),
}
OPTIONAL_INPUTS = (
    "termination_reasons",
    "companies",
    "lines_of_authority",
    "licenses",
    "transactions",
    "state_appointment_rules",
)
# Columns read when present: older frames and hand-written worlds may lack them.
EXTRA_INPUT_COLUMNS: dict[str, tuple[str, ...]] = {
    "appointments": ("effective_date",),
    "transactions": ("transaction_id", "completed_at"),
}

_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})


def not_accepted_reason(reason_code: str, state_code: str) -> str:
    return f"Termination Reason {reason_code} Not Accepted In {state_code}"


def not_via_nipr_reason(state_code: str) -> str:
    return f"Terminations Not Filed Through NIPR In {state_code}"


def date_not_specifiable_reason(state_code: str) -> str:
    return f"Effective Date Not Specifiable In {state_code}"


def future_date_reason(state_code: str) -> str:
    return f"Future Effective Date Not Accepted In {state_code}"


def backdate_reason(days: int, state_code: str) -> str:
    return f"Effective Date More Than {days} Days Back Not Accepted In {state_code}"


def unreadable_date_reason(value: object) -> str:
    return f"Effective Date {value} Unreadable"


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
    as_of = as_of or dt.date.today()
    frames = {name: _input_frame(inputs, name) for name in INPUT_COLUMNS}
    req = _request_frame(requests)
    if req.empty:
        return _finish(req.assign(**{c: None for c in RESULT_COLUMNS}), _empty_repeats())

    req = _resolve_lines(req, frames["lines_of_authority"])
    req["has_appointment"] = _has_appointment(req, frames["appointments"])
    req = _resolve_reasons(req, frames["state_termination_reasons"], frames["termination_reasons"])
    req = _state_rules(req, frames["state_appointment_rules"], as_of)

    reason_code = req["termination_reason_code"]
    states = req["state_code"]
    not_accepted = [
        not_accepted_reason(code, state) if code is not None else None
        for code, state in zip(req["given_reason"], states, strict=True)
    ]
    backdated = [
        backdate_reason(int(days), state) if pd.notna(days) else None
        for days, state in zip(req["max_backdate_days"], states, strict=True)
    ]
    req["eligibility_reason"] = np.select(
        [
            ~req["has_appointment"],
            ~req["via_nipr"],
            reason_code.isna(),
            ~req["accepted"],
            req["date_unreadable"],
            req["date_not_specifiable"],
            req["date_in_future"],
            req["date_too_old"],
        ],
        [
            REASON_APPOINTMENT_NOT_FOUND,
            _texts(not_via_nipr_reason, states),
            REASON_REASON_REQUIRED,
            np.array(not_accepted, dtype=object),
            _texts(unreadable_date_reason, req["unreadable_date"]),
            _texts(date_not_specifiable_reason, states),
            _texts(future_date_reason, states),
            np.array(backdated, dtype=object),
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
    req, repeats = _drop_repeats(req, frames["transactions"], frames["appointments"])
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


def _state_rules(req: pd.DataFrame, rules: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """Whether the state takes terminations through NIPR, and the effective-date limits."""
    table = pd.DataFrame(
        {
            "state_code": _upper(rules["state_code"]),
            "via": rules["terminations_via_nipr"].map(_flag).to_numpy(dtype=object),
            "specifiable": rules["termination_date_specifiable"].map(_flag).to_numpy(dtype=object),
            "max_backdate_days": pd.to_numeric(
                rules["termination_max_backdate_days"], errors="coerce"
            ).to_numpy(),
        }
    ).dropna(subset=["state_code"])
    table = table.drop_duplicates("state_code", keep="last").set_index("state_code")
    found = table.reindex(req["state_code"].to_numpy())
    # Unknown is not false: only a rule that says "not via NIPR" stops the transaction.
    req["via_nipr"] = ~found["via"].eq(False).to_numpy(dtype=bool)
    req["max_backdate_days"] = found["max_backdate_days"].to_numpy()

    given = req["effective_date"].map(_one_date_or_text)
    is_date = given.map(lambda v: isinstance(v, dt.date))
    req["date_unreadable"] = given.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
    dates = pd.Series([v if isinstance(v, dt.date) else None for v in given], index=req.index)
    req["date_not_specifiable"] = (is_date & found["specifiable"].eq(False).to_numpy()).to_numpy(
        dtype=bool
    )
    req["date_in_future"] = np.array([d is not None and d > as_of for d in dates], dtype=bool)
    limits = req["max_backdate_days"]
    req["date_too_old"] = np.array(
        [
            d is not None and pd.notna(days) and d < as_of - dt.timedelta(days=int(days))
            for d, days in zip(dates, limits, strict=True)
        ],
        dtype=bool,
    )
    req["unreadable_date"] = [v if isinstance(v, str) else None for v in given]
    # Only a date is written on the transaction; an unreadable one is quoted in its reason.
    req["effective_date"] = pd.Series(list(dates), index=req.index, dtype=object)
    return req


def _one_date_or_text(value: Any) -> dt.date | str | None:
    """A date; None when blank; the text itself when it is not a date (reported, not guessed)."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else pd.Timestamp(value).date()
    text = _one_text(value)
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return text


def _texts(make: Any, values: pd.Series) -> np.ndarray:
    return np.array([make(v) if v is not None else None for v in values], dtype=object)


def _company_names(req: pd.DataFrame, companies: pd.DataFrame) -> pd.Series:
    names = pd.DataFrame(
        {"cocode": _text(companies["cocode"]), "name": _text(companies["company_name"])}
    ).dropna()
    name_of = names.groupby("cocode")["name"].min().to_dict()
    return pd.Series([name_of.get(c) for c in req["cocode"]], index=req.index, dtype=object)


def _drop_repeats(
    req: pd.DataFrame, transactions: pd.DataFrame, appointments: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    ready = req["status"].eq(STATUS_READY)
    tx = _normalise_keys(transactions)
    tx["transaction_id"] = _text(transactions["transaction_id"])
    tx["completed_on"] = transactions["completed_at"].map(_one_date_or_text).to_numpy()
    is_termination = _lower(transactions["kind"]).eq(TRANSACTION_KIND).to_numpy()
    status = _text(transactions["status"])
    open_tx = tx[is_termination & status.isin(sorted(OPEN_STATUSES)).to_numpy()].dropna(subset=KEY)
    open_of = _first_id_per_key(open_tx)

    # NIPR accepted a termination the current-state tables do not show yet.
    accepted = tx[is_termination & status.eq(statuses.ACCEPTED).to_numpy()].dropna(subset=KEY)
    appointed = _normalise_keys(appointments)
    appointed["since"] = appointments["effective_date"].map(_one_date_or_text).to_numpy()
    appointed = appointed[
        _lower(appointments["status"]).eq(APPOINTMENT_APPOINTED.lower()).to_numpy()
    ]
    since_of = {
        key: since if isinstance(since, dt.date) else None
        for key, since in zip(
            appointed[KEY].itertuples(index=False, name=None), appointed["since"], strict=True
        )
    }
    accepted = accepted.loc[
        np.array(
            [
                not isinstance(since_of.get(key), dt.date)
                or not isinstance(done, dt.date)
                or done >= since_of[key]
                for key, done in zip(
                    accepted[KEY].itertuples(index=False, name=None),
                    accepted["completed_on"],
                    strict=True,
                )
            ],
            dtype=bool,
        )
    ]
    accepted_of = _first_id_per_key(accepted)

    dropped: list[dict[str, Any]] = []
    first_row: dict[tuple, int] = {}
    keep = np.ones(len(req), dtype=bool)
    keys = req[KEY].itertuples(index=False, name=None)
    for i, (key, is_ready, row) in enumerate(zip(keys, ready, req["request_row"], strict=True)):
        if not is_ready:
            continue
        record = dict(zip(KEY, key, strict=True), request_row=row)
        if key in open_of or key in accepted_of:
            dropped.append(
                record
                | {
                    "repeats_transaction_id": open_of.get(key) or accepted_of.get(key),
                    "repeats_request_row": None,
                    "reason": REPEAT_OF_OPEN_TRANSACTION if key in open_of else REPEAT_OF_ACCEPTED,
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


def _first_id_per_key(transactions: pd.DataFrame) -> dict[tuple, str | None]:
    ids: dict[tuple, list[str]] = {}
    for key, tx_id in zip(
        transactions[KEY].itertuples(index=False, name=None),
        transactions["transaction_id"],
        strict=True,
    ):
        ids.setdefault(key, []).extend([tx_id] if tx_id is not None else [])
    return {key: min(found) if found else None for key, found in ids.items()}


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
        every = columns + list(EXTRA_INPUT_COLUMNS.get(name, ()))
        empty = pd.DataFrame({column: pd.Series(dtype=object) for column in every})
        empty.attrs["_absent"] = True
        return empty
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"the {name!r} frame lacks column(s): {', '.join(missing)}")
    out = frame.loc[:, columns].reset_index(drop=True)
    for column in EXTRA_INPUT_COLUMNS.get(name, ()):
        out[column] = frame[column].to_numpy() if column in frame.columns else None
    return out


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
