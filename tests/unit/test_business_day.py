"""The day the effective-date limits count from is NIPR's (US Central), not UTC's."""

from __future__ import annotations

import datetime as dt

from assets.rules.business_day import nipr_business_date


def test_a_us_evening_is_still_the_same_day_on_nipr_calendar():
    # 01:30 UTC on 7 December is 19:30 on 6 December in Kansas City (CST, UTC-6).
    assert nipr_business_date(dt.datetime(2026, 12, 7, 1, 30, tzinfo=dt.UTC)) == dt.date(
        2026, 12, 6
    )


def test_a_summer_evening_follows_daylight_saving_time():
    # 04:59 UTC on 2 July is 23:59 CDT (UTC-5) on 1 July; 05:00 UTC is midnight, 2 July.
    assert nipr_business_date(dt.datetime(2026, 7, 2, 4, 59, tzinfo=dt.UTC)) == dt.date(2026, 7, 1)
    assert nipr_business_date(dt.datetime(2026, 7, 2, 5, 0, tzinfo=dt.UTC)) == dt.date(2026, 7, 2)


def test_a_naive_moment_is_read_as_utc():
    assert nipr_business_date(dt.datetime(2026, 12, 7, 1, 30)) == dt.date(2026, 12, 6)
    assert nipr_business_date(dt.datetime(2026, 12, 7, 12, 0)) == dt.date(2026, 12, 7)


def test_now_is_today_on_nipr_calendar_within_a_day_of_utc():
    utc_today = dt.datetime.now(dt.UTC).date()
    assert utc_today - dt.timedelta(days=1) <= nipr_business_date() <= utc_today
