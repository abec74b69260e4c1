"""Termination evidence (issue 19): every reason of SPEC 7 names the row that decided it.

The worlds of `test_termination_eligibility` (producer 1001 holds Harborstone appointments in
CA and NJ; TX 16 is Terminated), with the evidence's rows added where a test needs them: state
rules and fee rows with their `source`, licenses, the producer row, NIPR's scope dates. One
test reads them through the termination store, as every caller of the engine does.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from assets.offboarding.rules import with_repeats_on_record
from assets.rules import evidence as ev
from assets.terminations import eligibility as el
from assets.terminations import eligibility_evidence
from assets.terminations.eligibility import evaluate_termination_requests
from assets.terminations.store import read_termination_inputs
from unit.test_termination_eligibility import (
    AS_OF,
    DEATH,
    HARBORSTONE,
    VOLUNTARY,
    evaluate,
    frame,
    make_inputs,
    only,
    request,
)

RULE_SOURCE = "[DOMAIN 3.4] FL terminations backdated up to 33 days"
FEE_SOURCE = "[DOMAIN 2.4] NJ termination fee"
# Everything that is never read for a termination (the module docstring of the evidence).
NOT_READ_FOR_TERMINATIONS = (
    "loa_is_active",
    "loa_issue_date",
    "resident_state_code",
    "resident_license_number",
    "resident_expiration_date",
    "rule_license_class_code",
    "rule_loa_category",
    "company_in_state",
    "company_is_jit",
    "assignment_required",
    "assignment_found",
)


def evidence(row: pd.Series, name: str) -> object:
    return row[ev.EVIDENCE_PREFIX + name]


def appointments(*rows: tuple) -> pd.DataFrame:
    """1001's Harborstone lines: CA 16 (Appointed since 2025-03-01), plus `rows`."""
    return frame(
        "npn state_code cocode loa_code status effective_date",
        [("1001", "CA", HARBORSTONE, "16", "Appointed", "2025-03-01"), *rows],
    )


def state_rules(*rows: tuple) -> pd.DataFrame:
    return frame(
        "state_code terminations_via_nipr termination_date_specifiable "
        "termination_max_backdate_days source is_assumption",
        list(rows),
    )


def decided(row: pd.Series, by: str, reason: str) -> None:
    assert row["status"] == el.NOT_ELIGIBLE
    assert row["eligibility_reason"] == reason
    assert evidence(row, "decided_by") == by


# --- one test per reason ---------------------------------------------------------------------


def test_appointment_not_found_names_the_terminated_row() -> None:
    row = only(
        evaluate(
            [request(state="TX")],
            appointments=appointments(
                ("1001", "TX", HARBORSTONE, "16", "Terminated", "2024-05-02")
            ),
        )
    )
    decided(row, ev.DECIDED_BY_APPOINTMENT, "Appointment Not Found")
    assert evidence(row, "appointment_status") == "Terminated"
    assert evidence(row, "appointment_effective_date") == dt.date(2024, 5, 2)
    assert evidence(row, "appointment_source") == ev.APPOINTMENT_FROM_NIPR
    assert evidence(row, "loa_code") == "16"


def test_appointment_not_found_without_any_row_names_none() -> None:
    row = only(evaluate([request(cocode="99999")], appointments=appointments()))
    decided(row, ev.DECIDED_BY_APPOINTMENT, "Appointment Not Found")
    for name in ("appointment_status", "appointment_effective_date", "appointment_source"):
        assert evidence(row, name) is None


def test_not_filed_through_nipr_names_the_state_rule() -> None:
    source = "[DFS] NY ends appointments on its portal"
    row = only(
        evaluate(
            [request(state="NY", date=None)],
            appointments=appointments(("1001", "NY", HARBORSTONE, "16", "Appointed", None)),
            state_termination_reasons=frame(
                "state_code reason_code is_default", [("NY", VOLUNTARY, True)]
            ),
            state_appointment_rules=state_rules(("NY", False, False, None, source, False)),
        )
    )
    decided(row, ev.DECIDED_BY_STATE_RULE, "Terminations Not Filed Through NIPR In NY")
    assert evidence(row, "state_rule_source") == source
    assert evidence(row, "state_rule_is_assumption") is False
    assert evidence(row, "appointment_status") == "Appointed"


def test_reason_required_names_the_state_reasons() -> None:
    row = only(
        evaluate(
            [request(state="MT")],
            appointments=appointments(("1001", "MT", HARBORSTONE, "16", "Appointed", None)),
        )
    )
    decided(row, ev.DECIDED_BY_TERMINATION_REASON, "Termination Reason Required")
    assert evidence(row, "state_reason_code") is None  # MT has no single default


def test_reason_not_accepted_names_no_state_reason_and_keeps_the_code_given() -> None:
    row = only(evaluate([request(state="NJ", reason="NOT_A_REASON")]))
    decided(
        row, ev.DECIDED_BY_TERMINATION_REASON, "Termination Reason NOT_A_REASON Not Accepted In NJ"
    )
    assert evidence(row, "state_reason_code") is None
    assert row["termination_reason_code"] == "NOT_A_REASON"


def test_unreadable_date_is_decided_by_the_request() -> None:
    row = only(evaluate([request(date="next tuesday")]))
    decided(row, ev.DECIDED_BY_REQUEST, "Effective Date next tuesday Unreadable")


def test_date_not_specifiable_names_the_state_rule() -> None:
    source = "[TDI] TX uses its processing date"
    row = only(
        evaluate(
            [request(state="TX")],
            appointments=appointments(("1001", "TX", HARBORSTONE, "16", "Appointed", None)),
            state_appointment_rules=state_rules(("TX", True, False, None, source, True)),
        )
    )
    decided(row, ev.DECIDED_BY_STATE_RULE, "Effective Date Not Specifiable In TX")
    assert evidence(row, "state_rule_source") == source
    assert evidence(row, "state_rule_is_assumption") is True


def test_future_date_names_the_state_rule() -> None:
    source = "[ASSUMPTION] CA refuses a future termination"
    row = only(
        evaluate(
            [request(date=AS_OF + dt.timedelta(days=1))],
            state_appointment_rules=state_rules(("CA", True, True, None, source, True)),
        )
    )
    decided(row, ev.DECIDED_BY_STATE_RULE, "Future Effective Date Not Accepted In CA")
    assert evidence(row, "state_rule_source") == source


def test_backdate_names_the_state_rule_row() -> None:
    row = only(
        evaluate(
            [request(state="FL", date=AS_OF - dt.timedelta(days=34))],
            appointments=appointments(("1001", "FL", HARBORSTONE, "16", "Appointed", None)),
            state_termination_reasons=frame(
                "state_code reason_code is_default", [("FL", VOLUNTARY, True)]
            ),
            state_appointment_rules=state_rules(("FL", True, True, 33, RULE_SOURCE, False)),
        )
    )
    decided(
        row,
        ev.DECIDED_BY_STATE_RULE,
        "Effective Date More Than 33 Days Back Not Accepted In FL",
    )
    assert evidence(row, "state_rule_source") == RULE_SOURCE
    assert evidence(row, "state_rule_is_assumption") is False
    assert evidence(row, "state_reason_code") == VOLUNTARY


def test_ready_names_every_row_that_passed() -> None:
    licenses = frame(
        "npn state_code license_number license_class_code is_resident is_active "
        "issue_date expiration_date",
        [
            ("1001", "NJ", "A-1", "NR", False, True, "2020-01-01", "2027-01-31"),
            ("1001", "NJ", "B-2", "PR", True, True, "2019-02-01", "2027-02-28"),
            ("1001", "CA", "C-3", "PR", True, True, "2019-02-01", "2027-02-28"),
        ],
    )
    scopes = frame(
        "npn state_code category data_as_of",
        [
            ("1001", "NJ", "LICENSING", "2026-07-14T06:00:00"),
            ("1001", "NJ", "LICENSING", "2026-07-10T06:00:00"),
            ("1001", "NJ", "APPOINTMENTS", "2026-07-13T06:00:00"),
            ("1001", "CA", "APPOINTMENTS", "2026-01-01T06:00:00"),
        ],
    )
    fees = frame(
        "state_code transaction_kind resident_fee nonresident_fee per_loa source is_assumption",
        [
            ("NJ", "termination", 10.0, 25.0, False, FEE_SOURCE, False),
            ("NJ", "appointment", 50.0, 50.0, False, "appointment row", False),
        ],
    )
    row = only(
        evaluate(
            [request(state="NJ", loa=None, loa_name=" life ", reason="inadequate_production")],
            appointments=appointments(
                ("1001", "NJ", HARBORSTONE, "16", "Terminated", "2023-01-01"),
                ("1001", "NJ", HARBORSTONE, "16", "Appointed", "2024-06-01"),
            ),
            licenses=licenses,
            producers=frame("npn sync_status is_active", [("1001", "Success", True)]),
            nipr_scope_reports=scopes,
            state_fees=fees,
        )
    )
    assert row["status"] == el.READY_TO_SUBMIT
    assert evidence(row, "decided_by") == ev.DECIDED_BY_ALL_CHECKS
    # The line as resolved from its name, and the Appointed row the termination ends.
    assert evidence(row, "loa_code") == "16"
    assert evidence(row, "appointment_status") == "Appointed"
    assert evidence(row, "appointment_effective_date") == dt.date(2024, 6, 1)
    assert evidence(row, "state_reason_code") == "INADEQUATE_PRODUCTION"
    # The resident license, the one the resident fee was charged for.
    assert row["is_resident"] is True and row["estimated_fee"] == 10.0
    assert evidence(row, "license_number") == "B-2"
    assert evidence(row, "license_class_code") == "PR"
    assert evidence(row, "license_is_resident") is True
    assert evidence(row, "license_is_active") is True
    assert evidence(row, "license_issue_date") == dt.date(2019, 2, 1)
    assert evidence(row, "license_expiration_date") == dt.date(2027, 2, 28)
    assert evidence(row, "producer_sync_status") == "Success"
    assert evidence(row, "producer_is_active") is True
    assert evidence(row, "fee_resident") == 10.0
    assert evidence(row, "fee_nonresident") == 25.0
    assert evidence(row, "fee_per_loa") is False
    assert evidence(row, "fee_source") == FEE_SOURCE
    assert evidence(row, "fee_is_assumption") is False
    assert evidence(row, "licensing_data_as_of") == dt.datetime(2026, 7, 14, 6, tzinfo=dt.UTC)
    assert evidence(row, "appointments_data_as_of") == dt.datetime(2026, 7, 13, 6, tzinfo=dt.UTC)
    assert evidence(row, "engine_version") == el.ENGINE_VERSION
    for name in NOT_READ_FOR_TERMINATIONS:
        assert evidence(row, name) is None


# --- which row is named ----------------------------------------------------------------------


def test_without_a_resident_license_the_first_by_number_is_named() -> None:
    licenses = frame(
        "npn state_code license_number license_class_code is_resident",
        [("1001", "CA", "Z-9", "NR", False), ("1001", "CA", "M-5", "NR", False)],
    )
    # Dates as a file or database reader may give them: timestamps.
    licenses["expiration_date"] = pd.to_datetime(["2027-01-31", "2026-12-31"])
    row = only(evaluate([request()], licenses=licenses))
    assert row["is_resident"] is False
    assert evidence(row, "license_number") == "M-5"
    assert evidence(row, "license_is_resident") is False
    assert evidence(row, "license_expiration_date") == dt.date(2026, 12, 31)
    # Columns the frame lacks are NULL, not an error (older frames, hand-written worlds).
    assert evidence(row, "license_issue_date") is None


def test_a_line_accepted_since_the_sync_is_named_as_such() -> None:
    accepted = appointments().assign(accepted_transaction_id=["T-1"])
    row = only(evaluate([request()], appointments=accepted))
    assert row["status"] == el.READY_TO_SUBMIT
    assert evidence(row, "appointment_source") == ev.APPOINTMENT_FROM_ACCEPTED


def test_an_unresolved_line_names_no_appointment() -> None:
    blank_line = appointments(("1001", "CA", HARBORSTONE, None, "Appointed", None))
    row = only(evaluate([request(loa=None, loa_name="No Such Line")], appointments=blank_line))
    decided(row, ev.DECIDED_BY_APPOINTMENT, "Appointment Not Found")
    assert evidence(row, "loa_code") is None
    assert evidence(row, "appointment_status") is None


def test_absent_optional_frames_leave_their_evidence_null() -> None:
    row = only(evaluate([request(reason=DEATH)]))
    assert evidence(row, "decided_by") == ev.DECIDED_BY_ALL_CHECKS
    assert evidence(row, "state_reason_code") == DEATH
    for name in (
        "producer_sync_status",
        "producer_is_active",
        "license_number",
        "state_rule_source",
        "licensing_data_as_of",
        "appointments_data_as_of",
    ):
        assert evidence(row, name) is None


def test_every_check_has_its_deciding_row() -> None:
    assert len(eligibility_evidence.DECIDED_BY_OF_CHECK) == 8
    assert set(eligibility_evidence.DECIDED_BY_OF_CHECK) <= set(ev.DECIDED_BY)


def test_an_offboarding_repeat_on_record_is_decided_by_the_transaction_it_repeats() -> None:
    open_termination = frame(
        "npn state_code cocode loa_code kind status transaction_id",
        [("1001", "CA", HARBORSTONE, "16", "termination", "Submitted", "T-OPEN")],
    )
    requests = pd.DataFrame([request(row=1), request(row=2, loa="296")])
    evaluated = evaluate_termination_requests(
        requests, make_inputs(transactions=open_termination), AS_OF
    )
    result = with_repeats_on_record(evaluated, requests)
    repeat = result[result["request_row"].eq(1)].iloc[0]
    assert repeat["eligibility_reason"] == el.REPEAT_OF_OPEN_TRANSACTION
    assert evidence(repeat, "decided_by") == ev.DECIDED_BY_OPEN_TRANSACTION
    assert evidence(repeat, "loa_code") == "16"
    assert evidence(repeat, "engine_version") == el.ENGINE_VERSION
    named = ("evidence_decided_by", "evidence_loa_code", "evidence_engine_version")
    others = [c for c in ev.EVIDENCE_COLUMNS if c not in named]
    assert all(repeat[c] is None for c in others)
    assert evidence(result[result["request_row"].eq(2)].iloc[0], "decided_by") == "all_checks"


# --- shape and version -----------------------------------------------------------------------


def test_every_evidence_column_on_an_empty_request_frame() -> None:
    result = evaluate_termination_requests(
        pd.DataFrame(columns=list(request().keys())), make_inputs()
    )
    assert result.empty
    assert list(result.columns) == [*el.RESULT_COLUMNS, *ev.EVIDENCE_COLUMNS]


def test_every_evidence_column_on_every_row() -> None:
    result = evaluate([request(row=2), request(row=3, state="TX"), request(row=4, date="x")])
    assert list(result.columns) == [*el.RESULT_COLUMNS, *ev.EVIDENCE_COLUMNS]
    assert result["evidence_decided_by"].tolist() == [
        ev.DECIDED_BY_ALL_CHECKS,
        ev.DECIDED_BY_APPOINTMENT,
        ev.DECIDED_BY_REQUEST,
    ]


def test_engine_version_is_stable() -> None:
    first = evaluate([request()])["evidence_engine_version"].iloc[0]
    assert first == evaluate([request(row=9)])["evidence_engine_version"].iloc[0]
    assert first == el.ENGINE_VERSION
    assert el.ENGINE_VERSION.startswith("termination rules ")
    # Another process with the same rules gives the same version: it names the rules, not a run.
    code = "from assets.terminations import eligibility as el; print(el.ENGINE_VERSION)"
    other = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(el.__file__).parents[2],
    )
    assert other.stdout.strip() == first


# --- through the store -----------------------------------------------------------------------


def test_the_store_reads_the_evidence_rows(tmp_path: Path) -> None:
    from support.offboarding import ANN, world_tables
    from support.offboarding import HARBORSTONE as CO
    from support.seed import seeded_database

    tables = world_tables()
    tables["licenses"] = pd.DataFrame(
        [
            {
                "npn": ANN,
                "state_code": "CA",
                "license_number": "0A12345",
                "license_class_code": "PR",
                "is_resident": True,
                "is_active": True,
                "issue_date": dt.date(2019, 4, 1),
                "expiration_date": dt.date(2027, 4, 30),
            }
        ]
    )
    as_of = dt.datetime(2026, 11, 20, 5, 0, tzinfo=dt.UTC)
    tables["nipr_scope_reports"] = pd.DataFrame(
        [
            {
                "npn": ANN,
                "state_code": "CA",
                "category": category,
                "data_as_of": as_of,
                "report_date": None,
                "source": "entity_info",
                "applied_at": as_of,
            }
            for category in ("LICENSING", "APPOINTMENTS", "DEMOGRAPHICS")
        ]
    )
    database = seeded_database(f"sqlite:///{tmp_path / 'npnflow.db'}", tables)
    try:
        with database.engine.connect() as connection:
            inputs = read_termination_inputs(connection, [ANN])
    finally:
        database.engine.dispose()
    requests = pd.DataFrame([request(npn=ANN, cocode=CO, date=None)])
    row = only(evaluate_termination_requests(requests, inputs, dt.date(2026, 11, 24)))
    assert row["status"] == el.READY_TO_SUBMIT
    assert evidence(row, "producer_sync_status") == "Success"
    assert evidence(row, "producer_is_active") is True
    assert evidence(row, "license_number") == "0A12345"
    assert evidence(row, "license_expiration_date") == dt.date(2027, 4, 30)
    assert evidence(row, "appointment_effective_date") == dt.date(2024, 1, 10)
    assert evidence(row, "licensing_data_as_of") == as_of
    assert evidence(row, "appointments_data_as_of") == as_of
    # The shipped reference rows, with their provenance.
    assert evidence(row, "state_rule_source")
    assert evidence(row, "state_rule_is_assumption") in (True, False)
    assert evidence(row, "fee_source")
    assert evidence(row, "fee_is_assumption") in (True, False)


@pytest.mark.parametrize("missing", ["producers", "nipr_scope_reports"])
def test_an_evidence_frame_without_its_key_columns_is_an_error(missing: str) -> None:
    with pytest.raises(ValueError, match=missing):
        evaluate([request()], **{missing: pd.DataFrame({"other": [1]})})
