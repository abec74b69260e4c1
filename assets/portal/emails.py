"""The invitation email and its token: what the email carries, apart from the rules that decide
who is invited (`invitations.py`). Pure: no Dagster, no database, no network.

The token is random (256 bits) and appears only in the email's link; the database keeps its
SHA-256 (`token_hash`), and registration (`accept_invitation` in store.py) clears it, so a link
works once.

Names reach the headers from uploads, NIPR and the database, so none is trusted to be one
line: `header_text` turns line breaks and other control characters into spaces before a name
goes into `To` or the greeting (a line break in a header value makes the email package refuse
the whole message, and in a hand-built header it would start a new header). The `To` header is
an `email.headerregistry.Address`, so quoting and RFC 2047 encoded words for non-ASCII names
are the email package's. An address that cannot be written at all raises
`EmailNotWritten` before anything is claimed or sent.
"""

from __future__ import annotations

import email.errors
import email.policy
import hashlib
import secrets
import unicodedata
from email.headerregistry import Address
from email.message import EmailMessage
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

TOKEN_BYTES = 32

# Unicode categories of characters that end or break a header line (controls, line and
# paragraph separators): each becomes a space.
_LINE_BREAKING = frozenset({"Cc", "Zl", "Zp"})
# Invisible characters (zero-width spaces, direction overrides, lone surrogates) that would
# make a name look like something else or fail to encode: dropped.
_INVISIBLE = frozenset({"Cf", "Cs"})


class EmailNotWritten(ValueError):
    """The invitation email cannot be written for this producer: the address on record cannot
    go into a mail header or an SMTP envelope. The message is for an analyst and never
    repeats the address."""


def header_text(value: str | None) -> str:
    """`value` as one line a mail header can carry: line breaks, tabs and other control
    characters become spaces, invisible format characters go, runs of spaces become one.
    Letters of any script stay (the email package encodes them)."""
    kept = []
    for char in value or "":
        category = unicodedata.category(char)
        if category in _LINE_BREAKING:
            kept.append(" ")
        elif category not in _INVISIBLE:
            kept.append(char)
    return " ".join("".join(kept).split())


def mail_address(value: str | None) -> str:
    """The address as a mail server takes it: ASCII, a non-ASCII domain in its IDNA form.
    EmailNotWritten, saying why, for anything that is not one plain address (no SMTPUTF8:
    not every server offers it, and the invitation must reach the producer's inbox)."""
    text = (value or "").strip()
    local, at, domain = text.rpartition("@")
    if not (at and local and domain):
        raise EmailNotWritten("the email address on record is not an email address")
    if not local.isascii():
        raise EmailNotWritten(
            "the email address on record has non-ASCII characters before the @, which mail "
            "servers do not all accept"
        )
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise EmailNotWritten(
                "the email address on record has a domain that cannot be written for a mail server"
            ) from None
    candidate = f"{local}@{domain}"
    try:
        parsed = Address(addr_spec=candidate).addr_spec
    except (ValueError, IndexError, email.errors.MessageError):
        parsed = None
    if parsed != candidate:
        raise EmailNotWritten(
            "the email address on record is not one plain email address (it has spaces, "
            "control characters, brackets or several addresses)"
        )
    return candidate


def new_token() -> str:
    """A single-use invitation token: 256 random bits, URL-safe text."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """What the database keeps of a token: its SHA-256, hex. The token itself is never stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def accept_link(registration_url: str, token: str) -> str:
    """The portal's registration page with the token as the `token` query parameter."""
    parts = urlsplit(registration_url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "token"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("token", token)])))


def invitation_email(
    *,
    to: str,
    producer_name: str,
    npn: str,
    portal_label: str,
    registration_url: str,
    token: str,
) -> EmailMessage:
    """The invitation: a plain-text email whose link carries the token. No SSN, nothing but the
    producer's own name and NPN. `From`, `Date` and `Message-ID` are the mailer's to add.
    EmailNotWritten when the address cannot be written (module docstring)."""
    name = header_text(producer_name)
    message = EmailMessage()
    message["To"] = Address(display_name=name, addr_spec=mail_address(to))
    message["Subject"] = f"Your invitation to {header_text(portal_label)}"
    greeting = f"Hello {name}," if name else "Hello,"
    body = "\n".join(
        [
            greeting,
            "",
            f"You are invited to register on {portal_label} (your National Producer Number: "
            f"{npn}).",
            "",
            "Register with this link. It is personal and works once:",
            "",
            accept_link(registration_url, token),
            "",
            "If you did not expect this invitation, ignore this email: nothing happens until the "
            "link is used.",
            "",
        ]
    )
    # 7bit keeps the link readable in the raw message; other text is quoted-printable.
    message.set_content(body, cte="7bit" if body.isascii() else "quoted-printable")
    try:
        # Written once here as the mail server will get it, so a message that cannot be
        # encoded is found before a seat's email is claimed, not halfway through sending.
        message.as_bytes(policy=email.policy.SMTP)
    except (ValueError, TypeError, email.errors.MessageError) as error:
        raise EmailNotWritten(f"the invitation email could not be written ({error})") from None
    return message
