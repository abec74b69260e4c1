"""Whether a producer's lines still stand in a state, by the eligibility engine's own checks. Pure.

`evaluate_line_standing` runs SPEC 6.3 checks 6 to 8 on any set of (npn, state, line) with an
optional license class, in DuckDB, by the fragments of `assets/rules/line_standing.py` that the
eligibility engine composes too: the license in the state active and unexpired, an active
resident license behind a non-resident one, the line active on that license of that class.
Like the engine, a line is judged on the license that passes, else on the one that got
furthest through the checks (ties: the lowest license number), and the first failing check
names the reason.

On top of it (`assets/compliance/authorization.py`): the standing of every Appointed line
(the at-risk list) and the Yes/No of "may this producer sell this category" (can-sell).

Since when (`at_risk_since`), by NIPR's dates, documented in docs/compliance.md:
- the license expired: its expiration date;
- the license inactive (not expired), or the line no longer active on it: the date NIPR last
  updated the license (`licenses.nipr_updated_at`, NIPR's DATE_UPDATED / AsOfDate); NIPR gives
  no date of its own for a status change or a line's;
- no active resident license: the latest expiration date of a resident license that expired,
  else the latest update date of an inactive resident license;
- no license at all in the state (NIPR removed it): NULL.
No Dagster, no I/O.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from assets.rules.line_standing import (
    CHECK_LICENSE_ACTIVE,
    CHECK_RESIDENT_LICENSE,
    RISK_REASON_OF_CHECK,
    active_resident_sql,
    first_failing_check_sql,
    license_active_sql,
    license_holds_line_sql,
)

#: What a caller gives per line: `line_id` groups rows of one line (one row per license class
#: the line may stand on; a NULL class: any class of the state).
LINE_COLUMNS = ("line_id", "npn", "state_code", "loa_code", "license_class_code")
LICENSE_COLUMNS = (
    "npn",
    "state_code",
    "license_number",
    "license_class_code",
    "is_resident",
    "is_active",
    "expiration_date",
)
LICENSE_OPTIONAL_COLUMNS = ("nipr_updated_at",)
LICENSE_LOA_COLUMNS = (
    "npn",
    "state_code",
    "license_number",
    "license_class_code",
    "loa_code",
    "is_active",
)
#: What `evaluate_line_standing` returns, one row per line_id.
STANDING_COLUMNS = (
    "line_id",
    "license_number",
    "license_class_code",
    "license_ok",
    "resident_ok",
    "line_ok",
    "failing_check",
    "risk_reason",
    "at_risk_since",
)

_STANDING_SQL = f"""
WITH line_typed AS (
    SELECT DISTINCT CAST(line_id AS BIGINT) AS line_id,
           CAST(npn AS VARCHAR) AS npn,
           CAST(state_code AS VARCHAR) AS state_code,
           CAST(loa_code AS VARCHAR) AS loa_code,
           NULLIF(TRIM(CAST(license_class_code AS VARCHAR)), '') AS license_class_code
    FROM lines_in
),
license_typed AS (
    SELECT CAST(npn AS VARCHAR) AS npn,
           CAST(state_code AS VARCHAR) AS state_code,
           CAST(license_number AS VARCHAR) AS license_number,
           CAST(license_class_code AS VARCHAR) AS license_class_code,
           TRY_CAST(is_resident AS BOOLEAN) AS is_resident,
           TRY_CAST(is_active AS BOOLEAN) AS is_active,
           TRY_CAST(expiration_date AS DATE) AS expiration_date,
           TRY_CAST(nipr_updated_at AS DATE) AS updated_on
    FROM licenses_in
    WHERE CAST(npn AS VARCHAR) IN (SELECT npn FROM line_typed)
),
-- Check 5's candidates: the producer's licenses in the state, of the line's class if named.
candidate AS (
    SELECT DISTINCT l.line_id, l.npn, l.state_code, l.loa_code, lic.license_number,
           lic.license_class_code, lic.is_resident, lic.is_active, lic.expiration_date,
           lic.updated_on
    FROM line_typed l
    JOIN license_typed lic
      ON lic.npn = l.npn AND lic.state_code = l.state_code
     AND (l.license_class_code IS NULL OR lic.license_class_code = l.license_class_code)
),
active_resident AS (
    {active_resident_sql("license_typed")}
),
held_line AS (
    SELECT DISTINCT c.line_id, c.license_number, c.license_class_code
    FROM candidate c
    JOIN license_loas_in lo
      ON {license_holds_line_sql("lo", "c")}
),
checked AS (
    SELECT c.*,
           CASE
               {first_failing_check_sql("c", "ar", "h")}
           END AS failing_check,
           {license_active_sql("c")} AS license_ok,
           (c.is_resident IS TRUE OR ar.npn IS NOT NULL) AS resident_ok,
           h.license_number IS NOT NULL AS line_ok
    FROM candidate c
    LEFT JOIN active_resident ar ON ar.npn = c.npn
    LEFT JOIN held_line h
      ON h.line_id = c.line_id AND h.license_number = c.license_number
     AND h.license_class_code IS NOT DISTINCT FROM c.license_class_code
),
-- The engine's choice: a license that passes, else the one that got furthest; ties by number.
judged AS (
    SELECT * FROM checked
    QUALIFY row_number() OVER (
        PARTITION BY line_id
        ORDER BY COALESCE(failing_check, 99) DESC, license_number, license_class_code) = 1
),
-- When a resident license lapsed: its expiration, else the day NIPR updated an inactive one.
resident_lapsed AS (
    SELECT npn,
           COALESCE(max(expiration_date) FILTER (WHERE expiration_date < $as_of),
                    max(updated_on) FILTER (WHERE is_active IS NOT TRUE)) AS lapsed_on
    FROM license_typed
    WHERE is_resident
    GROUP BY npn
),
line_one AS (SELECT line_id, min(npn) AS npn FROM line_typed GROUP BY line_id)
SELECT l.line_id, j.license_number, j.license_class_code,
       COALESCE(j.license_ok, false) AS license_ok,
       COALESCE(j.resident_ok, ar.npn IS NOT NULL) AS resident_ok,
       COALESCE(j.line_ok, false) AS line_ok,
       -- no license of the state at all: check 6 fails (the engine's check 5)
       CASE WHEN j.line_id IS NULL THEN {CHECK_LICENSE_ACTIVE} ELSE j.failing_check END
           AS failing_check,
       CASE
           WHEN j.line_id IS NULL OR j.failing_check IS NULL THEN NULL
           WHEN j.failing_check = {CHECK_LICENSE_ACTIVE}
               THEN CASE WHEN j.expiration_date < $as_of THEN j.expiration_date
                         ELSE j.updated_on END
           WHEN j.failing_check = {CHECK_RESIDENT_LICENSE} THEN rl.lapsed_on
           ELSE j.updated_on
       END AS at_risk_since
FROM line_one l
LEFT JOIN judged j USING (line_id)
LEFT JOIN active_resident ar ON ar.npn = l.npn
LEFT JOIN resident_lapsed rl ON rl.npn = l.npn
ORDER BY l.line_id
"""


def _columns(
    frame: pd.DataFrame, columns: tuple[str, ...], optional: tuple[str, ...] = ()
) -> pd.DataFrame:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"line standing needs column(s): {', '.join(missing)}")
    out = frame.loc[:, list(columns)].copy()
    for column in optional:
        # A typed column: DuckDB would type a column of only None as NULL.
        out[column] = (
            frame[column]
            if column in frame.columns
            else pd.Series(None, index=frame.index, dtype="str")
        )
    return out


def evaluate_line_standing(
    lines: pd.DataFrame,
    licenses: pd.DataFrame,
    license_loas: pd.DataFrame,
    as_of: dt.date,
    *,
    threads: int = 2,
) -> pd.DataFrame:
    """Checks 6 to 8 per line (`LINE_COLUMNS`), as of `as_of`: `STANDING_COLUMNS`, one row
    per line_id. `failing_check` is None when the line stands, else the first check that
    fails (6, 7, 8; a state without a license of the line's class fails check 6), with its
    `risk_reason` in words and `at_risk_since` (module docstring)."""
    lines_in = _columns(lines, LINE_COLUMNS)
    licenses_in = _columns(licenses, LICENSE_COLUMNS, LICENSE_OPTIONAL_COLUMNS)
    loas_in = _columns(license_loas, LICENSE_LOA_COLUMNS)
    connection = duckdb.connect(":memory:", config={"threads": max(1, int(threads))})
    try:
        connection.register("lines_in", lines_in)
        connection.register("licenses_in", licenses_in)
        connection.register("license_loas_in", loas_in)
        result = connection.execute(_STANDING_SQL, {"as_of": as_of}).df()
    finally:
        connection.close()
    failing = result["failing_check"]
    result["failing_check"] = failing.astype("Int64")
    # Object columns with None, not pandas' text dtype (its missing value is NaN).
    result["risk_reason"] = pd.Series(
        [RISK_REASON_OF_CHECK.get(int(c)) if pd.notna(c) else None for c in failing],
        index=result.index,
        dtype=object,
    )
    for column in ("license_ok", "resident_ok", "line_ok"):
        result[column] = result[column].astype(bool)
    result["at_risk_since"] = pd.Series(
        [None if pd.isna(v) else pd.Timestamp(v).date() for v in result["at_risk_since"]],
        index=result.index,
        dtype=object,
    )
    for column in ("license_number", "license_class_code"):
        result[column] = pd.Series(
            [None if pd.isna(v) else str(v) for v in result[column]],
            index=result.index,
            dtype=object,
        )
    return result.loc[:, list(STANDING_COLUMNS)]
