"""No `nan`, `None` or `NaT` anywhere a person reads: each command that prints rows read from
the database, run on rows whose optional cells are empty (a company not in `companies`, a
producer with no name or email, a line with no category, a report cell left NULL).

`npnflow batches list|show` are covered in test_batches_cli.py; `npnflow export terminate` in
test_export_cli.py.
"""

from __future__ import annotations

import re

import pandas as pd
import sqlalchemy as sa
from click.testing import CliRunner

from assets.portal import store
from npnflow.cli import main
from npnflow.display import fit_rows, is_missing, shorten, shown, table_width
from resources.database import OperationalDatabase
from schemas.migrate import upgrade
from support.jit import jit_world
from support.offboarding import ANN, offboarding_world

NOT_FOR_PEOPLE = re.compile(r"\b(nan|NaN|None|NaT|<NA>)\b")


def assert_readable(result) -> None:
    assert result.exit_code == 0, result.output
    found = NOT_FOR_PEOPLE.search(result.output)
    assert found is None, f"{found.group(0)!r} printed:\n{result.output}"


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def _use(path, monkeypatch) -> sa.Engine:
    url = f"sqlite:///{path}"
    monkeypatch.setenv("NPNFLOW_DATABASE_URL", url)
    return sa.create_engine(url)


def test_shown_writes_missing_values_as_a_dash() -> None:
    for missing in (None, float("nan"), pd.NaT, pd.NA):
        assert is_missing(missing) and shown(missing) == "-"
    assert shown(float("nan"), "no email") == "no email"
    assert shown(3.0) == "3" and shown(True) == "yes" and shown("  ") == "-"
    assert shown(pd.Timestamp("2026-11-24 09:05")) == "2026-11-24 09:05"


def test_fit_rows_cuts_the_long_names_not_the_ids() -> None:
    headers = ["batch", "company", "file"]
    rows = [["B-0123456789AB", "91234 " + "Harborstone Mutual " * 4, "x" * 60]]
    fitted = fit_rows(rows, headers, 60, shrinkable=[(1, 10), (2, 12)])
    assert table_width(fitted, headers) <= 60
    assert fitted[0][0] == "B-0123456789AB" and fitted[0][1].startswith("91234 ")
    assert shorten("appoint_jit_now.csv", 9) == "appo….csv"
    assert shorten("91234 Harborstone", 9, keep_end=False) == "91234 Ha…"


def test_jit_list_with_missing_cells(tmp_path, monkeypatch) -> None:
    jit_world(tmp_path / "npnflow.db").engine.dispose()
    engine = _use(tmp_path / "npnflow.db", monkeypatch)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE transactions SET loa_category = NULL, license_number = NULL, "
                "jit_business_date = NULL WHERE status = 'Held (JIT)'"
            )
        )
    engine.dispose()
    result = run("jit", "list")
    assert_readable(result)
    assert "Held (JIT)" in result.output


def test_offboard_with_missing_cells(tmp_path, monkeypatch) -> None:
    offboarding_world(tmp_path / "npnflow.db")
    engine = _use(tmp_path / "npnflow.db", monkeypatch)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE appointments SET company_name = NULL"))
        connection.execute(
            sa.text("UPDATE transactions SET loa_category = NULL, license_number = NULL")
        )
    engine.dispose()
    result = run("offboard", ANN, "--by", "Dana")
    assert_readable(result)
    assert f"NPN {ANN}: Offboarded." in result.output


def test_portal_seats_and_list_with_missing_cells(tmp_path, monkeypatch) -> None:
    url = f"sqlite:///{tmp_path / 'npnflow.db'}"
    upgrade(url)
    database = OperationalDatabase(url=url)
    database.replace_tables({
        "agencies": pd.DataFrame([{"agency_npn": "9000001", "agency_name": "Acme"}]),
        "producers": pd.DataFrame([
            {"npn": "10000001", "first_name": None, "last_name": None,
             "email": "ann@example.com", "agency_npn": "9000001"},
            {"npn": "10000002", "first_name": "Bob", "last_name": None,
             "email": "bob@example.com", "agency_npn": "9000001"},
        ]),
    })  # fmt: skip
    with database.begin() as connection:
        store.apply_portal_setup(connection, pd.DataFrame([
            {"portal_id": "agents", "portal_name": "Agents", "seats_total": 3,
             "registration_url": "https://agents.example/register"},
        ]))  # fmt: skip
    database.engine.dispose()
    monkeypatch.setenv("NPNFLOW_DATABASE_URL", url)
    monkeypatch.setenv("NPNFLOW_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.delenv("NPNFLOW_ENV", raising=False)
    monkeypatch.delenv("DAGSTER_DEPLOYMENT", raising=False)
    assert (
        run(
            "portal", "invite", "--portal", "agents", "--by", "Dana", "10000001", "10000002"
        ).exit_code
        == 0
    )
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE producers SET email = NULL WHERE npn = '10000002'"))
        connection.execute(sa.text("UPDATE portals SET portal_name = NULL"))
    engine.dispose()
    for args in (["portal", "seats"], ["portal", "list"]):
        assert_readable(run(*args))
    listed = run("portal", "list").output
    assert "10000001" in listed and "Bob" in listed


def test_reports_show_with_null_cells(tmp_path, monkeypatch) -> None:
    url = f"sqlite:///{tmp_path / 'npnflow.db'}"
    upgrade(url)
    engine = _use(tmp_path / "npnflow.db", monkeypatch)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "CREATE TABLE rpt_batch_status (batch_id TEXT, company_name TEXT, "
                "approved_at TIMESTAMP, fees REAL)"
            )
        )
        connection.execute(sa.text("INSERT INTO rpt_batch_status VALUES ('B-1', NULL, NULL, NULL)"))
    engine.dispose()
    result = run("reports", "show", "rpt_batch_status")
    assert_readable(result)
    assert "B-1" in result.output
