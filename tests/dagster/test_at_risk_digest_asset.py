"""`compliance__at_risk_digest` through `materialize()` with the embedded default's outbox: one
.eml per change, metadata saying what was new, still at risk and sent (never an address), a
wrong config/notifications.yaml failing the step naming the file and the value, a missing one
sending nothing; and the daily sync runs it after the appointment standing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import pytest

from assets.compliance.digest_asset import compliance__at_risk_digest
from assets.keys import APPOINTMENT_STANDING_KEY, AT_RISK_DIGEST_KEY
from pipelines.definitions import build_definitions
from resources.database import OperationalDatabase
from resources.mailer import OutboxFolderMailer
from schemas.migrate import upgrade
from schemas.tables import producers
from schemas.tables_compliance import appointment_standing

NOW = dt.datetime(2026, 12, 7, 16, 0, tzinfo=dt.UTC)


def _at_risk(npn: str, state: str) -> dict:
    return {
        "npn": npn, "state_code": state, "cocode": "91234", "loa_code": "16",
        "company_name": "Harborstone Life", "license_ok": False, "resident_ok": True,
        "line_ok": True, "is_at_risk": True, "risk_reason": "license in the state expired",
        "at_risk_since": dt.date(2026, 11, 30), "evaluated_as_of": dt.date(2026, 12, 7),
        "evaluated_at": NOW,
    }  # fmt: skip


@pytest.fixture
def database(tmp_path: Path) -> OperationalDatabase:
    url = f"sqlite:///{tmp_path / 'npnflow.db'}"
    upgrade(url)
    database = OperationalDatabase(url=url)
    with database.begin() as connection:
        connection.execute(
            producers.insert(), {"npn": "10000001", "first_name": "Ann", "last_name": "Lee"}
        )
        connection.execute(appointment_standing.insert(), [_at_risk("10000001", "CA")])
    return database


@pytest.fixture
def config(tmp_path: Path, monkeypatch) -> Path:
    folder = tmp_path / "config"
    folder.mkdir()
    monkeypatch.setenv("NPNFLOW_CONFIG_DIR", str(folder))
    return folder


def _materialize(database, outbox: Path, **config) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [compliance__at_risk_digest],
        resources={"database": database, "mailer": OutboxFolderMailer(folder=str(outbox))},
        run_config={"ops": {"compliance__at_risk_digest": {"config": config}}} if config else None,
        raise_on_error=False,
    )


def _metadata(result: dg.ExecuteInProcessResult) -> dict[str, object]:
    (event,) = result.get_asset_materialization_events()
    materialization = event.materialization
    return {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}


def _failure(result: dg.ExecuteInProcessResult) -> str:
    (event,) = [e for e in result.all_events if e.is_step_failure]
    return event.step_failure_data.user_failure_data.description


def test_the_digest_is_written_to_the_outbox_once_and_the_metadata_says_so(
    database, config, tmp_path
):
    (config / "notifications.yaml").write_text(
        "at_risk_digest:\n  recipients: [desk@carrier.example]\n"
    )
    outbox = tmp_path / "outbox"

    first = _materialize(database, outbox)
    second = _materialize(database, outbox)

    assert first.success and second.success
    (eml,) = outbox.glob("*.eml")
    assert "Ann Lee (NPN 10000001)" in eml.read_text()
    sent = _metadata(first)
    assert (sent["new_at_risk"], sent["still_at_risk"], sent["sent"], sent["recipients"]) == (
        1, 0, True, 1,
    )  # fmt: skip
    assert sent["outcome"] == "sent" and sent["as_of"] == "2026-12-07"
    assert "Ann Lee (NPN 10000001)" in str(sent["new_lines"])
    assert "@" not in " ".join(str(v) for k, v in sent.items() if k != "mail")
    quiet = _metadata(second)
    assert (quiet["new_at_risk"], quiet["still_at_risk"], quiet["sent"]) == (0, 1, False)
    assert quiet["outcome"] == "not sent: nothing became at risk since the last digest"
    # The operator's retell, from the Launchpad's config: nothing unconfirmed, nothing sent.
    retell = _materialize(database, outbox, retell_unconfirmed=True)
    assert retell.success and _metadata(retell)["sent"] is False
    assert len(list(outbox.glob("*.eml"))) == 1


def test_without_the_file_nothing_is_sent_and_the_metadata_says_why(database, config, tmp_path):
    result = _materialize(database, tmp_path / "outbox")

    assert result.success
    metadata = _metadata(result)
    assert (metadata["sent"], metadata["new_at_risk"]) == (False, 1)
    assert metadata["outcome"] == "not sent: no config/notifications.yaml"
    assert not (tmp_path / "outbox").exists()


def test_a_wrong_file_fails_the_step_naming_the_file_and_the_value(database, config, tmp_path):
    (config / "notifications.yaml").write_text("at_risk_digest:\n  recipients: [desk@]\n")

    result = _materialize(database, tmp_path / "outbox")

    assert not result.success
    message = _failure(result)
    assert "notifications.yaml: at_risk_digest.recipients[1]: 'desk@' is not an email address" in (
        message
    )


def test_the_daily_sync_runs_the_digest_after_the_appointment_standing():
    defs = build_definitions("local")
    graph = defs.get_repository_def().asset_graph
    digest = graph.get(AT_RISK_DIGEST_KEY)

    assert digest.group_name == "compliance"
    assert APPOINTMENT_STANDING_KEY in digest.parent_keys
    daily = defs.resolve_job_def("daily_nipr_sync_job")
    assert AT_RISK_DIGEST_KEY in daily.asset_layer.executable_asset_keys
