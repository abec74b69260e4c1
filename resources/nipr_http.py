"""What every NIPR HTTP resource shares: the errors callers catch, the base resource
(credentials, timeouts, one lazily made session, scrubbing) and `safe_url`.

Separate from the clients because both build on it: the Entity Info / PDB Alerts client
(`resources/nipr.py`, which re-exports these names) and the Gateway client
(`resources/nipr_gateway.py`). Credentials are `EnvVar` fields in production and never reach
a log line, an error message or `repr()`.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar
from urllib.parse import urlsplit, urlunsplit

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


class TransientFailure(Exception):
    """This attempt failed in a way worth another try (the client decides whether to)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ====================================================================== the resources
class NiprHttpResource(dg.ConfigurableResource):
    """What every NIPR resource shares: credentials, timeouts, one lazily made HTTP session,
    and scrubbing the credentials out of any text that may reach a log."""

    # repr=False: the resource's repr (logs, tracebacks, the debugger) leaves them out.
    username: str = Field(repr=False, description="NIPR user; an EnvVar in production.")
    password: str = Field(repr=False, description="NIPR password; an EnvVar in production.")
    connect_timeout_seconds: float = Field(default=10.0, description="TCP/TLS connect timeout.")

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
        """Belt and braces: a NIPR reply could echo the user name back."""
        for secret in (self.password, self.username):
            if isinstance(secret, str) and len(secret) >= 3:
                text = text.replace(secret, "***")
        return text


def safe_url(url: str) -> str:
    """The URL without any user:password@ a misconfigured base URL might carry."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
