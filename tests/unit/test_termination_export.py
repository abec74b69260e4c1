"""The terminate export: which report lines become template rows, and the files they make."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from assets.reference.loading import load_reference_data
from assets.terminations.export import (
    TerminateExportError,
    terminate_csv,
    terminate_rows_from_report,
    terminate_xlsx,
)
from assets.uploads.reading import read_upload
from schemas.uploads import TEMPLATES

ROOT = Path(__file__).resolve().parents[2]
HEADERS = [c.header for c in TEMPLATES["terminate"]]
NPN, STATES, LOA, COCODE, REASON, DATE, SUBMIT = HEADERS


@pytest.fixture(scope="module")
def reference() -> dict[str, pd.DataFrame]:
    return load_reference_data(ROOT / "config" / "reference")


def _line(npn, state, loa_code, loa_name, status="Appointed", cocode="01234", **more) -> dict:
    """One report row, with every column the report has (most are not exported)."""
    return {
        "npn": npn,
        "producer_name": f"Producer {npn}",
        "first_name": "Pat",
        "last_name": f"Smith {npn}",
        "agency_name": None,
        "state_code": state,
        "license_number": f"L-{npn}-{state}",
        "loa_code": loa_code,
        "loa_name": loa_name,
        "cocode": cocode,
        "company_name": "Harborstone Life",
        "appointment_status": status,
        "appointment_effective_date": "2024-01-15",
        **more,
    }


@pytest.fixture
def report() -> pd.DataFrame:
    return pd.DataFrame(
        [
            _line("10000002", "TX", "16", "Life"),
            _line("10000002", "CA", "935", "Accident & Health or Sickness"),
            _line("10000002", "CA", "16", "Life"),
            # Two licenses of one producer show the same line twice: one termination row.
            _line("10000002", "CA", "16", "Life", license_number="L-second"),
            _line("0012345", "CA", "823", "Accident and Health"),
            _line("0012345", "TX", "823", "Accident and Health"),
            _line("0012345", "AL", "4353", "LIFE, DISABILITY AND ANNUITIES"),
            _line("900", "NY", "11", "Casualty"),
            # Not exported: not Appointed, or another company's.
            _line("10000003", "CA", "16", "Life", status="Terminated"),
            _line("10000004", "CA", "16", "Life", status="Not Appointed"),
            _line("10000005", "TX", "16", "Life", status=None),
            _line("10000006", "CA", "11", "Casualty", cocode="99999"),
        ]
    )


def _keys(rows: pd.DataFrame) -> list[tuple[str, str, str]]:
    return list(zip(rows[NPN], rows[STATES], rows[LOA], strict=True))


# --------------------------------------------------------------------------------------------
# Which lines
# --------------------------------------------------------------------------------------------


def test_every_appointed_line_of_the_cocode_once_sorted_by_npn_state_and_line(report):
    rows = terminate_rows_from_report(report, "01234")
    assert list(rows.columns) == HEADERS
    # NPNs and loa codes in numeric order (900 before 12345, 16 before 935); the report's
    # padded 0012345 is written as NIPR writes it.
    assert _keys(rows) == [
        ("900", "NY", "11"),
        ("12345", "AL", "4353"),
        ("12345", "CA", "823"),
        ("12345", "TX", "823"),
        ("10000002", "CA", "16"),
        ("10000002", "CA", "935"),
        ("10000002", "TX", "16"),
    ]
    assert set(rows[COCODE]) == {"01234"}
    assert set(rows[REASON]) == {""} and set(rows[DATE]) == {""}
    assert set(rows[SUBMIT]) == {"FALSE"}
    assert rows.attrs["appointed_lines_of_cocode"] == 7


def test_status_is_matched_without_letter_case_and_other_statuses_are_left_out(report):
    report.loc[report["npn"] == "900", "appointment_status"] = " APPOINTED "
    rows = terminate_rows_from_report(report, "01234")
    assert ("900", "NY", "11") in _keys(rows)
    assert not {"10000003", "10000004", "10000005", "10000006"} & set(rows[NPN])


def test_states_filter_takes_any_case_commas_semicolons_and_repeats(report):
    rows = terminate_rows_from_report(report, "01234", states=["ca, ny", "tx;"])
    assert set(rows[STATES]) == {"CA", "NY", "TX"}
    only_ca = terminate_rows_from_report(report, "01234", states="ca")
    assert set(only_ca[STATES]) == {"CA"} and len(only_ca) == 3


def test_loas_by_code_match_that_code_in_every_chosen_state(report):
    rows = terminate_rows_from_report(report, "01234", loas=["16"])
    assert _keys(rows) == [("10000002", "CA", "16"), ("10000002", "TX", "16")]


def test_loas_by_name_any_case_and_spacing_match_per_state_and_write_the_code(report):
    # CA and TX call 823 "Accident and Health"; CA's 935 has another name and is not taken.
    rows = terminate_rows_from_report(report, "01234", loas=["  accident   AND health "])
    assert _keys(rows) == [("12345", "CA", "823"), ("12345", "TX", "823")]
    both = terminate_rows_from_report(report, "01234", states=["CA"], loas=["life;935"])
    assert _keys(both) == [("10000002", "CA", "16"), ("10000002", "CA", "935")]


def test_a_line_name_with_a_comma_is_kept_whole(report):
    rows = terminate_rows_from_report(report, "01234", loas=["life, disability and annuities"])
    assert _keys(rows) == [("12345", "AL", "4353")]


def test_a_line_known_only_by_name_is_written_by_name(report):
    report.loc[report["npn"] == "900", "loa_code"] = None
    rows = terminate_rows_from_report(report, "01234", states=["NY"])
    assert _keys(rows) == [("900", "NY", "Casualty")]


def test_numbers_from_the_database_are_read_as_codes(report):
    # A driver may hand back a CoCode or an NPN as a number: 1234 is CoCode 01234.
    report["cocode"] = report["cocode"].map(lambda c: int(c) if c == "01234" else c)
    report["npn"] = report["npn"].astype(object).map(lambda n: 900.0 if n == "900" else n)
    rows = terminate_rows_from_report(report, "01234", states=["NY"])
    assert _keys(rows) == [("900", "NY", "11")] and list(rows[COCODE]) == ["01234"]


def test_lines_without_npn_state_or_line_are_counted_not_written(report):
    report = pd.concat(
        [report, pd.DataFrame([_line(None, "CA", "16", "Life"), _line("1", "CA", None, None)])]
    )
    rows = terminate_rows_from_report(report, "01234", states=["CA"])
    assert rows.attrs["incomplete_lines"] == 2 and len(rows) == 3


def test_reason_effective_date_and_submit_immediately_are_written_on_every_row(report):
    rows = terminate_rows_from_report(
        report,
        "01234",
        states=["TX"],
        termination_reason_code="voluntary termination",
        effective_date=dt.date(2026, 2, 1),
        submit_immediately=True,
        reason_codes=["VOLUNTARY_TERMINATION", "DEATH"],
    )
    assert set(rows[REASON]) == {"VOLUNTARY_TERMINATION"}
    assert set(rows[DATE]) == {"2026-02-01"}
    assert set(rows[SUBMIT]) == {"TRUE"}
    as_text = terminate_rows_from_report(report, "01234", effective_date="2026-02-01")
    assert set(as_text[DATE]) == {"2026-02-01"}


# --------------------------------------------------------------------------------------------
# Errors an analyst acts on
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cocode", "expected"),
    [
        ("1234", r"CoCode '1234' must be exactly 5 digits.*leading zero lost\? CoCode '01234'"),
        ("12a45", r"CoCode '12a45' must be exactly 5 digits, the company's NAIC CoCode\.$"),
        ("=1+2", r"CoCode ''=1\+2' must be exactly 5 digits"),
    ],
)
def test_a_cocode_that_is_not_5_digits(report, cocode, expected):
    with pytest.raises(TerminateExportError, match=expected):
        terminate_rows_from_report(report, cocode)


def test_unknown_state_codes_are_named(report):
    with pytest.raises(TerminateExportError) as error:
        terminate_rows_from_report(report, "01234", states=["CA;XX", "zz"])
    assert error.value.message.startswith("'XX', 'ZZ' are not state codes (--states)")
    assert "two-letter NIPR codes" in error.value.message


def test_a_filter_given_empty_is_an_error_not_everything(report):
    with pytest.raises(TerminateExportError, match=r"--states\) was given but names no state"):
        terminate_rows_from_report(report, "01234", states=[" ; "])
    with pytest.raises(TerminateExportError, match=r"--loas\) was given but names no line"):
        terminate_rows_from_report(report, "01234", loas=[""])


def test_a_loa_that_matches_no_line_in_the_chosen_states_is_named_with_the_lines_there(report):
    with pytest.raises(TerminateExportError) as error:
        terminate_rows_from_report(report, "01234", states=["CA"], loas=["16", "Lfe"])
    message = error.value.message
    assert message.startswith(
        "Line of authority 'Lfe' (--loas) matches no line in the report for CA"
    )
    assert "This CoCode's Appointed lines there: 16 (Life), 823 (Accident and Health), " in message
    # A real line, but not in the chosen states: still no line there.
    with pytest.raises(TerminateExportError, match="'4353' .* matches no line .* for CA, TX"):
        terminate_rows_from_report(report, "01234", states=["CA", "TX"], loas=["4353"])


def test_no_appointed_line_matching_says_which_filters_and_how_many_the_cocode_has(report):
    with pytest.raises(TerminateExportError) as error:
        # Casualty is a line in CA (another company's), so it is no typo: nothing to terminate.
        terminate_rows_from_report(report, "01234", states=["ca"], loas=["casualty"])
    assert error.value.message == (
        "No Appointed lines of CoCode 01234 match the filters (applied: states CA; lines of "
        "authority casualty). The CoCode has 7 Appointed line(s) in the report in total, in AL, "
        "CA, NY, TX: widen or correct the filters."
    )


def test_a_cocode_without_appointed_lines(report):
    with pytest.raises(TerminateExportError, match="CoCode 55555 has no Appointed lines in the"):
        terminate_rows_from_report(report, "55555")


def test_an_unknown_reason_and_a_bad_date_are_named(report):
    with pytest.raises(TerminateExportError, match=r"reason 'retired' \(--reason\) is not a"):
        terminate_rows_from_report(
            report, "01234", termination_reason_code="retired", reason_codes=["DEATH"]
        )
    with pytest.raises(TerminateExportError, match=r"date '02/01/2026' \(--effective-date\)"):
        terminate_rows_from_report(report, "01234", effective_date="02/01/2026")


def test_a_report_without_the_columns_it_needs(report):
    with pytest.raises(TerminateExportError, match="has no column.* loa_code: .*rebuild them"):
        terminate_rows_from_report(report.drop(columns=["loa_code"]), "01234")


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


def _csv_cells(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"))))


def _formula_report() -> pd.DataFrame:
    return pd.DataFrame(
        [
            # Only template columns are written: this producer name never reaches the file.
            _line(
                "0012345",
                "CA",
                None,
                '=HYPERLINK("http://x","Life")',
                producer_name="=cmd|' /C calc'!A0",
            ),
            _line("0012345", "TX", "@SUM(A1)", "Life"),
        ]
    )


def test_the_csv_is_the_template_with_codes_as_typed_and_formulas_neutralised():
    rows = terminate_rows_from_report(
        _formula_report(), "01234", termination_reason_code="+1"
    )  # no reason_codes: the unchecked value still reaches the file, so it must be safe
    cells = _csv_cells(terminate_csv(rows))
    assert cells[0] == HEADERS
    assert cells[1] == [
        "12345", "CA", "'=HYPERLINK(\"http://x\",\"Life\")", "01234", "'+1", "", "FALSE",
    ]  # fmt: skip
    assert cells[2] == ["12345", "TX", "'@SUM(A1)", "01234", "'+1", "", "FALSE"]
    assert "calc" not in terminate_csv(rows).decode()
    assert read_upload(terminate_csv(rows), "t.csv").frame[NPN].tolist() == ["12345"] * 2


def test_the_xlsx_is_the_template_filled_with_text_cells(reference):
    rows = terminate_rows_from_report(
        _formula_report(), "01234", termination_reason_code="@x", submit_immediately=True
    )
    data = terminate_xlsx(rows, reference)
    workbook = load_workbook(io.BytesIO(data))
    assert workbook.sheetnames == ["terminate", "accepted_values", "termination_reason_key"]
    sheet = workbook["terminate"]
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0] == HEADERS
    assert values[1:] == [
        ["12345", "CA", '\'=HYPERLINK("http://x","Life")', "01234", "'@X", None, "TRUE"],
        ["12345", "TX", "'@SUM(A1)", "01234", "'@X", None, "TRUE"],
    ]
    # Text cells, and Text-formatted NPN/CoCode cells: Excel keeps CoCode 01234 if it is edited.
    assert all(c.data_type == "s" for row in sheet.iter_rows(min_row=2) for c in row if c.value)
    assert sheet["A2"].number_format == "@" and sheet["D3"].number_format == "@"
    assert sheet["A1"].font.b and sheet["A1"].comment.text == "Required"
    assert len(sheet.data_validations.dataValidation) > 0  # the template's drop-down lists
    assert not any("calc" in str(c.value) for row in sheet.iter_rows() for c in row)
    assert read_upload(data, "t.xlsx").frame[NPN].tolist() == ["12345"] * 2


def test_writers_refuse_frames_that_are_not_the_template():
    with pytest.raises(ValueError, match="terminate template's columns"):
        terminate_csv(pd.DataFrame({"npn": ["1"]}))


def test_a_cocode_without_appointed_lines_is_said_before_any_filter_is_checked(report):
    with pytest.raises(TerminateExportError, match="CoCode 55555 has no Appointed lines"):
        terminate_rows_from_report(report, "55555", states=["CA"], loas=["no such line"])
    empty = pd.DataFrame(columns=list(report.columns))
    with pytest.raises(TerminateExportError, match="CoCode 01234 has no Appointed lines"):
        terminate_rows_from_report(empty, "01234")
