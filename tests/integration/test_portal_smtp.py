"""Portal invitations through a real SMTP server on loopback (aiosmtpd, started by each test):
a portal_invite upload and invite_to_portal_job end to end, one email per invitation whose link
carries the token the database holds only as a SHA-256, nothing sent twice (re-invites, crashes,
mail server failures, racing runs), and seats never oversold on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa
from aiosmtpd.smtp import AuthResult, LoginPassword

from assets.keys import UPLOADS_PARTITIONS
from assets.portal import invitations as rules
from assets.portal import store
from assets.portal.assets import core_portal__invited
from assets.portal.invitations import InviteRequest
from assets.portal.service import invite_to_portals
from assets.uploads.assets import UPLOAD_ASSETS
from assets.uploads.inbox import partition_key_for
from assets.uploads.ledger import run_tags
from pipelines.jobs import invite_to_portal_job
from resources.database import OperationalDatabase, create_database_engine
from resources.mailer import MailNotSent, MailOutcomeUnknown, SmtpMailer
from resources.object_store import LocalFolderObjectStore
from resources.ssn import SsnVault
from schemas.migrate import upgrade
from schemas.tables import TABLES
from support.ports import free_port
from support.seed import seed_reference
from support.smtp import RecordingHandler, smtp_server
from support.waiting import scaled

AGENTS = "harborstone-agents"
TINY = "tiny"
AGENCY = "9000001"
GOOD_NPNS = [f"1000000{i}" for i in range(1, 7)]
NO_AGENCY, NO_EMAIL = "20000001", "20000002"
PORTALS = pd.DataFrame(
    [
        {"portal_id": AGENTS, "portal_name": "Harborstone Agent Portal", "seats_total": 25,
         "registration_url": "https://agents.harborstone.example/register"},
        {"portal_id": TINY, "portal_name": "Tiny Portal", "seats_total": 2,
         "registration_url": "https://tiny.example/accept?lang=en"},
    ]
)  # fmt: skip
OP = "invite_producers_to_portal"


def address(npn: str) -> str:
    return f"p{npn}@example.com"


# ============================================================================ the SMTP server
@dataclass
class SmtpServer:
    handler: RecordingHandler
    port: int

    def mailer(self, **settings) -> SmtpMailer:
        values = {
            "host": "127.0.0.1",
            "port": self.port,
            "starttls": False,
            "from_address": "Compliance <compliance@carrier.example>",
            "timeout_seconds": 10.0,
        } | settings
        return SmtpMailer(**values)


@contextlib.contextmanager
def _serving(**smtp_settings) -> Iterator[SmtpServer]:
    handler = RecordingHandler()
    with smtp_server(handler, **smtp_settings) as port:
        yield SmtpServer(handler, port)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with _serving() as server:
        yield server


# ============================================================================ the database
def _seed(url: str, *, reference: bool = False, extra_npns: list[str] = ()) -> None:
    upgrade(url)
    database = OperationalDatabase(url=url)
    if reference:
        seed_reference(database)
    producers = [
        {"npn": npn, "first_name": "Ada", "last_name": f"P{npn}", "email": address(npn),
         "agency_npn": AGENCY}
        for npn in [*GOOD_NPNS, *extra_npns]
    ] + [
        {"npn": NO_AGENCY, "first_name": "No", "last_name": "Agency", "email": address(NO_AGENCY),
         "agency_npn": None},
        {"npn": NO_EMAIL, "first_name": "No", "last_name": "Email", "email": None,
         "agency_npn": AGENCY},
    ]  # fmt: skip
    database.replace_tables(
        {
            "agencies": pd.DataFrame([{"agency_npn": AGENCY, "agency_name": "Acme Agency"}]),
            "producers": pd.DataFrame(producers),
        }
    )
    with database.begin() as connection:
        store.apply_portal_setup(connection, PORTALS)
    database.engine.dispose()


@pytest.fixture(scope="module")
def template_db(tmp_path_factory) -> Path:
    """Reference tables (the upload's validation reads them), producers and portals."""
    path = tmp_path_factory.mktemp("portal") / "template.db"
    _seed(f"sqlite:///{path}", reference=True)
    return path


@pytest.fixture
def sqlite_url(template_db: Path, tmp_path: Path) -> str:
    path = tmp_path / "npnflow.db"
    shutil.copy(template_db, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path: Path) -> str:
    """Producers and portals (no reference tables: the job and the service do not read them)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'npnflow.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    _seed(url, extra_npns=[f"4{i:07d}" for i in range(30)])
    return url


def _portal_users(url: str) -> pd.DataFrame:
    engine = create_database_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.select(TABLES["portal_users"])).all()
            return pd.DataFrame(
                [r._asdict() for r in rows], columns=list(TABLES["portal_users"].c.keys())
            )
    finally:
        engine.dispose()


def _row(url: str, npn: str, portal_id: str) -> pd.Series:
    users = _portal_users(url).set_index(["npn", "portal_id"])
    return users.loc[(npn, portal_id)]


def _run_job(url: str, mailer, npns: list[str], portal: str, **config) -> dg.ExecuteInProcessResult:
    defs = dg.Definitions(
        jobs=[invite_to_portal_job],
        resources={"database": OperationalDatabase(url=url), "mailer": mailer},
    )
    return defs.resolve_job_def("invite_to_portal_job").execute_in_process(
        run_config={
            "ops": {
                OP: {"config": {"npns": npns, "portal": portal, "invited_by": "Dana", **config}}
            }
        },
        raise_on_error=False,
    )


def _markdown_rows(table: str) -> list[list[str]]:
    """The cells of a Markdown table's rows (header and rule left out)."""
    return [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in table.splitlines()[2:]
        if line.startswith("|")
    ]


def _op_metadata(result: dg.ExecuteInProcessResult) -> dict[str, object]:
    (event,) = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    return {k: getattr(v, "value", v) for k, v in event.step_output_data.metadata.items()}


def _failure(result: dg.ExecuteInProcessResult) -> str:
    (event,) = [e for e in result.all_events if e.is_step_failure]
    return event.step_failure_data.user_failure_data.description


# ============================================================================ end to end: upload
UPLOAD = "\r\n".join(
    [
        "NPN,Portal",
        "10000001,Harborstone Agent Portal",  # row 2: invited
        "10000002,harborstone-agents",  # row 3: invited (by id)
        f"{NO_AGENCY},Harborstone Agent Portal",  # row 4: No Associated Agency
        f"{NO_EMAIL},Harborstone Agent Portal",  # row 5: No Email On Record
        "30000001,Harborstone Agent Portal",  # row 6: Producer Not Found
        "10000003,Agency Portal",  # row 7: Portal Not Found
        "10000003,Tiny Portal",  # row 8: invited (seat 1 of 2)
        "10000004,Tiny Portal",  # row 9: invited (seat 2 of 2)
        "10000005,Tiny Portal",  # row 10: No Portal Seats Left
        "",
    ]
).encode()


def test_a_portal_invite_upload_sends_one_email_per_invitation_and_reinviting_sends_nothing(
    sqlite_url: str, smtp: SmtpServer, tmp_path: Path
) -> None:
    database = OperationalDatabase(url=sqlite_url)
    bucket = LocalFolderObjectStore(root=str(tmp_path / "bucket"))
    key = "inbox/portal_invite/new_hires.csv"
    stored = bucket.put_bytes(key, UPLOAD)
    partition = partition_key_for(key, stored.etag)
    resources = {
        "database": database,
        "object_store": bucket,
        "ssn_vault": SsnVault(key=None),
        "mailer": smtp.mailer(),
    }

    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(UPLOADS_PARTITIONS.name, [partition])

        def materialize() -> tuple[dg.ExecuteInProcessResult, dict]:
            result = dg.materialize(
                [*UPLOAD_ASSETS, core_portal__invited],
                partition_key=partition,
                instance=instance,
                resources=resources,
                tags=run_tags(key, stored.etag, "portal_invite"),
            )
            assert result.success
            (event,) = [
                e
                for e in result.get_asset_materialization_events()
                if e.asset_key == dg.AssetKey("core_portal__invitations")
            ]
            metadata = event.event_specific_data.materialization.metadata
            return result, {k: getattr(v, "value", v) for k, v in metadata.items()}

        first, metadata = materialize()

        # One email per invitation, to the producer's address, from the configured sender.
        invited = {"10000001": AGENTS, "10000002": AGENTS, "10000003": TINY, "10000004": TINY}
        assert sorted(r.rcpt_tos[0] for r in smtp.handler.received) == sorted(
            address(n) for n in invited
        )
        assert {r.mail_from for r in smtp.handler.received} == {"compliance@carrier.example"}
        counts = {
            k: metadata[k]
            for k in (
                "requested",
                "invited",
                "emails_sent",
                "errors",
                "no_associated_agency",
                "no_email_on_record",
                "no_portal_seats_left",
                "producer_not_found",
                "portal_not_found",
            )
        }
        assert counts == {"requested": 9, "invited": 4, "emails_sent": 4, "errors": 5,
                          "no_associated_agency": 1, "no_email_on_record": 1,
                          "no_portal_seats_left": 1, "producer_not_found": 1,
                          "portal_not_found": 1}  # fmt: skip
        assert metadata[f"seats_left/{TINY}"] == 0
        assert metadata[f"seats_left/{AGENTS}"] == 23
        assert metadata["mail"] == f"SMTP server 127.0.0.1:{smtp.port}"
        requests = {row[0]: row[1:5] for row in _markdown_rows(metadata["requests"])}
        assert requests["4"] == [
            NO_AGENCY,
            "Harborstone Agent Portal",
            "No Associated Agency",
            "no",
        ]
        assert requests["7"] == ["10000003", "Agency Portal", "Portal Not Found", "no"]
        assert requests["9"] == ["10000004", "Tiny Portal", "Invited", "yes"]
        assert requests["10"] == ["10000005", "Tiny Portal", "No Portal Seats Left", "no"]

        # The link's token is what the database holds, as a SHA-256 only.
        users = _portal_users(sqlite_url).set_index(["npn", "portal_id"])
        assert sorted(users.index) == sorted(invited.items())
        tokens = []
        for npn, portal_id in invited.items():
            (received,) = smtp.handler.to(address(npn))
            row = users.loc[(npn, portal_id)]
            token = received.token
            tokens.append(token)
            assert row.invitation_token_hash == hashlib.sha256(token.encode()).hexdigest()
            assert row.status == "Invited" and row.email == address(npn)
            assert row.invitation_message_id == received.message["Message-ID"]
            assert row.invitation_sent_at is not None
            assert row.invitation_source == f"upload {partition}"
            assert received.message["Subject"].startswith("Your invitation to ")
        assert (
            "lang=en" in smtp.handler.to(address("10000003"))[0].body
        )  # the page's own parameter kept

        # The raw token is nowhere but in the emails: not in the database, logs or metadata.
        stored_text = users.reset_index().astype(str).to_csv()
        logs = "\n".join(
            f"{e.user_message} {e.dagster_event!r}" for e in instance.all_logs(first.run_id)
        )
        for token in tokens:
            assert token not in stored_text
            assert token not in logs
            assert token not in repr(metadata)

        # Dropping (re-processing) the same invitations again sends nothing.
        _, again = materialize()
        assert len(smtp.handler.received) == 4
        assert (again["invited"], again["emails_sent"], again["already_invited"]) == (0, 0, 4)
        assert again[f"seats_left/{TINY}"] == 0
    database.engine.dispose()


# ============================================================================ end to end: job
def test_the_launchpad_job_invites_and_a_second_run_sends_nothing(
    database_url: str, smtp: SmtpServer
) -> None:
    first = _run_job(database_url, smtp.mailer(), ["10000001", "10000002", NO_EMAIL], "Tiny Portal")

    assert first.success
    assert sorted(r.rcpt_tos[0] for r in smtp.handler.received) == [
        address("10000001"), address("10000002")
    ]  # fmt: skip
    metadata = _op_metadata(first)
    assert (
        metadata["invited"],
        metadata["no_email_on_record"],
        metadata[f"seats_left/{TINY}"],
    ) == (2, 1, 0)
    for npn in ("10000001", "10000002"):
        row = _row(database_url, npn, TINY)
        assert (
            row.invitation_token_hash
            == hashlib.sha256(smtp.handler.to(address(npn))[0].token.encode()).hexdigest()
        )
        assert row.invitation_source == f"run {first.run_id}"

    second = _run_job(database_url, smtp.mailer(), ["10000001", "10000002", "10000003"], "tiny")

    assert second.success
    assert len(smtp.handler.received) == 2  # nothing new for the invited, no seat for the third
    metadata = _op_metadata(second)
    assert (
        metadata["already_invited"],
        metadata["no_portal_seats_left"],
        metadata["emails_sent"],
    ) == (2, 1, 0)


def test_an_unknown_portal_fails_the_launchpad_run_with_the_portals_there_are(
    database_url: str, smtp: SmtpServer
) -> None:
    result = _run_job(database_url, smtp.mailer(), ["10000001"], "Agency Portal")

    assert not result.success
    assert _failure(result) == (
        "There is no portal named 'Agency Portal'. The portals are: 'Harborstone Agent Portal', "
        "'Tiny Portal'."
    )
    assert smtp.handler.received == []


# ============================================================================ crashes and failures
def test_an_invitation_recorded_by_a_run_that_died_is_emailed_once_by_the_next_run(
    database_url: str, smtp: SmtpServer
) -> None:
    engine = create_database_engine(database_url)
    # A run recorded the invitation (seat and hash) and died before sending: its token is gone.
    lost_token = rules.new_token()
    with engine.begin() as connection:
        assert (
            store.reserve_seat(
                connection,
                portal_id=AGENTS,
                npn="10000006",
                email=address("10000006"),
                invitation_token_hash=rules.token_hash(lost_token),
                now=dt.datetime.now(dt.UTC),
                source="a run that died",
                invited_by="Dana",
            )
            == store.RESERVED
        )
    engine.dispose()

    result = _run_job(database_url, smtp.mailer(), ["10000005"], AGENTS)

    assert result.success
    assert _op_metadata(result)["earlier_invitations_emailed"] == 1
    (resumed,) = smtp.handler.to(address("10000006"))
    row = _row(database_url, "10000006", AGENTS)
    # A new token (the lost one was never emailed); its hash replaced the old.
    assert resumed.token != lost_token
    assert row.invitation_token_hash == rules.token_hash(resumed.token)
    assert row.invitation_sent_at is not None
    assert len(smtp.handler.to(address("10000005"))) == 1

    # Asking for the same producer again sends nothing more.
    again = _run_job(database_url, smtp.mailer(), ["10000006", "10000005"], AGENTS)
    assert again.success and len(smtp.handler.received) == 2


def test_a_mail_server_that_is_down_keeps_the_seat_and_the_next_run_sends_the_email_once(
    database_url: str, smtp: SmtpServer
) -> None:
    down = SmtpMailer(
        host="127.0.0.1",
        port=free_port(),
        starttls=False,
        from_address="compliance@carrier.example",
        timeout_seconds=5,
    )

    failed = _run_job(database_url, down, ["10000001", "10000002"], AGENTS)

    assert not failed.success
    description = _failure(failed)
    assert description.startswith(
        "Sending the invitation emails stopped: could not reach the SMTP server"
    )
    assert "2 invitation(s) keep their seats and wait for their email" in description
    users = _portal_users(database_url)
    assert sorted(users.npn) == ["10000001", "10000002"]
    assert users.invitation_sent_at.isna().all() and users.invitation_send_started_at.isna().all()

    # The mail server is back: any invitation run sends what waits, once.
    recovered = _run_job(database_url, smtp.mailer(), ["10000001"], AGENTS)

    assert recovered.success
    metadata = _op_metadata(recovered)
    # 10000001 was requested again: still the failed run's invitation, its email sent now.
    assert (metadata["already_invited"], metadata["emails_sent"]) == (1, 2)
    assert metadata["earlier_invitations_emailed"] == 1  # 10000002, not requested this time
    for npn in ("10000001", "10000002"):
        (received,) = smtp.handler.to(address(npn))
        assert _row(database_url, npn, AGENTS).invitation_token_hash == rules.token_hash(
            received.token
        )
    assert _run_job(database_url, smtp.mailer(), ["10000001", "10000002"], AGENTS).success
    assert len(smtp.handler.received) == 2


def test_an_address_the_server_refuses_withdraws_that_invitation_and_frees_its_seat(
    database_url: str, smtp: SmtpServer
) -> None:
    smtp.handler.refuse.add(address("10000001"))

    result = _run_job(database_url, smtp.mailer(), ["10000001", "10000002"], TINY)

    assert result.success  # the others go on: the address is the producer's problem
    metadata = _op_metadata(result)
    assert (metadata["email_address_refused"], metadata["invited"]) == (1, 1)
    # The server's reply, without the address (no email address in metadata).
    assert "550 5.1.1 <address>: Recipient address rejected" in metadata["requests"]
    assert "@" not in metadata["requests"]
    assert list(_portal_users(database_url).npn) == ["10000002"]
    assert metadata[f"seats_left/{TINY}"] == 1
    assert [r.rcpt_tos for r in smtp.handler.received] == [[address("10000002")]]


class AnswerLostMailer(SmtpMailer):
    """Hands the message to the server, then loses its answer (as a connection cut right
    after the message would)."""

    def _deliver(self, message: EmailMessage) -> None:
        super()._deliver(message)
        raise MailOutcomeUnknown("the connection was lost while the server took the message")


def test_an_unconfirmed_email_is_never_resent_by_itself_only_on_request_with_a_new_link(
    database_url: str, smtp: SmtpServer
) -> None:
    engine = create_database_engine(database_url)
    t0 = dt.datetime.now(dt.UTC)
    lost = AnswerLostMailer(**smtp.mailer().__dict__)

    def invite(mailer, *, resend: bool = False, at: dt.datetime = t0):
        return invite_to_portals(
            engine,
            mailer,
            [InviteRequest("10000001", AGENTS)],
            source="test",
            invited_by="Dana",
            resend_unconfirmed=resend,
            clock=lambda: at,
        )

    first = invite(lost)
    (decision,) = first.decisions
    assert decision.outcome == rules.EMAIL_UNCONFIRMED and first.stopped
    (delivered,) = smtp.handler.to(address("10000001"))  # it did arrive; we could not know

    # Inviting again: already invited, unconfirmed, nothing sent.
    (again,) = invite(smtp.mailer()).decisions
    assert again.outcome == rules.ALREADY_INVITED and "unknown whether it arrived" in again.detail
    # Resending too soon could race a send still under way: refused.
    (soon,) = invite(smtp.mailer(), resend=True, at=t0 + dt.timedelta(minutes=5)).decisions
    assert "not resent now" in soon.detail
    assert len(smtp.handler.received) == 1

    (resent,) = invite(smtp.mailer(), resend=True, at=t0 + dt.timedelta(minutes=16)).decisions

    assert resent.outcome == rules.INVITED and resent.email_sent
    first_email, second_email = smtp.handler.to(address("10000001"))
    assert first_email is delivered and second_email.token != delivered.token
    with engine.begin() as connection:
        # The first link stopped working; the new one registers, once.
        assert store.accept_invitation(connection, delivered.token, t0) is None
        assert store.accept_invitation(connection, second_email.token, t0) == store.Registration(
            "10000001", AGENTS
        )
        assert store.accept_invitation(connection, second_email.token, t0) is None
    row = _row(database_url, "10000001", AGENTS)
    assert row.status == "Registered" and row.invitation_token_hash is None

    (registered,) = invite(smtp.mailer(), resend=True, at=t0 + dt.timedelta(hours=1)).decisions
    assert registered.outcome == rules.ALREADY_REGISTERED
    assert len(smtp.handler.received) == 2
    engine.dispose()


# ============================================================================ hostile names, refused emails
def _rename(url: str, npn: str, **names: str) -> None:
    engine = create_database_engine(url)
    producers = TABLES["producers"]
    with engine.begin() as connection:
        connection.execute(producers.update().where(producers.c.npn == npn).values(**names))
    engine.dispose()


def test_a_name_with_line_breaks_gets_a_well_formed_email_and_the_neighbour_s_goes_out_too(
    database_url: str, smtp: SmtpServer
) -> None:
    # Names come from uploads, NIPR and the database: a line break once crashed the run after
    # the seat was claimed, and the neighbour's email waited for a later run.
    _rename(
        database_url,
        "10000001",
        first_name="Zoë\r\nBcc: attacker@evil.example",
        last_name="Nuñez\n\tLovelace\r",
    )

    result = _run_job(database_url, smtp.mailer(), ["10000001", "10000002"], AGENTS)

    assert result.success
    metadata = _op_metadata(result)
    assert (metadata["invited"], metadata["emails_sent"], metadata["errors"]) == (2, 2, 0)
    (hostile,) = smtp.handler.to(address("10000001"))
    assert len(smtp.handler.to(address("10000002"))) == 1  # the neighbour's, in the same run
    assert len(smtp.handler.received) == 2  # nobody else, no Bcc
    headers = hostile.raw.split(b"\r\n\r\n", 1)[0]
    assert headers.isascii() and b"\nBcc" not in headers and b"\rBcc" not in headers
    (to,) = hostile.message["To"].addresses  # one address, the producer's
    assert to.addr_spec == address("10000001")
    assert to.display_name == "Zoë Bcc: attacker@evil.example Nuñez Lovelace"
    assert "Hello Zoë Bcc: attacker@evil.example Nuñez Lovelace," in hostile.body
    # The seat's email is recorded as sent: nothing left unconfirmed.
    row = _row(database_url, "10000001", AGENTS)
    assert pd.notna(row.invitation_sent_at)
    assert row.invitation_token_hash == rules.token_hash(hostile.token)


def test_an_email_the_server_refuses_says_why_frees_the_seat_and_the_others_still_go(
    database_url: str, smtp: SmtpServer
) -> None:
    smtp.handler.refuse_data.add(address("10000001"))

    result = _run_job(database_url, smtp.mailer(), ["10000001", "10000002"], TINY)

    assert result.success  # one producer's email, not the mail server: the run goes on
    metadata = _op_metadata(result)
    assert (metadata["email_refused"], metadata["invited"], metadata["emails_sent"]) == (1, 1, 1)
    requests = {row[0]: row for row in _markdown_rows(metadata["requests"])}
    refused = requests["10000001"]
    assert refused[2:4] == ["Email Refused", "no"]
    assert "554 5.7.1 Message rejected by the content filter" in refused[4]
    assert "withdrawn and its seat freed" in refused[4]
    # No stranded seat: the refused invitation is gone, its seat free for the next invitation.
    assert list(_portal_users(database_url).npn) == ["10000002"]
    assert metadata[f"seats_left/{TINY}"] == 1
    assert [r.rcpt_tos for r in smtp.handler.received] == [[address("10000002")]]

    # Once the server takes it, inviting again sends it, once.
    smtp.handler.refuse_data.clear()
    again = _run_job(database_url, smtp.mailer(), ["10000001", "10000002"], TINY)
    assert again.success and len(smtp.handler.to(address("10000001"))) == 1
    assert len(smtp.handler.received) == 2


def test_an_earlier_invitation_whose_email_cannot_be_written_is_withdrawn_not_left_waiting(
    database_url: str, smtp: SmtpServer
) -> None:
    # A run recorded an invitation to an address no SMTP envelope can carry, and stopped.
    engine = create_database_engine(database_url)
    with engine.begin() as connection:
        store.reserve_seat(
            connection,
            portal_id=AGENTS,
            npn="10000006",
            email="jösé@example.com",
            invitation_token_hash=rules.token_hash(rules.new_token()),
            now=dt.datetime.now(dt.UTC),
            source="a run that stopped",
            invited_by="Dana",
        )

    run = invite_to_portals(
        engine,
        smtp.mailer(),
        [InviteRequest("10000005", AGENTS)],
        source="the next run",
        invited_by="Dana",
    )
    engine.dispose()

    assert run.stopped is None and run.emails_sent == 1
    assert [r.rcpt_tos for r in smtp.handler.received] == [[address("10000005")]]
    ((npn, portal_id, why),) = run.earlier_withdrawn
    assert (npn, portal_id) == ("10000006", AGENTS)
    assert why.startswith("its email could not be written (the email address on record has ")
    assert why.endswith("correct the Agent Email with an agent upload, then invite again")
    assert "jösé" not in why and "example.com" not in why
    # Withdrawn, its seat free: not left "not sent yet" for every later run to trip over.
    assert list(_portal_users(database_url).npn) == ["10000005"]


class BrokenMailer(SmtpMailer):
    """A mailer with a defect: it fails in a way it does not sort into not sent or maybe sent."""

    def _deliver(self, message: EmailMessage) -> None:
        raise KeyError("a defect in the mailer")


def test_a_mailer_that_fails_unexpectedly_leaves_a_clear_error_not_a_silent_claim(
    database_url: str, smtp: SmtpServer
) -> None:
    broken = BrokenMailer(**smtp.mailer().__dict__)

    result = _run_job(database_url, broken, ["10000001", "10000002"], AGENTS)

    assert not result.success
    description = _failure(result)
    assert description.startswith(
        "Sending the invitation emails stopped: the mailer failed unexpectedly (KeyError"
    )
    # The claimed seat says what happened: unconfirmed (the message may have left), never
    # resent by itself; the one not tried yet waits for the next run.
    first, second = (_row(database_url, n, AGENTS) for n in ("10000001", "10000002"))
    assert pd.notna(first.invitation_send_started_at) and pd.isna(first.invitation_sent_at)
    assert pd.isna(second.invitation_send_started_at) and pd.isna(second.invitation_sent_at)
    (event,) = [e for e in result.all_events if e.is_step_failure]
    metadata = event.step_failure_data.user_failure_data.metadata
    requests = {row[0]: row for row in _markdown_rows(metadata["requests"].value)}
    assert requests["10000001"][2] == "Email Unconfirmed"
    assert "the mailer failed unexpectedly" in requests["10000001"][4]
    assert requests["10000002"][2] == "Email Not Sent"


# ============================================================================ the SMTP settings
def _send_one(mailer: SmtpMailer) -> str:
    message = EmailMessage()
    message["To"] = "ada@example.com"
    message["Subject"] = "x"
    message.set_content("x")
    return mailer.send(message)


# The test server has no certificate, so AUTH goes over a plain loopback connection.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_smtp_auth_with_the_configured_user_and_password() -> None:
    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            b"npnflow",
            b"s3cret-pass",
        )
        return AuthResult(success=ok, handled=False)  # handled=False: the server says 535

    # PLAIN only, so a refusal is one 535 (smtplib would try LOGIN next).
    with _serving(
        auth_require_tls=False,
        auth_required=True,
        authenticator=authenticator,
        auth_exclude_mechanism=["LOGIN"],
    ) as server:
        message_id = _send_one(server.mailer(username="npnflow", password="s3cret-pass"))
        with pytest.raises(MailNotSent) as refused:
            _send_one(server.mailer(username="npnflow", password="wrong-pass"))

    (received,) = server.handler.received
    assert received.message["Message-ID"] == message_id
    assert str(refused.value).startswith(
        f"the SMTP server 127.0.0.1:{server.port} refused the user name and password "
        "(NPNFLOW_SMTP_USERNAME, NPNFLOW_SMTP_PASSWORD)"
    )
    assert "wrong-pass" not in str(refused.value) and not refused.value.recipient_refused


def test_starttls_on_a_server_without_it_refuses_to_send_in_clear(smtp: SmtpServer) -> None:
    with pytest.raises(MailNotSent, match="does not offer STARTTLS"):
        _send_one(smtp.mailer(starttls=True))
    assert smtp.handler.received == []


# ============================================================================ races
def test_a_second_reservation_waits_for_the_first_to_commit_and_finds_no_seat(
    database_url: str,
) -> None:
    """The last seat, taken by one transaction not yet committed: another run's reservation
    must wait for it (PostgreSQL: the portal's row lock; SQLite: the write lock) and then see
    it, instead of counting the seats without it and overselling."""
    engine = create_database_engine(database_url)
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as connection:
        connection.execute(
            TABLES["portals"]
            .update()
            .where(TABLES["portals"].c.portal_id == TINY)
            .values(seats_total=1)
        )

    def reserve(connection, npn: str) -> str:
        return store.reserve_seat(
            connection,
            portal_id=TINY,
            npn=npn,
            email=address(npn),
            invitation_token_hash=rules.token_hash(rules.new_token()),
            now=now,
            source="race",
            invited_by="Dana",
        )

    second: dict[str, str] = {}

    def other_run() -> None:
        with engine.begin() as connection:
            second["outcome"] = reserve(connection, "10000002")

    with engine.connect() as first:
        transaction = first.begin()
        assert reserve(first, "10000001") == store.RESERVED
        racer = threading.Thread(target=other_run)
        racer.start()
        racer.join(timeout=1.5)
        assert racer.is_alive(), "the second reservation did not wait for the first"
        transaction.commit()
    racer.join(timeout=scaled(30))

    assert second == {"outcome": store.NO_SEAT}
    assert list(_portal_users(database_url).npn) == ["10000001"]
    engine.dispose()


def test_two_runs_racing_for_the_seats_never_oversell_and_never_email_anyone_twice(
    database_url: str, smtp: SmtpServer
) -> None:
    seats = 10
    npns = [f"4{i:07d}" for i in range(30)]
    engine = create_database_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            TABLES["portals"]
            .update()
            .where(TABLES["portals"].c.portal_id == AGENTS)
            .values(seats_total=seats)
        )
    engine.dispose()
    start = threading.Barrier(2)
    runs: dict[str, object] = {}
    crashed: list[BaseException] = []

    def run(name: str, order: list[str]) -> None:
        own_engine = create_database_engine(database_url)  # as two processes would have
        try:
            start.wait()
            runs[name] = invite_to_portals(
                own_engine,
                smtp.mailer(),
                [InviteRequest(n, AGENTS) for n in order],
                source=name,
                invited_by=name,
            )
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            crashed.append(error)
        finally:
            own_engine.dispose()

    # The same producers, in opposite orders: both runs want every seat and every producer.
    threads = [
        threading.Thread(target=run, args=("a", npns)),
        threading.Thread(target=run, args=("b", npns[::-1])),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=scaled(120))

    assert crashed == []
    users = _portal_users(database_url)
    assert len(users) == seats  # never oversold
    assert users.invitation_sent_at.notna().all()
    recipients = [r.rcpt_tos[0] for r in smtp.handler.received]
    assert len(recipients) == seats == len(set(recipients))  # one email each, nobody twice
    for row in users.itertuples():
        (received,) = smtp.handler.to(address(row.npn))
        assert row.invitation_token_hash == rules.token_hash(received.token)
    for name in ("a", "b"):
        outcomes = {d.outcome for d in runs[name].decisions}
        assert outcomes <= {rules.INVITED, rules.ALREADY_INVITED, rules.NO_PORTAL_SEATS_LEFT}
    invited = [
        d.npn for name in ("a", "b") for d in runs[name].decisions if d.outcome == rules.INVITED
    ]
    assert sorted(invited) == sorted(users.npn)  # each seat reported invited by exactly one run
    assert runs["a"].emails_sent + runs["b"].emails_sent == seats
