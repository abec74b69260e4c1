"""Does a producer's line still stand in a state: SPEC 6.3 checks 6 to 8, once. Pure SQL text.

The one implementation of "the license in the state is active and unexpired (check 6), a
non-resident license has an active resident license behind it (check 7), and the license holds
the line, active, under its own class (check 8)". The appointment eligibility engine
(`assets/appointments/eligibility_checks.py`) composes these fragments into its CTEs, and so
does the evaluation of every Appointed line (`assets/compliance/standing.py`: the at-risk list,
`npnflow can-sell`, the sales authorization report), so the engine, the at-risk list and
can-sell can never disagree about a line.

The fragments are SQL text over aliases the caller names; every value (the as-of date) is the
bound parameter `$as_of`, never in the text. Columns read: a license relation with `npn`,
`is_resident`, `is_active` (BOOLEAN), `expiration_date` (DATE); a license-lines relation with
`npn`, `state_code`, `license_number`, `license_class_code`, `loa_code`, `is_active` (cast
here: the engine registers it as read). No Dagster, no I/O.
"""

from __future__ import annotations

# The checks' numbers, SPEC 6.3's. `first_failing_check_sql` yields the first that fails.
CHECK_LICENSE_ACTIVE = 6
CHECK_RESIDENT_LICENSE = 7
CHECK_LINE_ACTIVE = 8

# The words of an at-risk line (issue 18), spelled once: the at-risk list, the sales
# authorization report and `npnflow can-sell` print them.
RISK_LICENSE = "License inactive or expired in the state"
RISK_RESIDENT = "No active resident license"
RISK_LINE = "Line no longer active on the license"
RISK_REASON_OF_CHECK = {
    CHECK_LICENSE_ACTIVE: RISK_LICENSE,
    CHECK_RESIDENT_LICENSE: RISK_RESIDENT,
    CHECK_LINE_ACTIVE: RISK_LINE,
}
RISK_REASONS = tuple(RISK_REASON_OF_CHECK.values())


def license_active_sql(license_alias: str) -> str:
    """Check 6 holds: the license is active and not expired before the as-of date (a license
    without an expiration date does not expire)."""
    a = license_alias
    return f"({a}.is_active IS TRUE AND ({a}.expiration_date IS NULL OR {a}.expiration_date >= $as_of))"


def active_resident_sql(licenses: str) -> str:
    """The NPNs holding an active, unexpired resident license in any state (check 7's
    look-up), from the typed license relation `licenses`."""
    return (
        f"SELECT DISTINCT npn FROM {licenses}\n"
        "    WHERE is_resident AND is_active AND (expiration_date IS NULL OR expiration_date >= $as_of)"
    )


def license_line_sql(license_lines_alias: str, candidate_alias: str) -> str:
    """The join condition of `license_holds_line_sql` without the line's activity: the
    license-lines row is line `candidate.loa_code` of the candidate's license, active or not
    (the appointment engine's evidence shows an inactive line as read)."""
    lo, c = license_lines_alias, candidate_alias
    return (
        f"CAST({lo}.npn AS VARCHAR) = {c}.npn\n"
        f"     AND CAST({lo}.state_code AS VARCHAR) = {c}.state_code\n"
        f"     AND CAST({lo}.license_number AS VARCHAR) = {c}.license_number\n"
        f"     AND CAST({lo}.loa_code AS VARCHAR) = {c}.loa_code\n"
        f"     AND ({lo}.license_class_code IS NULL\n"
        f"          OR CAST({lo}.license_class_code AS VARCHAR) = {c}.license_class_code)"
    )


def license_holds_line_sql(license_lines_alias: str, candidate_alias: str) -> str:
    """Check 8's join condition: the license-lines row `license_lines_alias` is line
    `candidate.loa_code` of the candidate's license, active, under the candidate's own class
    (NIPR files one license number under several classes, and a line of another class says
    nothing of this one, ADR 0023); a row without a class (NULL: a caller from before the class
    joined the key) matches by number."""
    return (
        license_line_sql(license_lines_alias, candidate_alias)
        + f"\n     AND {line_active_sql(license_lines_alias)}"
    )


def line_active_sql(license_lines_alias: str) -> str:
    """Check 8's activity: the license-lines row is active (an unreadable flag is not)."""
    return f"TRY_CAST({license_lines_alias}.is_active AS BOOLEAN)"


def first_failing_check_sql(
    license_alias: str, resident_alias: str, line_alias: str, line_held: str | None = None
) -> str:
    """The WHEN clauses of a CASE giving the first of checks 6 to 8 that fails for a candidate
    license, in SPEC order; none matches when the line stands on that license.

    `license_alias`: the candidate license (is_active, expiration_date, is_resident);
    `resident_alias`: a LEFT JOIN of `active_resident_sql` on the NPN (NULL: none);
    `line_alias`: a LEFT JOIN of the license's active line (`license_holds_line_sql`) whose
    `license_number` is NULL when the license does not hold the line; or, with `line_held`,
    the condition that holds when it does (a caller joining its lines active or not)."""
    a, r, lo = license_alias, resident_alias, line_alias
    held = line_held or f"{lo}.license_number IS NOT NULL"
    return (
        "-- check 6: inactive, or expired before the as-of date\n"
        f"               WHEN {a}.is_active IS NOT TRUE\n"
        f"                    OR {a}.expiration_date < $as_of THEN {CHECK_LICENSE_ACTIVE}\n"
        "               -- check 7: a non-resident license needs an active resident license\n"
        f"               WHEN {a}.is_resident IS NOT TRUE AND {r}.npn IS NULL"
        f" THEN {CHECK_RESIDENT_LICENSE}\n"
        "               -- check 8: the license must hold the line, active\n"
        f"               WHEN NOT ({held}) THEN {CHECK_LINE_ACTIVE}"
    )
