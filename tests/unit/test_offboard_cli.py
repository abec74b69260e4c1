"""`npnflow offboard NPN... --by NAME`, through click's runner, on a migrated SQLite file seeded
with the offboarding world (tests/support/offboarding.py), opened at NPNFLOW_DATABASE_URL as in
production."""

from __future__ import annotations

import re
import shutil

import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from npnflow.cli import main
from schemas import statuses
from schemas.migrate import upgrade
from support.offboarding import ANN, BOB, NOT_OURS, SUMMIT_CO, offboarding_world


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    path = tmp_path_factory.mktemp("offboard_cli") / "template.db"
    offboarding_world(path)
    return path


@pytest.fixture
def engine(template, tmp_path, monkeypatch):
    path = tmp_path / "npnflow.db"
    shutil.copy(template, path)
    url = f"sqlite:///{path}"
    monkeypatch.setenv("NPNFLOW_DATABASE_URL", url)
    engine = sa.create_engine(url)
    yield engine
    engine.dispose()


def run(*args: str):
    return CliRunner().invoke(main, ["offboard", *args])


def _read(engine, sql: str, **params) -> pd.DataFrame:
    with engine.connect() as connection:
        return pd.read_sql(sa.text(sql), connection, params=params)


def test_offboard_prints_terminations_cancellations_revocations_and_batches(engine) -> None:
    result = run(ANN, "--by", "Dana")
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"NPN {ANN}: Offboarded." in out
    assert "Terminated: 4 line(s), 3 Ready to Submit, 1 Not Eligible" in out
    assert "Cancelled: 4 line(s) never sent" in out
    assert (
        "Portal access revoked, seat freed: harborstone (was Registered), summit (was Invited)"
        in out
    )
    batches = _read(
        engine, "SELECT batch_id, status FROM transaction_batches WHERE kind = 'termination'"
    )
    assert len(batches) == 2 and set(batches["status"]) == {statuses.BATCH_PENDING_REVIEW}
    for batch_id in batches["batch_id"]:
        assert batch_id in out
    assert re.search(r"1 of 1 producer\(s\) offboarded\. Batches to approve: B-", out)
    producer = _read(engine, "SELECT is_active, offboarded_by FROM producers WHERE npn = :n", n=ANN)
    assert producer.iloc[0].tolist() == [0, "Dana"]


def test_the_options_reach_every_termination(engine) -> None:
    result = run(
        ANN,
        "--by",
        "Dana",
        "--reason",
        "death",
        "--effective-date",
        "11/30/2026",
        "--cocode",
        SUMMIT_CO,
        "--submit-immediately",
    )
    assert result.exit_code == 0, result.output
    lines = _read(
        engine,
        "SELECT state_code, cocode, termination_reason_code, effective_date FROM transactions "
        "WHERE kind = 'termination'",
    )
    assert lines.to_dict("records") == [
        {
            "state_code": "FL",
            "cocode": SUMMIT_CO,
            "termination_reason_code": "DEATH",
            "effective_date": "2026-11-30",
        }
    ]
    batch = _read(
        engine,
        "SELECT status, approved_by, approval_version FROM transaction_batches "
        "WHERE kind = 'termination'",
    )
    assert batch.iloc[0].tolist() == [statuses.BATCH_APPROVED, "Dana", 1]
    assert "Approved, submitted by approved_batch_sensor" in result.output


def test_unknown_and_already_offboarded_npns_say_so_and_change_nothing(engine) -> None:
    assert run(ANN, "--by", "Dana").exit_code == 0
    count = _read(engine, "SELECT count(*) AS n FROM transactions").at[0, "n"]
    result = run("4242", ANN, "--by", "Eve")
    assert result.exit_code == 0, result.output
    assert (
        "NPN 4242: Producer Not Found. Not a producer on record: nothing changed." in result.output
    )
    assert f"NPN {ANN}: Already Offboarded. Offboarded on " in result.output
    assert "by Dana: nothing changed" in result.output
    assert "0 of 2 producer(s) offboarded." in result.output
    assert _read(engine, "SELECT count(*) AS n FROM transactions").at[0, "n"] == count


def test_a_cocode_not_of_the_customer_is_refused_before_anything_changes(engine) -> None:
    result = run(ANN, BOB, "--by", "Dana", "--cocode", NOT_OURS)
    assert result.exit_code == 1
    assert "CoCode(s) 55555 not among your companies" in result.output
    active = _read(engine, "SELECT is_active FROM producers WHERE npn IN (:a, :b)", a=ANN, b=BOB)
    assert active["is_active"].tolist() == [1, 1]


def test_bad_arguments_are_refused_with_what_to_write(engine) -> None:
    not_npn = run("12-34", "--by", "Dana")
    assert not_npn.exit_code == 2 and "an NPN is digits only" in not_npn.output
    bad_date = run(ANN, "--by", "Dana", "--effective-date", "tomorrow")
    assert bad_date.exit_code == 2 and "YYYY-MM-DD or MM/DD/YYYY" in bad_date.output
    assert run(ANN).exit_code == 2  # --by is required
    assert _read(engine, "SELECT is_active FROM producers WHERE npn = :n", n=ANN).at[0, "is_active"]


def test_an_old_database_is_refused_with_the_command_to_run(tmp_path, monkeypatch) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0005")
    monkeypatch.setenv("NPNFLOW_DATABASE_URL", url)
    result = run(ANN, "--by", "Dana")
    assert result.exit_code == 1
    assert "npnflow db upgrade" in result.output
