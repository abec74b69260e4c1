"""Downloadable templates for the upload kinds (SPEC section 4). Pure: no Dagster, no I/O.

- `template_csv(kind)`: the header row only.
- `template_xlsx(kind, reference)`: the data sheet first (named for the kind; header bold,
  required headers shaded with a "Required" note; NPN, CoCode and SSN columns formatted as
  Text so Excel keeps leading zeros; drop-down lists for the single-value columns), then
  `accepted_values` (states, LOA categories, agent types, scorecard types, TRUE/FALSE, and a
  guide to every column), and for `terminate` and `offboard` a `termination_reason_key` sheet (each reason
  code, its description, the states accepting it and the states where it is the default).

The lists come from the reference tables and `schemas/uploads.py`, the same sources the
validator checks against, so the template cannot drift from what is accepted. Uploads are
read from the first sheet only: nobody has to delete the extra tabs.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping

import pandas as pd

from schemas.reference import JURISDICTION_CODES, LOA_CATEGORIES
from schemas.uploads import (
    AGENT_TYPES,
    BOOLEAN_VALUES,
    SCORECARD_TYPES,
    TEMPLATES,
    TemplateColumn,
)

__all__ = ["ACCEPTED_VALUES_SHEET", "REASON_KEY_SHEET", "template_csv", "template_xlsx"]

ACCEPTED_VALUES_SHEET = "accepted_values"
REASON_KEY_SHEET = "termination_reason_key"
_DROPDOWN_ROWS = 5000  # rows of the data sheet that get a drop-down list


def template_csv(kind: str) -> bytes:
    """The kind's header row as CSV (UTF-8, Excel line ending)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([c.header for c in TEMPLATES[kind]])
    return buffer.getvalue().encode("utf-8")


def _states(reference: Mapping[str, pd.DataFrame]) -> list[tuple[str, str]]:
    table = reference.get("jurisdictions")
    if table is None:
        return [(code, "") for code in JURISDICTION_CODES]
    rows = table[["state_code", "name"]].astype(str).sort_values("state_code")
    return list(rows.itertuples(index=False, name=None))


def _vocabularies(
    kind: str, reference: Mapping[str, pd.DataFrame]
) -> list[tuple[str, list[str], str | None]]:
    """(title, values, the template kind the list validates) for the accepted_values sheet."""
    kinds = {c.kind for c in TEMPLATES[kind]}
    states = _states(reference)
    lists: list[tuple[str, list[str], str | None]] = []
    if "states" in kinds:
        lists.append(("State code", [code for code, _ in states], None))
        lists.append(("State name", [name for _, name in states], None))
    if kinds & {"categories", "category", "loa"}:
        lists.append(("LOA Category", list(LOA_CATEGORIES), "category"))
    if "agent_type" in kinds:
        lists.append(("Agent Type", list(AGENT_TYPES), "agent_type"))
    if "scorecard_type" in kinds:
        lists.append(("Scorecard Type", list(SCORECARD_TYPES), "scorecard_type"))
    if "bool" in kinds:
        lists.append(("TRUE/FALSE", list(BOOLEAN_VALUES), "bool"))
    return lists


def _guide(column: TemplateColumn) -> str:
    notes = column.help or {
        "text": "text",
        "email": "an email address",
    }.get(column.kind, "")
    if column.multi and ";" not in notes:
        notes += " (several values: separate with ';', no spaces)"
    return notes.strip()


def _reason_key(reference: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    reasons = reference["termination_reasons"][["reason_code", "description"]].astype(str)
    by_state = reference["state_termination_reasons"][["state_code", "reason_code", "is_default"]]
    by_state = by_state.astype({"state_code": str, "reason_code": str}).sort_values("state_code")
    accepted = by_state.groupby("reason_code")["state_code"].agg(";".join)
    default = by_state[by_state["is_default"].astype(bool)]
    default = default.groupby("reason_code")["state_code"].agg(";".join)
    return pd.DataFrame(
        {
            "reason_code": reasons["reason_code"],
            "description": reasons["description"].replace({"nan": "", "<NA>": ""}),
            "states_accepting": reasons["reason_code"].map(accepted).fillna(""),
            "default_in_states": reasons["reason_code"].map(default).fillna(""),
        }
    )


def template_xlsx(kind: str, reference: Mapping[str, pd.DataFrame]) -> bytes:
    """The kind's XLSX template: data sheet first, then the accepted values (and reason key).

    `reference` is `load_reference_data()`'s result (or the same tables from the database):
    `jurisdictions`, and for terminate `termination_reasons` and `state_termination_reasons`.
    """
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    columns = TEMPLATES[kind]
    workbook = Workbook()
    data = workbook.active
    data.title = kind
    bold = Font(bold=True)
    required_fill = PatternFill("solid", fgColor="FFF2CC")
    for position, column in enumerate(columns, start=1):
        cell = data.cell(row=1, column=position, value=column.header)
        cell.font = bold
        if column.required:
            cell.fill = required_fill
            cell.comment = Comment("Required", "npnflow")
        letter = get_column_letter(position)
        data.column_dimensions[letter].width = max(14, len(column.header) + 4)
        if column.as_text:
            # Text format on the whole column: Excel keeps 01234 and 12345678901 as typed.
            data.column_dimensions[letter].number_format = "@"
    data.freeze_panes = "A2"

    accepted = workbook.create_sheet(ACCEPTED_VALUES_SHEET)
    lists = _vocabularies(kind, reference)
    ranges: dict[str, str] = {}
    for position, (title, values, validates) in enumerate(lists, start=1):
        letter = get_column_letter(position)
        accepted.cell(row=1, column=position, value=title).font = bold
        for offset, value in enumerate(values, start=2):
            accepted.cell(row=offset, column=position, value=value).data_type = "s"
        accepted.column_dimensions[letter].width = max(14, len(title) + 4)
        if validates:
            ranges[validates] = f"{ACCEPTED_VALUES_SHEET}!${letter}$2:${letter}${len(values) + 1}"
    guide_at = len(lists) + 2
    for offset, title in enumerate(("Column", "Required", "What to write")):
        accepted.cell(row=1, column=guide_at + offset, value=title).font = bold
    for row, column in enumerate(columns, start=2):
        accepted.cell(row=row, column=guide_at, value=column.header)
        accepted.cell(row=row, column=guide_at + 1, value="yes" if column.required else "")
        accepted.cell(row=row, column=guide_at + 2, value=_guide(column))
    accepted.column_dimensions[get_column_letter(guide_at)].width = 24
    accepted.column_dimensions[get_column_letter(guide_at + 2)].width = 80

    if kind in ("terminate", "offboard"):
        key = _reason_key(reference)
        sheet = workbook.create_sheet(REASON_KEY_SHEET)
        for position, title in enumerate(key.columns, start=1):
            sheet.cell(row=1, column=position, value=title).font = bold
        for row, values in enumerate(key.itertuples(index=False, name=None), start=2):
            for position, value in enumerate(values, start=1):
                sheet.cell(row=row, column=position, value=value)
        for letter, width in zip("ABCD", (32, 60, 40, 30), strict=True):
            sheet.column_dimensions[letter].width = width
        ranges["reason_code"] = f"{REASON_KEY_SHEET}!$A$2:$A${len(key) + 1}"

    # Drop-down lists on single-value columns; a warning, not a block, so pasting still works.
    for position, column in enumerate(columns, start=1):
        source = ranges.get(column.kind)
        if source is None:
            continue
        letter = get_column_letter(position)
        validation = DataValidation(
            type="list",
            formula1=f"={source}",
            allow_blank=True,
            errorStyle="warning",
            showErrorMessage=True,
            error=f"Not an accepted value: see {ACCEPTED_VALUES_SHEET}",
        )
        validation.add(f"{letter}2:{letter}{_DROPDOWN_ROWS + 1}")
        data.add_data_validation(validation)

    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
