"""Termination eligibility (SPEC section 7): every reason, fee and repeat a user can see.

Small hand-written worlds, no database. `make_inputs()` builds a world in which producer 1001
holds Harborstone (11111) appointments in CA (lines 16 and 296) and NJ (16); each test changes
only what its rule needs.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from assets.rules.evidence import EVIDENCE_COLUMNS
from assets.terminations import eligibility as el
from assets.terminations.eligibility import evaluate_termination_requests

HARBORSTONE = "11111"
PRAIRIE = "33333"
VOLUNTARY = "VOLUNTARY_TERMINATION"
DEATH = "DEATH"
PRODUCTION = "INADEQUATE_PRODUCTION"
AS_OF = dt.date(2026, 7, 15)


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
    date: object = "2026-07-01",
) -> dict[str, object]:
    return {
        "request_row": row,
        "npn": npn,
        "state_code": state,
        "cocode": cocode,
        "loa_code": loa,
        "loa_name": loa_name,
        "termination_reason_code": reason,
        "effective_date": date,
        "submit_immediately": submit,
    }


def evaluate(
    rows: list[dict[str, object]], as_of: dt.date = AS_OF, **overrides: pd.DataFrame
) -> pd.DataFrame:
    return evaluate_termination_requests(pd.DataFrame(rows), make_inputs(**overrides), as_of)


def only(result: pd.DataFrame) -> pd.Series:
    assert len(result) == 1
    return result.iloc[0]


# --- reasons ---------------------------------------------------------------------------------


def test_default_reason_used_when_blank() -> None:
    row = only(evaluate([request()]))
    assert row["status"] == el.READY_TO_SUBMIT == "Ready to Submit"
    assert row["eligibility_reason"] == "In Good Standing"
    assert row["termination_reason_code"] == VOLUNTARY
    assert row["effective_date"] == dt.date(2026, 7, 1)
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


# --- state rules: terminations outside NIPR, effective-date limits ----------------------------

STATE_RULES = frame(
    "state_code terminations_via_nipr termination_date_specifiable termination_max_backdate_days",
    [
        ("CA", True, True, None),
        ("NJ", "true", "true", 60),
        ("NY", False, False, None),
        ("TX", True, False, None),
        ("FL", True, True, 33),
    ],
)


def with_appointment(state: str, loa: str = "16") -> pd.DataFrame:
    return pd.concat(
        [
            make_inputs()["appointments"],
            frame(
                "npn state_code cocode loa_code status",
                [("1001", state, HARBORSTONE, loa, "Appointed")],
            ),
        ],
        ignore_index=True,
    )


def test_state_that_takes_no_terminations_through_nipr_says_so() -> None:
    states = frame("state_code reason_code is_default", [("NY", VOLUNTARY, True)])
    reasons = pd.concat([make_inputs()["state_termination_reasons"], states], ignore_index=True)
    row = only(
        evaluate(
            [request(state="NY", date=None)],
            appointments=with_appointment("NY"),
            state_appointment_rules=STATE_RULES,
            state_termination_reasons=reasons,
        )
    )
    assert row["status"] == el.NOT_ELIGIBLE
    assert row["eligibility_reason"] == "Terminations Not Filed Through NIPR In NY"
    assert row["estimated_fee"] == 0.0


def test_not_via_nipr_comes_after_appointment_and_before_reason() -> None:
    rules = STATE_RULES
    # No appointment in NY: the appointment check decides.
    row = only(evaluate([request(state="NY")], state_appointment_rules=rules))
    assert row["eligibility_reason"] == el.REASON_APPOINTMENT_NOT_FOUND
    # NY has no reason at all: still the NIPR rule, not "reason required".
    row = only(
        evaluate(
            [request(state="NY")],
            appointments=with_appointment("NY"),
            state_appointment_rules=rules,
        )
    )
    assert row["eligibility_reason"] == el.not_via_nipr_reason("NY")


def test_state_missing_from_rules_is_sent_to_nipr() -> None:
    rules = STATE_RULES[STATE_RULES["state_code"].ne("CA")]
    row = only(evaluate([request(date="2026-07-10")], state_appointment_rules=rules))
    assert row["status"] == el.READY_TO_SUBMIT


def test_effective_date_not_specifiable_unless_blank() -> None:
    appointments = with_appointment("TX")
    rows = [request(row=2, state="TX", date="2026-07-10"), request(row=3, state="TX", date=None)]
    result = evaluate(rows, appointments=appointments, state_appointment_rules=STATE_RULES)
    assert list(result["eligibility_reason"]) == [
        "Effective Date Not Specifiable In TX",
        "In Good Standing",
    ]
    assert result.iloc[1]["effective_date"] is None


def test_future_effective_date_is_not_accepted() -> None:
    rows = [
        request(row=2, date=AS_OF + dt.timedelta(days=1)),
        request(row=3, loa="296", date=AS_OF),
    ]
    result = evaluate(rows, state_appointment_rules=STATE_RULES)
    assert list(result["eligibility_reason"]) == [
        "Future Effective Date Not Accepted In CA",
        "In Good Standing",
    ]
    # Without any state rule the future is refused all the same.
    row = only(evaluate([request(date="2026-12-31")]))
    assert row["eligibility_reason"] == el.future_date_reason("CA")


def test_backdating_limit_counts_days_from_as_of() -> None:
    appointments = with_appointment("FL")
    oldest = AS_OF - dt.timedelta(days=33)
    rows = [
        request(row=2, state="FL", date=oldest, reason=VOLUNTARY),
        request(row=3, state="FL", date=oldest - dt.timedelta(days=1), reason=VOLUNTARY),
    ]
    reasons = frame("state_code reason_code is_default", [("FL", VOLUNTARY, True)])
    result = evaluate(
        rows,
        appointments=appointments,
        state_appointment_rules=STATE_RULES,
        state_termination_reasons=reasons,
    )
    assert list(result["status"]) == [el.READY_TO_SUBMIT, el.NOT_ELIGIBLE]
    assert result.iloc[1]["eligibility_reason"] == (
        "Effective Date More Than 33 Days Back Not Accepted In FL"
    )


def test_reason_check_comes_before_the_date_checks() -> None:
    row = only(
        evaluate(
            [request(reason=PRODUCTION, date="2026-12-31")], state_appointment_rules=STATE_RULES
        )
    )
    assert row["eligibility_reason"] == el.not_accepted_reason(PRODUCTION, "CA")


def test_unreadable_effective_date_is_quoted_not_guessed() -> None:
    row = only(evaluate([request(date="31/06/2026")]))
    assert row["status"] == el.NOT_ELIGIBLE
    assert row["eligibility_reason"] == "Effective Date 31/06/2026 Unreadable"
    assert row["effective_date"] is None


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


def test_termination_nipr_accepted_is_a_repeat_until_the_sync_shows_it() -> None:
    appointments = make_inputs()["appointments"].assign(effective_date="2025-01-10")
    # CA 296 was re-appointed after its earlier termination was accepted: terminable again.
    appointments.loc[appointments["loa_code"].eq("296"), "effective_date"] = "2026-07-01"
    transactions = frame(
        "transaction_id npn state_code cocode loa_code kind status completed_at",
        [
            ("t1", "1001", "CA", HARBORSTONE, "16", "termination", "Accepted", "2026-07-02"),
            ("t2", "1001", "CA", HARBORSTONE, "296", "termination", "Accepted", "2026-06-01"),
            ("t3", "1001", "NJ", HARBORSTONE, "16", "termination", "Rejected", "2026-07-02"),
        ],
    )
    rows = [request(row=2), request(row=3, loa="296"), request(row=4, state="NJ")]
    result = evaluate(rows, appointments=appointments, transactions=transactions)
    assert list(result["request_row"]) == [3, 4]
    repeat = only(result.attrs["repeats"])
    assert repeat["request_row"] == 2
    assert repeat["repeats_transaction_id"] == "t1"
    assert repeat["reason"] == el.REPEAT_OF_ACCEPTED


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
    assert list(result.columns) == [*el.RESULT_COLUMNS, *EVIDENCE_COLUMNS]
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
