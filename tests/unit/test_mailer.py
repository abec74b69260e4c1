"""The mailer's local implementation and its production configuration (no network here: the
SMTP conversation is tested against a real server in tests/integration/test_portal_smtp.py)."""

from __future__ import annotations

import email.policy
import stat
from email import message_from_bytes
from email.message import EmailMessage
from pathlib import Path

import dagster as dg
import pytest

from resources.mailer import (
    DEFAULT_SMTP_PORT,
    MailNotSent,
    OutboxFolderMailer,
    SmtpMailer,
    parse_flag,
    recipients,
    smtp_mailer_from_environment,
)


def _message(to: str = "ada@example.com") -> EmailMessage:
    message = EmailMessage()
    message["To"] = to
    message["Subject"] = "Hello"
    message.set_content("Body\n")
    return message


def test_the_outbox_writes_one_complete_eml_file_per_message(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"  # created on the first message
    mailer = OutboxFolderMailer(folder=str(outbox))

    first = mailer.send(_message("ada@example.com"))
    second = mailer.send(_message("bob@example.com"))

    files = sorted(outbox.iterdir())
    assert [f.suffix for f in files] == [".eml", ".eml"]  # no partial files left behind
    parsed = [message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files]
    assert {p["Message-ID"] for p in parsed} == {first, second}
    assert {p["To"] for p in parsed} == {"ada@example.com", "bob@example.com"}
    assert all(p["From"] == "npnflow <npnflow@localhost>" and p["Date"] for p in parsed)
    assert first.endswith("@localhost>") and first != second
    # The links in them are keys to register: readable by their owner only.
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)


def test_the_outbox_keeps_a_message_id_given_and_says_where_it_writes(tmp_path: Path) -> None:
    mailer = OutboxFolderMailer(folder=str(tmp_path), from_address="HR <hr@carrier.example>")
    message = _message()
    message["Message-ID"] = "<given@carrier.example>"

    assert mailer.send(message) == "<given@carrier.example>"
    assert mailer.destination == f"outbox folder {tmp_path}"


def test_an_outbox_that_cannot_be_written_is_mail_not_sent(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")

    with pytest.raises(MailNotSent, match="could not write to the outbox folder") as caught:
        OutboxFolderMailer(folder=str(blocker / "outbox")).send(_message())
    assert not caught.value.recipient_refused


def test_an_address_smtp_cannot_carry_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    outbox = tmp_path / "outbox"

    with pytest.raises(MailNotSent, match="non-ASCII characters") as caught:
        OutboxFolderMailer(folder=str(outbox)).send(_message("Jö <jö@example.com>"))

    assert caught.value.recipient_refused  # a verdict on the address: the next message may go
    assert not outbox.exists()  # not even a partial file


def test_the_envelope_takes_the_address_not_an_at_sign_in_a_quoted_name() -> None:
    message = _message('"Ada eve@evil.example, Bob" <ada@example.com>')

    assert recipients(message) == ["ada@example.com"]


def test_a_sender_that_cannot_be_a_header_stops_sending_for_every_message(tmp_path: Path) -> None:
    mailer = OutboxFolderMailer(folder=str(tmp_path), from_address="npnflow\r\nBcc: x@y.example")

    with pytest.raises(MailNotSent, match="the sender address is not usable") as caught:
        mailer.send(_message())
    assert not (caught.value.recipient_refused or caught.value.message_refused)


def test_a_message_needs_a_recipient(tmp_path: Path) -> None:
    message = EmailMessage()
    message.set_content("x")
    with pytest.raises(ValueError, match="To address"):
        OutboxFolderMailer(folder=str(tmp_path)).send(message)


def test_production_reads_every_smtp_setting_from_environment_variables() -> None:
    mailer = smtp_mailer_from_environment(
        {"NPNFLOW_SMTP_PORT": "2525", "NPNFLOW_SMTP_USERNAME": "u", "NPNFLOW_SMTP_PASSWORD": "p"}
    )

    assert isinstance(mailer, SmtpMailer)
    assert mailer.host == dg.EnvVar("NPNFLOW_SMTP_HOST")
    assert mailer.port == dg.EnvVar.int("NPNFLOW_SMTP_PORT")
    assert mailer.username == dg.EnvVar("NPNFLOW_SMTP_USERNAME")
    assert mailer.password == dg.EnvVar("NPNFLOW_SMTP_PASSWORD")
    assert mailer.from_address == dg.EnvVar("NPNFLOW_SMTP_FROM")
    assert mailer.starttls is True
    assert "password" not in repr(mailer) and "username" not in repr(mailer)


def test_production_defaults_port_587_and_no_login_for_a_trusted_relay() -> None:
    mailer = smtp_mailer_from_environment({"NPNFLOW_SMTP_STARTTLS": "false"})

    assert mailer.port == DEFAULT_SMTP_PORT == 587
    assert mailer.username is None and mailer.password is None
    assert mailer.starttls is False


def test_the_resolved_password_stays_out_of_repr() -> None:
    mailer = SmtpMailer(
        host="mail.example", from_address="a@b.example", username="user", password="s3cret-value"
    )
    assert "s3cret-value" not in repr(mailer) and "s3cret-value" not in str(mailer)


@pytest.mark.parametrize(("value", "expected"), [(None, True), ("", True), ("No", False),
                                                 (" true ", True), ("0", False), ("on", True)])  # fmt: skip
def test_flags(value, expected) -> None:
    assert parse_flag("NPNFLOW_SMTP_STARTTLS", value, default=True) is expected


def test_an_unclear_flag_fails_loudly_naming_the_variable() -> None:
    with pytest.raises(ValueError, match="NPNFLOW_SMTP_STARTTLS='maybe' is not true or false"):
        smtp_mailer_from_environment({"NPNFLOW_SMTP_STARTTLS": "maybe"})
