"""NIPR over HTTP: the same client for the real endpoints and the sandbox; only config differs.

Credentials are `EnvVar` fields in production and never reach a log line or an error message.
Every call has a timeout. Reads retry with exponential backoff on 5xx and connection errors;
writes (Gateway submissions) are never retried blindly: that is the submission ledger's job.
"""

from __future__ import annotations

import dagster as dg
import requests
from pydantic import Field, PrivateAttr
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

ENTITY_INFO_PATH = "/pdb-xml-reports/entityinfo_xml.cgi"
ALERTS_PATH = "/pdb-alerts-industry-services/services/industry-ws"
GATEWAY_PATH = "/gateway-realtime/realtime"


class NiprCallFailed(RuntimeError):
    """A NIPR call failed after its retries; the message names the call, never the secrets."""


class NiprClient(dg.ConfigurableResource):
    """NIPR's PDB (Entity Info), PDB Alerts and Gateway endpoints."""

    pdb_base_url: str = Field(description="Base URL of pdb-xml-reports (Entity Info).")
    alerts_base_url: str = Field(description="Base URL of the PDB Alerts SOAP service.")
    gateway_base_url: str = Field(description="Base URL of the Gateway real-time service.")
    username: str = Field(description="NIPR user; an EnvVar in production.")
    password: str = Field(description="NIPR password; an EnvVar in production.")
    timeout_seconds: float = 30.0
    read_retries: int = 3
    backoff_seconds: float = 0.5

    _session: requests.Session | None = PrivateAttr(default=None)

    def _http(self) -> requests.Session:
        if self._session is None:
            session = requests.Session()
            session.auth = (self.username, self.password)
            retry = Retry(
                total=self.read_retries,
                backoff_factor=self.backoff_seconds,
                status_forcelist=(500, 502, 503, 504),
                allowed_methods=frozenset({"GET"}),
                raise_on_status=False,
            )
            session.mount("http://", HTTPAdapter(max_retries=retry))
            session.mount("https://", HTTPAdapter(max_retries=retry))
            self._session = session
        return self._session

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def fetch_entity_info(self, npn: str) -> bytes:
        """The Entity Info (PDB detail report) XML of one producer, as NIPR sent it."""
        url = self.pdb_base_url.rstrip("/") + ENTITY_INFO_PATH
        try:
            response = self._http().get(
                url, params={"id_entity": npn}, timeout=self.timeout_seconds
            )
        except requests.RequestException as exc:
            raise NiprCallFailed(
                f"Entity Info for NPN {npn}: no answer from {url} ({type(exc).__name__})"
            ) from None
        if response.status_code != 200:
            raise NiprCallFailed(
                f"Entity Info for NPN {npn}: HTTP {response.status_code} from {url}"
            )
        return response.content
