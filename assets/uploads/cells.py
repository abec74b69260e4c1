"""One cell of an upload: how a value is shown, masked, matched and spread. Pure.

Every part of upload validation (normalising, messages, the typed rows) shows values the same
way: formulas neutralised so a spreadsheet never runs them, SSNs reduced to their last four
digits, long values cut. And every rule runs once per distinct value (`map_distinct`): a
100,000-row file has a few hundred distinct cells per column. Separate from `validation.py` so
that the normalising and message modules share these without importing each other.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from schemas.uploads import split_items

SHOWN_CHARS = 60  # a value quoted in a message

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
SSN_SHAPE = re.compile(r"(?<!\d)\d{3}-\d{2}-(\d{4})(?!\d)")


def neutralise(text: str) -> str:
    """A cell that a spreadsheet would not run as a formula (`'` before = + - @ tab CR)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def mask_ssns(text: str) -> str:
    """Anything shaped like an SSN (123-45-6789) reduced to its last four digits."""
    return SSN_SHAPE.sub(r"***-**-\1", text)


def mask_ssn_value(text: str) -> str:
    """A value typed in the SSN column: only its last four digits survive."""
    digits = re.sub(r"\D", "", text)
    return f"***-**-{digits[-4:]}" if len(digits) >= 4 else "****" if text else ""


def looks_like_formula(text: str) -> bool:
    """Whether a spreadsheet would read `text` as a formula (a signed number is not one)."""
    return bool(text) and (
        text[0] in "=@" or (text[0] in "+-" and len(text) > 1 and not text[1].isdigit())
    )


def shown(text: object, limit: int = SHOWN_CHARS) -> str:
    """A value as quoted in a message: one line, SSNs masked, at most `limit` characters."""
    value = "" if missing(text) else str(text)
    value = mask_ssns(value.replace("\r", " ").replace("\n", " "))
    return value if len(value) <= limit else value[: limit - 1] + "…"


def missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


def empty_frame(columns: list[str], dtypes: Mapping[str, str] | None = None) -> pd.DataFrame:
    """No rows, text columns unless `dtypes` says otherwise."""
    frame = pd.DataFrame({c: pd.Series(dtype="str") for c in columns})
    return frame.astype(dict(dtypes or {}))


def map_distinct(series: pd.Series, function: Callable[[str], str | None]) -> pd.Series:
    """`function` applied once per distinct non-missing value; missing stays missing."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    if len(uniques) == 0:
        return series.copy()
    done = np.array([function(str(u)) for u in uniques] + [None], dtype=object)
    return pd.Series(done[codes], index=series.index, dtype="str")


def match_key(text: str) -> str:
    """How names are compared: case and runs of spaces ignored."""
    return " ".join(text.casefold().split())


def and_list(values: pd.Series) -> str:
    """'CA', 'CA and TX', 'CA, TX and VA' (repeats dropped, order kept)."""
    items: list[str] = list(dict.fromkeys(values))
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def split_explode(frame: pd.DataFrame, column: str, into: str) -> pd.DataFrame:
    """One row per item of the `;`-list in `column` (a missing list: one row, item missing)."""
    positions, items = split_items(frame[column])
    empty = np.flatnonzero(frame[column].isna().to_numpy(dtype=bool))
    order = np.concatenate([positions, empty])
    values = np.concatenate([items, np.full(len(empty), None, dtype=object)])
    sort = np.argsort(order, kind="stable")
    out = frame.iloc[order[sort]].reset_index(drop=True)
    out[into] = pd.Series(values[sort], dtype="str")
    return out
