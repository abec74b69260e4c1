"""Termination eligibility (SPEC section 7): which termination requests become transactions. Pure.

No Dagster, no database: `evaluate_termination_requests` takes the request rows of a
`terminate` upload (`ValidatedUpload.exploded()`, one row per request, state and line) and the
SPEC section 3 tables as DataFrames, and returns one row per request row: its reason, status
and fee (`RESULT_COLUMNS`), then the evidence of the decision (`EVIDENCE_COLUMNS` of
`assets/rules/evidence.py`, issue 19: the rows it read and which one decided it).

Per row, the first failing check sets the reason and the status `Not Eligible`:

1. `Appointment Not Found`: no `Appointed` appointment for npn, state, CoCode and loa_code.
2. `Terminations Not Filed Through NIPR In <state_code>`: the state's
   `state_appointment_rules.terminations_via_nipr` is false (NY ends appointments on the DFS
   portal; IL is a registry state where the carrier keeps its own register). Said on the
   transaction, never sent: NIPR would refuse it and the customer would still pay for the try.
3. `Termination Reason Required`: the reason is blank and the state has no single default.
4. `Termination Reason <code> Not Accepted In <state_code>`: the code is not among the state's
   reasons.
5. Effective date limits of `state_appointment_rules` (DOMAIN 3.4), for a date the user gave
   (blank: the state's processing date, always accepted):
   - `Effective Date Not Specifiable In <state_code>` where `termination_date_specifiable` is
     false (TX, NY use their processing date: the date asked for would not be honoured);
   - `Future Effective Date Not Accepted In <state_code>` for a date after `as_of`, in every
     state (each state with a known rule refuses it; a future termination is dropped later);
   - `Effective Date More Than <N> Days Back Not Accepted In <state_code>` for a date before
     `as_of` minus `termination_max_backdate_days` (FL 33, NJ 60, PA 30, VA 29, WA 14).
   - `Effective Date <value> Unreadable`: a date that cannot be read is not guessed at.

Otherwise `In Good Standing`, `Ready to Submit`.

Decisions where SPEC leaves room (always the side that charges no fee nobody asked for):

- A blank loa_code is looked up by loa_name (any case, surrounding spaces ignored) in
  `lines_of_authority` for the state; a name that maps to no code or to several stays
  unresolved, so the row is `Appointment Not Found`.
- A state with several `is_default` reasons has no single default: a blank reason there is
  `Termination Reason Required` rather than a guess sent to NIPR.
- Reason codes match case-insensitively; the resolved code is spelled as the state's table
  spells it. When `termination_reasons` is given, a state reason missing from it is not
  accepted.
- Unknown is not true: an unreadable Submit Immediately does not auto-submit, an appointment
  status other than `Appointed` (any case) is not appointed.
- Fees: the state's `termination` row of `state_fees`; `resident_fee` when a license of the
  producer in the state is resident, `nonresident_fee` when its licenses there are known and
  non-resident, the higher of the two when residency is unknown. No fee row: 0. `per_loa`
  false: the first Ready row of each (npn, state, CoCode) in the result carries the fee, the
  others 0. Not Eligible rows: 0. NIPR's own fee (`estimated_nipr_fee`): the `termination` row
  of `nipr_transaction_fees` (an optional input; absent: 0) on every Ready row, 0 otherwise.
- Repeats: a Ready row is left out of the result when an open termination transaction exists
  for the same npn, state, CoCode and loa_code, or when an earlier request row of the same call
  terminates the same line (one NIPR transaction each would be charged twice). Also when NIPR
  already ACCEPTED a termination of that line on or after the appointment's effective date:
  `appointments` changes only with the next NIPR sync, and until then the line still reads
  Appointed, so a second drop would pay for the same termination again. (A re-appointment has
  a later effective date and can be terminated again.) What was left out is in
  `result.attrs["repeats"]`; Not Eligible rows are never left out (the audit).
- `state_appointment_rules` absent (unit worlds): no state rule applies. A state missing from a
  given table has no known rule either: NIPR, not a guess of ours, then decides.
- `as_of` (default: the machine's date; the pipeline's steps pass today on NIPR's calendar, `assets/rules/business_day.py`) is the date the effective-date limits count from.

Frames may arrive as read from a database or files: keys as numbers or text, booleans as
objects ('true', 1, None), dates as strings; keys are compared as trimmed text.

This module runs the checks in order and picks each row's reason; the parts live beside it, by
what they do:
- `eligibility_vocabulary`: statuses, reasons and the result's columns;
- `eligibility_values`: text, flags, dates and line keys as the rules compare them;
- `eligibility_frames`: the frames read (and their columns), and the frames returned;
- `eligibility_checks`: line, appointment, termination reason and company look-ups;
- `eligibility_state_rules`: filing through NIPR and the effective-date limits;
- `eligibility_repeats`: Ready rows that would file a termination twice;
- `eligibility_fees`: the estimated fee;
- `eligibility_evidence`: the rows each decision read, and which of them decided it.
Their public names are re-exported here, the import path the SPEC gives.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Mapping
from typing import Final

import numpy as np
import pandas as pd

from assets.rules import effective_dates, nipr_fees, values
from assets.rules.evidence import EVIDENCE_COLUMNS, engine_version
from assets.rules.nipr_fees import NIPR_FEES_INPUT, nipr_fee_table
from assets.terminations import (
    eligibility_checks,
    eligibility_evidence,
    eligibility_fees,
    eligibility_frames,
    eligibility_repeats,
    eligibility_state_rules,
    eligibility_values,
    eligibility_vocabulary,
)
from assets.terminations.eligibility_checks import (
    company_names,
    has_appointment,
    resolve_lines,
    resolve_reasons,
)
from assets.terminations.eligibility_evidence import decided_by, with_evidence
from assets.terminations.eligibility_fees import fees
from assets.terminations.eligibility_frames import (
    EXTRA_INPUT_COLUMNS,
    INPUT_COLUMNS,
    OPTIONAL_INPUTS,
    REQUEST_COLUMNS,
    REQUEST_OPTIONAL_COLUMNS,
    empty_repeats,
    finish,
    input_frame,
    request_frame,
)
from assets.terminations.eligibility_repeats import drop_repeats
from assets.terminations.eligibility_state_rules import state_rules
from assets.terminations.eligibility_values import flag, normalise_keys, producer_state_keys
from assets.terminations.eligibility_vocabulary import (
    APPOINTMENT_APPOINTED,
    BATCH_AUTO,
    BATCH_REVIEW,
    KEY,
    OPEN_STATUSES,
    REASON_APPOINTMENT_NOT_FOUND,
    REASON_IN_GOOD_STANDING,
    REASON_REASON_REQUIRED,
    REPEAT_COLUMNS,
    REPEAT_IN_REQUESTS,
    REPEAT_OF_ACCEPTED,
    REPEAT_OF_OPEN_TRANSACTION,
    RESULT_COLUMNS,
    TRANSACTION_KIND,
    backdate_reason,
    batch_key,
    date_not_specifiable_reason,
    future_date_reason,
    not_accepted_reason,
    not_via_nipr_reason,
    unreadable_date_reason,
)
from schemas.statuses import NOT_ELIGIBLE, READY_TO_SUBMIT

__all__ = [
    "APPOINTMENT_APPOINTED",
    "ENGINE_VERSION",
    "BATCH_AUTO",
    "BATCH_REVIEW",
    "EXTRA_INPUT_COLUMNS",
    "INPUT_COLUMNS",
    "KEY",
    "OPEN_STATUSES",
    "OPTIONAL_INPUTS",
    "REASON_APPOINTMENT_NOT_FOUND",
    "REASON_IN_GOOD_STANDING",
    "REASON_REASON_REQUIRED",
    "REPEAT_COLUMNS",
    "REPEAT_IN_REQUESTS",
    "REPEAT_OF_ACCEPTED",
    "REPEAT_OF_OPEN_TRANSACTION",
    "REQUEST_COLUMNS",
    "REQUEST_OPTIONAL_COLUMNS",
    "RESULT_COLUMNS",
    "NOT_ELIGIBLE",
    "READY_TO_SUBMIT",
    "TRANSACTION_KIND",
    "backdate_reason",
    "batch_key",
    "date_not_specifiable_reason",
    "evaluate_termination_requests",
    "future_date_reason",
    "not_accepted_reason",
    "not_via_nipr_reason",
    "unreadable_date_reason",
]

#: The rules that make a termination's decision, named on each row's evidence (digest of their
#: source: it changes whenever a rule does). This module is one of them: it orders the checks.
ENGINE_VERSION: Final = engine_version(
    TRANSACTION_KIND,
    sys.modules[__name__],
    eligibility_checks,
    eligibility_evidence,
    eligibility_fees,
    eligibility_frames,
    eligibility_repeats,
    eligibility_state_rules,
    eligibility_values,
    eligibility_vocabulary,
    effective_dates,
    nipr_fees,
    values,
)


def evaluate_termination_requests(
    requests: pd.DataFrame,
    inputs: Mapping[str, pd.DataFrame],
    as_of: dt.date | None = None,
) -> pd.DataFrame:
    """One row per request row (repeats left out, see the module docstring), sorted by
    request_row, state_code, loa_code; `result.attrs["repeats"]` lists what was left out."""
    # A datetime (a date to the type checker) is read as its day: a date compared with a
    # datetime raises TypeError.
    # A caller of the pure engine gets the machine's date; every pipeline step passes NIPR's
    # business day (assets/rules/business_day.py).
    as_of_date = dt.date.today() if as_of is None else pd.Timestamp(as_of).date()
    frames = {name: input_frame(inputs, name) for name in INPUT_COLUMNS}
    req = request_frame(requests)
    if req.empty:
        columns = (*RESULT_COLUMNS, *EVIDENCE_COLUMNS)
        return finish(req.assign(**{c: None for c in columns}), empty_repeats())

    req = resolve_lines(req, frames["lines_of_authority"])
    # The appointments' line keys, read once: three steps look lines up in a book's table.
    appointment_keys = normalise_keys(frames["appointments"])
    req["has_appointment"] = has_appointment(req, frames["appointments"], appointment_keys)
    req = resolve_reasons(req, frames["state_termination_reasons"], frames["termination_reasons"])
    req = state_rules(req, frames["state_appointment_rules"], as_of_date)

    failing = _failing_checks(req)
    req["eligibility_reason"] = _first_failing_reason(req, failing)
    req["decided_by"] = decided_by(failing)
    ready = req["eligibility_reason"] == REASON_IN_GOOD_STANDING
    req["status"] = np.where(ready, READY_TO_SUBMIT, NOT_ELIGIBLE)
    req["auto_submit"] = req["submit_immediately"].map(flag).eq(True)
    req["batch_key"] = [
        batch_key(c, a) for c, a in zip(req["cocode"], req["auto_submit"], strict=True)
    ]
    req["company_name"] = company_names(req, frames["companies"])

    req = req.sort_values(["request_row", "state_code", "loa_code", "_pos"], na_position="last")
    req, repeats = drop_repeats(
        req, frames["transactions"], frames["appointments"], appointment_keys
    )
    # The licenses' producer and state, read once: the fee and the evidence look them up.
    license_keys = producer_state_keys(frames["licenses"])
    req = fees(
        req,
        frames["state_fees"],
        frames["licenses"],
        license_keys,
        nipr_fee_table(inputs.get(NIPR_FEES_INPUT)),
    )
    evidence_keys = {"appointments": appointment_keys, "licenses": license_keys}
    return finish(with_evidence(req, frames, evidence_keys, ENGINE_VERSION), repeats)


def _failing_checks(req: pd.DataFrame) -> list[pd.Series]:
    """Per check, in the module docstring's order, the rows it fails (`DECIDED_BY_OF_CHECK`
    names the row each one reads, in the same order)."""
    return [
        ~req["has_appointment"],
        ~req["via_nipr"],
        req["termination_reason_code"].isna(),
        ~req["accepted"],
        req["date_unreadable"],
        req["date_not_specifiable"],
        req["date_in_future"],
        req["date_too_old"],
    ]


def _first_failing_reason(req: pd.DataFrame, failing: list[pd.Series]) -> np.ndarray:
    """Per row, the reason of the first failing check; `In Good Standing` when every check
    passes."""
    states = req["state_code"]
    not_accepted = [
        not_accepted_reason(code, state) if code is not None else None
        for code, state in zip(req["given_reason"], states, strict=True)
    ]
    backdated = [
        backdate_reason(int(days), state) if pd.notna(days) else None
        for days, state in zip(req["max_backdate_days"], states, strict=True)
    ]
    return np.select(
        failing,
        [
            REASON_APPOINTMENT_NOT_FOUND,
            _texts(not_via_nipr_reason, states),
            REASON_REASON_REQUIRED,
            np.array(not_accepted, dtype=object),
            _texts(unreadable_date_reason, req["unreadable_date"]),
            _texts(date_not_specifiable_reason, states),
            _texts(future_date_reason, states),
            np.array(backdated, dtype=object),
        ],
        default=REASON_IN_GOOD_STANDING,
    )


def _texts(make: Callable[[str], str], values: pd.Series) -> np.ndarray:
    """`make(value)` per value, None where the value is None: one reason text per row."""
    return np.array([make(v) if v is not None else None for v in values], dtype=object)
