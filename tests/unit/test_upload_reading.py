"""Reading uploads: text exactly as typed, the right rows, and one clear whole-file message."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest

from assets.uploads.reading import (
    UploadRejected,
    detect_kind,
    match_columns,
    normalise_header,
    read_upload,
    require_columns,
)
from schemas.uploads import FOLDER_ONLY_KINDS, TEMPLATES

AGENT = "Agency NPN,First Name,Last Name,Agent NPN"


def _xlsx(*sheets: tuple[str, list[list[object]]]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets:
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------
# Cells as typed
# --------------------------------------------------------------------------------------------


def test_csv_cells_stay_text_with_leading_zeros_and_no_float_artefacts() -> None:
    raw = read_upload(b"NPN,CoCode,ZIP,Big,Note\r\n0012345,01234,02110,12345678901,NA\r\n", "a.csv")
    assert raw.frame.loc[2].tolist() == ["0012345", "01234", "02110", "12345678901", "NA"]
    assert all(str(dtype) == "str" for dtype in raw.frame.dtypes)


def test_xlsx_numbers_dates_and_booleans_come_back_as_the_text_excel_shows() -> None:
    data = _xlsx(
        (
            "data",
            [
                ["a", "b", "c", "d", "e", "f", "g", "h"],
                [12345678.0, 1.2345678e7, 91234, 0.5, True, dt.datetime(2025, 3, 1),
                 dt.datetime(2025, 3, 1, 13, 30), dt.date(2024, 12, 31)],
                [1e-7, 2.5e20, False, None, "0012", "=not a formula?", -3.0, 10**15],
            ],
        )
    )  # fmt: skip
    raw = read_upload(data, "numbers.xlsx")
    assert raw.source_format == "xlsx" and raw.sheet_name == "data"
    assert raw.frame.loc[2].tolist() == [
        "12345678", "12345678", "91234", "0.5", "TRUE", "2025-03-01", "2025-03-01 13:30:00",
        "2024-12-31",
    ]  # fmt: skip
    row = raw.frame.loc[3].tolist()
    assert row[:5] == ["0.0000001", "250000000000000000000", "FALSE", "", "0012"]
    assert row[6:] == ["-3", "1000000000000000"]


def test_only_the_first_sheet_is_read_and_template_tabs_are_not_mentioned() -> None:
    data = _xlsx(
        ("agent", [AGENT.split(","), ["9000001", "Ann", "Lee", "10000001"]]),
        ("accepted_values", [["State code"], ["CA"]]),
        ("termination_reason_key", [["reason_code"], ["DEATH"]]),
        ("appoint data", [["NPN", "States", "CoCode"], ["1", "CA", "91234"]]),
    )
    raw = read_upload(data, "agent.xlsx")
    assert raw.headers == tuple(AGENT.split(","))
    assert raw.row_numbers == [2]
    assert raw.warnings == (
        "Only the first sheet, 'agent', was read; other sheets ('appoint data') were ignored.",
    )


def test_row_numbers_are_the_spreadsheet_rows_even_with_quoted_line_breaks() -> None:
    text = (
        "\r\n"  # a blank first row: the header is row 2
        f"{AGENT}\r\n"
        '1,"Ann\r\nMarie",Lee,2\r\n'
        "\r\n"
        '1,Bob,"R\nay",3\r\n'
        "1,Cy,Diaz,4\r\n"
        ",,,\r\n\r\n"
    )
    raw = read_upload(text.encode(), "a.csv")
    assert raw.header_row == 2
    assert raw.row_numbers == [3, 4, 5, 6]  # trailing blank rows are not rows of the upload
    assert raw.frame.loc[3, "First Name"] == "Ann\r\nMarie"
    assert raw.frame.loc[4].tolist() == ["", "", "", ""]
    assert raw.frame.loc[6, "Agent NPN"] == "4"


def test_xlsx_blank_rows_keep_their_row_numbers() -> None:
    data = _xlsx(("s", [AGENT.split(","), [1, "A", "B", 2], [], [None, None], [1, "C", "D", 3]]))
    raw = read_upload(data, "a.xlsx")
    assert raw.row_numbers == [2, 3, 4, 5]
    assert raw.frame.loc[5, "First Name"] == "C"


# --------------------------------------------------------------------------------------------
# Encodings and delimiters
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "encoding", "warned"),
    [
        ("Name\r\nJosé\r\n".encode(), "utf-8", False),
        (b"\xef\xbb\xbf" + "Name\r\nJosé\r\n".encode(), "utf-8-sig", False),
        ("Name\r\nJosé\r\n".encode("cp1252"), "cp1252", True),
        ("Name\r\nJosé\r\n".encode("utf-16"), "utf-16", False),
        (b"\xfe\xff" + "Name\r\nJosé\r\n".encode("utf-16-be"), "utf-16", False),
    ],
)
def test_encodings_are_detected_and_accents_survive(data: bytes, encoding: str, warned: bool):
    raw = read_upload(data, "names.csv")
    assert raw.encoding == encoding
    assert raw.frame.loc[2, "Name"] == "José"
    assert any("Windows-1252" in w for w in raw.warnings) is warned


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("NPN,States,CoCode\r\n1,CA;TX;NY,91234\r\n2,CA;TX,91234\r\n", ","),
        ('NPN;States;CoCode\r\n1;"CA;TX";91234\r\n', ";"),
        ("NPN\tStates\tCoCode\r\n1\tCA;TX\t91234\r\n", "\t"),
        ("sep=;\r\nNPN;States;CoCode\r\n1;CA;91234\r\n", ";"),
        ("NPN\r\n1\r\n", ","),
    ],
)
def test_the_delimiter_is_detected(text: str, delimiter: str) -> None:
    raw = read_upload(text.encode(), "a.csv")
    assert raw.delimiter == delimiter
    assert raw.headers[0] == "NPN"
    assert raw.frame.loc[2, "NPN"] == "1"  # the sep= hint line is not a row
    if "States" in raw.headers:
        assert raw.frame.loc[2, "States"].startswith("CA")


def test_a_comma_file_whose_cells_hold_semicolon_lists_is_still_comma_separated() -> None:
    lines = ["NPN,States,CoCode"] + [f"{i},CA;TX;NY;FL;GA,91234" for i in range(30)]
    raw = read_upload("\r\n".join(lines).encode(), "a.csv")
    assert raw.delimiter == "," and raw.frame.loc[2, "States"] == "CA;TX;NY;FL;GA"


def test_trailing_delimiters_and_unnamed_columns() -> None:
    text = "A,,B,Notes,Notes,,\r\n1,x,2,n1,n2,,\r\n3,,4,,,,extra\r\n"
    raw = read_upload(text.encode(), "a.csv")
    assert raw.headers == ("A", "", "B", "Notes", "Notes")
    assert raw.labels == ["A", "Column B", "B", "Notes", "Notes (2)"]
    assert raw.frame.loc[2, "Column B"] == "x"
    assert any("right of the last header column (E)" in w for w in raw.warnings)


def test_a_cell_longer_than_the_csv_module_default_limit_is_read() -> None:
    text = f"{AGENT}\r\n1,{'x' * 200_000},Lee,2\r\n"
    raw = read_upload(text.encode(), "a.csv")
    assert len(raw.frame.loc[2, "First Name"]) == 200_000


# --------------------------------------------------------------------------------------------
# Whole-file rejections
# --------------------------------------------------------------------------------------------


def test_the_size_limit_is_inclusive_and_the_message_gives_both_sizes() -> None:
    data = b"NPN\r\n" + b"1\r\n" * 30  # 95 bytes
    assert len(data) == 95
    assert read_upload(data, "a.csv", max_bytes=95).row_numbers[-1] == 31
    with pytest.raises(UploadRejected, match="95 bytes, over the 94 bytes limit"):
        read_upload(data, "a.csv", max_bytes=94)


@pytest.mark.parametrize(
    ("data", "phrase"),
    [
        (b"", "empty (0 bytes)"),
        (b"\r\n\r\n", "no rows"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a CSV or XLSX"),
        (b"\xef\xbb\xbfName\r\n\xff\xfe\r\n", "marked as UTF-8"),
        (b"12345678,91234\r\n", "no header"),
    ],
)
def test_whole_file_problems_reject_with_one_message(data: bytes, phrase: str) -> None:
    with pytest.raises(UploadRejected) as caught:
        read_upload(data, "x.csv")
    assert phrase in caught.value.message


def test_a_zip_that_is_not_a_workbook_is_rejected() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("content.xml", "<office:document/>")
    with pytest.raises(UploadRejected, match="not an Excel workbook"):
        read_upload(buffer.getvalue(), "sheet.ods")


def test_a_workbook_that_unpacks_to_too_much_is_rejected_before_reading() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", "0" * 5_000_000)
    data = buffer.getvalue()
    with pytest.raises(UploadRejected, match="unpacks to 5.0 MB"):
        read_upload(data, "bomb.xlsx", max_bytes=100_000)


# --------------------------------------------------------------------------------------------
# Kinds and columns
# --------------------------------------------------------------------------------------------


def test_headers_match_without_case_spaces_punctuation_or_required_markers() -> None:
    assert normalise_header("Agent NPN") == normalise_header(" agent_npn* ")
    labels = ["agent npn", "STATE(S)", "Line Of Authority", "cocode", "Termination_Reason",
              "submit immediately", "My notes"]  # fmt: skip
    match = match_columns(labels, "terminate")
    assert match.fields == {
        "npn": "agent npn",
        "state_codes": "STATE(S)",
        "line_of_authority": "Line Of Authority",
        "cocode": "cocode",
        "termination_reason_code": "Termination_Reason",
        "submit_immediately": "submit immediately",
    }
    assert match.unknown == ("My notes",) and match.complete


def test_two_columns_meaning_the_same_template_column_reject_the_file() -> None:
    with pytest.raises(UploadRejected, match="'State' and 'States' both mean 'States'"):
        match_columns(["NPN", "State", "States", "CoCode"], "appoint")


@pytest.mark.parametrize("kind", [k for k in TEMPLATES if k not in FOLDER_ONLY_KINDS])
def test_each_template_header_is_recognised(kind: str) -> None:
    headers = [c.header for c in TEMPLATES[kind]]
    assert detect_kind(headers) == kind
    required = [c.header.upper() for c in TEMPLATES[kind] if c.required]
    assert detect_kind(required) == kind  # the required columns alone suffice


@pytest.mark.parametrize("kind", sorted(FOLDER_ONLY_KINDS))
def test_a_folder_only_kind_is_never_guessed_from_its_header(kind: str) -> None:
    # Offboarding terminates every appointment: only inbox/offboard/ says a file is one.
    headers = [c.header for c in TEMPLATES[kind]]
    if kind == "jit_release":
        # Its header is an appoint file's required columns: at the root it reads as appoint
        # requests (reviewed before anything is sent), never as a release.
        assert detect_kind(headers) == "appoint"
    else:
        with pytest.raises(UploadRejected):
            detect_kind(headers)
    with pytest.raises(UploadRejected, match="not an npnflow template"):
        detect_kind(["Agent NPN"])
    assert detect_kind(headers, kind) == kind


def test_the_folder_wins_over_the_header() -> None:
    appoint = [c.header for c in TEMPLATES["appoint"]]
    assert detect_kind(appoint, "agent") == "agent"
    assert detect_kind(appoint, "Portal-Invite") == "portal_invite"
    with pytest.raises(UploadRejected, match="'onboard' is not an upload kind"):
        detect_kind(appoint, "onboard")


def test_missing_required_columns_are_named_with_the_kind() -> None:
    with pytest.raises(UploadRejected) as caught:
        require_columns(["NPN", "CoCode", "County"], "appoint")
    assert caught.value.message.startswith(
        "This appoint file is missing the required column(s) States."
    )
    with pytest.raises(UploadRejected, match="missing the required column\\(s\\) Last Name"):
        detect_kind(["Agency NPN", "First Name", "Agent NPN"])  # most of the agent template
    with pytest.raises(UploadRejected, match="not an npnflow template"):
        detect_kind(["Name", "Phone"])
