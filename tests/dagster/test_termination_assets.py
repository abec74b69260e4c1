"""A terminate file through the Dagster assets: transactions, batches, approval and submission.

Real local resources: a migrated SQLite database with the reference tables (state termination
reasons and rules as shipped in config/reference) and the shipped company setup, a local
bucket, and appointments written by hand below. Expected outcomes worked out by hand from
SPEC section 7, DOMAIN 3.4 and config/reference:

- CA takes VOLUNTARY_TERMINATION by default and DEATH; FL takes VOLUNTARY_TERMINATION, DEATH
  and REQUEST_REGULATORY_REVIEW, back-dated at most 33 days; NY ends appointments on its own
  portal (terminations_via_nipr false); NJ charges $25 per termination.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from assets.batches.approval import approve_batch
from assets.keys import TERMINATION_BATCHES_KEY, TERMINATION_TRANSACTIONS_KEY
from assets.terminations.assets import TERMINATION_ASSETS
from assets.terminations.eligibility import REPEAT_OF_OPEN_TRANSACTION
from schemas import statuses

TODAY = dt.date.today()
NPN = "1000001"
HARBORSTONE = "91234"
HEADER = (
    "Agent NPN,States,Line of Authority,CoCode,Termination Reason Code,Effective Date,"
    "Submit Immediately"
)
TERMINATE_FILE = "\r\n".join(
    [
        HEADER,
        f"{NPN},CA,16,{HARBORSTONE},,,TRUE",  # row 2: default reason, auto
        f"{NPN},CA,Part Time Fraternal,{HARBORSTONE},death,{TODAY - dt.timedelta(days=5)},FALSE",
        f"{NPN},NY,16,{HARBORSTONE},,,FALSE",  # row 4: NY terminates on its own portal
        f"{NPN},TX,825,{HARBORSTONE},,,FALSE",  # row 5: the TX appointment was terminated
        f"{NPN},FL,16,{HARBORSTONE},,{TODAY - dt.timedelta(days=40)},FALSE",  # row 6: too old
        f"{NPN},TX,16,{HARBORSTONE},DEATH,,FALSE",  # row 7: TX takes only CANCELLED
        f"{NPN},NJ,16,{HARBORSTONE},,,FALSE",  # row 8: NJ charges $25
    ]
).encode()
KEY = "inbox/terminate/harborstone.csv"


def appointment(state: str, loa: str, status: str = "Appointed") -> dict[str, object]:
    return {
        "npn": NPN,
        "state_code": state,
        "cocode": HARBORSTONE,
        "loa_code": loa,
        "company_name": "Harborstone Life and Health Insurance Company",
        "status": status,
        "effective_date": dt.date(2024, 1, 10),
    }


@pytest.fixture(scope="module")
def template_db(tmp_path_factory, seeded_database) -> Path:
    return seeded_database(
        tmp_path_factory.mktemp("template") / "npnflow.db",
        {
            "producers": pd.DataFrame(
                [
                    {
                        "npn": NPN,
                        "first_name": "Ann",
                        "last_name": "Lee",
                        "agent_type": "Producer",
                        "is_active": True,
                        "sync_status": "Success",
                    }
                ]
            ),
            "licenses": pd.DataFrame(
                [
                    {
                        "npn": NPN,
                        "state_code": "NJ",
                        "license_number": "NJ-1",
                        "license_class_code": "3",
                        "is_resident": False,
                        "is_active": True,
                        "expiration_date": TODAY + dt.timedelta(days=400),
                    }
                ]
            ),
            "appointments": pd.DataFrame(
                [
                    appointment("CA", "16"),
                    appointment("CA", "296"),
                    appointment("NY", "16"),
                    appointment("TX", "825", status="Terminated"),
                    appointment("TX", "16"),
                    appointment("FL", "16"),
                    appointment("NJ", "16"),
                ]
            ),
        },
    )


@pytest.fixture
def pipeline(make_pipeline, template_db):
    return make_pipeline(template_db, TERMINATION_ASSETS)


def test_a_terminate_file_becomes_transactions_and_batches(pipeline):
    upload_id, result = pipeline.drop_and_process(KEY, TERMINATE_FILE, "terminate")
    transactions = pipeline.table("transactions").sort_values(["request_row", "loa_code"])
    assert set(transactions["kind"]) == {"termination"}
    outcomes = {
        (
            int(r.request_row),
            r.state_code,
            r.loa_code,
            None if pd.isna(r.termination_reason_code) else r.termination_reason_code,
            r.eligibility_reason,
            r.status,
        )
        for r in transactions.itertuples()
    }
    assert outcomes == {
        (2, "CA", "16", "VOLUNTARY_TERMINATION", "In Good Standing", statuses.READY_TO_SUBMIT),
        (3, "CA", "296", "DEATH", "In Good Standing", statuses.READY_TO_SUBMIT),
        (4, "NY", "16", None, "Terminations Not Filed Through NIPR In NY", statuses.NOT_ELIGIBLE),
        (5, "TX", "825", "CANCELLED", "Appointment Not Found", statuses.NOT_ELIGIBLE),
        (6, "FL", "16", "VOLUNTARY_TERMINATION",
         "Effective Date More Than 33 Days Back Not Accepted In FL", statuses.NOT_ELIGIBLE),
        (7, "TX", "16", "DEATH", "Termination Reason DEATH Not Accepted In TX",
         statuses.NOT_ELIGIBLE),
        (8, "NJ", "16", "VOLUNTARY_TERMINATION", "In Good Standing", statuses.READY_TO_SUBMIT),
    }  # fmt: skip
    assert set(transactions["upload_id"]) == {upload_id}
    fees = transactions.set_index("request_row")["estimated_fee"].astype(float)
    assert fees[8] == 25.0 and fees[2] == 0.0 and fees[6] == 0.0
    dated = transactions.set_index("request_row")["effective_date"]
    assert pd.Timestamp(dated[3]).date() == TODAY - dt.timedelta(days=5)

    batches = pipeline.table("transaction_batches")
    assert set(batches["kind"]) == {"termination"}
    by_mode = {
        (b.submit_immediately, b.status, int(b.approval_version)) for b in batches.itertuples()
    }
    assert by_mode == {
        (True, statuses.BATCH_APPROVED, 1),  # Submit Immediately: approved automatically
        (False, statuses.BATCH_PENDING_REVIEW, 0),  # the others wait for review
    }
    review = batches[batches["status"] == statuses.BATCH_PENDING_REVIEW].iloc[0]
    assert float(review["estimated_fees"]) == 25.0

    metadata = pipeline.metadata(result)
    assert "Terminations Not Filed Through NIPR In NY" in (
        metadata[TERMINATION_TRANSACTIONS_KEY]["by_reason_and_status"].value
    )
    assert "Submit Immediately = TRUE" in metadata[TERMINATION_BATCHES_KEY]["next"].value


def test_a_second_file_for_the_same_lines_creates_no_second_termination(pipeline):
    pipeline.drop_and_process(KEY, TERMINATE_FILE, "terminate")
    before = len(pipeline.table("transactions"))
    again = TERMINATE_FILE.replace(b"\r\n", b"\n")  # other bytes, same requests
    _, result = pipeline.drop_and_process("inbox/terminate/again.csv", again, "terminate")
    transactions = pipeline.table("transactions")
    created = len(transactions) - before
    # Only the Not Eligible rows are recorded again (the audit); no line is sent twice.
    assert created == 4
    new = transactions.tail(created)
    assert set(new["status"]) == {statuses.NOT_ELIGIBLE}
    repeats = pipeline.metadata(result)[TERMINATION_TRANSACTIONS_KEY]["repeats_not_created"].value
    assert REPEAT_OF_OPEN_TRANSACTION in repeats


def test_approved_terminations_reach_the_submission_sensor(pipeline):
    pipeline.drop_and_process(KEY, TERMINATE_FILE, "terminate")
    batches = pipeline.table("transaction_batches")
    auto = batches[batches["status"] == statuses.BATCH_APPROVED].iloc[0]["batch_id"]
    review = batches[batches["status"] == statuses.BATCH_PENDING_REVIEW].iloc[0]["batch_id"]
    with pipeline.database.begin() as connection:
        approve_batch(connection, review, approved_by="Dana", now=dt.datetime.now(dt.UTC))
    tick = pipeline.sensor_tick("approved_batch_sensor")
    assert sorted(r.run_key for r in tick.run_requests) == sorted([f"{auto}:1", f"{review}:1"])


def test_other_upload_kinds_create_no_termination(pipeline):
    agent = (
        b"Agency NPN,First Name,Last Name,Agent NPN,Agent Email\r\n"
        b"9000001,Ann,Lee,10000001,ann@example.com\r\n"
    )
    pipeline.drop_and_process("inbox/agent/roster.csv", agent, "agent")
    assert pipeline.table("transactions").empty
