"""Month-days (`MM-DD`) of the renewal reference data, and placing them in a year. Pure.

A state publishes its renewal window and termination cut-off as days of the year (NJ: window
Apr 1 - Jun 5, cut-off Mar 27). `config/reference/state_appointment_renewals.csv` keeps them as
`MM-DD`; the loader checks them with `parse_month_day` and the renewal plan
(`assets/renewals/plan.py`) places them in a cycle's years with `on_or_before`:

- a window that ends before it starts (IL: Nov 5 - Jan 2) starts in the year before its end;
- a cut-off falls on the last such day on or before the window's start, so a window opening
  Jan 6 with a Dec 31 cut-off (AL) has its cut-off in December of the year before.

February 29 is refused: a yearly rule must name a day every year has.
"""

from __future__ import annotations

import datetime as dt
import re

__all__ = ["MonthDay", "on_or_before", "parse_month_day"]

_MONTH_DAY = re.compile(r"(\d{2})-(\d{2})")
_COMMON_YEAR = 2025  # a year without February 29: what every year has

MonthDay = tuple[int, int]


def parse_month_day(text: str) -> MonthDay | None:
    """(month, day) of `MM-DD` text when it is a day every year has; None otherwise."""
    match = _MONTH_DAY.fullmatch(text.strip())
    if match is None:
        return None
    month, day = int(match.group(1)), int(match.group(2))
    try:
        dt.date(_COMMON_YEAR, month, day)
    except ValueError:
        return None
    return month, day


def in_year(month_day: MonthDay, year: int) -> dt.date:
    return dt.date(year, *month_day)


def on_or_before(month_day: MonthDay, anchor: dt.date) -> dt.date:
    """The last date with this month-day on or before `anchor` (this year's, else last year's)."""
    this_year = in_year(month_day, anchor.year)
    return this_year if this_year <= anchor else in_year(month_day, anchor.year - 1)
