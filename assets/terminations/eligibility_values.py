"""Termination eligibility's value readers: text, flags, dates and line keys as the rules compare them.

Frames may arrive as read from a database or files: keys as numbers or text, booleans as
objects ('true', 1, None), dates as strings or timestamps. Every check reads them through these
functions, so a key is always trimmed text (a whole float 1001.0 reads as 1001), a flag is
True, False or None (unknown: never taken for true), and a date is a date, None when blank, or
the text itself when it is not a date (reported, never guessed). Separate from the checks so
that each check reads one kind of value. Pure, no Dagster.
"""

from __future__ import annotations

import pandas as pd

# The readers both engines share; imported here so every termination check reads through one
# module.
from assets.rules.values import flag, one_date_or_text, one_text

__all__ = [
    "LineKey",
    "flag",
    "lower",
    "normalise_keys",
    "one_date_or_text",
    "one_text",
    "producer_state_keys",
    "text",
    "upper",
]


def text(values: pd.Series) -> pd.Series:
    """`one_text` of each value, as an object Series on the same index."""
    return pd.Series([one_text(v) for v in values], index=values.index, dtype=object)


def upper(values: pd.Series) -> pd.Series:
    """`one_text` of each value in upper case (state codes, reason codes)."""
    return pd.Series(
        [None if (t := one_text(v)) is None else t.upper() for v in values],
        index=values.index,
        dtype=object,
    )


def lower(values: pd.Series) -> pd.Series:
    """`one_text` of each value in lower case (names and statuses compared in any case)."""
    return pd.Series(
        [None if (t := one_text(v)) is None else t.lower() for v in values],
        index=values.index,
        dtype=object,
    )


def normalise_keys(frame: pd.DataFrame) -> pd.DataFrame:
    """The line key (`KEY`: npn, state_code, cocode, loa_code) of each row, as compared."""
    return pd.DataFrame(
        {
            "npn": text(frame["npn"]),
            "state_code": upper(frame["state_code"]),
            "cocode": text(frame["cocode"]),
            "loa_code": text(frame["loa_code"]),
        }
    )


def producer_state_keys(frame: pd.DataFrame) -> pd.DataFrame:
    """The producer and state of each row (npn, state_code), as compared."""
    return pd.DataFrame(
        {"npn": text(frame["npn"]).to_numpy(), "state_code": upper(frame["state_code"]).to_numpy()}
    )


# A line key as `normalise_keys` reads it (None where blank).
LineKey = tuple[str | None, str | None, str | None, str | None]
