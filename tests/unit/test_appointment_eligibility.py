"""Appointment eligibility (SPEC section 6): every reason and status a user can see.

Small hand-written worlds, no database. `make_inputs()` builds a world in which producer
1001 can be appointed by Harborstone (11111) in CA, NY, TX and VA; each test changes only
what its rule needs.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from assets.appointments import eligibility as el
from assets.appointments.eligibility import evaluate_appointment_requests

AS_OF = dt.date(2026, 6, 15)
LIFE = "Life"
AH = "Accident & Health"
PROPERTY = "Property"
HARBORSTONE = "11111"
HARBORSTONE_NAME = "Harborstone Life and Health Insurance Company"
GRANITE = "22222"  # requires producer assignments
PRAIRIE = "33333"
CONFIG = Path(__file__).resolve().parents[2] / "config"


def frame(columns: str, rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns.split())


def make_inputs(**overrides: pd.DataFrame) -> dict[str, pd.DataFrame]:
    far = dt.date(2028, 1, 31)
    inputs = {
        "producers": frame(
            "npn is_active sync_status",
            [("1001", True, "Success"), ("1002", True, "Success - No Licenses")],
        ),
        "licenses": frame(
            "npn state_code license_number license_class_code is_resident is_active "
            "expiration_date",
            [
                ("1001", "NY", "NY-1", "3", True, True, far),
                ("1001", "CA", "CA-1", "3", False, True, far),
                ("1001", "TX", "TX-1", "3", False, True, far),
                ("1001", "VA", "VA-1", "3", False, True, far),
            ],
        ),
        "license_loas": frame(
            "npn state_code license_number loa_code is_active",
            [
                ("1001", "NY", "NY-1", "16", True),
                ("1001", "NY", "NY-1", "17", True),
                ("1001", "CA", "CA-1", "16", True),
                ("1001", "CA", "CA-1", "296", True),
                ("1001", "CA", "CA-1", "935", True),
                ("1001", "TX", "TX-1", "16", True),
                ("1001", "TX", "TX-1", "12", True),
                ("1001", "VA", "VA-1", "42", True),
            ],
        ),
        "appointments": frame("npn state_code cocode loa_code status", []),
        "companies": frame(
            "cocode company_name producer_assignment_required",
            [
                (HARBORSTONE, HARBORSTONE_NAME, False),
                (GRANITE, "Granite Shield Property & Casualty Company", True),
                (PRAIRIE, "Prairie Commonwealth Mutual Insurance Company", False),
            ],
        ),
        "company_loa_categories": frame(
            "cocode loa_category",
            [(HARBORSTONE, LIFE), (HARBORSTONE, AH), (GRANITE, PROPERTY), (PRAIRIE, LIFE)],
        ),
        "company_state_settings": frame(
            "cocode state_code jit",
            [
                (HARBORSTONE, "CA", False),
                (HARBORSTONE, "NY", False),
                (HARBORSTONE, "TX", True),
                (HARBORSTONE, "VA", False),
                (HARBORSTONE, "GA", False),  # appoints there, but no business rules
                (GRANITE, "TX", False),
                (PRAIRIE, "NY", False),
            ],
        ),
        "gateway_business_rules": frame(
            "cocode state_code license_class_code loa_code loa_category active",
            [
                (HARBORSTONE, "CA", "3", "16", LIFE, True),
                (HARBORSTONE, "CA", "3", "296", LIFE, True),
                (HARBORSTONE, "CA", "3", "935", AH, True),
                (HARBORSTONE, "CA", "3", "6952", LIFE, False),  # inactive line
                (HARBORSTONE, "NY", "", "16", LIFE, True),  # any license class
                (HARBORSTONE, "NY", "", "17", LIFE, True),
                (HARBORSTONE, "TX", "3", "16", LIFE, True),
                (HARBORSTONE, "VA", "3", "42", LIFE, True),
                (GRANITE, "TX", "3", "12", PROPERTY, True),
                (PRAIRIE, "NY", None, "16", LIFE, True),
            ],
        ),
        "producer_assignments": frame("npn loa_category state_code cocode", []),
        "loa_categories": frame(
            "state_code loa_code loa_category",
            [
                ("CA", "16", LIFE),
                ("CA", "296", LIFE),
                ("CA", "935", AH),
                ("NY", "16", LIFE),
                ("NY", "17", LIFE),
                ("TX", "16", LIFE),
                ("TX", "12", PROPERTY),
                ("VA", "42", LIFE),  # VA "Life & Health" is in two categories
                ("VA", "42", AH),
            ],
        ),
        "state_fees": frame(
            "state_code transaction_kind resident_fee nonresident_fee per_loa",
            [
                ("NY", "appointment", 10.0, 20.0, False),
                ("CA", "appointment", 5.0, 7.0, True),
                ("TX", "appointment", 12.0, 15.0, False),
                ("VA", "appointment", 30.0, 30.0, False),
                ("VA", "termination", 99.0, 99.0, False),
            ],
        ),
        "lines_of_authority": frame(
            "state_code loa_code loa_name",
            [
                ("CA", "16", "Life"),
                ("CA", "296", "Life-Only Fraternal"),
                ("CA", "935", "Accident & Health or Sickness"),
                ("VA", "42", "Life & Health"),
            ],
        ),
        "transactions": frame("transaction_id npn state_code cocode loa_code status", []),
    }
    inputs.update(overrides)
    return inputs


def request(**values: object) -> dict[str, object]:
    row = {
        "request_row": 2,
        "npn": "1001",
        "state_code": "NY",
        "cocode": HARBORSTONE,
        "loa_category": LIFE,
        "agent_type": "Producer",
        "submit": False,
        "submit_just_in_time": False,
    }
    row.update(values)
    return row


def evaluate(rows: list[dict[str, object]], inputs=None, as_of=AS_OF) -> pd.DataFrame:
    return evaluate_appointment_requests(pd.DataFrame(rows), inputs or make_inputs(), as_of)


def only(result: pd.DataFrame) -> pd.Series:
    assert len(result) == 1, result.to_string()
    return result.iloc[0]


def with_rows(inputs: dict, name: str, rows: list[tuple]) -> dict:
    extra = pd.DataFrame(rows, columns=inputs[name].columns)
    inputs[name] = pd.concat([inputs[name], extra], ignore_index=True)
    return inputs


def licenses_with(**changes: object) -> pd.DataFrame:
    """The default licenses, with the CA license changed."""
    licenses = make_inputs()["licenses"]
    is_ca = licenses["license_number"] == "CA-1"
    for column, value in changes.items():
        licenses.loc[is_ca, column] = value
    return licenses


# --------------------------------------------------------------------------------------------
# SPEC 6.1: producer checks reject the request, without a transaction
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("producers", "reason"),
    [
        (frame("npn is_active sync_status", []), el.REASON_PRODUCER_NOT_FOUND),
        (frame("npn is_active sync_status", [("1001", True, "Not Found")]), "Producer Not Found"),
        (
            frame("npn is_active sync_status", [("1001", True, "Not Started")]),
            "Producer Not Synced",
        ),
        (frame("npn is_active sync_status", [("1001", True, "NIPR Error")]), "Producer Not Synced"),
        (frame("npn is_active sync_status", [("1001", False, "Success")]), "Producer Inactive"),
    ],
)
def test_a_producer_check_failing_rejects_the_request_with_one_row(producers, reason):
    row = only(evaluate([request()], make_inputs(producers=producers)))

    assert row["eligibility_reason"] == reason
    assert row["status"] == "Request Rejected"
    assert row["loa_code"] is None and row["license_number"] is None
    assert row["batch_key"] is None and row["auto_submit"] is None
    assert row["estimated_fee"] == 0.0


def test_a_rejected_request_does_not_stop_the_others():
    result = evaluate([request(request_row=2, npn="999"), request(request_row=3)])

    assert result.groupby("request_row")["status"].agg(set).to_dict() == {
        2: {"Request Rejected"},
        3: {"Ready to Submit"},
    }


# --------------------------------------------------------------------------------------------
# SPEC 6.3 checks 1-3: the company; one Not Eligible row for the request
# --------------------------------------------------------------------------------------------


def test_unknown_cocode_is_not_eligible():
    row = only(evaluate([request(cocode="99999")]))

    assert (row["eligibility_reason"], row["status"]) == ("CoCode Not Found", "Not Eligible")
    assert row["loa_code"] is None
    assert row["estimated_fee"] == 0.0
    assert row["batch_key"] == "appointment/99999/review"


def test_a_state_without_company_setting_names_the_company_and_the_state():
    row = only(evaluate([request(state_code="WA")]))

    assert row["eligibility_reason"] == (
        "Harborstone Life and Health Insurance Company does not appoint in the requested State: WA"
    )
    assert row["status"] == "Not Eligible"


def test_a_category_the_company_does_not_appoint_for_is_not_eligible():
    row = only(evaluate([request(state_code="TX", loa_category=PROPERTY)]))

    assert row["eligibility_reason"] == "Company Does Not Appoint for requested loas"
    assert row["status"] == "Not Eligible" and row["loa_code"] is None


def test_no_active_business_rule_line_in_the_state_is_not_eligible():
    # Harborstone appoints in GA and for Life, but its business rules have no line there.
    row = only(evaluate([request(state_code="GA")]))

    assert row["eligibility_reason"] == el.REASON_COMPANY_LOAS
    assert row["status"] == "Not Eligible" and row["loa_code"] is None


def test_inactive_business_rules_make_no_transaction():
    result = evaluate([request(state_code="CA")])

    assert "6952" not in set(result["loa_code"])


# --------------------------------------------------------------------------------------------
# Check 4: producer assignments
# --------------------------------------------------------------------------------------------


def granite_request() -> dict[str, object]:
    return request(state_code="TX", cocode=GRANITE, loa_category=PROPERTY)


def test_outside_producer_assignment_when_the_company_requires_one():
    row = only(evaluate([granite_request()]))

    assert row["eligibility_reason"] == "Outside Producer Assignment"
    assert (row["status"], row["loa_code"]) == ("Not Eligible", "12")


def test_a_license_scorecard_assignment_without_cocode_does_not_cover_a_company():
    assignments = frame("npn loa_category state_code cocode", [("1001", PROPERTY, "TX", "")])
    row = only(evaluate([granite_request()], make_inputs(producer_assignments=assignments)))

    assert row["eligibility_reason"] == el.REASON_OUTSIDE_ASSIGNMENT


def test_an_assignment_for_another_state_does_not_cover():
    assignments = frame("npn loa_category state_code cocode", [("1001", PROPERTY, "CA", GRANITE)])
    row = only(evaluate([granite_request()], make_inputs(producer_assignments=assignments)))

    assert row["eligibility_reason"] == el.REASON_OUTSIDE_ASSIGNMENT


def test_an_assignment_for_the_company_makes_the_line_eligible():
    assignments = frame("npn loa_category state_code cocode", [("1001", PROPERTY, "TX", GRANITE)])
    row = only(evaluate([granite_request()], make_inputs(producer_assignments=assignments)))

    assert (row["eligibility_reason"], row["status"]) == ("In Good Standing", "Ready to Submit")
    assert row["license_number"] == "TX-1"


# --------------------------------------------------------------------------------------------
# Checks 5-9: the license
# --------------------------------------------------------------------------------------------


def test_no_license_in_the_state_is_required_license_not_found_per_line():
    result = evaluate([request(npn="1002", state_code="CA")])

    assert list(result["loa_code"]) == ["16", "296"]
    assert set(result["eligibility_reason"]) == {"Required License Not Found"}
    assert set(result["status"]) == {"Not Eligible"}
    assert result["license_number"].isna().all()


def test_a_license_of_another_class_than_the_rule_names_is_not_found():
    result = evaluate(
        [request(state_code="CA")], make_inputs(licenses=licenses_with(license_class_code="465"))
    )

    assert set(result["eligibility_reason"]) == {el.REASON_LICENSE_NOT_FOUND}


def test_a_license_without_the_line_is_required_license_not_found_for_that_line_only():
    loas = make_inputs()["license_loas"]
    loas = loas[~((loas["state_code"] == "CA") & (loas["loa_code"] == "296"))]
    result = evaluate([request(state_code="CA")], make_inputs(license_loas=loas))

    by_line = result.set_index("loa_code")
    assert by_line.loc["16", "status"] == "Ready to Submit"
    assert by_line.loc["296", "eligibility_reason"] == "Required License Not Found"
    assert by_line.loc["296", "status"] == "Not Eligible"
    assert by_line.loc["296", "license_number"] == "CA-1"


def test_an_inactive_loa_on_the_license_is_required_license_not_found():
    loas = make_inputs()["license_loas"]
    loas.loc[(loas["state_code"] == "CA") & (loas["loa_code"] == "296"), "is_active"] = False
    result = evaluate([request(state_code="CA")], make_inputs(license_loas=loas))

    assert (
        result.set_index("loa_code").loc["296", "eligibility_reason"] == el.REASON_LICENSE_NOT_FOUND
    )


@pytest.mark.parametrize(
    "changes",
    [{"is_active": False}, {"expiration_date": AS_OF - dt.timedelta(days=1)}],
    ids=["inactive", "expired-yesterday"],
)
def test_an_inactive_or_expired_license_is_required_license_not_active(changes):
    result = evaluate([request(state_code="CA")], make_inputs(licenses=licenses_with(**changes)))

    assert set(result["eligibility_reason"]) == {"Required License Not Active"}
    assert set(result["status"]) == {"Not Eligible"}
    assert set(result["license_number"]) == {"CA-1"}


def test_a_license_expiring_on_the_as_of_date_is_still_active():
    result = evaluate(
        [request(state_code="CA")], make_inputs(licenses=licenses_with(expiration_date=AS_OF))
    )

    assert set(result["status"]) == {"Ready to Submit"}


def test_a_license_without_expiration_date_is_not_expired():
    result = evaluate(
        [request(state_code="CA")], make_inputs(licenses=licenses_with(expiration_date=None))
    )

    assert set(result["status"]) == {"Ready to Submit"}


def test_a_lapsed_resident_license_makes_a_nonresident_license_not_eligible():
    licenses = make_inputs()["licenses"]
    licenses.loc[licenses["license_number"] == "NY-1", "expiration_date"] = dt.date(2026, 1, 1)
    result = evaluate([request(state_code="CA")], make_inputs(licenses=licenses))

    assert set(result["eligibility_reason"]) == {"No Active Resident License"}
    assert set(result["status"]) == {"Not Eligible"}


def test_no_resident_license_at_all_makes_a_nonresident_license_not_eligible():
    licenses = make_inputs()["licenses"]
    licenses = licenses[licenses["license_number"] != "NY-1"]
    result = evaluate([request(state_code="CA")], make_inputs(licenses=licenses))

    assert set(result["eligibility_reason"]) == {el.REASON_NO_ACTIVE_RESIDENT_LICENSE}


def test_already_appointed_for_the_line_with_the_company():
    appointments = frame(
        "npn state_code cocode loa_code status", [("1001", "CA", HARBORSTONE, "16", "Appointed")]
    )
    result = evaluate([request(state_code="CA")], make_inputs(appointments=appointments))

    by_line = result.set_index("loa_code")
    assert by_line.loc["16", "eligibility_reason"] == "Already Appointed"
    assert by_line.loc["16", "status"] == "Not Eligible"
    assert by_line.loc["296", "status"] == "Ready to Submit"


def test_a_terminated_appointment_or_another_company_does_not_block():
    appointments = frame(
        "npn state_code cocode loa_code status",
        [
            ("1001", "CA", HARBORSTONE, "16", "Terminated"),
            ("1001", "CA", "44444", "296", "Appointed"),
        ],
    )
    result = evaluate([request(state_code="CA")], make_inputs(appointments=appointments))

    assert set(result["status"]) == {"Ready to Submit"}


# --------------------------------------------------------------------------------------------
# SPEC 6.4: eligible transactions, JIT and the submit flags
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "submit", "just_in_time", "reason", "status", "auto"),
    [
        # NY is not JIT for Harborstone: Submit decides
        ("NY", True, False, "In Good Order", "Ready to Submit", True),
        ("NY", True, True, "In Good Order", "Ready to Submit", True),
        ("NY", False, False, "In Good Standing", "Ready to Submit", False),
        ("NY", False, True, "In Good Standing", "Ready to Submit", False),
        # TX is JIT: Submit Just In Time decides, whatever Submit says
        ("TX", False, True, "In Good Order", "Ready to Submit", True),
        ("TX", True, True, "In Good Order", "Ready to Submit", True),
        ("TX", True, False, "In Good Standing", "Held (JIT)", False),
        ("TX", False, False, "In Good Standing", "Held (JIT)", False),
    ],
)
def test_submit_flags_on_jit_and_non_jit_states(state, submit, just_in_time, reason, status, auto):
    result = evaluate([request(state_code=state, submit=submit, submit_just_in_time=just_in_time)])

    row = result.iloc[0]
    assert (row["eligibility_reason"], row["status"], row["auto_submit"]) == (reason, status, auto)
    assert row["is_jit"] is (state == "TX")
    assert row["batch_key"] == f"appointment/{HARBORSTONE}/{'auto' if auto else 'review'}"


def test_the_submit_flags_also_place_not_eligible_rows_in_their_batch():
    row = only(
        evaluate([request(state_code="TX", npn="1002", submit=True, submit_just_in_time=False)])
    )

    assert row["status"] == "Not Eligible"
    assert row["is_jit"] is True and row["auto_submit"] is False
    assert row["batch_key"] == f"appointment/{HARBORSTONE}/review"


def test_california_life_makes_one_transaction_per_active_line_of_the_shipped_rules():
    rules = pd.read_csv(CONFIG / "gateway_business_rules.csv", dtype=str)
    categories = pd.read_csv(CONFIG / "reference" / "loa_categories.csv", dtype=str)
    ca_life_lines = set(
        rules.loc[
            (rules["cocode"] == "91234")
            & (rules["state_code"] == "CA")
            & (rules["loa_category"] == LIFE),
            "loa_code",
        ]
    )
    inputs = make_inputs(
        gateway_business_rules=rules,
        loa_categories=categories,
        companies=frame(
            "cocode company_name producer_assignment_required",
            [("91234", HARBORSTONE_NAME, "false")],
        ),
        company_loa_categories=frame("cocode loa_category", [("91234", LIFE)]),
        company_state_settings=frame("cocode state_code jit", [("91234", "CA", "true")]),
    )
    result = evaluate([request(state_code="CA", cocode="91234", submit_just_in_time=True)], inputs)

    assert ca_life_lines == {"16", "296"}
    assert list(result["loa_code"]) == ["16", "296"]
    assert set(result["eligibility_reason"]) == {"In Good Order"}
    assert set(result["license_number"]) == {"CA-1"}


# --------------------------------------------------------------------------------------------
# Several licenses in the state
# --------------------------------------------------------------------------------------------


def two_ca_licenses(second_active: bool = True) -> dict[str, pd.DataFrame]:
    inputs = make_inputs()
    far = dt.date(2028, 1, 31)
    with_rows(inputs, "licenses", [("1001", "CA", "CA-0", "3", False, second_active, far)])
    with_rows(inputs, "license_loas", [("1001", "CA", "CA-0", "16", True)])
    return inputs


def test_two_eligible_licenses_make_two_transactions_for_a_producer():
    result = evaluate([request(state_code="CA")], two_ca_licenses())

    line_16 = result[result["loa_code"] == "16"]
    assert list(line_16["license_number"]) == ["CA-0", "CA-1"]
    assert set(line_16["status"]) == {"Ready to Submit"}


def test_two_eligible_licenses_make_one_transaction_for_an_agency():
    result = evaluate([request(state_code="CA", agent_type="Agency")], two_ca_licenses())

    line_16 = result[result["loa_code"] == "16"]
    assert list(line_16["license_number"]) == ["CA-0"]
    assert line_16.iloc[0]["agent_type"] == "Agency"


def test_a_blank_agent_type_is_a_producer():
    result = evaluate([request(state_code="CA", agent_type="")], two_ca_licenses())

    assert (result["loa_code"] == "16").sum() == 2
    assert set(result["agent_type"]) == {"Producer"}


def test_only_the_eligible_license_makes_a_transaction():
    result = evaluate([request(state_code="CA")], two_ca_licenses(second_active=False))

    line_16 = result[result["loa_code"] == "16"]
    assert list(line_16["license_number"]) == ["CA-1"]
    assert list(line_16["status"]) == ["Ready to Submit"]


def test_when_no_license_passes_the_one_that_got_furthest_gives_the_reason():
    # CA-0 is inactive (check 6); CA-1 lacks line 16 (check 8): CA-1 got further.
    inputs = two_ca_licenses(second_active=False)
    loas = inputs["license_loas"]
    inputs["license_loas"] = loas[
        ~((loas["license_number"] == "CA-1") & (loas["loa_code"] == "16"))
    ]
    result = evaluate([request(state_code="CA")], inputs)

    row = only(result[result["loa_code"] == "16"])
    assert (row["eligibility_reason"], row["license_number"]) == (
        el.REASON_LICENSE_NOT_FOUND,
        "CA-1",
    )


# --------------------------------------------------------------------------------------------
# SPEC 6.5: batches
# --------------------------------------------------------------------------------------------


def test_two_cocodes_make_two_batch_keys():
    result = evaluate([request(request_row=2), request(request_row=3, cocode=PRAIRIE)])

    assert set(result["batch_key"]) == {"appointment/11111/review", "appointment/33333/review"}


def test_mixed_submit_flags_split_one_company_into_auto_and_review_batches():
    result = evaluate(
        [request(request_row=2, submit=True), request(request_row=3, state_code="CA")]
    )

    assert result.groupby("request_row")["batch_key"].agg(set).to_dict() == {
        2: {"appointment/11111/auto"},
        3: {"appointment/11111/review"},
    }


# --------------------------------------------------------------------------------------------
# SPEC 6.6: repeats
# --------------------------------------------------------------------------------------------


def open_transactions(status: str) -> pd.DataFrame:
    return frame(
        "transaction_id npn state_code cocode loa_code status",
        [("t-1", "1001", "CA", HARBORSTONE, "16", status)],
    )


@pytest.mark.parametrize("status", el.OPEN_STATUSES)
def test_a_repeat_of_an_open_transaction_is_not_created_and_is_reported(status):
    result = evaluate(
        [request(state_code="CA")], make_inputs(transactions=open_transactions(status))
    )

    assert list(result["loa_code"]) == ["296"]
    repeats = result.attrs["repeats"]
    assert list(repeats["loa_code"]) == ["16"]
    assert list(repeats["repeats_transaction_id"]) == ["t-1"]
    assert list(repeats["reason"]) == [el.REPEAT_OF_OPEN_TRANSACTION]


@pytest.mark.parametrize("status", el.FINAL_STATUSES)
def test_a_transaction_in_a_final_status_does_not_block(status):
    result = evaluate(
        [request(state_code="CA")], make_inputs(transactions=open_transactions(status))
    )

    assert list(result["loa_code"]) == ["16", "296"]
    assert result.attrs["repeats"].empty


def test_a_not_eligible_row_is_kept_even_when_an_open_transaction_exists():
    inputs = make_inputs(
        transactions=open_transactions("Submitted"), licenses=licenses_with(is_active=False)
    )
    result = evaluate([request(state_code="CA")], inputs)

    assert list(result["loa_code"]) == ["16", "296"]
    assert set(result["status"]) == {"Not Eligible"}


def test_a_line_in_two_categories_is_reached_by_both_and_created_once():
    result = evaluate(
        [
            request(request_row=2, state_code="VA"),
            request(request_row=3, state_code="VA", loa_category=AH),
        ]
    )

    row = only(result)
    assert (row["request_row"], row["loa_code"], row["loa_category"]) == (2, "42", LIFE)
    repeat = only(result.attrs["repeats"])
    assert (repeat["request_row"], repeat["loa_category"]) == (3, AH)
    assert repeat["repeats_request_row"] == 2 and repeat["repeats_transaction_id"] is None
    assert repeat["reason"] == el.REPEAT_IN_REQUESTS


def test_a_line_mapped_to_a_category_only_by_loa_categories_belongs_to_it():
    row = only(evaluate([request(state_code="VA", loa_category=AH)]))

    assert (row["loa_code"], row["status"]) == ("42", "Ready to Submit")


# --------------------------------------------------------------------------------------------
# A line of authority instead of a category
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["life", "16", "LIFE "])
def test_a_line_of_authority_is_mapped_to_its_category(typed):
    result = evaluate([request(state_code="CA", loa_category=None, line_of_authority=typed)])

    assert list(result["loa_code"]) == ["16", "296"]
    assert set(result["loa_category"]) == {LIFE}


@pytest.mark.parametrize("typed", ["Underwater Basket Weaving", "Life & Health", None])
def test_an_unmapped_or_ambiguous_line_of_authority_is_not_eligible(typed):
    # VA "Life & Health" is in Life and in Accident & Health: the request does not say which.
    row = only(evaluate([request(state_code="VA", loa_category="", line_of_authority=typed)]))

    assert (row["eligibility_reason"], row["status"]) == (el.REASON_COMPANY_LOAS, "Not Eligible")
    assert row["estimated_fee"] == 0.0


# --------------------------------------------------------------------------------------------
# SPEC 6.7: fees
# --------------------------------------------------------------------------------------------


def test_fees_per_loa_nonresident_are_paid_by_every_transaction():
    result = evaluate([request(state_code="CA")])

    assert list(result["estimated_fee"]) == [7.0, 7.0]
    assert list(result["is_resident"]) == [False, False]


def test_a_per_appointment_fee_is_carried_by_the_first_line_of_the_appointment():
    result = evaluate([request(state_code="NY")])

    assert list(result["loa_code"]) == ["16", "17"]
    assert list(result["estimated_fee"]) == [10.0, 0.0]  # NY-1 is the resident license


def test_a_held_jit_transaction_carries_the_fee_it_will_cost():
    row = only(evaluate([request(state_code="TX")]))

    assert (row["status"], row["estimated_fee"]) == ("Held (JIT)", 15.0)


def test_not_eligible_and_missing_fee_rows_cost_nothing():
    not_eligible = evaluate(
        [request(state_code="CA")], make_inputs(licenses=licenses_with(is_active=False))
    )
    no_fee_row = evaluate(
        [request(state_code="CA")], make_inputs(state_fees=make_inputs()["state_fees"].iloc[:0])
    )

    assert list(not_eligible["estimated_fee"]) == [0.0, 0.0]
    assert list(no_fee_row["estimated_fee"]) == [0.0, 0.0]
    assert set(no_fee_row["status"]) == {"Ready to Submit"}


# --------------------------------------------------------------------------------------------
# Inputs as they come, and the shape of the result
# --------------------------------------------------------------------------------------------


def test_as_of_defaults_to_today():
    today = dt.date.today()
    expiring_today = evaluate(
        [request(state_code="CA")],
        make_inputs(licenses=licenses_with(expiration_date=today)),
        as_of=None,
    )
    expired = evaluate(
        [request(state_code="CA")],
        make_inputs(licenses=licenses_with(expiration_date=today - dt.timedelta(days=1))),
        as_of=None,
    )

    assert set(expiring_today["status"]) == {"Ready to Submit"}
    assert set(expired["eligibility_reason"]) == {el.REASON_LICENSE_NOT_ACTIVE}


def as_read_from_a_database(inputs: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Booleans as objects (some as text), dates as ISO strings or datetime.date, extra columns."""
    out = {}
    for name, original in inputs.items():
        table = original.copy()
        for column in table.columns:
            values = table[column]
            if values.dtype == bool or column in {
                "is_active",
                "is_resident",
                "jit",
                "active",
                "per_loa",
            }:
                table[column] = values.map(
                    lambda v: None if v is None else ("true" if v else "false")
                ).astype(object)
        table["nipr_updated_at"] = pd.Timestamp("2026-06-01 12:00")
        out[name] = table
    licenses = out["licenses"]
    licenses["expiration_date"] = [
        str(d) if i % 2 else d for i, d in enumerate(licenses["expiration_date"])
    ]
    licenses["is_active"] = licenses["is_active"].map({"true": True, "false": False}).astype(object)
    return out


def test_dtypes_as_read_from_a_database_give_the_same_result():
    rows = [
        request(request_row=2, state_code="CA"),
        request(request_row=3, state_code="TX", submit="true"),
        request(request_row=4, state_code="NY", submit_just_in_time=None),
    ]
    inputs = make_inputs(licenses=licenses_with(expiration_date=AS_OF - dt.timedelta(days=1)))

    typed = evaluate(rows, inputs)
    as_read = evaluate(rows, as_read_from_a_database(inputs))

    pd.testing.assert_frame_equal(typed, as_read)
    assert set(typed.loc[typed["request_row"] == 2, "eligibility_reason"]) == {
        el.REASON_LICENSE_NOT_ACTIVE
    }


def test_datetime64_dates_and_iso_as_of():
    licenses = licenses_with(expiration_date=AS_OF)
    licenses["expiration_date"] = pd.to_datetime(licenses["expiration_date"])
    result = evaluate_appointment_requests(
        pd.DataFrame([request(state_code="CA")]), make_inputs(licenses=licenses), "2026-06-16"
    )

    assert set(result["eligibility_reason"]) == {el.REASON_LICENSE_NOT_ACTIVE}


def test_the_result_has_plain_dtypes_and_the_effective_date_passes_through():
    rows = [
        request(state_code="CA", effective_date=dt.date(2026, 7, 1)),
        request(request_row=3, npn="999"),
    ]
    result = evaluate(rows)

    assert list(result.columns) == [*el.RESULT_COLUMNS, *el.EVIDENCE_COLUMNS]
    assert result["request_row"].dtype == np.int64
    assert result["estimated_fee"].dtype == np.float64
    for column in (
        "npn",
        "loa_code",
        "status",
        "batch_key",
        "is_jit",
        "auto_submit",
        "is_resident",
    ):
        assert result[column].dtype == object, column
    # as given: the rejected request's row had no effective date
    assert list(result["effective_date"].iloc[:2]) == [dt.date(2026, 7, 1)] * 2
    assert pd.isna(result["effective_date"].iloc[2])


def test_no_requests_give_an_empty_result_with_the_columns():
    empty = pd.DataFrame(columns=["request_row", "npn", "state_code", "cocode", "loa_category",
                                  "agent_type", "submit", "submit_just_in_time"])  # fmt: skip
    result = evaluate_appointment_requests(empty, make_inputs(), AS_OF)

    assert result.empty
    assert list(result.columns) == [*el.RESULT_COLUMNS, *el.EVIDENCE_COLUMNS]
    assert list(result.attrs["repeats"].columns) == list(el.REPEAT_COLUMNS)


def test_an_unknown_flag_is_not_true():
    producers = frame("npn is_active sync_status", [("1001", None, "Success")])
    unknown_active = only(evaluate([request()], make_inputs(producers=producers)))
    unknown_residency = evaluate(
        [request(state_code="NY")], make_inputs(licenses=_ny_residency_unknown())
    )

    assert unknown_active["eligibility_reason"] == el.REASON_PRODUCER_INACTIVE
    # NY-1 was the only resident license: now nothing vouches for it
    assert set(unknown_residency["eligibility_reason"]) == {el.REASON_NO_ACTIVE_RESIDENT_LICENSE}


def _ny_residency_unknown() -> pd.DataFrame:
    licenses = make_inputs()["licenses"].astype({"is_resident": object})
    licenses.loc[licenses["license_number"] == "NY-1", "is_resident"] = None
    return licenses


def test_duplicated_configuration_rows_do_not_duplicate_transactions():
    inputs = make_inputs()
    for name in (
        "companies",
        "company_loa_categories",
        "company_state_settings",
        "gateway_business_rules",
        "loa_categories",
        "state_fees",
    ):
        inputs[name] = pd.concat([inputs[name], inputs[name]], ignore_index=True)
    result = evaluate([request(state_code="CA"), request(request_row=3, state_code="NY")], inputs)

    assert list(result["loa_code"]) == ["16", "296", "16", "17"]
    assert list(result["estimated_fee"]) == [7.0, 7.0, 10.0, 0.0]


def test_the_engine_speaks_the_status_vocabulary_of_the_database():
    from schemas import statuses

    assert frozenset(el.OPEN_STATUSES) == statuses.OPEN_TRANSACTION_STATUSES
    assert frozenset(el.FINAL_STATUSES) == statuses.FINAL_TRANSACTION_STATUSES


def test_the_engine_does_not_import_dagster():
    import subprocess
    import sys

    code = "import sys, assets.appointments.eligibility; print('dagster' in sys.modules)"
    answer = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert answer.stdout.strip() == "False"


def test_optional_frames_may_be_left_out():
    inputs = make_inputs()
    del inputs["transactions"], inputs["lines_of_authority"]

    assert len(evaluate([request(state_code="CA")], inputs)) == 2


def test_shuffling_the_input_rows_does_not_change_the_result():
    rows = [
        request(request_row=2, state_code="CA"),
        request(request_row=2, state_code="VA"),
        request(request_row=3, state_code="VA", loa_category=AH),
        request(request_row=4, npn="999"),
        request(request_row=5, state_code="TX", cocode=GRANITE, loa_category=PROPERTY),
        request(request_row=6, state_code="NY", submit=True),
        request(request_row=7, state_code="CA", agent_type="Agency"),
    ]
    inputs = two_ca_licenses()
    with_rows(inputs, "transactions", [("t-9", "1001", "NY", HARBORSTONE, "17", "Submitted")])
    expected = evaluate(rows, inputs)

    rng = np.random.default_rng(5)
    for _ in range(5):
        shuffled_inputs = {
            name: table.sample(frac=1, random_state=rng) for name, table in inputs.items()
        }
        shuffled_rows = [rows[i] for i in rng.permutation(len(rows))]
        result = evaluate(shuffled_rows, shuffled_inputs)
        pd.testing.assert_frame_equal(result, expected)
        pd.testing.assert_frame_equal(result.attrs["repeats"], expected.attrs["repeats"])


# --------------------------------------------------------------------------------------------
# One license number, several classes (issue 14, ADR 0023): check 8 reads the rule's class
# --------------------------------------------------------------------------------------------


def two_class_va_inputs(rule_class: str | None) -> dict[str, pd.DataFrame]:
    """VA license 123 of producer 1001 under class 1 (line 42 inactive) and class 2 (line 42
    active), as NIPR files it; the company's VA rule names `rule_class` (None: any class)."""
    inputs = make_inputs()
    far = dt.date(2028, 1, 31)
    licenses = inputs["licenses"]
    inputs["licenses"] = pd.concat(
        [
            licenses[licenses["state_code"] != "VA"],
            pd.DataFrame(
                [
                    ("1001", "VA", "123", "1", False, True, far),
                    ("1001", "VA", "123", "2", False, True, far),
                ],
                columns=licenses.columns,
            ),
        ],
        ignore_index=True,
    )
    loas = inputs["license_loas"]
    loas = loas[loas["state_code"] != "VA"].assign(license_class_code="3")
    inputs["license_loas"] = pd.concat(
        [
            loas,
            pd.DataFrame(
                [("1001", "VA", "123", "42", False, "1"), ("1001", "VA", "123", "42", True, "2")],
                columns=["npn", "state_code", "license_number", "loa_code", "is_active"]
                + ["license_class_code"],
            ),
        ],
        ignore_index=True,
    )
    rules = inputs["gateway_business_rules"]
    rules.loc[rules["state_code"] == "VA", "license_class_code"] = rule_class
    return inputs


def test_the_active_line_of_the_rules_class_makes_the_two_class_va_license_eligible():
    result = only(evaluate([request(state_code="VA")], two_class_va_inputs(rule_class="2")))

    assert result["status"] == "Ready to Submit"
    assert result["eligibility_reason"] == el.REASON_IN_GOOD_STANDING
    assert (result["license_number"], result["license_class_code"]) == ("123", "2")


def test_an_active_line_of_another_class_does_not_license_the_rules_class():
    result = only(evaluate([request(state_code="VA")], two_class_va_inputs(rule_class="1")))

    assert result["status"] == "Not Eligible"
    assert result["eligibility_reason"] == el.REASON_LICENSE_NOT_FOUND
    assert (result["license_number"], result["license_class_code"]) == ("123", "1")


def test_a_rule_of_any_class_takes_the_class_whose_line_is_active():
    result = only(evaluate([request(state_code="VA")], two_class_va_inputs(rule_class=None)))

    assert result["status"] == "Ready to Submit"
    assert result["license_class_code"] == "2"  # not class 1, whose line is inactive
