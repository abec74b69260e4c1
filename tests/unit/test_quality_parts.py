"""`run_suite_in_parts`: a suite on rows that arrive in parts adds up to the suite on all the
rows at once, with keys and the row count answered by the caller (the database)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from assets.nipr.quality import KeyDuplicates, run_suite, run_suite_in_parts
from schemas.expectations import licenses_suite

STATES = ["TX", "CA", "NY"]
CLASSES = {"TX": ["1", "2"], "CA": ["1"], "NY": ["3"]}


def _licenses(rows: int) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "npn": [str(1000 + i) for i in range(rows)],
            "state_code": [STATES[i % 3] for i in range(rows)],
            "license_number": [f"L{i}" for i in range(rows)],
            "license_class_code": ["1" if i % 3 < 2 else "3" for i in range(rows)],
            "issue_date": [dt.date(2020, 1, 1)] * rows,
            "expiration_date": [dt.date(2022, 1, 1)] * rows,
        }
    )
    frame.loc[[3, 20], "expiration_date"] = dt.date(2019, 1, 1)
    frame.loc[[5, 21, 27], "license_class_code"] = "Z"
    frame.loc[8, "npn"] = "0123"
    return frame


def test_parts_add_up_to_the_whole_frame():
    frame = _licenses(90)
    suite = licenses_suite(STATES, CLASSES, previous_row_count=90)
    whole = run_suite(frame, suite)
    parts = run_suite_in_parts(
        (frame.iloc[start : start + 25] for start in range(0, 90, 25)),
        suite,
        table_row_count=90,
        duplicates=KeyDuplicates(rows=0),
    )
    assert parts.row_count == 90
    assert parts.failed_checks == whole.failed_checks
    columns = ["check", "severity", "success", "unexpected_count", "unexpected_sample"]
    pd.testing.assert_frame_equal(parts.results[columns], whole.results[columns])
    assert list(parts.results["unexpected_percent"].round(6)) == list(
        whole.results["unexpected_percent"].round(6)
    )


def test_duplicates_and_row_count_come_from_the_caller():
    frame = _licenses(30)
    suite = licenses_suite(STATES, CLASSES, previous_row_count=1_000)
    outcome = run_suite_in_parts(
        [frame],
        suite,
        table_row_count=1_100,
        duplicates=KeyDuplicates(rows=4, sample=((("1000", "TX", "L0", "1"), 2),)),
    )
    results = outcome.results.set_index("check")
    unique = results.loc["license_key_is_unique"]
    assert not unique["success"] and unique["unexpected_count"] == 4
    assert unique["unexpected_sample"] == "(1000, TX, L0, 1) (x2)"
    bound = results.loc["row_count_within_bounds"]
    assert bound["success"] and bound["observed_value"] == "1100"  # within 20% of 1,000
    assert "license_key_is_unique" in outcome.failed_errors


def test_no_rows_at_all_still_reports_every_rule():
    suite = licenses_suite(STATES, CLASSES)
    outcome = run_suite_in_parts(
        iter(()), suite, table_row_count=0, duplicates=KeyDuplicates(rows=0)
    )
    assert outcome.row_count == 0 and outcome.success
    assert len(outcome.results) == len(suite.expectations)
