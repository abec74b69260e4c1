"""Great Expectations 1.x suites for the NIPR current-state tables (SPEC sections 3 and 11).

One builder per table returns an in-memory `ExpectationSuite` (nothing is added to a data
context, nothing is written to disk); `assets/nipr/quality.py` runs it against a DataFrame and
the asset checks report the outcome. Reference data is passed in, read by the caller from the
`jurisdictions`, `lines_of_authority` and `license_classes` tables, so this module never
touches a database.

Every expectation carries `meta={"check": <name a person reads>, "severity": "error"|"warn"}`.
Check names are unique within a suite. "warn" marks what must not block: NIPR knows LOA and
license class codes newer than our copy of its workbook, so an unknown code is reported, not
fatal (the sync stores such rows anyway; `schemas/tables.py` has no foreign keys to the
reference tables for the same reason).

What the suites assert:
- the SPEC section 3 key is unique (producers: npn unique and not null);
- NPN is 1 to 10 digits; CoCode is 5 digits; state_code is one of the jurisdictions;
- codes are in the reference tables (warn): per state when given a mapping
  {state_code: codes}, otherwise against one flat set;
- licenses: expiration_date on or after issue_date where both are present;
- appointments: status is Appointed or Terminated;
- row count: within `max_change_ratio` of the previous count (day-over-day), or merely >= 0
  when there is no previous count.

Great Expectations is imported inside the builders: importing it takes seconds, and loading
the Dagster code location must stay instant.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Collection, Mapping
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from great_expectations.core import ExpectationSuite
    from great_expectations.expectations.expectation import Expectation

__all__ = [
    "APPOINTMENT_STATUSES",
    "COCODE_REGEX",
    "NPN_REGEX",
    "TABLE_KEYS",
    "CodeReference",
    "Severity",
    "appointments_suite",
    "import_gx",
    "license_loas_suite",
    "licenses_suite",
    "producers_suite",
    "row_count_expectation",
    "row_count_suite",
]

Severity = Literal["error", "warn"]
SEVERITIES: tuple[str, ...] = ("error", "warn")

# Codes accepted for a column: one flat collection, or the codes of each state.
CodeReference = Collection[str] | Mapping[str, Collection[str]]

# NIPR's NPNs: 1 to 10 ASCII digits, no leading zero (schemas/npns.py). A padded `048905991`
# in a table is a second producer NIPR does not know: every door canonicalises, so this fails
# only if one does not.
NPN_REGEX = r"^[1-9][0-9]{0,9}$"
COCODE_REGEX = r"^\d{5}$"
APPOINTMENT_STATUSES: tuple[str, ...] = ("Appointed", "Terminated")
# An appointment NIPR sends without an LOA is stored with loa_code "" (assets/nipr/parsing.py).
COMPANY_LEVEL_LOA_CODE = ""

# SPEC section 3 primary keys.
TABLE_KEYS: Mapping[str, tuple[str, ...]] = {
    "producers": ("npn",),
    "licenses": ("npn", "state_code", "license_number", "license_class_code"),
    # One license number can carry several classes, each with its own lines (ADR 0023).
    "license_loas": ("npn", "state_code", "license_number", "license_class_code", "loa_code"),
    "appointments": ("npn", "state_code", "cocode", "loa_code"),
}

DEFAULT_MAX_CHANGE_RATIO = 0.2


def import_gx() -> ModuleType:
    """Import great_expectations with its usage analytics off, unless the user said otherwise.

    The machines running npnflow reach no network but the package registries, and GE's
    analytics would otherwise wait on a blocked connection.
    """
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    return gx


# --------------------------------------------------------------------------------------------
# Suites
# --------------------------------------------------------------------------------------------


def producers_suite(
    *,
    previous_row_count: int | None = None,
    max_row_change_ratio: float = DEFAULT_MAX_CHANGE_RATIO,
    min_rows_when_previous: int = 1,
    row_count_severity: Severity = "error",
) -> ExpectationSuite:
    """`producers`: npn unique, not null, 1-10 digits; row count within bounds."""
    gxe = _expectations()
    return _suite(
        "producers",
        [
            gxe.ExpectColumnValuesToBeUnique(column="npn", meta=_meta("npn_is_unique")),
            gxe.ExpectColumnValuesToNotBeNull(column="npn", meta=_meta("npn_is_not_null")),
            _npn_format(gxe),
            row_count_expectation(
                previous_row_count,
                max_change_ratio=max_row_change_ratio,
                min_rows_when_previous=min_rows_when_previous,
                severity=row_count_severity,
            ),
        ],
    )


def licenses_suite(
    state_codes: Collection[str],
    license_class_codes: CodeReference | None = None,
    *,
    previous_row_count: int | None = None,
    max_row_change_ratio: float = DEFAULT_MAX_CHANGE_RATIO,
    min_rows_when_previous: int = 1,
    row_count_severity: Severity = "error",
) -> ExpectationSuite:
    """`licenses`: key unique, NPN and state valid, class code known (warn), dates in order.

    `license_class_codes`: the `license_classes` reference, either {state_code: codes} (the
    table's key, checked as (state_code, license_class_code) pairs) or one flat collection;
    None skips the check.
    """
    gxe = _expectations()
    expectations = [
        _key_unique(gxe, "licenses", "license_key_is_unique"),
        _npn_format(gxe),
        _state_is_jurisdiction(gxe, state_codes),
    ]
    if license_class_codes is not None:
        expectations.append(
            _code_is_known(
                gxe, "license_class_code", license_class_codes, "license_class_code_is_known"
            )
        )
    expectations += [
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="expiration_date",
            column_B="issue_date",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            meta=_meta("expiration_on_or_after_issue"),
        ),
        row_count_expectation(
            previous_row_count,
            max_change_ratio=max_row_change_ratio,
            min_rows_when_previous=min_rows_when_previous,
            severity=row_count_severity,
        ),
    ]
    return _suite("licenses", expectations)


def license_loas_suite(
    state_codes: Collection[str],
    loa_codes: CodeReference | None = None,
    *,
    previous_row_count: int | None = None,
    max_row_change_ratio: float = DEFAULT_MAX_CHANGE_RATIO,
    min_rows_when_previous: int = 1,
    row_count_severity: Severity = "error",
) -> ExpectationSuite:
    """`license_loas`: key unique, NPN and state valid, LOA code known (warn).

    `loa_codes`: the `lines_of_authority` reference, {state_code: codes} or a flat
    collection; None skips the check.
    """
    gxe = _expectations()
    expectations = [
        _key_unique(gxe, "license_loas", "license_loa_key_is_unique"),
        _npn_format(gxe),
        _state_is_jurisdiction(gxe, state_codes),
    ]
    if loa_codes is not None:
        expectations.append(_code_is_known(gxe, "loa_code", loa_codes, "loa_code_is_known"))
    expectations.append(
        row_count_expectation(
            previous_row_count,
            max_change_ratio=max_row_change_ratio,
            min_rows_when_previous=min_rows_when_previous,
            severity=row_count_severity,
        )
    )
    return _suite("license_loas", expectations)


def appointments_suite(
    state_codes: Collection[str],
    loa_codes: CodeReference | None = None,
    *,
    previous_row_count: int | None = None,
    max_row_change_ratio: float = DEFAULT_MAX_CHANGE_RATIO,
    min_rows_when_previous: int = 1,
    row_count_severity: Severity = "error",
) -> ExpectationSuite:
    """`appointments`: key unique, NPN/state/CoCode valid, status Appointed or Terminated.

    `loa_codes` (optional, warn) as for `license_loas_suite`; the company-level loa_code ""
    is always accepted.
    """
    gxe = _expectations()
    expectations = [
        _key_unique(gxe, "appointments", "appointment_key_is_unique"),
        _npn_format(gxe),
        _state_is_jurisdiction(gxe, state_codes),
        gxe.ExpectColumnValuesToMatchRegex(
            column="cocode", regex=COCODE_REGEX, meta=_meta("cocode_is_5_digits")
        ),
        gxe.ExpectColumnValuesToNotBeNull(column="cocode", meta=_meta("cocode_is_not_null")),
        gxe.ExpectColumnValuesToBeInSet(
            column="status",
            value_set=list(APPOINTMENT_STATUSES),
            meta=_meta("status_is_appointed_or_terminated"),
        ),
    ]
    if loa_codes is not None:
        with_company_level: CodeReference
        if isinstance(loa_codes, Mapping):
            with_company_level = {
                state: {*codes, COMPANY_LEVEL_LOA_CODE} for state, codes in loa_codes.items()
            }
        else:
            with_company_level = {*loa_codes, COMPANY_LEVEL_LOA_CODE}
        expectations.append(
            _code_is_known(gxe, "loa_code", with_company_level, "loa_code_is_known")
        )
    expectations.append(
        row_count_expectation(
            previous_row_count,
            max_change_ratio=max_row_change_ratio,
            min_rows_when_previous=min_rows_when_previous,
            severity=row_count_severity,
        )
    )
    return _suite("appointments", expectations)


def row_count_expectation(
    previous_count: int | None,
    *,
    max_change_ratio: float = DEFAULT_MAX_CHANGE_RATIO,
    min_rows_when_previous: int = 1,
    severity: Severity = "error",
) -> Expectation:
    """Row count within `max_change_ratio` of `previous_count` (check `row_count_within_bounds`).

    Bounds are floor(previous * (1 - ratio)) and ceil(previous * (1 + ratio)), the lower one
    raised to `min_rows_when_previous`. With no previous count (None, or 0: a first load has no
    baseline to compare with), only >= 0 rows is required, which still records the count.
    """
    if previous_count is not None and previous_count < 0:
        raise ValueError(f"previous_count must be >= 0, got {previous_count}")
    if max_change_ratio < 0:
        raise ValueError(f"max_change_ratio must be >= 0, got {max_change_ratio}")
    gxe = _expectations()
    meta: dict[str, Any] = {
        **_meta("row_count_within_bounds", severity),
        "previous_count": previous_count,
        "max_change_ratio": max_change_ratio,
    }
    # The typed locals: `gxe` is a module object, so its classes are untyped to mypy.
    expectation: Expectation
    if not previous_count:
        expectation = gxe.ExpectTableRowCountToBeBetween(min_value=0, max_value=None, meta=meta)
        return expectation
    lower = max(math.floor(previous_count * (1 - max_change_ratio)), min_rows_when_previous)
    upper = max(math.ceil(previous_count * (1 + max_change_ratio)), lower)
    expectation = gxe.ExpectTableRowCountToBeBetween(min_value=lower, max_value=upper, meta=meta)
    return expectation


def row_count_suite(
    previous_count: int | None,
    max_change_ratio: float = DEFAULT_MAX_CHANGE_RATIO,
    min_rows_when_previous: int = 1,
    *,
    name: str = "row_count",
    severity: Severity = "error",
) -> ExpectationSuite:
    """A suite holding only `row_count_expectation` (for a table without its own suite)."""
    return _suite(
        name,
        [
            row_count_expectation(
                previous_count,
                max_change_ratio=max_change_ratio,
                min_rows_when_previous=min_rows_when_previous,
                severity=severity,
            )
        ],
    )


# --------------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------------


def _expectations() -> ModuleType:
    import_gx()
    import great_expectations.expectations as gxe

    return gxe


def _meta(check: str, severity: Severity = "error") -> dict[str, Any]:
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, got {severity!r}")
    return {"check": check, "severity": severity}


def _suite(name: str, expectations: list[Expectation]) -> ExpectationSuite:
    checks: list[str] = [(expectation.meta or {})["check"] for expectation in expectations]
    duplicates = sorted({check for check in checks if checks.count(check) > 1})
    if duplicates:  # the runner and the UI tell results apart by check name
        raise ValueError(f"suite {name!r} has duplicate check names: {duplicates}")
    gx = import_gx()
    suite: ExpectationSuite = gx.ExpectationSuite(name=name, expectations=expectations)
    return suite


def _key_unique(gxe: ModuleType, table: str, check: str) -> Expectation:
    expectation: Expectation = gxe.ExpectCompoundColumnsToBeUnique(
        column_list=list(TABLE_KEYS[table]), meta=_meta(check)
    )
    return expectation


def _npn_format(gxe: ModuleType) -> Expectation:
    expectation: Expectation = gxe.ExpectColumnValuesToMatchRegex(
        column="npn", regex=NPN_REGEX, meta=_meta("npn_is_digits_up_to_10")
    )
    return expectation


def _state_is_jurisdiction(gxe: ModuleType, state_codes: Collection[str]) -> Expectation:
    codes = _codes(state_codes, "state_codes (the jurisdictions table)")
    expectation: Expectation = gxe.ExpectColumnValuesToBeInSet(
        column="state_code", value_set=codes, meta=_meta("state_code_is_a_jurisdiction")
    )
    return expectation


def _code_is_known(
    gxe: ModuleType, column: str, reference: CodeReference, check: str
) -> Expectation:
    """`column` in the reference codes, per state when the reference is a mapping (warn)."""
    if isinstance(reference, Mapping):
        pairs = {(state, code) for state, codes in reference.items() for code in codes}
        if not pairs:
            raise ValueError(f"the reference codes for {column} are empty: load them first")
        return _pair_in_reference_class()(
            column_A="state_code",
            column_B=column,
            reference=_pack_pairs(pairs),
            meta=_meta(check, "warn"),
        )
    expectation: Expectation = gxe.ExpectColumnValuesToBeInSet(
        column=column,
        value_set=_codes(reference, f"the reference codes for {column}"),
        meta=_meta(check, "warn"),
    )
    return expectation


@cache
def _pair_in_reference_class() -> Callable[..., Expectation]:
    """An expectation: (column_A, column_B) pairs are in a reference, e.g. (state, LOA code).

    GE's own `ExpectColumnPairValuesToBeInSet` is too slow for NIPR's workbook on two counts:
    its pandas metric walks the frame with `iterrows` (about 11 s on 100k licenses), and GE
    re-serialises the list of pairs hundreds of times while planning a run (about 4 s for
    the 3,594 LOA pairs, whatever the row count). So the reference travels as one string, one
    tab-separated pair per line, and the metric is a vectorised MultiIndex look-up. A pair with
    a missing value is never in the reference; rows where both are missing are ignored (GE's
    default). Defined on first use, because GE registers the classes as they are created and
    importing this module must stay cheap.
    """
    import_gx()
    import numpy as np
    import pandas as pd
    from great_expectations.execution_engine.pandas_execution_engine import PandasExecutionEngine
    from great_expectations.expectations.expectation import ColumnPairMapExpectation
    from great_expectations.expectations.metrics.map_metric_provider.column_pair_condition_partial import (  # noqa: E501 (GE's module path)
        column_pair_condition_partial,
    )
    from great_expectations.expectations.metrics.map_metric_provider.column_pair_map_metric_provider import (  # noqa: E501 (GE's module path)
        ColumnPairMapMetricProvider,
    )

    class ColumnPairValuesInReference(ColumnPairMapMetricProvider):
        condition_metric_name = "column_pair_values.in_reference"
        condition_value_keys = ("reference",)
        condition_domain_keys = ("batch_id", "table", "column_A", "column_B", "ignore_row_if")

        # GE's decorator factory is not annotated (it returns an untyped wrapper).
        @column_pair_condition_partial(engine=PandasExecutionEngine)  # type: ignore[untyped-decorator]
        def _pandas(
            cls: Any,
            column_A: pd.Series,  # noqa: N803 (GE's argument names)
            column_B: pd.Series,  # noqa: N803
            **kwargs: Any,
        ) -> pd.Series:
            lines = kwargs["reference"].splitlines()
            if not lines:
                return np.zeros(len(column_A), dtype=np.bool_)
            reference = pd.MultiIndex.from_tuples([tuple(line.split("\t")) for line in lines])
            rows = pd.MultiIndex.from_arrays([column_A.astype(object), column_B.astype(object)])
            return pd.Series(rows.isin(reference), index=column_A.index)

    class ExpectColumnPairValuesToBeInReference(ColumnPairMapExpectation):
        """Expect (column_A, column_B) to be one of `reference`'s "A<TAB>B" lines."""

        reference: str
        ignore_row_if: Literal["both_values_are_missing", "either_value_is_missing", "neither"] = (
            "both_values_are_missing"
        )

        map_metric = ColumnPairValuesInReference.condition_metric_name
        success_keys = ("reference", "ignore_row_if", "mostly")
        args_keys = ("column_A", "column_B", "reference")

    return ExpectColumnPairValuesToBeInReference


def _pack_pairs(pairs: Collection[tuple[str, str]]) -> str:
    for pair in pairs:
        if any("\t" in value or "\n" in value or "\r" in value for value in pair):
            raise ValueError(f"a reference code holds a tab or line break: {pair!r}")
    return "\n".join(f"{a}\t{b}" for a, b in sorted(pairs))


def _codes(codes: Collection[str], what: str) -> list[str]:
    if isinstance(codes, str):  # a lone "TX" would otherwise become {"T", "X"}
        raise TypeError(f"{what} must be a collection of codes, not a string")
    values = sorted(set(codes))
    if not values:
        # An empty reference would fail every row; the real cause is an unloaded table.
        raise ValueError(f"{what} is empty: load the reference data first")
    return values
