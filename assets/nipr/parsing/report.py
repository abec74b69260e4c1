"""What a parse produces: `ParsedReport`, its column tuples and kinds, `NiprReportError`, and
the row buffers that become its frames (one place decides each column's dtype).

Separate from the readers of each report shape so that the output contract (the SPEC section 3
columns the current-state applier and the pandera models rely on) is read in one place.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd

PRODUCER_COLUMNS = (
    "npn",
    "first_name",
    "last_name",
    "email",
    "agency_npn",
    "agent_type",
    "is_active",
)
LICENSE_COLUMNS = (
    "npn",
    "state_code",
    "license_number",
    "license_class_code",
    "license_class",
    "is_resident",
    "is_active",
    "issue_date",
    "expiration_date",
    "nipr_updated_at",
)
LICENSE_LOA_COLUMNS = (
    "npn",
    "state_code",
    "license_number",
    "license_class_code",  # one license number can carry several classes (ADR 0023)
    "loa_code",
    "loa_name",
    "is_active",
    "issue_date",
)
APPOINTMENT_COLUMNS = (
    "npn",
    "state_code",
    "cocode",
    "loa_code",
    "company_name",
    "status",
    "effective_date",
    "termination_reason",
    "status_reason_date",
    "renewal_date",
)
SCOPE_COLUMNS = ("npn", "state_code", "category")
ERROR_COLUMNS = ("npn", "code", "message")

LICENSING = "LICENSING"
APPOINTMENTS = "APPOINTMENTS"
DEMOGRAPHICS = "DEMOGRAPHICS"
SCOPE_CATEGORIES = (LICENSING, APPOINTMENTS, DEMOGRAPHICS)

ENTITY_INFO = "entity_info"
ALERTS = "alerts"

ACORD_NS = "http://www.acord.org/schema/data/draft/ReusableDataComponents/1"


class NiprReportError(ValueError):
    """The input is not a NIPR report we can read; the message says what is wrong."""


@dataclass(frozen=True, eq=False)
class ParsedReport:
    """One parsed NIPR report. Frames have the SPEC section 3 columns (see the *_COLUMNS)."""

    report_kind: str  # "entity_info" (full picture per producer) | "alerts" (changed scopes)
    producers: pd.DataFrame
    licenses: pd.DataFrame
    license_loas: pd.DataFrame
    appointments: pd.DataFrame
    # (npn, state_code, category): what the report covered, rows or not (see module doc).
    reported_scopes: pd.DataFrame
    # (npn, code, message): NIPR's error replies and rows we could not use. Never raised.
    errors: pd.DataFrame
    report_date: dt.date | None = None  # Alerts: the day of MessageDateTime; Entity Info: None
    as_of: dt.datetime | None = None  # Alerts: MessageDateTime (when NIPR built the report)
    firm_npns: frozenset[str] = frozenset()  # producers that are firms (name in last_name)

    def row_counts(self) -> dict[str, int]:
        """Rows per frame, for logs and asset metadata."""
        return {
            "producers": len(self.producers),
            "licenses": len(self.licenses),
            "license_loas": len(self.license_loas),
            "appointments": len(self.appointments),
            "reported_scopes": len(self.reported_scopes),
            "errors": len(self.errors),
        }


ROWS_PER_FLUSH = 4096


class RowBuffer:
    """The rows of one frame. The hot path appends each row as a tuple (one cheap call); every
    few thousand rows the tuples are moved into one list per column, since a tuple costs about
    twice the pointers to its values: memory then grows by 8 bytes a value, not ~16."""

    __slots__ = ("append", "buffer", "columns")

    def __init__(self, width: int) -> None:
        self.buffer: list[tuple[Any, ...]] = []
        self.append = self.buffer.append
        self.columns: tuple[list[Any], ...] = tuple([] for _ in range(width))

    def flush(self) -> None:
        if self.buffer:
            for column, values in zip(self.columns, zip(*self.buffer, strict=True), strict=True):
                column.extend(values)
            self.buffer.clear()

    def take(self) -> list[list[Any]]:
        """All the rows as column lists (the buffer is emptied)."""
        self.flush()
        return list(self.columns)


def transpose(rows: list[tuple[Any, ...]], names: tuple[str, ...]) -> dict[str, list[Any]]:
    """Row tuples -> {column name: list of values} (one C-level pass per column)."""
    if not rows:
        return {name: [] for name in names}
    return {name: list(values) for name, values in zip(names, zip(*rows, strict=True), strict=True)}


# --------------------------------------------------------------------------------------------
# Frame typing: one place decides each column's dtype
# --------------------------------------------------------------------------------------------

_BOOL_COLUMNS = frozenset({"is_active", "is_resident"})
_DATE_COLUMNS = frozenset(
    {"issue_date", "expiration_date", "effective_date", "status_reason_date", "renewal_date"}
)
_TIMESTAMP_COLUMNS = frozenset({"nipr_updated_at"})


def to_frame(columns: dict[str, list[Any]], names: tuple[str, ...]) -> pd.DataFrame:
    """Column lists -> DataFrame with fixed dtypes: text as pandas strings (codes stay text),
    flags as nullable booleans, dates as `datetime.date` objects (None when empty)."""
    data = {}
    for name in names:
        values = columns[name]
        if name in _BOOL_COLUMNS:
            data[name] = pd.array(values, dtype="boolean")
        elif name in _DATE_COLUMNS:
            data[name] = pd.Series(values, dtype=object)
        elif name in _TIMESTAMP_COLUMNS:
            stamps = pd.to_datetime(pd.Series(values, dtype=object), utc=True)
            data[name] = stamps.astype("datetime64[us, UTC]")
        else:
            data[name] = pd.Series(values, dtype="str")
    return pd.DataFrame(data, columns=list(names))
