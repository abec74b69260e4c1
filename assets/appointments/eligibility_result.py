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

from assets.appointments.eligibility_evidence import SQL_EVIDENCE_COLUMNS, fill_evidence
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
       END AS batch_key
FROM priced
"""
    + _RESULT_ORDER
)
# The evidence of the same rows in the same order (the order is total: request_id, loa_code and
# license_number name a row), read apart with `fetchnumpy`: DuckDB's text columns come back as
# plain objects, where `.df()` would make pandas strings to convert again.
EVIDENCE_RESULT_SQL = (
    "SELECT "
    + ", ".join(SQL_EVIDENCE_COLUMNS)
    + "\nFROM evaluated WHERE NOT is_repeat\n"
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
    result: pd.DataFrame,
    repeats: pd.DataFrame,
    requests: pd.DataFrame,
    nipr_fees_by_kind: Mapping[str, float] | None = None,
    inputs: Mapping[str, pd.DataFrame] | None = None,
    engine_version: str = "",
    evidence: Mapping[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """`RESULT_COLUMNS` then `EVIDENCE_COLUMNS` in plain Python values, with `effective_date` passed through from the
    requests, NIPR's fee of each line (`assets.rules.nipr_fees`: the appointment fee of
    `nipr_fees_by_kind` on a line that will be sent, 0 otherwise) and the repeats
    (`REPEAT_COLUMNS`) in `attrs["repeats"]`; `EVIDENCE_COLUMNS` as `fill_evidence` gives them
    from `evidence` (`EVIDENCE_RESULT_SQL`'s columns, fetched as numpy arrays), the engine's
    `inputs` and its `engine_version`."""
    positions = result["request_id"].to_numpy(dtype=np.int64)
    if "effective_date" in requests.columns:
        effective = requests["effective_date"].iloc[positions]
        result["effective_date"] = effective.set_axis(result.index)
    else:
        result["effective_date"] = pd.Series(None, index=result.index, dtype=object)

    result["request_row"] = result["request_row"].astype(np.int64)
    result["estimated_fee"] = result["estimated_fee"].astype(np.float64)
    result["estimated_nipr_fee"] = nipr_fees(
        TRANSACTION_KIND, result["status"], nipr_fees_by_kind or {}
    )
    # Flags (is_resident, is_jit, auto_submit) and text alike: plain objects, None for NULL.
    for column in RESULT_COLUMNS:
        if column not in ("request_row", "estimated_fee", "estimated_nipr_fee", "effective_date"):
            result[column] = _as_objects(result[column])
    fill_evidence(result, evidence or {}, inputs or {}, TRANSACTION_KIND, engine_version)
    out = result.loc[:, [*RESULT_COLUMNS, *EVIDENCE_COLUMNS]].reset_index(drop=True)

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
