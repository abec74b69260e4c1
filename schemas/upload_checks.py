"""The vectorised checks the upload models use, registered with pandera. Pure.

Each runs once over a whole column (numpy, or once per distinct value), never once per row:
a 100,000-row upload is validated in well under a second (`bench/upload_validate.py`).
Registered on import: `schemas/uploads.py` imports this module before its models name them
(`pa.Field(is_npn=())`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from pandera import extensions

from schemas import email_addresses
from schemas.npns import MAX_NPN_DIGITS

__all__ = [
    "ISO_DATE",
    "is_calendar_date",
    "is_digits",
    "is_email_address",
    "is_npn",
    "semicolon_items_in",
    "semicolon_items_match",
    "split_items",
]

ISO_DATE = "%Y-%m-%d"


# --------------------------------------------------------------------------------------------
# Checks on `;`-lists and dates (vectorised: one pass over all cells, no loop per row)
# --------------------------------------------------------------------------------------------


def split_items(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The items of a column of `;`-lists: (position of the row, item), missing cells skipped.

    Vectorised through the distinct cell values: a 100,000-row file has a few hundred
    distinct `States` cells, so only those are split in Python; the rest is numpy.
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    pieces = [str(u).split(";") for u in uniques]
    counts = np.fromiter((len(p) for p in pieces), dtype=np.int64, count=len(pieces))
    flat = np.array([item for p in pieces for item in p] or [""], dtype=object)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]) if len(counts) else counts
    present = np.flatnonzero(codes >= 0)
    taken = codes[present]
    repeats = counts[taken] if len(counts) else np.zeros(0, dtype=np.int64)
    positions = np.repeat(present, repeats)
    first = np.repeat(starts[taken] if len(counts) else repeats, repeats)
    within = np.arange(repeats.sum()) - np.repeat(np.cumsum(repeats) - repeats, repeats)
    return positions, flat[first + within]


def _register(function: Callable[..., Any], **options: Any) -> Callable[..., Any]:
    """Register a custom pandera check once: re-importing the module must not fail on it."""
    try:
        registered: Callable[..., Any] = extensions.register_check_method(function, **options)
        return registered
    except (ValueError, AttributeError):  # pragma: no cover - already registered
        return function


def semicolon_items_in(series: pd.Series, *, allowed: Sequence[str]) -> pd.Series:
    """Every item of the `;`-list is one of `allowed`."""
    positions, items = split_items(series)
    bad = ~pd.Series(items, dtype=object).isin(list(allowed)).to_numpy(dtype=bool)
    ok = np.ones(len(series), dtype=bool)
    ok[positions[bad]] = False
    return pd.Series(ok, index=series.index)


def semicolon_items_match(series: pd.Series, *, pattern: str) -> pd.Series:
    """Every item of the `;`-list matches the regular expression `pattern`."""
    positions, items = split_items(series)
    matched = pd.Series(items, dtype=object).str.contains(pattern, regex=True)
    bad = ~matched.fillna(False).to_numpy(dtype=bool)
    ok = np.ones(len(series), dtype=bool)
    ok[positions[bad]] = False
    return pd.Series(ok, index=series.index)


def is_digits(series: pd.Series, *, min_length: int, max_length: int) -> pd.Series:
    """ASCII digits only, `min_length` to `max_length` of them (an NPN, a CoCode).

    numpy on the code points instead of a regex per cell: a 100,000-row column in
    milliseconds. Unicode digits (`²`, `١`) are not digits here.
    """
    width = max_length + 1  # longer text is cut to max_length + 1: still too long
    text = np.asarray(series.to_numpy(dtype=object), dtype=f"<U{width}")
    points = text.view(np.uint32).reshape(len(text), width)
    padding = points == 0
    digits = (points >= 48) & (points <= 57)
    length = (~padding).sum(axis=1)
    ok = (digits | padding).all(axis=1) & (length >= min_length) & (length <= max_length)
    return pd.Series(ok, index=series.index)


def is_calendar_date(series: pd.Series) -> pd.Series:
    """The text is a real date written YYYY-MM-DD (the validator rewrites US dates so)."""
    parsed = pd.to_datetime(series, format=ISO_DATE, errors="coerce")
    return parsed.notna() & series.astype("str").str.fullmatch(r"\d{4}-\d{2}-\d{2}")


def is_email_address(series: pd.Series) -> pd.Series:
    """Each address is one the email-validator library accepts (syntax only, no network)."""
    verdicts = {v: email_addresses.is_email_address(str(v)) for v in series.dropna().unique()}
    return series.map(verdicts).fillna(True).astype(bool)


def is_npn(series: pd.Series) -> pd.Series:
    """An NPN as NIPR writes it: 1 to 10 ASCII digits, no leading zero (so never all zeros).

    The validator has already stripped the leading zeros (`schemas/npns.py`): a zero left in
    front means the value was all zeros.
    """
    leading_zero = series.str.startswith("0").fillna(False).to_numpy(dtype=bool)
    return is_digits(series, min_length=1, max_length=MAX_NPN_DIGITS) & ~leading_zero


_register(semicolon_items_in, statistics=["allowed"], supported_types=pd.Series)
_register(semicolon_items_match, statistics=["pattern"], supported_types=pd.Series)
_register(is_digits, statistics=["min_length", "max_length"], supported_types=pd.Series)
_register(is_calendar_date, statistics=[], supported_types=pd.Series)
_register(is_email_address, statistics=[], supported_types=pd.Series)
_register(is_npn, statistics=[], supported_types=pd.Series)
