"""The day a rule counts from: NIPR's business day, not the server's or UTC's (DOMAIN 3.4).

The effective-date limits ("not in the future", "at most N days back") are applied by NIPR and
the states on their own calendar. NIPR is in Kansas City, Missouri, so its day is US Central
time. Counting from the UTC date instead would, every US evening (after 18:00 Central in winter),
run one day ahead of NIPR: a date the analyst means as "tomorrow" would pass our "not in the
future" check and be sent, and NIPR would refuse it after the fee is charged; a date exactly N
days back would be refused although NIPR accepts it. Counting from NIPR's day keeps our answer
equal to NIPR's. See docs/eligibility.md ("Which day is today"). Pure, no Dagster.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

NIPR_TIME_ZONE = ZoneInfo("America/Chicago")


def nipr_business_date(moment: dt.datetime | None = None) -> dt.date:
    """The calendar date in NIPR's time zone at `moment` (default now). A naive `moment` is UTC."""
    if moment is None:
        moment = dt.datetime.now(dt.UTC)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(NIPR_TIME_ZONE).date()
