"""`npnflow batches list|show|approve|reject|retry`, through click's runner, on a migrated
SQLite file (the commands open the database at NPNFLOW_DATABASE_URL, as in production)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from assets.submissions.lock import batch_lock
from npnflow.cli import main
from schemas import statuses
from schemas.migrate import upgrade
from schemas.tables import TABLES

T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"


def _transaction(batch_id: str, number: int, status: str, fee: str | None, **more) -> dict:
    return {
        "transaction_id": f"T-{batch_id[2:]}-{number}",
        "batch_id": batch_id,
        "kind": "appointment",
        "request_row": number + 1,
        "npn": f"10000{number}",
        "state_code": "TX",
        "cocode": "12345",
        "loa_category": "Life",
        "loa_code": "16",
        "license_number": f"L-{number}",
        "is_jit": status == statuses.HELD_JIT,
        "eligibility_reason": "In Good Standing",
        "status": status,
        "estimated_fee": fee,
        "nipr_status": None,
        "nipr_message": None,
        **more,
    }


@pytest.fixture
def database(tmp_path, monkeypatch):
    """A migrated database with one reviewable batch (B-0001) and one older, completed one."""
    url = f"sqlite:///{tmp_path / 'npnflow.db'}"
    upgrade(url)
    monkeypatch.setenv("NPNFLOW_DATABASE_URL", url)
    # approve, reject and retry record the batch's page on the local Dagster instance.
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            TABLES["companies"].insert(), [{"cocode": "12345", "company_name": "Acme Life"}]
        )
        connection.execute(
            TABLES["uploads"].insert(),
            [
                {
                    "upload_id": "U-0001",
                    "object_key": "inbox/appoint/acme_november.csv",
                    "content_sha256": "abc",
                    "kind": "appoint",
                    "received_at": T0,
                    "status": "processed",
                }
            ],
        )
        # One insert per row: an executemany takes its columns from the first row only.
        for batch in (
            {
                "batch_id": "B-0001",
                "kind": "appointment",
                "cocode": "12345",
                "upload_id": "U-0001",
                "status": statuses.BATCH_PENDING_REVIEW,
                "estimated_fees": "1264.50",
                "created_at": T0,
            },
            {
                "batch_id": "B-0000",
                "kind": "appointment",
                "cocode": "12345",
                "upload_id": None,
                "status": statuses.BATCH_COMPLETED,
                "approval_version": 1,
                "approved_by": "Dana",
                "approved_at": T0 - dt.timedelta(days=3),
                "estimated_fees": "30.00",
                "created_at": T0 - dt.timedelta(days=3),
            },
        ):
            connection.execute(TABLES["transaction_batches"].insert(), [batch])
        connection.execute(
            TABLES["transactions"].insert(),
            [
                _transaction("B-0001", 1, statuses.READY_TO_SUBMIT, "1234.50"),
                _transaction("B-0001", 2, statuses.READY_TO_SUBMIT, "30.00"),
                _transaction("B-0001", 3, statuses.HELD_JIT, "20.00", state_code="GA"),
                _transaction(
                    "B-0001",
                    4,
                    statuses.NOT_ELIGIBLE,
                    None,
                    eligibility_reason="Required License Not Found",
                ),
                _transaction(
                    "B-0000",
                    1,
                    statuses.ACCEPTED,
                    "30.00",
                    nipr_status="Accepted",
                    nipr_message="Appointment processed",
                ),
            ],
        )
        connection.execute(
            TABLES["request_rejections"].insert(),
            [
                {
                    "upload_id": "U-0001",
                    "kind": "appointment",
                    "request_row": 9,
                    "npn": "999",
                    "state_code": "TX",
                    "cocode": "12345",
                    "loa_category": "Life",
                    "eligibility_reason": "Producer Not Found",
                    "status": "Request Rejected",
                }
            ],
        )
    yield engine
    engine.dispose()


def run(*args: str):
    return CliRunner().invoke(main, ["batches", *args])


def batch_row(engine, batch_id: str):
    batches = TABLES["transaction_batches"]
    with engine.connect() as connection:
        return (
            connection.execute(sa.select(batches).where(batches.c.batch_id == batch_id))
            .one()
            ._mapping
        )


def test_commands_refuse_a_database_behind_the_code(tmp_path, monkeypatch):
    missing = tmp_path / "never_migrated.db"
    monkeypatch.setenv("NPNFLOW_DATABASE_URL", f"sqlite:///{missing}")
    for args in (["list"], ["show", "B-0001"], ["approve", "B-0001", "--by", "Dana"]):
        result = run(*args)
        assert result.exit_code == 1, result.output
        assert "npnflow db upgrade" in result.stderr
    assert not missing.exists()  # checking did not create an empty database


def test_list_shows_batches_newest_first_with_counts_and_money(database):
    result = run("list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("B-0001"))
    second = next(i for i, line in enumerate(lines) if line.startswith("B-0000"))
    assert first < second
    assert "12345 Acme Life" in lines[first] and "acme_november.csv" in lines[first]
    assert "2 ready, 1 held, 1 not eligible" in lines[first] and "$1,264.50" in lines[first]
    # A Completed batch says what NIPR answered.
    assert "Completed" in lines[second] and "1 accepted" in lines[second]
    assert "2 batches." in result.output and "--wide" in result.output


def test_list_wide_shows_every_count_fee_and_approval(database):
    result = run("list", "--wide")
    assert result.exit_code == 0, result.output
    pending = next(line for line in result.output.splitlines() if line.startswith("B-0001"))
    cells = pending.split()
    assert "U-0001" in cells and "$1,264.50" in cells and "$20.00" in cells
    version = cells.index("Review") + 1
    assert cells[version : version + 2] == ["0", "4"]  # approval version, lines
    completed = next(line for line in result.output.splitlines() if line.startswith("B-0000"))
    assert re.search(rf"Dana {STAMP}", completed)


def test_list_fits_120_columns_with_a_long_company_and_file_name(database):
    long_name = "Transamerica Financial Life Insurance Company of New York Holdings"
    long_file = "inbox/appoint/2026-11-24 quarterly appointments for the northeast region.xlsx"
    with database.begin() as connection:
        connection.execute(
            TABLES["companies"].update().where(TABLES["companies"].c.cocode == "12345"),
            {"company_name": long_name},
        )
        connection.execute(
            TABLES["uploads"].update().where(TABLES["uploads"].c.upload_id == "U-0001"),
            {"object_key": long_file},
        )
    result = run("list")
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.output.splitlines()) <= 120, result.output
    table = result.output.splitlines()
    pending = next(line for line in table if line.startswith("B-0001"))
    # The ids stay whole (copied into the next command); the names give way.
    assert "B-0001 " in pending and "12345 " in pending and "…" in pending
    assert "2 ready, 1 held, 1 not eligible" in pending
    assert long_name in run("list", "--wide").output


def test_list_and_show_print_no_nan_for_missing_values(database):
    """A batch of a company not in `companies`, with no upload, never approved, and lines
    whose optional cells are empty: every missing value reads as `-` or a word."""
    with database.begin() as connection:
        connection.execute(
            TABLES["transaction_batches"].insert(),
            [
                {
                    "batch_id": "B-0002",
                    "kind": "termination",
                    "cocode": "55555",
                    "upload_id": None,
                    "status": statuses.BATCH_APPROVED,
                    "approval_version": 1,
                    "created_at": None,
                }
            ],
        )
        connection.execute(
            TABLES["transactions"].insert(),
            [
                {
                    "transaction_id": "T-0002-1",
                    "batch_id": "B-0002",
                    "kind": "termination",
                    "npn": "100009",
                    "status": statuses.READY_TO_SUBMIT,
                }
            ],
        )
    outputs = [run(*args) for args in (["list"], ["list", "--wide"], ["show", "B-0002"])]
    for result in outputs:
        assert result.exit_code == 0, result.output
        for word in ("nan", "None", "NaT"):
            assert not re.search(rf"\b{word}\b", result.output), result.output
    assert "55555" in outputs[0].output


def test_show_gives_nipr_message_as_the_reason_of_a_rejected_line(database):
    with database.begin() as connection:
        connection.execute(
            TABLES["transactions"].insert(),
            [
                _transaction(
                    "B-0000",
                    2,
                    statuses.REJECTED,
                    "30.00",
                    nipr_status="Rejected",
                    nipr_message="Producer was not found in the PDB (NIPR 10101)",
                )
            ],
        )
    out = run("show", "B-0000").output
    line = next(line for line in out.splitlines() if line.startswith("3 ") and "T-0000-2" in line)
    # The reason is NIPR's; the eligibility reason stays beside it for the audit.
    assert re.search(r"Rejected\s+Producer was not found in the PDB \(NIPR 10101\)", line)
    assert "In Good Standing" in line
    assert re.search(r"Rejected\s+Producer was not found in the PDB \(NIPR 10101\)\s+1", out)
    assert not re.search(r"Rejected\s+In Good Standing", out)


def test_list_filters(database):
    pending = run("list", "--status", "pending review")  # case does not matter
    assert pending.exit_code == 0 and "B-0001" in pending.output and "B-0000" not in pending.output
    assert "B-0000" in run("list", "--status", "Completed").output
    assert "No batches with status Approved." in run("list", "--status", "Approved").output
    assert "No batches with kind termination." in run("list", "--kind", "termination").output
    by_upload = run("list", "--upload", "U-0001").output
    assert "B-0001" in by_upload and "B-0000" not in by_upload
    assert run("list", "--status", "Pending").exit_code == 2  # not a status: click's usage error


def test_show_prints_header_counts_transactions_and_totals(database):
    result = run("show", "B-0001")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Batch B-0001 (appointment): Acme Life (12345)" in out
    assert "inbox/appoint/acme_november.csv" in out
    assert "Status: Pending Review, approval version 0" in out
    assert re.search(r"Ready to Submit\s+In Good Standing\s+2\s+\$1,264\.50", out)
    assert re.search(r"Held \(JIT\)\s+In Good Standing\s+1\s+\$20\.00", out)
    assert re.search(r"Not Eligible\s+Required License Not Found\s+1\s*$", out, re.MULTILINE)
    for transaction_id in ("T-0001-1", "T-0001-2", "T-0001-3", "T-0001-4"):
        assert transaction_id in out
    assert re.search(r"T-0001-1\s+100001\s+TX\s+Life\s+16\s+L-1\s+no\s+Ready to Submit", out)
    assert "Producer Not Found" in out  # the upload's row that created no transaction
    assert "To send on approval: $1,264.50 (2 transactions Ready to Submit)." in out
    assert "Held (JIT): $20.00 (1 transaction), not sent by approval." in out
    assert "npnflow batches approve B-0001 --by NAME" in out


def test_show_limits_the_transactions_unless_all(database):
    limited = run("show", "B-0001", "--limit", "2")
    assert limited.exit_code == 0
    assert "Transactions (4), the first 2; --all prints every one:" in limited.output
    assert "T-0001-2" in limited.output and "T-0001-3" not in limited.output
    # The totals still cover the whole batch.
    assert "To send on approval: $1,264.50" in limited.output
    everything = run("show", "B-0001", "--all", "--limit", "1")
    assert "T-0001-4" in everything.output and "the first" not in everything.output


def test_show_completed_batch_prints_nipr_answers(database):
    result = run("show", "B-0000")
    assert result.exit_code == 0
    assert "Accepted: Appointment processed" in result.output
    assert re.search(rf"Approved by Dana at {STAMP}", result.output)
    assert "approve B-0000" not in result.output


def test_show_unknown_batch_exits_1_and_points_at_list(database):
    result = run("show", "B-9999")
    assert result.exit_code == 1
    assert "No batch 'B-9999'" in result.stderr and "npnflow batches list" in result.stderr


def test_approve_prints_the_outcome_and_records_it(database):
    result = run("approve", "B-0001", "--by", "Dana")
    assert result.exit_code == 0, result.output
    assert re.fullmatch(
        rf"Approved B-0001 \(version 1\) by Dana at {STAMP}: 2 transactions, \$1,264\.50 to "
        r"send\. 1 transaction Held \(JIT\) \(\$20\.00\) stays held, not sent\. The "
        r"approved_batch_sensor will submit it; follow it in the Dagster UI \(Runs, tag "
        r"npnflow/batch_id=B-0001\)\.\n"
        # Where the UI shows the batch now: its upload's partition, on the Partitions tab.
        r"Its upload's batches page: http://127\.0\.0\.1:3000/assets/core_appointments__batches"
        r"\?view=partitions&partition=U-0001\n",
        result.output,
    )
    row = batch_row(database, "B-0001")
    assert (row["status"], row["approval_version"], row["approved_by"]) == ("Approved", 1, "Dana")

    again = run("approve", "B-0001", "--by", "Lee")
    assert again.exit_code == 1
    assert "Not approved: B-0001 is already Approved, approved by Dana" in again.stderr
    assert batch_row(database, "B-0001")["approval_version"] == 1


def test_approve_refusals_exit_1(database):
    blank = run("approve", "B-0001", "--by", "   ")
    assert blank.exit_code == 1 and "name is required" in blank.stderr
    completed = run("approve", "B-0000", "--by", "Dana")
    assert completed.exit_code == 1 and "is Completed" in completed.stderr
    unknown = run("approve", "B-9999", "--by", "Dana")
    assert unknown.exit_code == 1 and "npnflow batches list" in unknown.stderr
    assert run("approve", "B-0001").exit_code == 2  # --by is required
    assert batch_row(database, "B-0001")["status"] == statuses.BATCH_PENDING_REVIEW


def test_reject_cancels_and_says_so(database):
    result = run("reject", "B-0001", "--by", "Lee")
    assert result.exit_code == 0, result.output
    assert re.match(
        rf"Rejected B-0001 by Lee at {STAMP}: 3 open transactions cancelled \(\$1,264\.50 not "
        r"sent\); 1 Not Eligible kept for audit\.",
        result.output,
    )
    assert batch_row(database, "B-0001")["status"] == statuses.BATCH_REJECTED
    shown = run("show", "B-0001").output
    assert re.search(r"Cancelled\s+In Good Standing\s+3\s+\$1,284\.50", shown)
    assert re.search(rf"Rejected by Lee at {STAMP}", shown)

    again = run("reject", "B-0001", "--by", "Kim")
    assert again.exit_code == 1 and "Rejected by Lee" in again.stderr
    approve = run("approve", "B-0001", "--by", "Kim")
    assert approve.exit_code == 1 and "cannot be approved" in approve.stderr


def test_retry_after_a_failed_run(database):
    pending = run("retry", "B-0001", "--by", "Sam")
    assert pending.exit_code == 1
    assert "npnflow batches approve B-0001" in pending.stderr

    assert run("approve", "B-0001", "--by", "Dana").exit_code == 0
    with database.begin() as connection:  # the run got as far as Submitting, then failed
        batches = TABLES["transaction_batches"]
        connection.execute(
            batches.update()
            .where(batches.c.batch_id == "B-0001")
            .values(status=statuses.BATCH_SUBMITTING)
        )
    result = run("retry", "B-0001", "--by", "Sam")
    assert result.exit_code == 0, result.output
    assert re.match(
        rf"Retry of B-0001 \(version 2\) requested by Sam at {STAMP}: 2 transactions Ready to "
        r"Submit \(\$1,264\.50\) and 0 awaiting NIPR's answer\. The new run first asks NIPR "
        r"what it already has, so nothing is sent twice; the approval stays Dana's",
        result.output,
    )
    row = batch_row(database, "B-0001")
    assert (row["status"], row["approval_version"], row["approved_by"]) == ("Approved", 2, "Dana")

    completed = run("retry", "B-0000", "--by", "Sam")
    assert completed.exit_code == 1 and "is Completed" in completed.stderr


def test_retry_is_refused_while_a_run_holds_the_batch(database):
    # A run still sending (or polling) the batch holds its submission lock: a new approval
    # version would stop that run half-way and leave the new run to find the batch busy.
    assert run("approve", "B-0001", "--by", "Dana").exit_code == 0
    with batch_lock(database, "B-0001"):
        busy = run("retry", "B-0001", "--by", "Sam")
    assert busy.exit_code == 1
    assert busy.stderr == (
        "Not retried: batch B-0001 is being submitted by a run right now (Dagster UI, Runs, "
        "tag npnflow/batch_id=B-0001); retry when it finishes, if it leaves anything to send.\n"
    )
    assert batch_row(database, "B-0001")["approval_version"] == 1
    # The run is over (its lock released): the retry goes through.
    assert run("retry", "B-0001", "--by", "Sam").exit_code == 0
    assert batch_row(database, "B-0001")["approval_version"] == 2


def _page_observations(tmp_path) -> list[dict[str, str]]:
    """The observations the commands recorded on the batch's page (upload U-0001's partition
    of core_appointments__batches), on the local Dagster instance, oldest first."""
    import dagster as dg

    from assets.keys import BATCHES_KEY

    with dg.DagsterInstance.from_config(str(tmp_path / "dagster_home")) as instance:
        records = instance.fetch_observations(
            dg.AssetRecordsFilter(asset_key=BATCHES_KEY, asset_partitions=["U-0001"]), limit=10
        ).records
    return [
        {key: str(value.value) for key, value in record.asset_observation.metadata.items()}
        for record in reversed(records)
    ]


def test_approve_reject_and_retry_record_the_batch_page(database, tmp_path):
    """The page in the UI follows each change: Approved without "approve" as next step, then
    back to Approved by a retry; a refused command records nothing."""
    assert run("approve", "B-0001", "--by", "Dana").exit_code == 0
    with database.begin() as connection:
        batches = TABLES["transaction_batches"]
        connection.execute(
            batches.update()
            .where(batches.c.batch_id == "B-0001")
            .values(status=statuses.BATCH_SUBMITTING)
        )
    assert run("retry", "B-0001", "--by", "Sam").exit_code == 0
    assert run("reject", "B-0001", "--by", "Lee").exit_code == 1  # refused: not recorded

    approved, retried = _page_observations(tmp_path)
    assert approved["recorded_because"] == "approved by Dana (version 1)"
    assert approved["status"] == statuses.BATCH_APPROVED
    assert "Dana (v1)" in approved["batches_table"]
    assert "npnflow batches approve" not in approved["next"]
    assert retried["recorded_because"] == "retry requested by Sam (version 2)"
    assert retried["status"] == statuses.BATCH_APPROVED


def test_reject_records_the_batch_page(database, tmp_path):
    assert run("reject", "B-0001", "--by", "Lee").exit_code == 0
    (rejected,) = _page_observations(tmp_path)
    assert rejected["status"] == statuses.BATCH_REJECTED
    assert "rejected by Lee" in rejected["batches_table"]
