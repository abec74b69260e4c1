"""`latest_alerts_day`: the PDB Alerts report day `npnflow sync now` fetches."""

from __future__ import annotations

import datetime as dt

import pytest

from assets.rules.alerts_day import latest_alerts_day

CENTRAL_OFFSET = dt.timedelta(hours=6)  # December: CST is UTC-6


def _central(day: str, hour: int, minute: int = 0) -> dt.datetime:
    local = dt.datetime.fromisoformat(day).replace(hour=hour, minute=minute)
    return (local + CENTRAL_OFFSET).replace(tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (_central("2026-12-08", 10, 30), "2026-12-08"),  # Tuesday, published
        (_central("2026-12-08", 9, 59), "2026-12-07"),  # Tuesday, not yet: Monday's
        (_central("2026-12-07", 8, 0), "2026-12-05"),  # Monday early: Saturday's (no Sunday run)
        (_central("2026-12-06", 15, 0), "2026-12-05"),  # Sunday: Saturday's
        (_central("2026-12-05", 23, 30), "2026-12-05"),  # Saturday evening, 05:30 UTC Sunday
    ],
)
def test_the_latest_published_day_in_nipr_time(moment: dt.datetime, expected: str) -> None:
    assert latest_alerts_day(moment).isoformat() == expected


def test_a_naive_moment_is_utc() -> None:
    assert latest_alerts_day(dt.datetime(2026, 12, 8, 17, 0)) == dt.date(2026, 12, 8)
