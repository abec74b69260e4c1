"""Appointment eligibility's evidence (issue 19): every reason of SPEC 6 names the row that
decided it, as data beside the reason (`EVIDENCE_COLUMNS` of `assets/rules/evidence.py`).

The worlds are those of `test_appointment_eligibility.py` (`make_inputs()`: producer 1001,
resident in NY, non-resident licenses in CA, TX and VA, Harborstone appointing there), changed
only where a reason needs it.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from assets.appointments import eligibility as el
from assets.appointments.store import READ_COLUMNS
from assets.rules import evidence as ev
from schemas import statuses
from tests.unit.test_appointment_effective_dates import days_back, with_rules
from tests.unit.test_appointment_eligibility import (
    AS_OF,
    GRANITE,
    HARBORSTONE,
    LIFE,
    PROPERTY,
    evaluate,
    frame,
    licenses_with,
    make_inputs,
    only,
    request,
)

FAR = dt.date(2028, 1, 31)


def evidence_of(row: pd.Series) -> dict[str, object]:
    """The row's evidence, by field name (without the column prefix)."""
    return {name: row[ev.EVIDENCE_PREFIX + name] for name in ev.EVIDENCE_NAMES}


def line(result: pd.DataFrame, loa_code: str) -> dict[str, object]:
    rows = result[result["loa_code"] == loa_code]
    return evidence_of(only(rows))


def with_issue_dates(inputs: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Issue dates on every license and line (the optional evidence-only columns)."""
    inputs["licenses"] = inputs["licenses"].assign(issue_date=dt.date(2020, 3, 1))
    inputs["license_loas"] = inputs["license_loas"].assign(issue_date=dt.date(2020, 4, 1))
    return inputs


def assert_only_producer_evidence(evidence: dict[str, object]) -> None:
    producer = {"decided_by", "producer_sync_status", "producer_is_active", "engine_version"}
    assert {k: v for k, v in evidence.items() if k not in producer and v is not None} == {}


# --------------------------------------------------------------------------------------------
# The columns and the engine's version
# --------------------------------------------------------------------------------------------


def test_every_row_has_the_evidence_columns_after_the_result_columns():
    result = evaluate([request(), request(request_row=3, npn="999")])

    assert list(result.columns) == [*el.RESULT_COLUMNS, *ev.EVIDENCE_COLUMNS]
    assert result[ev.EVIDENCE_PREFIX + "decided_by"].notna().all()


def test_an_empty_request_frame_gives_every_evidence_column():
    empty = pd.DataFrame(columns=["request_row", "npn", "state_code", "cocode", "loa_category"])
    result = el.evaluate_appointment_requests(empty, make_inputs(), AS_OF)

    assert result.empty
    assert set(ev.EVIDENCE_COLUMNS) <= set(result.columns)


def test_the_engine_version_is_the_same_on_two_calls_and_names_the_engine():
    first = evaluate([request()])[ev.EVIDENCE_PREFIX + "engine_version"]
    second = evaluate([request(state_code="CA")])[ev.EVIDENCE_PREFIX + "engine_version"]

    assert set(first) == set(second) == {el.ENGINE_VERSION}
    assert el.ENGINE_VERSION.startswith("appointment rules ") and len(el.ENGINE_VERSION) > 20


# --------------------------------------------------------------------------------------------
# SPEC 6.1: the producer row
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("producers", "reason", "sync_status", "is_active"),
    [
        (frame("npn is_active sync_status", []), el.REASON_PRODUCER_NOT_FOUND, None, None),
        (
            frame("npn is_active sync_status", [("1001", True, "Not Found")]),
            el.REASON_PRODUCER_NOT_FOUND,
            "Not Found",
            True,
        ),
        (
            frame("npn is_active sync_status", [("1001", True, "Not Started")]),
            el.REASON_PRODUCER_NOT_SYNCED,
            "Not Started",
            True,
        ),
        (
            frame("npn is_active sync_status", [("1001", False, "Success")]),
            el.REASON_PRODUCER_INACTIVE,
            "Success",
            False,
        ),
    ],
)
def test_a_rejected_request_names_its_producer_row_only(producers, reason, sync_status, is_active):
    row = only(evaluate([request()], make_inputs(producers=producers)))
    evidence = evidence_of(row)

    assert (row["eligibility_reason"], row["status"]) == (reason, statuses.REQUEST_REJECTED)
    assert evidence["decided_by"] == ev.DECIDED_BY_PRODUCER
    assert (evidence["producer_sync_status"], evidence["producer_is_active"]) == (
        sync_status,
        is_active,
    )
    assert_only_producer_evidence(evidence)


# --------------------------------------------------------------------------------------------
# SPEC 6.3 checks 1-4: the company, its state setting, its categories and rules, assignments
# --------------------------------------------------------------------------------------------


def test_cocode_not_found_is_decided_by_the_company():
    evidence = evidence_of(only(evaluate([request(cocode="99999")])))

    assert evidence["decided_by"] == ev.DECIDED_BY_COMPANY
    assert evidence["company_in_state"] is False
    assert evidence["assignment_required"] is None
    assert (evidence["producer_sync_status"], evidence["producer_is_active"]) == ("Success", True)


def test_a_state_without_company_setting_is_decided_by_the_company_state_setting():
    row = only(evaluate([request(state_code="FL")]))
    evidence = evidence_of(row)

    assert row["eligibility_reason"] == el.company_not_in_state_reason(
        "Harborstone Life and Health Insurance Company", "FL"
    )
    assert evidence["decided_by"] == ev.DECIDED_BY_COMPANY_STATE
    assert (evidence["company_in_state"], evidence["company_is_jit"]) == (False, None)
    assert evidence["assignment_required"] is False


def test_a_category_the_company_does_not_appoint_for_is_decided_by_its_categories():
    row = only(evaluate([request(loa_category=PROPERTY)]))
    evidence = evidence_of(row)

    assert row["eligibility_reason"] == el.REASON_COMPANY_LOAS
    assert evidence["decided_by"] == ev.DECIDED_BY_COMPANY_CATEGORY
    assert (evidence["company_in_state"], evidence["company_is_jit"]) == (True, False)
    assert evidence["rule_loa_category"] is None


def test_no_active_business_rule_line_in_the_state_is_decided_by_the_business_rules():
    row = only(evaluate([request(state_code="GA")]))
    evidence = evidence_of(row)

    assert row["eligibility_reason"] == el.REASON_COMPANY_LOAS
    assert evidence["decided_by"] == ev.DECIDED_BY_BUSINESS_RULE
    assert evidence["company_in_state"] is True
    assert evidence["rule_loa_category"] is None


def test_outside_assignment_names_the_required_assignment_that_is_missing():
    row = only(evaluate([request(state_code="TX", cocode=GRANITE, loa_category=PROPERTY)]))
    evidence = evidence_of(row)

    assert row["eligibility_reason"] == el.REASON_OUTSIDE_ASSIGNMENT
    assert evidence["decided_by"] == ev.DECIDED_BY_ASSIGNMENT
    assert (evidence["assignment_required"], evidence["assignment_found"]) == (True, False)
    # no license was considered; the rule that put the line in the request is named
    assert evidence["license_number"] is None and evidence["license_is_active"] is None
    assert (evidence["rule_license_class_code"], evidence["rule_loa_category"]) == ("3", PROPERTY)
    assert evidence["company_in_state"] is True


def test_an_assignment_that_covers_the_line_is_named_as_found():
    assignments = frame("npn loa_category state_code cocode", [("1001", PROPERTY, "TX", GRANITE)])
    row = only(
        evaluate(
            [request(state_code="TX", cocode=GRANITE, loa_category=PROPERTY)],
            make_inputs(producer_assignments=assignments),
        )
    )
    evidence = evidence_of(row)

    assert row["status"] == statuses.READY_TO_SUBMIT
    assert (evidence["assignment_required"], evidence["assignment_found"]) == (True, True)
    assert evidence["decided_by"] == ev.DECIDED_BY_ALL_CHECKS


# --------------------------------------------------------------------------------------------
# Checks 5-9: the license, the resident license, the line, the appointment
# --------------------------------------------------------------------------------------------


def test_no_license_in_the_state_is_decided_by_the_license_and_names_none():
    result = evaluate([request(npn="1002")])
    evidence = evidence_of(result.iloc[0])

    assert set(result["eligibility_reason"]) == {el.REASON_LICENSE_NOT_FOUND}
    assert evidence["decided_by"] == ev.DECIDED_BY_LICENSE
    assert evidence["license_number"] is None and evidence["loa_code"] is None
    assert evidence["rule_loa_category"] == LIFE
    assert evidence["rule_license_class_code"] is None  # NY's rules take any class
    assert (evidence["company_in_state"], evidence["assignment_found"]) == (True, False)


@pytest.mark.parametrize(
    ("changes", "inactive", "expired"),
    [({"is_active": False}, True, False), ({"expiration_date": dt.date(2026, 1, 1)}, False, True)],
)
def test_license_not_active_names_the_inactive_or_expired_license(changes, inactive, expired):
    inputs = with_issue_dates(make_inputs(licenses=licenses_with(**changes)))
    evidence = line(evaluate([request(state_code="CA")], inputs), "16")

    assert evidence["decided_by"] == ev.DECIDED_BY_LICENSE
    assert (evidence["license_number"], evidence["license_class_code"]) == ("CA-1", "3")
    assert evidence["license_is_active"] is (not inactive)
    assert (evidence["license_expiration_date"] < AS_OF) is expired
    assert evidence["license_issue_date"] == dt.date(2020, 3, 1)
    assert evidence["license_is_resident"] is False


def test_no_active_resident_license_names_none_and_the_nonresident_license():
    licenses = make_inputs()["licenses"]
    licenses = licenses[licenses["license_number"] != "NY-1"]
    evidence = line(evaluate([request(state_code="CA")], make_inputs(licenses=licenses)), "16")

    assert evidence["decided_by"] == ev.DECIDED_BY_RESIDENT_LICENSE
    assert evidence["resident_license_number"] is None
    assert evidence["resident_state_code"] is None
    assert (evidence["license_number"], evidence["license_is_resident"]) == ("CA-1", False)


def test_the_resident_license_used_is_named_on_a_passing_nonresident_line():
    evidence = line(evaluate([request(state_code="CA")]), "16")

    assert evidence["decided_by"] == ev.DECIDED_BY_ALL_CHECKS
    assert (evidence["resident_state_code"], evidence["resident_license_number"]) == ("NY", "NY-1")
    assert evidence["resident_expiration_date"] == FAR


def test_a_license_without_the_line_is_decided_by_the_line_and_names_no_line():
    inputs = make_inputs()
    loas = inputs["license_loas"]
    inputs["license_loas"] = loas[
        ~((loas["license_number"] == "CA-1") & (loas["loa_code"] == "296"))
    ]
    evidence = line(evaluate([request(state_code="CA")], inputs), "296")

    assert evidence["decided_by"] == ev.DECIDED_BY_LICENSE_LINE
    assert evidence["license_number"] == "CA-1"
    assert (evidence["loa_code"], evidence["loa_is_active"]) == (None, None)


def test_an_inactive_line_is_named_as_read():
    inputs = with_issue_dates(make_inputs())
    loas = inputs["license_loas"]
    loas.loc[(loas["license_number"] == "CA-1") & (loas["loa_code"] == "296"), "is_active"] = False
    evidence = line(evaluate([request(state_code="CA")], inputs), "296")

    assert evidence["decided_by"] == ev.DECIDED_BY_LICENSE_LINE
    assert (evidence["loa_code"], evidence["loa_is_active"]) == ("296", False)
    assert evidence["loa_issue_date"] == dt.date(2020, 4, 1)


def test_already_appointed_names_the_appointment_and_its_date():
    appointments = frame(
        "npn state_code cocode loa_code status effective_date",
        [("1001", "CA", HARBORSTONE, "16", "Appointed", dt.date(2024, 5, 2))],
    )
    result = evaluate([request(state_code="CA")], make_inputs(appointments=appointments))
    evidence = line(result, "16")

    assert evidence["decided_by"] == ev.DECIDED_BY_APPOINTMENT
    assert evidence["appointment_status"] == "Appointed"
    assert evidence["appointment_effective_date"] == dt.date(2024, 5, 2)
    assert evidence["appointment_source"] == ev.APPOINTMENT_FROM_NIPR
    # the other line has no appointment
    assert line(result, "296")["appointment_status"] is None


def test_an_appointment_nipr_accepted_since_the_sync_is_named_as_such():
    appointments = frame(
        "npn state_code cocode loa_code status effective_date accepted_transaction_id",
        [("1001", "CA", HARBORSTONE, "16", "Appointed", dt.date(2026, 6, 1), "t-9")],
    )
    evidence = line(
        evaluate([request(state_code="CA")], make_inputs(appointments=appointments)), "16"
    )

    assert evidence["decided_by"] == ev.DECIDED_BY_APPOINTMENT
    assert evidence["appointment_source"] == ev.APPOINTMENT_FROM_ACCEPTED


REGISTRY_NY = ("NY", None, None, None, "registry")


def test_a_line_recorded_in_a_registry_state_is_already_appointed_by_that_transaction():
    inputs = with_rules(REGISTRY_NY)
    inputs["transactions"] = frame(
        "transaction_id npn state_code cocode loa_code status effective_date",
        [("t-1", "1001", "NY", HARBORSTONE, "16", statuses.RECORDED, dt.date(2026, 2, 3))],
    )
    evidence = line(evaluate([request()], inputs), "16")

    assert evidence["decided_by"] == ev.DECIDED_BY_APPOINTMENT
    assert evidence["appointment_status"] == statuses.RECORDED
    assert evidence["appointment_source"] == ev.APPOINTMENT_FROM_REGISTRY
    assert evidence["appointment_effective_date"] == dt.date(2026, 2, 3)


# --------------------------------------------------------------------------------------------
# Check 10 and the outcome: the state's rule, the request, every check passed
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "effective_date", "decided_by"),
    [
        (("NY", False, None, None, None), days_back(1), ev.DECIDED_BY_STATE_RULE),
        (("NY", None, None, False, None), (AS_OF + dt.timedelta(days=5)).isoformat(), "state_rule"),
        (("NY", None, 30, None, None), days_back(90), ev.DECIDED_BY_STATE_RULE),
        (("NY", None, None, None, None), "not a date", ev.DECIDED_BY_REQUEST),
    ],
    ids=["not specifiable", "future", "backdated", "unreadable"],
)
def test_a_refused_effective_date_is_decided_by_the_state_rule_or_the_request(
    rule, effective_date, decided_by
):
    result = evaluate([request(effective_date=effective_date)], with_rules(rule))

    assert set(result["status"]) == {statuses.NOT_ELIGIBLE}
    assert set(result[ev.EVIDENCE_PREFIX + "decided_by"]) == {decided_by}
    # the license that passed checks 5-9 is still named
    assert set(result[ev.EVIDENCE_PREFIX + "license_number"]) == {"NY-1"}


def test_an_eligible_line_of_a_registry_state_is_recorded_by_the_state_rule():
    result = evaluate([request(submit=True)], with_rules(REGISTRY_NY))

    assert set(result["status"]) == {statuses.RECORDED}
    assert set(result[ev.EVIDENCE_PREFIX + "decided_by"]) == {ev.DECIDED_BY_STATE_RULE}


@pytest.mark.parametrize(
    ("values", "reason", "status", "is_jit"),
    [
        ({"submit": True}, el.REASON_IN_GOOD_ORDER, statuses.READY_TO_SUBMIT, False),
        ({}, el.REASON_IN_GOOD_STANDING, statuses.READY_TO_SUBMIT, False),
        ({"state_code": "TX"}, el.REASON_IN_GOOD_STANDING, statuses.HELD_JIT, True),
    ],
)
def test_an_eligible_line_is_decided_by_all_checks_and_names_the_rows_that_passed(
    values, reason, status, is_jit
):
    result = evaluate([request(**values)], with_issue_dates(make_inputs()))
    evidence = line(result, "16")
    row = only(result[result["loa_code"] == "16"])

    assert (row["eligibility_reason"], row["status"]) == (reason, status)
    assert evidence["decided_by"] == ev.DECIDED_BY_ALL_CHECKS
    assert evidence["license_is_active"] is True
    assert evidence["license_issue_date"] == dt.date(2020, 3, 1)
    assert (evidence["loa_code"], evidence["loa_is_active"]) == ("16", True)
    assert evidence["loa_issue_date"] == dt.date(2020, 4, 1)
    assert (evidence["company_in_state"], evidence["company_is_jit"]) == (True, is_jit)
    assert evidence["rule_loa_category"] == LIFE
    assert evidence["appointment_status"] is None


def test_the_state_rule_and_fee_rows_are_named_with_their_source():
    inputs = make_inputs()
    inputs["state_appointment_rules"] = pd.DataFrame(
        {
            "state_code": ["NY"],
            "effective_date_specifiable": [None],
            "max_backdate_days": [None],
            "allows_future_effective_date": [None],
            "source": ["DOMAIN 3.3"],
            "is_assumption": [True],
        }
    )
    inputs["state_fees"] = inputs["state_fees"].assign(source="fee schedule", is_assumption=False)
    evidence = line(evaluate([request()], inputs), "16")

    assert (evidence["state_rule_source"], evidence["state_rule_is_assumption"]) == (
        "DOMAIN 3.3",
        True,
    )
    assert (evidence["fee_resident"], evidence["fee_nonresident"]) == (10.0, 20.0)
    assert evidence["fee_per_loa"] is False
    assert (evidence["fee_source"], evidence["fee_is_assumption"]) == ("fee schedule", False)


def test_without_provenance_columns_the_state_fields_are_null_but_the_fee_is_named():
    evidence = line(evaluate([request()]), "16")

    assert evidence["state_rule_source"] is None and evidence["fee_source"] is None
    assert evidence["fee_resident"] == 10.0


def test_nipr_data_as_of_is_named_per_producer_and_state():
    licensing = pd.Timestamp("2026-06-10 04:00", tz="UTC")
    appointed = pd.Timestamp("2026-06-12 05:30", tz="UTC")
    inputs = make_inputs()
    inputs["nipr_scope_reports"] = pd.DataFrame(
        {
            "npn": ["1001", "1001", "1001", "1001"],
            "state_code": ["NY", "NY", "NY", "CA"],
            "category": ["LICENSING", "APPOINTMENTS", "LICENSING", "LICENSING"],
            "data_as_of": [licensing - pd.Timedelta(days=3), appointed, licensing, licensing],
        }
    )
    ny = line(evaluate([request()], inputs), "16")
    without = line(evaluate([request()]), "16")

    assert (ny["licensing_data_as_of"], ny["appointments_data_as_of"]) == (licensing, appointed)
    assert (without["licensing_data_as_of"], without["appointments_data_as_of"]) == (None, None)


def test_the_store_reads_the_evidence_only_columns():
    assert "issue_date" in READ_COLUMNS["licenses"]
    assert "issue_date" in READ_COLUMNS["license_loas"]
    assert "effective_date" in READ_COLUMNS["appointments"]
    assert "effective_date" in READ_COLUMNS["transactions"]
