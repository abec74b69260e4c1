"""Appointment eligibility's result (SPEC 6.5 and 6.8): fees, batch keys and the frame returned.

Reads the `evaluated` table that `eligibility_checks.EVALUATE_SQL` leaves: `RESULT_SQL` prices
what is kept (SPEC 6.8's estimated fee; `finish` adds NIPR's own fee, `estimated_nipr_fee`)
and names each transaction's batch (SPEC 6.5),
`REPEATS_SQL` lists the eligible transactions left out as repeats (SPEC 6.6), and `finish`
gives the returned frames their columns and plain Python values. Separate from the checks
because nothing here decides eligibility: it prices, groups and presents what was decided.
Pure, no Dagster.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from assets.appointments.eligibility_evidence import (
    SQL_EVIDENCE_COLUMNS,
    evidence_columns,
    plain_values,
)
from assets.appointments.eligibility_vocabulary import (
    BATCH_AUTO,
    BATCH_REVIEW,
    REPEAT_COLUMNS,
    REPEAT_IN_REQUESTS,
    REPEAT_OF_OPEN_TRANSACTION,
    RESULT_COLUMNS,
    TRANSACTION_KIND,
)
from assets.rules.evidence import EVIDENCE_COLUMNS
from assets.rules.nipr_fees import nipr_fees
from schemas import statuses

_RESULT_ORDER = """
ORDER BY request_row, state_code, loa_code NULLS FIRST, license_number NULLS FIRST, cocode,
         loa_category, request_id
"""
RESULT_SQL = (
    """
WITH kept AS (SELECT * FROM evaluated WHERE NOT is_repeat),
-- SPEC 6.8: the fee the state will charge. Per appointment (per_loa false) it is carried by the
-- first line of (producer, state, company, license) in the result, so a batch total is right.
priced AS (
    SELECT k.*,
           CASE
               WHEN NOT k.is_eligible OR k.status = $recorded THEN 0.0
               WHEN k.per_loa OR row_number() OVER (
                        PARTITION BY k.is_eligible, k.npn, k.state_code, k.cocode,
                                     k.license_number
                        ORDER BY k.loa_code, k.request_row, k.request_id) = 1
                   THEN COALESCE(CASE WHEN k.is_resident THEN k.resident_fee
                                      ELSE k.nonresident_fee END, 0.0)
               ELSE 0.0
           END AS estimated_fee
    FROM kept k
)
SELECT request_id, request_row, npn, state_code, cocode, company_name, loa_category, loa_code,
       license_number, license_class_code, is_resident, agent_type, eligibility_reason, status,
       CASE WHEN is_rejected THEN NULL ELSE is_jit END AS is_jit,
       auto_submit,
       CAST(estimated_fee AS DOUBLE) AS estimated_fee,
       CASE WHEN NOT is_rejected
            THEN concat($transaction_kind, '/', cocode, '/',
                        CASE WHEN auto_submit THEN $batch_auto ELSE $batch_review END)
       END AS batch_key,
       -- the evidence (`eligibility_evidence`), read out with the rows it explains
"""
    + ",\n".join(f"       {column}" for column in SQL_EVIDENCE_COLUMNS)
    + "\nFROM priced\n"
    + _RESULT_ORDER
)
REPEATS_SQL = """
SELECT request_row, npn, state_code, cocode, loa_category, loa_code, license_number,
       repeats_transaction_id,
       CASE WHEN repeats_transaction_id IS NULL THEN first_request_row END AS repeats_request_row,
       CASE WHEN repeats_transaction_id IS NULL THEN $repeat_in_requests
            ELSE $repeat_of_open END AS reason
FROM evaluated
WHERE is_repeat
ORDER BY request_row, state_code, loa_code, license_number, request_id
"""


def result_parameters() -> dict[str, object]:
    """The values `RESULT_SQL` binds."""
    return {
        "transaction_kind": TRANSACTION_KIND,
        "batch_auto": BATCH_AUTO,
        "batch_review": BATCH_REVIEW,
        "recorded": statuses.RECORDED,
    }


def repeat_parameters() -> dict[str, object]:
    """The values `REPEATS_SQL` binds."""
    return {"repeat_in_requests": REPEAT_IN_REQUESTS, "repeat_of_open": REPEAT_OF_OPEN_TRANSACTION}


def finish(
    result: Mapping[str, np.ndarray],
    repeats: pd.DataFrame,
    requests: pd.DataFrame,
    nipr_fees_by_kind: Mapping[str, float] | None = None,
    inputs: Mapping[str, pd.DataFrame] | None = None,
    engine_version: str = "",
) -> pd.DataFrame:
    """`RESULT_COLUMNS` then `EVIDENCE_COLUMNS` in plain Python values, from `result`
    (`RESULT_SQL`'s columns as DuckDB's `fetchnumpy` gives them: masked where NULL), with
    `effective_date` passed through from the requests, NIPR's fee of each line
    (`assets.rules.nipr_fees`: the appointment fee of `nipr_fees_by_kind` on a line that will be
    sent, 0 otherwise) and the repeats (`REPEAT_COLUMNS`) in `attrs["repeats"]`;
    `EVIDENCE_COLUMNS` as `evidence_columns` gives them from the same rows, the engine's
    `inputs` and its `engine_version`. Built from arrays, column by column, so no value passes
    through pandas' own string or nullable types."""
    positions = np.ma.getdata(result["request_id"]).astype(np.int64)
    columns: dict[str, np.ndarray | pd.Series] = {}
    # Flags (is_resident, is_jit, auto_submit) and text alike: plain objects, None for NULL.
    for column in RESULT_COLUMNS:
        if column not in ("request_row", "estimated_fee", "estimated_nipr_fee", "effective_date"):
            columns[column] = plain_values(result[column])
    columns["request_row"] = np.ma.getdata(result["request_row"]).astype(np.int64)
    columns["estimated_fee"] = np.ma.getdata(result["estimated_fee"]).astype(np.float64)
    columns["estimated_nipr_fee"] = nipr_fees(
        TRANSACTION_KIND, pd.Series(columns["status"], dtype=object), nipr_fees_by_kind or {}
    )
    if "effective_date" in requests.columns:
        columns["effective_date"] = (
            requests["effective_date"].iloc[positions].reset_index(drop=True)
        )
    else:
        columns["effective_date"] = np.full(len(positions), None, dtype=object)
    columns.update(
        evidence_columns(columns, result, inputs or {}, TRANSACTION_KIND, engine_version)
    )
    # The other columns as objects (pandas infers no string type), then the numbers and the
    # passed-through date in their own types.
    typed = ("request_row", "estimated_fee", "estimated_nipr_fee", "effective_date")
    out = pd.DataFrame(
        {name: columns[name] for name in (*RESULT_COLUMNS, *EVIDENCE_COLUMNS) if name not in typed},
        index=pd.RangeIndex(len(positions)),
        dtype=object,
        copy=False,  # a block per column: consolidating them costs a copy of every pointer
    )
    for position, name in enumerate((*RESULT_COLUMNS, *EVIDENCE_COLUMNS)):
        if name in typed:
            out.insert(position, name, columns[name])

    repeats = repeats.loc[:, list(REPEAT_COLUMNS)].reset_index(drop=True)
    repeats["request_row"] = repeats["request_row"].astype(np.int64)
    repeats["repeats_request_row"] = repeats["repeats_request_row"].astype("Int64")
    for column in REPEAT_COLUMNS:
        if column not in ("request_row", "repeats_request_row"):
            repeats[column] = _as_objects(repeats[column])
    out.attrs["repeats"] = repeats
    return out


def _as_objects(values: pd.Series) -> pd.Series:
    """Plain Python objects, None where missing: a nullable flag without pandas' masked dtype,
    text without pandas' string dtype."""
    array = values.to_numpy(dtype=object, na_value=None)
    return pd.Series(array, index=values.index, dtype=object)
