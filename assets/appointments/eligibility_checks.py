"""Appointment eligibility's checks (SPEC 6.1 to 6.6) as SQL: one CTE per step. Pure.

`EVALUATE_SQL` continues the typed inputs of `eligibility_inputs` with the rules: the producer
checks, the request's company checks (1 to 4), the lines of the category, the per-license
checks (5 to 9), the effective date (check 10, read per request row beforehand), the status
and batch mode, and the repeats of open transactions or earlier request rows, each outcome
naming the row that decided it (`decided_by`); `eligibility_evidence` continues the same WITH
list with the evidence. It leaves one `evaluated` temp table that `eligibility_result` prices
and reads out. "check N" is SPEC 6.3's numbered list. Values never go into the SQL text: reasons,
statuses and the as-of date are bound parameters (`parameters`).

Separate from the inputs (how values are typed) and from the result (fees, batch keys, the
returned frame's types) so that each SPEC step reads as one CTE here. No Dagster, no I/O.
"""

from __future__ import annotations

import datetime as dt

from assets.appointments.eligibility_evidence import EVIDENCE_SQL
from assets.appointments.eligibility_inputs import TYPED_INPUTS_SQL
from assets.appointments.eligibility_vocabulary import (
    AGENT_TYPE_AGENCY,
    AGENT_TYPE_PRODUCER,
    APPOINTMENT_APPOINTED,
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
    SYNC_STATUS_NOT_FOUND,
    TRANSACTION_KIND,
)
from assets.nipr.roster import SYNCED_STATUSES
from assets.rules import evidence
from assets.rules.line_standing import (
    active_resident_sql,
    first_failing_check_sql,
    license_line_sql,
    line_active_sql,
)
from schemas.statuses import HELD_JIT, NOT_ELIGIBLE, READY_TO_SUBMIT, RECORDED, REQUEST_REJECTED

# The rules after the typed inputs, in the same WITH list. Checks 6 to 8 are the shared rule of
# `assets/rules/line_standing.py` (the at-risk list and can-sell compose the same fragments).
_CHECKS_SQL = (
    """
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
           -- the evidence's name of the row that gave company_reason
           CASE
               WHEN c.cocode IS NULL THEN $by_company
               WHEN s.cocode IS NULL THEN $by_company_state
               WHEN r.loa_category IS NULL OR cc.cocode IS NULL THEN $by_company_category
           END AS company_decided_by,
           -- check 4: only an assignment naming this very company covers it (a License
           -- scorecard's cocode '' names none)
           COALESCE(c.producer_assignment_required AND a.npn IS NULL, false) AS outside_assignment,
           -- the evidence of checks 2 and 4, as read here (NULL on a rejected request's row)
           s.cocode IS NOT NULL AS company_in_state,
           c.producer_assignment_required AS assignment_required,
           a.npn IS NOT NULL AS assignment_found
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
           lic.expiration_date, lic.input_row AS license_row
    FROM requested_line l
    JOIN company_checked c USING (request_id)
    JOIN license_typed lic
      ON lic.npn = c.npn AND lic.state_code = c.state_code
     AND (l.license_class_code IS NULL OR lic.license_class_code = l.license_class_code)
    WHERE NOT c.outside_assignment
),
-- Check 8's look-up: the rows of the candidate (line, license) pairs' license_loas, active or
-- not (the evidence shows an inactive line as read). Joined from the candidates, so the
-- 2.7M-row license_loas is only probed, never grouped, and read once for the rules and the
-- evidence alike. The line must hang under the candidate's own class: NIPR
-- files one license number under several classes, and a line of another class says nothing of
-- this one (ADR 0023). A frame without classes (NULL: a caller from before the class joined
-- the key) matches by number.
license_line_row AS (
    SELECT ll.request_id, ll.loa_code, ll.license_number, ll.license_class_code,
           """
    + line_active_sql("lo")
    + """ AS is_active,
           lo.input_row AS loa_row  -- the evidence's pointer to the row
    FROM line_license ll
    JOIN license_loas_in lo
      ON """
    + license_line_sql("lo", "ll")
    + """
),
-- Per candidate pair: whether its license holds the line, active (`license_holds_line_sql`'s
-- condition: one active row suffices), and the row the evidence shows (the active one, else
-- the first; none when the license does not hold the line at all).
candidate_line AS (
    SELECT request_id, loa_code, license_number, license_class_code,
           bool_or(is_active) AS is_active,
           COALESCE(min(loa_row) FILTER (WHERE is_active), min(loa_row)) AS loa_row
    FROM license_line_row
    GROUP BY request_id, loa_code, license_number, license_class_code
),
-- Check 9's look-up, likewise: the Appointed rows of the candidates' lines, with the
-- evidence's pointer to each (frame 1: appointments, 2: transactions).
appointment_row AS (
    SELECT ll.npn, ll.state_code, ll.cocode, ll.loa_code, CAST(ap.status AS VARCHAR) AS status,
           1 AS from_frame, ap.input_row
    FROM (SELECT DISTINCT npn, state_code, cocode, loa_code FROM line_license) ll
    JOIN appointments_in ap
      ON CAST(ap.npn AS VARCHAR) = ll.npn
     AND CAST(ap.state_code AS VARCHAR) = ll.state_code
     AND CAST(ap.cocode AS VARCHAR) = ll.cocode
     AND CAST(ap.loa_code AS VARCHAR) = ll.loa_code
    WHERE CAST(ap.status AS VARCHAR) = $appointed
    UNION ALL
    -- A line recorded in a registry state is appointed in the carrier's register, not NIPR's.
    SELECT ll.npn, ll.state_code, ll.cocode, ll.loa_code, CAST(t.status AS VARCHAR),
           2, t.input_row
    FROM (SELECT DISTINCT npn, state_code, cocode, loa_code FROM line_license) ll
    JOIN transactions_in t
      ON CAST(t.npn AS VARCHAR) = ll.npn
     AND CAST(t.state_code AS VARCHAR) = ll.state_code
     AND CAST(t.cocode AS VARCHAR) = ll.cocode
     AND CAST(t.loa_code AS VARCHAR) = ll.loa_code
    WHERE CAST(t.status AS VARCHAR) = $recorded
),
-- Per line, the appointment check 9 finds: an Appointed row (synced, or accepted by NIPR since
-- the sync) before a transaction Recorded in a registry state; then the first row.
appointed_line AS (
    SELECT * FROM appointment_row
    QUALIFY row_number() OVER (
        PARTITION BY npn, state_code, cocode, loa_code ORDER BY from_frame, input_row) = 1
),
active_resident AS (
    """
    + active_resident_sql("license_typed")
    + """
),
-- Checks 6-9 per candidate license: `passed` is the number of the first failing check
-- (10 = all passed), so the license that got furthest has the highest number. Check 10, the
-- request's effective date, is the same for every license: it is read on the lines that pass.
-- The line and the appointment found are carried on as the evidence shows them.
license_checked AS (
    SELECT ll.*, lo.is_active AS loa_is_active, lo.loa_row, ap.status AS appointment_status,
           ap.input_row AS appointment_row, ap.from_frame AS appointment_frame,
           CASE
               """
    + first_failing_check_sql("ll", "ar", "lo", line_held="lo.is_active IS TRUE")
    + """
               -- check 9
               WHEN ap.npn IS NULL THEN 10
               ELSE 9
           END AS passed
    FROM line_license ll
    LEFT JOIN active_resident ar ON ar.npn = ll.npn
    LEFT JOIN candidate_line lo
      ON lo.request_id = ll.request_id AND lo.loa_code = ll.loa_code
     AND lo.license_number = ll.license_number
     AND lo.license_class_code IS NOT DISTINCT FROM ll.license_class_code
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
    SELECT o.*, r.agent_type, r.date_reason, r.date_decided_by,
           max(o.passed) OVER line_window AS best_passed,
           row_number() OVER (line_window ORDER BY o.passed DESC, o.license_number) AS rank
    FROM license_outcome o JOIN request r USING (request_id)
    WINDOW line_window AS (PARTITION BY o.request_id, o.loa_code)
),

-- Every outcome row: request-level (loa_code NULL) or per line and license, with the
-- evidence's name of the row that decided a reason (`decided_by`; NULL: eligible so far) and
-- what the checks read of the license, its line and the appointment found (the evidence,
-- carried rather than looked up again). By name: a branch leaves NULL what it does not read.
outcome AS (
    -- SPEC 6.1
    SELECT request_id, rejection_reason AS reason, true AS is_rejected,
           $by_producer AS decided_by
    FROM producer_checked WHERE rejection_reason IS NOT NULL
    UNION ALL BY NAME
    -- checks 1-3
    SELECT request_id, company_reason AS reason, false AS is_rejected,
           company_decided_by AS decided_by
    FROM company_checked WHERE company_reason IS NOT NULL
    UNION ALL BY NAME
    -- the company's business rules have no active line of the category in the state
    SELECT c.request_id, $company_loas AS reason, false AS is_rejected,
           $by_business_rule AS decided_by
    FROM company_checked c
    WHERE c.company_reason IS NULL
      AND NOT EXISTS (SELECT 1 FROM line l WHERE l.request_id = c.request_id)
    UNION ALL BY NAME
    -- check 4, per line
    SELECT l.request_id, l.loa_code, $outside_assignment AS reason, false AS is_rejected,
           $by_assignment AS decided_by
    FROM line l JOIN company_checked c USING (request_id)
    WHERE c.outside_assignment
    UNION ALL BY NAME
    -- check 5, per line
    SELECT l.request_id, l.loa_code, $license_not_found AS reason, false AS is_rejected,
           $by_license AS decided_by
    FROM line l JOIN company_checked c USING (request_id)
    WHERE NOT c.outside_assignment
      AND NOT EXISTS (SELECT 1 FROM line_license ll
                      WHERE ll.request_id = l.request_id AND ll.loa_code = l.loa_code)
    UNION ALL BY NAME
    -- checks 6-10, and the eligible licenses (reason NULL until SPEC 6.4)
    SELECT request_id, loa_code, license_number, license_class_code, is_resident,
           CASE passed
               WHEN 6 THEN $license_not_active
               WHEN 7 THEN $no_active_resident
               WHEN 8 THEN $license_not_found
               WHEN 9 THEN $already_appointed
               -- check 10: the state's effective-date limits (NULL: the date is accepted)
               WHEN 10 THEN date_reason
           END AS reason,
           false AS is_rejected,
           CASE passed
               WHEN 6 THEN $by_license
               WHEN 7 THEN $by_resident_license
               WHEN 8 THEN $by_license_line
               WHEN 9 THEN $by_appointment
               WHEN 10 THEN date_decided_by
           END AS decided_by,
           is_active AS license_is_active, expiration_date AS license_expiration_date,
           license_row, loa_is_active, loa_row, appointment_status, appointment_row,
           appointment_frame
    FROM line_outcome
    WHERE (best_passed = 10 AND passed = 10 AND (agent_type = $producer OR rank = 1))
       OR (best_passed < 10 AND rank = 1)
),

-- SPEC 6.4 and 6.5: status, reason, submission mode and batch.
decided AS (
    SELECT r.request_id, r.request_row, r.npn, r.state_code, r.cocode, co.company_name,
           r.loa_category, o.loa_code, o.license_number, o.license_class_code, o.is_resident,
           r.agent_type, c.is_jit, o.is_rejected,
           o.license_is_active, o.license_expiration_date, o.license_row, o.loa_is_active,
           o.loa_row, o.appointment_status, o.appointment_row, o.appointment_frame,
           c.company_in_state, c.assignment_required, c.assignment_found,
           o.reason IS NULL AS is_eligible,
           CASE
               WHEN o.decided_by IS NOT NULL THEN o.decided_by
               -- eligible, but the state's rule has it recorded outside NIPR
               WHEN r.filing_reason IS NOT NULL THEN $by_state_rule
               ELSE $by_all_checks
           END AS decided_by,
           CASE
               WHEN o.is_rejected THEN NULL
               WHEN c.is_jit THEN r.submit_just_in_time
               ELSE r.submit
           END AS auto_submit,
           CASE
               WHEN o.reason IS NOT NULL THEN o.reason
               -- an eligible line of a state that does not take appointments through NIPR
               WHEN r.filing_reason IS NOT NULL THEN r.filing_reason
               WHEN (c.is_jit AND r.submit_just_in_time) OR (NOT c.is_jit AND r.submit)
                   THEN $in_good_order
               ELSE $in_good_standing
           END AS eligibility_reason,
           CASE
               WHEN o.is_rejected THEN $request_rejected
               WHEN o.reason IS NOT NULL THEN $not_eligible
               WHEN r.filing_reason IS NOT NULL THEN $recorded
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
),
-- The result's rows (repeats included), which the evidence reads back; materialized, so the
-- evidence's several readings of it never run the rules again.
checked AS MATERIALIZED (
    SELECT rc.*, c.first_request_row,
           rc.repeats_transaction_id IS NOT NULL OR COALESCE(c.copy_number > 1, false)
               AS is_repeat,
           f.resident_fee, f.nonresident_fee, f.per_loa
    FROM repeat_checked rc
    LEFT JOIN in_call_copy c
      ON c.request_id = rc.request_id AND c.loa_code = rc.loa_code
     AND c.license_number = rc.license_number
    LEFT JOIN appointment_fee f USING (state_code)
),"""
)

# One statement: the typed inputs, the checks and the evidence (`eligibility_evidence`) are one
# WITH list, so DuckDB plans them as one.
EVALUATE_SQL = (
    "\nCREATE TEMP TABLE evaluated AS\nWITH"
    + TYPED_INPUTS_SQL.rstrip("\n")
    + ",\n"
    + _CHECKS_SQL
    + EVIDENCE_SQL
)


def parameters(as_of: dt.date) -> dict[str, object]:
    """The values `EVALUATE_SQL` binds: the as-of date and the vocabulary, never in its text."""
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
        "request_rejected": REQUEST_REJECTED,
        "not_eligible": NOT_ELIGIBLE,
        "held_jit": HELD_JIT,
        "ready": READY_TO_SUBMIT,
        "recorded": RECORDED,
        # the evidence's names of the rows that decide (`decided_by`)
        "by_producer": evidence.DECIDED_BY_PRODUCER,
        "by_company": evidence.DECIDED_BY_COMPANY,
        "by_company_state": evidence.DECIDED_BY_COMPANY_STATE,
        "by_company_category": evidence.DECIDED_BY_COMPANY_CATEGORY,
        "by_business_rule": evidence.DECIDED_BY_BUSINESS_RULE,
        "by_assignment": evidence.DECIDED_BY_ASSIGNMENT,
        "by_license": evidence.DECIDED_BY_LICENSE,
        "by_resident_license": evidence.DECIDED_BY_RESIDENT_LICENSE,
        "by_license_line": evidence.DECIDED_BY_LICENSE_LINE,
        "by_appointment": evidence.DECIDED_BY_APPOINTMENT,
        "by_state_rule": evidence.DECIDED_BY_STATE_RULE,
        "by_all_checks": evidence.DECIDED_BY_ALL_CHECKS,
    }
