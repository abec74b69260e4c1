"""pandera contracts for the reference tables and the customer's company configuration.

One model per table of SPEC section 3 "Reference and configuration" (plus the two helper tables
`license_class_loas` and `producer_license_classes`, NIPR's own transaction fee
`nipr_transaction_fees`, and the provenance columns `source` and `is_assumption` on the state
rule and fee tables). Column names are the database column names.

These models are the only description of the files' columns: the loaders
(`assets/reference/config_files.py::type_columns`) read each CSV cell as its model's dtype says
and allow a blank cell only where the model says `nullable`. Type conventions:
- codes (state, license class, LOA, CoCode, FEIN, reason) are text, never numbers;
- not-null flags are numpy `bool` columns; flags that may be unknown use pandas' nullable
  `boolean`; day counts are nullable `Int64`; fees are `float`.

Cross-table rules (a gateway rule's line exists in the workbook, JIT only where the state
allows it, ...) need several frames at once and live in `assets/reference/reference_data.py`
and `assets/reference/company_setup.py`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

# DOMAIN 3.1: 50 states + DC + GU + PR + VI, as NIPR spells them.
JURISDICTION_CODES: tuple[str, ...] = (
    "AK", "AL", "AR", "AZ", "CA", "CO", "CT", "DC", "DE", "FL", "GA", "GU", "HI", "IA", "ID",
    "IL", "IN", "KS", "KY", "LA", "MA", "MD", "ME", "MI", "MN", "MO", "MS", "MT", "NC", "ND",
    "NE", "NH", "NJ", "NM", "NV", "NY", "OH", "OK", "OR", "PA", "PR", "RI", "SC", "SD", "TN",
    "TX", "UT", "VA", "VI", "VT", "WA", "WI", "WV", "WY",
)  # fmt: skip

LOA_CATEGORIES: tuple[str, ...] = (
    "Life",
    "Accident & Health",
    "Property",
    "Casualty",
    "Personal Lines",
    "Variable Life & Annuity",
    "Credit",
    "Title",
    "Travel",
    "Crop",
    "Surety",
    "Car Rental",
    "Surplus Lines",
    "Other",
)

RESIDENCY_VALUES = ("R", "NR", "any")
TRANSACTION_KINDS = ("appointment", "termination")
APPOINTMENT_FILING_VALUES = ("nipr", "registry", "not_via_nipr")
# How a state renews appointments (docs/renewals.md). `biennial_even_years` /
# `biennial_odd_years`: every two years, in the even / odd calendar years (CT: even);
# `birth_month_biennial`: every 24 months in the producer's birth month (FL).
RENEWAL_KINDS = (
    "perpetual",
    "annual",
    "biennial_even_years",
    "biennial_odd_years",
    "birth_month_biennial",
    "unknown",
)
#: The kinds under which an appointment costs a renewal fee (a plan row is made).
RENEWING_KINDS = ("annual", "biennial_even_years", "biennial_odd_years", "birth_month_biennial")
RENEWAL_CHANNELS = ("nipr", "state_portal", "invoice_by_mail", "none", "unknown")
FEE_BASES = ("per_appointment", "per_line")
#: A cut-off no source gives (`termination_cutoff`).
UNKNOWN = "unknown"

NIPR_CODE = r"^\d{1,10}$"  # license class and LOA codes: NIPR numeric IDs, kept as text
COCODE = r"^\d{5}$"
FEIN = r"^\d{9}$"
REASON_CODE = r"^[A-Z][A-Z0-9_]*$"


def _state() -> Any:  # pa.Field is untyped: it stands for the column's declared type
    return pa.Field(isin=list(JURISDICTION_CODES))


class _Strict(pa.DataFrameModel):
    class Config:
        strict = True  # exactly the table's columns: no extra, none missing
        coerce = False  # the loader converts; a wrong dtype here is a loader bug


# --------------------------------------------------------------------------------------------
# Reference tables
# --------------------------------------------------------------------------------------------


class JurisdictionsModel(_Strict):
    state_code: Series[str] = pa.Field(isin=list(JURISDICTION_CODES), unique=True)
    name: Series[str] = pa.Field(str_length={"min_value": 1})


class LicenseClassesModel(_Strict):
    state_code: Series[str] = _state()
    license_class_code: Series[str] = pa.Field(str_matches=NIPR_CODE)
    license_class: Series[str] = pa.Field(nullable=True)  # a few are blank in NIPR's workbook

    class Config:
        unique = ["state_code", "license_class_code"]


class LinesOfAuthorityModel(_Strict):
    state_code: Series[str] = _state()
    loa_code: Series[str] = pa.Field(str_matches=NIPR_CODE)
    loa_name: Series[str] = pa.Field(nullable=True)

    class Config:
        unique = ["state_code", "loa_code"]


class LicenseClassLoasModel(_Strict):
    state_code: Series[str] = _state()
    license_class_code: Series[str] = pa.Field(str_matches=NIPR_CODE)
    loa_code: Series[str] = pa.Field(str_matches=NIPR_CODE)

    class Config:
        unique = ["state_code", "license_class_code", "loa_code"]


class ProducerLicenseClassesModel(_Strict):
    state_code: Series[str] = _state()
    license_class_code: Series[str] = pa.Field(str_matches=NIPR_CODE)
    residency: Series[str] = pa.Field(isin=list(RESIDENCY_VALUES))
    note: Series[str] = pa.Field(nullable=True)

    class Config:
        unique = ["state_code", "license_class_code"]


class LoaCategoriesModel(_Strict):
    state_code: Series[str] = _state()
    loa_code: Series[str] = pa.Field(str_matches=NIPR_CODE)
    loa_category: Series[str] = pa.Field(isin=list(LOA_CATEGORIES))

    class Config:
        unique = ["state_code", "loa_code", "loa_category"]


class TerminationReasonsModel(_Strict):
    reason_code: Series[str] = pa.Field(str_matches=REASON_CODE, unique=True)
    description: Series[str] = pa.Field(nullable=True)
    source: Series[str] = pa.Field(nullable=True)


class StateTerminationReasonsModel(_Strict):
    state_code: Series[str] = _state()
    reason_code: Series[str] = pa.Field(str_matches=REASON_CODE)
    is_default: Series[bool]
    source: Series[str] = pa.Field(nullable=True)
    is_assumption: Series[bool]

    class Config:
        unique = ["state_code", "reason_code"]

    @pa.dataframe_check(error="more than one default termination reason for the state")
    @classmethod
    def one_default_per_state(cls, frame: pd.DataFrame) -> Series[bool]:
        defaults = frame["is_default"].astype(bool)
        count = defaults.groupby(frame["state_code"]).transform("sum")
        ok: Series[bool] = ~(defaults & (count > 1))
        return ok


class StateFeesModel(_Strict):
    state_code: Series[str] = _state()
    transaction_kind: Series[str] = pa.Field(isin=list(TRANSACTION_KINDS))
    # Required: without a fee the estimate of a batch is unknown (a blank cell is reported).
    resident_fee: Series[float] = pa.Field(ge=0)
    nonresident_fee: Series[float] = pa.Field(ge=0)
    per_loa: Series[bool]
    billed_by_state: Series[bool]
    source: Series[str] = pa.Field(nullable=True)
    is_assumption: Series[bool]

    class Config:
        unique = ["state_code", "transaction_kind"]


class NiprTransactionFeesModel(_Strict):
    """NIPR's own fee per Gateway transaction (DOMAIN 2.4), invoiced by NIPR apart from the
    state fees. One row per transaction kind; the amount is not published, so the shipped rows
    are a flagged estimate to replace with the customer's NIPR invoice."""

    transaction_kind: Series[str] = pa.Field(isin=list(TRANSACTION_KINDS), unique=True)
    # Required: a blank would make every batch estimate silently leave NIPR's fee out.
    nipr_fee: Series[float] = pa.Field(ge=0)
    source: Series[str] = pa.Field(nullable=True)
    is_assumption: Series[bool]


class StateAppointmentRulesModel(_Strict):
    state_code: Series[str] = pa.Field(isin=list(JURISDICTION_CODES), unique=True)
    appointment_filing: Series[str] = pa.Field(isin=list(APPOINTMENT_FILING_VALUES))
    jit_allowed: Series[bool]
    jit_deadline_days: Series[pd.Int64Dtype] = pa.Field(ge=0, nullable=True)
    jit_trigger: Series[str] = pa.Field(nullable=True)
    effective_date_specifiable: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    max_backdate_days: Series[pd.Int64Dtype] = pa.Field(ge=0, nullable=True)
    allows_future_effective_date: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    terminations_via_nipr: Series[bool]
    termination_date_specifiable: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    termination_max_backdate_days: Series[pd.Int64Dtype] = pa.Field(ge=0, nullable=True)
    source: Series[str] = pa.Field(nullable=True)
    is_assumption: Series[bool]


class StateAppointmentRenewalsModel(_Strict):
    """How each state renews appointments (config/reference/state_appointment_renewals.csv).

    Month-days (`window_start`, `window_end`, `termination_cutoff`) are `MM-DD` text, checked
    as calendar days with the other cross-table rules in `assets/reference/reference_data.py`
    (a blank window: not published; a cut-off no source gives: `unknown`)."""

    state_code: Series[str] = pa.Field(isin=list(JURISDICTION_CODES), unique=True)
    renews: Series[str] = pa.Field(isin=list(RENEWAL_KINDS))
    renewed_through: Series[str] = pa.Field(isin=list(RENEWAL_CHANNELS))
    window_start: Series[str] = pa.Field(nullable=True)
    window_end: Series[str] = pa.Field(nullable=True)
    termination_cutoff: Series[str]
    # Blank where nothing renews; required (a cross-check) where it does.
    fee_resident: Series[float] = pa.Field(ge=0, nullable=True)
    fee_nonresident: Series[float] = pa.Field(ge=0, nullable=True)
    fee_basis: Series[str] = pa.Field(isin=list(FEE_BASES), nullable=True)
    # NIPR's renewal processing fee (1% of the state fees, min $5, max $1,000) applies.
    nipr_processing_fee: Series[bool]
    source: Series[str] = pa.Field(nullable=True)
    is_assumption: Series[bool]


# --------------------------------------------------------------------------------------------
# The customer's company configuration
# --------------------------------------------------------------------------------------------


class CompaniesModel(_Strict):
    cocode: Series[str] = pa.Field(str_matches=COCODE, unique=True)
    company_name: Series[str] = pa.Field(str_length={"min_value": 1})
    fein: Series[str] = pa.Field(str_matches=FEIN, nullable=True)
    producer_assignment_required: Series[bool]


class CompanyLoaCategoriesModel(_Strict):
    cocode: Series[str] = pa.Field(str_matches=COCODE)
    loa_category: Series[str] = pa.Field(isin=list(LOA_CATEGORIES))

    class Config:
        unique = ["cocode", "loa_category"]


class CompanyStateSettingsModel(_Strict):
    cocode: Series[str] = pa.Field(str_matches=COCODE)
    state_code: Series[str] = _state()
    state_company_id: Series[str] = pa.Field(nullable=True)
    jit: Series[bool]

    class Config:
        unique = ["cocode", "state_code"]


class GatewayBusinessRulesModel(_Strict):
    cocode: Series[str] = pa.Field(str_matches=COCODE)
    state_code: Series[str] = _state()
    license_class_code: Series[str] = pa.Field(str_matches=NIPR_CODE)
    loa_code: Series[str] = pa.Field(str_matches=NIPR_CODE)
    loa_category: Series[str] = pa.Field(isin=list(LOA_CATEGORIES), nullable=True)
    active: Series[bool]

    class Config:
        unique = ["cocode", "state_code", "license_class_code", "loa_code"]


REFERENCE_MODELS: dict[str, type[pa.DataFrameModel]] = {
    "jurisdictions": JurisdictionsModel,
    "license_classes": LicenseClassesModel,
    "lines_of_authority": LinesOfAuthorityModel,
    "license_class_loas": LicenseClassLoasModel,
    "producer_license_classes": ProducerLicenseClassesModel,
    "loa_categories": LoaCategoriesModel,
    "termination_reasons": TerminationReasonsModel,
    "state_termination_reasons": StateTerminationReasonsModel,
    "state_fees": StateFeesModel,
    "state_appointment_rules": StateAppointmentRulesModel,
    "nipr_transaction_fees": NiprTransactionFeesModel,
    "state_appointment_renewals": StateAppointmentRenewalsModel,
}

COMPANY_CONFIG_MODELS: dict[str, type[pa.DataFrameModel]] = {
    "companies": CompaniesModel,
    "company_loa_categories": CompanyLoaCategoriesModel,
    "company_state_settings": CompanyStateSettingsModel,
    "gateway_business_rules": GatewayBusinessRulesModel,
}


def columns_of(model: type[pa.DataFrameModel]) -> list[str]:
    """The model's columns, in declaration order (the table's column order)."""
    return list(model.to_schema().columns)
