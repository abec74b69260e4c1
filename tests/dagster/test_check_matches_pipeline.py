"""A dry run (`npnflow check`) prints what dropping the same file does: the reasons, statuses
and fees of its preview equal the transactions (and request rejections) the real upload,
appointment and termination assets then write, on the same database. The world is
tests/support/dry_run.py's."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner

from assets.appointments.assets import APPOINTMENT_ASSETS
from assets.terminations.assets import TERMINATION_ASSETS
from npnflow.cli import main
from support.dry_run import APPOINT_FILE, TERMINATE_FILE, world_tables


@pytest.fixture(scope="module")
def template_db(tmp_path_factory, seeded_database) -> Path:
    return seeded_database(tmp_path_factory.mktemp("template") / "npnflow.db", world_tables())


def _dry_run(pipeline, monkeypatch, tmp_path: Path, kind: str, data: bytes) -> set[tuple]:
    source, preview = tmp_path / f"{kind}.csv", tmp_path / f"{kind}.preview.csv"
    source.write_bytes(data)
    monkeypatch.setenv("NPNFLOW_DATABASE_URL", pipeline.database.url)
    result = CliRunner().invoke(main, ["check", kind, str(source), "--preview", str(preview)])
    assert result.exit_code == 0, result.output
    with preview.open(encoding="utf-8-sig", newline="") as handle:
        return {
            (
                int(row["Row"]),
                row["State"],
                row["CoCode"],
                row["LOA"],
                row["Reason"],
                row["Status"],
                float(row["State Fee"]),
                float(row["NIPR Fee"]),
            )
            for row in csv.DictReader(handle)
        }


def _dropped(pipeline, kind: str, data: bytes) -> set[tuple]:
    pipeline.drop_and_process(f"inbox/{kind}/requests.csv", data, kind)
    transactions = pipeline.table("transactions")
    lines = {
        (
            int(t.request_row),
            t.state_code,
            t.cocode,
            t.loa_code,
            t.eligibility_reason,
            t.status,
            float(t.estimated_fee),
            float(t.estimated_nipr_fee),
        )
        for t in transactions.itertuples()
    }
    rejections = pipeline.table("request_rejections")
    return lines | {
        (
            int(r.request_row),
            r.state_code,
            r.cocode,
            r.loa_code or "",
            r.eligibility_reason,
            r.status,
            0.0,
            0.0,
        )
        for r in rejections.itertuples()
    }


def test_the_dry_run_of_an_appoint_file_is_what_dropping_it_makes(
    make_pipeline, template_db, monkeypatch, tmp_path
):
    pipeline = make_pipeline(template_db, APPOINTMENT_ASSETS)
    dry = _dry_run(pipeline, monkeypatch, tmp_path, "appoint", APPOINT_FILE)
    assert pipeline.table("uploads").empty and pipeline.table("transactions").empty
    assert dry == _dropped(pipeline, "appoint", APPOINT_FILE)
    assert len(dry) == 10


def test_the_dry_run_of_a_terminate_file_is_what_dropping_it_makes(
    make_pipeline, template_db, monkeypatch, tmp_path
):
    pipeline = make_pipeline(template_db, TERMINATION_ASSETS)
    dry = _dry_run(pipeline, monkeypatch, tmp_path, "terminate", TERMINATE_FILE)
    assert pipeline.table("uploads").empty
    assert dry == _dropped(pipeline, "terminate", TERMINATE_FILE)
    assert {line[4] for line in dry} == {"In Good Standing", "Appointment Not Found"}


def test_after_the_drop_a_dry_run_shows_its_open_lines_as_repeats(
    make_pipeline, template_db, monkeypatch, tmp_path
):
    pipeline = make_pipeline(template_db, APPOINTMENT_ASSETS)
    pipeline.drop_and_process("inbox/appoint/requests.csv", APPOINT_FILE, "appoint")
    source = tmp_path / "again.csv"
    source.write_bytes(APPOINT_FILE)
    monkeypatch.setenv("NPNFLOW_DATABASE_URL", pipeline.database.url)
    result = CliRunner().invoke(main, ["check", "appoint", str(source)])
    assert result.exit_code == 0, result.output
    # TX 825 (approved), CA 16 (held) and VA 42 (ready) are open: sending them again would pay
    # NIPR twice; the six Not Eligible lines are not sent either: nine lines at $5.00.
    assert "Not Created (Repeat)  3" in result.output
    assert "to send: $0.00 state, $0.00 NIPR" in result.output
    assert "avoided: $45.00 NIPR (9 Not Eligible or repeated line(s) at $5.00" in result.output
