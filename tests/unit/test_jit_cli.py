"""`npnflow jit list|release|cancel` through click's runner, on a seeded SQLite file holding the
JIT world (tests/support/jit.py), opened at NPNFLOW_DATABASE_URL as in production."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from npnflow.cli import main
from resources.database import OperationalDatabase
from schemas import statuses
from support.jit import ANN, HARBORSTONE, jit_world


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    path = tmp_path_factory.mktemp("jit_cli") / "template.db"
    jit_world(path).engine.dispose()
    return path


@pytest.fixture
def database(template, tmp_path, monkeypatch):
    path = tmp_path / "npnflow.db"
    shutil.copy(template, path)
    url = f"sqlite:///{path}"
    monkeypatch.setenv("NPNFLOW_DATABASE_URL", url)
    database = OperationalDatabase(url=url)
    yield database
    database.engine.dispose()


def run(*args: str):
    return CliRunner().invoke(main, ["jit", *args])


def status_by_state(database) -> dict[str, str]:
    frame = database.read_table("transactions")
    frame = frame[frame["loa_code"] == "16"]
    return dict(zip(frame["state_code"], frame["status"], strict=True))


def test_list_shows_the_held_lines_with_their_deadlines(database) -> None:
    result = run("list")
    assert result.exit_code == 0, result.output
    assert "business date + 45 days" in result.output  # FL
    # GA's clock starts at "contract execution or first business submission", whichever is
    # first: the held line's own day stands for the contract, so it has a due date already.
    assert "(held + 15 days)" in result.output  # GA
    assert "2 line(s): 2 held, 0 released; 0 Late JIT Filing." in result.output
    only_ga = run("list", "--state", "GA", "--cocode", HARBORSTONE)
    assert "1 line(s): 1 held" in only_ga.output and "FL" not in only_ga.output
    assert "No JIT lines overdue." in run("list", "--overdue").output


def test_release_by_npn_and_state_with_a_business_date(database) -> None:
    result = run(
        "release", "--npn", ANN, "--state", "FL", "--business-date", "2026-11-30", "--by", "Dana"
    )
    assert result.exit_code == 0, result.output
    assert "Released 1 line(s) into Approved batch(es) jit-release-91234-" in result.output
    assert "due 2027-01-14" in result.output
    assert status_by_state(database) == {"FL": statuses.READY_TO_SUBMIT, "GA": statuses.HELD_JIT}
    listed = run("list")
    assert "2027-01-14" in listed.output and "1 released" in listed.output


def test_release_from_a_file(database, tmp_path) -> None:
    feed = tmp_path / "first_business.csv"
    feed.write_text(
        f"NPN*,State*,CoCode*,LOA Category,Business Date\n{ANN},GA,{HARBORSTONE},Life,2026-12-01\n"
    )
    result = run("release", "--file", str(feed), "--by", "Dana")
    assert result.exit_code == 0, result.output
    assert status_by_state(database)["GA"] == statuses.READY_TO_SUBMIT


def test_release_needs_one_way_of_naming_lines(database) -> None:
    neither = run("release", "--by", "Dana")
    assert neither.exit_code == 2 and "Name the held lines one way" in neither.output
    both = run("release", "--npn", ANN, "--transaction", "T-1", "--by", "Dana")
    assert both.exit_code == 2
    unknown = run("release", "--transaction", "T-NOPE", "--by", "Dana")
    assert unknown.exit_code == 1 and "No Held (JIT) line for transaction(s) T-NOPE" in (
        unknown.output
    )
    assert set(status_by_state(database).values()) == {statuses.HELD_JIT}


def test_cancel_by_transaction_id(database) -> None:
    frame = database.read_table("transactions")
    ga = frame[(frame["state_code"] == "GA") & (frame["loa_code"] == "16")].iloc[0]
    result = run("cancel", "--transaction", ga["transaction_id"], "--by", "Dana")
    assert result.exit_code == 0, result.output
    assert "Cancelled 1 held line(s):" in result.output
    assert status_by_state(database) == {"FL": statuses.HELD_JIT, "GA": statuses.CANCELLED}
    again = run("cancel", "--transaction", ga["transaction_id"], "--by", "Dana")
    assert again.exit_code == 1 and "nothing cancelled" in again.output


def test_batches_show_flags_a_released_line_unsent_past_its_due_date(database) -> None:
    # Business long ago, within nothing the state refuses: GA takes no effective date.
    result = run(
        "release", "--npn", ANN, "--state", "GA", "--business-date", "2026-01-05", "--by", "Dana"
    )
    assert result.exit_code == 0, result.output
    frame = database.read_table("transactions")
    batch_id = frame[frame["status"] == statuses.READY_TO_SUBMIT]["batch_id"].iloc[0]
    shown = CliRunner().invoke(main, ["batches", "show", batch_id])
    assert shown.exit_code == 0, shown.output
    assert "due 2026-01-20, Late JIT Filing" in shown.output
    overdue = run("list", "--overdue")
    assert "Late JIT Filing" in overdue.output and "1 Late JIT Filing" in overdue.output
