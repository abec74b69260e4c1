"""Which PDB Alerts report day is the latest one NIPR has published. Pure, no Dagster.

NIPR runs the alerts Monday to Saturday and publishes each day's report by 10:00 Central
(docs/nipr-sync.md; `daily_nipr_sync_schedule` fetches it at 10:30). Before 10:00, and on a
Sunday, the latest published report is the previous Monday-to-Saturday day's.
"""

from __future__ import annotations

import datetime as dt

from assets.rules.business_day import NIPR_TIME_ZONE

#: NIPR's alerts reports are out by this hour, Central time.
PUBLISHED_BY = dt.time(10, 0)
SUNDAY = 6


def latest_alerts_day(moment: dt.datetime | None = None) -> dt.date:
    """The latest PDB Alerts report day published at `moment` (default now; naive is UTC)."""
    if moment is None:
        moment = dt.datetime.now(dt.UTC)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    local = moment.astimezone(NIPR_TIME_ZONE)
    day = local.date()
    if local.time() < PUBLISHED_BY:
        day -= dt.timedelta(days=1)
    while day.weekday() == SUNDAY:
        day -= dt.timedelta(days=1)
    return day
