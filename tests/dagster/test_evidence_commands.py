"""Every decision explained (issue 19 item 2), after a real drop of the dry-run world's appoint
and terminate files (tests/support/dry_run.py): every transaction has its evidence row, written
with it; `npnflow explain` on a Not Eligible line names the license or rule that decided it;
`batches show --evidence` explains each printed line; `batches export -o FILE.xlsx` writes every
line with its reason, fee, explanation and evidence, cells neutralised; the batches asset's
metadata names the commands."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from assets.appointments.assets import APPOINTMENT_ASSETS
from assets.rules import evidence as ev
from assets.terminations.assets import TERMINATION_ASSETS
from npnflow.cli import main
from support.dry_run import APPOINT_FILE, NPN, TERMINATE_FILE, world_tables


@pytest.fixture(scope="module")
def template_db(tmp_path_factory, seeded_database) -> Path:
    return seeded_database(tmp_path_factory.mktemp("template") / "npnflow.db", world_tables())


def _cli(pipeline, monkeypatch, *args: str):
    monkeypatch.setenv("NPNFLOW_DATABASE_URL", pipeline.database.url)
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def appointed(make_pipeline, template_db):
    pipeline = make_pipeline(template_db, APPOINTMENT_ASSETS)
    pipeline.drop_and_process("inbox/appoint/requests.csv", APPOINT_FILE, "appoint")
    return pipeline


def test_every_transaction_has_its_evidence_and_every_rejection_its_producer(appointed):
    transactions = appointed.table("transactions")
    evidence = appointed.table("transaction_evidence")
    assert len(transactions) == 9
    assert set(evidence["transaction_id"]) == set(transactions["transaction_id"])
    assert evidence["engine_version"].str.startswith("appointment rules ").all()
    assert set(evidence["decided_by"]) <= set(ev.DECIDED_BY)
    rejections = appointed.table("request_rejections")
    assert list(rejections["decided_by"]) == [ev.DECIDED_BY_PRODUCER]
    assert rejections["engine_version"].notna().all()


def test_explain_a_not_eligible_line_names_the_license_or_rule(appointed, monkeypatch):
    transactions = appointed.table("transactions")
    evidence = appointed.table("transaction_evidence").set_index("transaction_id")
    # Row 6: Harborstone's sister 92345 requires an assignment; none names the producer.
    outside = transactions[transactions["eligibility_reason"].eq("Outside Producer Assignment")]
    transaction_id = outside["transaction_id"].iloc[0]
    assert evidence.loc[transaction_id, "decided_by"] == ev.DECIDED_BY_ASSIGNMENT
    result = _cli(appointed, monkeypatch, "explain", transaction_id)
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "Outside Producer Assignment, status Not Eligible" in out
    assert "requires a producer assignment, and none names producer " + NPN in out
    assert "It is never sent to NIPR, so it costs nothing." in out
    assert "Producer assignment found no" in out
    assert "Engine version appointment rules " in out

    # Row 4: OH with 93456, no license of the rule's class in OH.
    not_found = transactions[
        transactions["state_code"].eq("OH") & transactions["status"].eq("Not Eligible")
    ]
    transaction_id = not_found["transaction_id"].iloc[0]
    result = _cli(appointed, monkeypatch, "explain", transaction_id)
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "Required License Not Found" in out
    assert f"Producer {NPN} holds no license in OH" in out or "does not hold the line" in out


def test_explain_an_unknown_transaction_exits_1(appointed, monkeypatch):
    result = _cli(appointed, monkeypatch, "explain", "T-NOPE")
    assert result.exit_code == 1
    assert "No transaction T-NOPE" in result.output


def test_an_eligible_line_is_explained_by_the_rows_that_passed(appointed, monkeypatch):
    transactions = appointed.table("transactions")
    ready = transactions[transactions["status"].eq("Ready to Submit")]
    transaction_id = ready["transaction_id"].iloc[0]
    result = _cli(appointed, monkeypatch, "explain", transaction_id)
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "Every check passed" in out
    assert "It is sent to NIPR once its batch is approved." in out
    assert "License considered: number " + str(ready["license_number"].iloc[0]) in out


def test_batches_show_evidence_explains_each_printed_line(appointed, monkeypatch):
    batch_id = appointed.table("transactions").groupby("batch_id").size().sort_values().index[-1]
    result = _cli(appointed, monkeypatch, "batches", "show", batch_id, "--evidence")
    assert result.exit_code == 0, result.output
    assert "Evidence of the" in result.output
    assert "Decided by:" in result.output
    without = _cli(appointed, monkeypatch, "batches", "show", batch_id)
    assert "Evidence of the" not in without.output


def test_batches_export_writes_every_line_with_its_evidence(appointed, monkeypatch, tmp_path):
    transactions = appointed.table("transactions")
    batch_id = transactions.groupby("batch_id").size().sort_values().index[-1]
    output = tmp_path / "audit.xlsx"
    result = _cli(appointed, monkeypatch, "batches", "export", batch_id, "-o", str(output))
    assert result.exit_code == 0, result.output
    sheet = load_workbook(output, read_only=True).active
    rows = [[cell for cell in row] for row in sheet.iter_rows(values_only=True)]
    header, lines = rows[0], rows[1:]
    assert len(lines) == int((transactions["batch_id"] == batch_id).sum())
    for column in ("Transaction", "Eligibility reason", "Estimated state fee", "Explanation"):
        assert column in header
    assert "Decided by" in header and "Engine version" in header
    explanation = header.index("Explanation")
    assert all(line[explanation] for line in lines)
    assert all(isinstance(cell, str) for line in lines for cell in line if cell is not None)


def test_batches_export_refuses_another_format(appointed, monkeypatch, tmp_path):
    batch_id = appointed.table("transactions")["batch_id"].iloc[0]
    result = _cli(
        appointed, monkeypatch, "batches", "export", batch_id, "-o", str(tmp_path / "a.pdf")
    )
    assert result.exit_code == 2
    assert ".xlsx or .csv" in result.output


def test_the_batches_asset_metadata_names_the_evidence_commands(make_pipeline, template_db):
    pipeline = make_pipeline(template_db, APPOINTMENT_ASSETS)
    _key, run = pipeline.drop_and_process("inbox/appoint/requests.csv", APPOINT_FILE, "appoint")
    texts = [
        str(getattr(value, "value", value))
        for metadata in pipeline.metadata(run).values()
        for name, value in metadata.items()
        if name == "evidence"
    ]
    assert texts and "--evidence" in texts[0] and "npnflow batches export" in texts[0]


def test_terminations_have_evidence_too(make_pipeline, template_db, monkeypatch):
    pipeline = make_pipeline(template_db, TERMINATION_ASSETS)
    pipeline.drop_and_process("inbox/terminate/requests.csv", TERMINATE_FILE, "terminate")
    transactions = pipeline.table("transactions")
    evidence = pipeline.table("transaction_evidence").set_index("transaction_id")
    assert set(evidence.index) == set(transactions["transaction_id"])
    not_found = transactions[transactions["eligibility_reason"].eq("Appointment Not Found")]
    transaction_id = not_found["transaction_id"].iloc[0]
    assert evidence.loc[transaction_id, "decided_by"] == ev.DECIDED_BY_APPOINTMENT
    result = _cli(pipeline, monkeypatch, "explain", transaction_id)
    assert result.exit_code == 0, result.output
    assert "there is nothing to terminate" in " ".join(result.output.split())
