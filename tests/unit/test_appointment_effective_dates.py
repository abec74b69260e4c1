"""Appointment eligibility check 10: the state's effective-date limits (issue 14, DOMAIN 3.4).

The world of `test_appointment_eligibility` (producer 1001, Harborstone in CA, NY, TX, VA),
with a `state_appointment_rules` frame of the CSV's columns: each test sets the limits its
rule needs, or reads the shipped config/reference/state_appointment_rules.csv.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from assets.appointments import eligibility as el
from assets.appointments.store import read_eligibility_inputs
from assets.rules.effective_dates import appointment_date_reasons
from schemas.statuses import NOT_ELIGIBLE, READY_TO_SUBMIT, REQUEST_REJECTED
from schemas.tables import metadata
from schemas.uploads import TEMPLATES
from tests.unit.test_appointment_eligibility import (
    AS_OF,
    CONFIG,
    HARBORSTONE,
    evaluate,
    frame,
    make_inputs,
    request,
    with_rows,
)

RULE_COLUMNS = (
    "state_code effective_date_specifiable max_backdate_days allows_future_effective_date "
    "appointment_filing"
)


def rules(*rows: tuple) -> pd.DataFrame:
    return frame(RULE_COLUMNS, list(rows))


def with_rules(*rows: tuple) -> dict[str, pd.DataFrame]:
    return make_inputs(state_appointment_rules=rules(*rows))


def outcome(result: pd.DataFrame) -> pd.Series:
    """The one reason and status every line of a single request got, and its total fee."""
    assert result["request_row"].nunique() == 1, result.to_string()
    assert result["eligibility_reason"].nunique() == 1, result.to_string()
    assert result["status"].nunique() == 1, result.to_string()
    first = result.iloc[0].copy()
    first["estimated_fee"] = result["estimated_fee"].sum()
    return first


def days_back(days: int) -> str:
    return (AS_OF - dt.timedelta(days=days)).isoformat()


def test_without_a_rules_table_any_readable_date_is_accepted():
    result = outcome(evaluate([request(effective_date=days_back(4000))]))
    assert result["status"] == READY_TO_SUBMIT
    assert result["eligibility_reason"] == el.REASON_IN_GOOD_STANDING
    assert result["effective_date"] == days_back(4000)


def test_an_unreadable_date_is_refused_even_without_rules():
    result = outcome(evaluate([request(effective_date="next tuesday")]))
    assert result["status"] == NOT_ELIGIBLE
    assert result["eligibility_reason"] == "Effective Date next tuesday Unreadable"
    assert result["estimated_fee"] == 0.0


def test_a_date_given_where_the_state_takes_none_is_refused():
    inputs = with_rules(("NY", False, None, None, "nipr"))
    result = outcome(evaluate([request(effective_date=AS_OF.isoformat())], inputs))
    assert result["status"] == NOT_ELIGIBLE
    assert result["eligibility_reason"] == "Effective Date Not Specifiable In NY"
    assert result["estimated_fee"] == 0.0


def test_a_blank_date_is_the_states_processing_date_and_always_accepted():
    inputs = with_rules(("NY", False, 0, False, "nipr"))
    for blank in (None, "", "  ", float("nan")):
        result = outcome(evaluate([request(effective_date=blank)], inputs))
        assert result["status"] == READY_TO_SUBMIT, blank
        assert result["estimated_fee"] == 10.0  # NY-1 is resident: one fee per appointment


def test_a_future_date_is_refused_only_where_the_state_says_so():
    inputs = with_rules(("VA", True, 30, False, "nipr"), ("NY", True, None, True, "nipr"))
    tomorrow = (AS_OF + dt.timedelta(days=1)).isoformat()
    va = outcome(evaluate([request(state_code="VA", effective_date=tomorrow)], inputs))
    assert va["eligibility_reason"] == "Future Effective Date Not Accepted In VA"
    assert va["status"] == NOT_ELIGIBLE
    ny = outcome(evaluate([request(effective_date=tomorrow)], inputs))
    assert ny["status"] == READY_TO_SUBMIT


@pytest.mark.parametrize(
    ("state", "limit", "back", "reason"),
    [
        ("VA", 30, 30, None),
        ("VA", 30, 31, "Effective Date More Than 30 Days Back Not Accepted In VA"),
        ("CA", 0, 0, None),
        ("CA", 0, 1, "Effective Date More Than 0 Days Back Not Accepted In CA"),
    ],
)
def test_a_date_further_back_than_the_states_limit_is_refused(state, limit, back, reason):
    inputs = with_rules((state, True, limit, None, "nipr"))
    result = outcome(evaluate([request(state_code=state, effective_date=days_back(back))], inputs))
    if reason is None:
        assert result["status"] == READY_TO_SUBMIT
    else:
        assert result["status"] == NOT_ELIGIBLE
        assert result["eligibility_reason"] == reason
        assert result["estimated_fee"] == 0.0


def test_blank_rules_and_states_without_a_row_mean_no_limit():
    inputs = with_rules(("NY", None, None, None, "nipr"), ("CA", "", "", "", "nipr"))
    old = days_back(4000)
    future = (AS_OF + dt.timedelta(days=400)).isoformat()
    for state in ("NY", "CA", "TX"):  # TX has no row
        for date in (old, future):
            result = outcome(evaluate([request(state_code=state, effective_date=date)], inputs))
            assert result["eligibility_reason"] == el.REASON_IN_GOOD_STANDING, (state, date)


def test_the_date_is_checked_after_already_appointed():
    inputs = with_rules(("NY", False, None, None, "nipr"))
    with_rows(inputs, "appointments", [("1001", "NY", HARBORSTONE, "16", "Appointed")])
    result = evaluate([request(effective_date=AS_OF.isoformat())], inputs)
    reasons = dict(zip(result["loa_code"], result["eligibility_reason"], strict=True))
    assert reasons == {
        "16": el.REASON_ALREADY_APPOINTED,
        "17": "Effective Date Not Specifiable In NY",
    }


def test_earlier_failing_checks_keep_their_reason():
    inputs = with_rules(("NY", False, None, None, "nipr"))
    inputs["producers"] = frame("npn is_active sync_status", [])
    rejected = outcome(evaluate([request(effective_date="garbage")], inputs))
    assert rejected["status"] == REQUEST_REJECTED
    assert rejected["eligibility_reason"] == el.REASON_PRODUCER_NOT_FOUND
    unlicensed = outcome(evaluate([request(npn="1001", state_code="GA", effective_date="x")]))
    assert unlicensed["eligibility_reason"] == el.REASON_COMPANY_LOAS


def test_each_row_is_judged_by_its_own_date_and_state():
    inputs = with_rules(("NY", False, None, None, "nipr"), ("VA", True, 30, False, "nipr"))
    rows = [
        request(request_row=2, effective_date=AS_OF.isoformat()),
        request(request_row=3, state_code="VA", effective_date=days_back(5)),
        request(request_row=4, state_code="VA", effective_date=days_back(45)),
        request(request_row=5),
    ]
    result = evaluate(rows, inputs).drop_duplicates("request_row")
    assert list(result["eligibility_reason"]) == [
        "Effective Date Not Specifiable In NY",
        el.REASON_IN_GOOD_STANDING,
        "Effective Date More Than 30 Days Back Not Accepted In VA",
        el.REASON_IN_GOOD_STANDING,
    ]


@pytest.mark.parametrize(
    ("state", "date", "reason"),
    [
        ("NY", AS_OF.isoformat(), "Effective Date Not Specifiable In NY"),
        ("TX", AS_OF.isoformat(), "Effective Date Not Specifiable In TX"),
        ("VA", days_back(31), "Effective Date More Than 30 Days Back Not Accepted In VA"),
        (
            "VA",
            (AS_OF + dt.timedelta(days=1)).isoformat(),
            "Future Effective Date Not Accepted In VA",
        ),
        ("VA", days_back(30), None),
        ("CA", days_back(1), "Effective Date More Than 0 Days Back Not Accepted In CA"),
        ("CA", (AS_OF + dt.timedelta(days=10)).isoformat(), None),
    ],
)
def test_the_shipped_state_rules(state, date, reason):
    shipped = pd.read_csv(CONFIG / "reference" / "state_appointment_rules.csv", dtype=str)
    inputs = make_inputs(state_appointment_rules=shipped)
    rows = evaluate([request(state_code=state, effective_date=date)], inputs)
    expected = reason or el.REASON_IN_GOOD_STANDING
    assert set(rows["eligibility_reason"]) == {expected}


def test_the_shared_check_reads_dates_and_rules_as_the_database_returns_them():
    table = rules(("fl", "true", "45", "false", "nipr"), ("NY", 0, None, None, "nipr"))
    reasons = appointment_date_reasons(
        pd.Series([dt.date(2026, 4, 30), pd.Timestamp("2026-06-16"), "2026-06-15", None]),
        pd.Series(["FL", "FL", " ny ", "NY"]),
        table,
        AS_OF,
    )
    assert list(reasons) == [
        "Effective Date More Than 45 Days Back Not Accepted In FL",
        "Future Effective Date Not Accepted In FL",
        "Effective Date Not Specifiable In NY",
        None,
    ]
    assert isinstance(reasons, np.ndarray)


def test_a_rules_table_without_the_date_columns_is_an_error():
    with pytest.raises(ValueError, match="max_backdate_days"):
        appointment_date_reasons(
            pd.Series(["2026-06-15"]), pd.Series(["NY"]), frame("state_code", [("NY",)]), AS_OF
        )


def test_the_appointment_step_reads_the_state_rules_from_the_database():
    engine = sa.create_engine("sqlite://")
    metadata.create_all(engine)
    shipped = pd.read_csv(CONFIG / "reference" / "state_appointment_rules.csv", dtype=str)
    va = shipped[shipped["state_code"] == "VA"]
    with engine.begin() as connection:
        va.to_sql("state_appointment_rules", connection, if_exists="append", index=False)
        read = read_eligibility_inputs(connection, ["1001"])
    inputs = make_inputs(state_appointment_rules=read["state_appointment_rules"])
    result = evaluate([request(state_code="VA", effective_date=days_back(31))], inputs)
    assert set(result["eligibility_reason"]) == {
        "Effective Date More Than 30 Days Back Not Accepted In VA"
    }


def test_the_appoint_templates_effective_date_help_says_what_the_shipped_rules_say():
    (column,) = [c for c in TEMPLATES["appoint"] if c.field == "effective_date"]
    shipped = pd.read_csv(CONFIG / "reference" / "state_appointment_rules.csv", dtype=str)
    help_text = str(column.help)
    not_specifiable = shipped[shipped["effective_date_specifiable"].eq("false")]["state_code"]
    no_future = shipped[shipped["allows_future_effective_date"].eq("false")]["state_code"]
    assert "leave blank in " + ", ".join(sorted(not_specifiable)) in help_text
    assert "no future date in " + " or ".join(sorted(no_future)) in help_text
    for state, days in shipped.dropna(subset=["max_backdate_days"])[
        ["state_code", "max_backdate_days"]
    ].itertuples(index=False):
        if days == "0":
            assert f"not before today in {state}" in help_text
        else:
            assert re.search(rf"{days} (days back )?in [A-Z ,and]*{state}", help_text), state
