"""Dates in the generated world's columns: whole days since 1970-01-01.

The generator keeps every date as a day number in an integer numpy column (fast to draw and to
compare); these helpers convert between day numbers, `date` objects and the datetime64 columns
of the frames. Shared by the building, the records and the frames of the world.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import numpy.typing as npt

UNIX_EPOCH = date(1970, 1, 1)
_UNIX_ORDINAL = UNIX_EPOCH.toordinal()


def day_number(day: date) -> int:
    """`day` as a number of days since 1970-01-01."""
    return (day - UNIX_EPOCH).days


def day_date(number: int | np.integer) -> date:
    """The date of day number `number` (the reverse of `day_number`)."""
    return date.fromordinal(_UNIX_ORDINAL + int(number))


def datetime_column(
    days: npt.NDArray[np.int64], missing: npt.NDArray[np.bool_] | None = None
) -> npt.NDArray[np.datetime64]:
    """Day numbers to a datetime64 column (`missing` marks empty dates)."""
    values = days.astype("int64").astype("datetime64[D]").astype("datetime64[ns]")
    if missing is not None:
        values[missing] = np.datetime64("NaT")
    return values


def date_column(values: Sequence[date | None]) -> npt.NDArray[np.datetime64]:
    """`date` objects (None for empty) to a datetime64 column."""
    days = np.array(
        [d.toordinal() - _UNIX_ORDINAL if d is not None else 0 for d in values], dtype=np.int64
    )
    return datetime_column(days, missing=np.array([d is None for d in values], dtype=bool))
