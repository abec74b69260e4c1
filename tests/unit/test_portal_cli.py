"""`npnflow portal invite|seats|list`, through click's runner, on a migrated SQLite file and the
embedded default's outbox folder (the commands use NPNFLOW_DATABASE_URL and the environment's
mailer, as in production)."""

from __future__ import annotations

import datetime as dt
import email.policy
from email import message_from_bytes
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from assets.portal import store
from npnflow.portal_cli import portal
from resources.database import OperationalDatabase
from schemas.migrate import upgrade


@pytest.fixture
def setup(tmp_path, monkeypatch) -> dict[str, Path]:
    url = f"sqlite:///{tmp_path / 'npnflow.db'}"
    upgrade(url)
    database = OperationalDatabase(url=url)
    database.replace_tables({
        "agencies": pd.DataFrame([{"agency_npn": "9000001", "agency_name": "Acme"}]),
        "producers": pd.DataFrame([
            {"npn": "10000001", "first_name": "Ann", "last_name": "Lee",
             "email": "ann@example.com", "agency_npn": "9000001"},
            {"npn": "10000002", "first_name": "Bob", "last_name": "Ray",
             "email": "bob@example.com", "agency_npn": None},
        ]),
    })  # fmt: skip
    with database.begin() as connection:
        store.apply_portal_setup(connection, pd.DataFrame([
            {"portal_id": "agents", "portal_name": "Agent Portal", "seats_total": 3,
             "registration_url": "https://agents.example/register"},
        ]))  # fmt: skip
    database.engine.dispose()
    outbox = tmp_path / "outbox"
    monkeypatch.setenv("NPNFLOW_DATABASE_URL", url)
    monkeypatch.setenv("NPNFLOW_OUTBOX_DIR", str(outbox))
    monkeypatch.delenv("NPNFLOW_ENV", raising=False)
    monkeypatch.delenv("DAGSTER_DEPLOYMENT", raising=False)
    return {"outbox": outbox, "db": tmp_path / "npnflow.db"}


def _run(*args: str):
    return CliRunner().invoke(portal, list(args))


def test_invite_prints_each_outcome_and_exits_1_when_some_need_attention(setup) -> None:
    result = _run(
        "invite", "--by", "Dana", "--portal", "Agent Portal", "10000001,10000002", "30000001"
    )

    assert result.exit_code == 1, result.output
    rows = {line.split()[0]: line for line in result.output.splitlines()[2:5]}
    assert rows["10000001"].split()[1:3] == ["Invited", "yes"]
    assert rows["10000002"].split()[1:5] == ["No", "Associated", "Agency", "NPN"]
    assert rows["30000001"].split()[1:4] == ["Producer", "Not", "Found"]
    assert (
        f"1 Invited, 1 Producer Not Found, 1 No Associated Agency. 1 email(s) sent to the outbox "
        f"folder {setup['outbox']}." in result.output
    )
    assert "Sent to: ann@example.com" in result.output
    assert "Agent Portal: 2 of 3 seats left." in result.output
    (eml,) = setup["outbox"].glob("*.eml")
    message = message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    token = message.get_content().split("?token=")[1].split()[0]
    assert token not in result.output  # the token is only in the email


def test_inviting_again_sends_nothing_and_exits_0(setup) -> None:
    assert _run("invite", "--by", "Dana", "--portal", "agents", "10000001").exit_code == 0

    again = _run("invite", "--by", "Dana", "--portal", "AGENT PORTAL", "10000001")

    assert again.exit_code == 0, again.output
    assert "Already Invited" in again.output and "no second email is sent" in again.output
    assert "0 email(s) sent" in again.output
    assert len(list(setup["outbox"].glob("*.eml"))) == 1


def test_an_unknown_portal_is_an_error_naming_the_portals(setup) -> None:
    result = _run("invite", "--by", "Dana", "--portal", "Agency Portal", "10000001")

    assert result.exit_code == 1
    assert "There is no portal named 'Agency Portal'. The portals are: 'Agent Portal'." in (
        " ".join(result.output.split())
    )


def test_seats_and_list(setup) -> None:
    _run("invite", "--by", "Dana", "--portal", "agents", "10000001")

    seats = _run("seats")
    users = _run("list", "--portal", "Agent Portal")

    assert seats.exit_code == 0
    assert seats.output.splitlines()[2].split() == [
        "agents", "Agent", "Portal", "3", "1", "0", "2", "0", "0"
    ]  # fmt: skip
    assert users.exit_code == 0
    row = users.output.splitlines()[2]
    assert row.startswith("agents    10000001  Ann Lee  ann@example.com  Invited")
    assert "sent " in row and row.rstrip().endswith("Dana")
    assert users.output.splitlines()[-1] == "1 portal user(s)."


def test_invite_without_a_name_is_refused_before_anything_is_recorded(setup) -> None:
    missing = _run("invite", "--portal", "agents", "10000001")
    blank = _run("invite", "--by", "  ", "--portal", "agents", "10000001")

    assert missing.exit_code == 2 and "Missing option '--by'" in missing.output
    assert blank.exit_code == 2
    assert "Say who invites (npnflow portal invite --by NAME" in " ".join(blank.output.split())
    with OperationalDatabase(url=f"sqlite:///{setup['db']}").engine.connect() as connection:
        assert store.read_portal_users(connection, ["10000001"]) == {}
    assert not list(setup["outbox"].glob("*.eml"))


def test_list_says_who_invited_and_who_revoked_the_seat(setup) -> None:
    _run("invite", "--by", "Dana Whitfield", "--portal", "agents", "10000001")
    database = OperationalDatabase(url=f"sqlite:///{setup['db']}")
    with database.begin() as connection:
        # An invitation older than migration 0012 recorded its door but no person.
        connection.execute(
            store.portal_users.insert().values(
                npn="10000002", portal_id="agents", status="Invited",
                invitation_source="upload agents-2026.csv",
            )
        )  # fmt: skip
        connection.execute(
            store.portal_users.update()
            .where(store.portal_users.c.npn == "10000001")
            .values(
                status="Revoked",
                revoked_by="Sam Ortiz",
                revoked_at=dt.datetime(2026, 12, 7, 9, 30, tzinfo=dt.UTC),
            )
        )
    database.engine.dispose()

    rows = {line.split()[1]: line for line in _run("list").output.splitlines()[2:4]}

    assert (
        rows["10000001"].rstrip().endswith("Dana Whitfield; revoked by Sam Ortiz 2026-12-07 09:30")
    )
    assert rows["10000002"].rstrip().endswith("(upload agents-2026.csv)")


def test_production_without_smtp_settings_says_which_to_set(setup, monkeypatch) -> None:
    monkeypatch.setenv("NPNFLOW_ENV", "prod")
    for name in ("NPNFLOW_SMTP_HOST", "NPNFLOW_SMTP_FROM"):
        monkeypatch.delenv(name, raising=False)

    result = _run("invite", "--by", "Dana", "--portal", "agents", "10000001")

    assert result.exit_code == 2
    assert (
        "The mailer of environment prod is not configured: set NPNFLOW_SMTP_FROM, "
        "NPNFLOW_SMTP_HOST" in result.output
    )
    with OperationalDatabase(url=f"sqlite:///{setup['db']}").engine.connect() as connection:
        assert store.read_portal_users(connection, ["10000001"]) == {}  # nothing recorded


def test_an_old_database_is_refused_with_the_command_to_run(tmp_path, monkeypatch) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0003")
    monkeypatch.setenv("NPNFLOW_DATABASE_URL", url)

    result = _run("seats")

    assert result.exit_code == 2
    assert "Run `npnflow db upgrade`" in result.output
