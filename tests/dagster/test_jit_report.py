"""`rpt_jit_appointments`: held, released, submitted on time and late JIT lines by state and
CoCode, built by `npnflow reports build` on the JIT world (tests/support/jit.py)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from click.testing import CliRunner

from assets.jit.rules import ReleaseRequest
from assets.jit.service import release_held_lines
from assets.reports.relations import read_report
from npnflow.reports_cli import reports as reports_cli
from support.jit import ANN, HARBORSTONE, jit_world

RELEASED = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)


def test_the_report_counts_held_released_on_time_and_late_lines(tmp_path, monkeypatch):
    monkeypatch.setenv("NPNFLOW_ENV", "local")
    monkeypatch.setenv("NPNFLOW_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.delenv("NPNFLOW_DATABASE_URL", raising=False)
    database = jit_world(tmp_path / "npnflow.db")
    # FL: released with business on Nov 30 (due Jan 14), submitted on Dec 2: on time.
    # GA: released with business on Nov 30 (due Dec 15), never sent: late on Dec 20.
    for state in ("FL", "GA"):
        release_held_lines(
            database,
            [ReleaseRequest(npn=ANN, state_code=state, business_date=dt.date(2026, 11, 30))],
            released_by="Dana",
            now=lambda: RELEASED,
        )
    with database.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE transactions SET status = 'Accepted', submitted_at = :at "
                "WHERE state_code = 'FL' AND released_at IS NOT NULL"
            ),
            {"at": dt.datetime(2026, 12, 2, 15, 0)},
        )
    built = CliRunner().invoke(reports_cli, ["build", "--as-of", "2026-12-20"])
    assert built.exit_code == 0, built.output
    assert "rpt_jit_appointments" in built.output
    with database.engine.connect() as connection:
        report = read_report(connection, "rpt_jit_appointments").set_index("report_key")
    database.engine.dispose()
    fl, ga = report.loc[f"FL|{HARBORSTONE}"], report.loc[f"GA|{HARBORSTONE}"]
    assert (fl["held"], fl["released"], fl["submitted_on_time"], fl["late"]) == (0, 1, 1, 0)
    assert (ga["held"], ga["released"], ga["released_unsent"], ga["late"]) == (0, 1, 1, 1)
