"""pandera contracts for the frames parsed from NIPR reports (`assets/nipr/parsing.py`).

One model per frame of `ParsedReport`: `producers`, `licenses`, `license_loas`,
`appointments` (the SPEC section 3 columns, minus what the sync sets: `sync_status`,
`last_synced_at`, and never an SSN column) and `reported_scopes`. `validate_parsed_report`
runs them all lazily and returns every failure as rows of a DataFrame (pandera's
`failure_cases` plus a `frame` column), so the sync can attach them to asset metadata and
decide what to do, instead of receiving one long string.

Types are what the parser produces: text columns are pandas strings (NPNs, codes and license
numbers are text, never numbers), flags are nullable `boolean`, dates are `datetime.date`
objects (None when empty), `nipr_updated_at` is a UTC timestamp. `coerce` is off: a wrong
dtype is a parser bug, not something to paper over.

Checks: NPNs are 1-10 digits, state codes two upper-case letters, license class and LOA codes
NIPR's numeric ids, CoCodes 5 digits; the SPEC primary keys are unique within each frame.
Across frames: every LOA belongs to a license of the same report (same number and class), and
every row's NPN is a row of `producers`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import pandas as pd
import pandera.pandas as pa
from pandera.engines import pandas_engine
from pandera.typing import Series

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "FRAME_MODELS",
    "AppointmentsFrame",
    "LicenseLoasFrame",
    "LicensesFrame",
    "ProducersFrame",
    "ReportedScopesFrame",
    "validate_parsed_report",
]

NPN = r"^\d{1,10}$"
STATE_CODE = r"^[A-Z]{2}$"
NIPR_CODE = r"^\d{1,10}$"  # license class and LOA codes: NIPR numeric ids, kept as text
APPOINTMENT_LOA_CODE = r"^(\d{1,10})?$"  # "" = a company-level appointment (no LOA from NIPR)
COCODE = r"^\d{5}$"
APPOINTMENT_STATUSES = ("Appointed", "Terminated")
SCOPE_CATEGORIES = ("LICENSING", "APPOINTMENTS", "DEMOGRAPHICS")

FAILURE_COLUMNS = (
    "frame",
    "schema_context",
    "column",
    "check",
    "check_number",
    "failure_case",
    "index",
)


class _Parsed(pa.DataFrameModel):
    class Config:
        strict = True  # exactly the frame's columns: none missing, none extra (no SSN)
        coerce = False


class ProducersFrame(_Parsed):
    npn: Series[str] = pa.Field(str_matches=NPN, unique=True)
    first_name: Series[str] = pa.Field(nullable=True)  # empty for firms
    last_name: Series[str] = pa.Field(nullable=True)  # a firm's company name
    email: Series[str] = pa.Field(nullable=True)
    agency_npn: Series[str] = pa.Field(str_matches=NPN, nullable=True)
    agent_type: Series[str] = pa.Field(nullable=True)
    is_active: Series[pd.BooleanDtype] = pa.Field(nullable=True)  # None: Alerts cannot say


class LicensesFrame(_Parsed):
    npn: Series[str] = pa.Field(str_matches=NPN)
    state_code: Series[str] = pa.Field(str_matches=STATE_CODE)
    license_number: Series[str] = pa.Field(str_length={"min_value": 1})
    license_class_code: Series[str] = pa.Field(str_matches=NIPR_CODE)
    license_class: Series[str] = pa.Field(nullable=True)
    is_resident: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    is_active: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    issue_date: Series[pandas_engine.Date] = pa.Field(nullable=True)
    expiration_date: Series[pandas_engine.Date] = pa.Field(nullable=True)
    nipr_updated_at: Series[pd.DatetimeTZDtype] = pa.Field(
        nullable=True, dtype_kwargs={"unit": "us", "tz": "UTC"}
    )

    class Config:
        unique = ["npn", "state_code", "license_number", "license_class_code"]

    @pa.dataframe_check(error="expiration_date is before issue_date")
    @classmethod
    def expires_after_issue(cls, frame: pd.DataFrame) -> Series[bool]:
        both = frame["issue_date"].notna() & frame["expiration_date"].notna()
        ok = [
            not known or expires >= issued
            for known, issued, expires in zip(
                both, frame["issue_date"], frame["expiration_date"], strict=True
            )
        ]
        result: Series[bool] = pd.Series(ok, index=frame.index, dtype=bool)
        return result


class LicenseLoasFrame(_Parsed):
    npn: Series[str] = pa.Field(str_matches=NPN)
    state_code: Series[str] = pa.Field(str_matches=STATE_CODE)
    license_number: Series[str] = pa.Field(str_length={"min_value": 1})
    # The class of the license the line hangs under: NIPR files one license number under
    # several classes, each with its own lines (ADR 0023).
    license_class_code: Series[str] = pa.Field(str_matches=NIPR_CODE)
    loa_code: Series[str] = pa.Field(str_matches=NIPR_CODE)
    loa_name: Series[str] = pa.Field(nullable=True)
    is_active: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    issue_date: Series[pandas_engine.Date] = pa.Field(nullable=True)

    class Config:
        unique = ["npn", "state_code", "license_number", "license_class_code", "loa_code"]


class AppointmentsFrame(_Parsed):
    npn: Series[str] = pa.Field(str_matches=NPN)
    state_code: Series[str] = pa.Field(str_matches=STATE_CODE)
    cocode: Series[str] = pa.Field(str_matches=COCODE)
    loa_code: Series[str] = pa.Field(str_matches=APPOINTMENT_LOA_CODE)
    company_name: Series[str] = pa.Field(nullable=True)
    status: Series[str] = pa.Field(isin=list(APPOINTMENT_STATUSES), nullable=True)
    effective_date: Series[pandas_engine.Date] = pa.Field(nullable=True)
    termination_reason: Series[str] = pa.Field(nullable=True)
    status_reason_date: Series[pandas_engine.Date] = pa.Field(nullable=True)
    renewal_date: Series[pandas_engine.Date] = pa.Field(nullable=True)

    class Config:
        unique = ["npn", "state_code", "cocode", "loa_code"]


class ReportedScopesFrame(_Parsed):
    npn: Series[str] = pa.Field(str_matches=NPN)
    state_code: Series[str] = pa.Field(str_matches=STATE_CODE)
    category: Series[str] = pa.Field(isin=list(SCOPE_CATEGORIES))

    class Config:
        unique = ["npn", "state_code", "category"]


FRAME_MODELS: dict[str, type[_Parsed]] = {
    "producers": ProducersFrame,
    "licenses": LicensesFrame,
    "license_loas": LicenseLoasFrame,
    "appointments": AppointmentsFrame,
    "reported_scopes": ReportedScopesFrame,
}


class _HasFrames(Protocol):
    """What `validate_parsed_report` reads (`assets.nipr.parsing.ParsedReport` has it)."""

    producers: pd.DataFrame
    licenses: pd.DataFrame
    license_loas: pd.DataFrame
    appointments: pd.DataFrame
    reported_scopes: pd.DataFrame


def validate_parsed_report(report: _HasFrames) -> pd.DataFrame:
    """Every contract failure of a parsed report, as rows (empty when all is well).

    Columns: frame, schema_context, column, check, check_number, failure_case, index (the
    row's position in its frame, when the failure is about a row).
    """
    parts: list[pd.DataFrame] = []
    for name, model in FRAME_MODELS.items():
        frame = getattr(report, name)
        try:
            model.validate(frame, lazy=True)
        except pa.errors.SchemaErrors as errors:
            cases = errors.failure_cases.copy()
            cases.insert(0, "frame", name)
            parts.append(cases)
    parts.extend(_cross_frame_failures(report))
    if not parts:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in FAILURE_COLUMNS})
    failures = pd.concat([p.astype(object) for p in parts], ignore_index=True)
    for column in FAILURE_COLUMNS:
        if column not in failures:
            failures[column] = None
    return failures[list(FAILURE_COLUMNS)]


def _cross_frame_failures(report: _HasFrames) -> list[pd.DataFrame]:
    out = []
    # A line belongs to the license of its number *and* class (one number, several classes).
    key = ["npn", "state_code", "license_number", "license_class_code"]
    loas, licenses = report.license_loas, report.licenses
    if len(loas) and set(key) <= set(loas) and set(key) <= set(licenses):
        known = pd.MultiIndex.from_frame(licenses[key].astype(object))
        orphan = ~pd.MultiIndex.from_frame(loas[key].astype(object)).isin(known)
        if orphan.any():
            out.append(_cases("license_loas", "license_number", "loa_has_license", loas, orphan))
    producers = set(report.producers["npn"]) if "npn" in report.producers else set()
    for name in ("licenses", "license_loas", "appointments", "reported_scopes"):
        frame = getattr(report, name)
        if len(frame) and "npn" in frame:
            unknown = ~frame["npn"].isin(producers).to_numpy()
            if unknown.any():
                out.append(_cases(name, "npn", "npn_in_producers", frame, unknown))
    return out


def _cases(
    frame_name: str, column: str, check: str, frame: pd.DataFrame, mask: npt.NDArray[np.bool_]
) -> pd.DataFrame:
    rows = frame[mask]
    return pd.DataFrame(
        {
            "frame": frame_name,
            "schema_context": "DataFrameSchema",
            "column": column,
            "check": check,
            "check_number": None,
            "failure_case": rows[column].astype(object).to_numpy(),
            "index": [int(i) for i in rows.index],
        }
    )
