"""Appointment eligibility's evidence (issue 19): the rows that decided each result row. Pure.

`evaluate_appointment_requests` returns, after its `RESULT_COLUMNS`, the `EVIDENCE_COLUMNS` of
`assets/rules/evidence.py` for every row, Request Rejected and Not Eligible included. The rules
(`eligibility_checks`) say which check decided (`decided_by`) and carry what they read as they
read it: the license considered, its line (check 8), the appointment check 9 found, the
company's state setting and the producer assignment (checks 2 and 4). This module adds the
rest: check 7's resident license, the business rule, the producer's sync status, the state rule
and fee rows, and NIPR's data_as_of.

`EVIDENCE_SQL` continues the rules' WITH list after `checked` (one row per result row, repeats
included): the carried columns are renamed to their evidence names, each other piece is one CTE
joined to the result's rows, and no big frame (license_loas, appointments) is read a second
time. Three kinds of value are left to pandas (`evidence_columns`), because carrying them
through DuckDB costs more than the rules: the columns only the evidence reads
(`EVIDENCE_INPUT_COLUMNS`: issue and effective dates, picked by row position for the result's
rows only), values the result's own columns give (the license, the line, the JIT setting), and
text repeated on every row of a state (the state rule and fee provenance, looked up once per
state). No Dagster, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping

import duckdb
import numpy as np
import pandas as pd

from assets.appointments.eligibility_inputs import (
    SCOPE_REPORTS_INPUT,
    STATE_RULES_INPUT,
)
from assets.rules import evidence
from assets.rules.accepted_appointments import SOURCE_COLUMN as ACCEPTED_COLUMN
from assets.rules.evidence import EVIDENCE_FIELDS, EVIDENCE_PREFIX
from assets.rules.line_standing import license_active_sql
from assets.rules.values import flag, one_date_or_text, one_text

# NIPR's scope categories (`nipr_scope_reports.category`) the evidence reads.
LICENSING_SCOPE = "LICENSING"
APPOINTMENTS_SCOPE = "APPOINTMENTS"
# The frame registered for the evidence beside the rules' inputs (`data_as_of_evidence`).
DATA_AS_OF_EVIDENCE = "data_as_of_evidence_in"
# `appointment_row.from_frame`: which frame check 9's row is in.
_FROM_APPOINTMENTS = 1
_FROM_TRANSACTIONS = 2

# The evidence fields the SQL gives, as SQL over the aliases of `EVIDENCE_SQL`'s last SELECT.
# A Request Rejected row has no license, line or company: the joins that give those are
# limited to the other rows, so they are NULL there.
_FIELD_SQL: dict[str, str] = {
    "decided_by": "k.decided_by",
    "producer_sync_status": "p.sync_status",
    "producer_is_active": "p.is_active",
    "license_is_active": "k.license_is_active",
    "license_expiration_date": "k.license_expiration_date",
    "loa_is_active": "k.loa_is_active",
    "resident_state_code": "er.state_code",
    "resident_license_number": "er.license_number",
    "resident_expiration_date": "er.expiration_date",
    "rule_license_class_code": "eb.rule_license_class_code",
    "rule_loa_category": "eb.rule_loa_category",
    "company_in_state": "k.company_in_state",
    "assignment_required": "k.assignment_required",
    "assignment_found": "k.assignment_found",
    "appointment_status": "k.appointment_status",
    "fee_resident": "CASE WHEN NOT k.is_rejected THEN k.resident_fee END",
    "fee_nonresident": "CASE WHEN NOT k.is_rejected THEN k.nonresident_fee END",
    "fee_per_loa": "CASE WHEN NOT k.is_rejected THEN k.per_loa END",
    "licensing_data_as_of": "d.licensing_data_as_of",
    "appointments_data_as_of": "d.appointments_data_as_of",
}
# The input rows `evidence_columns` picks the evidence-only columns of (`INPUT_ROW` positions).
_ROW_SQL: dict[str, str] = {
    "license_row": "k.license_row",
    "loa_row": "k.loa_row",
    "appointment_row": "k.appointment_row",
    "appointment_frame": "k.appointment_frame",
}
# The fields filled in pandas: the license and JIT setting the result row names already, the
# line (the result's, where the license holds it at all), the evidence-only columns, the
# state's rule and fee provenance, the engine's version, and SPEC 7's termination reason, which
# no appointment rule reads.
_FIELDS_FROM_RESULT = {
    "license_number": "license_number",
    "license_class_code": "license_class_code",
    "license_is_resident": "is_resident",
    "company_is_jit": "is_jit",  # the result's is_jit is the company's state setting
}
_PICKED_FIELDS = (
    "license_issue_date",
    "loa_issue_date",
    "appointment_effective_date",
    "appointment_source",
)
_STATE_FIELDS = ("state_rule_source", "state_rule_is_assumption", "fee_source", "fee_is_assumption")
_FILLED_FIELDS = (
    *_FIELDS_FROM_RESULT,
    "loa_code",
    *_PICKED_FIELDS,
    *_STATE_FIELDS,
    "engine_version",
    "state_reason_code",
)
assert sorted((*_FIELD_SQL, *_FILLED_FIELDS)) == sorted(evidence.EVIDENCE_NAMES), (
    "the evidence must give every field of the contract, once"
)
#: The columns `EVIDENCE_SQL` adds (the result's SQL reads them out).
SQL_EVIDENCE_COLUMNS = (
    *(EVIDENCE_PREFIX + name for name in _FIELD_SQL),
    *(EVIDENCE_PREFIX + name for name in _ROW_SQL),
)

# The rules' columns that are evidence as they stand: renamed, not copied, so the `evaluated`
# table holds each once.
_CARRIED = tuple(
    sql.removeprefix("k.")
    for sql in (*_FIELD_SQL.values(), *_ROW_SQL.values())
    if sql.startswith("k.") and sql[2:].isidentifier()
)

EVIDENCE_SQL = (
    """
-- Check 7's resident license: of the producer's active, unexpired resident licenses (the
-- condition of `active_resident`), the one lasting longest, then the lowest number.
evidence_resident AS (
    SELECT lic.npn, lic.state_code, lic.license_number, lic.expiration_date
    FROM license_typed lic
    WHERE lic.is_resident AND """
    + license_active_sql("lic")
    + """
    QUALIFY row_number() OVER (
        PARTITION BY lic.npn
        ORDER BY lic.expiration_date DESC NULLS FIRST, lic.license_number, lic.state_code) = 1
),
-- The business rule that put the line in the request (SPEC 6.2): of the company's active rules
-- of the line in the state and category, the one of the license's class, else of any class.
-- Chosen once per (company, state, line, category, class) of the result, not per row.
evidence_rule_key AS (
    SELECT DISTINCT cocode, state_code, loa_code, loa_category, license_class_code
    FROM checked WHERE loa_code IS NOT NULL AND NOT is_rejected
),
evidence_rule AS (
    SELECT k.*, g.license_class_code AS rule_license_class_code,
           g.loa_category AS rule_loa_category
    FROM evidence_rule_key k
    JOIN business_rule g
      ON g.cocode = k.cocode AND g.state_code = k.state_code AND g.loa_code = k.loa_code
     AND (k.license_class_code IS NULL OR g.license_class_code IS NULL
          OR g.license_class_code = k.license_class_code)
    WHERE g.loa_category = k.loa_category
       OR EXISTS (SELECT 1 FROM category_of_line m
                  WHERE m.state_code = g.state_code AND m.loa_code = g.loa_code
                    AND m.loa_category = k.loa_category)
    QUALIFY row_number() OVER (
        PARTITION BY k.cocode, k.state_code, k.loa_code, k.loa_category, k.license_class_code
        ORDER BY g.license_class_code IS NOT DISTINCT FROM k.license_class_code DESC,
                 g.license_class_code NULLS FIRST, g.loa_category = k.loa_category DESC,
                 g.loa_category) = 1
),
-- One row per producer, should the frame repeat an NPN.
evidence_producer AS (
    SELECT npn, min(sync_status) AS sync_status, bool_and(is_active) AS is_active
    FROM producer_typed GROUP BY npn
)
SELECT k.* EXCLUDE ("""
    + ", ".join(_CARRIED)
    + """),
"""
    + ",\n".join(
        f"       {sql} AS {EVIDENCE_PREFIX}{name}"
        for name, sql in (*_FIELD_SQL.items(), *_ROW_SQL.items())
    )
    + f"""
FROM checked k
LEFT JOIN evidence_producer p ON p.npn = k.npn
LEFT JOIN evidence_resident er ON k.license_number IS NOT NULL AND er.npn = k.npn
LEFT JOIN evidence_rule eb
  ON NOT k.is_rejected AND eb.cocode = k.cocode AND eb.state_code = k.state_code
 AND eb.loa_code = k.loa_code AND eb.loa_category = k.loa_category
 AND eb.license_class_code IS NOT DISTINCT FROM k.license_class_code
LEFT JOIN {DATA_AS_OF_EVIDENCE} d
  ON NOT k.is_rejected AND d.npn = k.npn AND d.state_code = k.state_code
"""
)


def date_deciders(effective_dates: pd.Series, date_reasons: np.ndarray) -> np.ndarray:
    """Per request row, which row check 10's reason comes from: the request itself for a date
    that cannot be read, the state's rule for a limit it breaks; None when the date passes.

    `appointment_date_reasons` refuses a date that cannot be read (text, not a date) before any
    state limit, so the value given tells the two apart without reading the reason's words.
    """
    deciders = np.full(len(date_reasons), None, dtype=object)
    # Only the refused rows: most uploads refuse none.
    for row in np.flatnonzero(pd.notna(date_reasons)):
        unreadable = isinstance(one_date_or_text(effective_dates.iloc[row]), str)
        deciders[row] = (
            evidence.DECIDED_BY_REQUEST if unreadable else evidence.DECIDED_BY_STATE_RULE
        )
    return deciders


def state_evidence(
    rules: pd.DataFrame | None, fees: pd.DataFrame | None, transaction_kind: str
) -> dict[str, dict[str, object]]:
    """Per state code, the provenance of its rows: `state_rule_source` and
    `state_rule_is_assumption` of `state_appointment_rules` (a repeated state's last row, as the
    date limits read it), `fee_source` and `fee_is_assumption` of its `state_fees` row of
    `transaction_kind` (the highest source text and any assumption, as the fee's own columns
    are grouped). States in capitals; a column a frame lacks reads as None."""
    by_state: dict[str, dict[str, object]] = {}
    for state, source, assumption in _rows(rules, "state_code", "source", "is_assumption"):
        code = one_text(state)
        if code is not None:
            entry = by_state.setdefault(code.upper(), {})
            entry["state_rule_source"] = one_text(source)
            entry["state_rule_is_assumption"] = flag(assumption)
    for state, kind, source, assumption in _rows(
        fees, "state_code", "transaction_kind", "source", "is_assumption"
    ):
        code = one_text(state)
        if code is None or one_text(kind) != transaction_kind:
            continue
        entry = by_state.setdefault(code.upper(), {})
        text, assumed = one_text(source), flag(assumption)
        known = entry.get("fee_source")
        if text is not None and (not isinstance(known, str) or text > known):
            entry["fee_source"] = text
        if assumed is not None:
            entry["fee_is_assumption"] = bool(entry.get("fee_is_assumption")) or assumed
    return by_state


def _rows(frame: pd.DataFrame | None, *columns: str) -> list[tuple[object, ...]]:
    """The rows of `frame`'s columns, None for a column it lacks; none without a frame."""
    if frame is None or frame.empty or columns[0] not in frame.columns:
        return []
    values = [frame[c].tolist() if c in frame.columns else [None] * len(frame) for c in columns]
    return list(zip(*values, strict=True))


def data_as_of_evidence(scope_reports: pd.DataFrame | None) -> pd.DataFrame:
    """npn, state_code, licensing_data_as_of, appointments_data_as_of: the latest data_as_of
    of NIPR's LICENSING and APPOINTMENTS scopes per producer and state (naive UTC), from
    `nipr_scope_reports`; empty without it."""
    columns = ["npn", "state_code", "licensing_data_as_of", "appointments_data_as_of"]
    needed = ("npn", "state_code", "category", "data_as_of")
    if (
        scope_reports is None
        or scope_reports.empty
        or any(c not in scope_reports.columns for c in needed)
    ):
        return pd.DataFrame(
            {
                "npn": pd.Series(dtype="str"),
                "state_code": pd.Series(dtype="str"),
                "licensing_data_as_of": pd.Series(dtype="datetime64[us]"),
                "appointments_data_as_of": pd.Series(dtype="datetime64[us]"),
            }
        )
    frame = pd.DataFrame(
        {
            "npn": [one_text(v) for v in scope_reports["npn"]],
            "state_code": [
                (one_text(v) or "").upper() or None for v in scope_reports["state_code"]
            ],
            "category": [one_text(v) for v in scope_reports["category"]],
            "data_as_of": pd.to_datetime(
                scope_reports["data_as_of"], utc=True, errors="coerce", format="mixed"
            ).to_numpy(),
        }
    )
    frame = frame[frame["category"].isin([LICENSING_SCOPE, APPOINTMENTS_SCOPE])]
    latest = (
        frame.dropna(subset=["npn", "state_code"])
        .groupby(["npn", "state_code", "category"])["data_as_of"]
        .max()
        .unstack("category")
        .reindex(columns=[LICENSING_SCOPE, APPOINTMENTS_SCOPE])
    )
    out = latest.reset_index().rename(
        columns={
            LICENSING_SCOPE: "licensing_data_as_of",
            APPOINTMENTS_SCOPE: "appointments_data_as_of",
        }
    )
    for column in ("licensing_data_as_of", "appointments_data_as_of"):
        values = pd.to_datetime(out[column], utc=True)
        out[column] = values.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")
    return out.loc[:, columns].astype({"npn": "str", "state_code": "str"})


def register_evidence_frames(
    connection: duckdb.DuckDBPyConnection, inputs: Mapping[str, pd.DataFrame]
) -> None:
    """Register the frame `EVIDENCE_SQL` reads beside the rules' inputs."""
    connection.register(DATA_AS_OF_EVIDENCE, data_as_of_evidence(inputs.get(SCOPE_REPORTS_INPUT)))


def evidence_columns(
    result: Mapping[str, np.ndarray | pd.Series],
    fetched: Mapping[str, np.ndarray],
    inputs: Mapping[str, pd.DataFrame],
    transaction_kind: str,
    engine_version: str,
) -> dict[str, np.ndarray]:
    """`EVIDENCE_COLUMNS` of the result's rows, as arrays of plain Python values (text, flags
    and money as objects, dates as `datetime.date`, timestamps as UTC `pd.Timestamp`; None for
    NULL): those of the SQL from `fetched` (`SQL_EVIDENCE_COLUMNS` of the same rows, as
    DuckDB's `fetchnumpy` gives them: masked where NULL), the others (`_FILLED_FIELDS`) from
    the result's own columns (`result`: plain arrays of `RESULT_COLUMNS`), the `inputs` rows the
    SQL points at, and the state's rows (`state_evidence`). Request Rejected rows keep their
    producer's evidence only."""
    length = len(result["state_code"])
    kinds = dict(EVIDENCE_FIELDS)
    out: dict[str, np.ndarray] = {}

    def put(name: str, values: np.ndarray) -> None:
        out[EVIDENCE_PREFIX + name] = values

    for name in _FIELD_SQL:
        given = fetched.get(EVIDENCE_PREFIX + name)
        put(name, plain_values(given, kinds[name]) if given is not None else _nones(length))
    for name, column in _FIELDS_FROM_RESULT.items():
        # A copy: the result frame wraps its columns' arrays (`copy=False`), so a shared array
        # would tie an in-place edit of one column to the other.
        put(name, np.array(result[column], dtype=object))

    license_rows = _positions(fetched.get(EVIDENCE_PREFIX + "license_row"), length)
    loa_rows = _positions(fetched.get(EVIDENCE_PREFIX + "loa_row"), length)
    appointment_rows = _positions(fetched.get(EVIDENCE_PREFIX + "appointment_row"), length)
    frame_of = _positions(fetched.get(EVIDENCE_PREFIX + "appointment_frame"), length)
    # The line found on the license is the result's line (joined on it); none without a row.
    line = np.asarray(result["loa_code"], dtype=object).copy()
    line[loa_rows < 0] = None
    put("loa_code", line)
    put("license_issue_date", _pick_dates(inputs.get("licenses"), "issue_date", license_rows))
    put("loa_issue_date", _pick_dates(inputs.get("license_loas"), "issue_date", loa_rows))
    synced = np.where(frame_of == _FROM_APPOINTMENTS, appointment_rows, -1)
    recorded = np.where(frame_of == _FROM_TRANSACTIONS, appointment_rows, -1)
    effective = _pick_dates(inputs.get("appointments"), "effective_date", synced)
    effective[recorded >= 0] = _pick_dates(inputs.get("transactions"), "effective_date", recorded)[
        recorded >= 0
    ]
    put("appointment_effective_date", effective)
    accepted = _pick(inputs.get("appointments"), ACCEPTED_COLUMN, synced)
    found_in = _nones(length)
    found_in[synced >= 0] = evidence.APPOINTMENT_FROM_NIPR
    found_in[(synced >= 0) & pd.notna(accepted)] = evidence.APPOINTMENT_FROM_ACCEPTED
    found_in[recorded >= 0] = evidence.APPOINTMENT_FROM_REGISTRY
    put("appointment_source", found_in)

    # One look-up per state, not per row.
    by_state = state_evidence(
        inputs.get(STATE_RULES_INPUT), inputs.get("state_fees"), transaction_kind
    )
    codes, states = pd.factorize(np.asarray(result["state_code"], dtype=object))
    rejected = out[EVIDENCE_PREFIX + "decided_by"] == evidence.DECIDED_BY_PRODUCER
    for name in _STATE_FIELDS:
        per_state = np.array(
            [by_state.get(str(state).upper(), {}).get(name) for state in states] + [None],
            dtype=object,
        )
        array = per_state[codes]  # code -1 (no state) takes the trailing None
        array[rejected] = None
        put(name, array)
    put("engine_version", np.full(length, engine_version, dtype=object))
    put("state_reason_code", _nones(length))
    return out


def plain_values(values: np.ndarray, kind: str = "text") -> np.ndarray:
    """A column as DuckDB's `fetchnumpy` gives it (masked where NULL) as Python objects of its
    kind (`EVIDENCE_FIELDS`; text for any other column), None where NULL. Dates and timestamps
    are converted once per distinct value: a column repeats few."""
    data = np.ma.getdata(values)
    missing = np.ma.getmaskarray(values)
    if kind in ("date", "timestamp") and len(data):
        codes, distinct = pd.factorize(data)  # NaT: code -1
        stamps = pd.DatetimeIndex(distinct)
        converted = (
            stamps.date if kind == "date" else stamps.tz_localize("UTC").to_numpy(dtype=object)
        )
        lookup = np.full(len(distinct) + 1, None, dtype=object)  # the last: code -1 (NaT)
        lookup[: len(distinct)] = converted
        plain = lookup[codes]
    elif data.dtype == object:
        plain = data  # fetchnumpy's own array; NULL is None already, set again below
    else:
        plain = data.astype(object)  # numpy flags and numbers to Python's
    plain[missing] = None
    return plain


def _nones(length: int) -> np.ndarray:
    return np.full(length, None, dtype=object)


def _positions(values: np.ndarray | None, length: int) -> np.ndarray:
    """Row positions (or another whole number) as int64, -1 for NULL."""
    if values is None:
        return np.full(length, -1, dtype=np.int64)
    data = np.ma.getdata(values).astype(np.int64)
    return np.where(np.ma.getmaskarray(values), -1, data)


def _pick(frame: pd.DataFrame | None, column: str, rows: np.ndarray) -> np.ndarray:
    """`frame[column]` at the positions `rows` (-1: none) as objects, None where none or the
    frame or column is absent. Only the rows asked for are read."""
    picked = np.full(len(rows), None, dtype=object)
    if frame is None or column not in frame.columns:
        return picked
    wanted = rows >= 0
    picked[wanted] = frame[column].iloc[rows[wanted]].to_numpy(dtype=object)
    return picked


def _pick_dates(frame: pd.DataFrame | None, column: str, rows: np.ndarray) -> np.ndarray:
    """`_pick` for a date column: `datetime.date`, None where missing or unreadable (as TRY_CAST
    reads it). Vectorised: a date column as read may be datetime64, dates or text."""
    picked = np.full(len(rows), None, dtype=object)
    if frame is None or column not in frame.columns:
        return picked
    wanted = rows >= 0
    values = frame[column].iloc[rows[wanted]]
    if not pd.api.types.is_datetime64_any_dtype(values.dtype):
        values = pd.to_datetime(values, errors="coerce", utc=True, format="mixed")
    picked[wanted] = plain_values(values.to_numpy(), "date")
    return picked
