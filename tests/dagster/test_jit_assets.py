"""JIT releases through Dagster: a `jit_release` file dropped into inbox/jit_release/ goes
through the upload assets and `core_jit__released`; `release_jit_job` does the same from the
Launchpad.

Real local resources: a seeded SQLite database holding the JIT world (tests/support/jit.py:
Ann's FL and GA Life lines Held (JIT)), a local bucket, a test instance.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd
import pytest

from assets.jit.assets import JIT_ASSETS
from assets.keys import JIT_RELEASE_KEY, VALIDATED_KEY
from assets.rules.business_day import nipr_business_date
from schemas import statuses
from support.jit import ANN, HARBORSTONE, jit_world

KEY = "inbox/jit_release/first_business.csv"
BUSINESS = nipr_business_date() - dt.timedelta(days=3)
RELEASE_FILE = "\r\n".join(
    [
        "NPN,State,CoCode,LOA Category,Business Date",
        f"{ANN},FL,{HARBORSTONE},Life,{BUSINESS.isoformat()}",  # row 2
        f"{ANN},GA,{HARBORSTONE},,",  # row 3: every held category, business today
        f"12A4,FL,{HARBORSTONE},,",  # row 4: not an NPN
        f"2000009,TX,{HARBORSTONE},,",  # row 5: valid, nothing held
        f"{ANN},ZZ,{HARBORSTONE},,",  # row 6: not a state
    ]
).encode()


@pytest.fixture(scope="module")
def template_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("jit") / "npnflow.db"
    jit_world(path).engine.dispose()
    return path


@pytest.fixture
def pipeline(make_pipeline, template_db):
    return make_pipeline(template_db, JIT_ASSETS)


def _lines(pipeline) -> pd.DataFrame:
    t = pipeline.table("transactions")
    return t[t["loa_code"] == "16"].set_index("state_code")


def test_a_jit_release_file_releases_the_held_lines_it_names(pipeline) -> None:
    partition, result = pipeline.drop_and_process(KEY, RELEASE_FILE, "jit_release")

    upload = pipeline.table("uploads").set_index("upload_id").loc[partition]
    assert upload.kind == "jit_release" and upload.status == "Processed"
    assert (upload.rows_valid, upload.rows_rejected) == (3, 2)
    assert pd.notna(upload.completed_at)
    errors = pipeline.table("upload_row_errors")
    assert errors.groupby("row_number")["column"].agg(set).to_dict() == {
        4: {"NPN"},
        6: {"State"},
    }
    report = pipeline.store.get_bytes(f"{KEY}.errors.csv").decode("utf-8-sig").splitlines()
    assert [line.split(",")[0] for line in report[1:]] == ["4", "6"]

    lines = _lines(pipeline)
    assert set(lines["status"]) == {statuses.READY_TO_SUBMIT}
    (batch_id,) = set(lines["batch_id"])
    batch = pipeline.table("transaction_batches").set_index("batch_id").loc[batch_id]
    assert (batch.kind, batch.status, batch.approval_version, batch.approved_by) == (
        "appointment",
        statuses.BATCH_APPROVED,
        1,
        f"upload {KEY}",
    )
    assert pd.Timestamp(lines.loc["FL", "effective_date"]).date() == BUSINESS
    assert pd.Timestamp(lines.loc["FL", "jit_due_date"]).date() == BUSINESS + dt.timedelta(45)
    assert pd.Timestamp(lines.loc["GA", "jit_due_date"]).date() == (
        nipr_business_date() + dt.timedelta(15)
    )

    released = pipeline.metadata(result)[JIT_RELEASE_KEY]
    assert released["released"].value == 2 and released["not_eligible"].value == 0
    assert released["nothing_held_for"].value == 1
    assert "NPN 2000009" in released["not_matched"].value
    assert batch_id in released["batches_approved"].value
    assert pipeline.metadata(result)[VALIDATED_KEY]["rows_valid"].value == 3


def test_processing_the_file_again_releases_nothing_twice(pipeline) -> None:
    partition, _ = pipeline.drop_and_process(KEY, RELEASE_FILE, "jit_release")
    before = pipeline.table("transactions")
    batches = pipeline.table("transaction_batches")
    result = dg.materialize(
        pipeline.assets,
        partition_key=partition,
        instance=pipeline.instance,
        resources=pipeline.resources,
    )
    assert result.success
    pd.testing.assert_frame_equal(pipeline.table("transactions"), before)
    pd.testing.assert_frame_equal(pipeline.table("transaction_batches"), batches)


def test_the_launchpad_job_releases_with_the_options_of_the_command(pipeline) -> None:
    job = pipeline.defs.resolve_job_def("release_jit_job")
    result = job.execute_in_process(
        run_config={
            "ops": {
                "release_named_jit_lines": {
                    "config": {"npn": ANN, "state": "GA", "released_by": "Dana"}
                }
            }
        },
        instance=pipeline.instance,
        resources={"database": pipeline.database},
    )
    assert result.success
    lines = _lines(pipeline)
    assert lines.loc["GA", "status"] == statuses.READY_TO_SUBMIT
    assert lines.loc["GA", "released_by"] == "Dana"
    assert lines.loc["FL", "status"] == statuses.HELD_JIT


def test_the_launchpad_job_fails_with_the_reason_when_no_line_is_named(pipeline) -> None:
    job = pipeline.defs.resolve_job_def("release_jit_job")
    result = job.execute_in_process(
        run_config={"ops": {"release_named_jit_lines": {"config": {"released_by": "Dana"}}}},
        instance=pipeline.instance,
        resources={"database": pipeline.database},
        raise_on_error=False,
    )
    assert not result.success
    failure = result.failure_data_for_node("release_named_jit_lines")
    assert failure is not None and "Name the held lines" in failure.error.message
    assert set(_lines(pipeline)["status"]) == {statuses.HELD_JIT}
