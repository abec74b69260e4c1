"""Outgoing email: one interface (`Mailer.send`, one message), two implementations.

- `SmtpMailer` (production): hands each message to an SMTP server (STARTTLS by default, AUTH
  when a user name is set). Host, port, user name, password and sender come from environment
  variables (`smtp_mailer_from_environment`); the password is an `EnvVar`, never a value in
  the definitions, a log line or `repr()`.
- `OutboxFolderMailer` (embedded default, CI): writes each message as an `.eml` file into a
  folder (`<data dir>/outbox`), where a person opens it with any mail program. Nothing leaves
  the machine.

What a caller needs to know to send each message exactly once is in the exceptions:
- `MailNotSent`: the message was certainly not accepted. `recipient_refused` is True when the
  server refused the address itself with a permanent (5xx) reply: trying again cannot help.
  `message_refused` is True when this one message can never go, whatever the server's state:
  the server answered the message itself with a permanent (5xx) reply, or the message cannot
  be written for sending (a header no server may get, an address SMTP cannot carry). Both
  concern one message: the next one may well go through.
- `MailOutcomeUnknown`: the connection was lost after the message was handed over, before the
  server's answer; it may have been accepted. A caller that must never send twice does not
  send it again by itself.
"""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
import email.errors
import email.policy
import email.utils
import hashlib
import os
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from pathlib import Path

import dagster as dg
from pydantic import Field

from schemas.booleans import SETTING_FALSE_WORDS, SETTING_TRUE_WORDS

DEFAULT_SMTP_PORT = 587  # the submission port, with STARTTLS
DEFAULT_OUTBOX_FROM = "npnflow <npnflow@localhost>"


class MailNotSent(RuntimeError):
    """The message was not accepted; the message says why (never a password)."""

    def __init__(
        self, message: str, *, recipient_refused: bool = False, message_refused: bool = False
    ) -> None:
        super().__init__(message)
        self.recipient_refused = recipient_refused
        self.message_refused = message_refused


class MailOutcomeUnknown(RuntimeError):
    """The message was handed over but the server's answer never came: maybe accepted."""


def recipients(message: EmailMessage) -> list[str]:
    """The addresses of the message's `To` headers, as the SMTP envelope takes them. Read from
    the parsed header (`email.headerregistry`) when there is one, so a quoted display name that
    holds an '@' or a comma is never mistaken for an address."""
    found: list[str] = []
    for header in message.get_all("To", []):
        addresses = getattr(header, "addresses", None)
        if addresses is not None:
            found.extend(address.addr_spec for address in addresses)
        else:
            found.extend(address for _, address in email.utils.getaddresses([str(header)]))
    return [address for address in found if address]


def encoded_for_sending(message: EmailMessage) -> bytes:
    """The message as a mail server gets it (CRLF line ends, non-ASCII headers as encoded
    words), or MailNotSent(message_refused=True) when it cannot be written or addressed: that
    message can never go, and saying so before a connection is opened keeps a half-written
    message off the wire."""
    try:
        data = message.as_bytes(policy=email.policy.SMTP)
        to = recipients(message)
    except (ValueError, TypeError, IndexError, email.errors.MessageError) as error:
        raise MailNotSent(
            f"the message could not be written for sending ({error})", message_refused=True
        ) from None
    if not to:
        raise MailNotSent("the message has no usable To address", message_refused=True)
    if not all(address.isascii() for address in to):
        # smtplib speaks ASCII only (no SMTPUTF8): the address cannot be given to the server.
        raise MailNotSent(
            "the recipient's address has non-ASCII characters, which this mailer cannot give "
            "to a mail server",
            recipient_refused=True,
        )
    return data


def _sender_domain(from_address: str) -> str:
    address = email.utils.parseaddr(from_address)[1]
    domain = address.rpartition("@")[2]
    return domain or "localhost"


# Bare, as Dagster's own docs subclass it: ConfigurableResource[X] would build a new pydantic
# class at run time. (type-arg is only reported where mypy is strict: hence unused-ignore.)
class Mailer(dg.ConfigurableResource):  # type: ignore[type-arg, unused-ignore]
    """What npnflow needs of email: send one message. Abstract (see `ObjectStore`): assets ask
    for a `Mailer` and get the environment's implementation."""

    from_address: str = Field(
        description="The sender, e.g. 'Compliance <compliance@carrier.example>'."
    )

    @property
    @abc.abstractmethod
    def destination(self) -> str:
        """Where messages go, for people (a server or a folder; never credentials)."""

    @abc.abstractmethod
    def _deliver(self, message: EmailMessage) -> None:
        """Hand the prepared message over; raise MailNotSent or MailOutcomeUnknown."""

    def send(self, message: EmailMessage) -> str:
        """Send one message; returns its Message-ID. `From`, `Date` and `Message-ID` are filled
        in when the message has none. Raises only MailNotSent or MailOutcomeUnknown (and
        ValueError for a message without a `To`, a caller's mistake)."""
        if message["To"] is None:
            raise ValueError("a message needs a To address")
        try:
            if message["From"] is None:
                message["From"] = self.from_address
        except (ValueError, TypeError, IndexError, email.errors.MessageError) as error:
            # The configured sender, not this message: every message would fail the same way.
            raise MailNotSent(f"the sender address is not usable ({error})") from None
        if message["Date"] is None:
            message["Date"] = email.utils.format_datetime(dt.datetime.now(dt.UTC))
        if message["Message-ID"] is None:
            message["Message-ID"] = email.utils.make_msgid(
                idstring="npnflow", domain=_sender_domain(self.from_address)
            )
        encoded_for_sending(message)
        self._deliver(message)
        return str(message["Message-ID"])


class SmtpMailer(Mailer):
    """An SMTP server (production). One connection per message: invitations come in tens or
    hundreds, and a fresh connection cannot be left half-broken by the previous message."""

    host: str = Field(description="SMTP server host name.")
    port: int = Field(default=DEFAULT_SMTP_PORT, description="SMTP port (587: submission).")
    username: str | None = Field(
        default=None, repr=False, description="SMTP AUTH user; none: no AUTH (a trusted relay)."
    )
    password: str | None = Field(default=None, repr=False, description="SMTP AUTH password.")
    starttls: bool = Field(
        default=True,
        description="Upgrade the connection with STARTTLS before AUTH and the message. Turn off "
        "only for a relay on a trusted network.",
    )
    timeout_seconds: float = Field(default=30.0, description="Connect and reply timeout.")

    @property
    def destination(self) -> str:
        return f"SMTP server {self.host}:{self.port}"

    def _deliver(self, message: EmailMessage) -> None:
        where = self.destination
        sender = email.utils.parseaddr(str(message["From"]))[1]
        # SMTP wants CRLF line ends; the envelope sender and recipients go separately, so the
        # message's own Bcc (none here) would never be revealed.
        data = encoded_for_sending(message)
        to = recipients(message)
        try:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_seconds)
        except (OSError, smtplib.SMTPException) as error:
            raise MailNotSent(f"could not reach the {where}: {_reason(error)}") from None
        try:
            self._hello_and_login(smtp, where)
            try:
                code, reply = smtp.mail(sender)
                if code != 250:
                    raise MailNotSent(
                        f"the {where} refused the sender {sender!r}: {code} {_text(reply)}"
                    )
                refused = {}
                for recipient in to:
                    code, reply = smtp.rcpt(recipient)
                    if code not in (250, 251):
                        refused[recipient] = (code, reply)
                if refused:
                    _reset_quietly(smtp)
                    permanent = all(500 <= code < 600 for code, _ in refused.values())
                    text = "; ".join(f"{c} {_text(r)}" for c, r in refused.values())
                    raise MailNotSent(
                        f"the {where} refused the recipient's address: {text}",
                        recipient_refused=permanent,
                    )
            except (OSError, ValueError, smtplib.SMTPException) as error:
                # ValueError: smtplib speaks ASCII and refuses (UnicodeEncodeError) a sender it
                # cannot write; nothing of the message went out.
                raise MailNotSent(
                    f"the {where} failed before the message: {_reason(error)}"
                ) from None
            answer: tuple[int, bytes | str]
            try:
                answer = smtp.data(data)
            except smtplib.SMTPDataError as error:
                # The server refused to take the message (before its content).
                answer = (error.smtp_code, error.smtp_error)
            except (OSError, smtplib.SMTPException) as error:
                # The message went out but the answer did not come back: maybe accepted.
                raise MailOutcomeUnknown(
                    f"the connection to the {where} was lost while it took the message "
                    f"({_reason(error)}); it may have been delivered"
                ) from None
            answer_code, answer_text = answer[0], _text(answer[1])
            if answer_code != 250:
                # The server answered: it did not take the message (smtplib returns the answer
                # to the content instead of raising). A permanent (5xx) answer is about this
                # message (its content, its size): sending it again cannot help, and the next
                # message may go through.
                raise MailNotSent(
                    f"the {where} refused the message: {answer_code} {answer_text}",
                    message_refused=500 <= answer_code < 600,
                )
        finally:
            _close_quietly(smtp)

    def _hello_and_login(self, smtp: smtplib.SMTP, where: str) -> None:
        try:
            smtp.ehlo()
            if self.starttls:
                if not smtp.has_extn("starttls"):
                    raise MailNotSent(
                        f"the {where} does not offer STARTTLS; messages (and their links) would "
                        "travel unencrypted. Use a server that does, or set "
                        "NPNFLOW_SMTP_STARTTLS=false for a relay on a trusted network."
                    )
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password or "")
        except smtplib.SMTPAuthenticationError as error:
            raise MailNotSent(
                f"the {where} refused the user name and password (NPNFLOW_SMTP_USERNAME, "
                f"NPNFLOW_SMTP_PASSWORD): {error.smtp_code}"
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise MailNotSent(
                f"the {where} does not offer AUTH; unset NPNFLOW_SMTP_USERNAME for a relay that "
                "needs no login"
            ) from None
        except (OSError, smtplib.SMTPException) as error:
            raise MailNotSent(f"the {where} failed at the greeting: {_reason(error)}") from None


class OutboxFolderMailer(Mailer):
    """A folder of `.eml` files (embedded default, CI): each message one file, written whole
    (a reader never sees half a message), readable only by its owner since the invitation links
    in them are the keys to register."""

    folder: str = Field(description="Folder the messages are written to; created when needed.")
    from_address: str = Field(default=DEFAULT_OUTBOX_FROM, description="The sender shown.")

    @property
    def destination(self) -> str:
        return f"outbox folder {self.folder}"

    def _deliver(self, message: EmailMessage) -> None:
        folder = Path(self.folder)
        message_id = str(message["Message-ID"])
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        name = f"{stamp}-{hashlib.sha256(message_id.encode()).hexdigest()[:12]}.eml"
        partial = folder / f".{name}.partial"
        data = encoded_for_sending(message)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, folder / name)
        except OSError as error:
            with contextlib.suppress(OSError):  # nothing to clean up when nothing was created
                partial.unlink(missing_ok=True)
            raise MailNotSent(f"could not write to the {self.destination}: {error}") from None


def _reason(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{error.smtp_code} {_text(error.smtp_error)}"
    return str(error) or type(error).__name__


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _reset_quietly(smtp: smtplib.SMTP) -> None:
    """RSET after a refusal; the refusal is the news, not how the reset went."""
    with contextlib.suppress(OSError, smtplib.SMTPException):
        smtp.rset()


def _close_quietly(smtp: smtplib.SMTP) -> None:
    """QUIT, ignoring its failures: whatever happened before is already decided."""
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


# ============================================================================ configuration
def parse_flag(name: str, value: str | None, default: bool) -> bool:
    """An on/off environment variable; anything unclear fails loudly, naming the variable."""
    if value is None or not value.strip():
        return default
    text = value.strip().casefold()
    if text in SETTING_TRUE_WORDS:
        return True
    if text in SETTING_FALSE_WORDS:
        return False
    raise ValueError(f"{name}={value!r} is not true or false")


def smtp_mailer_from_environment(environ: Mapping[str, str]) -> SmtpMailer:
    """The production mailer: NPNFLOW_SMTP_HOST, NPNFLOW_SMTP_PORT (default 587),
    NPNFLOW_SMTP_USERNAME / NPNFLOW_SMTP_PASSWORD (unset: no AUTH), NPNFLOW_SMTP_FROM and
    NPNFLOW_SMTP_STARTTLS (default true). Values are read when a run starts (EnvVar)."""

    def optional(name: str) -> dg.EnvVar | None:
        return dg.EnvVar(name) if environ.get(name) else None

    return SmtpMailer(
        host=dg.EnvVar("NPNFLOW_SMTP_HOST"),
        port=dg.EnvVar.int("NPNFLOW_SMTP_PORT")
        if environ.get("NPNFLOW_SMTP_PORT")
        else DEFAULT_SMTP_PORT,
        username=optional("NPNFLOW_SMTP_USERNAME"),
        password=optional("NPNFLOW_SMTP_PASSWORD"),
        from_address=dg.EnvVar("NPNFLOW_SMTP_FROM"),
        starttls=parse_flag(
            "NPNFLOW_SMTP_STARTTLS", environ.get("NPNFLOW_SMTP_STARTTLS"), default=True
        ),
    )


def outbox_mailer(folder: Path) -> OutboxFolderMailer:
    """The embedded default's mailer: `.eml` files in `folder` (`paths.outbox_dir()`)."""
    return OutboxFolderMailer(folder=str(folder))
