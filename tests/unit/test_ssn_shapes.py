"""What "shaped like an SSN" means (`schemas/ssn_shapes.py`), and the header of an SSN column."""

from __future__ import annotations

import pytest

from schemas.ssn_shapes import (
    contains_ssn_shape,
    is_ssn_shape,
    looks_like_ssn_header,
    mask_ssn_shapes,
)


@pytest.mark.parametrize(
    "typed",
    [
        "123456789",
        "123-45-6789",
        "123 45 6789",
        "123.45.6789",
        "123 - 45 - 6789",
        "123-45 6789",
        "123.45-6789",
        "123  45  6789",
        "123\u201345\u20136789",  # en dashes, as a word processor writes them
        "123\u00a045\u00a06789",  # no-break spaces
        "123\u200b45\u200b6789",  # zero-width spaces pasted with the number
        "\uff11\uff12\uff13-\uff14\uff15-\uff16\uff17\uff18\uff19",  # full-width digits
    ],
)
def test_every_common_shape_is_an_ssn_and_keeps_only_its_last_four(typed: str) -> None:
    assert is_ssn_shape(typed) and is_ssn_shape(f" {typed} ")
    masked = mask_ssn_shapes(f"Name {typed}, call back")
    assert masked.startswith("Name ***-**-") and masked.endswith(", call back")
    assert "123" not in masked and "\uff11\uff12\uff13" not in masked


@pytest.mark.parametrize(
    "text",
    [
        "1234567890",  # a 10-digit NPN
        "12345678",  # eight digits
        "0123456789012",  # part of a longer run
        "555-123-4567",  # a phone number
        "2025-01-31",
        "91234;92345",
        "1-800-555-0100",
    ],
)
def test_other_numbers_are_left_alone(text: str) -> None:
    assert mask_ssn_shapes(text) == text
    assert not contains_ssn_shape(text) and not is_ssn_shape(text)


def test_every_ssn_in_a_text_is_masked() -> None:
    text = "SSN 123 45 6789 or 987.65.4321; NPN 123456789 (9 digits: masked too)"
    assert mask_ssn_shapes(text) == (
        "SSN ***-**-6789 or ***-**-4321; NPN ***-**-6789 (9 digits: masked too)"
    )
    assert contains_ssn_shape("Ann 123456789 Lee") and not is_ssn_shape("Ann 123456789 Lee")


@pytest.mark.parametrize(
    "label",
    ["Social Security Number", "SSN", "ssn", "Soc Sec #", "SS No.", "SS#", "Tax ID",
     "Taxpayer ID", "social_security_no", "SSN/TIN", "Agent SSN"],
)  # fmt: skip
def test_headers_that_name_ssns(label: str) -> None:
    assert looks_like_ssn_header(label)


@pytest.mark.parametrize(
    "label", ["Notes", "Session", "Lessons", "Assn", "Classification", "Passing", "Email"]
)
def test_headers_that_do_not(label: str) -> None:
    assert not looks_like_ssn_header(label)
