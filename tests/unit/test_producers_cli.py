"""`npnflow producers show|remove`, through click's runner, on a migrated SQLite file seeded
with tests/support/answers.py's world, in a throwaway data folder (NPNFLOW_DATA_DIR) whose
bucket receives the removal's audit record."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from npnflow.cli import main
from schemas import statuses
from support.answers import NAT, NED, NORA, answers_world
from support.offboarding import ANN


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    path = tmp_path_factory.mktemp("answers") / "template.db"
    answers_world(path)
    return path


@pytest.fixture
def data_dir(template, tmp_path, monkeypatch):
    shutil.copy(template, tmp_path / "npnflow.db")
    monkeypatch.setenv("NPNFLOW_DATA_DIR", str(tmp_path))
    for name in ("NPNFLOW_DATABASE_URL", "NPNFLOW_ENV", "DAGSTER_DEPLOYMENT", "NPNFLOW_BUCKET_DIR"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture
def engine(data_dir):
    engine = sa.create_engine(f"sqlite:///{data_dir / 'npnflow.db'}")
    yield engine
    engine.dispose()


def run(*args: str):
    return CliRunner().invoke(main, ["producers", *args])


def _read(engine, sql: str, **params) -> pd.DataFrame:
    with engine.connect() as connection:
        return pd.read_sql(sa.text(sql), connection, params=params)


def test_show_prints_status_appointments_open_lines_and_seats(data_dir) -> None:
    result = run("show", ANN)
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"Producer {ANN}: Ann Lee <ann@example.com>" in out
    assert "Sync status: Success: NIPR's Entity Info applied" in out
    assert "Agency: Lee Agency (9000001)" in out
    assert "Appointments (6):" in out
    assert "Open transactions (not final) (4):" in out
    for line in ("T-ANN-GA", "T-ANN-TN", "T-ANN-OH", "T-ANN-AZ"):
        assert line in out
    assert "Portal seats and invitations (2):" in out and "Registered" in out
    assert "Licenses: none" in out
    assert "nan" not in out.lower()


def test_show_reads_the_npn_as_nipr_writes_it_and_says_so(data_dir) -> None:
    result = run("show", "0" + NORA)
    assert result.exit_code == 0, result.output
    assert f"NPN 0{NORA} read as {NORA}" in result.output
    assert "Sync status: Not Found: NIPR does not know this NPN" in result.output
    assert "`npnflow producers remove NPN --by NAME`" in result.output


def test_show_an_unknown_npn_says_so(data_dir) -> None:
    result = run("show", "00123")
    assert result.exit_code == 1
    assert "NPN 00123 read as 123" in result.output
    assert "No producer has NPN 123." in result.output


def test_remove_an_unknown_producer_frees_its_seat_and_says_what_it_removed(
    data_dir, engine
) -> None:
    result = run("remove", "0" + NORA, "--by", "Dana")
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"Removed producer {NORA} (Nora Typo), sync status Not Found, by Dana" in out
    assert (
        "Rows removed: portal_users 1, producer_assignments 1, nipr_subscriptions 0, producers 1."
        in out
    )
    assert "Portal seats freed: harborstone" in out
    assert "Transactions cancelled, never sent: T-NORA." in out
    assert _read(engine, "SELECT * FROM producers WHERE npn = :n", n=NORA).empty
    assert _read(engine, "SELECT * FROM portal_users WHERE npn = :n", n=NORA).empty
    line = _read(
        engine, "SELECT status, cancelled_by FROM transactions WHERE transaction_id = 'T-NORA'"
    )
    assert line.iloc[0].tolist() == [statuses.CANCELLED, "Dana"]
    records = list((data_dir / "bucket" / "audit" / "producer_removals").glob(f"{NORA}-*.json"))
    assert len(records) == 1 and f"Audit record: {records[0]}" in out
    record = json.loads(records[0].read_text())
    assert record["removed_by"] == "Dana" and record["npn"] == NORA
    assert record["rows_removed"]["portal_users"] == 1
    assert "ssn_last4" not in record["producer"]


@pytest.mark.parametrize(
    ("npn", "why"),
    [
        (ANN, "is known to NIPR (sync status Success)"),
        (NED, "1 transaction(s) that may have reached the NIPR Gateway: T-NED (Submitted)"),
        (NAT, "T-NAT (Ready to Submit in batch Approved: a submission run may be sending it)"),
        ("777", "No producer has NPN 777: nothing to remove."),
    ],
)
def test_remove_refuses_saying_why_and_changes_nothing(data_dir, engine, npn, why) -> None:
    before = _read(engine, "SELECT COUNT(*) AS n FROM producers").iloc[0, 0]
    result = run("remove", npn, "--by", "Dana")
    assert result.exit_code == 1
    assert why in result.output
    assert _read(engine, "SELECT COUNT(*) AS n FROM producers").iloc[0, 0] == before
    assert not (data_dir / "bucket" / "audit").exists()
