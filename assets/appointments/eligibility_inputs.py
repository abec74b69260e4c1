"""Appointment eligibility's inputs (SPEC section 6): the frames it reads, checked and typed.

What the engine needs of each frame (`REQUEST_COLUMNS`, `INPUT_COLUMNS`), the pandas side that
checks and trims the frames before DuckDB sees them, and the first CTEs of the rules' SQL
(`TYPED_INPUTS_SQL`) that settle every column's type. Separate from the checks so that the
rules read values of one type and a reader of a rule need not read how a value is coerced.
Pure, no Dagster.

Types are settled here because frames arrive as read from the database or from files: keys
may be numbers, booleans 'true'/1/None, dates strings or timestamps. TRY_CAST makes an
unreadable value NULL, and every rule treats NULL as "not known to be true", so an unreadable
flag never makes a transaction (or a charge) appear.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from assets.appointments.eligibility_vocabulary import FILING_NIPR, not_filed_through_nipr_reason
from assets.rules.accepted_appointments import SOURCE_COLUMN as APPOINTMENT_SOURCE_COLUMN

REQUEST_COLUMNS = ("request_row", "npn", "state_code", "cocode")
# A request may leave these out; the defaults are the cautious ones (Producer, no auto-submit).
REQUEST_OPTIONAL_COLUMNS = (
    "loa_category",
    "agent_type",
    "submit",
    "submit_just_in_time",
    "line_of_authority",
)

INPUT_COLUMNS: dict[str, tuple[str, ...]] = {
    "producers": ("npn", "is_active", "sync_status"),
    "licenses": (
        "npn",
        "state_code",
        "license_number",
        "license_class_code",
        "is_resident",
        "is_active",
        "expiration_date",
    ),
    "license_loas": (
        "npn",
        "state_code",
        "license_number",
        "license_class_code",
        "loa_code",
        "is_active",
    ),
    "appointments": ("npn", "state_code", "cocode", "loa_code", "status"),
    "companies": ("cocode", "company_name", "producer_assignment_required"),
    "company_loa_categories": ("cocode", "loa_category"),
    "company_state_settings": ("cocode", "state_code", "jit"),
    "gateway_business_rules": (
        "cocode",
        "state_code",
        "license_class_code",
        "loa_code",
        "loa_category",
        "active",
    ),
    "producer_assignments": ("npn", "loa_category", "state_code", "cocode"),
    "loa_categories": ("state_code", "loa_code", "loa_category"),
    "state_fees": (
        "state_code",
        "transaction_kind",
        "resident_fee",
        "nonresident_fee",
        "per_loa",
    ),
    "lines_of_authority": ("state_code", "loa_code", "loa_name"),
    "transactions": (
        "transaction_id",
        "npn",
        "state_code",
        "cocode",
        "loa_code",
        "status",
    ),
}
OPTIONAL_INPUTS = ("lines_of_authority", "transactions")
# Columns a frame may lack, read as NULL. license_loas without its class (a caller from before
# the class joined the table's key, ADR 0023): its lines match every class of their number.
OPTIONAL_INPUT_COLUMNS: dict[str, tuple[str, ...]] = {"license_loas": ("license_class_code",)}
# Columns only the evidence reads (issue 19), never a rule, and a frame may lack (None): issue
# dates, an appointment's effective date and whether NIPR accepted it since the sync
# (`with_accepted_appointments` adds that column). DuckDB never scans them: a frame with any
# gets `INPUT_ROW`, its row's position, which the rules carry to the result's rows, and
# `eligibility_evidence` picks these columns of those rows only (converting 2.7M dates to read
# 40,000 would cost more than the rules). The store reads them with the rules' columns.
EVIDENCE_INPUT_COLUMNS: dict[str, tuple[str, ...]] = {
    "licenses": ("issue_date",),
    "license_loas": ("issue_date",),
    "appointments": ("effective_date", APPOINTMENT_SOURCE_COLUMN),
    "transactions": ("effective_date",),
}
INPUT_ROW = "input_row"
# Read in pandas, not by the SQL: the effective-date limits of check 10. Absent: no state rule.
STATE_RULES_INPUT = "state_appointment_rules"
# Read in pandas, for the evidence only: when NIPR's data of a producer and state was current
# (npn, state_code, category, data_as_of). Absent: not known.
SCOPE_REPORTS_INPUT = "nipr_scope_reports"


# The first CTEs of the rules' WITH list (`eligibility_checks.EVALUATE_SQL` continues it): the
# frames registered as `<name>_in`, typed, and the big ones cut down to the requested NPNs.
TYPED_INPUTS_SQL = """
request_typed AS (
    SELECT
        request_id,
        CAST(request_row AS BIGINT) AS request_row,
        CAST(npn AS VARCHAR) AS npn,
        CAST(state_code AS VARCHAR) AS state_code,
        CAST(cocode AS VARCHAR) AS cocode,
        NULLIF(TRIM(CAST(loa_category AS VARCHAR)), '') AS requested_category,
        NULLIF(TRIM(CAST(line_of_authority AS VARCHAR)), '') AS line_of_authority,
        CASE WHEN lower(TRIM(CAST(agent_type AS VARCHAR))) = lower($agency)
             THEN $agency ELSE $producer END AS agent_type,
        COALESCE(TRY_CAST(submit AS BOOLEAN), false) AS submit,
        COALESCE(TRY_CAST(submit_just_in_time AS BOOLEAN), false) AS submit_just_in_time,
        -- check 10's reason, read in pandas (`assets.rules.effective_dates`): NULL = accepted
        CAST(date_reason AS VARCHAR) AS date_reason,
        -- which row check 10's reason comes from (the state rule, or the request's own date)
        CAST(date_decided_by AS VARCHAR) AS date_decided_by,
        -- not NULL in a state whose appointments are not filed through NIPR (read in pandas)
        CAST(filing_reason AS VARCHAR) AS filing_reason
    FROM requests_in
),
requested_npn AS (SELECT DISTINCT npn FROM request_typed),
-- The big tables, cut down to the requested producers before anything else reads them.
producer_typed AS (
    SELECT CAST(npn AS VARCHAR) AS npn,
           TRY_CAST(is_active AS BOOLEAN) AS is_active,
           CAST(sync_status AS VARCHAR) AS sync_status
    FROM producers_in
    WHERE CAST(npn AS VARCHAR) IN (SELECT npn FROM requested_npn)
),
license_typed AS (
    SELECT CAST(npn AS VARCHAR) AS npn,
           CAST(state_code AS VARCHAR) AS state_code,
           CAST(license_number AS VARCHAR) AS license_number,
           CAST(license_class_code AS VARCHAR) AS license_class_code,
           TRY_CAST(is_resident AS BOOLEAN) AS is_resident,
           TRY_CAST(is_active AS BOOLEAN) AS is_active,
           TRY_CAST(expiration_date AS DATE) AS expiration_date,
           input_row  -- the evidence's pointer to the row
    FROM licenses_in
    WHERE CAST(npn AS VARCHAR) IN (SELECT npn FROM requested_npn)
),
assignment_typed AS (
    SELECT DISTINCT CAST(npn AS VARCHAR) AS npn,
           CAST(state_code AS VARCHAR) AS state_code,
           CAST(loa_category AS VARCHAR) AS loa_category,
           CAST(cocode AS VARCHAR) AS cocode
    FROM producer_assignments_in
    WHERE CAST(npn AS VARCHAR) IN (SELECT npn FROM requested_npn)
),
-- Small configuration tables; grouped on their keys so a duplicated row cannot duplicate
-- transactions.
company_typed AS (
    SELECT CAST(cocode AS VARCHAR) AS cocode,
           min(CAST(company_name AS VARCHAR)) AS company_name,
           bool_or(COALESCE(TRY_CAST(producer_assignment_required AS BOOLEAN), false))
               AS producer_assignment_required
    FROM companies_in GROUP BY 1
),
company_category AS (
    SELECT DISTINCT CAST(cocode AS VARCHAR) AS cocode, CAST(loa_category AS VARCHAR) AS loa_category
    FROM company_loa_categories_in
),
company_state AS (
    SELECT CAST(cocode AS VARCHAR) AS cocode, CAST(state_code AS VARCHAR) AS state_code,
           bool_or(COALESCE(TRY_CAST(jit AS BOOLEAN), false)) AS is_jit
    FROM company_state_settings_in GROUP BY 1, 2
),
business_rule AS (
    SELECT DISTINCT CAST(cocode AS VARCHAR) AS cocode,
           CAST(state_code AS VARCHAR) AS state_code,
           NULLIF(TRIM(CAST(license_class_code AS VARCHAR)), '') AS license_class_code,
           CAST(loa_code AS VARCHAR) AS loa_code,
           CAST(loa_category AS VARCHAR) AS loa_category
    FROM gateway_business_rules_in
    WHERE TRY_CAST(active AS BOOLEAN)
),
category_of_line AS (
    SELECT DISTINCT CAST(state_code AS VARCHAR) AS state_code,
           CAST(loa_code AS VARCHAR) AS loa_code,
           CAST(loa_category AS VARCHAR) AS loa_category
    FROM loa_categories_in
),
appointment_fee AS (
    SELECT CAST(state_code AS VARCHAR) AS state_code,
           max(TRY_CAST(resident_fee AS DOUBLE)) AS resident_fee,
           max(TRY_CAST(nonresident_fee AS DOUBLE)) AS nonresident_fee,
           bool_or(COALESCE(TRY_CAST(per_loa AS BOOLEAN), false)) AS per_loa
    FROM state_fees_in
    WHERE CAST(transaction_kind AS VARCHAR) = $transaction_kind
    GROUP BY 1
),
open_transaction AS (
    SELECT CAST(npn AS VARCHAR) AS npn, CAST(state_code AS VARCHAR) AS state_code,
           CAST(cocode AS VARCHAR) AS cocode, CAST(loa_code AS VARCHAR) AS loa_code,
           min(CAST(transaction_id AS VARCHAR)) AS transaction_id
    FROM transactions_in
    WHERE list_contains($open_statuses, CAST(status AS VARCHAR))
      AND CAST(npn AS VARCHAR) IN (SELECT npn FROM requested_npn)
    GROUP BY 1, 2, 3, 4
)
"""


def filing_reasons(state_codes: pd.Series, rules: pd.DataFrame | None) -> np.ndarray:
    """Per request row, the reason of an eligible line recorded without NIPR filing, or None
    when its state files appointments through NIPR (or is unknown, or no rules are given).

    `rules` has `state_code` and `appointment_filing` (state_appointment_rules.csv); a state
    whose filing is not `nipr` (IL: `registry`) gets `not_filed_through_nipr_reason`.
    """
    reasons = np.full(len(state_codes), None, dtype=object)
    if rules is None or rules.empty or "appointment_filing" not in rules.columns:
        return reasons
    filing_of = {
        str(state).strip().upper(): str(filing).strip().lower()
        for state, filing in zip(rules["state_code"], rules["appointment_filing"], strict=True)
        if isinstance(state, str) and isinstance(filing, str) and filing.strip()
    }
    for row, state in enumerate(state_codes):
        filing = filing_of.get(str(state).strip().upper()) if isinstance(state, str) else None
        if filing is not None and filing != FILING_NIPR:
            reasons[row] = not_filed_through_nipr_reason(filing)
    return reasons


def request_frame(
    requests: pd.DataFrame,
    date_reasons: np.ndarray,
    not_filed_reasons: np.ndarray | None = None,
    date_deciders: np.ndarray | None = None,
) -> pd.DataFrame:
    """The request columns the rules read (optional ones as NULL), a `request_id`,
    `date_reason`, check 10's reason per request row (None: the date is accepted),
    `filing_reason`, the reason of an eligible line its state records without NIPR filing, and
    `date_decided_by`, the evidence's name of the row a `date_reason` comes from."""
    missing = [column for column in REQUEST_COLUMNS if column not in requests.columns]
    if missing:
        raise ValueError(f"appointment requests lack column(s): {', '.join(missing)}")
    frame = requests.loc[:, [*REQUEST_COLUMNS]].copy()
    for column in REQUEST_OPTIONAL_COLUMNS:
        if column in requests.columns:
            frame[column] = requests[column].to_numpy()
        else:
            frame[column] = pd.Series(None, index=frame.index, dtype=object)
    # Positions, so the pass-through columns come back by position and repeated request rows
    # stay distinct requests.
    frame["request_id"] = np.arange(len(frame), dtype=np.int64)
    frame["date_reason"] = pd.Series(date_reasons, index=frame.index, dtype=object)
    if not_filed_reasons is None:
        not_filed_reasons = np.full(len(frame), None, dtype=object)
    frame["filing_reason"] = pd.Series(not_filed_reasons, index=frame.index, dtype=object)
    if date_deciders is None:
        date_deciders = np.full(len(frame), None, dtype=object)
    frame["date_decided_by"] = pd.Series(date_deciders, index=frame.index, dtype=object)
    return frame.reset_index(drop=True)


def input_frame(inputs: Mapping[str, pd.DataFrame], name: str) -> pd.DataFrame:
    """The columns the rules read of one input frame, and `INPUT_ROW` for a frame the evidence
    reads (`EVIDENCE_INPUT_COLUMNS`); an absent optional frame as empty."""
    frame = _rule_columns(inputs, name)
    if name in EVIDENCE_INPUT_COLUMNS:
        frame[INPUT_ROW] = np.arange(len(frame), dtype=np.int64)
    return frame


def _rule_columns(inputs: Mapping[str, pd.DataFrame], name: str) -> pd.DataFrame:
    """The columns the rules read of one input frame (a copy); an absent optional frame as
    empty."""
    columns = list(INPUT_COLUMNS[name])
    frame = inputs.get(name)
    if frame is None:
        if name not in OPTIONAL_INPUTS:
            raise ValueError(f"eligibility needs the {name!r} frame")
        # Typed text columns: DuckDB would type an empty object column as NULL.
        return pd.DataFrame({column: pd.Series(dtype="str") for column in columns})
    optional = OPTIONAL_INPUT_COLUMNS.get(name, ())
    missing = [c for c in columns if c not in frame.columns and c not in optional]
    if missing:
        raise ValueError(f"the {name!r} frame lacks column(s): {', '.join(missing)}")
    absent = [column for column in optional if column not in frame.columns]
    if not absent:
        return frame.loc[:, columns]
    # A typed text column: DuckDB would type a column of only None as NULL.
    present = [column for column in columns if column not in absent]
    return frame.loc[:, present].assign(
        **{column: pd.Series(None, index=frame.index, dtype="str") for column in absent}
    )[columns]
