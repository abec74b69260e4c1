"""The rules of `state_appointment_renewals.csv` that one cell's type cannot say. Pure.

Called by `reference_data.py` after the pandera model (`StateAppointmentRenewalsModel`) typed
and checked each cell. Each problem names the file, the row and the column, so an analyst can
fix the file in one pass (docs/reference-data.md, docs/renewals.md):

- every jurisdiction has a row (the plan must never skip a state silently);
- `window_start`, `window_end` are `MM-DD` days every year has, or blank; `termination_cutoff`
  is one, or `unknown`; a window end needs its start;
- a state that renews has both fees and their basis (without them the liability is unknown);
- a perpetual or unknown rule carries no window, cut-off or fee (they would contradict it);
- an `unknown` rule is marked `is_assumption` (never guessed silently);
- NIPR's processing fee applies only to renewals NIPR invoices.
"""

from __future__ import annotations

from collections.abc import Hashable

import pandas as pd

from assets.reference.config_files import ConfigProblem, is_blank, row_number
from assets.rules.month_days import parse_month_day
from schemas.reference import JURISDICTION_CODES, RENEWING_KINDS, UNKNOWN

FILE = "state_appointment_renewals.csv"
_WINDOW = ("window_start", "window_end")
_FEES = ("fee_resident", "fee_nonresident", "fee_basis")


def renewal_problems(frame: pd.DataFrame) -> list[ConfigProblem]:
    """Every cross-column problem of the typed renewal table (empty: the file is right)."""
    problems: list[ConfigProblem] = []

    def problem(index: Hashable | None, column: str, value: object, message: str) -> None:
        row = None if index is None else row_number(index)
        problems.append(ConfigProblem(FILE, row, column, value, message))

    for state in sorted(set(JURISDICTION_CODES) - set(frame["state_code"])):
        problem(
            None,
            "state_code",
            state,
            f"state {state!r} has no renewal row: add one "
            "(renews unknown, is_assumption true, if no source gives its rule)",
        )

    for index, row in frame.iterrows():
        state = row["state_code"]
        for column in _WINDOW:
            value = row[column]
            if not is_blank(value) and parse_month_day(str(value)) is None:
                problem(
                    index,
                    column,
                    value,
                    f"{value!r} ({state}) is not a day as MM-DD "
                    "(e.g. 04-01), or blank when the state publishes no window",
                )
        cutoff = row["termination_cutoff"]
        if cutoff != UNKNOWN and parse_month_day(str(cutoff)) is None:
            problem(
                index,
                "termination_cutoff",
                cutoff,
                f"{cutoff!r} ({state}) is not a day "
                f"as MM-DD (e.g. 03-27), or '{UNKNOWN}' when no source gives the cut-off",
            )
        if is_blank(row["window_start"]) and not is_blank(row["window_end"]):
            problem(
                index,
                "window_start",
                "",
                f"{state} has a window end but no start: give "
                "both, or only the start (the day the invoice is built)",
            )
        renews = row["renews"]
        if renews in RENEWING_KINDS:
            for column in _FEES:
                if is_blank(row[column]):
                    problem(
                        index,
                        column,
                        "",
                        f"{state} renews ({renews}) but {column} is "
                        "blank: give the state's renewal fee (an estimate marked "
                        "is_assumption true if unpublished)",
                    )
        else:
            given = [c for c in (*_WINDOW, *_FEES) if not is_blank(row[c])]
            if cutoff != UNKNOWN:
                given.append("termination_cutoff")
            for column in given:
                problem(
                    index,
                    column,
                    row[column],
                    f"{state} renews {renews!r}: {column} "
                    "must be blank (a fee or date would contradict the rule)",
                )
            if row["nipr_processing_fee"]:
                problem(
                    index,
                    "nipr_processing_fee",
                    True,
                    f"{state} renews {renews!r}: no NIPR processing fee applies",
                )
        if renews == UNKNOWN and not row["is_assumption"]:
            problem(
                index,
                "is_assumption",
                False,
                f"{state}'s renewal rule is unknown: mark the row is_assumption true",
            )
        if row["nipr_processing_fee"] and row["renewed_through"] != "nipr":
            problem(
                index,
                "nipr_processing_fee",
                True,
                f"{state} renews through "
                f"{row['renewed_through']!r}: NIPR's processing fee applies only to "
                "renewals NIPR invoices (renewed_through nipr)",
            )
    return problems
