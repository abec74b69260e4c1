"""How both eligibility engines read a flag, a piece of text and a date from an input frame. Pure.

Frames may arrive as read from a database or files: text as numbers or strings, booleans as
objects ('true', 1, None), dates as strings or timestamps. A flag is True, False or None
(unknown: never taken for true), and a date is a date, None when blank, or the text itself when
it is not a date (reported, never guessed). Kept apart from both domains so that an effective
date or a state rule's flag reads the same for an appointment and a termination.
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
