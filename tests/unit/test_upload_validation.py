"""Validating uploads: every problem of every row at once, in words an analyst acts on."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pytest

from assets.reference.loading import load_company_config, load_reference_data
from assets.uploads.error_report import (
    ERROR_SEPARATOR,
    error_report_csv,
    error_report_frame,
    error_report_xlsx,
)
from assets.uploads.reading import UploadRejected, read_upload
from assets.uploads.validation import (
    ERROR_COLUMNS,
    WARNING_COLUMNS,
    ValidatedUpload,
    validate_upload,
)
from schemas.reference import JURISDICTION_CODES

ROOT = Path(__file__).resolve().parents[2]
AGENT = (
    "Agency NPN,First Name,Last Name,Agent NPN,Agent Email,Agent SSN,LOA Category,States,"
    "Scorecard Type,Agent Type,CoCodes"
)
APPOINT = (
    "NPN,States,CoCode,LOA Category,Line of Authority,Agent Type,Submit,Submit Just In Time,"
    "Effective Date,County"
)
TERMINATE = (
    "Agent NPN,States,Line of Authority,CoCode,Termination Reason Code,Effective Date,"
    "Submit Immediately"
)


@pytest.fixture(scope="module")
def reference() -> dict[str, pd.DataFrame]:
    return load_reference_data(ROOT / "config" / "reference")


@pytest.fixture(scope="module")
def companies(reference) -> pd.DataFrame:
    return load_company_config(ROOT / "config", reference)["companies"]


def _check(header: str, *rows: str, kind: str, reference, companies=None) -> ValidatedUpload:
    data = "\r\n".join([header, *rows]) + "\r\n"
    return validate_upload(read_upload(data.encode(), "upload.csv"), kind, reference, companies)


def _errors(validated: ValidatedUpload) -> dict[tuple[int, str], str]:
    frame = validated.row_errors
    return {
        (int(r), c): m
        for r, c, m in zip(frame["row_number"], frame["column"], frame["message"], strict=True)
    }


# --------------------------------------------------------------------------------------------
# Laziness, counts, blank rows
# --------------------------------------------------------------------------------------------


def test_every_problem_of_every_row_is_reported_at_once(reference) -> None:
    validated = _check(
        AGENT,
        "90000A1,,Lee,12A45,ann@,12-34,Lief,CA;XX,Full,Broker,123",
        "9000001,Bob,Ray,10000002,,,,,,,",
        "9000001,Cy,,1.2E+07,cy@example.com,,,,,,",
        kind="agent",
        reference=reference,
    )
    errors = _errors(validated)
    assert set(errors) == {
        (2, "Agency NPN"), (2, "First Name"), (2, "Agent NPN"), (2, "Agent Email"),
        (2, "Agent SSN"), (2, "LOA Category"), (2, "States"), (2, "Scorecard Type"),
        (2, "Agent Type"), (2, "CoCodes"), (4, "Last Name"), (4, "Agent NPN"),
    }  # fmt: skip
    assert errors[(2, "First Name")] == "First Name is required (the cell is empty)"
    assert errors[(2, "Agent NPN")] == "Agent NPN '12A45' must be digits only (up to 10)"
    assert errors[(2, "States")] == "States 'CA;XX': 'XX' is not one of the 54 NIPR state codes"
    assert errors[(2, "Scorecard Type")] == (
        "Scorecard Type 'Full' must be 'License' or 'License & Appointment'"
    )
    assert "scientific notation" in errors[(4, "Agent NPN")]
    assert (validated.rows_total, validated.rows_valid, validated.rows_rejected) == (3, 1, 2)
    assert list(validated.row_errors.columns) == ERROR_COLUMNS
    assert list(validated.warnings.columns) == WARNING_COLUMNS
    assert validated.rejected_row_numbers == [2, 4]
    assert validated.valid_rows["row_number"].tolist() == [3]


def test_blank_rows_are_skipped_and_counted_never_reported(reference) -> None:
    validated = _check(
        AGENT,
        ",,,,,,,,,,",
        "9000001,Ann,Lee,10000001,,,,,,,",
        "   ,  ,\t,,,,,,,,",
        "",
        "9000001,Bob,Ray,10000002,,,,,,,",
        ",,,,,,,,,,",
        kind="agent",
        reference=reference,
    )
    assert (validated.rows_total, validated.rows_blank, validated.rows_valid) == (5, 3, 2)
    assert validated.row_errors.empty and validated.rows_rejected == 0
    assert validated.valid_rows["row_number"].tolist() == [3, 6]


def test_a_file_with_only_blank_rows_under_the_header_is_rejected(reference) -> None:
    with pytest.raises(UploadRejected, match="has the agent header but no rows"):
        _check(
            AGENT,
            ",,,,,,,,,,",
            "9000001,,,,,,,,,,".replace("9000001", " "),
            kind="agent",
            reference=reference,
        )


def test_one_message_per_cell_the_most_basic_problem_wins(reference, companies) -> None:
    long_npn = "1" * 40_000
    validated = _check(
        AGENT,
        f"9000001,Ann,Lee,{long_npn},,,Life,CA,License & Appointment,Producer,99999;9123",
        kind="agent",
        reference=reference,
        companies=companies,
    )
    errors = _errors(validated)
    assert errors[(2, "Agent NPN")].startswith("Agent NPN has 40,000 characters")
    # A malformed CoCode is reported, not also as an unknown company.
    assert errors[(2, "CoCodes")] == (
        "CoCodes '99999;9123': '9123' is not 5 digits (did a spreadsheet drop a leading zero? "
        "format the column as Text)"
    )
    assert validated.row_errors["value"].str.len().max() <= 200


# --------------------------------------------------------------------------------------------
# Normalisation and warnings
# --------------------------------------------------------------------------------------------


def test_lists_are_normalised_with_a_warning_not_an_error(reference) -> None:
    validated = _check(
        AGENT,
        '9000001,Ann,Lee,10000001,,,"life; ACCIDENT AND HEALTH",ca; tx;;,license,producer,',
        "9000001,Bob,Ray,10000002,,,Life,CA;TX,License,Producer,",
        kind="agent",
        reference=reference,
    )
    assert validated.rows_valid == 2
    rows = validated.valid_rows.set_index("row_number")
    assert rows.at[2, "state_codes"] == "CA;TX"
    assert rows.at[2, "loa_categories"] == "Life;Accident & Health"
    assert rows.at[2, "scorecard_type"] == "License"
    assert validated.warnings["message"].tolist() == [
        "LOA Category 'life; ACCIDENT AND HEALTH' was read as 'Life;Accident & Health'",
        "States 'ca; tx;;' was read as 'CA;TX'",
        "Scorecard Type 'license' was read as 'License'",
        "Agent Type 'producer' was read as 'Producer'",
    ]
    assert validated.warnings["row_number"].tolist() == [2, 2, 2, 2]


def test_a_comma_separated_list_gets_a_hint(reference) -> None:
    validated = _check(
        AGENT,
        '9000001,Ann,Lee,1,,,Life,"CA,TX",License,Producer,',
        kind="agent",
        reference=reference,
    )
    assert _errors(validated)[(2, "States")].endswith("(separate states with ';', not ',')")


def test_npn_written_as_a_float_is_read_back_with_a_warning(reference) -> None:
    validated = _check(
        AGENT, "9000001.0,Ann,Lee,12345678.0,,,,,,,", kind="agent", reference=reference
    )
    assert validated.valid_rows.at[0, "npn"] == "12345678"
    assert validated.valid_rows.at[0, "agency_npn"] == "9000001"
    assert "Agent NPN '12345678.0' was read as '12345678'" in set(validated.warnings["message"])


def test_unknown_columns_are_ignored_with_a_warning(reference) -> None:
    validated = _check(
        "NPN,Portal,Notes",
        "10000001,Agency Portal,hello",
        kind="portal_invite",
        reference=reference,
    )
    assert validated.rows_valid == 1
    assert validated.warnings["message"].tolist() == [
        "Column 'Notes' is not in the portal_invite template and was ignored."
    ]
    assert validated.warnings["row_number"].isna().all()


def test_missing_required_columns_reject_the_file(reference) -> None:
    with pytest.raises(UploadRejected, match="terminate file is missing the required column"):
        _check("Agent NPN,States,CoCode", "1,CA,91234", kind="terminate", reference=reference)


# --------------------------------------------------------------------------------------------
# SSNs
# --------------------------------------------------------------------------------------------


def test_ssns_are_kept_for_onboarding_and_never_echoed(reference) -> None:
    text = "\r\n".join([
        AGENT,
        "9000001,Ann,Lee,10000001,,123-45-6789,,,,,",
        "9000001,Bob,Ray,10000002,,987654321,,,,,",
        "9000001,Cy,Diaz,10000003,,98765432,,,,,",
        "9000001,Di,Ho,123-45-6780,,,,,,,",
        "9000001,Ed,Fox,1000005X,,111-22-3333,,,,,",
        "9000001,Fay,Gill,10000007,,135 79 2468,,,,,",
        "9000001,Gus,Hale,10000008,,246.80.1357,,,,,",
    ])  # fmt: skip
    raw = read_upload(text.encode(), "a.csv")
    validated = validate_upload(raw, "agent", reference)
    rows = validated.valid_rows.set_index("row_number")
    assert rows.at[2, "ssn"] == "123456789" and rows.at[2, "ssn_last4"] == "6789"
    assert rows.at[3, "ssn"] == "987654321"
    # Spaced and dotted, as people type them: the same nine digits (issue 13's SSN shapes).
    assert (rows.at[7, "ssn"], rows.at[7, "ssn_last4"]) == ("135792468", "2468")
    assert (rows.at[8, "ssn"], rows.at[8, "ssn_last4"]) == ("246801357", "1357")
    errors = _errors(validated)
    assert errors[(4, "Agent SSN")] == (
        "Agent SSN must be 9 digits, with or without dashes (the value ending in '5432' is not)"
    )
    assert errors[(5, "Agent NPN")] == "Agent NPN '***-**-6780' looks like an SSN, not an NPN"
    shown = validated.row_errors.to_csv() + validated.warnings.to_csv()
    report = error_report_csv(raw, validated).decode("utf-8-sig")
    for secret in ("98765432", "123-45-6780", "111-22-3333", "111223333"):
        assert secret not in shown and secret not in report
    assert "***-**-3333" in report


# --------------------------------------------------------------------------------------------
# Agent producer assignments
# --------------------------------------------------------------------------------------------


def test_producer_assignment_rules(reference, companies) -> None:
    validated = _check(
        AGENT,
        "9000001,Ann,Lee,10000001,,,,,License,,",
        "9000001,Bob,Ray,10000002,,,Life,CA,License & Appointment,Agency,",
        "9000001,Cy,Diaz,10000003,,,Life;Property,CA;TX,License & Appointment,Producer,91234;92345",
        "9000001,Di,Ho,10000004,,,Casualty,WA,License,Producer,",
        "9000001,Ed,Fox,10000005,,,,,,,",
        kind="agent",
        reference=reference,
        companies=companies,
    )
    errors = _errors(validated)
    assert errors[(2, "LOA Category")] == (
        "LOA Category is required for a producer assignment (Scorecard Type is filled)"
    )
    assert {c for r, c in errors if r == 2} == {"LOA Category", "States", "Agent Type"}
    assert errors[(3, "CoCodes")].startswith("CoCodes is required for a 'License & Appointment'")
    assert validated.valid_rows["row_number"].tolist() == [4, 5, 6]
    assert validated.valid_rows["has_assignment"].tolist() == [True, True, False]
    assignments = validated.exploded()
    assert list(assignments.columns) == [
        "row_number", "npn", "loa_category", "state_code", "cocode", "scorecard_type",
        "agent_type",
    ]  # fmt: skip
    ann = assignments[assignments["row_number"] == 4]
    assert len(ann) == 8  # 2 categories x 2 states x 2 CoCodes
    assert set(ann["cocode"]) == {"91234", "92345"} and set(ann["state_code"]) == {"CA", "TX"}
    di = assignments[assignments["row_number"] == 5]
    assert len(di) == 1 and di["cocode"].isna().all()  # a License scorecard needs no CoCode


def test_producer_assignment_cocodes_are_checked_against_companies_when_given(reference):
    row = "9000001,Ann,Lee,10000001,,,Life,CA,License & Appointment,Producer,99999"
    assert _check(AGENT, row, kind="agent", reference=reference).rows_valid == 1
    companies = pd.DataFrame({"cocode": ["91234"]})
    errors = _errors(_check(AGENT, row, kind="agent", reference=reference, companies=companies))
    assert errors == {
        (2, "CoCodes"): "CoCodes '99999': '99999' is not one of your companies "
        "(config/companies.yaml)"
    }


def test_duplicates_name_the_first_row(reference) -> None:
    validated = _check(
        AGENT,
        *[f"9000001,P{i},Q,{n},,,,,,," for i, n in enumerate([1, 2, 1, 3, 1])],
        kind="agent",
        reference=reference,
    )
    errors = _errors(validated)
    assert errors == {
        (4, "Agent NPN"): "Agent NPN '1' is already on row 2; list each producer once per file",
        (6, "Agent NPN"): "Agent NPN '1' is already on row 2; list each producer once per file",
    }


# --------------------------------------------------------------------------------------------
# Appoint
# --------------------------------------------------------------------------------------------


def test_appoint_defaults_booleans_dates_and_requests(reference) -> None:
    validated = _check(
        APPOINT,
        "10000001,CA;TX,91234,Life,,,yes,1,2025-03-01,",
        "10000002,CA,91234,Life,,agency,No,false,3/4/2025,037",
        "10000003,CA,91234,Life,,,,,12/31/25,",
        "10000004,CA,91234,Life,,,Y,N,02/30/2025,",
        "10000005,CA,91234,Life,,,perhaps,,2025-13-01,",
        kind="appoint",
        reference=reference,
    )
    errors = _errors(validated)
    assert errors == {
        (5, "Effective Date"): "Effective Date '02/30/2025' is not a date; write YYYY-MM-DD or "
        "MM/DD/YYYY",
        (6, "Submit"): "Submit 'perhaps' must be TRUE or FALSE (blank means FALSE)",
        (6, "Effective Date"): "Effective Date '2025-13-01' is not a date; write YYYY-MM-DD or "
        "MM/DD/YYYY",
    }
    rows = validated.valid_rows.set_index("row_number")
    assert rows["submit"].tolist() == [True, False, False]
    assert rows["submit_just_in_time"].tolist() == [True, False, False]
    assert rows["agent_type"].tolist() == ["Producer", "Agency", "Producer"]
    assert rows["effective_date"].tolist() == [
        pd.Timestamp("2025-03-01"),
        pd.Timestamp("2025-03-04"),
        pd.Timestamp("2025-12-31"),
    ]
    assert rows.at[3, "county"] == "037"
    requests = validated.exploded()
    assert list(requests.columns)[:8] == [
        "request_row", "npn", "state_code", "cocode", "loa_category", "agent_type", "submit",
        "submit_just_in_time",
    ]  # fmt: skip
    assert requests[["request_row", "state_code"]].values.tolist() == [
        [2, "CA"],
        [2, "TX"],
        [3, "CA"],
        [4, "CA"],
    ]


def test_appoint_line_of_authority_is_mapped_to_its_category(reference) -> None:
    validated = _check(
        APPOINT,
        "10000001,CA,91234,,Life,,,,,",
        "10000002,CA,91234,,935,,,,,",
        "10000003,TX,92345,,Property & Casualty,,,,,",
        "10000004,TX,92345,Property,Property & Casualty,,,,,",
        "10000005,CA,91234,,Not A Line,,,,,",
        "10000006,CA,91234,Casualty,Life,,,,,",
        "10000007,CA,91234,,,,,,,",
        "10000008,CA,91234,Life;Property,,,,,,",
        "10000009,TX,92345,Life,Property & Casualty,,,,,",
        kind="appoint",
        reference=reference,
    )
    rows = validated.valid_rows.set_index("row_number")
    assert rows.at[2, "loa_category"] == "Life"
    assert rows.at[3, "loa_category"] == "Accident & Health"
    assert rows.at[5, "loa_category"] == "Property"  # the category settles an ambiguous line
    errors = _errors(validated)
    assert errors[(4, "Line of Authority")] == (
        "Line of Authority 'Property & Casualty' belongs to several LOA categories (Casualty, "
        "Property); fill LOA Category to say which"
    )
    assert errors[(6, "Line of Authority")].startswith(
        "Line of Authority 'Not A Line' is not a line of authority in CA"
    )
    assert errors[(7, "Line of Authority")] == (
        "Line of Authority 'Life' is in LOA category 'Life', not 'Casualty' as LOA Category "
        "says; correct one of them"
    )
    assert errors[(8, "LOA Category")] == "LOA Category is required (or fill Line of Authority)"
    assert errors[(9, "LOA Category")] == (
        "LOA Category 'Life;Property': one category per row; add a row for each category"
    )
    assert errors[(10, "Line of Authority")] == (
        "Line of Authority 'Property & Casualty' is in LOA categories Casualty, Property, not "
        "'Life' as LOA Category says; correct one of them"
    )


def test_appoint_duplicates_are_per_state(reference) -> None:
    validated = _check(
        APPOINT,
        "1,CA;TX,91234,Life,,,,,,",
        "1,TX,91234,Life,,,,,,",
        "1,TX,92345,Life,,,,,,",
        "1,TX,91234,Property,,,,,,",
        "1,NY;NY,91234,Life,,,,,,",
        kind="appoint",
        reference=reference,
    )
    assert _errors(validated) == {
        (3, "NPN"): "NPN '1', TX, CoCode '91234', LOA Category 'Life' is already requested on "
        "row 2; list each request once per file"
    }


# --------------------------------------------------------------------------------------------
# Terminate and portal_invite
# --------------------------------------------------------------------------------------------


def test_terminate_reason_codes_and_lines(reference) -> None:
    validated = _check(
        TERMINATE,
        "10000001,CA,Life,91234,,,",
        "10000002,CA;TX,16,91234,death,2025-01-31,yes",
        "10000003,CA,Life,91234,FIRED,,",
        "10000004,CA;PR,Accident & Health or Sickness,91234,DEATH,,",
        kind="terminate",
        reference=reference,
    )
    errors = _errors(validated)
    assert errors[(4, "Termination Reason Code")].startswith(
        "Termination Reason Code 'FIRED' is not a termination reason"
    )
    assert errors[(5, "Line of Authority")].startswith(
        "Line of Authority 'Accident & Health or Sickness' is not a line of authority in PR"
    )
    rows = validated.valid_rows.set_index("row_number")
    assert pd.isna(rows.at[2, "termination_reason_code"])  # blank: the state's default
    assert rows.at[3, "termination_reason_code"] == "DEATH"
    assert rows["submit_immediately"].tolist() == [False, True]
    requests = validated.exploded()
    assert requests[["request_row", "state_code", "loa_code", "loa_name"]].values.tolist() == [
        [2, "CA", "16", "Life"],
        [3, "CA", "16", "Life"],
        [3, "TX", "16", "Life"],
    ]


def test_portal_invite(reference) -> None:
    validated = _check(
        "npn,portal",
        "1,Agency Portal",
        "2, Agency Portal ",
        "1,AGENCY PORTAL",
        "x1,",
        kind="portal_invite",
        reference=reference,
    )
    assert validated.valid_rows.values.tolist() == [[2, "1", "Agency Portal"],
                                                    [3, "2", "Agency Portal"]]  # fmt: skip
    assert _errors(validated) == {
        (4, "NPN"): "NPN '1' is already invited to 'AGENCY PORTAL' on row 2",
        (5, "NPN"): "NPN 'x1' must be digits only (up to 10)",
        (5, "Portal"): "Portal is required (the cell is empty)",
    }


# --------------------------------------------------------------------------------------------
# Error report
# --------------------------------------------------------------------------------------------


def test_the_error_report_has_the_rows_as_typed_plus_row_and_errors(reference) -> None:
    text = "\r\n".join([
        AGENT + ",Notes",
        "9000001,Ann,Lee,10000001,,,,,,,,fine",
        '9000001,=CMD(),Lee,@x,-1,123-45-6789,,+CA,,,,"=HYPERLINK(""http://e"")"',
        '9000001,Cy,Diaz,1000000X,"\tcy@example.com",,,,,,,',
    ]) + "\r\n"  # fmt: skip
    raw = read_upload(text.encode(), "upload.csv")
    validated = validate_upload(raw, "agent", reference)
    frame = error_report_frame(raw, validated)
    assert list(frame.columns) == ["Row", "Errors", *raw.labels]
    assert frame["Row"].tolist() == ["3", "4"]
    first = frame.iloc[0]
    assert first["First Name"] == "'=CMD()" and first["Agent NPN"] == "'@x"
    assert first["Agent Email"] == "'-1" and first["States"] == "'+CA"
    assert first["Agent SSN"] == "***-**-6789"
    assert first["Notes"] == '\'=HYPERLINK("http://e")'
    # NPN, email, states and the three assignment columns the filled States asks for
    assert first["Errors"].count(ERROR_SEPARATOR) == 5
    assert frame.iloc[1]["Agent Email"] == "'\tcy@example.com"  # as typed, neutralised
    parsed = list(csv.reader(io.StringIO(error_report_csv(raw, validated).decode("utf-8-sig"))))
    assert parsed[0] == list(frame.columns) and parsed[1] == first.tolist()

    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(error_report_xlsx(raw, validated))).worksheets[0]
    assert sheet.title == "errors"
    assert [c.value for c in sheet[1]] == list(frame.columns)
    assert sheet["C2"].value == "9000001" and sheet["D2"].value == "'=CMD()"
    assert all(cell.data_type == "s" for row in sheet.iter_rows() for cell in row if cell.value)


def test_the_error_report_of_a_clean_upload_is_just_the_header(reference) -> None:
    raw = read_upload(b"NPN,Portal\r\n1,P\r\n", "a.csv")
    validated = validate_upload(raw, "portal_invite", reference)
    assert error_report_csv(raw, validated).decode("utf-8-sig") == "Row,Errors,NPN,Portal\r\n"


# --------------------------------------------------------------------------------------------
# Scale: vectorised, so a large file gives exact row numbers (timing is in bench/, not here)
# --------------------------------------------------------------------------------------------


def test_a_large_file_reports_exactly_its_bad_rows(reference) -> None:
    states = list(JURISDICTION_CODES)
    rows = []
    bad = set()
    for i in range(20_000):
        state = f"{states[i % 54]};{states[(i + 7) % 54]}"
        npn = str(20_000_000 + i)
        if i % 997 == 0:
            state, _ = "ca; ZZ", bad.add(i + 2)
        rows.append(f"9000001,F{i},L{i},{npn},,,Life,{state},License,Producer,")
    validated = _check(AGENT, *rows, kind="agent", reference=reference)
    assert validated.rejected_row_numbers == sorted(bad)
    assert validated.rows_valid == 20_000 - len(bad)
    assert len(validated.exploded()) == 2 * validated.rows_valid
