"""From the eligibility engine's rows to the rows written: ids, batches, approval, fees."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from assets.appointments.store import AUTO_APPROVER, plan_appointment_batches
from assets.batches.planning import batch_id_for, transaction_id_for, transaction_ids_for
from assets.batches.store import existing_batches, write_batch_plan
from schemas import statuses
from schemas.tables import TABLES, metadata

NOW = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)
COLUMNS = ["request_row", "npn", "state_code", "cocode", "company_name", "loa_category",
           "loa_code", "license_number", "license_class_code", "is_resident", "agent_type",
           "eligibility_reason", "status", "is_jit", "auto_submit", "estimated_fee",
           "batch_key", "effective_date"]  # fmt: skip


def row(
    request_row,
    npn,
    state,
    cocode,
    loa,
    reason,
    status,
    *,
    auto=False,
    fee=0.0,
    license_number="L1",
    category="Life",
    jit=False,
):
    rejected = status == statuses.REQUEST_REJECTED
    return {
        "request_row": request_row,
        "npn": npn,
        "state_code": state,
        "cocode": cocode,
        "company_name": "Harborstone",
        "loa_category": category,
        "loa_code": None if rejected else loa,
        "license_number": None if rejected else license_number,
        "license_class_code": "3",
        "is_resident": True,
        "agent_type": "Producer",
        "eligibility_reason": reason,
        "status": status,
        "is_jit": jit,
        "auto_submit": auto,
        "estimated_fee": fee,
        "batch_key": None if rejected else f"appointment/{cocode}/{'auto' if auto else 'review'}",
        "effective_date": None,
    }


@pytest.fixture
def evaluated() -> pd.DataFrame:
    return pd.DataFrame(
        [
            row(
                2,
                "100",
                "TX",
                "91234",
                "16",
                "In Good Order",
                statuses.READY_TO_SUBMIT,
                auto=True,
                fee=30.0,
            ),
            row(
                2,
                "100",
                "TX",
                "91234",
                "296",
                "In Good Order",
                statuses.READY_TO_SUBMIT,
                auto=True,
                fee=0.0,
            ),
            row(
                3,
                "200",
                "CA",
                "91234",
                "16",
                "In Good Standing",
                statuses.READY_TO_SUBMIT,
                fee=45.5,
            ),
            row(
                3, "200", "CA", "91234", "296", "Required License Not Found", statuses.NOT_ELIGIBLE
            ),
            row(
                4,
                "300",
                "GA",
                "91234",
                "16",
                "In Good Standing",
                statuses.HELD_JIT,
                fee=20.0,
                jit=True,
            ),
            row(
                5,
                "400",
                "OH",
                "93456",
                None,
                "Company Does Not Appoint for requested loas",
                statuses.NOT_ELIGIBLE,
            ),
            row(6, "999", "TX", "91234", None, "Producer Not Found", statuses.REQUEST_REJECTED),
        ],  # fmt: skip
        columns=COLUMNS,
    )


def test_request_rejections_create_no_transaction(evaluated):
    plan = plan_appointment_batches(evaluated, "U1", NOW)
    assert list(plan.rejections["request_row"]) == [6]
    assert list(plan.rejections["eligibility_reason"]) == ["Producer Not Found"]
    assert "999" not in set(plan.transactions["npn"])
    assert len(plan.transactions) == 6


def test_batches_per_cocode_and_submission_mode(evaluated):
    plan = plan_appointment_batches(evaluated, "U1", NOW)
    by_key = {
        key: plan.batches.set_index("batch_id").loc[batch_id_for("U1", key)]
        for key in (
            "appointment/91234/auto",
            "appointment/91234/review",
            "appointment/93456/review",
        )
    }
    assert len(plan.batches) == 3
    auto = by_key["appointment/91234/auto"]
    assert auto["status"] == statuses.BATCH_APPROVED
    assert auto["approval_version"] == 1  # the sensor's run key starts at version 1
    assert auto["approved_by"] == AUTO_APPROVER and auto["submit_immediately"]
    assert auto["estimated_fees"] == 30.0
    review = by_key["appointment/91234/review"]
    assert review["status"] == statuses.BATCH_PENDING_REVIEW
    assert review["approval_version"] == 0 and pd.isna(review["approved_by"])
    # What approval would send: the ready transaction's fee, not the held or ineligible ones.
    assert review["estimated_fees"] == 45.5
    # Nothing to send or hold: every transaction already final.
    assert by_key["appointment/93456/review"]["status"] == statuses.BATCH_COMPLETED


def test_ids_are_deterministic_and_the_idempotency_key_is_the_transaction_id(evaluated):
    first = plan_appointment_batches(evaluated, "U1", NOW)
    again = plan_appointment_batches(evaluated.sample(frac=1, random_state=3), "U1", NOW)
    assert sorted(first.transactions["transaction_id"]) == sorted(
        again.transactions["transaction_id"]
    )
    assert (first.transactions["idempotency_key"] == first.transactions["transaction_id"]).all()
    assert first.transactions["transaction_id"].is_unique
    other_upload = plan_appointment_batches(evaluated, "U2", NOW)
    assert set(other_upload.transactions["transaction_id"]).isdisjoint(
        first.transactions["transaction_id"]
    )
    record = evaluated.iloc[0].to_dict()
    assert transaction_id_for("U1", record).startswith("T-")


def test_transaction_ids_column_by_column_are_the_ids_of_each_row(evaluated):
    """`transaction_ids_for` digests the frame's columns as `transaction_id_for` digests each
    row's dict: the same ids, missing values (None, NaN) and absent columns included."""
    frame = evaluated.copy()
    frame.loc[frame.index[0], "license_number"] = None
    frame.loc[frame.index[1], "loa_code"] = float("nan")
    for sample in (frame, frame.drop(columns=["license_number"])):
        expected = [transaction_id_for("U1", r) for r in sample.to_dict("records")]
        assert transaction_ids_for("U1", sample) == expected
    planned = plan_appointment_batches(frame, "U1", NOW)
    created = frame[frame["status"].ne(statuses.REQUEST_REJECTED)].to_dict("records")
    assert planned.transactions["transaction_id"].tolist() == [
        transaction_id_for("U1", r) for r in created
    ]


def test_a_repeated_transaction_id_is_refused_not_written(evaluated):
    doubled = pd.concat([evaluated, evaluated.iloc[[0]]], ignore_index=True)
    with pytest.raises(ValueError, match="duplicate transaction ids"):
        plan_appointment_batches(doubled, "U1", NOW)


def _memory_database() -> sa.Engine:
    engine = sa.create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            TABLES["uploads"].insert(),
            [
                {
                    "upload_id": "U1",
                    "object_key": "inbox/appoint/a.csv",
                    "content_sha256": "x",
                    "kind": "appoint",
                    "received_at": NOW,
                    "status": "Processed",
                }
            ],
        )
    return engine


def test_writing_replaces_an_unapproved_evaluation_and_keeps_an_approved_one(evaluated):
    engine = _memory_database()
    plan = plan_appointment_batches(evaluated, "U1", NOW)
    with engine.begin() as connection:
        write_batch_plan(connection, plan)
        # The auto-approved batch may already be on its way to NIPR: not replaceable.
        assert not existing_batches(connection, "U1").replaceable
    without_auto = evaluated[~evaluated["auto_submit"]]
    with engine.begin() as connection:
        connection.execute(TABLES["transactions"].delete())
        connection.execute(TABLES["transaction_batches"].delete())
        connection.execute(TABLES["request_rejections"].delete())
        review_plan = plan_appointment_batches(without_auto, "U1", NOW)
        write_batch_plan(connection, review_plan)
        assert existing_batches(connection, "U1").replaceable
        write_batch_plan(connection, review_plan)  # a re-run: replaced, not doubled
        count = connection.execute(
            sa.select(sa.func.count()).select_from(TABLES["transactions"])
        ).scalar_one()
        assert count == len(review_plan.transactions)
        rejections = connection.execute(
            sa.select(sa.func.count()).select_from(TABLES["request_rejections"])
        ).scalar_one()
        assert rejections == 1
        connection.execute(
            TABLES["transaction_batches"]
            .update()
            .values(status=statuses.BATCH_APPROVED, approval_version=1)
        )
        assert not existing_batches(connection, "U1").replaceable
        with pytest.raises(ValueError, match="already approved or sent"):
            write_batch_plan(connection, review_plan)
