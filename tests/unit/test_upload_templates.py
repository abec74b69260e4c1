"""Templates: the header the validator expects, lists generated from the reference tables."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from assets.reference.loading import load_reference_data
from assets.uploads.reading import detect_kind, read_upload
from assets.uploads.templates import template_csv, template_xlsx
from assets.uploads.validation import validate_upload
from schemas.reference import LOA_CATEGORIES
from schemas.uploads import AGENT_TYPES, FOLDER_ONLY_KINDS, KINDS, SCORECARD_TYPES, TEMPLATES

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def reference() -> dict[str, pd.DataFrame]:
    return load_reference_data(ROOT / "config" / "reference")


def _column(sheet, title: str) -> list[str]:
    header = [c.value for c in sheet[1]]
    position = header.index(title) + 1
    values = [
        row[0]
        for row in sheet.iter_rows(min_row=2, min_col=position, max_col=position, values_only=True)
    ]
    return [v for v in values if v is not None]


@pytest.mark.parametrize("kind", KINDS)
def test_the_csv_template_is_the_header_the_validator_expects(kind: str) -> None:
    data = template_csv(kind)
    assert data.decode("ascii") == ",".join(c.header for c in TEMPLATES[kind]) + "\r\n"
    with pytest.raises(Exception, match="no rows to process"):
        validate_upload(read_upload(data, "t.csv"), kind, {})
    folder = kind if kind in FOLDER_ONLY_KINDS else None  # never guessed from a header
    assert detect_kind(read_upload(data, "t.csv").headers, folder) == kind


@pytest.mark.parametrize("kind", KINDS)
def test_the_xlsx_template_has_the_data_sheet_first(kind: str, reference) -> None:
    workbook = load_workbook(io.BytesIO(template_xlsx(kind, reference)))
    expected = [kind, "accepted_values"] + (
        ["termination_reason_key"] if kind in ("terminate", "offboard") else []
    )
    assert workbook.sheetnames == expected
    data = workbook[kind]
    columns = TEMPLATES[kind]
    assert [c.value for c in data[1]] == [c.header for c in columns]
    assert data.max_row == 1
    for position, column in enumerate(columns, start=1):
        cell = data.cell(row=1, column=position)
        assert cell.font.bold
        assert (cell.comment is not None) is column.required
        letter = cell.column_letter
        text_format = data.column_dimensions[letter].number_format == "@"
        assert text_format is column.as_text, column.header
    assert any(c.as_text for c in columns)  # every kind has an NPN column kept as text
    raw = read_upload(template_xlsx(kind, reference), "t.xlsx")
    folder = kind if kind in FOLDER_ONLY_KINDS else None
    assert detect_kind(raw.headers, folder) == kind and raw.warnings == ()


def test_accepted_values_come_from_the_reference_tables(reference) -> None:
    workbook = load_workbook(io.BytesIO(template_xlsx("agent", reference)))
    sheet = workbook["accepted_values"]
    states = sorted(reference["jurisdictions"]["state_code"])
    assert _column(sheet, "State code") == states and len(states) == 54
    names = dict(
        zip(
            reference["jurisdictions"]["state_code"],
            reference["jurisdictions"]["name"],
            strict=True,
        )
    )
    assert _column(sheet, "State name") == [names[s] for s in states]
    assert _column(sheet, "LOA Category") == list(LOA_CATEGORIES)
    assert _column(sheet, "Agent Type") == list(AGENT_TYPES)
    assert _column(sheet, "Scorecard Type") == list(SCORECARD_TYPES)
    guide = _column(sheet, "Column")
    assert guide == [c.header for c in TEMPLATES["agent"]]

    appoint = load_workbook(io.BytesIO(template_xlsx("appoint", reference)))["accepted_values"]
    assert _column(appoint, "TRUE/FALSE") == ["TRUE", "FALSE"]
    assert "Scorecard Type" not in [c.value for c in appoint[1]]


def test_the_lists_follow_the_reference_tables_so_they_never_drift(reference) -> None:
    changed = dict(reference)
    changed["jurisdictions"] = reference["jurisdictions"][
        reference["jurisdictions"]["state_code"] != "GU"
    ]
    changed["termination_reasons"] = pd.concat(
        [
            reference["termination_reasons"],
            pd.DataFrame({"reason_code": ["RETIRED"], "description": ["Retired"], "source": [""]}),
        ],
        ignore_index=True,
    )
    workbook = load_workbook(io.BytesIO(template_xlsx("terminate", changed)))
    assert "GU" not in _column(workbook["accepted_values"], "State code")
    assert "RETIRED" in _column(workbook["termination_reason_key"], "reason_code")


def test_the_termination_reason_key(reference) -> None:
    workbook = load_workbook(io.BytesIO(template_xlsx("terminate", reference)))
    sheet = workbook["termination_reason_key"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("reason_code", "description", "states_accepting", "default_in_states")
    key = {row[0]: row for row in rows[1:]}
    assert set(key) == set(reference["termination_reasons"]["reason_code"])
    by_state = reference["state_termination_reasons"]
    for code, (_, description, accepting, default) in key.items():
        states = by_state[by_state["reason_code"] == code]
        assert (accepting or "").split(";") == sorted(states["state_code"]) or (
            not accepting and states.empty
        )
        defaults = sorted(states.loc[states["is_default"], "state_code"])
        assert (default or "") == ";".join(defaults)
        assert (
            description
            == reference["termination_reasons"].set_index("reason_code").at[code, "description"]
        )
    assert key["CANCELLED"][3] == "GA;IL;TX"


def test_drop_down_lists_point_at_the_accepted_values(reference) -> None:
    workbook = load_workbook(io.BytesIO(template_xlsx("agent", reference)))
    validations = {
        str(v.sqref): v.formula1 for v in workbook["agent"].data_validations.dataValidation
    }
    assert validations["J2:J5001"] == "=accepted_values!$D$2:$D$3"  # Agent Type
    assert validations["I2:I5001"] == "=accepted_values!$E$2:$E$3"  # Scorecard Type
    assert not any(s.startswith(("G", "H")) for s in validations)  # lists take several values


def test_a_filled_in_template_validates(reference) -> None:
    workbook = load_workbook(io.BytesIO(template_xlsx("agent", reference)))
    sheet = workbook["agent"]
    sheet.append(["0900001", "Ann", "Lee", "0012345678", "ann@example.com", "", "Life",
                  "CA;TX", "License", "Producer", ""])  # fmt: skip
    buffer = io.BytesIO()
    workbook.save(buffer)
    raw = read_upload(buffer.getvalue(), "filled.xlsx")
    validated = validate_upload(raw, detect_kind(raw.headers), reference)
    assert validated.rows_valid == 1
    # The Text cells come back as typed (a number would have lost its zeros silently); the
    # NPNs are then read as NIPR writes them, each change said on the row.
    assert validated.warnings["message"].tolist() == [
        "Agency NPN 0900001 read as 900001",
        "Agent NPN 0012345678 read as 12345678",
    ]
    assert validated.valid_rows.at[0, "npn"] == "12345678"


def test_the_analyst_docs_list_every_column_and_value() -> None:
    docs = (ROOT / "docs" / "uploads.md").read_text(encoding="utf-8")
    for kind, columns in TEMPLATES.items():
        assert f"`{kind}`" in docs
        for column in columns:
            assert f"| {column.header} |" in docs or f"`{column.header}`" in docs, column.header
    for value in (*LOA_CATEGORIES, *AGENT_TYPES, *SCORECARD_TYPES):
        assert value in docs
