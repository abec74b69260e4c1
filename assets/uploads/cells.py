"""One cell of an upload: how a value is shown, masked, matched and spread. Pure.

Every part of upload validation (normalising, messages, the typed rows) shows values the same
way: formulas neutralised so a spreadsheet never runs them, anything shaped like an SSN
reduced to its last four digits (`schemas/ssn_shapes.py`: nine digits, or 3-2-4 with dashes,
spaces or dots), control characters shown as U+FFFD, invisible characters dropped, long values
cut. And every rule runs once per distinct value (`map_distinct`): a 100,000-row file
has a few hundred distinct cells per column. Separate from `validation.py` so that the
normalising and message modules share these without importing each other.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from schemas.ssn_shapes import mask_ssn_shapes
from schemas.uploads import split_items

SHOWN_CHARS = 60  # a value quoted in a message

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# No cell may hold these: the C0 controls but tab, CR and LF, DEL, and the C1 controls. NUL
# also cannot be stored in PostgreSQL text at all.
CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Invisible characters that a paste from a web page, a PDF or an email carries along.
INVISIBLE_CHARACTER = re.compile(r"[\u00ad\u200b-\u200d\u2060\ufeff]")
# What ends a line in a mail header or a text file (NEL, U+0085, is a control character).
LINE_BREAK = re.compile(r"[\r\n\u2028\u2029]")
_CONTROL_NAMES = {
    0x00: "NUL",
    0x07: "BEL",
    0x08: "backspace",
    0x0B: "vertical tab",
    0x0C: "form feed",
    0x1B: "ESC",
    0x7F: "DEL",
}
_INVISIBLE_NAMES = {
    "\u00ad": "soft hyphen",
    "\u200b": "zero-width space",
    "\u200c": "zero-width non-joiner",
    "\u200d": "zero-width joiner",
    "\u2060": "word joiner",
    "\ufeff": "zero-width no-break space",
}
_REPLACEMENT = "\ufffd"


def neutralise(text: str) -> str:
    """A cell safe to open in a spreadsheet: `'` before = + - @ tab CR (never run as a
    formula), and control characters, which no spreadsheet cell holds, shown as U+FFFD."""
    text = CONTROL_CHARACTER.sub(_REPLACEMENT, text)
    return "'" + text if text.startswith(_FORMULA_START) else text


def mask_ssns(text: str) -> str:
    """Anything shaped like an SSN (123456789, 123-45-6789, 123 45 6789, 123.45.6789) reduced
    to its last four digits: `***-**-6789`."""
    return mask_ssn_shapes(text)


def mask_ssn_value(text: str) -> str:
    """A value typed in an SSN column: only its last four digits survive."""
    digits = re.sub(r"\D", "", text)
    return f"***-**-{digits[-4:]}" if len(digits) >= 4 else "****" if text else ""


def control_character_name(text: str) -> str | None:
    """The first control character of `text` by name ("NUL", "ESC", "U+0085"), else None."""
    found = CONTROL_CHARACTER.search(text)
    if found is None:
        return None
    point = ord(found.group())
    return _CONTROL_NAMES.get(point, f"U+{point:04X}")


def invisible_character_name(text: str) -> str | None:
    """The first invisible character of `text` by name ("zero-width space"), else None."""
    found = INVISIBLE_CHARACTER.search(text)
    return None if found is None else _INVISIBLE_NAMES[found.group()]


def without_invisible_characters(text: str) -> str:
    return INVISIBLE_CHARACTER.sub("", text)


def has_non_ascii_digit(text: str) -> bool:
    """Whether `text` holds a digit other than 0-9 (Arabic-Indic `١`, full-width `１`, ...)."""
    return any(c.isdigit() and not c.isascii() for c in text)


def looks_like_formula(text: str) -> bool:
    """Whether a spreadsheet would read `text` as a formula (a signed number is not one)."""
    return bool(text) and (
        text[0] in "=@" or (text[0] in "+-" and len(text) > 1 and not text[1].isdigit())
    )


def shown(text: object, limit: int = SHOWN_CHARS) -> str:
    """A value as quoted in a message: one line, SSNs masked, invisible characters dropped,
    control characters as U+FFFD, at most `limit` characters."""
    value = "" if missing(text) else str(text)
    value = LINE_BREAK.sub(" ", without_invisible_characters(value))
    value = mask_ssns(CONTROL_CHARACTER.sub(_REPLACEMENT, value))
    return value if len(value) <= limit else value[: limit - 1] + "…"


def masked_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose text cells have every SSN-shaped value masked: what a table
    shown to a person (metadata previews, `npnflow validate`) goes through last."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
            texts = values.map(lambda v: mask_ssns(v) if isinstance(v, str) else v)
            out[column] = texts.astype(values.dtype)
    return out


def missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


def empty_frame(columns: list[str], dtypes: Mapping[str, str] | None = None) -> pd.DataFrame:
    """No rows, text columns unless `dtypes` says otherwise."""
    frame = pd.DataFrame({c: pd.Series(dtype="str") for c in columns})
    return frame.astype(dict(dtypes or {}))


def any_match(series: pd.Series, pattern: re.Pattern[str], joiner: str = "\x00") -> bool:
    """Whether `pattern` matches in any cell: one search over the column joined by `joiner`
    (a character the pattern never takes), so a clean 100,000-row column costs one pass."""
    values = series.dropna().tolist()
    return bool(values) and pattern.search(joiner.join(map(str, values))) is not None


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
