"""An upload's batches page read from the database (assets/batches/page.py): the status, NIPR's
answers and the next step follow the batches after approval and completion."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from assets.batches.page import read_batches_page, status_summary
from assets.submissions.planning import describe_gateway_answer, describe_gateway_fault
from schemas import statuses
from schemas.tables import TABLES, metadata

UPLOAD = "terminate__t.csv__abc"
T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def connection():
    engine = sa.create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.connect() as connection:
        yield connection
    engine.dispose()


def add_batch(connection, batch_id: str, status: str, lines: list[str], **columns) -> None:
    connection.execute(
        TABLES["transaction_batches"].insert(),
        [
            {
                "batch_id": batch_id,
                "kind": "termination",
                "cocode": "12345",
                "upload_id": UPLOAD,
                "status": status,
                "approval_version": 0,
                "created_at": T0,
                **columns,
            }
        ],
    )
    connection.execute(
        TABLES["transactions"].insert(),
        [
            {
                "transaction_id": f"{batch_id}-{i}",
                "batch_id": batch_id,
                "kind": "termination",
                "npn": f"100{i}",
                "status": line,
                "estimated_fee": 10 if line == statuses.READY_TO_SUBMIT else None,
                "estimated_nipr_fee": 1.5 if line == statuses.READY_TO_SUBMIT else None,
            }
            for i, line in enumerate(lines)
        ],
    )


def test_a_completed_batch_shows_nipr_s_answers_and_nothing_to_approve(connection):
    add_batch(
        connection,
        "B-1",
        statuses.BATCH_COMPLETED,
        [statuses.ACCEPTED, statuses.ACCEPTED, statuses.REJECTED, statuses.NOT_ELIGIBLE],
        approved_by="Ana",
        approval_version=1,
    )
    page = read_batches_page(connection, UPLOAD, "termination")

    assert page.status == statuses.BATCH_COMPLETED
    assert (page.total("accepted"), page.total("rejected"), page.total("to_send")) == (2, 1, 0)
    row = page.table().iloc[0]
    assert (row["accepted"], row["rejected"], row["not_eligible"]) == (2, 1, 1)
    assert row["approval"] == "Ana (v1)"
    assert "approve" not in page.next_step
    assert page.next_step.startswith("Nothing to do")


def test_each_status_gets_its_next_step(connection):
    add_batch(connection, "B-1", statuses.BATCH_PENDING_REVIEW, [statuses.READY_TO_SUBMIT] * 2)
    add_batch(
        connection,
        "B-2",
        statuses.BATCH_APPROVED,
        [statuses.READY_TO_SUBMIT],
        submit_immediately=True,
        approval_version=1,
        approved_by="npnflow (Submit Immediately)",
    )
    add_batch(connection, "B-3", statuses.BATCH_SUBMITTED, [statuses.PENDING_STATE_REVIEW])
    page = read_batches_page(connection, UPLOAD, "termination")

    assert page.status == "1 Pending Review, 1 Approved, 1 Submitted"
    assert "`npnflow batches approve B-1 --by <name>`" in page.next_step
    assert "approved automatically, Submit Immediately = TRUE" in page.next_step
    assert "waiting for NIPR's final answers: B-3" in page.next_step
    assert page.total("in_flight") == 1
    # What is still to send, state fees and NIPR's own fees apart.
    assert (str(page.fees_to_send), str(page.nipr_fees_to_send)) == ("30.00", "4.50")


def test_an_approved_batch_no_longer_asks_for_approval(connection):
    add_batch(connection, "B-1", statuses.BATCH_PENDING_REVIEW, [statuses.READY_TO_SUBMIT])
    assert (
        "npnflow batches approve" in read_batches_page(connection, UPLOAD, "termination").next_step
    )
    batches = TABLES["transaction_batches"]
    connection.execute(
        batches.update().values(
            status=statuses.BATCH_APPROVED, approved_by="Ana", approval_version=1
        )
    )
    page = read_batches_page(connection, UPLOAD, "termination")
    assert page.status == statuses.BATCH_APPROVED
    assert "npnflow batches approve" not in page.next_step
    assert "approved_batch_sensor" in page.next_step


def test_a_rejected_batch_says_who_rejected_it(connection):
    add_batch(connection, "B-1", statuses.BATCH_REJECTED, [statuses.CANCELLED], rejected_by="Bo")
    page = read_batches_page(connection, UPLOAD, "termination")
    assert page.table().iloc[0]["approval"] == "rejected by Bo"
    assert page.total("cancelled") == 1


def test_other_kinds_and_uploads_are_not_on_the_page(connection):
    add_batch(connection, "B-1", statuses.BATCH_COMPLETED, [statuses.ACCEPTED])
    assert read_batches_page(connection, UPLOAD, "appointment").batches.empty
    assert read_batches_page(connection, "other", "termination").status == "No batches"


def test_status_summary_names_one_status_or_counts_each():
    assert status_summary(["Completed", "Completed"]) == "Completed"
    assert status_summary(["Completed", "Pending Review"]) == "1 Pending Review, 1 Completed"


def test_a_gateway_call_is_told_with_its_chunk_count_and_answers():
    line = describe_gateway_answer(
        "B-1", 2, 4, [statuses.ACCEPTED, statuses.ACCEPTED, statuses.REJECTED, None], 1
    )
    assert line.startswith("batch B-1: Gateway call 2: 4 transaction(s) sent; ")
    assert "NIPR answered 2 Accepted, 1 Rejected, 0 Error, 0 Pending State Review" in line
    assert "1 not in the reply" in line
    fault = describe_gateway_fault("B-1", 1, 100, "GatewayUnavailable: 503")
    assert "Gateway call 1: 100 transaction(s) sent; no answer (GatewayUnavailable: 503)" in fault


def test_the_table_shows_rare_counts_only_when_some_batch_has_them(connection):
    add_batch(connection, "B-1", statuses.BATCH_COMPLETED, [statuses.ACCEPTED])
    columns = set(read_batches_page(connection, UPLOAD, "termination").table().columns)
    assert {"accepted", "rejected", "not_eligible"} <= columns
    assert not columns & {"held", "error", "cancelled"}
    add_batch(connection, "B-2", statuses.BATCH_REJECTED, [statuses.CANCELLED])
    assert "cancelled" in read_batches_page(connection, UPLOAD, "termination").table().columns
