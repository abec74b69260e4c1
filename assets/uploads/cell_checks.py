"""The checks every cell of an upload gets, whatever its column says. Pure.

Added to the kind's pandera schema by `validation.py`, so their failures become row errors
like any other (`messages.py` words them; its priorities put them first in their cell):

- `control_character`: a C0 control character but tab, CR and LF, DEL, or a C1 control
  character, anywhere in the cell as read (before trimming): `713<NUL>00132` is never an
  NPN, and PostgreSQL never receives a NUL;
- `line_break`: a line break inside a first or last name (it would break the invitation
  email's header later);
- `invisible_character`: a zero-width space, joiner, word joiner, BOM or soft hyphen in an
  identifier (NPN, CoCode, SSN) or an email address; elsewhere `normalising.py` removes them
  with a warning;
- `ssn_shaped`: a value shaped like an SSN (`schemas/ssn_shapes.py`) anywhere but in an NPN
  column or the SSN column: a name, an email or a CoCode that holds an SSN is a row error, so
  it is never stored as a producer's.

Columns the template does not have are ignored, but a control character in one still rejects
its row (`unknown_column_errors`), and a column whose header names SSNs (`Social Security
Number`, `SSN` in an appoint file) is masked wherever its cells are shown.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

import pandas as pd
import pandera.pandas as pa

from assets.uploads import cells, messages
from assets.uploads.messages import ERROR_COLUMNS
from assets.uploads.normalising import IDENTIFIER_KINDS
from schemas.ssn_shapes import SSN_SHAPE
from schemas.uploads import TEMPLATES

NAME_FIELDS = frozenset({"first_name", "last_name"})
# An NPN may have 9 digits (docs/decisions/0021); the SSN column holds SSNs.
_SSN_ALLOWED_KINDS = frozenset({"npn", "ssn"})

Explain = dict[str, Callable[[pd.Index], pd.Series]]


def _never(pattern: re.Pattern[str]) -> Callable[[pd.Series], pd.Series]:
    """An element-wise check that `pattern` is found in no cell: one pass over the column, and
    once per distinct value only when it is found somewhere."""

    def check(series: pd.Series) -> pd.Series:
        if not cells.any_match(series, pattern):
            return pd.Series(True, index=series.index)
        verdicts = {v: pattern.search(str(v)) is None for v in series.dropna().unique()}
        return series.map(verdicts).fillna(True).astype(bool)

    return check


def _cells_pass(ok: pd.Series, name: str) -> pa.Check:
    """A check that passes the cells `ok` says, known before validation (by row number)."""
    return pa.Check(lambda s: ok.reindex(s.index, fill_value=True), name=name, ignore_na=False)


def _control_words(found: pd.Series, header: str) -> Callable[[pd.Index], pd.Series]:
    def words(rows: pd.Index) -> pd.Series:
        return found.reindex(rows).map(
            lambda name: messages.control_character_message(header, str(name))
        )

    return words


def with_cell_checks(
    schema: pa.DataFrameSchema, kind: str, as_read: Mapping[str, pd.Series]
) -> tuple[pa.DataFrameSchema, Explain]:
    """`schema` with the checks of every cell added, and the words of the control-character
    failures (keyed `control_character:<field>`, for `messages.row_errors`).

    `as_read` holds, per template field, the cells as read (untrimmed), indexed by row number
    like the normalised frame the schema validates.
    """
    updates: dict[str, dict[str, list[pa.Check]]] = {}
    explain: Explain = {}
    for column in TEMPLATES[kind]:
        added: list[pa.Check] = []
        raw = as_read.get(column.field)
        if raw is not None and cells.any_match(raw, cells.CONTROL_CHARACTER, "\n"):
            found = cells.map_distinct(raw, cells.control_character_name)
            added.append(_cells_pass(found.isna(), "control_character"))
            explain[f"control_character:{column.field}"] = _control_words(found, column.header)
        if column.field in NAME_FIELDS:
            added.append(pa.Check(_never(cells.LINE_BREAK), name="line_break"))
        if column.kind in IDENTIFIER_KINDS:
            added.append(pa.Check(_never(cells.INVISIBLE_CHARACTER), name="invisible_character"))
        if column.kind not in _SSN_ALLOWED_KINDS:
            added.append(pa.Check(_never(SSN_SHAPE), name="ssn_shaped"))
        if added:
            updates[column.field] = {"checks": [*schema.columns[column.field].checks, *added]}
    return schema.update_columns(updates), explain


def unknown_column_errors(
    frame: pd.DataFrame, labels: Iterable[str], ssn_labels: Iterable[str]
) -> pd.DataFrame:
    """Row errors for the control characters in columns the template does not have (their
    other values are ignored): one per cell, the column named by its label."""
    masked = set(ssn_labels)
    parts = []
    for label in labels:
        if not cells.any_match(frame[label], cells.CONTROL_CHARACTER, "\n"):
            continue
        found = cells.map_distinct(frame[label], cells.control_character_name)
        hit = found.notna()
        values = frame.loc[hit, label]
        mask = cells.mask_ssn_value if label in masked else cells.mask_ssns
        parts.append(
            pd.DataFrame(
                {
                    "row_number": values.index.to_numpy(dtype="int64"),
                    "column": label,
                    "value": values.map(lambda v, mask=mask: messages.report_value(v, mask)),
                    "message": found[hit].map(
                        lambda name, label=label: messages.control_character_message(
                            label, str(name)
                        )
                    ),
                }
            )
        )
    if not parts:
        return cells.empty_frame(ERROR_COLUMNS, {"row_number": "int64"})
    return pd.concat(parts, ignore_index=True).astype(
        {"row_number": "int64", "column": "str", "value": "str", "message": "str"}
    )
