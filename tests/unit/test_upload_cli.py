"""`npnflow template`, `validate`, `drop` and `ssn-key`, through click's runner (no database)."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from npnflow.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "uploads"


def test_template_writes_csv_and_xlsx(tmp_path):
    runner = CliRunner()
    csv_path, xlsx_path = tmp_path / "agent.csv", tmp_path / "terminate.xlsx"
    assert runner.invoke(main, ["template", "agent", "-o", str(csv_path)]).exit_code == 0
    assert csv_path.read_text().startswith("Agency NPN,First Name,Last Name,Agent NPN")
    result = runner.invoke(
        main, ["template", "terminate", "--format", "xlsx", "-o", str(xlsx_path)]
    )
    assert result.exit_code == 0, result.output
    sheets = load_workbook(xlsx_path).sheetnames
    assert sheets[1:] == ["accepted_values", "termination_reason_key"]


def test_validate_exit_status_and_messages():
    runner = CliRunner()
    valid = runner.invoke(main, ["validate", "agent", str(FIXTURES / "agent_valid.csv")])
    assert valid.exit_code == 0 and "3 valid, 0 rejected" in valid.output
    bad = runner.invoke(main, ["validate", "agent", str(FIXTURES / "agent_bad_values.csv")])
    assert bad.exit_code == 1
    assert "row 2, Agent NPN: Agent NPN '12A45' must be digits only" in bad.output
    assert "123-45-678" not in bad.output
    empty = runner.invoke(main, ["validate", "agent", str(FIXTURES / "empty_0_bytes.csv")])
    assert empty.exit_code == 2 and "file rejected" in empty.output


def test_validate_json_is_machine_readable_with_ssns_masked():
    result = CliRunner().invoke(
        main, ["validate", "agent", str(FIXTURES / "agent_bad_values.csv"), "--json"]
    )
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["rows_rejected"] == 4 and report["rows_valid"] == 1
    ssn = next(e for e in report["errors"] if e["column"] == "Agent SSN")
    assert ssn["row_number"] == 2 and ssn["value"] == "***-**-5678"
    assert "123-45-678" not in result.output


@pytest.mark.parametrize("as_json", [True, False])
def test_validate_never_prints_an_ssn_in_any_shape(as_json):
    files = ("agent_ssn_in_other_columns.csv", "agent_ssn_column_unknown.csv",
             "agent_unicode_digits.csv")  # fmt: skip
    for name in files:
        arguments = ["validate", "agent", str(FIXTURES / name)] + (["--json"] if as_json else [])
        result = CliRunner().invoke(main, arguments)
        assert result.exit_code == 1, result.output
        text = result.output
        if as_json:  # read back, so that escaped digits (\u0663) are digits again
            report = json.loads(text)
            assert report["rows_rejected"] >= 2
            text = json.dumps(report, ensure_ascii=False)
        digits = "".join(str(unicodedata.digit(c)) if c.isdigit() else c for c in text)
        digits = re.sub(r"[\s.\-]", "", digits)
        for ssn in ("37258", "48162", "59371", "68402", "71539", "93741", "94852", "37219"):
            assert ssn not in digits, (name, ssn)
    assert (
        "First Name '***-**-1946' holds a number shaped like an SSN"
        in CliRunner().invoke(main, ["validate", "agent", str(FIXTURES / files[0])]).output
    )


def test_drop_copies_into_the_local_inbox(tmp_path, monkeypatch):
    monkeypatch.setenv("NPNFLOW_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("NPNFLOW_BUCKET_DIR", raising=False)
    result = CliRunner().invoke(main, ["drop", str(FIXTURES / "agent_valid.csv")])
    assert result.exit_code == 0, result.output
    dropped = tmp_path / "bucket" / "inbox" / "agent" / "agent_valid.csv"
    assert dropped.read_bytes() == (FIXTURES / "agent_valid.csv").read_bytes()
    forced = CliRunner().invoke(
        main, ["drop", str(FIXTURES / "agent_valid.csv"), "--kind", "appoint"]
    )
    assert forced.exit_code == 0
    assert (tmp_path / "bucket" / "inbox" / "appoint" / "agent_valid.csv").is_file()


def test_ssn_key_prints_a_fernet_key():
    from cryptography.fernet import Fernet

    key = CliRunner().invoke(main, ["ssn-key"]).output.strip()
    Fernet(key.encode())
