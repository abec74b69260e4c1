"""Termination eligibility (SPEC section 7): every reason, fee and repeat a user can see.

Small hand-written worlds, no database. `make_inputs()` builds a world in which producer 1001
holds Harborstone (11111) appointments in CA (lines 16 and 296) and NJ (16); each test changes
only what its rule needs.
"""

from __future__ import annotations

import pandas as pd
import pytest

from assets.terminations import eligibility as el
from assets.terminations.eligibility import evaluate_termination_requests

HARBORSTONE = "11111"
PRAIRIE = "33333"
VOLUNTARY = "VOLUNTARY_TERMINATION"
DEATH = "DEATH"
PRODUCTION = "INADEQUATE_PRODUCTION"


def frame(columns: str, rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns.split())


def make_inputs(**overrides: pd.DataFrame) -> dict[str, pd.DataFrame]:
    inputs = {
        "appointments": frame(
            "npn state_code cocode loa_code status",
            [
                ("1001", "CA", HARBORSTONE, "16", "Appointed"),
                ("1001", "CA", HARBORSTONE, "296", "Appointed"),
                ("1001", "NJ", HARBORSTONE, "16", "Appointed"),
                ("1001", "NJ", PRAIRIE, "16", "Appointed"),
                ("1001", "TX", HARBORSTONE, "16", "Terminated"),
            ],
        ),
        "state_termination_reasons": frame(
            "state_code reason_code is_default",
            [
                ("CA", VOLUNTARY, True),
                ("CA", DEATH, False),
                ("NJ", VOLUNTARY, True),
                ("NJ", PRODUCTION, False),
                ("TX", VOLUNTARY, True),
                ("MT", DEATH, False),  # no default
            ],
        ),
        "termination_reasons": frame(
            "reason_code description",
            [(VOLUNTARY, "Voluntary"), (DEATH, "Death"), (PRODUCTION, "Inadequate production")],
        ),
        "companies": frame(
            "cocode company_name",
            [(HARBORSTONE, "Harborstone Life"), (PRAIRIE, "Prairie Mutual")],
        ),
        "state_fees": frame(
            "state_code transaction_kind resident_fee nonresident_fee per_loa",
            [
                ("CA", "termination", 0.0, 0.0, False),
                ("CA", "appointment", 30.0, 30.0, False),
                ("NJ", "termination", 10.0, 25.0, False),
                ("NJ", "appointment", 50.0, 50.0, False),
            ],
        ),
        "lines_of_authority": frame(
            "state_code loa_code loa_name",
            [("CA", "16", "Life"), ("CA", "296", "Accident & Health"), ("NJ", "16", "Life")],
        ),
    }
    inputs.update(overrides)
    return inputs


def request(
    row: int = 2,
    state: str = "CA",
    loa: str | None = "16",
    reason: str | None = None,
    submit: object = False,
    npn: str = "1001",
    cocode: str = HARBORSTONE,
    loa_name: str | None = None,
) -> dict[str, object]:
    return {
        "request_row": row,
        "npn": npn,
        "state_code": state,
        "cocode": cocode,
        "loa_code": loa,
        "loa_name": loa_name,
        "termination_reason_code": reason,
        "effective_date": "2026-07-01",
        "submit_immediately": submit,
    }


def evaluate(rows: list[dict[str, object]], **overrides: pd.DataFrame) -> pd.DataFrame:
    return evaluate_termination_requests(pd.DataFrame(rows), make_inputs(**overrides))


def only(result: pd.DataFrame) -> pd.Series:
    assert len(result) == 1
    return result.iloc[0]


# --- reasons ---------------------------------------------------------------------------------


def test_default_reason_used_when_blank() -> None:
    row = only(evaluate([request()]))
    assert row["status"] == el.STATUS_READY == "Ready to Submit"
    assert row["eligibility_reason"] == "In Good Standing"
    assert row["termination_reason_code"] == VOLUNTARY
    assert row["effective_date"] == "2026-07-01"
    assert row["company_name"] == "Harborstone Life"


def test_explicit_accepted_reason_is_kept_in_the_state_spelling() -> None:
    row = only(evaluate([request(reason=" death ")]))
    assert row["status"] == "Ready to Submit"
    assert row["termination_reason_code"] == DEATH


def test_no_appointment_is_not_found() -> None:
    row = only(evaluate([request(loa="935")]))
    assert row["status"] == "Not Eligible"
    assert row["eligibility_reason"] == "Appointment Not Found"
    assert row["estimated_fee"] == 0.0


def test_terminated_appointment_is_not_found() -> None:
    row = only(evaluate([request(state="TX")]))
    assert row["eligibility_reason"] == "Appointment Not Found"
    assert row["status"] == "Not Eligible"


def test_other_company_or_producer_is_not_found() -> None:
    result = evaluate([request(row=2, cocode=PRAIRIE), request(row=3, npn="9999")])
    assert list(result["eligibility_reason"]) == ["Appointment Not Found"] * 2


def test_reason_required_when_state_has_no_default() -> None:
    appointments = frame(
        "npn state_code cocode loa_code status", [("1001", "MT", HARBORSTONE, "16", "Appointed")]
    )
    row = only(evaluate([request(state="MT")], appointments=appointments))
    assert row["eligibility_reason"] == "Termination Reason Required"
    assert row["status"] == "Not Eligible"
    assert row["termination_reason_code"] is None


def test_several_defaults_are_no_default() -> None:
    reasons = frame(
        "state_code reason_code is_default", [("CA", VOLUNTARY, True), ("CA", DEATH, True)]
    )
    row = only(evaluate([request()], state_termination_reasons=reasons))
    assert row["eligibility_reason"] == "Termination Reason Required"


def test_reason_not_accepted_in_state() -> None:
    row = only(evaluate([request(reason=PRODUCTION)]))
    assert row["eligibility_reason"] == f"Termination Reason {PRODUCTION} Not Accepted In CA"
    assert row["status"] == "Not Eligible"
    assert row["estimated_fee"] == 0.0


def test_appointment_check_comes_first() -> None:
    row = only(evaluate([request(loa="935", reason=PRODUCTION)]))
    assert row["eligibility_reason"] == "Appointment Not Found"


def test_state_reason_unknown_to_termination_reasons_is_not_accepted() -> None:
    known = frame("reason_code description", [(VOLUNTARY, "Voluntary")])
    row = only(evaluate([request(reason=DEATH)], termination_reasons=known))
    assert row["eligibility_reason"] == f"Termination Reason {DEATH} Not Accepted In CA"


# --- lines by name ---------------------------------------------------------------------------


def test_loa_name_maps_to_code_case_insensitively() -> None:
    row = only(evaluate([request(loa=None, loa_name="  accident & HEALTH ")]))
    assert row["loa_code"] == "296"
    assert row["status"] == "Ready to Submit"


def test_unknown_or_ambiguous_loa_name_is_not_found() -> None:
    lines = frame(
        "state_code loa_code loa_name",
        [("CA", "16", "Life"), ("CA", "17", "Life"), ("CA", "296", "Accident & Health")],
    )
    result = evaluate(
        [request(row=2, loa="", loa_name="Life"), request(row=3, loa=None, loa_name="Crop")],
        lines_of_authority=lines,
    )
    assert list(result["eligibility_reason"]) == ["Appointment Not Found"] * 2
    assert list(result["loa_code"]) == [None, None]


# --- fees ------------------------------------------------------------------------------------


def test_fee_unknown_residency_takes_the_higher_estimate() -> None:
    row = only(evaluate([request(state="NJ")]))
    assert row["estimated_fee"] == 25.0
    assert row["is_resident"] is None


def test_fee_resident_and_nonresident() -> None:
    licenses = frame("npn state_code is_resident", [("1001", "NJ", "true")])
    assert only(evaluate([request(state="NJ")], licenses=licenses))["estimated_fee"] == 10.0
    licenses = frame("npn state_code is_resident", [("1001", "NJ", 0)])
    row = only(evaluate([request(state="NJ")], licenses=licenses))
    assert row["estimated_fee"] == 25.0
    assert row["is_resident"] is False


def test_fee_charged_once_per_appointment_unless_per_loa() -> None:
    appointments = frame(
        "npn state_code cocode loa_code status",
        [
            ("1001", "NJ", HARBORSTONE, "16", "Appointed"),
            ("1001", "NJ", HARBORSTONE, "17", "Appointed"),
            ("1001", "NJ", PRAIRIE, "16", "Appointed"),
        ],
    )
    rows = [
        request(row=2, state="NJ", loa="17"),
        request(row=2, state="NJ", loa="16"),
        request(row=3, state="NJ", loa="16", cocode=PRAIRIE),
    ]
    result = evaluate(rows, appointments=appointments)
    assert list(result["loa_code"]) == ["16", "17", "16"]
    assert list(result["estimated_fee"]) == [25.0, 0.0, 25.0]

    per_loa = frame(
        "state_code transaction_kind resident_fee nonresident_fee per_loa",
        [("NJ", "termination", 10.0, 25.0, "true")],
    )
    result = evaluate(rows, appointments=appointments, state_fees=per_loa)
    assert list(result["estimated_fee"]) == [25.0, 25.0, 25.0]


def test_missing_fee_row_is_zero() -> None:
    fees = frame("state_code transaction_kind resident_fee nonresident_fee per_loa", [])
    assert only(evaluate([request(state="NJ")], state_fees=fees))["estimated_fee"] == 0.0


# --- repeats ---------------------------------------------------------------------------------


def test_open_termination_transaction_is_a_repeat() -> None:
    transactions = frame(
        "transaction_id npn state_code cocode loa_code kind status",
        [
            ("t1", "1001", "CA", HARBORSTONE, "16", "termination", "Submitted"),
            ("t2", "1001", "CA", HARBORSTONE, "296", "termination", "Rejected"),
            ("t3", "1001", "NJ", HARBORSTONE, "16", "appointment", "Ready to Submit"),
        ],
    )
    rows = [request(row=2, loa="16"), request(row=3, loa="296"), request(row=4, state="NJ")]
    result = evaluate(rows, transactions=transactions)
    assert list(result["request_row"]) == [3, 4]
    repeats = result.attrs["repeats"]
    assert list(repeats["request_row"]) == [2]
    assert repeats.iloc[0]["repeats_transaction_id"] == "t1"
    assert repeats.iloc[0]["reason"] == el.REPEAT_OF_OPEN_TRANSACTION


def test_repeat_within_the_call_keeps_the_first_and_not_eligible_rows() -> None:
    rows = [
        request(row=2),
        request(row=5),
        request(row=6, reason=PRODUCTION),  # Not Eligible: kept for the audit
    ]
    result = evaluate(rows)
    assert list(result["request_row"]) == [2, 6]
    repeats = result.attrs["repeats"]
    assert list(repeats["request_row"]) == [5]
    assert repeats.iloc[0]["repeats_request_row"] == 2
    assert repeats.iloc[0]["reason"] == el.REPEAT_IN_REQUESTS


# --- batches ---------------------------------------------------------------------------------


def test_batch_keys_follow_submit_immediately_and_cocode() -> None:
    rows = [
        request(row=2, submit="TRUE"),
        request(row=3, loa="296", submit=None),
        request(row=4, state="NJ", cocode=PRAIRIE, submit=1),
        request(row=5, loa="935", submit="yes"),
    ]
    result = evaluate(rows)
    assert list(result["auto_submit"]) == [True, False, True, True]
    assert list(result["batch_key"]) == [
        f"termination/{HARBORSTONE}/auto",
        f"termination/{HARBORSTONE}/review",
        f"termination/{PRAIRIE}/auto",
        f"termination/{HARBORSTONE}/auto",
    ]


# --- shapes and dtypes -----------------------------------------------------------------------


def test_empty_requests() -> None:
    result = evaluate_termination_requests(
        pd.DataFrame(columns=list(request().keys())), make_inputs()
    )
    assert result.empty
    assert list(result.columns) == list(el.RESULT_COLUMNS)
    assert result.attrs["repeats"].empty


def test_database_dtypes() -> None:
    appointments = frame(
        "npn state_code cocode loa_code status",
        [(1001, "ca", 11111, 16, "APPOINTED")],
    )
    reasons = frame(
        "state_code reason_code is_default", [("CA", VOLUNTARY, "t"), ("CA", DEATH, None)]
    )
    req = pd.DataFrame(
        {
            "request_row": ["2"],
            "npn": [1001.0],
            "state_code": ["CA "],
            "cocode": ["11111"],
            "loa_code": ["16"],
            "termination_reason_code": [float("nan")],
            "submit_immediately": pd.Series([pd.NA], dtype="boolean"),
        }
    )
    result = evaluate_termination_requests(
        req, make_inputs(appointments=appointments, state_termination_reasons=reasons)
    )
    row = only(result)
    assert row["status"] == "Ready to Submit"
    assert row["termination_reason_code"] == VOLUNTARY
    assert not row["auto_submit"]
    assert row["effective_date"] is None
    assert result["request_row"].dtype == "int64"


def test_missing_required_input_is_an_error() -> None:
    inputs = make_inputs()
    del inputs["appointments"]
    with pytest.raises(ValueError, match="appointments"):
        evaluate_termination_requests(pd.DataFrame([request()]), inputs)
