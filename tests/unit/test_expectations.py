"""The Great Expectations suites of the NIPR current-state tables, run on small frames.

Each breaking frame breaks one thing, and the test names the check a person would see fail.
GE takes seconds to import; `run_suite` reuses one context for the whole file.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from assets.nipr.quality import RESULT_COLUMNS, SuiteOutcome, run_suite
from schemas.expectations import (
    appointments_suite,
    import_gx,
    license_loas_suite,
    licenses_suite,
    producers_suite,
    row_count_expectation,
    row_count_suite,
)

STATES = ["CA", "NY", "TX"]
LICENSE_CLASSES = {"CA": ["3"], "NY": ["13255"], "TX": ["465", "882"]}
LOAS = {"CA": ["10", "11"], "NY": ["10"], "TX": ["14"]}


def producers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "npn": ["1234567890", "17", "8000001"],
            "first_name": ["Ana", "Bo", None],
            "last_name": ["Diaz", "Ek", "Acme Agency LLC"],
            "ssn_last4": ["1234", None, None],
        }
    )


def licenses() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "npn": ["1234567890", "1234567890", "17", "17"],
            "state_code": ["CA", "TX", "TX", "TX"],
            "license_number": ["0A1", "222", "333", "333"],
            "license_class_code": ["3", "465", "465", "882"],
            "is_active": [True, True, False, True],
            "issue_date": [dt.date(2020, 1, 1), dt.date(2021, 5, 1), None, dt.date(2022, 1, 1)],
            "expiration_date": [
                dt.date(2026, 1, 31),
                dt.date(2021, 5, 1),  # the same day is allowed
                dt.date(2019, 1, 1),  # no issue date: nothing to compare
                None,
            ],
        }
    )


def license_loas() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "npn": ["1234567890", "1234567890", "17"],
            "state_code": ["CA", "CA", "TX"],
            "license_number": ["0A1", "0A1", "333"],
            "license_class_code": ["3", "3", "3"],
            "loa_code": ["10", "11", "14"],
            "issue_date": [dt.date(2020, 1, 1)] * 3,
        }
    )


def appointments() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "npn": ["1234567890", "1234567890", "17"],
            "state_code": ["CA", "CA", "TX"],
            "cocode": ["00123", "00123", "65676"],
            "loa_code": ["10", "11", ""],  # "": a company-level appointment
            "company_name": ["Alpha Life", "Alpha Life", "Beta"],
            "status": ["Appointed", "Terminated", "Appointed"],
        }
    )


TABLES: dict[str, tuple[Callable[..., object], Callable[[], pd.DataFrame]]] = {
    "producers": (lambda **kw: producers_suite(**kw), producers),
    "licenses": (lambda **kw: licenses_suite(STATES, LICENSE_CLASSES, **kw), licenses),
    "license_loas": (lambda **kw: license_loas_suite(STATES, LOAS, **kw), license_loas),
    "appointments": (lambda **kw: appointments_suite(STATES, LOAS, **kw), appointments),
}


def run(table: str, frame: pd.DataFrame | None = None, **suite_kwargs: object) -> SuiteOutcome:
    build, clean = TABLES[table]
    return run_suite(clean() if frame is None else frame, build(**suite_kwargs))


def row(outcome: SuiteOutcome, check: str) -> pd.Series:
    rows = outcome.results[outcome.results["check"] == check]
    assert len(rows) == 1, outcome.results
    return rows.iloc[0]


# --------------------------------------------------------------------------------------------
# Clean data
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("table", list(TABLES))
def test_a_clean_frame_passes_every_check(table: str) -> None:
    build, clean = TABLES[table]
    suite = build(previous_row_count=len(clean()))
    outcome = run_suite(clean(), suite)

    assert outcome.success, outcome.to_markdown()
    assert outcome.failed_checks == ()
    assert list(outcome.results.columns) == list(RESULT_COLUMNS)
    # One row per expectation, in suite order, each named and graded.
    assert list(outcome.results["check"]) == [e.meta["check"] for e in suite.expectations]
    assert set(outcome.results["severity"]) <= {"error", "warn"}
    assert outcome.row_count == len(clean())


def test_each_suite_checks_what_the_spec_asks() -> None:
    checks = {table: set(run(table).results["check"]) for table in TABLES}
    common = {"npn_is_digits_up_to_10", "row_count_within_bounds"}
    assert checks["producers"] == common | {"npn_is_unique", "npn_is_not_null"}
    assert checks["licenses"] == common | {
        "license_key_is_unique",
        "state_code_is_a_jurisdiction",
        "license_class_code_is_known",
        "expiration_on_or_after_issue",
    }
    assert checks["license_loas"] == common | {
        "license_loa_key_is_unique",
        "state_code_is_a_jurisdiction",
        "loa_code_is_known",
    }
    assert checks["appointments"] == common | {
        "appointment_key_is_unique",
        "state_code_is_a_jurisdiction",
        "cocode_is_5_digits",
        "cocode_is_not_null",
        "status_is_appointed_or_terminated",
        "loa_code_is_known",
    }


# --------------------------------------------------------------------------------------------
# One thing broken at a time
# --------------------------------------------------------------------------------------------


def _set(frame: pd.DataFrame, index: int, **values: object) -> pd.DataFrame:
    frame = frame.copy()
    for column, value in values.items():
        frame[column] = frame[column].astype(object)
        frame.at[index, column] = value
    return frame


def _duplicate_first(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([frame, frame.iloc[[0]]], ignore_index=True)


BREAKAGES = [
    # (table, break the clean frame, the checks that fail)
    ("producers", _duplicate_first, {"npn_is_unique"}),
    ("producers", lambda f: _set(f, 1, npn=None), {"npn_is_not_null"}),
    ("producers", lambda f: _set(f, 1, npn="12345678901"), {"npn_is_digits_up_to_10"}),
    ("licenses", _duplicate_first, {"license_key_is_unique"}),
    ("license_loas", _duplicate_first, {"license_loa_key_is_unique"}),
    ("appointments", _duplicate_first, {"appointment_key_is_unique"}),
    ("licenses", lambda f: _set(f, 0, npn="12345678901"), {"npn_is_digits_up_to_10"}),
    ("license_loas", lambda f: _set(f, 2, npn="17a"), {"npn_is_digits_up_to_10"}),
    ("appointments", lambda f: _set(f, 2, npn="12345678901"), {"npn_is_digits_up_to_10"}),
    # A padded NPN is a producer NIPR does not know (schemas/npns.py): every door strips them.
    ("producers", lambda f: _set(f, 1, npn="048905991"), {"npn_is_digits_up_to_10"}),
    ("licenses", lambda f: _set(f, 0, npn="0"), {"npn_is_digits_up_to_10"}),
    # An unknown state also makes its (state, code) pair unknown: that second one is a warning.
    (
        "licenses",
        lambda f: _set(f, 0, state_code="XX"),
        {"state_code_is_a_jurisdiction", "license_class_code_is_known"},
    ),
    (
        "appointments",
        lambda f: _set(f, 2, state_code="XX"),
        {"state_code_is_a_jurisdiction", "loa_code_is_known"},
    ),
    (
        "licenses",
        lambda f: _set(f, 3, expiration_date=dt.date(2021, 12, 31)),
        {"expiration_on_or_after_issue"},
    ),
    ("appointments", lambda f: _set(f, 0, status="Pending"), {"status_is_appointed_or_terminated"}),
    ("appointments", lambda f: _set(f, 0, cocode="1234"), {"cocode_is_5_digits"}),
    ("appointments", lambda f: _set(f, 0, cocode=None), {"cocode_is_not_null"}),
]


@pytest.mark.parametrize(
    ("table", "breaking", "failing"),
    BREAKAGES,
    ids=[f"{table}-{'+'.join(sorted(failing))}" for table, _, failing in BREAKAGES],
)
def test_a_frame_breaking_one_rule_fails_that_check(
    table: str, breaking: Callable[[pd.DataFrame], pd.DataFrame], failing: set[str]
) -> None:
    _, clean = TABLES[table]
    outcome = run(table, breaking(clean()))

    assert set(outcome.failed_checks) == failing, outcome.to_markdown()
    assert not outcome.success
    for check in failing:
        failed = row(outcome, check)
        assert failed["unexpected_count"] >= 1
        assert failed["unexpected_sample"]


def test_the_sample_shows_the_offending_values() -> None:
    outcome = run("appointments", _set(appointments(), 0, status="Pending", cocode="1234"))

    assert row(outcome, "status_is_appointed_or_terminated")["unexpected_sample"] == "Pending"
    assert row(outcome, "cocode_is_5_digits")["unexpected_sample"] == "1234"
    duplicated = run("licenses", _duplicate_first(licenses()))
    assert row(duplicated, "license_key_is_unique")["unexpected_sample"] == (
        "(1234567890, CA, 0A1, 3) (x2)"
    )


# --------------------------------------------------------------------------------------------
# Row counts
# --------------------------------------------------------------------------------------------


def test_a_row_count_halving_since_yesterday_fails() -> None:
    frame = licenses()
    outcome = run("licenses", frame, previous_row_count=2 * len(frame))

    assert outcome.failed_checks == ("row_count_within_bounds",)
    assert not outcome.success
    assert row(outcome, "row_count_within_bounds")["observed_value"] == str(len(frame))


@pytest.mark.parametrize(
    ("previous", "rows", "passes"),
    [
        (None, 0, True),  # no previous count: any count, even none
        (0, 3, True),  # nothing yesterday: no baseline to compare with
        (100, 80, True),
        (100, 120, True),
        (100, 79, False),
        (100, 121, False),
        (2, 0, False),  # something yesterday, nothing today
    ],
)
def test_row_count_bounds(previous: int | None, rows: int, passes: bool) -> None:
    frame = pd.DataFrame({"npn": [str(i) for i in range(rows)]}, dtype="str")
    outcome = run_suite(frame, row_count_suite(previous))

    assert outcome.success is passes
    assert row(outcome, "row_count_within_bounds")["observed_value"] == str(rows)


def test_row_count_bounds_are_recorded_on_the_expectation() -> None:
    expectation = row_count_expectation(100, max_change_ratio=0.5)
    assert (expectation.min_value, expectation.max_value) == (50, 150)
    assert expectation.meta == {
        "check": "row_count_within_bounds",
        "severity": "error",
        "previous_count": 100,
        "max_change_ratio": 0.5,
    }


def test_a_row_count_check_can_be_made_a_warning() -> None:
    outcome = run("producers", previous_row_count=100, row_count_severity="warn")

    assert outcome.success
    assert outcome.failed_warnings == ("row_count_within_bounds",)


# --------------------------------------------------------------------------------------------
# Reference codes NIPR may know before our workbook does: warnings
# --------------------------------------------------------------------------------------------


def test_an_unknown_loa_code_is_a_warning_not_a_failure() -> None:
    outcome = run("license_loas", _set(license_loas(), 2, loa_code="9999"))

    assert outcome.success
    assert outcome.failed_checks == ("loa_code_is_known",)
    failed = row(outcome, "loa_code_is_known")
    assert failed["severity"] == "warn"
    assert not failed["success"]
    assert failed["unexpected_sample"] == "(TX, 9999)"


def test_a_code_known_only_in_another_state_is_unknown_here() -> None:
    outcome = run("license_loas", _set(license_loas(), 2, loa_code="10"))  # a CA/NY LOA in TX
    assert outcome.failed_warnings == ("loa_code_is_known",)


def test_codes_can_be_checked_against_one_flat_set() -> None:
    flat = license_loas_suite(STATES, ["10", "11", "14"])
    assert run_suite(license_loas(), flat).failed_checks == ()

    outcome = run_suite(_set(license_loas(), 2, loa_code="10"), flat)
    assert outcome.failed_checks == ()  # flat: any state's code will do
    outcome = run_suite(_set(license_loas(), 2, loa_code="9999"), flat)
    assert outcome.success
    assert outcome.failed_warnings == ("loa_code_is_known",)
    assert row(outcome, "loa_code_is_known")["unexpected_sample"] == "9999"


def test_one_line_under_two_classes_of_one_license_number_is_not_a_duplicate() -> None:
    # NIPR files one license number under several classes, each with its own lines (ADR 0023).
    frame = pd.concat([license_loas(), license_loas().iloc[[2]]], ignore_index=True)
    frame.loc[3, "license_class_code"] = "66"

    assert run("license_loas", frame).failed_checks == ()
    frame.loc[3, "license_class_code"] = "3"  # the same class again: a real duplicate
    assert "license_loa_key_is_unique" in run("license_loas", frame).failed_checks


def test_an_unknown_license_class_is_a_warning() -> None:
    outcome = run("licenses", _set(licenses(), 0, license_class_code="77"))
    assert outcome.success
    assert outcome.failed_warnings == ("license_class_code_is_known",)


def test_reference_checks_are_optional() -> None:
    suite = licenses_suite(STATES)
    checks = {e.meta["check"] for e in suite.expectations}
    assert "license_class_code_is_known" not in checks
    assert run_suite(_set(licenses(), 0, license_class_code="77"), suite).failed_checks == ()


def test_missing_reference_data_is_refused_rather_than_failing_every_row() -> None:
    with pytest.raises(ValueError, match="jurisdictions"):
        licenses_suite([])
    with pytest.raises(ValueError, match="loa_code"):
        license_loas_suite(STATES, {})
    with pytest.raises(TypeError):
        appointments_suite("TX")


# --------------------------------------------------------------------------------------------
# Empty frames, missing columns, dates
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("table", list(TABLES))
def test_an_empty_frame_passes_and_reports_zero_rows(table: str) -> None:
    _, clean = TABLES[table]
    outcome = run(table, clean().iloc[:0])

    assert outcome.success, outcome.to_markdown()
    assert outcome.row_count == 0
    assert (outcome.results["unexpected_count"].fillna(0) == 0).all()
    assert "0 rows" in outcome.to_markdown()


def test_an_empty_frame_after_a_full_day_fails_the_row_count() -> None:
    outcome = run("licenses", licenses().iloc[:0], previous_row_count=500)
    assert outcome.failed_checks == ("row_count_within_bounds",)


def test_missing_columns_fail_their_checks_without_raising() -> None:
    outcome = run("licenses", pd.DataFrame())

    assert not outcome.success
    key = row(outcome, "license_key_is_unique")
    assert not key["success"]
    assert "does not exist" in key["error"]
    assert row(outcome, "row_count_within_bounds")["success"]  # a table with no columns has 0 rows


def _dates(kind: str, values: list[dt.date | None]) -> pd.Series:
    if kind == "date":
        return pd.Series(values, dtype=object)
    if kind == "timestamp":
        return pd.Series([pd.NaT if v is None else pd.Timestamp(v) for v in values], dtype=object)
    if kind == "datetime64":
        return pd.to_datetime(pd.Series(values, dtype=object))
    # "mixed": what a frame concatenated from two sources may hold
    mixed = [None if v is None else (pd.Timestamp(v) if i % 2 else v) for i, v in enumerate(values)]
    return pd.Series(mixed, dtype=object)


@pytest.mark.parametrize("kind", ["date", "timestamp", "datetime64", "mixed"])
def test_date_objects_and_timestamps_are_both_compared(kind: str) -> None:
    issue = [dt.date(2020, 1, 1), dt.date(2021, 5, 1), None, dt.date(2022, 1, 1)]
    good = [dt.date(2026, 1, 31), dt.date(2021, 5, 1), dt.date(2019, 1, 1), None]
    bad = [dt.date(2026, 1, 31), dt.date(2021, 4, 30), dt.date(2019, 1, 1), None]
    frame = licenses()
    frame["issue_date"] = _dates(kind, issue)

    frame["expiration_date"] = _dates(kind, good)
    assert run("licenses", frame).failed_checks == ()

    frame["expiration_date"] = _dates(kind, bad)
    outcome = run("licenses", frame)
    assert outcome.failed_checks == ("expiration_on_or_after_issue",)
    failed = row(outcome, "expiration_on_or_after_issue")
    assert failed["unexpected_count"] == 1
    assert failed["unexpected_sample"] == "(2021-04-30, 2021-05-01)"


def test_the_callers_frame_is_left_as_it_was() -> None:
    frame = licenses()
    before = frame.copy()
    run("licenses", frame)
    pd.testing.assert_frame_equal(frame, before)


def test_object_dtype_columns_work_like_pandas_strings() -> None:
    assert run("appointments", appointments().astype(object)).failed_checks == ()


# --------------------------------------------------------------------------------------------
# What the UI shows
# --------------------------------------------------------------------------------------------


def test_markdown_names_the_failed_checks() -> None:
    outcome = run("appointments", _set(appointments(), 0, status="Pending", loa_code="999"))
    text = outcome.to_markdown()

    assert text.startswith("**appointments**: failed on 3 rows")
    lines = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("|")}
    assert "FAIL" in lines["status_is_appointed_or_terminated"]
    assert "Pending" in lines["status_is_appointed_or_terminated"]
    assert "FAIL" in lines["loa_code_is_known"]
    assert "warn" in lines["loa_code_is_known"]
    assert "pass" in lines["npn_is_digits_up_to_10"]


# --------------------------------------------------------------------------------------------
# Loading the code location
# --------------------------------------------------------------------------------------------


def test_importing_the_modules_does_not_import_great_expectations() -> None:
    code = (
        "import sys, assets.nipr.quality, schemas.expectations; "
        "sys.exit('great_expectations' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[2]
    assert subprocess.run([sys.executable, "-c", code], cwd=root).returncode == 0


def test_an_explicit_analytics_setting_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GX_ANALYTICS_ENABLED", "true")
    import_gx()
    assert os.environ["GX_ANALYTICS_ENABLED"] == "true"
