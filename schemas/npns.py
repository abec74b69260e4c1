"""National Producer Numbers as NIPR writes them: digits, no leading zeros.

NIPR's NPNs are numbers (the PDB hands them out counting up from 1) and every NIPR reply
writes them without leading zeros. A spreadsheet, a typed argument or a padded export may carry
`048905991` for producer `48905991`; kept as typed, that is a second producer NIPR does not
know. Every place an NPN comes in (uploads, NIPR replies, CLI arguments) reads it through
`canonical_npn`, so one producer has one key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a type only: the command line imports this module, and must start fast
    import pandas as pd


def canonical_npn(text: object) -> str:
    """The NPN as NIPR writes it: trimmed, leading zeros stripped from an all-digit value.

    Anything else (blank, letters, all zeros) is returned trimmed and unchanged, for the
    caller's validation to refuse with its own message.
    """
    value = str(text).strip()
    if value.isascii() and value.isdigit() and value.startswith("0"):
        stripped = value.lstrip("0")
        return stripped or value
    return value


def canonical_npns(values: pd.Series) -> pd.Series:
    """`canonical_npn` over a column; missing values stay missing."""
    present = values.notna()
    result = values.copy()
    result[present] = [canonical_npn(v) for v in values[present]]
    return result


#: NIPR's NPNs have at most 10 digits (the PDB's NPN field; `schemas/uploads.py` NPN).
MAX_NPN_DIGITS = 10


def npn_read_note(typed: object, canonical: str, label: str = "NPN") -> str | None:
    """What a person is told when `typed` was read as `canonical` ("NPN 048905991 read as
    48905991"), or None when nothing but surrounding spaces changed."""
    shown = str(typed).strip()
    if shown == canonical:
        return None
    return f"{label} {shown} read as {canonical}"


def npn_problem(text: object, label: str = "NPN") -> str | None:
    """Why `text` is not an NPN NIPR could know, in words an analyst can act on; None if it is.

    Read after `canonical_npn`: only ASCII digits, not all zeros (NIPR numbers producers from
    1), at most 10 digits once the leading zeros are gone.
    """
    value = canonical_npn(text)
    if not value:
        return f"{label} is blank: type the producer's National Producer Number"
    if not (value.isascii() and value.isdigit()):
        return (
            f"{label} '{value}' is not an NPN: an NPN is digits only (0-9), up to {MAX_NPN_DIGITS}"
        )
    if set(value) == {"0"}:
        return f"{label} '{value}' is all zeros: NIPR numbers producers from 1; type the real NPN"
    if len(value) > MAX_NPN_DIGITS:
        padded = " without its leading zeros" if value != str(text).strip() else ""
        return (
            f"{label} '{value}' has {len(value)} digits{padded}; NIPR's NPNs have at most "
            f"{MAX_NPN_DIGITS}"
        )
    return None


def is_canonical_npn(text: object) -> bool:
    """An NPN exactly as NIPR writes it: digits, no leading zero, 1 to 10 of them."""
    value = str(text)
    return canonical_npn(value) == value and npn_problem(value) is None
