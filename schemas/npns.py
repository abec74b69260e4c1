"""National Producer Numbers as NIPR writes them: digits, no leading zeros.

NIPR's NPNs are numbers (the PDB hands them out counting up from 1) and every NIPR reply
writes them without leading zeros. A spreadsheet, a typed argument or a padded export may carry
`048905991` for producer `48905991`; kept as typed, that is a second producer NIPR does not
know. Every place an NPN comes in (uploads, NIPR replies, CLI arguments) reads it through
`canonical_npn`, so one producer has one key.
"""

from __future__ import annotations

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
