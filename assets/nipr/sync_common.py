"""What the three NIPR sync modules share: the group, the current-state pool, the clock seam,
partition days and metadata helpers.

Separate so that `daily_sync.py`, `initial_sync.py` and `subscriptions.py` depend on it and
not on each other. The clock is one seam (`_now`, read through `now()`), so tests replace it
once to follow the NIPR sandbox's clock instead of the wall clock, for every sync asset.
"""

import datetime as dt

import dagster as dg
import pandas as pd

from assets.metadata import markdown_preview

GROUP = "nipr"
# Both the daily apply and the initial sync rewrite current-state rows: with a limit of 1 on
# this pool (docs/nipr-sync.md), Dagster never runs them at the same time.
CURRENT_STATE_POOL = "nipr_current_state"


def _now() -> dt.datetime:
    """The time of an event ("reply fetched", "applied"). One seam, so tests can follow the
    NIPR sandbox's clock instead of the wall clock."""
    return dt.datetime.now(dt.UTC)


def now() -> dt.datetime:
    """The current time, through the seam `_now` (looked up at each call, so a replaced seam
    is seen by every module)."""
    return _now()


def partition_days(context: dg.AssetExecutionContext) -> list[dt.date]:
    """The days of the run's partition range, oldest first."""
    return sorted(dt.date.fromisoformat(key) for key in context.partition_keys)


def md(frame: pd.DataFrame, max_rows: int = 20) -> dg.MarkdownMetadataValue:
    """A frame as a Markdown preview for asset metadata."""
    return markdown_preview(frame, max_rows=max_rows)


def concat_frames(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """The non-empty frames, concatenated; an empty frame with `columns` when there are none."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    return pd.concat(frames, ignore_index=True)
