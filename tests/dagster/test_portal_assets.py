"""The portal assets through `materialize()` with the embedded default's resources: the portal
setup loads from config/portals.yaml without losing anyone's seat, and a portal_invite upload
writes one .eml per invitation into the outbox folder; other uploads skip."""

from __future__ import annotations

import email.policy
from email import message_from_bytes
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa
import yaml

from assets.keys import UPLOADS_PARTITIONS
from assets.portal import store
from assets.portal.assets import core_config__portals, core_portal__invited
from assets.uploads.inbox import partition_key_for
from assets.uploads.ledger import run_tags
from pipelines.jobs import invite_to_portal_job
from resources.database import OperationalDatabase
from resources.mailer import OutboxFolderMailer
from schemas.tables import upload_request_rows

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
PORTALS = [
    {"portal_id": "agents", "portal_name": "Agent Portal", "seats_total": 2,
     "registration_url": "https://agents.example/register"},
    {"portal_id": "spare", "portal_name": "Spare Portal", "seats_total": 1,
     "registration_url": "https://spare.example/register"},
]  # fmt: skip


@pytest.fixture(scope="module")
def template_db(seeded_database, tmp_path_factory) -> Path:
    producers = pd.DataFrame(
        [
            {"npn": "10000001", "first_name": "Ann", "last_name": "Lee",
             "email": "ann@example.com", "agency_npn": "9000001"},
            {"npn": "10000002", "first_name": "Bob", "last_name": "Ray",
             "email": None, "agency_npn": "9000001"},
        ]
    )  # fmt: skip
    agencies = pd.DataFrame([{"agency_npn": "9000001", "agency_name": "Acme"}])
    path = tmp_path_factory.mktemp("portal") / "template.db"
    return seeded_database(path, {"agencies": agencies, "producers": producers})


@pytest.fixture
def config(tmp_path: Path, monkeypatch) -> Path:
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "portals.yaml").write_text(yaml.safe_dump({"portals": PORTALS}))
    monkeypatch.setenv("NPNFLOW_CONFIG_DIR", str(folder))
    return folder


def _load(database: OperationalDatabase, instance=None, *, raise_on_error: bool = True):
    return dg.materialize(
        [core_config__portals],
        resources={"database": database},
        instance=instance,
        raise_on_error=raise_on_error,
    )


def _metadata(result, key: str) -> dict:
    (event,) = [
        e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(key)
    ]
    return {
        k: getattr(v, "value", v)
        for k, v in event.event_specific_data.materialization.metadata.items()
    }


def _seats(database: OperationalDatabase) -> dict[str, tuple[int, int]]:
    with database.begin() as connection:
        frame = store.portal_seats(connection)
    return {r.portal_id: (r.seats_total, r.seats_used) for r in frame.itertuples()}


def test_the_portal_setup_is_loaded_and_reloaded_without_losing_a_seat(
    make_pipeline, template_db, config
) -> None:
    pipeline = make_pipeline(template_db, [])
    database = pipeline.database

    first = _metadata(_load(database), "core_config__portals")
    assert first["added"] == "agents, spare"
    assert _seats(database) == {"agents": (2, 0), "spare": (1, 0)}

    with database.begin() as connection:  # someone holds a seat of each
        for portal in ("agents", "spare"):
            store.reserve_seat(
                connection,
                portal_id=portal,
                npn="10000001",
                email="ann@example.com",
                invitation_token_hash=f"h-{portal}",
                now=pd.Timestamp.now(tz="UTC").to_pydatetime(),
                source="test",
                invited_by="Dana",
            )
    # Fewer seats for agents, spare dropped from the file, a new portal.
    (config / "portals.yaml").write_text(yaml.safe_dump({"portals": [
        {**PORTALS[0], "seats_total": 0},
        {"portal_id": "new", "portal_name": "New Portal", "seats_total": 5,
         "registration_url": "https://new.example/register"},
    ]}))  # fmt: skip

    second = _metadata(_load(database), "core_config__portals")

    assert (second["added"], second["updated"], second["removed"]) == ("new", "agents", "none")
    assert second["warnings"] == (
        "spare is no longer in portals.yaml but 1 producer(s) hold its seats: kept.\n"
        "agents: 1 seats in use, more than seats_total 0: no new invitation is sent until "
        "seats free up."
    )
    assert _seats(database) == {"agents": (0, 1), "new": (5, 0), "spare": (1, 1)}
    assert len(database.read_table("portal_users")) == 2  # nobody lost a seat


def test_a_bad_portal_file_changes_nothing_and_lists_every_problem(
    make_pipeline, template_db, config
) -> None:
    pipeline = make_pipeline(template_db, [])
    _load(pipeline.database)
    (config / "portals.yaml").write_text(yaml.safe_dump({"portals": [
        {**PORTALS[0], "seats_total": "many"}, {**PORTALS[1], "registration_url": "spare"},
    ]}))  # fmt: skip

    result = _load(pipeline.database, raise_on_error=False)

    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert failure.step_failure_data.user_failure_data.description == (
        "2 problems in the configuration; fix and reload:\n"
        "portals.yaml: portal agents: seats_total 'many' must be a whole number, 0 or more\n"
        "portals.yaml: portal spare: registration_url 'spare' must be a web address (https://...)"
    )
    assert _seats(pipeline.database) == {"agents": (2, 0), "spare": (1, 0)}


def test_without_a_portal_file_the_portals_are_left_as_they_are(
    make_pipeline, template_db, config
) -> None:
    pipeline = make_pipeline(template_db, [])
    _load(pipeline.database)
    (config / "portals.yaml").unlink()

    metadata = _metadata(_load(pipeline.database), "core_config__portals")

    assert metadata["note"].startswith("No portals.yaml in ")
    assert _seats(pipeline.database) == {"agents": (2, 0), "spare": (1, 0)}


def test_the_shipped_portal_setup_loads(make_pipeline, template_db, monkeypatch) -> None:
    monkeypatch.setenv("NPNFLOW_CONFIG_DIR", str(CONFIG_DIR))
    pipeline = make_pipeline(template_db, [])

    assert _load(pipeline.database).success
    assert set(_seats(pipeline.database)) == {"harborstone-agents", "granite-shield-producers"}


def test_a_portal_invite_upload_writes_one_email_per_invitation_into_the_outbox(
    make_pipeline, template_db, config, tmp_path
) -> None:
    pipeline = make_pipeline(template_db, [core_portal__invited])
    _load(pipeline.database)
    outbox = tmp_path / "outbox"
    resources = {**pipeline.resources, "mailer": OutboxFolderMailer(folder=str(outbox))}

    def drop(key: str, data: bytes, kind: str) -> dg.ExecuteInProcessResult:
        stored = pipeline.store.put_bytes(key, data)
        partition = partition_key_for(key, stored.etag)
        pipeline.instance.add_dynamic_partitions(UPLOADS_PARTITIONS.name, [partition])
        result = dg.materialize(
            pipeline.assets,
            partition_key=partition,
            resources=resources,
            instance=pipeline.instance,
            tags=run_tags(key, stored.etag, kind),
        )
        assert result.success
        return result

    invite = b"NPN,Portal\r\n10000001,Agent Portal\r\n10000002,agents\r\n"
    result = drop("inbox/portal_invite/ann_and_bob.csv", invite, "portal_invite")

    metadata = _metadata(result, "core_portal__invitations")
    assert (metadata["invited"], metadata["no_email_on_record"], metadata["emails_sent"]) == (
        1,
        1,
        1,
    )
    assert metadata["mail"] == f"outbox folder {outbox}"
    (eml,) = outbox.glob("*.eml")
    message = message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert message["To"] == "Ann Lee <ann@example.com>"
    assert "https://agents.example/register?token=" in message.get_content()
    # The bucket records no person: the file is who invited.
    users = pipeline.database.read_table("portal_users").set_index("npn")
    assert users.at["10000001", "invited_by"] == "upload inbox/portal_invite/ann_and_bob.csv"
    assert users.at["10000001", "invitation_source"].startswith("upload portal_invite__")

    # The same invitations in another file: nothing new in the outbox.
    again = drop("inbox/portal_invite/again.csv", invite + b"\r\n", "portal_invite")
    assert _metadata(again, "core_portal__invitations")["already_invited"] == 1
    assert len(list(outbox.glob("*.eml"))) == 1

    # An agent upload is not for this asset: it skips.
    agent = (
        b"Agency NPN,First Name,Last Name,Agent NPN,Agent Email\r\n"
        b"9000001,Cy,Diaz,10000003,cy@example.com\r\n"
    )
    skipped = drop("inbox/agent/cy.csv", agent, "agent")
    materialized = {e.asset_key for e in skipped.get_asset_materialization_events()}
    assert dg.AssetKey("core_portal__invitations") not in materialized


def test_an_upload_validated_before_its_rows_were_stored_fails_with_what_to_do(
    make_pipeline, template_db, config, tmp_path
) -> None:
    pipeline = make_pipeline(template_db, [])
    _load(pipeline.database)
    key = "inbox/portal_invite/old.csv"
    upload_id, _ = pipeline.drop_and_process(
        key, b"NPN,Portal\r\n10000001,Agent Portal\r\n", "portal_invite"
    )
    # As if validated before migration 0005: the upload is Processed, no request row stored.
    with pipeline.database.begin() as connection:
        connection.execute(sa.delete(upload_request_rows))
    outbox = tmp_path / "outbox"

    result = dg.materialize(
        [core_portal__invited],
        partition_key=upload_id,
        instance=pipeline.instance,
        resources={"database": pipeline.database, "mailer": OutboxFolderMailer(folder=str(outbox))},
        raise_on_error=False,
    )

    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    description = failure.event_specific_data.error.message
    assert f"Upload {upload_id} has no stored request rows" in description
    assert f"Materialize core_uploads__validated again for partition {upload_id}" in description
    assert not outbox.exists() or not list(outbox.glob("*.eml"))

    # What the message says to do: validate the upload again, then invite.
    again = dg.materialize(
        [*pipeline.assets, core_portal__invited],
        partition_key=upload_id,
        instance=pipeline.instance,
        resources={**pipeline.resources, "mailer": OutboxFolderMailer(folder=str(outbox))},
    )
    assert again.success
    assert len(list(outbox.glob("*.eml"))) == 1


def _invite_job(database: OperationalDatabase, outbox: Path, **config) -> dg.ExecuteInProcessResult:
    defs = dg.Definitions(
        jobs=[invite_to_portal_job],
        resources={"database": database, "mailer": OutboxFolderMailer(folder=str(outbox))},
    )
    return defs.resolve_job_def("invite_to_portal_job").execute_in_process(
        run_config={"ops": {"invite_producers_to_portal": {"config": config}}},
        raise_on_error=False,
    )


def test_invite_to_portal_job_records_who_invited_and_refuses_a_blank_name(
    make_pipeline, template_db, config, tmp_path
) -> None:
    pipeline = make_pipeline(template_db, [])
    _load(pipeline.database)
    outbox = tmp_path / "outbox"

    blank = _invite_job(
        pipeline.database, outbox, npns=["10000001"], portal="agents", invited_by="  "
    )
    assert not blank.success
    (failure,) = [e for e in blank.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "Say who invites (npnflow portal invite --by NAME, or invited_by in the " in (
        failure.event_specific_data.error.message
    )
    assert pipeline.database.read_table("portal_users").empty

    done = _invite_job(
        pipeline.database, outbox, npns=["10000001"], portal="agents", invited_by=" Dana  Lee "
    )
    assert done.success
    users = pipeline.database.read_table("portal_users").set_index("npn")
    assert users.at["10000001", "invited_by"] == "Dana Lee"
    assert users.at["10000001", "invitation_source"] == f"run {done.run_id}"
    assert len(list(outbox.glob("*.eml"))) == 1
