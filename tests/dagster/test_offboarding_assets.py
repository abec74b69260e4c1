"""Offboarding through Dagster: an `offboard` file dropped into inbox/offboard/ goes through the
upload assets and `core_offboarding__producers`; `offboard_producers_job` does the same from
the Launchpad; an agent file onboards an offboarded producer again.

Real local resources: a seeded SQLite database holding the offboarding world
(tests/support/offboarding.py), a local bucket, a test instance.
"""

from __future__ import annotations

import dagster as dg
import pandas as pd
import pytest

from assets.keys import OFFBOARDING_KEY, VALIDATED_KEY
from assets.nipr import store as nipr_store
from assets.nipr.roster import SYNC_RETRY_STATUSES
from assets.offboarding.assets import OFFBOARDING_ASSETS
from schemas import statuses
from support.offboarding import ANN, BOB, CY, HARBORSTONE, SUMMIT_CO, world_tables

KEY = "inbox/offboard/leavers.csv"
OFFBOARD_FILE = "\r\n".join(
    [
        "Agent NPN,Termination Reason Code,Effective Date,CoCodes",
        f"{ANN},,,",  # row 2: every company, default reasons
        f"{BOB},death,,{HARBORSTONE}",  # row 3
        "12A4,,,",  # row 4: not an NPN
        f"{CY},,,55555",  # row 5: not one of the customer's companies
        f"{ANN},,,",  # row 6: listed twice
        "4242,,,",  # row 7: valid, but no such producer
        "1000009,NOT_A_REASON,,",  # row 8: not a termination reason
    ]
).encode()


@pytest.fixture(scope="module")
def template_db(tmp_path_factory, seeded_database):
    return seeded_database(tmp_path_factory.mktemp("offboarding") / "npnflow.db", world_tables())


@pytest.fixture
def pipeline(make_pipeline, template_db):
    return make_pipeline(template_db, OFFBOARDING_ASSETS)


def _producers(pipeline) -> pd.DataFrame:
    return pipeline.table("producers").set_index("npn")


def test_an_offboard_file_offboards_its_valid_rows_and_reports_the_rest(pipeline) -> None:
    partition, result = pipeline.drop_and_process(KEY, OFFBOARD_FILE, "offboard")

    upload = pipeline.table("uploads").set_index("upload_id").loc[partition]
    assert upload.kind == "offboard" and upload.status == "Processed"
    assert (upload.rows_valid, upload.rows_rejected) == (3, 4)
    assert pd.notna(upload.completed_at)
    errors = pipeline.table("upload_row_errors")
    by_row = errors.groupby("row_number")["column"].agg(set).to_dict()
    assert by_row == {
        4: {"Agent NPN"},
        5: {"CoCodes"},
        6: {"Agent NPN"},
        8: {"Termination Reason Code"},
    }
    messages = " ".join(errors["message"])
    assert "not one of your companies" in messages and "already on row 2" in messages
    report = pipeline.store.get_bytes(f"{KEY}.errors.csv").decode("utf-8-sig").splitlines()
    assert [line.split(",")[0] for line in report[1:]] == ["4", "5", "6", "8"]

    producers = _producers(pipeline)
    assert not producers.loc[ANN, "is_active"] and not producers.loc[BOB, "is_active"]
    assert producers.loc[ANN, "offboarded_by"] == f"upload {KEY}"
    assert producers.loc[CY, "is_active"] and pd.isna(producers.loc[CY, "offboarded_at"])

    t = pipeline.table("transactions")
    terminations = t[t["kind"] == "termination"]
    assert set(terminations["upload_id"]) == {partition}
    per_producer = terminations.groupby("npn").size().to_dict()
    assert per_producer == {ANN: 4, BOB: 1}
    bob = terminations[terminations["npn"] == BOB].iloc[0]
    assert (bob.state_code, bob.cocode, bob.termination_reason_code) == ("CA", HARBORSTONE, "DEATH")
    # One termination batch per producer and CoCode, each waiting for review.
    batches = pipeline.table("transaction_batches")
    mine = batches[batches["batch_id"].isin(terminations["batch_id"])]
    assert len(mine) == 3 and set(mine["status"]) == {statuses.BATCH_PENDING_REVIEW}
    assert sorted(mine["cocode"]) == sorted([HARBORSTONE, SUMMIT_CO, HARBORSTONE])
    # Unsent lines cancelled, seats revoked.
    assert set(t.loc[t["npn"].isin([ANN, BOB]) & (t["kind"] == "appointment"), "status"]) == {
        statuses.CANCELLED
    }
    users = pipeline.table("portal_users")
    assert set(users["status"]) == {"Revoked"}

    metadata = pipeline.metadata(result)
    offboarded = metadata[OFFBOARDING_KEY]
    assert offboarded["offboarded"].value == 2 and offboarded["not_found"].value == 1
    assert offboarded["terminations"].value == 5 and offboarded["seats_revoked"].value == 3
    for batch_id in mine["batch_id"]:
        assert batch_id in offboarded["batches_to_approve"].value
    assert "4242" in offboarded["producers_table"].value
    assert metadata[VALIDATED_KEY]["rows_valid"].value == 3


def test_processing_the_file_again_changes_nothing(pipeline) -> None:
    partition, _ = pipeline.drop_and_process(KEY, OFFBOARD_FILE, "offboard")
    before = {name: pipeline.table(name) for name in ("transactions", "producers")}
    result = dg.materialize(
        pipeline.assets,
        partition_key=partition,
        instance=pipeline.instance,
        resources=pipeline.resources,
    )
    assert result.success
    for name, frame in before.items():
        pd.testing.assert_frame_equal(pipeline.table(name), frame)


def test_an_offboarded_producer_onboarded_again_by_an_agent_file_is_active_and_tracked(
    pipeline,
) -> None:
    pipeline.drop_and_process(KEY, OFFBOARD_FILE, "offboard")
    with pipeline.database.begin() as connection:
        assert ANN not in nipr_store.producers_to_sync(connection, SYNC_RETRY_STATUSES)
    agent = "\r\n".join(
        ["Agency NPN,First Name,Last Name,Agent NPN", f"9000001,Ann,Lee,{ANN}"]
    ).encode()
    pipeline.drop_and_process("inbox/agent/ann-back.csv", agent, "agent")
    ann = _producers(pipeline).loc[ANN]
    assert bool(ann["is_active"])
    assert pd.isna(ann["offboarded_at"]) and pd.isna(ann["offboarded_by"])
    assert ann["sync_status"] == "Not Started"
    # Tracked again: the next initial sync fetches it, then the subscriptions run adds it.
    with pipeline.database.begin() as connection:
        assert ANN in nipr_store.producers_to_sync(connection, SYNC_RETRY_STATUSES)


def test_a_file_with_only_npns_outside_the_offboard_folder_offboards_nobody(pipeline) -> None:
    # Offboarding is never guessed from a header: a bare NPN list at the inbox's root is
    # rejected, not taken for an offboard file.
    data = f"Agent NPN\r\n{ANN}\r\n".encode()
    stored = pipeline.store.put_bytes("inbox/npns.csv", data)
    from assets.keys import UPLOADS_PARTITIONS
    from assets.uploads.inbox import partition_key_for

    partition = partition_key_for("inbox/npns.csv", stored.etag)
    pipeline.instance.add_dynamic_partitions(UPLOADS_PARTITIONS.name, [partition])
    dg.materialize(
        pipeline.assets,
        partition_key=partition,
        instance=pipeline.instance,
        resources=pipeline.resources,
        raise_on_error=False,
    )
    upload = pipeline.table("uploads").set_index("upload_id").loc[partition]
    assert upload.status == "Rejected"
    assert bool(_producers(pipeline).loc[ANN, "is_active"])


def test_the_launchpad_job_offboards_with_the_options_of_the_command(pipeline) -> None:
    job = pipeline.defs.resolve_job_def("offboard_producers_job")
    result = job.execute_in_process(
        run_config={
            "ops": {
                "offboard_named_producers": {
                    "config": {
                        "npns": [ANN, "4242"],
                        "offboarded_by": "Dana",
                        "cocodes": [SUMMIT_CO],
                        "submit_immediately": True,
                    }
                }
            }
        },
        instance=pipeline.instance,
        resources={"database": pipeline.database},
    )
    assert result.success
    t = pipeline.table("transactions")
    terminations = t[t["kind"] == "termination"]
    assert terminations[["npn", "state_code", "cocode"]].values.tolist() == [[ANN, "FL", SUMMIT_CO]]
    batch = (
        pipeline.table("transaction_batches")
        .set_index("batch_id")
        .loc[terminations["batch_id"].iloc[0]]
    )
    assert (batch.status, batch.approved_by, batch.approval_version) == (
        statuses.BATCH_APPROVED,
        "Dana",
        1,
    )
    assert _producers(pipeline).loc[ANN, "offboarded_by"] == "Dana"


def test_the_launchpad_job_fails_with_the_reason_for_a_cocode_not_of_the_customer(
    pipeline,
) -> None:
    job = pipeline.defs.resolve_job_def("offboard_producers_job")
    result = job.execute_in_process(
        run_config={
            "ops": {
                "offboard_named_producers": {
                    "config": {"npns": [ANN], "offboarded_by": "Dana", "cocodes": ["55555"]}
                }
            }
        },
        instance=pipeline.instance,
        resources={"database": pipeline.database},
        raise_on_error=False,
    )
    assert not result.success
    failure = result.failure_data_for_node("offboard_named_producers")
    assert failure is not None and "not among your companies" in failure.error.message
    assert bool(_producers(pipeline).loc[ANN, "is_active"])
