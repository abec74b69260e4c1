"""`npnflow check appoint|terminate FILE`, the dry run, on a seeded database
(tests/support/dry_run.py's world): it writes nothing (every table's row count, and on SQLite
the database file's bytes, unchanged; SQLite and PostgreSQL), prints the reasons, batches and
fees, compares a JIT switch with --config, writes a preview, and refuses what it cannot
evaluate with a message and exit code 2."""

from __future__ import annotations

import hashlib
import io
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from npnflow.cli import main
from resources import paths
from schemas.tables import metadata
from support.dry_run import APPOINT_FILE, NPN, TERMINATE_FILE, world_tables
from support.seed import seeded_database


def _counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return {
                name: connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                for name, table in metadata.tables.items()
            }
    finally:
        engine.dispose()


def _sqlite_bytes(url: str) -> str | None:
    """The SQLite database's bytes: its file and, in WAL mode, its write-ahead log (where a
    write lands before a checkpoint moves it into the file)."""
    if not url.startswith("sqlite"):
        return None
    path = Path(sa.make_url(url).database or "")
    digest = hashlib.sha256(path.read_bytes())
    wal = path.with_name(path.name + "-wal")
    digest.update(wal.read_bytes() if wal.exists() else b"no wal")
    return digest.hexdigest()


def _check(monkeypatch, url: str, *args: str):
    monkeypatch.setenv("NPNFLOW_DATABASE_URL", url)
    return CliRunner().invoke(main, ["check", *args])


def _file(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def _jit_in_va(tmp_path: Path) -> str:
    """A copy of config/ whose Harborstone appoints in VA just in time (today: not JIT)."""
    folder = tmp_path / "what_if"
    folder.mkdir()
    for name in ("companies.yaml", "gateway_business_rules.csv"):
        shutil.copy(paths.config_dir() / name, folder / name)
    companies = folder / "companies.yaml"
    today = '{state_code: VA, state_company_id: "VA-91234", jit: false}'
    text = companies.read_text(encoding="utf-8")
    assert text.count(today) == 1
    companies.write_text(text.replace(today, today.replace("false", "true")), encoding="utf-8")
    return str(folder)


@pytest.fixture
def seeded_url(database_url):
    seeded_database(database_url, world_tables()).engine.dispose()
    return database_url


@pytest.fixture
def sqlite_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'npnflow.db'}"
    seeded_database(url, world_tables()).engine.dispose()
    return url


def test_a_dry_run_writes_nothing(seeded_url, tmp_path, monkeypatch):
    appoint = _file(tmp_path, "appoint.csv", APPOINT_FILE)
    terminate = _file(tmp_path, "terminate.csv", TERMINATE_FILE)
    before, file_before = _counts(seeded_url), _sqlite_bytes(seeded_url)
    assert before["producers"] == 1 and before["companies"] > 0

    result = _check(
        monkeypatch, seeded_url, "appoint", appoint, "--preview", str(tmp_path / "p.xlsx")
    )
    assert result.exit_code == 0, result.output
    assert "6 rows read: 6 valid, 0 rejected" in result.output
    compared = _check(
        monkeypatch, seeded_url, "appoint", appoint, "--config", _jit_in_va(tmp_path), "--compare"
    )
    assert compared.exit_code == 0, compared.output
    terminated = _check(monkeypatch, seeded_url, "terminate", terminate)
    assert terminated.exit_code == 0, terminated.output

    assert _counts(seeded_url) == before
    assert _sqlite_bytes(seeded_url) == file_before
    assert (tmp_path / "p.xlsx").exists()


def test_the_counts_batches_and_fees_of_an_appoint_file(sqlite_url, tmp_path, monkeypatch):
    result = _check(monkeypatch, sqlite_url, "appoint", _file(tmp_path, "a.csv", APPOINT_FILE))
    assert result.exit_code == 0, result.output
    out = result.output
    lines = {
        line.split("  ")[0].strip(): line for line in out.splitlines() if line.startswith("  ")
    }
    assert "Required License Not Found   Not Eligible      4" in out
    assert "Outside Producer Assignment  Not Eligible      2" in out
    assert "Producer Not Found           Request Rejected  1" in out
    assert "  Held (JIT): 1" in out and "  Ready to Submit: 2" in out
    assert "Batches a drop would create (4):" in out
    assert any("approved automatically  Approved" in line for line in out.splitlines())
    # TX resident $10 (auto) and VA nonresident $7 (for review), NIPR's $5 each; CA held $58.
    assert "to send: $17.00 state, $10.00 NIPR" in out
    assert "held (JIT, paid only when released): 1 line(s), $58.00 state" in out
    # Six Not Eligible lines not sent, at NIPR's appointment fee.
    assert "avoided: $30.00 NIPR (6 Not Eligible" in out
    for word in ("nan", "None", "NaT"):
        assert word not in out.split()
    assert lines  # the tables are indented


def test_compare_a_jit_switch_changes_only_that_state_s_lines(sqlite_url, tmp_path, monkeypatch):
    result = _check(
        monkeypatch,
        sqlite_url,
        "appoint",
        _file(tmp_path, "a.csv", APPOINT_FILE),
        "--config",
        _jit_in_va(tmp_path),
        "--compare",
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "that change with --config" in out and ": 1\n" in out
    changed = [line for line in out.splitlines() if line.startswith(f"  7      {NPN}")]
    assert len(changed) == 1
    assert "VA" in changed[0] and "Ready to Submit  Held (JIT)" in changed[0]
    # Evaluated with the folder's setup: VA's line is held, its $7 no longer sent.
    assert "to send: $10.00 state, $5.00 NIPR" in out


def test_a_terminate_file(sqlite_url, tmp_path, monkeypatch):
    preview = tmp_path / "t.csv"
    result = _check(
        monkeypatch,
        sqlite_url,
        "terminate",
        _file(tmp_path, "t.csv.in", TERMINATE_FILE),
        "--preview",
        str(preview),
    )
    assert result.exit_code == 0, result.output
    assert "Appointment Not Found  Not Eligible     1" in result.output
    assert "In Good Standing       Ready to Submit  1" in result.output
    assert "to send: $25.00 state, $5.00 NIPR" in result.output  # NJ charges $25
    rows = preview.read_text(encoding="utf-8-sig").splitlines()
    assert rows[0].startswith("Row,NPN,State,CoCode")
    assert rows[1].startswith(f"2,{NPN},NJ,91234") and "Ready to Submit,25.00,5.00" in rows[1]
    assert "Appointment Not Found,Not Eligible" in rows[2]


def test_the_xlsx_preview_holds_every_line(sqlite_url, tmp_path, monkeypatch):
    from openpyxl import load_workbook

    preview = tmp_path / "preview.xlsx"
    result = _check(
        monkeypatch,
        sqlite_url,
        "appoint",
        _file(tmp_path, "a.csv", APPOINT_FILE),
        "--preview",
        str(preview),
    )
    assert result.exit_code == 0, result.output
    sheet = load_workbook(io.BytesIO(preview.read_bytes())).worksheets[0]
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0][:4] == ["Row", "NPN", "State", "CoCode"]
    assert len(rows) == 1 + 10  # 9 transactions and the rejected request row
    assert all(isinstance(v, str) or v is None for row in rows for v in row)
    va = next(row for row in rows if row[:2] == ["7", NPN] and row[5] == "42")
    assert va[2:4] == ["VA", "91234"] and "Ready to Submit" in va and "7.00" in va


def test_rejected_rows_are_printed_and_exit_1(sqlite_url, tmp_path, monkeypatch):
    bad_row = APPOINT_FILE + b"\r\n12ab,TX,91234,Life,Producer,TRUE,TRUE"
    result = _check(monkeypatch, sqlite_url, "appoint", _file(tmp_path, "a.csv", bad_row))
    assert result.exit_code == 1, result.output
    assert "7 rows read: 6 valid, 1 rejected" in result.output
    assert "row 8, NPN:" in result.output
    assert "Ready to Submit: 2" in result.output  # the valid rows evaluated still


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--compare"], "--compare needs --config DIR"),
        (["--preview", "out.pdf"], "name a .xlsx or .csv file"),
    ],
)
def test_options_it_cannot_use_exit_2(sqlite_url, tmp_path, monkeypatch, args, message):
    result = _check(
        monkeypatch, sqlite_url, "appoint", _file(tmp_path, "a.csv", APPOINT_FILE), *args
    )
    assert result.exit_code == 2
    assert message in result.output


def test_a_file_rejected_whole_exits_2_with_its_reason(sqlite_url, tmp_path, monkeypatch):
    before = _sqlite_bytes(sqlite_url)
    result = _check(monkeypatch, sqlite_url, "appoint", _file(tmp_path, "x.csv", b"x,y\r\n1,2\r\n"))
    assert result.exit_code == 2
    assert "x.csv: file rejected:" in result.output
    assert "missing the required column(s) NPN, States, CoCode" in result.output
    assert _sqlite_bytes(sqlite_url) == before


def test_a_refused_company_setup_exits_2_naming_the_problem(sqlite_url, tmp_path, monkeypatch):
    folder = Path(_jit_in_va(tmp_path))
    text = (folder / "companies.yaml").read_text(encoding="utf-8")
    (folder / "companies.yaml").write_text(
        text.replace(
            '{state_code: PA, state_company_id: "PA-91234", jit: false}',
            '{state_code: PA, state_company_id: "PA-91234", jit: true}',
        ),
        encoding="utf-8",
    )
    result = _check(
        monkeypatch,
        sqlite_url,
        "appoint",
        _file(tmp_path, "a.csv", APPOINT_FILE),
        "--config",
        str(folder),
    )
    assert result.exit_code == 2
    assert "the company setup is refused" in result.output and "PA" in result.output


def test_without_a_database_it_says_what_to_run(tmp_path, monkeypatch):
    missing = tmp_path / "none" / "npnflow.db"
    result = _check(
        monkeypatch, f"sqlite:///{missing}", "appoint", _file(tmp_path, "a.csv", APPOINT_FILE)
    )
    assert result.exit_code == 2
    assert "No database at" in result.output and "npnflow db upgrade" in result.output
    assert not missing.exists()
