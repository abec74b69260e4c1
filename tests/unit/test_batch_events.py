"""The audit trail (issue 19): each door writes its batch event in the change's own
transaction, and config/approvers.yaml decides who may approve. In-memory SQLite (the
append-only triggers and session_user: tests/integration/test_batch_events_databases.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from assets.batches.approval import (
    BatchActionRefused,
    approve_batch,
    reject_batch,
    retry_batch,
)
from assets.batches.approvers import ApproversConfigError, load_approvers
from assets.batches.events import batch_history, record_dropper
from assets.batches.planning import BATCH_COLUMNS, BatchPlan
from assets.batches.store import write_batch_plan
from schemas import statuses
from schemas.tables import TABLES
from unit.test_batch_approval import COCODE, NOW, UPLOAD, add_batch, connection, ready

__all__ = ["connection"]  # the fixture, shared with the approval tests

APPROVERS = """
four_eyes: {four_eyes}
approvers:
  - cocode: "{cocode}"
    kind: appointment
    names: [Dana Reviewer, Sam Dropper]
    max_fees_per_batch: 100.00
"""


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NPNFLOW_CONFIG_DIR", str(tmp_path))
    return tmp_path


def write_approvers(folder: Path, *, four_eyes: bool = True, text: str | None = None) -> Path:
    path = folder / "approvers.yaml"
    path.write_text(
        text
        if text is not None
        else APPROVERS.format(four_eyes=str(four_eyes).lower(), cocode=COCODE),
        encoding="utf-8",
    )
    return path


def events(connection, batch_id: str) -> list[tuple]:
    return [
        (e.event, e.door, e.actor, e.db_session_user, e.approval_version)
        for e in batch_history(connection, batch_id)
    ]


def drop(connection, by: str) -> None:
    """The upload U-0001's bytes were dropped by `by` (`npnflow drop --by`)."""
    record_dropper(
        connection, content_sha256=UPLOAD, object_key="inbox/appoint/a.csv", by=by, now=NOW
    )


# ===================================================================== events per door
def test_approve_reject_retry_each_write_their_event_with_door_and_version(connection, config_dir):
    add_batch(connection, "B-1", [ready("30.00")])
    add_batch(connection, "B-2", [ready("30.00")])
    approve_batch(connection, "B-1", approved_by="Dana Reviewer", now=NOW)
    reject_batch(connection, "B-2", rejected_by="Lee", now=NOW, door=statuses.DOOR_LAUNCHPAD)
    retry_batch(connection, "B-1", requested_by="Kim", now=NOW)
    assert events(connection, "B-1") == [
        ("approved", "cli", "Dana Reviewer", None, 1),
        ("retried", "cli", "Kim", None, 2),
    ]
    assert events(connection, "B-2") == [("rejected", "launchpad", "Lee", None, 0)]
    detail = batch_history(connection, "B-1")[0].detail
    assert "1 transaction(s) to send, $30.00 in state fees" in detail


def test_a_refused_approval_writes_no_event(connection, config_dir):
    add_batch(connection, "B-1", [ready("30.00")], status=statuses.BATCH_REJECTED)
    with pytest.raises(BatchActionRefused):
        approve_batch(connection, "B-1", approved_by="Dana", now=NOW)
    assert events(connection, "B-1") == []


def test_the_event_rolls_back_with_its_change(connection, config_dir):
    add_batch(connection, "B-1", [ready("30.00")])
    connection.commit()
    transaction = connection.begin()
    approve_batch(connection, "B-1", approved_by="Dana", now=NOW)
    assert len(events(connection, "B-1")) == 1
    transaction.rollback()
    assert events(connection, "B-1") == []
    status = connection.execute(
        sa.select(TABLES["transaction_batches"].c.status).where(
            TABLES["transaction_batches"].c.batch_id == "B-1"
        )
    ).scalar_one()
    assert status == statuses.BATCH_PENDING_REVIEW


def _plan(batch_id: str, status: str, fees: float = 30.0) -> BatchPlan:
    approved = status == statuses.BATCH_APPROVED
    batches = pd.DataFrame(
        [
            {
                "batch_id": batch_id,
                "kind": "appointment",
                "cocode": COCODE,
                "upload_id": UPLOAD,
                "status": status,
                "approval_version": 1 if approved else 0,
                "approved_by": "auto (Submit = TRUE)" if approved else None,
                "approved_at": NOW if approved else None,
                "submit_immediately": approved,
                "estimated_fees": fees,
                "created_at": NOW,
            }
        ],
        columns=list(BATCH_COLUMNS),
    )
    empty = pd.DataFrame()
    return BatchPlan(UPLOAD, "appointment", batches, empty, empty)


def test_an_upload_writes_created_and_its_automatic_approval_by_the_dropper(connection, config_dir):
    drop(connection, "Sam Dropper")
    write_batch_plan(connection, _plan("B-AUTO", statuses.BATCH_APPROVED))
    write_batch_plan(
        connection,
        BatchPlan(
            "U-0002",
            "appointment",
            _plan("B-WAIT", "Pending Review").batches.assign(upload_id="U-0002"),
            pd.DataFrame(),
            pd.DataFrame(),
        ),
    )
    assert events(connection, "B-AUTO") == [
        ("created", "upload", "Sam Dropper", None, 0),
        ("approved", "upload", "Sam Dropper", None, 1),
    ]
    assert events(connection, "B-WAIT") == [("created", "upload", "unknown dropper", None, 0)]


# ===================================================================== who may approve
def test_without_the_file_anyone_named_approves_as_before(connection, config_dir):
    add_batch(connection, "B-1", [ready("500.00")])
    drop(connection, "Sam Dropper")
    result = approve_batch(connection, "B-1", approved_by="Sam Dropper", now=NOW)
    assert result.status == statuses.BATCH_APPROVED


def test_a_name_outside_the_list_is_refused_and_told_who_may(connection, config_dir):
    path = write_approvers(config_dir)
    add_batch(connection, "B-1", [ready("30.00")])
    with pytest.raises(BatchActionRefused) as refused:
        approve_batch(connection, "B-1", approved_by="Mallory", now=NOW)
    assert str(refused.value) == (
        f"Not approved: Mallory may not approve B-1: CoCode {COCODE} appointments are approved "
        f"by Dana Reviewer, Sam Dropper ({path})."
    )
    assert events(connection, "B-1") == []
    # Names match whatever their case and spacing.
    assert (
        approve_batch(connection, "B-1", approved_by=" dana  reviewer", now=NOW).approval_version
        == 1
    )


def test_a_batch_above_the_fee_ceiling_is_refused_whoever_asks(connection, config_dir):
    write_approvers(config_dir)
    add_batch(connection, "B-1", [ready("60.00"), ready("50.00")])
    with pytest.raises(
        BatchActionRefused, match=r"sends \$110.00 in fees, above the ceiling of \$100.00"
    ):
        approve_batch(connection, "B-1", approved_by="Dana Reviewer", now=NOW)


def test_another_cocode_or_kind_has_no_approver(connection, config_dir):
    write_approvers(config_dir)
    add_batch(connection, "B-T", [ready("30.00")], kind="termination")
    with pytest.raises(
        BatchActionRefused, match=f"names no approver for CoCode {COCODE} terminations"
    ):
        approve_batch(connection, "B-T", approved_by="Dana Reviewer", now=NOW)


def test_four_eyes_refuses_the_files_own_dropper(connection, config_dir):
    write_approvers(config_dir, four_eyes=True)
    drop(connection, "Sam Dropper")
    add_batch(connection, "B-1", [ready("30.00")])
    with pytest.raises(BatchActionRefused) as refused:
        approve_batch(connection, "B-1", approved_by="Sam Dropper", now=NOW)
    assert "Sam Dropper dropped the file B-1 came from and may not approve it" in str(refused.value)
    assert "ask Dana Reviewer." in str(refused.value)
    assert (
        approve_batch(connection, "B-1", approved_by="Dana Reviewer", now=NOW).by == "Dana Reviewer"
    )


def test_without_four_eyes_the_dropper_may_approve(connection, config_dir):
    write_approvers(config_dir, four_eyes=False)
    drop(connection, "Sam Dropper")
    add_batch(connection, "B-1", [ready("30.00")])
    assert (
        approve_batch(connection, "B-1", approved_by="Sam Dropper", now=NOW).approval_version == 1
    )


def test_automatic_approval_waits_for_a_listed_approver(connection, config_dir):
    write_approvers(config_dir, four_eyes=True)
    drop(connection, "Sam Dropper")
    write_batch_plan(connection, _plan("B-AUTO", statuses.BATCH_APPROVED))
    row = connection.execute(
        sa.select(TABLES["transaction_batches"]).where(
            TABLES["transaction_batches"].c.batch_id == "B-AUTO"
        )
    ).one()
    assert (row.status, row.approval_version, row.approved_by) == ("Pending Review", 0, None)
    (created,) = batch_history(connection, "B-AUTO")
    assert (
        created.event == "created"
        and "not approved automatically: four_eyes: true" in created.detail
    )


def test_automatic_approval_stands_when_the_dropper_may_approve(connection, config_dir):
    write_approvers(config_dir, four_eyes=False)
    drop(connection, "Sam Dropper")
    write_batch_plan(connection, _plan("B-AUTO", statuses.BATCH_APPROVED))
    assert [e[0] for e in events(connection, "B-AUTO")] == ["created", "approved"]


def test_automatic_approval_above_the_ceiling_waits(connection, config_dir):
    write_approvers(config_dir, four_eyes=False)
    drop(connection, "Sam Dropper")
    write_batch_plan(connection, _plan("B-AUTO", statuses.BATCH_APPROVED, fees=250.0))
    (created,) = batch_history(connection, "B-AUTO")
    assert "above the ceiling" in created.detail


# ===================================================================== config errors
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("approvers: []\n", "approvers: expected a list of entries"),
        ("four_eyes: maybe\napprovers: []\n", "four_eyes: 'maybe' is not true or false"),
        (
            "approvers:\n  - {cocode: 1234, kind: appointment, names: [A]}\n",
            "approvers entry 1: cocode 1234 is not 5 digits",
        ),
        (
            'approvers:\n  - {cocode: "12345", kind: appointments, names: [A]}\n',
            "CoCode 12345: kind 'appointments' is not one of appointment, termination",
        ),
        (
            'approvers:\n  - {cocode: "12345", kind: appointment, names: []}\n',
            "CoCode 12345 appointment: names [] is not a list of names",
        ),
        (
            'approvers:\n  - {cocode: "12345", kind: appointment, names: [A], max_fees_per_batch: lots}\n',
            "max_fees_per_batch 'lots' is not an amount in dollars",
        ),
        (
            'approvers:\n  - {cocode: "12345", kind: appointment, names: [A]}\n'
            '  - {cocode: "12345", kind: appointment, names: [B]}\n',
            "CoCode 12345: appointment is listed twice",
        ),
        ("approver: []\n", "unknown key(s) approver"),
    ],
)
def test_config_errors_name_the_file_and_the_value(config_dir, text, message):
    path = write_approvers(config_dir, text=text)
    with pytest.raises(ApproversConfigError) as error:
        load_approvers()
    assert str(error.value).startswith(f"{path}: ")
    assert message in str(error.value)


def test_a_broken_file_refuses_approval(connection, config_dir):
    write_approvers(config_dir, text="four_eyes: [\n")
    add_batch(connection, "B-1", [ready("30.00")])
    with pytest.raises(BatchActionRefused, match="cannot be checked against the approvers file"):
        approve_batch(connection, "B-1", approved_by="Dana", now=NOW)


def test_the_shipped_example_file_loads(tmp_path):
    shipped = Path(__file__).resolve().parents[2] / "config" / "samples" / "approvers.yaml"
    policy = load_approvers(shipped)
    assert policy is not None and policy.entries
