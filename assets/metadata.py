"""Asset metadata a person reads in the Dagster UI: counts and small Markdown tables."""

from __future__ import annotations

import dagster as dg
import pandas as pd


def markdown_preview(frame: pd.DataFrame, max_rows: int = 10) -> dg.MarkdownMetadataValue:
    """The first rows of a frame as a Markdown table (what the asset page shows)."""
    if frame.empty:
        return dg.MetadataValue.md("_no rows_")
    shown = frame.head(max_rows).astype(object).where(frame.head(max_rows).notna(), "")
    more = len(frame) - len(shown)
    suffix = f"\n\n_{more:,} more rows_" if more > 0 else ""
    return dg.MetadataValue.md(shown.to_markdown(index=False) + suffix)
