"""Normalising an upload's cells before validation, and the warnings it notes. Pure.

What a person types is read the way they meant it, vectorised (each rule once per distinct
value): surrounding spaces; `;`-lists (`ca; tx` -> `CA;TX`, empty items and repeats dropped);
the letter case of known values (LOA categories, agent and scorecard types); TRUE/FALSE words;
ISO or US dates to ISO; termination reason codes; numbers a spreadsheet wrote as `12345678.0`;
email addresses in the email-validator library's normalised form; invisible characters
(zero-width space, soft hyphen, ...) removed from names, free text and listed values.
Each change is noted as a warning ("'ca; tx' was read as 'CA;TX'"), never an error; what
cannot be read is left as typed for validation to report. Identifiers (NPNs, CoCodes, SSNs)
and email addresses keep an invisible character: validation refuses them, because an
identifier is never guessed at. Digits are 0-9 only. Separate from `validation.py`: this is
about reading values, that is about judging rows.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import pandas as pd

from assets.uploads import cells
from schemas.booleans import FALSE_WORDS, TRUE_WORDS
from schemas.email_addresses import checked_email
from schemas.reference import LOA_CATEGORIES
from schemas.uploads import AGENT_TYPES, SCORECARD_ALIASES, TemplateColumn

WARNING_COLUMNS = ["row_number", "column", "message"]
# The column kinds that hold identifiers: an invisible character in one is refused, not removed.
IDENTIFIER_KINDS = frozenset({"npn", "cocode", "cocodes", "ssn", "email"})


class Notes:
    """Warnings: whole-file lines, and per-cell frames collected without a loop per row."""

    def __init__(self) -> None:
        self._parts: list[pd.DataFrame] = []

    def file(self, message: str, column: str | None = None) -> None:
        self._parts.append(
            pd.DataFrame({"row_number": [pd.NA], "column": [column], "message": [message]})
        )

    def per_cell(self, rows: pd.Index, column: str, messages: pd.Series) -> None:
        if len(rows):
            self._parts.append(
                pd.DataFrame(
                    {
                        "row_number": rows.to_numpy(dtype="int64"),
                        "column": column,
                        "message": messages.to_numpy(),
                    }
                )
            )

    def frame(self) -> pd.DataFrame:
        if not self._parts:
            return cells.empty_frame(WARNING_COLUMNS, {"row_number": "Int64"})
        frame = pd.concat(self._parts, ignore_index=True)
        frame["row_number"] = frame["row_number"].astype("Int64")
        # The whole-file lines first, then by row, in column order within a row.
        frame["_file"] = frame["row_number"].isna()
        frame = frame.sort_values(["_file", "row_number"], ascending=[False, True], kind="stable")
        frame = frame.reset_index(drop=True)
        frame["column"] = frame["column"].astype("str")
        # Every value was quoted through cells.shown; this pass also covers the reader's lines.
        frame["message"] = cells.map_distinct(frame["message"].astype("str"), cells.mask_ssns)
        return frame[WARNING_COLUMNS]


def _note_changes(
    notes: Notes, column: TemplateColumn, before: pd.Series, after: pd.Series
) -> None:
    """A warning for each cell the normalisation changed: "'ca; tx' was read as 'CA;TX'"."""
    changed = (before.notna() & (after.isna() | before.ne(after))).fillna(False).astype(bool)
    if not changed.any():
        return
    pairs = pd.DataFrame({"was": before[changed], "now": after[changed]})
    # One message per distinct (typed, normalised) pair: files repeat the same slip.
    distinct = pairs.drop_duplicates()
    text = {
        (was, now): f"{column.header} '{cells.shown(was)}' was read as "
        + ("blank" if cells.missing(now) else f"'{cells.shown(now)}'")
        for was, now in zip(distinct["was"], distinct["now"], strict=True)
    }
    messages = pd.Series(
        [text[(w, n)] for w, n in zip(pairs["was"], pairs["now"], strict=True)],
        index=pairs.index,
        dtype="str",
    )
    notes.per_cell(pairs.index, column.header, messages)


# --------------------------------------------------------------------------------------------
# Normalisation: each rule runs once per distinct cell value (a 100,000-row file has a few
# hundred distinct States or LOA Category cells), then is spread back with numpy.
# --------------------------------------------------------------------------------------------

_CATEGORY_BY_KEY = {re.sub(r"\s+", " ", c.casefold()): c for c in LOA_CATEGORIES}
_CATEGORY_BY_KEY.update({k.replace("&", "and"): v for k, v in list(_CATEGORY_BY_KEY.items())})
_AGENT_TYPE_BY_KEY = {t.casefold(): t for t in AGENT_TYPES}
_VOCABULARY = {
    "category": _CATEGORY_BY_KEY,
    "categories": _CATEGORY_BY_KEY,
    "agent_type": _AGENT_TYPE_BY_KEY,
    "scorecard_type": SCORECARD_ALIASES,
}
_FORMULA_LIKE = r"[=@]|[+\-](?!\d)"


def _list_value(kind: str) -> Callable[[str], str | None]:
    def normalise(value: str) -> str | None:
        items: list[str] = []
        for item in value.split(";"):
            item = item.strip()
            if not item:
                continue  # CA;;TX and a trailing ; are tolerated
            if kind == "states":
                item = item.upper()
            elif kind == "categories":
                item = _CATEGORY_BY_KEY.get(cells.match_key(item), item)
            else:  # a CoCode a spreadsheet wrote as a number: 91234.0
                item = re.sub(r"^([0-9]+)\.0+$", r"\1", item)
            if item not in items:
                items.append(item)
        return ";".join(items) or None

    return normalise


def _date_value(value: str) -> str | None:
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        return value
    midnight = re.fullmatch(r"([0-9]{4}-[0-9]{2}-[0-9]{2})[ T]00:00(?::00)?", value)
    if midnight:
        return midnight.group(1)
    if re.fullmatch(r"[0-9]{1,2}/[0-9]{1,2}/([0-9]{2}|[0-9]{4})", value):
        for pattern in ("%m/%d/%Y", "%m/%d/%y"):
            try:
                return dt.datetime.strptime(value, pattern).date().isoformat()
            except ValueError:
                continue
    return value  # not a date: the check reports it as typed


def _without_invisible(series: pd.Series, column: TemplateColumn, notes: Notes) -> pd.Series:
    """Invisible characters removed from a name, free text or listed value, with a warning."""
    if not cells.any_match(series, cells.INVISIBLE_CHARACTER):
        return series
    has = series.str.contains(cells.INVISIBLE_CHARACTER, regex=True).fillna(False).astype(bool)
    after = series.where(~has, series.str.replace(cells.INVISIBLE_CHARACTER, "", regex=True))
    after = after.mask(after.str.strip().eq(""))
    typed = series[has]
    names = cells.map_distinct(typed, lambda v: cells.invisible_character_name(v) or "")
    shown = cells.map_distinct(after[has], cells.shown).fillna("")
    notes.per_cell(
        typed.index,
        column.header,
        column.header + " '" + shown + "' held an invisible character (" + names + "), which "
        "was removed",
    )
    return after


def _email_value(value: str) -> str:
    address, _ = checked_email(value)
    return value if address is None else address


def normalise(series: pd.Series, column: TemplateColumn, notes: Notes) -> pd.Series:
    kind = column.kind
    if kind not in IDENTIFIER_KINDS:
        series = _without_invisible(series, column, notes)
    if kind == "email":
        after = cells.map_distinct(series, _email_value)
        _note_changes(notes, column, series, after)
        return after
    if kind in ("states", "cocodes", "categories"):
        after = cells.map_distinct(series, _list_value(kind))
        _note_changes(notes, column, series, after)
        return after
    if kind in ("npn", "cocode"):
        # A number a spreadsheet wrote as 12345678.0: the digits are all there.
        whole = series.str.fullmatch(r"[0-9]+\.0+").fillna(False).astype(bool)
        if whole.any():
            after = series.where(~whole, series.str.replace(r"\.0+$", "", regex=True))
            _note_changes(notes, column, series[whole], after[whole])
            return after
        return series
    if kind in _VOCABULARY:
        table = _VOCABULARY[kind]
        after = cells.map_distinct(series, lambda v: table.get(cells.match_key(v), v))
        _note_changes(notes, column, series, after)
        return after
    if kind == "bool":
        return cells.map_distinct(
            series,
            lambda v: (
                "TRUE"
                if v.casefold() in TRUE_WORDS
                else "FALSE"
                if v.casefold() in FALSE_WORDS
                else v
            ),
        )
    if kind == "date":
        return cells.map_distinct(series, _date_value)
    if kind == "reason_code":
        after = cells.map_distinct(series, lambda v: re.sub(r"[\s\-]+", "_", v.upper()))
        _note_changes(notes, column, series, after)
        return after
    if kind == "text":
        formula = series.str.match(_FORMULA_LIKE).fillna(False).astype(bool)
        if formula.any():
            shown = series[formula].map(cells.shown)
            notes.per_cell(
                shown.index,
                column.header,
                column.header + " '" + shown + "' starts like a spreadsheet formula; it is "
                "kept as text and never run",
            )
    return series
