"""An appoint file through the Dagster assets, the approve job and the submission sensor.

Real local resources: a migrated SQLite database with the reference tables and the shipped
company setup (config/companies.yaml, config/gateway_business_rules.csv), a local bucket, and
producers written by hand below. The expected transactions are worked out by hand from
SPEC section 6 and the shipped business rules:

- 91234 in TX (JIT) has Life lines 825 (license class 465) and 16 (class 882);
- 91234 in CA (JIT) has Life lines 16 and 296 (class 3);
- 91234 in VA (not JIT) has Accident & Health line 39, and line 42 "Life & Health", which the
  business rules file under Life and loa_categories maps to both categories;
- 93456 in OH (not JIT) has Life line 16; 92345 requires producer assignments.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from assets.appointments.assets import APPOINTMENT_ASSETS
from assets.keys import BATCHES_KEY, TRANSACTIONS_KEY
from assets.rules.business_day import nipr_business_date
from schemas import statuses

TODAY = dt.date.today()
FAR = TODAY + dt.timedelta(days=700)
NPN = "1000001"
UNKNOWN = "2000002"
APPOINT_FILE = "\r\n".join(
    [
        "NPN,States,CoCode,LOA Category,Agent Type,Submit,Submit Just In Time",
        f"{NPN},TX,91234,Life,Producer,TRUE,TRUE",  # row 2
        f"{NPN},CA,91234,Life,Producer,FALSE,FALSE",  # row 3
        f"{NPN},OH,93456,Life,Producer,FALSE,FALSE",  # row 4
        f"{UNKNOWN},TX,91234,Life,Producer,TRUE,TRUE",  # row 5
        f"{NPN},TX,92345,Property,Producer,FALSE,FALSE",  # row 6
        f"{NPN},VA,91234,Accident & Health,Producer,FALSE,FALSE",  # row 7
    ]
).encode()
KEY = "inbox/appoint/requests.csv"


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
                        "state_code": "TX",
                        "license_number": "TX-1",
                        "license_class_code": "465",
                        "is_resident": True,
                        "is_active": True,
                        "expiration_date": FAR,
                    },
                    {
                        "npn": NPN,
                        "state_code": "CA",
                        "license_number": "CA-1",
                        "license_class_code": "3",
                        "is_resident": False,
                        "is_active": True,
                        "expiration_date": FAR,
                    },
                    {
                        "npn": NPN,
                        "state_code": "VA",
                        "license_number": "VA-1",
                        "license_class_code": "3",
                        "is_resident": False,
                        "is_active": True,
                        "expiration_date": FAR,
                    },
                ]  # fmt: skip
            ),
            "license_loas": pd.DataFrame(
                [
                    {
                        "npn": NPN,
                        "state_code": "TX",
                        "license_number": "TX-1",
                        "license_class_code": "465",
                        "loa_code": "825",
                        "is_active": True,
                    },
                    {
                        "npn": NPN,
                        "state_code": "CA",
                        "license_number": "CA-1",
                        "license_class_code": "3",
                        "loa_code": "16",
                        "is_active": True,
                    },
                    {
                        "npn": NPN,
                        "state_code": "VA",
                        "license_number": "VA-1",
                        "license_class_code": "3",
                        "loa_code": "42",
                        "is_active": True,
                    },
                ]  # fmt: skip
            ),
        },
    )


@pytest.fixture
def pipeline(make_pipeline, template_db):
    return make_pipeline(template_db, APPOINTMENT_ASSETS)


def _outcomes(transactions: pd.DataFrame) -> set[tuple]:
    return {
        (int(r.request_row), r.state_code, r.cocode, r.loa_code, r.eligibility_reason, r.status)
        for r in transactions.itertuples()
    }


def test_an_appoint_file_becomes_transactions_and_batches(pipeline):
    upload_id, result = pipeline.drop_and_process(KEY, APPOINT_FILE, "appoint")
    transactions = pipeline.table("transactions")
    assert _outcomes(transactions) == {
        (2, "TX", "91234", "825", "In Good Order", statuses.READY_TO_SUBMIT),
        (2, "TX", "91234", "16", "Required License Not Found", statuses.NOT_ELIGIBLE),
        (3, "CA", "91234", "16", "In Good Standing", statuses.HELD_JIT),
        (3, "CA", "91234", "296", "Required License Not Found", statuses.NOT_ELIGIBLE),
        (4, "OH", "93456", "16", "Required License Not Found", statuses.NOT_ELIGIBLE),
        (6, "TX", "92345", "108", "Outside Producer Assignment", statuses.NOT_ELIGIBLE),
        (6, "TX", "92345", "843", "Outside Producer Assignment", statuses.NOT_ELIGIBLE),
        (7, "VA", "91234", "42", "In Good Standing", statuses.READY_TO_SUBMIT),
        (7, "VA", "91234", "39", "Required License Not Found", statuses.NOT_ELIGIBLE),
    }
    assert set(transactions["upload_id"]) == {upload_id}
    fees = transactions.set_index(["state_code", "loa_code"])["estimated_fee"].astype(float)
    assert fees[("TX", "825")] == 10.0  # TX resident fee, per appointment
    assert fees[("VA", "42")] == 7.0  # VA nonresident fee, per line
    assert fees[("CA", "16")] == 58.0  # held: what it will cost when sent (CA nonresident)
    assert fees[("CA", "296")] == 0.0  # not eligible: never charged
    rejections = pipeline.table("request_rejections")
    assert list(rejections["request_row"]) == [5]
    assert list(rejections["eligibility_reason"]) == ["Producer Not Found"]

    batches = pipeline.table("transaction_batches").set_index("batch_id")
    by_cocode = {(b.cocode, b.status) for b in batches.itertuples()}
    assert by_cocode == {
        ("91234", statuses.BATCH_APPROVED),  # Submit TRUE: approved automatically
        ("91234", statuses.BATCH_PENDING_REVIEW),  # VA ready, CA held: waits for review
        ("93456", statuses.BATCH_COMPLETED),  # only Not Eligible: nothing to do
        ("92345", statuses.BATCH_COMPLETED),
    }
    auto = batches[batches["status"] == statuses.BATCH_APPROVED].iloc[0]
    assert int(auto["approval_version"]) == 1
    assert float(auto["estimated_fees"]) == 10.0

    materialized = {
        m.asset_key: m.metadata
        for m in (
            e.event_specific_data.materialization for e in result.get_asset_materialization_events()
        )
    }
    reasons = materialized[TRANSACTIONS_KEY]["by_reason_and_status"].value
    assert "Outside Producer Assignment" in reasons and "Producer Not Found" in reasons
    assert "Pending Review" in materialized[BATCHES_KEY]["batches_table"].value


def test_processing_the_upload_again_does_not_duplicate_anything(pipeline):
    upload_id, _ = pipeline.drop_and_process(KEY, APPOINT_FILE, "appoint")
    before = pipeline.table("transactions").sort_values("transaction_id")
    result = dg.materialize(
        APPOINTMENT_ASSETS,
        partition_key=upload_id,
        instance=pipeline.instance,
        resources=pipeline.resources,
    )
    assert result.success
    after = pipeline.table("transactions").sort_values("transaction_id")
    # One batch was approved automatically: the upload's transactions are now history.
    assert list(after["transaction_id"]) == list(before["transaction_id"])
    assert len(pipeline.table("request_rejections")) == 1


def test_the_sensor_requests_one_run_per_batch_and_approval(pipeline):
    pipeline.drop_and_process(KEY, APPOINT_FILE, "appoint")
    batches = pipeline.table("transaction_batches")
    auto = batches[batches["status"] == statuses.BATCH_APPROVED].iloc[0]["batch_id"]
    tick = pipeline.sensor_tick("approved_batch_sensor")
    assert [r.run_key for r in tick.run_requests] == [f"{auto}:1"]
    assert tick.run_requests[0].partition_key == auto
    assert tick.run_requests[0].tags["npnflow/approval_version"] == "1"
    assert list(tick.dynamic_partitions_requests[0].partition_keys) == [auto]

    pending = batches[batches["status"] == statuses.BATCH_PENDING_REVIEW].iloc[0]["batch_id"]
    approve = pipeline.defs.resolve_job_def("approve_batch_job")
    result = approve.execute_in_process(
        instance=pipeline.instance,
        resources={"database": pipeline.database},
        run_config={
            "ops": {
                "approve_pending_batch": {"config": {"batch_id": pending, "approved_by": "Dana"}}
            }
        },
    )
    assert result.success
    approved = pipeline.table("transaction_batches").set_index("batch_id").loc[pending]
    assert approved["status"] == statuses.BATCH_APPROVED
    assert approved["approved_by"] == "Dana" and int(approved["approval_version"]) == 1
    # The audit trail (issue 19): created through the upload (no dropper named), then approved
    # through the Launchpad; the auto-approved batch's approval through the upload.
    events = pipeline.table("batch_events").sort_values("event_id")
    by_batch = {
        batch: group[["event", "door", "actor", "approval_version"]].values.tolist()
        for batch, group in events.groupby("batch_id")
    }
    assert by_batch[pending] == [
        ["created", "upload", "unknown dropper", 0],
        ["approved", "launchpad", "Dana", 1],
    ]
    assert by_batch[auto] == [
        ["created", "upload", "unknown dropper", 0],
        ["approved", "upload", "unknown dropper", 1],
    ]
    tick = pipeline.sensor_tick("approved_batch_sensor")
    assert sorted(r.run_key for r in tick.run_requests) == sorted([f"{auto}:1", f"{pending}:1"])

    # Approving again is refused with a message, and changes nothing.
    again = approve.execute_in_process(
        instance=pipeline.instance,
        resources={"database": pipeline.database},
        run_config={
            "ops": {
                "approve_pending_batch": {"config": {"batch_id": pending, "approved_by": "Dana"}}
            }
        },
        raise_on_error=False,
    )
    assert not again.success
    failure = next(e for e in again.all_events if e.is_step_failure)
    assert "Approved" in failure.event_specific_data.error.message
    assert (
        int(
            pipeline.table("transaction_batches")
            .set_index("batch_id")
            .loc[pending, "approval_version"]
        )
        == 1
    )


def test_an_agent_file_creates_no_transaction(pipeline):
    agent = (
        b"Agency NPN,First Name,Last Name,Agent NPN,Agent Email\r\n"
        b"9000001,Ann,Lee,10000001,ann@example.com\r\n"
    )
    pipeline.drop_and_process("inbox/agent/roster.csv", agent, "agent")
    assert pipeline.table("transactions").empty
    assert pipeline.table("transaction_batches").empty
    tick = pipeline.sensor_tick("approved_batch_sensor")
    assert not tick.run_requests


def test_the_states_effective_date_rules_are_read_from_the_database(pipeline):
    """The reference job loaded config/reference/state_appointment_rules.csv: TX takes no
    date, VA none more than 30 days back, CA none before today."""
    # The step's as-of date is today on NIPR's calendar when it runs (not when this module was
    # imported: a run just after midnight would see yesterday's TODAY as a day back).
    today = nipr_business_date()
    dated = "\r\n".join(
        [
            "NPN,States,CoCode,LOA Category,Agent Type,Submit,Submit Just In Time,Effective Date",
            f"{NPN},TX,91234,Life,Producer,TRUE,TRUE,{today.isoformat()}",  # row 2
            f"{NPN},VA,91234,Accident & Health,Producer,FALSE,FALSE,"
            f"{(today - dt.timedelta(days=60)).isoformat()}",  # row 3
            f"{NPN},CA,91234,Life,Producer,FALSE,FALSE,{today.isoformat()}",  # row 4
        ]
    ).encode()
    pipeline.drop_and_process("inbox/appoint/dated.csv", dated, "appoint")
    transactions = pipeline.table("transactions")
    assert _outcomes(transactions) == {
        (2, "TX", "91234", "825", "Effective Date Not Specifiable In TX", statuses.NOT_ELIGIBLE),
        (2, "TX", "91234", "16", "Required License Not Found", statuses.NOT_ELIGIBLE),
        (
            3,
            "VA",
            "91234",
            "42",
            "Effective Date More Than 30 Days Back Not Accepted In VA",
            statuses.NOT_ELIGIBLE,
        ),
        (3, "VA", "91234", "39", "Required License Not Found", statuses.NOT_ELIGIBLE),
        (4, "CA", "91234", "16", "In Good Standing", statuses.HELD_JIT),
        (4, "CA", "91234", "296", "Required License Not Found", statuses.NOT_ELIGIBLE),
    }
    refused = transactions[transactions["eligibility_reason"].str.startswith("Effective Date")]
    assert refused["estimated_fee"].astype(float).eq(0.0).all()
