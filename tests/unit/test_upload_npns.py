"""NPNs in uploads are read as NIPR writes them: leading zeros stripped, with a warning."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from assets.reference.loading import load_company_config, load_reference_data
from assets.uploads.reading import read_upload
from assets.uploads.validation import ValidatedUpload, validate_upload

ROOT = Path(__file__).resolve().parents[2]
AGENT = (
    "Agency NPN,First Name,Last Name,Agent NPN,Agent Email,Agent SSN,LOA Category,States,"
    "Scorecard Type,Agent Type,CoCodes"
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


def _warnings(validated: ValidatedUpload) -> set[tuple[int, str, str]]:
    frame = validated.warnings.dropna(subset=["row_number"])
    return {
        (int(r), c, m)
        for r, c, m in zip(frame["row_number"], frame["column"], frame["message"], strict=True)
    }


def test_an_agent_row_loses_its_leading_zeros_with_a_warning_on_the_row(reference) -> None:
    validated = _check(
        AGENT,
        "0009000001,Ann,Lee,04890599,,,,,,,",
        "9000001,Bob,Ray,48905992,,,,,,,",
        kind="agent",
        reference=reference,
    )
    assert validated.valid_rows["npn"].tolist() == ["4890599", "48905992"]
    assert validated.valid_rows["agency_npn"].tolist() == ["9000001", "9000001"]
    assert _warnings(validated) == {
        (2, "Agency NPN", "Agency NPN 0009000001 read as 9000001"),
        (2, "Agent NPN", "Agent NPN 04890599 read as 4890599"),
    }
    assert validated.row_errors.empty


def test_a_padded_nine_digit_npn_is_masked_in_the_warning_like_any_ssn_shape(reference):
    # docs/decisions/0021: a 9-digit value is masked wherever a person reads it.
    validated = _check(AGENT, "9000001,Ann,Lee,048905991,,,,,,,", kind="agent",
                       reference=reference)  # fmt: skip
    assert validated.valid_rows.at[0, "npn"] == "48905991"
    assert (2, "Agent NPN", "Agent NPN ***-**-5991 read as 48905991") in _warnings(validated)


def test_a_padded_npn_and_its_canonical_twin_are_one_producer_per_file(reference) -> None:
    validated = _check(
        AGENT,
        "9000001,Ann,Lee,48905991,,,,,,,",
        "9000001,Ann,Lee,0048905991,,,,,,,",
        kind="agent",
        reference=reference,
    )
    assert _errors(validated) == {
        (3, "Agent NPN"): "Agent NPN '48905991' is already on row 2; list each producer once "
        "per file"
    }
    offboard = _check("Agent NPN", "7", "007", kind="offboard", reference=reference)
    assert list(_errors(offboard)) == [(3, "Agent NPN")]
    invite = _check("NPN,Portal", "7,Agency Portal", "07,agency portal",
                    kind="portal_invite", reference=reference)  # fmt: skip
    assert _errors(invite) == {(3, "NPN"): "NPN '7' is already invited to 'agency portal' on row 2"}
    appoint = _check(
        "NPN,States,CoCode,LOA Category",
        "10000001,CA,91234,Life",
        "010000001,CA;TX,91234,Life",
        kind="appoint",
        reference=reference,
    )
    assert list(_errors(appoint)) == [(3, "NPN")]


def test_an_all_zero_or_over_long_npn_is_refused_saying_why(reference, companies) -> None:
    validated = _check(
        "Agent NPN",
        "0000",
        "000012345678901",
        "0001234567890",
        kind="offboard",
        reference=reference,
        companies=companies,
    )
    assert _errors(validated) == {
        (2, "Agent NPN"): "Agent NPN '0000' is all zeros: NIPR numbers producers from 1; type "
        "the real NPN",
        (3, "Agent NPN"): "Agent NPN '12345678901' has 11 digits; NIPR's NPNs have at most 10",
    }
    assert (3, "Agent NPN", "Agent NPN 000012345678901 read as 12345678901") in _warnings(validated)
    assert validated.valid_rows["npn"].tolist() == ["1234567890"]


@pytest.mark.parametrize(
    ("kind", "header", "row"),
    [
        ("appoint", "NPN,States,CoCode,LOA Category", "0010000001,CA,91234,Life"),
        ("terminate", "Agent NPN,States,Line of Authority,CoCode", "0010000001,CA,Life,91234"),
        ("portal_invite", "NPN,Portal", "0010000001,Agency Portal"),
        ("offboard", "Agent NPN", "0010000001"),
        ("jit_release", "NPN,State,CoCode", "0010000001,CA,91234"),
    ],
)
def test_every_kind_stores_the_canonical_npn(kind, header, row, reference) -> None:
    validated = _check(header, row, kind=kind, reference=reference)
    assert validated.row_errors.empty
    assert validated.exploded()["npn"].unique().tolist() == ["10000001"]
    column = header.split(",")[0]
    assert (2, column, f"{column} 0010000001 read as 10000001") in _warnings(validated)
