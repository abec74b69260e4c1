"""The bad-input corpus (`tests/fixtures/uploads/`): every file's outcome, as an analyst sees it.

`CORPUS` says, for each file, either the whole-file rejection (a phrase of its message) or the
counts, the rejected rows with their columns, phrases of specific messages and warnings. It is
the contract of `tests/fixtures/uploads/README.md`. Files are read and validated exactly as
the pipeline will: `read_upload` -> `detect_kind` (folder or header) -> `validate_upload`.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from assets.reference.loading import load_company_config, load_reference_data
from assets.uploads.error_report import error_report_csv, error_report_frame, error_report_xlsx
from assets.uploads.reading import RawUpload, UploadRejected, detect_kind, read_upload
from assets.uploads.validation import ValidatedUpload, validate_upload

ROOT = Path(__file__).resolve().parents[2]
CORPUS_DIR = ROOT / "tests" / "fixtures" / "uploads"


@dataclass(frozen=True)
class Expect:
    rejected: str | None = None  # a phrase of the whole-file message
    kind: str | None = None
    total: int | None = None
    blank: int = 0
    valid: int | None = None
    errors: dict[int, set[str]] = field(default_factory=dict)  # row -> columns with an error
    messages: dict[tuple[int, str], str] = field(default_factory=dict)  # phrase per cell
    warnings: tuple[str, ...] = ()  # phrases, each in some warning
    warning_count: int | None = None
    check: Callable[[RawUpload, ValidatedUpload], None] | None = None


def _names(raw: RawUpload, validated: ValidatedUpload) -> None:
    names = set(validated.valid_rows["first_name"]) | set(validated.valid_rows["last_name"])
    assert {"José", "Núñez", "Zoë", "Brontë"} <= names
    assert raw.encoding == "cp1252"


def _newlines(raw: RawUpload, validated: ValidatedUpload) -> None:
    # Read intact (the quoted line breaks do not split rows), then refused: a line break in a
    # name would break the invitation email's header later.
    assert raw.frame.at[2, "First Name"] == "Ann\r\nMarie"
    assert raw.frame.at[3, "Last Name"] == "Ray\nJr"
    assert raw.row_numbers == [2, 3, 4]
    assert validated.valid_rows.empty


def _trailing(raw: RawUpload, validated: ValidatedUpload) -> None:
    assert len(raw.headers) == 11 and len(raw.frame.columns) == 11


def _leading_zeros(raw: RawUpload, validated: ValidatedUpload) -> None:
    # The text cell keeps what was typed; the NPN is then read as NIPR writes it, with a
    # warning on the row (schemas/npns.py).
    assert raw.frame.isin(["0010000112"]).any().any()
    assert "10000112" in set(validated.valid_rows["npn"])
    assert "Agent NPN 0010000112 read as 10000112" in set(validated.warnings["message"])


def _bom(raw: RawUpload, validated: ValidatedUpload) -> None:
    assert raw.encoding == "utf-8-sig" and raw.headers[0] == "Agency NPN"
    assert validated.valid_rows.at[0, "first_name"] == "Renée"


def _xlsx_numbers(raw: RawUpload, validated: ValidatedUpload) -> None:
    assert raw.frame.loc[2, "Agent NPN"] == "12345678"  # stored as the float 12345678.0
    assert raw.frame.loc[3, "Agent NPN"] == "12345679"  # stored as 1.2345679E7
    assert raw.frame.loc[2, "Agency NPN"] == "9000001"
    assert set(validated.valid_rows["npn"]) == {"12345678", "12345680"}  # typed 0012345680


def _xlsx_dates(raw: RawUpload, validated: ValidatedUpload) -> None:
    assert raw.frame.loc[2, "Effective Date"] == "2025-03-01"
    assert raw.frame.loc[2, "Submit"] == "TRUE"
    rows = validated.valid_rows.set_index("row_number")
    assert rows.at[2, "submit"] and not rows.at[2, "submit_just_in_time"]
    assert rows.at[3, "submit_just_in_time"] and not rows.at[3, "submit"]
    assert rows.at[2, "effective_date"] == pd.Timestamp("2025-03-01")


def _appoint_mapping(raw: RawUpload, validated: ValidatedUpload) -> None:
    rows = validated.valid_rows.set_index("row_number")
    assert rows.at[3, "loa_category"] == "Life"  # Line of Authority "Life" mapped
    assert rows.at[6, "loa_category"] == "Life"  # NIPR code 16 in NY mapped
    assert rows.at[2, "effective_date"] == pd.Timestamp("2025-01-05")  # US date 1/5/2025
    assert rows.at[2, "submit"]
    requests = validated.exploded()
    assert sorted(requests.loc[requests["request_row"] == 2, "state_code"]) == ["CA", "TX"]


def _terminate_lines(raw: RawUpload, validated: ValidatedUpload) -> None:
    requests = validated.exploded()
    ms = requests[requests["request_row"] == 4]
    assert set(ms["loa_code"]) == {"54", "64"}  # MS lists two "Travel" lines
    assert (ms["effective_date"] == pd.Timestamp("2025-03-15")).all()
    row2 = requests[requests["request_row"] == 2]
    assert set(row2["state_code"]) == {"CA", "TX"} and set(row2["loa_code"]) == {"16"}


def _ssn_masked(raw: RawUpload, validated: ValidatedUpload) -> None:
    shown = " ".join(validated.row_errors["value"]) + " ".join(validated.row_errors["message"])
    assert "123-45-678" not in shown and "***-**-5678" in shown


# Issue 13: SSNs and characters


def _shown_texts(raw: RawUpload, validated: ValidatedUpload) -> list[str]:
    """Everything a person reads about the file: row errors (values and messages), warnings,
    and every cell of both error reports."""
    from openpyxl import load_workbook

    texts = [*validated.row_errors["value"], *validated.row_errors["message"]]
    texts += list(validated.warnings["message"])
    if validated.rows_rejected:
        texts.append(error_report_csv(raw, validated).decode("utf-8-sig"))
        workbook = load_workbook(io.BytesIO(error_report_xlsx(raw, validated)), read_only=True)
        for row in workbook.worksheets[0].iter_rows(values_only=True):
            texts += [str(c) for c in row if c is not None]
        workbook.close()
    return texts


def _digits_of(text: str) -> str:
    """Digits as ASCII, with the separators an SSN is written with (and invisible characters)
    taken out, so an SSN is found in any of its shapes."""
    text = "".join(str(unicodedata.digit(c)) if c.isdigit() else c for c in text)
    return re.sub(r"[\s.\-\u00ad\u200b-\u200d\u2060\ufeff]", "", text)


def _no_ssn_digits(*ssns: str) -> Callable[[RawUpload, ValidatedUpload], None]:
    """No SSN of `ssns` shows more than its last four digits anywhere a person reads, nor
    anywhere in `valid_rows` but the SSN column."""

    def check(raw: RawUpload, validated: ValidatedUpload) -> None:
        valid = validated.valid_rows.drop(columns=["ssn", "ssn_last4"], errors="ignore")
        texts = [*_shown_texts(raw, validated), valid.astype(str).to_csv()]
        for text in map(_digits_of, texts):
            for ssn in ssns:
                assert ssn[:5] not in text, (ssn, text[:300])

    return check


def _ssns_elsewhere(raw: RawUpload, validated: ValidatedUpload) -> None:
    _no_ssn_digits("372581946", "481627359", "593712468", "684027135", "715392846", "826135792")(
        raw, validated
    )
    assert validated.valid_rows[["ssn", "ssn_last4"]].values.tolist() == [["826135792", "5792"]]


def _ssn_column(raw: RawUpload, validated: ValidatedUpload) -> None:
    _no_ssn_digits("937412586", "948523697", "95963480")(raw, validated)
    report = list(csv.reader(io.StringIO(error_report_csv(raw, validated).decode("utf-8-sig"))))
    assert report[0][-1] == "Social Security Number"
    assert [row[-1] for row in report[1:]] == ["***-**-3697", "***-**-3480"]


def _unicode_digits(raw: RawUpload, validated: ValidatedUpload) -> None:
    _no_ssn_digits("372194658", "593712468")(raw, validated)
    assert validated.valid_rows[["npn", "ssn", "ssn_last4"]].values.tolist() == [
        ["10000736", "604823579", "3579"]
    ]


def _no_control_characters(raw: RawUpload, validated: ValidatedUpload) -> None:
    control = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
    for text in [*_shown_texts(raw, validated), validated.valid_rows.astype(str).to_csv()]:
        assert not control.search(text), repr(text[:200])


def _late_nul(raw: RawUpload, validated: ValidatedUpload) -> None:
    assert len(raw.frame.to_csv().encode()) > 65_536  # the reader's own look covers 64 KB
    _no_control_characters(raw, validated)
    values = validated.row_errors.set_index("row_number")["value"]
    assert values[1002] == "713\ufffd00132" and values[1003] == "An\ufffdn"
    assert len(validated.valid_rows) == 1000


def _zero_width(raw: RawUpload, validated: ValidatedUpload) -> None:
    rows = validated.valid_rows.set_index("row_number")
    assert rows.loc[3, ["first_name", "last_name", "state_codes"]].tolist() == [
        "Bob", "D\u00edaz", "CA"
    ]  # fmt: skip
    invisible = re.compile(r"[\u00ad\u200b-\u200d\u2060\ufeff]")
    assert not invisible.search(validated.valid_rows.astype(str).to_csv())


def _appoint_ssns(raw: RawUpload, validated: ValidatedUpload) -> None:
    _no_ssn_digits("372194658", "483205769")(raw, validated)
    assert list(validated.exploded()["npn"]) == ["10000761"]


def _xlsx_ssns(raw: RawUpload, validated: ValidatedUpload) -> None:
    _no_ssn_digits("594817263", "605928374")(raw, validated)
    report = error_report_frame(raw, validated)
    assert report["Soc Sec #"].tolist() == ["", "***-**-8374"]


CORPUS: dict[str, tuple[str | None, dict[str, int], Expect]] = {
    "agent_valid.csv": (None, {}, Expect(kind="agent", total=3, valid=3, warning_count=0)),
    "agent_missing_columns.csv": (
        "agent", {}, Expect(rejected="missing the required column(s) First Name, Last Name")
    ),
    "terminate_header_in_agent_folder.csv": (
        "agent", {}, Expect(rejected="header is the terminate template's")
    ),
    "unrecognised_header.csv": (None, {}, Expect(rejected="not an npnflow template")),
    "no_header.csv": (None, {}, Expect(rejected="no header")),
    "empty_0_bytes.csv": (None, {}, Expect(rejected="empty (0 bytes)")),
    "only_blank_lines.csv": (None, {}, Expect(rejected="has no rows")),
    "header_only.csv": (None, {}, Expect(rejected="no rows to process")),
    "binary_junk.csv": (None, {}, Expect(rejected="not a CSV or XLSX file")),
    "pdf_named_csv.csv": (None, {}, Expect(rejected="not a CSV or XLSX file")),
    "cp1252_accents.csv": (
        None, {}, Expect(kind="agent", total=2, valid=2, warnings=("Windows-1252",), check=_names)
    ),
    "not_utf8_not_cp1252.csv": (None, {}, Expect(rejected="encoding cannot be read")),
    "utf16_garbage.csv": (None, {}, Expect(rejected="not valid UTF-16")),
    "utf16_tab_text.txt": (
        None, {}, Expect(kind="portal_invite", total=2, valid=2, warnings=("tab-separated",))
    ),
    "agent_bad_values.csv": (
        None, {},
        Expect(
            kind="agent", total=5, valid=1,
            errors={
                2: {"Agent NPN", "Agent Email", "Agent SSN"},
                3: {"States", "CoCodes"},
                4: {"LOA Category", "Agent Type"},
                5: {"Agency NPN", "Agent Email"},
            },
            messages={
                (2, "Agent NPN"): "Agent NPN '12A45' must be digits only (up to 10)",
                (2, "Agent Email"): "'ann@example' is not a valid email address",
                (2, "Agent SSN"): "must be 9 digits, with or without dashes",
                (3, "States"): "'XX' is not one of the 54 NIPR state codes",
                (3, "CoCodes"): "'1234' is not 5 digits",
                (4, "LOA Category"): "'Lief' is not an LOA category",
                (4, "Agent Type"): "must be 'Producer' or 'Agency'",
                (5, "Agency NPN"): "'90000011111' has 11 digits; NIPR's NPNs have at most 10",
            },
            warnings=("States 'tx' was read as 'TX'",),
            check=_ssn_masked,
        ),
    ),
    "agent_duplicates.csv": (
        None, {},
        Expect(
            kind="agent", total=5, valid=3, errors={5: {"Agent NPN"}, 6: {"Agent NPN"}},
            messages={(5, "Agent NPN"): "is already on row 2", (6, "Agent NPN"): "already on row 3"},
        ),
    ),
    "agent_list_spaces_and_case.csv": (
        None, {},
        Expect(
            kind="agent", total=3, valid=3, warning_count=8,
            warnings=(
                "States 'ca; tx' was read as 'CA;TX'",
                "States 'CA;;TX;' was read as 'CA;TX'",
                "LOA Category 'life ; accident & health' was read as 'Life;Accident & Health'",
                "CoCodes '91234 ;' was read as '91234'",
                "States 'NY;ny' was read as 'NY'",
            ),
        ),
    ),
    "agent_formulas.csv": (
        None, {},
        Expect(
            kind="agent", total=3, valid=0,
            errors={2: {"Agent NPN"}, 3: {"Agent Email"}, 4: {"States", "LOA Category"}},
            messages={
                (2, "Agent NPN"): "looks like a spreadsheet formula",
                (3, "Agent Email"): "looks like a spreadsheet formula",
                (4, "States"): "looks like a spreadsheet formula",
            },
            warnings=("First Name '=1+2' starts like a spreadsheet formula",),
        ),
    ),
    "agent_quoted_newlines.csv": (
        None, {},
        Expect(
            kind="agent", total=3, valid=0,
            errors={2: {"First Name"}, 3: {"Last Name"}, 4: {"Agent NPN"}},
            messages={
                (2, "First Name"): "First Name holds a line break; type the name on one line",
                (3, "Last Name"): "Last Name holds a line break; type the name on one line",
            },
            check=_newlines,
        ),
    ),
    "agent_trailing_delimiters.csv": (
        None, {}, Expect(kind="agent", total=3, valid=3, warning_count=0, check=_trailing)
    ),
    "agent_extra_sheets.xlsx": (
        None, {}, Expect(kind="agent", total=2, valid=2, warnings=("('Notes') were ignored",))
    ),
    "agent_huge_cell.csv": (
        None, {},
        Expect(
            kind="agent", total=2, valid=1, errors={2: {"First Name"}},
            messages={(2, "First Name"): "has 40,000 characters; a cell can hold at most 32,767"},
        ),
    ),
    "agent_semicolon_delimited.csv": (
        None, {}, Expect(kind="agent", total=2, valid=2, warnings=("semicolon-separated",))
    ),
    "agent_tab_delimited.tsv": (
        None, {},
        Expect(kind="agent", total=2, valid=2, warnings=("tab-separated",), check=_leading_zeros),
    ),
    "agent_utf8_bom.csv": (None, {}, Expect(kind="agent", total=1, valid=1, check=_bom)),
    "agent_numbers_in_xlsx.xlsx": (
        None, {},
        Expect(
            kind="agent", total=3, valid=2, errors={3: {"CoCodes"}},
            messages={(3, "CoCodes"): "leading zero"}, check=_xlsx_numbers,
        ),
    ),
    "agent_blank_rows_in_middle.csv": (
        None, {},
        Expect(
            kind="agent", total=7, blank=4, valid=2, errors={8: {"Last Name"}},
            messages={(8, "Last Name"): "Last Name is required (the cell is empty)"},
        ),
    ),
    "agent_unknown_columns.csv": (
        None, {},
        Expect(
            kind="agent", total=2, valid=2,
            warnings=("Column 'Notes' is not in the agent template", "right of the last header"),
        ),
    ),
    "agent_assignment_rules.csv": (
        None, {},
        Expect(
            kind="agent", total=4, valid=1,
            errors={
                2: {"LOA Category", "Scorecard Type", "Agent Type"}, 3: {"CoCodes"}, 4: {"CoCodes"}
            },
            messages={
                (2, "Agent Type"): "required for a producer assignment (States is filled)",
                (3, "CoCodes"): "required for a 'License & Appointment' scorecard",
                (4, "CoCodes"): "'99999' is not one of your companies",
            },
        ),
    ),
    "agent_password_protected.xlsx": (None, {}, Expect(rejected="password-protected")),
    "agent_legacy.xls": (None, {}, Expect(rejected="Excel 97-2003")),
    "corrupt.xlsx": (None, {}, Expect(rejected="cannot be opened")),
    "oversize.csv": (
        None, {"max_bytes": 2000}, Expect(rejected="over the 2,000 bytes limit")
    ),
    "appoint_mixed.csv": (
        None, {},
        Expect(
            kind="appoint", total=7, valid=3,
            errors={
                4: {"Line of Authority", "Submit"},
                5: {"CoCode", "Line of Authority", "Effective Date"},
                7: {"NPN"},
                8: {"LOA Category"},
            },
            messages={
                (4, "Line of Authority"): "'Lfe' is not a line of authority in CA",
                (4, "Submit"): "must be TRUE or FALSE",
                (5, "CoCode"): "leading zero",
                (5, "Line of Authority"): "is in LOA category 'Life', not 'Property'",
                (5, "Effective Date"): "is not a date; write YYYY-MM-DD or MM/DD/YYYY",
                (7, "NPN"): "already requested on row 6",
                (8, "LOA Category"): "LOA Category is required (or fill Line of Authority)",
            },
            warnings=("States 'ca; tx' was read as 'CA;TX'",),
            check=_appoint_mapping,
        ),
    ),
    "appoint_dates_and_booleans.xlsx": (
        None, {}, Expect(kind="appoint", total=2, valid=2, warning_count=0, check=_xlsx_dates)
    ),
    "terminate_mixed.csv": (
        None, {},
        Expect(
            kind="terminate", total=4, valid=2,
            errors={3: {"Line of Authority", "Termination Reason Code"}, 5: {"Agent NPN"}},
            messages={
                (3, "Line of Authority"): "not a line of authority in PR",
                (3, "Termination Reason Code"): "'FIRED' is not a termination reason",
                (5, "Agent NPN"): "already requested on row 2",
            },
            warnings=("'voluntary termination' was read as 'VOLUNTARY_TERMINATION'",),
            check=_terminate_lines,
        ),
    ),
    "terminate_formula_xlsx.xlsx": (
        None, {},
        Expect(
            kind="terminate", total=2, valid=1, errors={2: {"Agent NPN"}},
            messages={(2, "Agent NPN"): "looks like a spreadsheet formula"},
        ),
    ),
    "portal_invite_duplicates.csv": (
        None, {},
        Expect(
            kind="portal_invite", total=3, valid=1, errors={3: {"NPN"}, 4: {"Portal"}},
            messages={(3, "NPN"): "already invited to 'agency portal' on row 2"},
        ),
    ),
    # Issue 13: SSNs and characters
    "agent_ssn_in_other_columns.csv": (
        None, {},
        Expect(
            kind="agent", total=6, valid=1,
            errors={
                2: {"First Name"}, 3: {"Last Name"}, 4: {"Agent Email"}, 5: {"CoCodes"},
                6: {"First Name"},
            },
            messages={
                (2, "First Name"): "First Name '***-**-1946' holds a number shaped like an SSN; "
                "remove it (an SSN belongs only in Agent SSN)",
                (3, "Last Name"): "'***-**-7359' holds a number shaped like an SSN",
                (4, "Agent Email"): "'***-**-2468@example.com' holds a number shaped like an SSN",
                (5, "CoCodes"): "'***-**-7135' holds a number shaped like an SSN",
                (6, "First Name"): "'Fay ***-**-2846' holds a number shaped like an SSN",
            },
            check=_ssns_elsewhere,
        ),
    ),
    "agent_ssn_column_unknown.csv": (
        None, {},
        Expect(
            kind="agent", total=3, valid=1, errors={3: {"Agent NPN"}, 4: {"Agent Email"}},
            messages={
                (4, "Agent Email"): "is not a valid email address: the part after the @-sign "
                "contains invalid characters: '@'",
            },
            warnings=(
                "Column 'Social Security Number' looks like it holds SSNs and was ignored (its "
                "values are never stored or shown); delete it and put SSNs only in the Agent "
                "SSN column.",
            ),
            warning_count=1,
            check=_ssn_column,
        ),
    ),
    "agent_unicode_digits.csv": (
        None, {},
        Expect(
            kind="agent", total=6, valid=1,
            errors={
                2: {"Agent SSN"}, 3: {"Agent NPN"}, 4: {"CoCodes"}, 5: {"Agency NPN"},
                6: {"Agent SSN"},
            },
            messages={
                (2, "Agent SSN"): "Agent SSN uses digits other than 0-9 (the value ending in",
                (3, "Agent NPN"): "uses digits other than 0-9 (such as Arabic-Indic or "
                "full-width digits); retype it with the digits 0-9",
                (4, "CoCodes"): "uses digits other than 0-9",
                (5, "Agency NPN"): "uses digits other than 0-9",
                (6, "Agent SSN"): "uses digits other than 0-9",
            },
            check=_unicode_digits,
        ),
    ),
    "agent_late_nul.csv": (
        None, {},
        Expect(
            kind="agent", total=1002, valid=1000, errors={1002: {"Agent NPN"}, 1003: {"First Name"}},
            messages={
                (1002, "Agent NPN"): "Agent NPN holds a control character (NUL); retype the cell "
                "without it",
                (1003, "First Name"): "First Name holds a control character (NUL)",
            },
            check=_late_nul,
        ),
    ),
    "agent_control_characters.csv": (
        None, {},
        Expect(
            kind="agent", total=13, valid=6,
            errors={
                2: {"First Name"}, 3: {"Last Name"}, 4: {"CoCodes"}, 5: {"Agent Email"},
                6: {"Agent NPN"}, 7: {"Notes"}, 8: {"Last Name"},
            },
            messages={
                (2, "First Name"): "First Name holds a control character (ESC)",
                (3, "Last Name"): "Last Name holds a control character (BEL)",
                (4, "CoCodes"): "CoCodes holds a control character (DEL)",
                (5, "Agent Email"): "Agent Email holds a control character (U+0085)",
                (6, "Agent NPN"): "Agent NPN holds a control character (vertical tab)",
                (7, "Notes"): "Notes holds a control character (form feed)",
                (8, "Last Name"): "Last Name holds a line break; type the name on one line",
            },
            warnings=("Column 'Notes' is not in the agent template",),
            check=_no_control_characters,
        ),
    ),
    "agent_zero_width.csv": (
        None, {},
        Expect(
            kind="agent", total=5, valid=2,
            errors={2: {"Agent Email"}, 4: {"Agent NPN"}, 5: {"CoCodes"}},
            messages={
                (2, "Agent Email"): "Agent Email 'ann@example.com' holds an invisible character "
                "(zero-width space)",
                (4, "Agent NPN"): "holds an invisible character (zero-width joiner)",
                (5, "CoCodes"): "holds an invisible character (word joiner)",
            },
            warnings=(
                "First Name 'Bob' held an invisible character (zero-width space), which was "
                "removed",
                "Last Name 'D\u00edaz' held an invisible character (soft hyphen)",
                "States 'CA' held an invisible character (zero-width no-break space)",
            ),
            warning_count=3,
            check=_zero_width,
        ),
    ),
    "appoint_ssn_column_and_county.csv": (
        None, {},
        Expect(
            kind="appoint", total=3, valid=1, errors={3: {"County"}, 4: {"NPN"}},
            messages={
                (3, "County"): "County '***-**-5769' holds a number shaped like an SSN; remove "
                "it (an appoint file has no SSNs)",
                (4, "NPN"): "uses digits other than 0-9",
            },
            warnings=("Column 'SSN' looks like it holds SSNs", "an appoint file needs no SSNs"),
            check=_appoint_ssns,
        ),
    ),
    "agent_ssn_numbers.xlsx": (
        None, {},
        Expect(
            kind="agent", total=3, valid=1, errors={2: {"First Name"}, 3: {"Agent NPN"}},
            messages={(2, "First Name"): "'***-**-7263' holds a number shaped like an SSN"},
            warnings=("Column 'Soc Sec #' looks like it holds SSNs",),
            check=_xlsx_ssns,
        ),
    ),
    # Issue 13: bounded reading
    "agent_hidden_first_sheet.xlsx": (
        None, {},
        Expect(
            rejected="first sheet, 'old agents', is hidden, and only the first sheet is read "
            "(hidden sheets: 'old agents'; visible sheets: 'agent')"
        ),
    ),
    "agent_stray_quote.csv": (
        None, {},
        Expect(
            rejected="A stray double quote on row 4 (column First Name) joined rows 4 to 12 "
            "into one cell"
        ),
    ),
    "agent_300_columns.csv": (
        None, {}, Expect(rejected="The file has 300 columns; an upload may have at most 200")
    ),
    "agent_dimension_xfd.xlsx": (
        None, {}, Expect(rejected="The sheet 'agent' reaches column XFD (16,384 columns")
    ),
}  # fmt: skip


@pytest.fixture(scope="module")
def reference() -> dict[str, pd.DataFrame]:
    return load_reference_data(ROOT / "config" / "reference")


@pytest.fixture(scope="module")
def companies(reference: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return load_company_config(ROOT / "config", reference)["companies"]


def _run(name: str, reference, companies) -> tuple[RawUpload, ValidatedUpload]:
    folder, options, _ = CORPUS[name]
    raw = read_upload((CORPUS_DIR / name).read_bytes(), name, **options)
    kind = detect_kind(raw.headers, folder)
    return raw, validate_upload(raw, kind, reference, companies)


@pytest.fixture(scope="module")
def outcomes(reference, companies) -> dict[str, tuple[RawUpload, ValidatedUpload] | str]:
    """Each file read and validated once: (raw, validated), or the rejection message."""
    results: dict[str, tuple[RawUpload, ValidatedUpload] | str] = {}
    for name in CORPUS:
        try:
            results[name] = _run(name, reference, companies)
        except UploadRejected as rejected:
            results[name] = rejected.message
    return results


def _corpus_files() -> list[str]:
    return sorted(p.name for p in CORPUS_DIR.iterdir() if p.suffix not in (".py", ".md"))


def test_the_corpus_has_at_least_25_files_each_in_the_table_and_the_readme() -> None:
    files = _corpus_files()
    assert len(files) >= 25
    assert set(files) == set(CORPUS)
    readme = (CORPUS_DIR / "README.md").read_text(encoding="utf-8")
    assert set(re.findall(r"^\| `([^`]+)` \|", readme, flags=re.MULTILINE)) == set(CORPUS)


def test_the_generator_writes_the_checked_in_files(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("make_corpus", CORPUS_DIR / "make_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = {p.name: p.read_bytes() for p in module.build(tmp_path)}
    assert set(written) == set(CORPUS)
    for name, data in written.items():
        if not name.endswith(".xlsx"):  # workbooks carry zip timestamps
            assert data == (CORPUS_DIR / name).read_bytes(), name


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_each_file_has_its_expected_outcome(name: str, outcomes) -> None:
    expect = CORPUS[name][2]
    outcome = outcomes[name]
    if expect.rejected is not None:
        assert isinstance(outcome, str), f"{name} was not rejected"
        assert expect.rejected in outcome
        assert "\n" not in outcome  # one message, one line
        return
    assert not isinstance(outcome, str), outcome
    raw, validated = outcome
    assert validated.kind == expect.kind
    assert validated.rows_total == expect.total
    assert validated.rows_blank == expect.blank
    assert validated.rows_valid == expect.valid
    assert validated.rows_rejected == len(expect.errors)
    assert validated.rows_total == (
        validated.rows_blank + validated.rows_valid + validated.rows_rejected
    )
    found: dict[int, set[str]] = {}
    for row, column in zip(
        validated.row_errors["row_number"], validated.row_errors["column"], strict=True
    ):
        found.setdefault(int(row), set()).add(column)
    assert found == expect.errors
    for (row, column), phrase in expect.messages.items():
        cell = validated.row_errors[
            (validated.row_errors["row_number"] == row) & (validated.row_errors["column"] == column)
        ]
        assert len(cell) == 1, (row, column)
        assert phrase in cell["message"].iloc[0], cell["message"].iloc[0]
    warnings = list(validated.warnings["message"])
    for phrase in expect.warnings:
        assert any(phrase in w for w in warnings), (phrase, warnings)
    if expect.warning_count is not None:
        assert len(warnings) == expect.warning_count, warnings
    if expect.check is not None:
        expect.check(raw, validated)


def _validated_corpus(outcomes):
    for name, outcome in sorted(outcomes.items()):
        if not isinstance(outcome, str):
            yield name, *outcome


def test_rejected_rows_never_reach_the_valid_rows(outcomes) -> None:
    for name, _, validated in _validated_corpus(outcomes):
        rejected = set(validated.rejected_row_numbers)
        assert not rejected & set(validated.valid_rows["row_number"]), name
        if validated.kind in ("appoint", "terminate"):
            assert not rejected & set(validated.exploded()["request_row"]), name


SECRETS = ("123-45-6789", "123456789", "987654321", "123-45-678")


def test_error_reports_are_safe_to_open(outcomes) -> None:
    """Every report cell is neutralised and no SSN survives, in CSV and XLSX alike."""
    from openpyxl import load_workbook

    for name, raw, validated in _validated_corpus(outcomes):
        if not validated.rows_rejected:
            continue
        text = error_report_csv(raw, validated).decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text)))
        assert rows[0][:2] == ["Row", "Errors"]
        assert [int(r[0]) for r in rows[1:]] == validated.rejected_row_numbers
        workbook = load_workbook(io.BytesIO(error_report_xlsx(raw, validated)), read_only=True)
        sheet_rows = [
            [c if c is not None else "" for c in r]
            for r in workbook.worksheets[0].iter_rows(values_only=True)
        ]
        workbook.close()
        assert [r[:2] for r in sheet_rows] == [r[:2] for r in rows], name
        for row in rows + sheet_rows:
            for cell in row:
                assert not str(cell).startswith(("=", "+", "-", "@", "\t", "\r")), (name, cell)
                assert not any(secret in str(cell) for secret in SECRETS), name
        messages = " ".join(validated.row_errors["message"]) + " ".join(
            validated.warnings["message"]
        )
        assert not any(secret in messages for secret in SECRETS), name
