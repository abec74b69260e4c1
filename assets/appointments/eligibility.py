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
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import duckdb
import numpy as np
import pandas as pd

from assets.nipr.roster import NOT_FOUND, SYNCED_STATUSES
from schemas import statuses

# --------------------------------------------------------------------------------------------
# Vocabulary (other modules import these rather than retyping the strings)
# --------------------------------------------------------------------------------------------

# Status spellings live in `statuses`; these names are the engine's view of them.
STATUS_READY = statuses.READY_TO_SUBMIT
STATUS_HELD_JIT = statuses.HELD_JIT
STATUS_NOT_ELIGIBLE = statuses.NOT_ELIGIBLE
STATUS_REQUEST_REJECTED = statuses.REQUEST_REJECTED
STATUS_SUBMITTED = statuses.SUBMITTED
STATUS_PENDING_STATE_REVIEW = statuses.PENDING_STATE_REVIEW
STATUS_ACCEPTED = statuses.ACCEPTED
STATUS_REJECTED = statuses.REJECTED
STATUS_ERROR = statuses.ERROR
STATUS_CANCELLED = statuses.CANCELLED

ELIGIBLE_STATUSES = (STATUS_READY, STATUS_HELD_JIT)
# The shared status groups, as sorted tuples (stable SQL parameters and test ids).
OPEN_STATUSES = tuple(sorted(statuses.OPEN_TRANSACTION_STATUSES))
FINAL_STATUSES = tuple(sorted(statuses.FINAL_TRANSACTION_STATUSES))

REASON_PRODUCER_NOT_FOUND = "Producer Not Found"
REASON_PRODUCER_NOT_SYNCED = "Producer Not Synced"
REASON_PRODUCER_INACTIVE = "Producer Inactive"
REASON_COCODE_NOT_FOUND = "CoCode Not Found"
# "<company_name> does not appoint in the requested State: <state_code>"
REASON_NOT_IN_STATE_MIDDLE = " does not appoint in the requested State: "
REASON_COMPANY_LOAS = "Company Does Not Appoint for requested loas"
REASON_OUTSIDE_ASSIGNMENT = "Outside Producer Assignment"
REASON_LICENSE_NOT_FOUND = "Required License Not Found"
REASON_LICENSE_NOT_ACTIVE = "Required License Not Active"
REASON_NO_ACTIVE_RESIDENT_LICENSE = "No Active Resident License"
REASON_ALREADY_APPOINTED = "Already Appointed"
REASON_IN_GOOD_ORDER = "In Good Order"
REASON_IN_GOOD_STANDING = "In Good Standing"

REJECTION_REASONS = (
    REASON_PRODUCER_NOT_FOUND,
    REASON_PRODUCER_NOT_SYNCED,
    REASON_PRODUCER_INACTIVE,
)

# Why an eligible transaction was left out (result.attrs["repeats"]).
REPEAT_OF_OPEN_TRANSACTION = "Repeats an open transaction for the same line"
REPEAT_IN_REQUESTS = "Repeats an earlier request row for the same line and license"

SYNC_STATUS_NOT_FOUND = NOT_FOUND  # NIPR does not know the NPN (the sync's own status)
APPOINTMENT_APPOINTED = "Appointed"
AGENT_TYPE_PRODUCER = "Producer"
AGENT_TYPE_AGENCY = "Agency"
TRANSACTION_KIND = "appointment"
BATCH_AUTO = "auto"
BATCH_REVIEW = "review"

RESULT_COLUMNS = (
    "request_row",
    "npn",
    "state_code",
    "cocode",
    "company_name",
    "loa_category",
    "loa_code",
    "license_number",
    "license_class_code",
    "is_resident",
    "agent_type",
    "eligibility_reason",
    "status",
    "is_jit",
    "auto_submit",
    "estimated_fee",
    "batch_key",
    "effective_date",
)
REPEAT_COLUMNS = (
    "request_row",
    "npn",
    "state_code",
    "cocode",
    "loa_category",
    "loa_code",
    "license_number",
    "repeats_transaction_id",
    "repeats_request_row",
    "reason",
)


def company_not_in_state_reason(company_name: str, state_code: str) -> str:
    return f"{company_name}{REASON_NOT_IN_STATE_MIDDLE}{state_code}"


def batch_key(cocode: str, auto_submit: bool) -> str:
    """The batch a transaction goes to within its upload (the caller prefixes the upload)."""
    return f"{TRANSACTION_KIND}/{cocode}/{BATCH_AUTO if auto_submit else BATCH_REVIEW}"


# --------------------------------------------------------------------------------------------
# Inputs: the columns the rules read, per frame
# --------------------------------------------------------------------------------------------

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
    "license_loas": ("npn", "state_code", "license_number", "loa_code", "is_active"),
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
    "state_fees": ("state_code", "transaction_kind", "resident_fee", "nonresident_fee", "per_loa"),
    "lines_of_authority": ("state_code", "loa_code", "loa_name"),
    "transactions": ("transaction_id", "npn", "state_code", "cocode", "loa_code", "status"),
}
OPTIONAL_INPUTS = ("lines_of_authority", "transactions")

DEFAULT_THREADS = 2  # SPEC 12 sizes the target for 2 cores; more threads buy little here

# --------------------------------------------------------------------------------------------
# The rules. One CTE per SPEC section 6 step; "check N" is SPEC 6.3's numbered list.
#
# Types are settled at the top (the *_typed CTEs), because frames arrive as read from the
# database or from files: keys may be numbers, booleans 'true'/1/None, dates strings or
# timestamps. TRY_CAST makes an unreadable value NULL, and every rule treats NULL as "not
# known to be true", so an unreadable flag never makes a transaction (or a charge) appear.
# --------------------------------------------------------------------------------------------

_EVALUATE_SQL = """
CREATE TEMP TABLE evaluated AS
WITH
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
        COALESCE(TRY_CAST(submit_just_in_time AS BOOLEAN), false) AS submit_just_in_time
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
           TRY_CAST(expiration_date AS DATE) AS expiration_date
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
),

-- A request naming a line of authority instead of a category: the line's category, when the
-- line (by NIPR code or name, any case) maps to exactly one; otherwise it stays NULL and the
-- request fails check 3.
named_line AS (
    SELECT r.request_id, r.state_code, CAST(la.loa_code AS VARCHAR) AS loa_code
    FROM request_typed r
    JOIN lines_of_authority_in la
      ON CAST(la.state_code AS VARCHAR) = r.state_code
     AND (lower(CAST(la.loa_code AS VARCHAR)) = lower(r.line_of_authority)
          OR lower(TRIM(CAST(la.loa_name AS VARCHAR))) = lower(r.line_of_authority))
    WHERE r.requested_category IS NULL
    UNION
    SELECT r.request_id, r.state_code, r.line_of_authority
    FROM request_typed r
    WHERE r.requested_category IS NULL AND r.line_of_authority IS NOT NULL
),
named_line_category AS (
    SELECT n.request_id,
           CASE WHEN count(DISTINCT c.loa_category) = 1 THEN min(c.loa_category) END
               AS loa_category
    FROM named_line n
    JOIN category_of_line c ON c.state_code = n.state_code AND c.loa_code = n.loa_code
    GROUP BY 1
),
request AS (
    SELECT r.*, COALESCE(r.requested_category, n.loa_category) AS loa_category
    FROM request_typed r LEFT JOIN named_line_category n USING (request_id)
),

-- SPEC 6.1: producer checks. A failing request gets one row and no transaction.
producer_checked AS (
    SELECT r.*,
           CASE
               WHEN p.npn IS NULL OR p.sync_status = $sync_not_found THEN $producer_not_found
               WHEN p.sync_status IS NULL OR NOT list_contains($synced_statuses, p.sync_status)
                   THEN $producer_not_synced
               WHEN p.is_active IS NOT TRUE THEN $producer_inactive
           END AS rejection_reason
    FROM request r LEFT JOIN producer_typed p USING (npn)
),

-- SPEC 6.3 checks 1-4 depend on the request, not on the line: evaluated once per request.
company_checked AS (
    SELECT r.request_id, r.npn, r.state_code, r.cocode, r.loa_category,
           c.company_name, s.is_jit,
           CASE
               -- check 1
               WHEN c.cocode IS NULL THEN $cocode_not_found
               -- check 2
               WHEN s.cocode IS NULL
                   THEN COALESCE(c.company_name, c.cocode) || $not_in_state || r.state_code
               -- check 3 (also: a line of authority that names no single category)
               WHEN r.loa_category IS NULL OR cc.cocode IS NULL THEN $company_loas
           END AS company_reason,
           -- check 4: only an assignment naming this very company covers it (a License
           -- scorecard's cocode '' names none)
           COALESCE(c.producer_assignment_required AND a.npn IS NULL, false) AS outside_assignment
    FROM producer_checked r
    LEFT JOIN company_typed c ON c.cocode = r.cocode
    LEFT JOIN company_state s ON s.cocode = r.cocode AND s.state_code = r.state_code
    LEFT JOIN company_category cc ON cc.cocode = r.cocode AND cc.loa_category = r.loa_category
    LEFT JOIN assignment_typed a
      ON a.npn = r.npn AND a.state_code = r.state_code
     AND a.loa_category = r.loa_category AND a.cocode = r.cocode
    WHERE r.rejection_reason IS NULL
),

-- SPEC 6.2: the active business-rule lines of the category for (company, state). A line is in
-- the category by its own loa_category or by the (many-to-many) loa_categories mapping.
requested_line AS (
    SELECT DISTINCT c.request_id, g.loa_code, g.license_class_code
    FROM company_checked c
    JOIN business_rule g ON g.cocode = c.cocode AND g.state_code = c.state_code
    WHERE c.company_reason IS NULL
      AND (g.loa_category = c.loa_category
           OR EXISTS (SELECT 1 FROM category_of_line m
                      WHERE m.state_code = g.state_code AND m.loa_code = g.loa_code
                        AND m.loa_category = c.loa_category))
),
line AS (SELECT DISTINCT request_id, loa_code FROM requested_line),

-- Check 5: the producer's licenses in the state, of the rule's license class where it names
-- one. A license matching several rules of one line is one candidate.
line_license AS (
    SELECT DISTINCT l.request_id, l.loa_code, c.npn, c.state_code, c.cocode,
           lic.license_number, lic.license_class_code, lic.is_resident, lic.is_active,
           lic.expiration_date
    FROM requested_line l
    JOIN company_checked c USING (request_id)
    JOIN license_typed lic
      ON lic.npn = c.npn AND lic.state_code = c.state_code
     AND (l.license_class_code IS NULL OR lic.license_class_code = l.license_class_code)
    WHERE NOT c.outside_assignment
),
-- Check 8's look-up: the candidate (line, license) pairs whose license holds the line, active.
-- Joined from the candidates, so the 2.7M-row license_loas is only probed, never grouped.
licensed_line AS (
    SELECT DISTINCT ll.request_id, ll.loa_code, ll.license_number
    FROM line_license ll
    JOIN license_loas_in lo
      ON CAST(lo.npn AS VARCHAR) = ll.npn
     AND CAST(lo.state_code AS VARCHAR) = ll.state_code
     AND CAST(lo.license_number AS VARCHAR) = ll.license_number
     AND CAST(lo.loa_code AS VARCHAR) = ll.loa_code
    WHERE TRY_CAST(lo.is_active AS BOOLEAN)
),
-- Check 9's look-up, likewise.
appointed_line AS (
    SELECT DISTINCT ll.npn, ll.state_code, ll.cocode, ll.loa_code
    FROM line_license ll
    JOIN appointments_in ap
      ON CAST(ap.npn AS VARCHAR) = ll.npn
     AND CAST(ap.state_code AS VARCHAR) = ll.state_code
     AND CAST(ap.cocode AS VARCHAR) = ll.cocode
     AND CAST(ap.loa_code AS VARCHAR) = ll.loa_code
    WHERE CAST(ap.status AS VARCHAR) = $appointed
),
active_resident AS (
    SELECT DISTINCT npn FROM license_typed
    WHERE is_resident AND is_active AND (expiration_date IS NULL OR expiration_date >= $as_of)
),
-- Checks 6-9 per candidate license: `passed` is the number of the first failing check
-- (10 = all passed), so the license that got furthest has the highest number.
license_checked AS (
    SELECT ll.*,
           CASE
               -- check 6: inactive, or expired before the as-of date
               WHEN ll.is_active IS NOT TRUE
                    OR ll.expiration_date < $as_of THEN 6
               -- check 7: a non-resident license needs an active resident license somewhere
               WHEN ll.is_resident IS NOT TRUE AND ar.npn IS NULL THEN 7
               -- check 8: the license must hold the line, active
               WHEN lo.request_id IS NULL THEN 8
               -- check 9
               WHEN ap.npn IS NULL THEN 10
               ELSE 9
           END AS passed
    FROM line_license ll
    LEFT JOIN active_resident ar ON ar.npn = ll.npn
    LEFT JOIN licensed_line lo
      ON lo.request_id = ll.request_id AND lo.loa_code = ll.loa_code
     AND lo.license_number = ll.license_number
    LEFT JOIN appointed_line ap
      ON ap.npn = ll.npn AND ap.state_code = ll.state_code
     AND ap.cocode = ll.cocode AND ap.loa_code = ll.loa_code
),
-- One outcome per (line, license number): its best class row.
license_outcome AS (
    SELECT * FROM license_checked
    QUALIFY row_number() OVER (
        PARTITION BY request_id, loa_code, license_number
        ORDER BY passed DESC, license_class_code) = 1
),
-- Per line: every passing license (Producer) or the first passing one (Agency); when none
-- passes, the license that got furthest (ties: lowest license number) and its reason.
line_outcome AS (
    SELECT o.*, r.agent_type,
           max(o.passed) OVER line_window AS best_passed,
           row_number() OVER (line_window ORDER BY o.passed DESC, o.license_number) AS rank
    FROM license_outcome o JOIN request r USING (request_id)
    WINDOW line_window AS (PARTITION BY o.request_id, o.loa_code)
),

-- Every outcome row: request-level (loa_code NULL) or per line and license.
outcome AS (
    -- SPEC 6.1
    SELECT request_id, NULL AS loa_code, NULL AS license_number, NULL AS license_class_code,
           NULL::BOOLEAN AS is_resident, rejection_reason AS reason, true AS is_rejected
    FROM producer_checked WHERE rejection_reason IS NOT NULL
    UNION ALL
    -- checks 1-3
    SELECT request_id, NULL, NULL, NULL, NULL, company_reason, false
    FROM company_checked WHERE company_reason IS NOT NULL
    UNION ALL
    -- the company's business rules have no active line of the category in the state
    SELECT c.request_id, NULL, NULL, NULL, NULL, $company_loas, false
    FROM company_checked c
    WHERE c.company_reason IS NULL
      AND NOT EXISTS (SELECT 1 FROM line l WHERE l.request_id = c.request_id)
    UNION ALL
    -- check 4, per line
    SELECT l.request_id, l.loa_code, NULL, NULL, NULL, $outside_assignment, false
    FROM line l JOIN company_checked c USING (request_id)
    WHERE c.outside_assignment
    UNION ALL
    -- check 5, per line
    SELECT l.request_id, l.loa_code, NULL, NULL, NULL, $license_not_found, false
    FROM line l JOIN company_checked c USING (request_id)
    WHERE NOT c.outside_assignment
      AND NOT EXISTS (SELECT 1 FROM line_license ll
                      WHERE ll.request_id = l.request_id AND ll.loa_code = l.loa_code)
    UNION ALL
    -- checks 6-9, and the eligible licenses (reason NULL until SPEC 6.4)
    SELECT request_id, loa_code, license_number, license_class_code, is_resident,
           CASE passed
               WHEN 6 THEN $license_not_active
               WHEN 7 THEN $no_active_resident
               WHEN 8 THEN $license_not_found
               WHEN 9 THEN $already_appointed
           END,
           false
    FROM line_outcome
    WHERE (best_passed = 10 AND passed = 10 AND (agent_type = $producer OR rank = 1))
       OR (best_passed < 10 AND rank = 1)
),

-- SPEC 6.4 and 6.5: status, reason, submission mode and batch.
decided AS (
    SELECT r.request_id, r.request_row, r.npn, r.state_code, r.cocode, co.company_name,
           r.loa_category, o.loa_code, o.license_number, o.license_class_code, o.is_resident,
           r.agent_type, c.is_jit, o.is_rejected,
           o.reason IS NULL AS is_eligible,
           CASE
               WHEN o.is_rejected THEN NULL
               WHEN c.is_jit THEN r.submit_just_in_time
               ELSE r.submit
           END AS auto_submit,
           CASE
               WHEN o.reason IS NOT NULL THEN o.reason
               WHEN (c.is_jit AND r.submit_just_in_time) OR (NOT c.is_jit AND r.submit)
                   THEN $in_good_order
               ELSE $in_good_standing
           END AS eligibility_reason,
           CASE
               WHEN o.is_rejected THEN $request_rejected
               WHEN o.reason IS NOT NULL THEN $not_eligible
               WHEN c.is_jit AND NOT r.submit_just_in_time THEN $held_jit
               ELSE $ready
           END AS status
    FROM outcome o
    JOIN request r USING (request_id)
    LEFT JOIN company_checked c USING (request_id)
    LEFT JOIN company_typed co ON co.cocode = r.cocode
),

-- SPEC 6.6: an eligible transaction repeating an open one, or an earlier row of these
-- requests, is not created. Not Eligible rows stay for the audit.
repeat_checked AS (
    SELECT d.*, t.transaction_id AS repeats_transaction_id
    FROM decided d
    LEFT JOIN open_transaction t
      ON d.is_eligible AND t.npn = d.npn AND t.state_code = d.state_code
     AND t.cocode = d.cocode AND t.loa_code = d.loa_code
),
in_call_copy AS (
    SELECT request_id, loa_code, license_number,
           row_number() OVER same_transaction AS copy_number,
           first_value(request_row) OVER same_transaction AS first_request_row
    FROM repeat_checked
    WHERE is_eligible AND repeats_transaction_id IS NULL
    WINDOW same_transaction AS (
        PARTITION BY npn, state_code, cocode, loa_code, license_number
        ORDER BY request_row, loa_category, request_id)
)
SELECT rc.*, c.first_request_row,
       rc.repeats_transaction_id IS NOT NULL OR COALESCE(c.copy_number > 1, false) AS is_repeat,
       f.resident_fee, f.nonresident_fee, f.per_loa
FROM repeat_checked rc
LEFT JOIN in_call_copy c
  ON c.request_id = rc.request_id AND c.loa_code = rc.loa_code
 AND c.license_number = rc.license_number
LEFT JOIN appointment_fee f USING (state_code)
"""

_RESULT_SQL = """
WITH kept AS (SELECT * FROM evaluated WHERE NOT is_repeat),
-- SPEC 6.7: the fee the state will charge. Per appointment (per_loa false) it is carried by the
-- first line of (producer, state, company, license) in the result, so a batch total is right.
priced AS (
    SELECT k.*,
           CASE
               WHEN NOT k.is_eligible THEN 0.0
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
ORDER BY request_row, state_code, loa_code NULLS FIRST, license_number NULLS FIRST, cocode,
         loa_category, request_id
"""

_REPEATS_SQL = """
SELECT request_row, npn, state_code, cocode, loa_category, loa_code, license_number,
       repeats_transaction_id,
       CASE WHEN repeats_transaction_id IS NULL THEN first_request_row END AS repeats_request_row,
       CASE WHEN repeats_transaction_id IS NULL THEN $repeat_in_requests
            ELSE $repeat_of_open END AS reason
FROM evaluated
WHERE is_repeat
ORDER BY request_row, state_code, loa_code, license_number, request_id
"""


def _parameters(as_of: dt.date) -> dict[str, object]:
    return {
        "as_of": as_of,
        "agency": AGENT_TYPE_AGENCY,
        "producer": AGENT_TYPE_PRODUCER,
        "appointed": APPOINTMENT_APPOINTED,
        "transaction_kind": TRANSACTION_KIND,
        "open_statuses": list(OPEN_STATUSES),
        "sync_not_found": SYNC_STATUS_NOT_FOUND,
        "synced_statuses": list(SYNCED_STATUSES),
        "producer_not_found": REASON_PRODUCER_NOT_FOUND,
        "producer_not_synced": REASON_PRODUCER_NOT_SYNCED,
        "producer_inactive": REASON_PRODUCER_INACTIVE,
        "cocode_not_found": REASON_COCODE_NOT_FOUND,
        "not_in_state": REASON_NOT_IN_STATE_MIDDLE,
        "company_loas": REASON_COMPANY_LOAS,
        "outside_assignment": REASON_OUTSIDE_ASSIGNMENT,
        "license_not_found": REASON_LICENSE_NOT_FOUND,
        "license_not_active": REASON_LICENSE_NOT_ACTIVE,
        "no_active_resident": REASON_NO_ACTIVE_RESIDENT_LICENSE,
        "already_appointed": REASON_ALREADY_APPOINTED,
        "in_good_order": REASON_IN_GOOD_ORDER,
        "in_good_standing": REASON_IN_GOOD_STANDING,
        "request_rejected": STATUS_REQUEST_REJECTED,
        "not_eligible": STATUS_NOT_ELIGIBLE,
        "held_jit": STATUS_HELD_JIT,
        "ready": STATUS_READY,
    }


def _result_parameters() -> dict[str, object]:
    return {
        "transaction_kind": TRANSACTION_KIND,
        "batch_auto": BATCH_AUTO,
        "batch_review": BATCH_REVIEW,
    }


def _repeat_parameters() -> dict[str, object]:
    return {"repeat_in_requests": REPEAT_IN_REQUESTS, "repeat_of_open": REPEAT_OF_OPEN_TRANSACTION}


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def evaluate_appointment_requests(
    requests: pd.DataFrame,
    inputs: Mapping[str, pd.DataFrame],
    as_of: dt.date | None = None,
    *,
    threads: int = DEFAULT_THREADS,
) -> pd.DataFrame:
    """One row per appointment transaction and per rejected request (SPEC section 6).

    `requests`: request_row, npn, state_code, cocode, loa_category, agent_type, submit,
    submit_just_in_time; optional effective_date (passed through), line_of_authority (used
    when loa_category is blank). `inputs`: the SPEC section 3 frames named in
    `INPUT_COLUMNS`; `lines_of_authority` and `transactions` (the open ones are not repeated)
    may be left out. Extra columns are ignored.

    The result has `RESULT_COLUMNS`, sorted by request_row, state_code, loa_code,
    license_number. Eligible transactions left out as repeats are in
    `result.attrs["repeats"]` (`REPEAT_COLUMNS`).
    """
    as_of_date = dt.date.today() if as_of is None else pd.Timestamp(as_of).date()
    request_frame = _request_frame(requests)
    frames = {name: _input_frame(inputs, name) for name in INPUT_COLUMNS}

    connection = duckdb.connect(":memory:", config={"threads": max(1, int(threads))})
    try:
        connection.register("requests_in", request_frame)
        for name, frame in frames.items():
            connection.register(f"{name}_in", frame)
        connection.execute(_EVALUATE_SQL, _parameters(as_of_date))
        result = connection.execute(_RESULT_SQL, _result_parameters()).df()
        repeats = connection.execute(_REPEATS_SQL, _repeat_parameters()).df()
    finally:
        connection.close()

    return _finish(result, repeats, requests)


def _request_frame(requests: pd.DataFrame) -> pd.DataFrame:
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
    return frame.reset_index(drop=True)


def _input_frame(inputs: Mapping[str, pd.DataFrame], name: str) -> pd.DataFrame:
    columns = list(INPUT_COLUMNS[name])
    frame = inputs.get(name)
    if frame is None:
        if name not in OPTIONAL_INPUTS:
            raise ValueError(f"eligibility needs the {name!r} frame")
        # Typed text columns: DuckDB would type an empty object column as NULL.
        return pd.DataFrame({column: pd.Series(dtype="str") for column in columns})
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"the {name!r} frame lacks column(s): {', '.join(missing)}")
    return frame.loc[:, columns]


def _finish(result: pd.DataFrame, repeats: pd.DataFrame, requests: pd.DataFrame) -> pd.DataFrame:
    positions = result["request_id"].to_numpy(dtype=np.int64)
    if "effective_date" in requests.columns:
        effective = requests["effective_date"].iloc[positions]
        result["effective_date"] = effective.set_axis(result.index)
    else:
        result["effective_date"] = pd.Series(None, index=result.index, dtype=object)

    result["request_row"] = result["request_row"].astype(np.int64)
    result["estimated_fee"] = result["estimated_fee"].astype(np.float64)
    for column in ("is_resident", "is_jit", "auto_submit"):
        result[column] = _object_bools(result[column])
    for column in RESULT_COLUMNS:
        if column not in ("request_row", "estimated_fee", "effective_date", "is_resident",
                          "is_jit", "auto_submit"):  # fmt: skip
            result[column] = _object_text(result[column])
    out = result.loc[:, list(RESULT_COLUMNS)].reset_index(drop=True)

    repeats = repeats.loc[:, list(REPEAT_COLUMNS)].reset_index(drop=True)
    repeats["request_row"] = repeats["request_row"].astype(np.int64)
    repeats["repeats_request_row"] = repeats["repeats_request_row"].astype("Int64")
    for column in REPEAT_COLUMNS:
        if column not in ("request_row", "repeats_request_row"):
            repeats[column] = _object_text(repeats[column])
    out.attrs["repeats"] = repeats
    return out


def _object_bools(values: pd.Series) -> pd.Series:
    """True/False/None as plain Python objects: a nullable flag, without pandas' masked dtype."""
    array = values.to_numpy(dtype=object, na_value=None)
    return pd.Series(array, index=values.index, dtype=object)


def _object_text(values: pd.Series) -> pd.Series:
    array = values.to_numpy(dtype=object, na_value=None)
    return pd.Series(array, index=values.index, dtype=object)
