"""The invitation email and its token: what the email carries, apart from the rules that decide
who is invited (`invitations.py`). Pure: no Dagster, no database, no network.

The token is random (256 bits) and appears only in the email's link; the database keeps its
SHA-256 (`token_hash`), and registration (`accept_invitation` in store.py) clears it, so a link
works once.
"""

from __future__ import annotations

import email.utils
import hashlib
import secrets
from email.message import EmailMessage
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

TOKEN_BYTES = 32


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
    producer's own name and NPN. `From`, `Date` and `Message-ID` are the mailer's to add."""
    message = EmailMessage()
    message["To"] = email.utils.formataddr((producer_name, to)) if producer_name else to
    message["Subject"] = f"Your invitation to {portal_label}"
    greeting = f"Hello {producer_name}," if producer_name else "Hello,"
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
    return message
