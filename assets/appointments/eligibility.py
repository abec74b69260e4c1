"""Appointment eligibility (SPEC section 6): which appointment requests become transactions. Pure.

No Dagster, no database: `evaluate_appointment_requests` takes the request rows of an
`appoint` upload (`ValidatedUpload.exploded()`, one row per request and state) and the SPEC
section 3 tables as DataFrames, and returns one row per transaction and per rejected request.
docs/eligibility.md describes every rule, reason and status, and the choices made where the
SPEC leaves room.

The rules run as SQL in an in-memory DuckDB connection: at the SPEC 12 scale (100,000 requests
against 1,000,000 licenses) plain pandas merges are three times slower, and SQL keeps each
SPEC step readable as one CTE. Values never go into the SQL text: reasons, statuses and the
as-of date are bound parameters.

This module runs the engine; the parts live beside it, by what they do:
- `eligibility_vocabulary`: statuses, reasons and the result's columns;
- `eligibility_inputs`: the frames read, checked, and typed (the first CTEs);
- `eligibility_checks`: SPEC 6.1 to 6.6 as one CTE per step;
- `eligibility_result`: fees, batch keys and the frames returned.
Their public names are re-exported here, the import path the SPEC gives.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Mapping

import duckdb
import pandas as pd

from assets.appointments import (
    eligibility_checks,
    eligibility_evidence,
    eligibility_inputs,
    eligibility_result,
    eligibility_vocabulary,
)
from assets.appointments.eligibility_checks import EVALUATE_SQL, parameters
from assets.appointments.eligibility_evidence import date_deciders, register_evidence_frames
from assets.appointments.eligibility_inputs import (
    INPUT_COLUMNS,
    OPTIONAL_INPUTS,
    REQUEST_COLUMNS,
    REQUEST_OPTIONAL_COLUMNS,
    STATE_RULES_INPUT,
    filing_reasons,
    input_frame,
    request_frame,
)
from assets.appointments.eligibility_result import (
    REPEATS_SQL,
    RESULT_SQL,
    finish,
    repeat_parameters,
    result_parameters,
)
from assets.appointments.eligibility_vocabulary import (
    AGENT_TYPE_AGENCY,
    AGENT_TYPE_PRODUCER,
    APPOINTMENT_APPOINTED,
    BATCH_AUTO,
    BATCH_REVIEW,
    ELIGIBLE_STATUSES,
    FINAL_STATUSES,
    OPEN_STATUSES,
    REASON_ALREADY_APPOINTED,
    REASON_COCODE_NOT_FOUND,
    REASON_COMPANY_LOAS,
    REASON_IN_GOOD_ORDER,
    REASON_IN_GOOD_STANDING,
    REASON_LICENSE_NOT_ACTIVE,
    REASON_LICENSE_NOT_FOUND,
    REASON_NO_ACTIVE_RESIDENT_LICENSE,
    REASON_NOT_IN_STATE_MIDDLE,
    REASON_OUTSIDE_ASSIGNMENT,
    REASON_PRODUCER_INACTIVE,
    REASON_PRODUCER_NOT_FOUND,
    REASON_PRODUCER_NOT_SYNCED,
    REASON_REGISTRY_RECORDED,
    REJECTION_REASONS,
    REPEAT_COLUMNS,
    REPEAT_IN_REQUESTS,
    REPEAT_OF_OPEN_TRANSACTION,
    RESULT_COLUMNS,
    SYNC_STATUS_NOT_FOUND,
    TRANSACTION_KIND,
    batch_key,
    company_not_in_state_reason,
)
from assets.rules import effective_dates, line_standing
from assets.rules.effective_dates import (
    appointment_date_reasons,
    backdate_reason,
    date_not_specifiable_reason,
    future_date_reason,
    unreadable_date_reason,
)
from assets.rules.evidence import EVIDENCE_COLUMNS, engine_version
from assets.rules.nipr_fees import NIPR_FEES_INPUT, nipr_fee_table
from schemas.statuses import (
    ACCEPTED,
    CANCELLED,
    ERROR,
    HELD_JIT,
    NOT_ELIGIBLE,
    PENDING_STATE_REVIEW,
    READY_TO_SUBMIT,
    REJECTED,
    REQUEST_REJECTED,
    SUBMITTED,
)

__all__ = [
    "AGENT_TYPE_AGENCY",
    "AGENT_TYPE_PRODUCER",
    "APPOINTMENT_APPOINTED",
    "BATCH_AUTO",
    "BATCH_REVIEW",
    "DEFAULT_THREADS",
    "ELIGIBLE_STATUSES",
    "ENGINE_VERSION",
    "EVIDENCE_COLUMNS",
    "FINAL_STATUSES",
    "INPUT_COLUMNS",
    "NIPR_FEES_INPUT",
    "OPEN_STATUSES",
    "OPTIONAL_INPUTS",
    "REASON_ALREADY_APPOINTED",
    "REASON_COCODE_NOT_FOUND",
    "REASON_COMPANY_LOAS",
    "REASON_IN_GOOD_ORDER",
    "REASON_IN_GOOD_STANDING",
    "REASON_LICENSE_NOT_ACTIVE",
    "REASON_LICENSE_NOT_FOUND",
    "REASON_REGISTRY_RECORDED",
    "REASON_NOT_IN_STATE_MIDDLE",
    "REASON_NO_ACTIVE_RESIDENT_LICENSE",
    "REASON_OUTSIDE_ASSIGNMENT",
    "REASON_PRODUCER_INACTIVE",
    "REASON_PRODUCER_NOT_FOUND",
    "REASON_PRODUCER_NOT_SYNCED",
    "REJECTION_REASONS",
    "REPEAT_COLUMNS",
    "REPEAT_IN_REQUESTS",
    "REPEAT_OF_OPEN_TRANSACTION",
    "REQUEST_COLUMNS",
    "REQUEST_OPTIONAL_COLUMNS",
    "RESULT_COLUMNS",
    "ACCEPTED",
    "CANCELLED",
    "ERROR",
    "HELD_JIT",
    "NOT_ELIGIBLE",
    "PENDING_STATE_REVIEW",
    "READY_TO_SUBMIT",
    "REJECTED",
    "REQUEST_REJECTED",
    "SUBMITTED",
    "SYNC_STATUS_NOT_FOUND",
    "TRANSACTION_KIND",
    "STATE_RULES_INPUT",
    "backdate_reason",
    "batch_key",
    "company_not_in_state_reason",
    "date_not_specifiable_reason",
    "evaluate_appointment_requests",
    "future_date_reason",
    "unreadable_date_reason",
]

DEFAULT_THREADS = 2  # SPEC 12 sizes the target for 2 cores; more threads buy little here
# DuckDB's own memory. Without a limit it may keep up to 80% of the machine's RAM in its buffer
# pool and holds on to what a statement used; capped, it gives memory back as it goes (the
# 100,000-row appoint file's engine peak: 932 -> 712 MB, bench/e2e_appoint_file.py, issue 17)
# and, should a larger file need more, spills to a temporary folder of its own, not the
# working directory, rather than fail.
DUCKDB_MEMORY_LIMIT = "512MB"
# The evidence's `engine_version`: a digest of the modules whose text decides an outcome.
ENGINE_VERSION = engine_version(
    "appointment",
    eligibility_vocabulary,
    eligibility_inputs,
    eligibility_checks,
    eligibility_evidence,
    eligibility_result,
    line_standing,
    effective_dates,
)


def evaluate_appointment_requests(
    requests: pd.DataFrame,
    inputs: Mapping[str, pd.DataFrame],
    as_of: dt.date | None = None,
    *,
    threads: int = DEFAULT_THREADS,
) -> pd.DataFrame:
    """One row per appointment transaction and per rejected request (SPEC section 6).

    `requests`: request_row, npn, state_code, cocode, loa_category, agent_type, submit,
    submit_just_in_time; optional effective_date (checked against the state's limits, check
    10, and passed through), line_of_authority (used when loa_category is blank). `inputs`:
    the SPEC section 3 frames named in `INPUT_COLUMNS`; `lines_of_authority` and
    `transactions` (the open ones are not repeated) may be left out; `state_appointment_rules`
    (the columns of config/reference/state_appointment_rules.csv) gives the effective-date
    limits, and without it no state limit applies; `nipr_transaction_fees` (transaction_kind,
    nipr_fee) gives NIPR's own fee of a line that will be sent (`estimated_nipr_fee`), and
    without it that fee is 0. Extra columns are ignored.

    The result has `RESULT_COLUMNS` then the evidence's `EVIDENCE_COLUMNS`
    (`assets/rules/evidence.py`, `eligibility_evidence`: the rows that decided each row; an
    optional `nipr_scope_reports` frame gives NIPR's data_as_of), sorted by request_row, state_code, loa_code,
    license_number. Eligible transactions left out as repeats are in
    `result.attrs["repeats"]` (`REPEAT_COLUMNS`).
    """
    # A caller of the pure engine gets the machine's date; every pipeline step passes NIPR's
    # business day (assets/rules/business_day.py).
    as_of_date = dt.date.today() if as_of is None else pd.Timestamp(as_of).date()
    effective_dates = (
        requests["effective_date"] if "effective_date" in requests.columns else _blank(requests)
    )
    date_reasons = appointment_date_reasons(
        effective_dates,
        requests["state_code"] if "state_code" in requests.columns else _blank(requests),
        inputs.get(STATE_RULES_INPUT),
        as_of_date,
    )
    states = requests["state_code"] if "state_code" in requests.columns else _blank(requests)
    requests_in = request_frame(
        requests,
        date_reasons,
        filing_reasons(states, inputs.get(STATE_RULES_INPUT)),
        date_deciders(effective_dates, date_reasons),
    )
    frames = {name: input_frame(inputs, name) for name in INPUT_COLUMNS}

    spill = tempfile.TemporaryDirectory(prefix="npnflow-eligibility-")
    connection = duckdb.connect(
        ":memory:",
        config={
            "threads": max(1, int(threads)),
            "memory_limit": DUCKDB_MEMORY_LIMIT,
            "temp_directory": spill.name,
        },
    )
    try:
        connection.register("requests_in", requests_in)
        for name, frame in frames.items():
            connection.register(f"{name}_in", frame)
        register_evidence_frames(connection, inputs)
        connection.execute(EVALUATE_SQL, parameters(as_of_date))
        # fetchnumpy: text comes back as plain objects, where `.df()` would make pandas
        # strings that `finish` converts again.
        result = connection.execute(RESULT_SQL, result_parameters()).fetchnumpy()
        repeats = connection.execute(REPEATS_SQL, repeat_parameters()).df()
    finally:
        connection.close()
        spill.cleanup()

    return finish(
        result,
        repeats,
        requests,
        nipr_fee_table(inputs.get(NIPR_FEES_INPUT)),
        inputs,
        ENGINE_VERSION,
    )


def _blank(requests: pd.DataFrame) -> pd.Series:
    """A column of None per request row, for a column the requests leave out."""
    return pd.Series(None, index=requests.index, dtype=object)
