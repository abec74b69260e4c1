"""The daily at-risk digest's run (assets/compliance/digest_run.py) on SQLite and PostgreSQL:
sent once per change (the same lines twice: one email; a new lapse: an email with only it; a
line that recovered and lapses again: told again), nothing sent when nothing changed or nobody
is set to receive it, and exactly once when the mail server fails (not sent: told by the next
run; unknown: never resent by itself, only on the operator's request). Emails go to the real
outbox folder, or to a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import datetime as dt
import email.policy
from collections.abc import Iterator
from email import message_from_bytes
from email.message import EmailMessage
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from assets.compliance import digest_run
from assets.compliance import notifications_store as store
from assets.compliance.digest_run import send_at_risk_digest
from assets.compliance.notifications_config import DigestSettings
from resources.database import create_database_engine
from resources.mailer import MailOutcomeUnknown, OutboxFolderMailer, SmtpMailer
from schemas.migrate import upgrade
from schemas.tables import producers
from schemas.tables_compliance import appointment_standing
from schemas.tables_notifications import at_risk_digests, at_risk_notified_lines
from support.ports import free_port
from support.smtp import RecordingHandler, smtp_server

SETTINGS = DigestSettings(recipients=("desk@carrier.example", "lead@carrier.example"))
T0 = dt.datetime(2026, 12, 7, 16, 0, tzinfo=dt.UTC)
EXPIRED = "license in the state expired"
INACTIVE = "license in the state inactive"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    upgrade(database_url)
    engine = create_database_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            producers.insert(),
            [
                {"npn": "10000001", "first_name": "Ann", "last_name": "Lee"},
                {"npn": "10000002", "first_name": "Bob", "last_name": "Ray"},
                {"npn": "10000003", "first_name": "Cy", "last_name": "Moe"},
            ],
        )
    yield engine
    engine.dispose()


def standing_row(npn: str, state: str, *, at_risk: bool = True, reason: str = EXPIRED) -> dict:
    return {
        "npn": npn,
        "state_code": state,
        "cocode": "91234",
        "loa_code": "16",
        "company_name": "Harborstone Life",
        "license_number": f"L{npn}",
        "license_class_code": "1",
        "license_ok": not at_risk,
        "resident_ok": True,
        "line_ok": True,
        "is_at_risk": at_risk,
        "risk_reason": reason if at_risk else None,
        "at_risk_since": dt.date(2026, 11, 30) if at_risk else None,
        "renewal_date": None,
        "evaluated_as_of": dt.date(2026, 12, 7),
        "evaluated_at": T0,
    }


def evaluate(engine: Engine, *rows: dict) -> None:
    """What the standing evaluation does after each daily sync: the table rewritten whole."""
    with engine.begin() as connection:
        connection.execute(appointment_standing.delete())
        if rows:
            connection.execute(appointment_standing.insert(), list(rows))


def outbox(tmp_path: Path) -> OutboxFolderMailer:
    return OutboxFolderMailer(folder=str(tmp_path / "outbox"))


def emails(mailer: OutboxFolderMailer) -> list[EmailMessage]:
    files = sorted(Path(mailer.folder).glob("*.eml")) if Path(mailer.folder).exists() else []
    return [
        message_from_bytes(path.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for path in files
    ]


def body(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def told(engine: Engine) -> set[tuple[str, str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(
                at_risk_notified_lines.c.npn,
                at_risk_notified_lines.c.state_code,
                at_risk_notified_lines.c.risk_reason,
            )
        )
        return {tuple(row) for row in rows}


def digests(engine: Engine) -> pd.DataFrame:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(at_risk_digests).order_by(at_risk_digests.c.recorded_at)
        )
        return pd.DataFrame([r._asdict() for r in rows], columns=list(at_risk_digests.c.keys()))


def run(engine: Engine, mailer, settings=SETTINGS, **options) -> digest_run.DigestRun:
    options.setdefault("clock", lambda: T0)
    return send_at_risk_digest(engine, mailer, settings, run_id="test", **options)


# ============================================================================ once per change
def test_each_lapse_is_told_once_and_again_only_after_it_recovered(engine, tmp_path):
    mailer = outbox(tmp_path)
    evaluate(engine, standing_row("10000001", "CA"), standing_row("10000002", "TX"),
             standing_row("10000003", "FL", at_risk=False))  # fmt: skip

    first = run(engine, mailer)
    assert (first.outcome, len(first.plan.new), first.recipients) == (digest_run.SENT, 2, 2)
    (message,) = emails(mailer)
    text = body(message)
    assert (
        "    - Ann Lee (NPN 10000001), line 16\n"
        "      license in the state expired, since 2026-11-30\n"
    ) in text
    assert "Bob Ray (NPN 10000002)" in text and "10000003" not in text
    assert text.index("  CA") < text.index("  TX")
    assert told(engine) == {("10000001", "CA", EXPIRED), ("10000002", "TX", EXPIRED)}

    # The same at-risk lines the next day: nothing new, nothing sent.
    again = run(engine, mailer)
    assert (again.outcome, len(again.plan.still_at_risk)) == (digest_run.NOTHING_NEW, 2)
    assert len(emails(mailer)) == 1

    # A new lapse: a second email, listing only it.
    evaluate(engine, standing_row("10000001", "CA"), standing_row("10000002", "TX"),
             standing_row("10000003", "FL"))  # fmt: skip
    third = run(engine, mailer)
    assert third.sent and [line.npn for line in third.plan.new] == ["10000003"]
    second_email = emails(mailer)[1]
    assert (
        second_email["Subject"] == "[npnflow] 1 appointment line newly at risk (1 company, 1 state)"
    )
    assert "Cy Moe (NPN 10000003)" in body(second_email)
    assert "10000001" not in body(second_email) and "10000002" not in body(second_email)
    assert "2 lines told in earlier digests are still at risk" in body(second_email)

    # Ann's license renewed: she leaves the ledger; nothing is sent for a recovery.
    evaluate(engine, standing_row("10000001", "CA", at_risk=False),
             standing_row("10000002", "TX"), standing_row("10000003", "FL"))  # fmt: skip
    recovered = run(engine, mailer)
    assert (recovered.outcome, recovered.plan.recovered) == (
        digest_run.NOTHING_NEW,
        [("10000001", "CA", "91234", "16", EXPIRED)],
    )
    assert ("10000001", "CA", EXPIRED) not in told(engine)
    assert len(emails(mailer)) == 2

    # It lapses again: told again, alone.
    evaluate(engine, standing_row("10000001", "CA"), standing_row("10000002", "TX"),
             standing_row("10000003", "FL"))  # fmt: skip
    relapse = run(engine, mailer)
    assert relapse.sent and [line.npn for line in relapse.plan.new] == ["10000001"]
    assert len(emails(mailer)) == 3
    assert "Ann Lee (NPN 10000001)" in body(emails(mailer)[2])
    assert list(digests(engine).line_count) == [2, 1, 1]
    assert digests(engine).sent_at.notna().all()


def test_a_new_reason_for_a_line_already_told_is_told(engine, tmp_path):
    mailer = outbox(tmp_path)
    evaluate(engine, standing_row("10000001", "CA", reason=INACTIVE))
    run(engine, mailer)
    evaluate(engine, standing_row("10000001", "CA", reason=EXPIRED))

    changed = run(engine, mailer)

    assert changed.sent and [line.risk_reason for line in changed.plan.new] == [EXPIRED]
    assert told(engine) == {("10000001", "CA", EXPIRED)}


# ============================================================================ nothing to send
def test_nothing_is_sent_when_nothing_is_at_risk(engine, tmp_path):
    mailer = outbox(tmp_path)
    evaluate(engine, standing_row("10000001", "CA", at_risk=False))

    result = run(engine, mailer)

    assert (result.outcome, result.plan.at_risk) == (digest_run.NOTHING_NEW, 0)
    assert emails(mailer) == [] and digests(engine).empty


@pytest.mark.parametrize(
    ("settings", "outcome"),
    [(None, digest_run.NO_SETTINGS), (DigestSettings(()), digest_run.NO_RECIPIENTS)],
)
def test_without_recipients_nothing_is_sent_or_recorded_and_the_first_digest_tells_all(
    engine, tmp_path, settings, outcome
):
    mailer = outbox(tmp_path)
    evaluate(engine, standing_row("10000001", "CA"), standing_row("10000002", "TX"))

    quiet = run(engine, mailer, settings)
    assert (quiet.outcome, len(quiet.plan.new), quiet.failure) == (outcome, 2, None)
    assert emails(mailer) == [] and told(engine) == set() and digests(engine).empty

    # Recipients added later: the first digest tells every line at risk.
    assert run(engine, mailer).sent and len(run(engine, mailer).plan.still_at_risk) == 2
    assert len(emails(mailer)) == 1


# ============================================================================ exactly once
def test_a_digest_the_mail_server_did_not_take_is_told_by_the_next_run(engine, tmp_path):
    down = SmtpMailer(host="127.0.0.1", port=free_port(), starttls=False,
                      from_address="npnflow@carrier.example", timeout_seconds=5.0)  # fmt: skip
    evaluate(engine, standing_row("10000001", "CA"))

    failed = run(engine, down)

    assert failed.outcome == digest_run.NOT_SENT
    assert failed.failure and "could not reach the SMTP server" in failed.failure
    assert told(engine) == set()  # nothing recorded as told
    (row,) = digests(engine).itertuples()
    assert row.sent_at is None or pd.isna(row.sent_at)
    assert row.not_sent_reason.startswith("not sent: could not reach")

    mailer = outbox(tmp_path)
    assert run(engine, mailer).sent
    assert "Ann Lee" in body(emails(mailer)[0])


class AnswerLostMailer(OutboxFolderMailer):
    """Writes the message, then loses the answer (as an SMTP connection cut after the message
    would): the digest may have arrived."""

    def _deliver(self, message: EmailMessage) -> None:
        super()._deliver(message)
        raise MailOutcomeUnknown("the connection was lost while the server took the message")


def test_an_unconfirmed_digest_is_never_resent_by_itself_only_on_the_operators_request(
    engine, tmp_path
):
    lost = AnswerLostMailer(folder=str(tmp_path / "lost"))
    mailer = outbox(tmp_path)
    evaluate(engine, standing_row("10000001", "CA"))

    unknown = run(engine, lost)
    assert unknown.outcome == digest_run.UNCONFIRMED
    assert unknown.unconfirmed == [unknown.digest_id]
    assert told(engine) == {("10000001", "CA", EXPIRED)}

    # The next days: never resent by itself; every run says it waits for the operator.
    later = T0 + dt.timedelta(days=1)
    for options in ({}, {"clock": lambda: later}):
        quiet = run(engine, mailer, **options)
        assert (quiet.outcome, quiet.unconfirmed) == (digest_run.NOTHING_NEW, [unknown.digest_id])
    # Asked too soon (another run may still be sending it): left alone.
    assert not run(engine, mailer, retell_unconfirmed=True).sent
    assert emails(mailer) == []

    # The operator checked it did not arrive: retold, once.
    retold = run(engine, mailer, retell_unconfirmed=True, clock=lambda: later)
    assert (retold.sent, retold.retold, retold.unconfirmed) == (True, 1, [])
    assert len(emails(mailer)) == 1 and "Ann Lee" in body(emails(mailer)[0])
    assert not run(engine, mailer, retell_unconfirmed=True, clock=lambda: later).sent
    reasons = list(digests(engine).not_sent_reason)
    assert reasons[0].startswith("unconfirmed, released by the operator") and pd.isna(reasons[1])


def test_a_digest_recorded_but_never_handed_to_the_mailer_is_abandoned_and_its_lines_retold(
    engine, tmp_path
):
    mailer = outbox(tmp_path)
    evaluate(engine, standing_row("10000001", "CA"))
    # A run that stopped between recording its digest and sending it.
    with engine.begin() as connection:
        (line,) = store.read_at_risk_lines(connection)
        store.record_digest(connection, digest_id="stopped", lines=[line],
                            recipients=SETTINGS.recipients, subject="s", now=T0, run_id="r")  # fmt: skip

    # Within 15 minutes another run may still be about to send it: nothing sent.
    soon = run(engine, mailer, clock=lambda: T0 + dt.timedelta(minutes=5))
    assert (soon.outcome, soon.abandoned) == (digest_run.NOTHING_NEW, 0)

    later = run(engine, mailer, clock=lambda: T0 + dt.timedelta(minutes=20))
    assert (later.sent, later.abandoned) == (True, 1)
    assert len(emails(mailer)) == 1
    stopped = digests(engine).set_index("digest_id").loc["stopped"]
    assert stopped.not_sent_reason.startswith("abandoned")


# ============================================================================ a real SMTP server
def test_the_digest_through_a_real_smtp_server_reaches_every_recipient(engine):
    handler = RecordingHandler()
    settings = DigestSettings(SETTINGS.recipients, "Compliance <desk@carrier.example>", "[CC]")
    evaluate(engine, standing_row("10000001", "CA"), standing_row("10000002", "TX"))
    with smtp_server(handler) as port:
        mailer = SmtpMailer(host="127.0.0.1", port=port, starttls=False,
                            from_address="npnflow@carrier.example", timeout_seconds=10.0)  # fmt: skip
        result = run(engine, mailer, settings)
        assert not run(engine, mailer, settings).sent

    (received,) = handler.received
    assert received.rcpt_tos == list(SETTINGS.recipients)
    assert received.mail_from == "desk@carrier.example"
    assert received.message["Subject"] == (
        "[CC] 2 appointment lines newly at risk (1 company, 2 states)"
    )
    assert str(received.message["Message-ID"]) == result.message_id
    assert "Harborstone Life (CoCode 91234)" in body(received.message)
    (row,) = digests(engine).itertuples()
    assert row.message_id == result.message_id and row.recipients == ", ".join(SETTINGS.recipients)


def test_two_runs_racing_for_the_same_lines_tell_them_once(engine, tmp_path):
    mailer = outbox(tmp_path)
    evaluate(engine, standing_row("10000001", "CA"))
    calls: list[int] = []

    def racing_clock() -> dt.datetime:
        # The run's second look at the clock is as it records its digest, after planning:
        # another run tells the same line just then.
        calls.append(1)
        if len(calls) == 2:
            assert run(engine, mailer).sent
        return T0

    slower = send_at_risk_digest(engine, mailer, SETTINGS, clock=racing_clock)

    assert (slower.outcome, len(slower.plan.still_at_risk)) == (digest_run.NOTHING_NEW, 1)
    assert len(emails(mailer)) == 1
    assert len(digests(engine)) == 1  # the loser's record was rolled back whole
