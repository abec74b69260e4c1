"""Columns an exported file carries for the person reading it, which the upload reader knows
and ignores without a warning. Pure: no Dagster.

`npnflow export terminate` writes the terminate template filled from a report. Beside the
template's columns it writes, for the analyst checking the file before dropping it, each line's
name and how old the report was (`assets/terminations/export.py`). Dropped back unchanged, the
file must be read as the template, with no "Column ... is not in the terminate template"
warning on every drop: those headers are listed here, and `validation.py` skips them.
"""

from __future__ import annotations

from assets.uploads.reading import normalise_header

#: The terminate export's informational headers, in the order it writes them.
TERMINATE_LOA_NAME = "Line of Authority Name"
TERMINATE_REPORT_BUILT_AT = "Report Built At"
TERMINATE_NIPR_DATA_AS_OF = "NIPR Data As Of"

INFORMATIONAL_HEADERS: dict[str, tuple[str, ...]] = {
    "terminate": (TERMINATE_LOA_NAME, TERMINATE_REPORT_BUILT_AT, TERMINATE_NIPR_DATA_AS_OF),
}


def is_informational(kind: str, label: str) -> bool:
    """Whether `label` is one of `kind`'s informational columns (any case or punctuation)."""
    key = normalise_header(label)
    return any(normalise_header(h) == key for h in INFORMATIONAL_HEADERS.get(kind, ()))
