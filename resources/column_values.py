"""A frame column's values in the form each driver takes them, converted column by column.

The bulk writer's conversions (`resources/bulk_writes.py`): for SQLite's `executemany`, the
values SQLAlchemy's SQLite types would have bound (dates and timestamps as ISO text, decimals
as floats, booleans as 0/1); for PostgreSQL's `COPY`, its text format. Vectorised numpy/pandas
operations wherever the column's dtype allows; the per-cell `driver_value` only as the fallback
for mixed object columns. The values that reach the database are the same as through
`table.insert()` with `frame_to_rows` (tests/unit/test_bulk_writes.py writes every column type
both ways).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from decimal import Decimal
from operator import itemgetter
from typing import Any, Literal

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite as sqlite_dialect

_SQLITE = sqlite_dialect.dialect()

_COPY_NULL = "\\N"
_COPY_SPECIALS = ("\\", "\t", "\n", "\r")


def driver_value(value: Any, column_type: sa.types.TypeEngine[Any]) -> Any:
    """One cell as the driver wants it: None for missing, date for Date, plain Python types.
    The per-cell conversion, for the columns no vectorised path below covers."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if _is_date(column_type):
        # SQLite's Date type accepts only datetime.date, not pandas timestamps.
        if isinstance(value, pd.Timestamp | dt.datetime):
            return value.date()
        if isinstance(value, str):
            return dt.date.fromisoformat(value[:10])
        return value
    if isinstance(column_type, sa.DateTime):
        if isinstance(value, pd.Timestamp):
            return value.to_pydatetime()
        return value
    if isinstance(column_type, sa.Boolean):
        return bool(value)
    if isinstance(column_type, sa.Integer):
        return int(value)
    if isinstance(column_type, sa.Numeric):
        return Decimal(str(value))
    if isinstance(column_type, sa.String | sa.Text):
        return str(value)
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    return value


def _is_date(column_type: sa.types.TypeEngine[Any]) -> bool:
    return isinstance(column_type, sa.Date) and not isinstance(column_type, sa.DateTime)


def _object_values(series: pd.Series, missing: np.ndarray) -> list[Any]:
    values = series.to_numpy(dtype=object, copy=True)
    values[missing] = None
    return list(values.tolist())


def _datetime_text(series: pd.Series, unit: Literal["D", "us"], *, wall_clock: bool) -> np.ndarray:
    """ISO text of a datetime64 column: the local wall clock of an aware one (`wall_clock`),
    or its UTC instant with a +00:00 offset; a naive one as it is."""
    aware = isinstance(series.dtype, pd.DatetimeTZDtype)
    if aware and wall_clock:
        series = series.dt.tz_localize(None)
    elif aware:
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    text = np.datetime_as_string(series.to_numpy(dtype="datetime64[us]"), unit=unit)
    return np.char.add(text, "+00:00") if aware and not wall_clock else text


def _with_missing(text: np.ndarray, missing: np.ndarray, null: Any) -> list[Any]:
    values = text.astype(object)
    values[missing] = null
    return list(values.tolist())


def _vectorisable(series: pd.Series, column_type: sa.types.TypeEngine[Any]) -> pd.Series:
    """An object or float column in a dtype the vectorised paths below take, when every value
    converts as the per-cell conversion would convert it: datetimes (one time zone, or none)
    and, for a Date column, dates as datetime64; booleans with gaps as "boolean"; whole
    numbers with gaps as "Int64". Otherwise the column as it was (the per-cell fallback)."""
    inferred = pd.api.types.infer_dtype(series, skipna=True) if series.dtype == object else ""
    datetimes = (isinstance(column_type, sa.DateTime) and inferred == "datetime") or (
        _is_date(column_type) and inferred in ("date", "datetime")
    )
    try:
        if datetimes:
            converted = pd.to_datetime(series)
        elif isinstance(column_type, sa.Boolean) and inferred == "boolean":
            return series.astype("boolean")
        elif isinstance(column_type, sa.Integer) and (
            series.dtype.kind == "f" or inferred == "integer"
        ):
            return series.astype("Int64")
        elif isinstance(column_type, sa.Numeric) and inferred == "floating":
            return series.astype("float64")  # Python floats (None for missing): the same numbers
        else:
            return series
    except (ValueError, TypeError):  # naive and aware mixed, several offsets, fractions
        return series
    return converted if converted.dtype.kind == "M" else series


def sqlite_column(series: pd.Series, column_type: sa.types.TypeEngine[Any]) -> list[Any]:
    """A column's values as SQLAlchemy's SQLite types would bind them."""
    series = _vectorisable(series, column_type)
    missing = series.isna().to_numpy()
    if missing.all():  # every value NULL, whatever the type (evidence a row does not have)
        return [None] * len(series)
    kind = series.dtype.kind
    if isinstance(column_type, sa.String | sa.Text) and (
        pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty")
    ):
        return _object_values(series, missing)
    if isinstance(column_type, sa.Boolean) and kind == "b":
        # Python bools and ints (what SQLAlchemy's SQLite Boolean binds: 1 and 0).
        return _object_values(series.astype("Int64"), missing)
    if isinstance(column_type, sa.Integer) and kind in "iu":
        return _object_values(series.astype("Int64"), missing)
    if isinstance(column_type, sa.Numeric) and kind in "iuf":
        # SQLite stores a Numeric as REAL: SQLAlchemy binds float(Decimal(str(x))) == x.
        return _object_values(series.astype(float), missing)
    if isinstance(column_type, sa.Date | sa.DateTime) and kind == "M":
        text = _datetime_text(series, "D" if _is_date(column_type) else "us", wall_clock=True)
        if not _is_date(column_type):
            text = np.char.replace(text, "T", " ")
        return _with_missing(text, missing, None)
    process = column_type.dialect_impl(_SQLITE).bind_processor(_SQLITE)
    values = [driver_value(v, column_type) for v in series.tolist()]
    if process is None:
        return values
    return [None if v is None else process(v) for v in values]


def _copy_text(value: Any) -> str:
    if isinstance(value, bool):
        return "t" if value else "f"
    if hasattr(value, "isoformat"):  # date, datetime, time
        return str(value.isoformat())
    return str(value)


def _copy_escaped(value: str) -> str:
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def copy_text_rows(rows: Sequence[Sequence[str]]) -> str:
    """Rows of text values (none missing) as the data of a `COPY ... FROM STDIN` in text
    format: each column escaped only when one of its values needs it."""
    if not rows:
        return ""
    # Column by column by `itemgetter` (`zip(*rows)` makes an iterator per row).
    fields = [_escaped(list(map(itemgetter(at), rows))) for at in range(len(rows[0]))]
    lines = fields[0] if len(fields) == 1 else map("\t".join, zip(*fields, strict=True))
    return "\n".join(lines) + "\n"


def _escaped(values: list[Any]) -> list[Any]:
    """COPY text format: backslash, tab, newline and carriage return escaped (only when some
    value of the column holds one: one scan of the joined column decides)."""
    strings = [v for v in values if v is not None]
    joined = "".join(strings)
    if not any(special in joined for special in _COPY_SPECIALS):
        return values
    return [None if v is None else _copy_escaped(v) for v in values]


_NONE = type(None)


def _plain_object_text(
    series: pd.Series, column_type: sa.types.TypeEngine[Any]
) -> list[str] | None:
    """COPY text of an object column of plain Python booleans (Boolean), dates (Date) or
    floats (Numeric), with None or NaN for missing, in one pass over the values: each value's
    own text is the one the vectorised path gives (`date.isoformat`, `float.__repr__`, the
    shortest text that reads back as the same float, as numpy's), at a third to a half of the
    cost of converting the column with pandas first (the evidence's twenty such columns of
    154,000 transactions). None: not such a column (the paths below take it)."""
    if series.dtype != object:
        return None
    if isinstance(column_type, sa.Boolean):
        wanted: tuple[type, ...] = (bool, _NONE)
    elif _is_date(column_type):
        wanted = (dt.date, _NONE)  # exactly date: a datetime's text would carry its time
    elif isinstance(column_type, sa.Numeric):
        wanted = (float, _NONE)
    else:
        return None
    values = series.tolist()
    if not set(map(type, values)) <= set(wanted):
        return None
    if wanted[0] is bool:
        return [_COPY_NULL if v is None else ("t" if v else "f") for v in values]
    if wanted[0] is dt.date:
        return [_COPY_NULL if v is None else v.isoformat() for v in values]
    # A float NaN is missing, as pandas counts it.
    return [_COPY_NULL if v is None or v != v else float.__repr__(v) for v in values]


def copy_column(series: pd.Series, column_type: sa.types.TypeEngine[Any]) -> list[str]:
    """A column's values as COPY text fields (`\\N` for NULL)."""
    plain = _plain_object_text(series, column_type)
    if plain is not None:
        return plain
    series = _vectorisable(series, column_type)
    missing = series.isna().to_numpy()
    if missing.all():  # every value NULL, whatever the type (evidence a row does not have)
        return [_COPY_NULL] * len(series)
    kind = series.dtype.kind
    if isinstance(column_type, sa.Boolean) and kind == "b":
        flags = series.to_numpy(dtype=bool, na_value=False)
        return _with_missing(np.where(flags, "t", "f"), missing, _COPY_NULL)
    if isinstance(column_type, sa.Integer) and kind in "iu":
        digits = series.to_numpy(dtype=np.int64, na_value=0).astype(str)
        return _with_missing(digits, missing, _COPY_NULL)
    if isinstance(column_type, sa.Numeric) and kind == "f":
        # str(Decimal(str(x))) and numpy's shortest repr of x are the same number to PG.
        digits = series.to_numpy(dtype=np.float64, na_value=np.nan).astype(str)
        return _with_missing(digits, missing, _COPY_NULL)
    if isinstance(column_type, sa.Date | sa.DateTime) and kind == "M":
        unit: Literal["D", "us"] = "D" if _is_date(column_type) else "us"
        return _with_missing(
            _datetime_text(series, unit, wall_clock=_is_date(column_type)), missing, _COPY_NULL
        )
    text: list[Any]
    if isinstance(column_type, sa.String | sa.Text) and (
        pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty")
    ):
        text = _object_values(series, missing)
    else:
        text = [
            None if v is None else _copy_text(v)
            for v in (driver_value(v, column_type) for v in series.tolist())
        ]
    return [_COPY_NULL if v is None else v for v in _escaped(text)]
