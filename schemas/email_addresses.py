"""Email addresses as npnflow accepts them: what the email-validator library accepts. Pure.

An address is checked for syntax only (`check_deliverability=False`: no DNS look-up, no
network), and only in the form every SMTP server can deliver: ASCII before the @ (no
SMTPUTF8), the domain in its ASCII form (`bücher.de` becomes `xn--bcher-kva.de`). Quoted
local parts and bracketed IP addresses are refused (the library's defaults). The normalised
address (the domain in lower case, the ASCII form) is what npnflow stores and mails to.

`checked_email(text)` returns `(normalised address, None)` or `(None, why not)`, the reason
in the library's words made into one clause ("the part after the @-sign is not valid, it
should have a period").

The library takes about 0.1 ms an address, most of it on the domain, and an upload of 100,000
producers has 100,000 addresses but a handful of domains. So the common address, a plain
ASCII dot-atom before the @, is decided from the library's verdict on its domain (asked once
per domain) and the 254-character limit the library applies to the whole address; anything
else is handed to the library whole. `tests/unit/test_email_addresses.py`
holds the two paths to the same answers.
"""

from __future__ import annotations

import re
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

# RFC 5322 atext, dot-separated: what the library accepts before the @ without SMTPUTF8 or
# quoting.
_PLAIN_LOCAL_PART = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*", re.ASCII
)
_ADDRESS_MAX_CHARS = 254


def checked_email(text: str) -> tuple[str | None, str | None]:
    """`(the normalised address, None)`, or `(None, the reason it is not an address)`."""
    local, at, domain = text.rpartition("@")
    if at and len(text) <= _ADDRESS_MAX_CHARS and _PLAIN_LOCAL_PART.fullmatch(local):
        normalised_domain = _checked_domain(domain)
        if normalised_domain is not None:
            address = f"{local}@{normalised_domain}"
            if len(address) <= _ADDRESS_MAX_CHARS:
                return address, None
    return checked_by_library(text)


def is_email_address(text: str) -> bool:
    return checked_email(text)[0] is not None


@lru_cache(maxsize=4096)
def checked_by_library(text: str) -> tuple[str | None, str | None]:
    """The library's verdict on the whole address (and the normalised ASCII form)."""
    try:
        result = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as error:
        return None, _one_clause(str(error))
    return result.ascii_email or result.normalized, None


@lru_cache(maxsize=4096)
def _checked_domain(domain: str) -> str | None:
    """The library's normalised ASCII form of `domain`, or None when it refuses it (the whole
    address then goes to the library, which says why)."""
    address, _ = checked_by_library(f"a@{domain}")
    return None if address is None else address.rpartition("@")[2]


def _one_clause(reason: str) -> str:
    """The library's sentences as one clause to follow a colon: "The part ... is not valid. It
    should have a period." becomes "the part ... is not valid, it should have a period"."""
    sentences = [s.strip().rstrip(".") for s in reason.split(". ") if s.strip()]
    joined = ", ".join(s[:1].lower() + s[1:] for s in sentences)
    return joined or "it is not an email address"
