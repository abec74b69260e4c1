"""Termination eligibility's frames in and out: the columns read, and the frames returned.

What the engine needs of the requests and of each SPEC section 3 frame (`REQUEST_COLUMNS`,
`INPUT_COLUMNS`; absent optional frames stand in as empty ones), the request frame the checks
work on, and `finish`, which gives the result (its evidence included) and the repeats their
columns and plain Python values. Separate from the checks so that a missing column fails here, in one place, before any
rule runs. Pure, no Dagster.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from assets.rules.evidence import EVIDENCE_COLUMNS
from assets.terminations.eligibility_values import text, upper
from assets.terminations.eligibility_vocabulary import REPEAT_COLUMNS, RESULT_COLUMNS

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
    # Read for the evidence only (`eligibility_evidence`): no check reads them.
    "producers": ("npn",),
    "nipr_scope_reports": ("npn", "state_code", "category", "data_as_of"),
}
OPTIONAL_INPUTS = (
    "termination_reasons",
    "companies",
    "lines_of_authority",
    "licenses",
    "transactions",
    "state_appointment_rules",
    "producers",
    "nipr_scope_reports",
)
# Columns read when present: older frames and hand-written worlds may lack them. Most are the
# evidence's (`eligibility_evidence`): the rows named beside a decision, not read by a check.
EXTRA_INPUT_COLUMNS: dict[str, tuple[str, ...]] = {
    "appointments": ("effective_date", "accepted_transaction_id"),
    "transactions": ("transaction_id", "completed_at"),
    "licenses": (
        "license_number",
        "license_class_code",
        "is_active",
        "issue_date",
        "expiration_date",
    ),
    "state_appointment_rules": ("source", "is_assumption"),
    "state_fees": ("source", "is_assumption"),
    "producers": ("sync_status", "is_active"),
}
# `attrs` mark of an optional frame that was not given (an empty one stands in for it).
ABSENT = "_absent"


def request_frame(requests: pd.DataFrame) -> pd.DataFrame:
    """The request columns as compared (keys trimmed, state codes upper case), the optional
    ones as None when absent, and `_pos`, each row's position (the last sort key)."""
    missing = [column for column in REQUEST_COLUMNS if column not in requests.columns]
    if missing:
        raise ValueError(f"termination requests lack column(s): {', '.join(missing)}")
    frame = pd.DataFrame(
        {
            "request_row": pd.to_numeric(requests["request_row"]).to_numpy(dtype=np.int64),
            "npn": text(requests["npn"]).to_numpy(),
            "state_code": upper(requests["state_code"]).to_numpy(),
            "cocode": text(requests["cocode"]).to_numpy(),
        }
    )
    for column in REQUEST_OPTIONAL_COLUMNS:
        values = requests[column] if column in requests.columns else None
        frame[column] = (
            text(values).to_numpy() if values is not None else np.full(len(frame), None, object)
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


def input_frame(inputs: Mapping[str, pd.DataFrame], name: str) -> pd.DataFrame:
    """The columns read of one input frame (extra ones as None when the frame lacks them); an
    absent optional frame as an empty one marked `attrs[ABSENT]`."""
    columns = list(INPUT_COLUMNS[name])
    frame = inputs.get(name)
    if frame is None:
        if name not in OPTIONAL_INPUTS:
            raise ValueError(f"termination eligibility needs the {name!r} frame")
        every = columns + list(EXTRA_INPUT_COLUMNS.get(name, ()))
        empty = pd.DataFrame({column: pd.Series(dtype=object) for column in every})
        empty.attrs[ABSENT] = True
        return empty
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"the {name!r} frame lacks column(s): {', '.join(missing)}")
    out = frame.loc[:, columns].reset_index(drop=True)
    for column in EXTRA_INPUT_COLUMNS.get(name, ()):
        out[column] = frame[column].to_numpy() if column in frame.columns else None
    return out


def finish(result: pd.DataFrame, repeats: pd.DataFrame) -> pd.DataFrame:
    """`RESULT_COLUMNS` then `EVIDENCE_COLUMNS` in plain Python values (None for missing), the
    repeats (`REPEAT_COLUMNS`) in `attrs["repeats"]`."""
    out = result.loc[:, [*RESULT_COLUMNS, *EVIDENCE_COLUMNS]].reset_index(drop=True)
    out["request_row"] = out["request_row"].astype(np.int64)
    out["estimated_fee"] = out["estimated_fee"].astype(np.float64)
    out["estimated_nipr_fee"] = out["estimated_nipr_fee"].astype(np.float64)
    out["auto_submit"] = out["auto_submit"].astype(bool)
    for column in (*RESULT_COLUMNS, *EVIDENCE_COLUMNS):
        money = ("estimated_fee", "estimated_nipr_fee")
        if column not in ("request_row", *money, "auto_submit", "effective_date"):
            out[column] = out[column].astype(object).where(out[column].notna(), None)
    repeats = repeats.loc[:, list(REPEAT_COLUMNS)].reset_index(drop=True)
    repeats["request_row"] = repeats["request_row"].astype(np.int64)
    repeats["repeats_request_row"] = repeats["repeats_request_row"].astype("Int64")
    out.attrs["repeats"] = repeats
    return out


def empty_repeats() -> pd.DataFrame:
    """No repeats: `REPEAT_COLUMNS`, no rows."""
    return pd.DataFrame({column: pd.Series(dtype=object) for column in REPEAT_COLUMNS})
