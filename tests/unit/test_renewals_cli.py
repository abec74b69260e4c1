"""`npnflow renewals plan` on a migrated SQLite file seeded with the shipped reference tables:
the liability per state, the recommended lines with their reasons, no nan/None/NaT, and the
`--export terminate` file that `npnflow validate terminate` accepts.

`appointment_standing` is filled by the at-risk evaluation (another asset); here its rows are
inserted as that evaluation would write them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from assets.terminations.export import TERMINATE_HEADERS
from npnflow.cli import main
from tests.support.seed import seeded_database

NOT_FOR_PEOPLE = re.compile(r"\b(nan|NaN|None|NaT|<NA>)\b")
COCODE = "91234"
NOW = dt.datetime(2026, 1, 10, 9, 0, tzinfo=dt.UTC)


def _appointment(npn: str, state: str, loa: str, status: str = "Appointed") -> dict:
    return {
        "npn": npn,
        "state_code": state,
        "cocode": COCODE,
        "loa_code": loa,
        "company_name": None,  # a NULL the output must not print as None
        "status": status,
        "effective_date": dt.date(2024, 5, 1),
        "renewal_date": None,
    }


def _standing(npn: str, state: str, loa: str, **flags: bool) -> dict:
    row = {"license_ok": True, "resident_ok": True, "line_ok": True} | flags
    at_risk = not all(row.values())
    reason = "License inactive or expired in the state" if not row["license_ok"] else None
    return {
        "npn": npn, "state_code": state, "cocode": COCODE, "loa_code": loa,
        "company_name": None, "license_number": None, "license_class_code": None, **row,
        "is_at_risk": at_risk, "risk_reason": reason, "at_risk_since": None,
        "renewal_date": None, "evaluated_as_of": NOW.date(), "evaluated_at": NOW,
    }  # fmt: skip


@pytest.fixture
def database(tmp_path, monkeypatch) -> str:
    monkeypatch.setenv("NPNFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("NPNFLOW_BUCKET_DIR", raising=False)
    url = f"sqlite:///{tmp_path / 'npnflow.db'}"
    monkeypatch.setenv("NPNFLOW_DATABASE_URL", url)
    seeded_database(
        url,
        {
            "producers": pd.DataFrame(
                [
                    {"npn": "1000001", "last_name": "Ames", "is_active": True},
                    {"npn": "1000002", "last_name": "Baker", "is_active": False},
                    {"npn": "1000003", "last_name": "Cole", "is_active": True},
                ]
            ),
            "appointments": pd.DataFrame(
                [
                    _appointment("1000001", "NJ", "16"),
                    _appointment("1000001", "NJ", "935"),
                    _appointment("1000002", "NJ", "16"),
                    _appointment("1000003", "AL", "16"),
                    _appointment("1000003", "OH", "16"),
                    _appointment("1000003", "TX", "16"),
                    _appointment("1000003", "AK", "16"),
                    _appointment("1000003", "NJ", "12", status="Terminated"),
                ]
            ),
        },
    )
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            sa.text("INSERT INTO licenses (npn, state_code, license_number, "
                    "license_class_code, is_resident, is_active) VALUES "
                    "('1000001', 'NJ', 'L1', '3', 1, 1)")
        )  # fmt: skip
        table = sa.Table("appointment_standing", sa.MetaData(), autoload_with=connection)
        connection.execute(
            table.insert(),
            [
                _standing("1000001", "NJ", "16"),
                _standing("1000001", "NJ", "935", license_ok=False),
                _standing("1000003", "AL", "16"),
            ],
        )
    engine.dispose()
    return url


def run(*args: str):
    return CliRunner().invoke(main, ["renewals", "plan", *args])


def readable(result) -> str:
    assert result.exit_code == 0, result.output
    found = NOT_FOR_PEOPLE.search(result.output)
    assert found is None, f"{found.group(0)!r} printed:\n{result.output}"
    return result.output


def test_the_plan_prints_liability_and_reasons(database):
    output = readable(run("--cocode", COCODE, "--cycle", "2026", "--as-of", "2026-01-10"))
    assert "Renewal plan for CoCode 91234, cycle 2026, as of 2026-01-10." in output
    nj = next(line for line in output.splitlines() if line.startswith("NJ "))
    # Two NJ appointments at $25 (per company appointment), NIPR's $5 minimum on top.
    assert "2 appointments x $25.00" in nj and "$55.00" in nj
    assert "terminate by 2026-03-27" in nj
    al = next(line for line in output.splitlines() if line.startswith("AL "))
    assert "cut-off 2025-12-31 passed (too late for this renewal)" in al
    assert "OH " in output and "1 line x $15.00" in output
    assert "1000001  NJ     935" in output
    assert "License inactive or expired in the state" in output
    assert "Producer offboarded or inactive" in output
    assert "Not planned: the renewal rule of 1 state is unknown (AK (1) Appointed lines)" in output
    assert "No renewal fee in: TX" in output
    assert (
        "1 line of 2026 can no longer be kept off the renewal (cut-off passed): `--cycle 2027`"
        in output
    )


def test_a_state_filter_and_a_company_with_nothing(database):
    output = readable(run("--cocode", COCODE, "--state", "oh", "--as-of", "2026-01-10"))
    assert "NJ " not in output and "1 line x $15.00" in output
    result = run("--cocode", "92345")
    assert result.exit_code == 1
    assert "CoCode 92345 has no Appointed line in the database." in result.output


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_the_export_is_a_terminate_file_validate_accepts(database, tmp_path, suffix):
    target = tmp_path / f"renewals.{suffix}"
    output = readable(
        run("--cocode", COCODE, "--cycle", "2026", "--as-of", "2026-01-10",
            "--export", "terminate", "-o", str(target))
    )  # fmt: skip
    assert f"Wrote {target}: 2 termination rows for CoCode 91234" in output
    validated = CliRunner().invoke(main, ["validate", "terminate", str(target), "--json"])
    assert validated.exit_code == 0, validated.output
    if suffix == "csv":
        rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
        fields = [TERMINATE_HEADERS[f] for f in ("npn", "state_codes", "line_of_authority")]
        lines = {tuple(r[f] for f in fields) for r in rows}
        assert lines == {("1000001", "NJ", "935"), ("1000002", "NJ", "16")}


def test_nothing_to_export_is_said(database, tmp_path):
    result = run("--cocode", COCODE, "--state", "OH", "--export", "terminate",
                 "-o", str(tmp_path / "x.csv"))  # fmt: skip
    assert result.exit_code == 1
    assert "Nothing to export: no line of CoCode 91234 is recommended" in result.output
