"""What every NIPR HTTP resource shares: the errors callers catch, the base resource
(credentials, timeouts, one lazily made session, scrubbing, reading a reply within a size
limit) and `safe_url`.

Separate from the clients because both build on it: the Entity Info / PDB Alerts client
(`resources/nipr.py`, which re-exports these names) and the Gateway client
(`resources/nipr_gateway.py`). Credentials are `EnvVar` fields in production and never reach
a log line, an error message or `repr()`.

Scrubbing covers every form in which a reply could echo the credentials back: as typed,
URL-encoded, Base64 of `user:password` (what HTTP Basic sends, `Authorization: Basic ...`) and
of the password alone, and any `Authorization:` header value whatever its scheme.

A reply's size is limited while it is read, after decompression: requests asks for gzip and
urllib3 inflates as it reads, so a small compressed reply can become gigabytes (1.9 MB of gzip
is 2 GB of zeros). `read_within` counts the decoded bytes and stops at the limit.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import date
from typing import ClassVar
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

import dagster as dg
import requests
from pydantic import Field, PrivateAttr

from resources.nipr_soap_replies import RUN_NOT_FINISHED


# ====================================================================== errors
class NiprCallFailed(RuntimeError):
    """A NIPR call failed (after its retries, if it has any); the message names the call and,
    for reports, the day. It never carries the credentials."""


class NiprAuthFailed(NiprCallFailed):
    """NIPR refused the credentials (HTTP 401/403). Not retried."""


class NiprFault(NiprCallFailed):
    """NIPR answered with a SOAP fault. `code`/`name` are NIPR's fault number and name
    (`code` is None when NIPR's fault names none); `message` is NIPR's fault text."""

    def __init__(self, text: str, code: int | None, name: str, message: str) -> None:
        super().__init__(text)
        self.code = code
        self.name = name
        self.message = message


class ReportNotReady(NiprCallFailed):
    """Fault 21 RUN_NOT_FINISHED: the day's alerts run is not finished. Ask again later."""

    code = RUN_NOT_FINISHED

    def __init__(self, text: str, report_date: date) -> None:
        super().__init__(text)
        self.report_date = report_date


class ReplyTooLarge(ValueError):
    """A reply grew past `limit` decoded bytes while it was read; the rest was not read. The
    caller turns it into its own error (a NIPR call failure, an unreadable Gateway reply)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the reply is larger than {limit:,} bytes once decompressed")
        self.limit = limit


class TransientFailure(Exception):
    """This attempt failed in a way worth another try (the client decides whether to)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ====================================================================== reading replies
# Small calls' replies (an Entity Info report, a SOAP answer, a Gateway reply of at most 100
# transactions) are kilobytes; this leaves room for the largest producer's history.
MAX_REPLY_BYTES = 32 * 1024 * 1024
READ_CHUNK_BYTES = 64 * 1024


def read_within(response: requests.Response, limit: int) -> bytes:
    """The body of a response requested with `stream=True`, decoded as the server encoded it,
    or ReplyTooLarge as soon as it passes `limit` decoded bytes. urllib3 inflates at most a
    chunk at a time, so memory stays within `limit` plus one chunk whatever the compression."""
    body = bytearray()
    for chunk in response.iter_content(READ_CHUNK_BYTES):
        if len(body) + len(chunk) > limit:
            raise ReplyTooLarge(limit)
        body += chunk
    return bytes(body)


# HTTP authorization header values (`Authorization: Basic dXNlcjpwYXNz`, a Bearer token, ...)
# a server might repeat in its error text: the value goes whatever the credentials are.
_AUTHORIZATION = re.compile(
    r"(?P<name>\b(?:proxy-)?authorization\b[\"']?\s*[:=]\s*[\"']?)"
    r"(?:(?P<scheme>basic|bearer|digest|negotiate|ntlm)\s+)?[^\s\"'<>,;]+",
    re.IGNORECASE,
)


def _base64_forms(raw: bytes) -> Iterator[str]:
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        text = encode(raw).decode("ascii")
        yield text
        yield text.rstrip("=")


def credential_forms(username: str, password: str) -> list[str]:
    """Every text a reply could carry the credentials in, longest first (so a form that holds
    another is replaced whole): as typed, URL-encoded, Base64 of `user:password` and of the
    password alone. Values too short to be told from ordinary text (under 3 characters) are
    left out; they are no secret worth the name."""
    forms: set[str] = set()
    for secret in (password, username):
        if isinstance(secret, str) and len(secret) >= 3:
            forms.update({secret, quote(secret, safe=""), quote_plus(secret)})
    if isinstance(password, str) and len(password) >= 3:
        forms.update(_base64_forms(password.encode("utf-8")))
        if isinstance(username, str):
            forms.update(_base64_forms(f"{username}:{password}".encode()))
    return sorted(forms, key=len, reverse=True)


def scrub_credentials(text: str, username: str, password: str) -> str:
    """`text` with any Authorization header value and every form of the credentials as ***."""

    def hide(match: re.Match[str]) -> str:
        scheme = f"{match['scheme']} " if match["scheme"] else ""
        return f"{match['name']}{scheme}***"

    text = _AUTHORIZATION.sub(hide, text)
    for form in credential_forms(username, password):
        text = text.replace(form, "***")
    return text


# ====================================================================== the resources
class NiprHttpResource(dg.ConfigurableResource):
    """What every NIPR resource shares: credentials, timeouts, one lazily made HTTP session,
    and scrubbing the credentials out of any text that may reach a log."""

    # repr=False: the resource's repr (logs, tracebacks, the debugger) leaves them out.
    username: str = Field(repr=False, description="NIPR user; an EnvVar in production.")
    password: str = Field(repr=False, description="NIPR password; an EnvVar in production.")
    connect_timeout_seconds: float = Field(default=10.0, description="TCP/TLS connect timeout.")
    max_reply_bytes: int = Field(
        default=MAX_REPLY_BYTES,
        description=(
            "The most a small call's reply (Entity Info, a SOAP answer, a Gateway reply) may "
            "hold once decompressed; a larger one is refused unread."
        ),
    )

    _session: requests.Session | None = PrivateAttr(default=None)
    _user_agent: ClassVar[str] = "npnflow"

    # The read timeout is each subclass's own field (its default depends on the calls).
    timeout_seconds: float

    def _http(self) -> requests.Session:
        # Created on first use (not at import, not at construction). urllib3's own retries stay
        # off (the adapters' default): retries are the caller's decision, and a silent resend
        # of a Gateway POST is exactly what must not happen.
        if self._session is None:
            session = requests.Session()
            session.auth = (self.username, self.password)
            session.headers["User-Agent"] = self._user_agent
            self._session = session
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self.close()

    @property
    def _timeout(self) -> tuple[float, float]:
        return (self.connect_timeout_seconds, self.timeout_seconds)

    def _scrub(self, text: str) -> str:
        """Belt and braces: a NIPR reply could echo the credentials back, in any form (the
        module docstring)."""
        return scrub_credentials(text, self.username, self.password)


def safe_url(url: str) -> str:
    """The URL without any user:password@ a misconfigured base URL might carry."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
