"""Email addresses: the email-validator library decides, syntax only, the ASCII form stored."""

from __future__ import annotations

import random

import pytest

from schemas.email_addresses import checked_by_library, checked_email

TRICKY = [
    "ann.lee@example.com",
    "Ann.Lee@Example.COM",
    "gary.o'brien@example.com",
    "a+tag@sub.example.co.uk",
    "x@y.io",
    "a@x.y",
    "-dash@example.com",
    "a..b@example.com",
    ".a@example.com",
    "a.@example.com",
    "a" * 64 + "@example.com",
    "a" * 65 + "@example.com",
    "a@" + "b" * 63 + ".com",
    "a@" + "b" * 64 + ".com",
    "a@" + ".".join(["b" * 60] * 4) + ".com",
    "ann@example",
    "ann@@example.com",
    "ann@example.com.",
    "ann@-example.com",
    "ann@exa_mple.com",
    "ann@example.c1",
    "ann@bücher.de",
    "ann@BÜCHER.de",
    "josé@example.com",
    '"a b"@example.com',
    "a@[1.2.3.4]",
    "a b@example.com",
    "a;b@example.com",
    "ann\u200b@example.com",
    "ann@exam\u200bple.com",
    "@example.com",
    "ann@",
    "ann",
    "ann@localhost",
    "ann@example.invalid",
    "ann@example.local",
    "user@xn--bcher-kva.de",
    "user@xn--p1ai.xn--p1ai",
]


@pytest.mark.parametrize("text", TRICKY)
def test_the_fast_path_gives_the_library_s_answer(text: str) -> None:
    address, reason = checked_email(text)
    expected_address, expected_reason = checked_by_library(text)
    assert address == expected_address
    assert (reason is None) == (expected_reason is None)


def test_random_addresses_get_the_library_s_answer() -> None:
    rng = random.Random(13)
    alphabet = "abcXYZ09.-_+'@!#é\u200b "
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        text += rng.choice(["@example.com", "@EXAMPLE.org", "@b.c", "@x", ""])
        assert checked_email(text)[0] == checked_by_library(text)[0], repr(text)


def test_the_normalised_form_is_ascii_with_the_domain_in_lower_case() -> None:
    assert checked_email("Ann.Lee@Example.COM") == ("Ann.Lee@example.com", None)
    assert checked_email("ann@bücher.de") == ("ann@xn--bcher-kva.de", None)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("ann@example", "the part after the @-sign is not valid, it should have a period"),
        ("ann@@example.com", "the part after the @-sign contains invalid characters: '@'"),
        ("josé@example.com", "internationalized characters before the @-sign are not supported"),
        ("ann\u200b@example.com", "ZERO WIDTH SPACE"),
        ("a" * 250 + "@example.com", "the email address is too long"),
    ],
)
def test_a_refused_address_says_why_in_one_clause(text: str, reason: str) -> None:
    address, why = checked_email(text)
    assert address is None and why is not None
    assert reason in why
    assert ". " not in why and not why.endswith(".")
