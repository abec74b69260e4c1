"""How the commands print a value a person reads: never `nan`, `None` or `NaT`.

Frames read from the database hand back a missing text as None, a missing number as NaN and
a missing timestamp as NaT; printed as they are, an analyst reads `nan (55555)` and cannot
tell whether something is broken. Every table and line the commands print goes through
`shown`, which writes a missing value as `-` (or a word the caller chooses).

Also here: fitting a table into a terminal's width by shortening the columns that can be
shortened (a company's name, a file name), never the ids a person copies into the next
command.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from decimal import Decimal

#: How a missing value reads.
MISSING = "-"
ELLIPSIS = "…"


def is_missing(value: object) -> bool:
    """None, NaN, NaT or pandas' NA: a value that is not there."""
    if value is None:
        return True
    if isinstance(value, float | Decimal):
        return bool(value != value)  # NaN is the one value unequal to itself
    # NaT and pd.NA without importing pandas (the commands import it lazily).
    return type(value).__name__ in ("NaTType", "NAType")


def shown(value: object, missing: str = MISSING) -> str:
    """The value as text a person reads; `missing` for a value that is not there."""
    if is_missing(value):
        return missing
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))  # integer columns come back as floats when some are missing
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    return text if text.strip() else missing


def shorten(text: str, width: int, *, keep_end: bool = True) -> str:
    """`text` in at most `width` characters: its start and end kept (`appoint_j…_now.csv`),
    or with `keep_end=False` its start only (`91234 Harborstone L…`)."""
    if len(text) <= width:
        return text
    if width <= 1:
        return text[:width]
    if not keep_end:
        return text[: width - 1] + ELLIPSIS
    tail = (width - 1) // 2
    head = width - 1 - tail
    return text[:head] + ELLIPSIS + (text[-tail:] if tail else "")


def table_width(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> int:
    """The width of the table tabulate's `simple` format prints: two spaces between columns, and
    a column at least two wider than its header."""
    widths = [len(h) + 2 for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    return sum(widths) + 2 * (len(widths) - 1)


def fit_rows(
    rows: Sequence[Sequence[str]],
    headers: Sequence[str],
    max_width: int,
    shrinkable: Sequence[tuple[int, int]],
    keep_end: Sequence[int] = (),
) -> list[list[str]]:
    """The rows, with the columns in `shrinkable` ((index, narrowest width)) shortened until the
    table fits `max_width`, or until they are at their narrowest: one character at a time from
    whichever of them is widest, so two long names share the cut. Columns in `keep_end` (file
    names: the end tells them apart) keep their end; the others their start. The other columns
    (ids, statuses, counts) are never cut."""
    fitted = [list(row) for row in rows]
    widths = {index: max((len(row[index]) for row in fitted), default=0) for index, _ in shrinkable}
    narrowest = {index: max(width, len(headers[index])) for index, width in shrinkable}
    excess = table_width(fitted, headers) - max_width
    while excess > 0:
        can_give = [i for i in widths if widths[i] > narrowest[i]]
        if not can_give:
            break
        widest = max(can_give, key=lambda i: widths[i])
        widths[widest] -= 1
        excess -= 1
    for index in widths:
        for row in fitted:
            row[index] = shorten(row[index], widths[index], keep_end=index in keep_end)
    return fitted


def page_note(total: int, shown: int, offset: int) -> str:
    """What a heading says of a page of `shown` of `total` lines from `offset`: "" when it is
    every line, ", the first 50; --all prints every one", ", 51 to 100; --all ..."."""
    if offset and shown:
        note = f", {offset + 1} to {offset + shown}"
    elif offset:
        note = f", none after the first {offset}"
    elif shown < total:
        note = f", the first {shown}"
    else:
        return ""
    return note + "; --all prints every one"
