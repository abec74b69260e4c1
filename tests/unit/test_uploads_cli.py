"""`npnflow uploads list|show` and `npnflow batches list --upload`, through click's runner, on
a migrated SQLite file seeded with tests/support/answers.py's world, in a throwaway data
folder (NPNFLOW_DATA_DIR) whose bucket holds the roster's error report."""

from __future__ import annotations

import re
import shutil

import pytest
from click.testing import CliRunner

from npnflow.cli import main
from support.answers import (
    APPOINT_AGAIN_ID,
    APPOINT_ID,
    NED,
    NORA,
    ROSTER_ID,
    ROSTER_REPORT_KEY,
    answers_world,
)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    path = tmp_path_factory.mktemp("answers") / "template.db"
    answers_world(path)
    return path


@pytest.fixture
def data_dir(template, tmp_path, monkeypatch):
    shutil.copy(template, tmp_path / "npnflow.db")
    monkeypatch.setenv("NPNFLOW_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("NPNFLOW_DATABASE_URL", raising=False)
    monkeypatch.delenv("NPNFLOW_ENV", raising=False)
    monkeypatch.delenv("DAGSTER_DEPLOYMENT", raising=False)
    return tmp_path


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_list_shows_every_upload_newest_first_within_120_columns_without_nan(data_dir) -> None:
    result = run("uploads", "list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 120
    assert "nan" not in result.output.lower()
    rows = [line for line in lines[2:] if line.split()[0].endswith(".csv")]
    assert [r.split()[0] for r in rows] == [
        "broken.csv",
        "appoint.csv",
        "appoint.csv",
        "roster.csv",
    ]
    assert rows[0].split()[2:4] == ["Rejected", "-"]  # never read row by row: no counts
    assert rows[-1].split()[1:4] == ["agent", "Processed", "2/1"]
    assert "4 upload(s)." in result.output


def test_list_filters_by_kind_and_status_and_limits(data_dir) -> None:
    result = run("uploads", "list", "--kind", "appoint", "--status", "duplicate")
    assert result.exit_code == 0, result.output
    assert APPOINT_AGAIN_ID in result.output and APPOINT_ID not in result.output
    limited = run("uploads", "list", "--limit", "1")
    assert "broken.csv" in limited.output and "roster.csv" not in limited.output
    assert "the newest 1; --limit shows more" in limited.output
    assert "No uploads with kind offboard." in run("uploads", "list", "--kind", "offboard").output


def test_show_by_file_name_is_the_newest_upload_and_lists_the_others(data_dir) -> None:
    result = run("uploads", "show", "appoint.csv")
    assert result.exit_code == 0, result.output
    assert f"Upload {APPOINT_AGAIN_ID}" in result.output
    assert "Status: Duplicate" in result.output
    assert f"Duplicate of {APPOINT_ID} (inbox/appoint/appoint.csv, Processed)" in result.output
    assert "Error report: none (a Duplicate is not read again" in result.output
    assert f"Older uploads of this name (1): show one by its upload id.\n  {APPOINT_ID}" in (
        result.output
    )


def test_show_by_id_key_and_id_start_prints_counts_and_batches(data_dir) -> None:
    by_id = run("uploads", "show", APPOINT_ID).output
    assert "Rows: 2 total, 2 valid, 0 rejected, 0 blank" in by_id
    assert (
        "B-FROM-UPLOAD  appointment 91234  Completed: 2 transaction(s) (1 Not Eligible, 1 Accepted)"
        in by_id
    )
    assert "Error report: none (no row was rejected)." in by_id
    # The key of a name dropped twice is the newest; the start of an id as `list` shortens it.
    assert (
        f"Upload {APPOINT_AGAIN_ID}" in run("uploads", "show", "inbox/appoint/appoint.csv").output
    )
    assert f"Upload {APPOINT_ID}" in run("uploads", "show", APPOINT_ID[:-4] + "…").output


def test_show_an_agent_file_masks_ssns_and_names_the_report_and_its_producers(data_dir) -> None:
    result = run("uploads", "show", "roster.csv")
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"Upload {ROSTER_ID}" in out
    assert f"Error report: {data_dir / 'bucket' / ROSTER_REPORT_KEY}" in out
    assert "row 4 Agent NPN: Agent NPN 'x' must be digits only; SSN ***-**-6789" in out
    assert "123-45-6789" not in out
    assert "Producers this file onboarded (3):" in out
    assert re.search(rf"{NORA}\s+Nora Typo\s+Not Found\s+2026-11-24 09:01 UTC", out)
    assert re.search(rf"{NED}\s+Ned Typo\s+Not Found", out)
    assert "2 of them Not Found at NIPR: check the NPN in the file" in out


def test_a_rejected_file_says_why(data_dir) -> None:
    out = run("uploads", "show", "broken.csv").output
    assert "Status: Rejected" in out and "Why: The file has no NPN column." in out
    assert "Rows:" not in out


def test_an_unknown_name_says_so_and_suggests_the_list(data_dir) -> None:
    result = run("uploads", "show", "nothing.csv")
    assert result.exit_code == 1
    assert "No upload is named 'nothing.csv'" in result.output
    assert "`npnflow uploads list`" in result.output


def test_batches_list_takes_the_file_name_the_key_or_the_id(data_dir) -> None:
    # appoint.csv was dropped twice: its batches are those of both uploads (the newest, a
    # Duplicate, made none).
    for name in ("appoint.csv", "inbox/appoint/appoint.csv", APPOINT_ID):
        result = run("batches", "list", "--upload", name)
        assert result.exit_code == 0, result.output
        assert "B-FROM-UPLOAD" in result.output and "B-REVIEW" not in result.output
    assert "No batches with upload" in run("batches", "list", "--upload", APPOINT_AGAIN_ID).output
    missing = run("batches", "list", "--upload", "nothing.csv")
    assert missing.exit_code == 1 and "No upload is named 'nothing.csv'" in missing.output
