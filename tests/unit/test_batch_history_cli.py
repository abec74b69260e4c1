"""`npnflow batches history ID`, `npnflow drop --by NAME`, and an approval refused by
config/approvers.yaml, through the commands (issue 19), on a migrated SQLite file."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from click.testing import CliRunner

from npnflow.cli import main
from schemas.tables import TABLES
from unit.test_batches_cli import database

__all__ = ["database"]  # the fixture: B-0001 Pending Review, B-0000 Completed


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_history_prints_each_event_with_door_who_login_and_version(database):
    approved = run("batches", "approve", "B-0001", "--by", "Dana Reviewer")
    assert approved.exit_code == 0, approved.output
    result = run("batches", "history", "B-0001")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Batch B-0001: 1 event(s), oldest first"
    assert "approved  door cli" in lines[1]
    assert "by Dana Reviewer (database login -), version 1: 2 transaction(s) to send" in lines[1]
    for missing in ("nan", "None", "NaT"):
        assert missing not in result.output


def test_history_of_a_batch_from_before_the_trail_and_of_no_batch(database):
    result = run("batches", "history", "B-0000")
    assert result.exit_code == 0
    assert "B-0000: no event recorded (created before the audit trail" in result.output
    unknown = run("batches", "history", "B-NOPE")
    assert unknown.exit_code == 1
    assert "No batch 'B-NOPE'" in unknown.output


def test_an_approval_outside_the_approvers_file_is_refused_by_the_command(
    database, tmp_path, monkeypatch
):
    config = tmp_path / "config"
    config.mkdir()
    (config / "approvers.yaml").write_text(
        'approvers:\n  - {cocode: "12345", kind: appointment, names: [Lee Supervisor]}\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("NPNFLOW_CONFIG_DIR", str(config))
    result = run("batches", "approve", "B-0001", "--by", "Dana Reviewer")
    assert result.exit_code == 1
    assert (
        "Not approved: Dana Reviewer may not approve B-0001: CoCode 12345 appointments are "
        "approved by Lee Supervisor" in result.output
    )
    assert "no event" in run("batches", "history", "B-0001").output


def test_drop_by_records_the_dropper_of_the_content(database, tmp_path, monkeypatch):
    monkeypatch.setenv("NPNFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("NPNFLOW_BUCKET_DIR", raising=False)
    source = tmp_path / "appoint.csv"
    source.write_bytes(b"NPN,State\n1234567,TX\n")
    result = run("drop", str(source), "--kind", "appoint", "--by", "  Sam   Dropper ")
    assert result.exit_code == 0, result.output
    with database.connect() as connection:  # the fixture's engine
        rows = connection.execute(sa.select(TABLES["upload_droppers"])).all()
    assert [(r.content_sha256, r.dropped_by, r.object_key) for r in rows] == [
        (
            hashlib.sha256(source.read_bytes()).hexdigest(),
            "Sam Dropper",
            "inbox/appoint/appoint.csv",
        )
    ]
    blank = run("drop", str(source), "--kind", "appoint", "--by", " ")
    assert blank.exit_code == 1 and "Say who drops the file" in blank.output
