"""The reference data: NIPR's workbook and the editable reference CSVs beside it. Pure.

`load_reference_data(reference_dir)` reads `nipr_workbook/` (`workbook.py`) and the CSVs
(`jurisdictions.csv`, `loa_categories.csv`, `state_fees.csv`, `nipr_transaction_fees.csv`,
...), types and validates every table with its pandera model (`schemas/reference.py`), then
checks the tables against each other (an LOA category's line exists in the workbook, every
jurisdiction has its fee rows, each transaction kind its NIPR fee, ...).
It returns one DataFrame per table, with exactly the table's columns, or raises one
`ConfigError` listing every problem. Separate from the company setup (`company_setup.py`):
this is NIPR's and the states' data, the same for every customer.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from assets.reference.config_files import (
    ConfigError,
    ConfigProblem,
    finish,
    keys_of,
    no_row,
    pandera_problems,
    read_csv_file,
    row_number,
    type_columns,
)
from assets.reference.renewal_checks import renewal_problems
from assets.reference.workbook import WORKBOOK_FILES, read_workbook
from schemas.reference import (
    JURISDICTION_CODES,
    REFERENCE_MODELS,
    TRANSACTION_KINDS,
    columns_of,
)

WORKBOOK_DIR = "nipr_workbook"
#: Every reference table, in the order they are loaded (and their models are declared).
REFERENCE_KEYS: tuple[str, ...] = tuple(REFERENCE_MODELS)
#: The tables NIPR's workbook export gives; the others are CSV files of the same name.
WORKBOOK_TABLES = ("license_classes", "lines_of_authority", "license_class_loas")
CSV_TABLES = tuple(t for t in REFERENCE_KEYS if t not in WORKBOOK_TABLES)
_JURISDICTIONS = frozenset(JURISDICTION_CODES)


def load_reference_data(reference_dir: Path) -> dict[str, pd.DataFrame]:
    """Every reference table, validated, from `reference_dir` (normally `config/reference`).

    Keys: jurisdictions, license_classes, lines_of_authority, license_class_loas,
    producer_license_classes, loa_categories, termination_reasons, state_termination_reasons,
    state_fees, state_appointment_rules, nipr_transaction_fees, state_appointment_renewals.
    Raises ConfigError listing every problem.
    """
    reference_dir = Path(reference_dir)
    problems: list[ConfigProblem] = []
    frames: dict[str, pd.DataFrame] = {}

    workbook_dir = reference_dir / WORKBOOK_DIR
    missing = [name for name in WORKBOOK_FILES if not (workbook_dir / name).is_file()]
    for name in missing:
        problems.append(
            ConfigProblem(
                f"{WORKBOOK_DIR}/{name}",
                None,
                None,
                None,
                f"file not found ({workbook_dir / name}): restore NIPR's workbook export",
            )
        )
    if not missing:
        try:
            frames.update(read_workbook(workbook_dir))
        except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
            problems.append(ConfigProblem(WORKBOOK_DIR, None, None, None, str(error)))
    for table in WORKBOOK_TABLES:
        if table in frames:
            label = f"{WORKBOOK_DIR} ({table})"
            problems += pandera_problems(frames[table], REFERENCE_MODELS[table], label, no_row)

    for table in CSV_TABLES:
        label = f"{table}.csv"
        raw = read_csv_file(reference_dir / label, label, problems)
        if raw is None:
            continue
        model = REFERENCE_MODELS[table]
        columns = columns_of(model)
        frame = type_columns(raw, model, label, row_number, problems)
        frame = frame[columns] if not frame.empty or set(columns) <= set(frame) else frame
        problems += pandera_problems(frame, model, label, row_number)
        frames[table] = frame

    problems += _reference_cross_checks(frames)
    if problems:
        raise ConfigError(problems)
    return {table: finish(frames[table], REFERENCE_MODELS[table]) for table in REFERENCE_KEYS}


def _reference_cross_checks(frames: dict[str, pd.DataFrame]) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []

    def per_row(
        table: str, bad: pd.Series, message: Callable[[pd.Series], str], value: str
    ) -> None:
        frame = frames[table]
        for index, row in frame[bad].iterrows():
            problems.append(
                ConfigProblem(f"{table}.csv", row_number(index), None, row[value], message(row))
            )

    if "jurisdictions" in frames:
        listed = set(frames["jurisdictions"]["state_code"])
        for state in sorted(_JURISDICTIONS - listed):
            problems.append(
                ConfigProblem(
                    "jurisdictions.csv",
                    None,
                    "state_code",
                    state,
                    f"jurisdiction {state!r} is missing: all 54 must be listed",
                )
            )

    if "lines_of_authority" in frames and "loa_categories" in frames:
        known = keys_of(frames["lines_of_authority"], ["state_code", "loa_code"])
        frame = frames["loa_categories"]
        bad = pd.Series(
            [
                k not in known
                for k in frame[["state_code", "loa_code"]].itertuples(index=False, name=None)
            ],  # noqa: E501
            index=frame.index,
            dtype=bool,
        )
        per_row(
            "loa_categories",
            bad,
            lambda r: (
                f"LOA {r['loa_code']!r} is not a line of "
                f"authority of {r['state_code']} in NIPR's workbook"
            ),
            "loa_code",
        )

    if "license_classes" in frames and "producer_license_classes" in frames:
        known = keys_of(frames["license_classes"], ["state_code", "license_class_code"])
        frame = frames["producer_license_classes"]
        pairs = frame[["state_code", "license_class_code"]].itertuples(index=False, name=None)
        bad = pd.Series([k not in known for k in pairs], index=frame.index, dtype=bool)
        per_row(
            "producer_license_classes",
            bad,
            lambda r: (
                f"license class "
                f"{r['license_class_code']!r} is not a class of {r['state_code']} in NIPR's "
                "workbook"
            ),
            "license_class_code",
        )

    if "termination_reasons" in frames and "state_termination_reasons" in frames:
        known_reasons = set(frames["termination_reasons"]["reason_code"])
        frame = frames["state_termination_reasons"]
        per_row(
            "state_termination_reasons",
            ~frame["reason_code"].isin(known_reasons),
            lambda r: (
                f"reason code {r['reason_code']!r} ({r['state_code']}) is not in "
                "termination_reasons.csv"
            ),
            "reason_code",
        )

    # Every jurisdiction needs a producer class, both fee rows and a rules row: without them
    # eligibility has no line, no fee estimate or no JIT rule for the state.
    completeness = [
        ("producer_license_classes", None, "has no producer license class"),
        ("state_fees", "appointment", "has no appointment fee row"),
        ("state_fees", "termination", "has no termination fee row"),
        ("state_appointment_rules", None, "has no appointment rules row"),
    ]
    for table, kind, message in completeness:
        if table not in frames:
            continue
        frame = frames[table]
        if kind is not None:
            frame = frame[frame["transaction_kind"] == kind]
        for state in sorted(_JURISDICTIONS - set(frame["state_code"])):
            problems.append(
                ConfigProblem(
                    f"{table}.csv", None, "state_code", state, f"state {state!r} {message}"
                )
            )

    # Both kinds are sent through NIPR: without a row a batch estimate would leave NIPR's fee
    # out, and the customer would be billed more than the approver was shown.
    if "nipr_transaction_fees" in frames:
        listed_kinds = set(frames["nipr_transaction_fees"]["transaction_kind"])
        for kind in TRANSACTION_KINDS:
            if kind not in listed_kinds:
                problems.append(
                    ConfigProblem(
                        "nipr_transaction_fees.csv",
                        None,
                        "transaction_kind",
                        kind,
                        f"transaction kind {kind!r} has no NIPR fee row: add one with the fee "
                        "on the customer's NIPR invoice",
                    )
                )

    # Renewals: a row per jurisdiction, real month-days, fees where a state renews.
    if "state_appointment_renewals" in frames:
        problems += renewal_problems(frames["state_appointment_renewals"])
    return problems
