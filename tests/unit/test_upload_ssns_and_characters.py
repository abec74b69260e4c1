"""Uploads: SSNs never shown or stored outside the SSN column, and cells made of real characters.

SSN-shaped values (9 digits, 3-2-4 with dashes, spaces or dots) in a name, an email or a CoCode
are row errors; everything a person reads masks them; digits are 0-9 only; control characters
are refused in any cell; invisible characters are removed from names and refused in
identifiers; names hold no line break; email addresses are what the email-validator library
accepts, stored in its normalised form.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pandas as pd
import pytest

from assets.reference.loading import load_company_config, load_reference_data
from assets.uploads.error_report import error_report_csv, error_report_xlsx
from assets.uploads.reading import read_upload
from assets.uploads.validation import ValidatedUpload, validate_upload

ROOT = Path(__file__).resolve().parents[2]
AGENT = (
    "Agency NPN,First Name,Last Name,Agent NPN,Agent Email,Agent SSN,LOA Category,States,"
    "Scorecard Type,Agent Type,CoCodes"
)
APPOINT = (
    "NPN,States,CoCode,LOA Category,Line of Authority,Agent Type,Submit,Submit Just In Time,"
    "Effective Date,County"
)


@pytest.fixture(scope="module")
def reference() -> dict[str, pd.DataFrame]:
    return load_reference_data(ROOT / "config" / "reference")


@pytest.fixture(scope="module")
def companies(reference) -> pd.DataFrame:
    return load_company_config(ROOT / "config", reference)["companies"]


def _upload(header: str, *rows: str) -> bytes:
    return ("\r\n".join([header, *rows]) + "\r\n").encode("utf-8")


def _check(data: bytes, kind: str, reference, companies=None):
    raw = read_upload(data, "upload.csv")
    return raw, validate_upload(raw, kind, reference, companies)


def _errors(validated: ValidatedUpload) -> dict[tuple[int, str], str]:
    frame = validated.row_errors
    return {
        (int(r), c): m
        for r, c, m in zip(frame["row_number"], frame["column"], frame["message"], strict=True)
    }


def _everything_shown(raw, validated: ValidatedUpload) -> str:
    """Every text a person reads about the upload: row errors (values and messages),
    warnings, and both error reports' cells."""
    from openpyxl import load_workbook

    parts = [validated.row_errors.to_csv(), validated.warnings.to_csv()]
    if validated.rows_rejected:
        parts.append(error_report_csv(raw, validated).decode("utf-8-sig"))
        workbook = load_workbook(io.BytesIO(error_report_xlsx(raw, validated)), read_only=True)
        for row in workbook.worksheets[0].iter_rows(values_only=True):
            parts.append(" ".join(str(c) for c in row if c is not None))
        workbook.close()
    return "\n".join(parts)


def _digits(text: str) -> str:
    """The text with the separators an SSN is written with removed, to find its digits."""
    return re.sub(r"[\s.\-\u200b]", "", text)


# --------------------------------------------------------------------------------------------
# SSN-shaped values outside the SSN column
# --------------------------------------------------------------------------------------------

SHAPES = ["372581946", "372-58-1946", "372 58 1946", "372.58.1946", "372-58 1946"]


@pytest.mark.parametrize("typed", SHAPES)
@pytest.mark.parametrize(
    ("column", "row"),
    [
        ("First Name", "9000001,{v},Lee,10000001,,,,,,,"),
        ("Last Name", "9000001,Ann,Mrs {v},10000001,,,,,,,"),
        ("Agent Email", "9000001,Ann,Lee,10000001,x{v}@example.com,,,,,,"),
        ("CoCodes", "9000001,Ann,Lee,10000001,,,Life,CA,License & Appointment,Producer,{v}"),
    ],
)
def test_an_ssn_in_a_name_email_or_cocode_is_a_row_error_that_masks_it(
    typed: str, column: str, row: str, reference, companies
) -> None:
    value = typed.replace(" ", "") if column == "Agent Email" else typed
    raw, validated = _check(
        _upload(AGENT, row.format(v=value), "9000001,Bob,Ray,10000002,,,,,,,"),
        "agent",
        reference,
        companies,
    )
    assert validated.rows_valid == 1 and validated.rejected_row_numbers == [2]
    message = _errors(validated)[(2, column)]
    assert "holds a number shaped like an SSN" in message
    assert "***-**-1946" in message and "an SSN belongs only in Agent SSN" in message
    assert "37258" not in _digits(_everything_shown(raw, validated))
    assert list(validated.valid_rows["first_name"]) == ["Bob"]


def test_an_appoint_or_portal_file_has_no_ssns(reference) -> None:
    _, appoint = _check(
        _upload(APPOINT, "10000001,CA,91234,Life,,,,,,372 58 1946"), "appoint", reference
    )
    assert _errors(appoint)[(2, "County")] == (
        "County '***-**-1946' holds a number shaped like an SSN; remove it (an appoint file "
        "has no SSNs)"
    )
    _, invite = _check(
        _upload("NPN,Portal", "10000001,Portal 372581946"), "portal_invite", reference
    )
    assert "a portal_invite file has no SSNs" in _errors(invite)[(2, "Portal")]


def test_a_9_digit_npn_is_an_npn_but_shown_masked(reference) -> None:
    raw, validated = _check(
        _upload(
            AGENT,
            "9000001,Ann,Lee,372581946,,,,,,,",
            "9000001,Ann,Lee,372581946,,,,,,,",
            "9000001,Bob,Ray,123-45-6789,,,,,,,",
        ),
        "agent",
        reference,
    )
    assert list(validated.valid_rows["npn"]) == ["372581946"]  # stored as typed
    errors = _errors(validated)
    assert errors[(3, "Agent NPN")] == (
        "Agent NPN '***-**-1946' is already on row 2; list each producer once per file"
    )
    assert errors[(4, "Agent NPN")] == "Agent NPN '***-**-6789' looks like an SSN, not an NPN"
    shown = _everything_shown(raw, validated)
    assert "372581946" not in shown and "***-**-1946" in shown


def test_a_column_whose_header_names_ssns_is_ignored_warned_and_masked(reference) -> None:
    raw, validated = _check(
        _upload(
            AGENT + ",Social Security Number",
            "9000001,Ann,Lee,10000001,,,,,,,,372-58-1946",
            "9000001,Bob,Ray,1000000X,,,,,,,,481 62 7359",
            "9000001,Cy,Diaz,10000003,cy@@example.com,,,,,,,59371246",  # 8 digits: a typo
        ),
        "agent",
        reference,
    )
    assert validated.rows_valid == 1 and validated.rejected_row_numbers == [3, 4]
    assert "Social Security Number" in validated.ssn_labels
    warning = " ".join(validated.warnings["message"])
    assert "Column 'Social Security Number' looks like it holds SSNs and was ignored" in warning
    assert "delete it and put SSNs only in the Agent SSN column" in warning
    assert "is not in the agent template" not in warning
    report = list(csv.reader(io.StringIO(error_report_csv(raw, validated).decode("utf-8-sig"))))
    assert [row[-1] for row in report[1:]] == ["***-**-7359", "***-**-1246"]
    shown = _digits(_everything_shown(raw, validated))
    assert "48162" not in shown and "5937" not in shown
    assert "ssn" not in {c.lower() for c in validated.valid_rows.columns} - {"ssn", "ssn_last4"}


def test_an_ssn_column_in_an_appoint_file_is_warned_about(reference) -> None:
    _, validated = _check(
        _upload(APPOINT + ",SSN", "10000001,CA,91234,Life,,,,,,,372-58-1946"), "appoint", reference
    )
    assert validated.rows_valid == 1
    assert "delete it, as an appoint file needs no SSNs" in " ".join(validated.warnings["message"])


# --------------------------------------------------------------------------------------------
# Digits 0-9 only
# --------------------------------------------------------------------------------------------

ARABIC_SSN = "\u0663\u0667\u0662-\u0665\u0668-\u0661\u0669\u0664\u0666"  # ٣٧٢-٥٨-١٩٤٦
FULL_WIDTH_NPN = "\uff11\uff10\uff10\uff10\uff10\uff10\uff10\uff11"  # １０００００００１


def test_digits_other_than_0_to_9_are_refused_in_identifiers(reference, companies) -> None:
    raw, validated = _check(
        _upload(
            AGENT,
            f"9000001,Ann,Lee,10000001,,{ARABIC_SSN},,,,,",
            f"9000001,Bob,Ray,{FULL_WIDTH_NPN},,,,,,,",
            f"{FULL_WIDTH_NPN},Cy,Diaz,10000003,,,,,,,",
            "9000001,Di,Ho,10000004,,,Life,CA,License & Appointment,Producer,\u0669\u0661\u0662"
            "\u0663\u0664",
            "9000001,Ed,Fox,10000005,,123-45-6789,,,,,",
        ),
        "agent",
        reference,
        companies,
    )
    errors = _errors(validated)
    assert errors[(2, "Agent SSN")] == (
        "Agent SSN uses digits other than 0-9 (the value ending in '\u0661\u0669\u0664\u0666'); "
        "retype it with the digits 0-9"
    )
    for cell in ((3, "Agent NPN"), (4, "Agency NPN"), (5, "CoCodes")):
        assert "uses digits other than 0-9" in errors[cell], cell
    assert validated.rejected_row_numbers == [2, 3, 4, 5]
    assert list(validated.valid_rows["ssn_last4"]) == ["6789"]
    assert all(v.isascii() for v in validated.valid_rows["ssn"])
    assert "\u0663\u0667\u0662" not in _everything_shown(raw, validated)


def test_an_appoint_file_takes_digits_0_to_9_only(reference) -> None:
    _, validated = _check(
        _upload(
            APPOINT,
            f"{FULL_WIDTH_NPN},CA,91234,Life,,,,,,",
            "10000002,CA,\uff19\uff11\uff12\uff13\uff14,Life,,,,,,",
        ),
        "appoint",
        reference,
    )
    errors = _errors(validated)
    assert "uses digits other than 0-9" in errors[(2, "NPN")]
    assert "uses digits other than 0-9" in errors[(3, "CoCode")]
    assert validated.rows_valid == 0


# --------------------------------------------------------------------------------------------
# Control characters, invisible characters, line breaks
# --------------------------------------------------------------------------------------------


def test_control_characters_are_refused_in_any_cell(reference, companies) -> None:
    raw, validated = _check(
        _upload(
            AGENT + ",Notes",
            "9000001,Ann\x1b[31m,Lee,10000001,,,,,,,,",
            "9000001,Bob,Ray\x07,10000002,,,,,,,,",
            "9000001,Cy,Diaz,10000003,,,Life,CA,License & Appointment,Producer,91234\x7f,",
            "9000001,Di,Ho,10000004,di\u0085@example.com,,,,,,,",
            "9000001,Ed,Fox,\x0b10000005,,,,,,,,",  # at the edge: trimming would hide it
            "9000001,Fay,Gill,10000006,,,,,,,,page\x0cbreak",  # a column the template lacks
            "9000001,Gus,Hale,10000007,,,,,,,,fine",
            # The reader takes a file with more than 1 control character in 100 for binary.
            *[f"9000001,Name{i},Last{i},2000000{i},,,,,,,,padding" for i in range(8)],
        ),
        "agent",
        reference,
        companies,
    )
    errors = _errors(validated)
    assert errors == {
        (2, "First Name"): "First Name holds a control character (ESC); retype the cell without it",
        (3, "Last Name"): "Last Name holds a control character (BEL); retype the cell without it",
        (4, "CoCodes"): "CoCodes holds a control character (DEL); retype the cell without it",
        (5, "Agent Email"): (
            "Agent Email holds a control character (U+0085); retype the cell without it"
        ),
        (6, "Agent NPN"): (
            "Agent NPN holds a control character (vertical tab); retype the cell without it"
        ),
        (7, "Notes"): "Notes holds a control character (form feed); retype the cell without it",
    }
    assert list(validated.valid_rows["npn"])[:2] == ["10000007", "20000000"]
    values = validated.row_errors.set_index(["row_number", "column"])["value"]
    assert values[(2, "First Name")] == "Ann\ufffd[31m"
    shown = _everything_shown(raw, validated)
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", shown)


def test_invisible_characters_are_removed_from_names_and_refused_in_identifiers(
    reference, companies
) -> None:
    raw, validated = _check(
        _upload(
            AGENT,
            "9000001,Ann,Lee,10000001,ann\u200b@example.com,,,,,,",
            "9000001,Bo\u200bb,D\u00edaz\u00ad,10000002,,,Life,CA\ufeff,License,Producer,",
            "9000001,Cy,Diaz,10000003\u200d,,,,,,,",
            "9000001,Di,Ho,10000004,,,Life,CA,License & Appointment,Producer,91234\u2060",
        ),
        "agent",
        reference,
        companies,
    )
    errors = _errors(validated)
    assert errors[(2, "Agent Email")] == (
        "Agent Email 'ann@example.com' holds an invisible character (zero-width space), often "
        "pasted from a web page or an email; retype the value"
    )
    assert "(zero-width joiner)" in errors[(4, "Agent NPN")]
    assert "(word joiner)" in errors[(5, "CoCodes")]
    row = validated.valid_rows.set_index("row_number").loc[3]
    assert (row["first_name"], row["last_name"], row["state_codes"]) == ("Bob", "D\u00edaz", "CA")
    warnings = set(validated.warnings["message"])
    assert "First Name 'Bob' held an invisible character (zero-width space), which was removed" in (
        warnings
    )
    assert "Last Name 'D\u00edaz' held an invisible character (soft hyphen), which was removed" in (
        warnings
    )
    assert any("(zero-width no-break space)" in w for w in warnings)


def test_names_with_a_line_break_are_refused(reference) -> None:
    _, validated = _check(
        _upload(
            AGENT,
            '9000001,"Ann\r\nMarie",Lee,10000001,,,,,,,',
            "9000001,Bob,Ray\u2028Jr,10000002,,,,,,,",
            '9000001,Cy,"Diaz\n",10000003,,,,,,,',  # a trailing break is trimmed away
        ),
        "agent",
        reference,
    )
    assert _errors(validated) == {
        (2, "First Name"): "First Name holds a line break; type the name on one line",
        (3, "Last Name"): "Last Name holds a line break; type the name on one line",
    }
    assert list(validated.valid_rows["last_name"]) == ["Diaz"]


# --------------------------------------------------------------------------------------------
# Email addresses
# --------------------------------------------------------------------------------------------


def test_email_addresses_are_checked_by_the_library_and_stored_normalised(reference) -> None:
    _, validated = _check(
        _upload(
            AGENT,
            "9000001,Ann,Lee,10000001,Ann.Lee@Example.COM,,,,,,",
            "9000001,Bob,Ray,10000002,bob@b\u00fccher.de,,,,,,",
            "9000001,Gary,O'Brien,10000003,gary.o'brien@example.com,,,,,,",
            "9000001,Cy,Diaz,10000004,cy@example,,,,,,",
            "9000001,Di,Ho,10000005,jos\u00e9@example.com,,,,,,",
            "9000001,Ed,Fox,10000006,gary o'brien@example.com,,,,,,",
            "9000001,Fay,Gill,10000007,fay@exam_ple.com,,,,,,",
        ),
        "agent",
        reference,
    )
    emails = dict(zip(validated.valid_rows["npn"], validated.valid_rows["email"], strict=True))
    assert emails == {
        "10000001": "Ann.Lee@example.com",
        "10000002": "bob@xn--bcher-kva.de",
        "10000003": "gary.o'brien@example.com",
    }
    assert "Agent Email 'Ann.Lee@Example.COM' was read as 'Ann.Lee@example.com'" in set(
        validated.warnings["message"]
    )
    errors = _errors(validated)
    assert errors[(5, "Agent Email")] == (
        "Agent Email 'cy@example' is not a valid email address: the part after the @-sign is "
        "not valid, it should have a period"
    )
    assert (
        "internationalized characters before the @-sign are not supported"
        in (errors[(6, "Agent Email")])
    )
    assert "invalid characters before the @-sign: SPACE" in errors[(7, "Agent Email")]
    assert "invalid characters: '_'" in errors[(8, "Agent Email")]
