"""Termination eligibility's value readers: text, flags, dates and line keys as the rules compare them.

Frames may arrive as read from a database or files: keys as numbers or text, booleans as
objects ('true', 1, None), dates as strings or timestamps. Every check reads them through these
functions, so a key is always trimmed text (a whole float 1001.0 reads as 1001), a flag is
True, False or None (unknown: never taken for true), and a date is a date, None when blank, or
the text itself when it is not a date (reported, never guessed). Separate from the checks so
that each check reads one kind of value. Pure, no Dagster.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd

from schemas.booleans import parse_boolean_word


def one_text(value: Any) -> str | None:
    """Trimmed text; None for missing or blank. A whole float (1001.0) reads as 1001."""
    if value is None:
        return None
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return None
        if float(value).is_integer():
            return str(int(value))
    elif not isinstance(value, str) and pd.isna(value):
        return None
    text = str(value).strip()
    return text or None


def flag(value: Any) -> bool | None:
    """True, False, or None when missing or unreadable (the words of `schemas.booleans`)."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    text = one_text(value)
    return None if text is None else parse_boolean_word(text)


def one_date_or_text(value: Any) -> dt.date | str | None:
    """A date; None when blank; the text itself when it is not a date (reported, not guessed)."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else pd.Timestamp(value).date()
    text = one_text(value)
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return text


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


# A line key as `normalise_keys` reads it (None where blank).
LineKey = tuple[str | None, str | None, str | None, str | None]
