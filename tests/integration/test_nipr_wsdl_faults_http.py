"""NIPR's PDB Alerts faults in the WSDL's shape, over real HTTP: the sandbox answers them as
pdb-alerts-industry-ws.wsdl declares (`PdbAlertsFaultType` with `message` and `errorCode`),
MTOM-framed as NIPR's samples are or as plain text/xml, and the client turns each into what
the daily sync acts on: 21 ask again later, 22 a quiet day, 14 and 9 the results they are,
any other fault an error that shows its code and message."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

import pytest
import requests
from lxml import etree

from npnflow.sandbox.mtom import split_mtom
from npnflow.sandbox.server import NiprSandbox
from resources.nipr import NiprClient, NiprFault, ReportNotReady
from support.sandbox import client_settings, running_sandbox

pytestmark = pytest.mark.sandbox

TODAY = datetime(2025, 3, 28, 12, 0)  # a Friday, after the sandbox's 10:00 publish hour
TOMORROW = date(2025, 3, 29)  # the run is not finished: fault 21
SUNDAY = date(2025, 3, 23)  # no alerts run on Sundays: fault 22
TOO_OLD = date(2025, 3, 10)  # more than 14 days back: fault 20
ALERTS = "/pdb-alerts-industry-services/services/industry-ws"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
IND = "https://pdb-services.nipr.com/pdb-alerts-industry-services/industry-ws"
SAFE = etree.XMLParser(resolve_entities=False, no_network=True)


@pytest.fixture(scope="module", params=["mtom", "plain"])
def server(request: pytest.FixtureRequest) -> Iterator[NiprSandbox]:
    """One sandbox per framing of its faults."""
    with running_sandbox(
        seed=21, producers=60, today=TODAY, mtom_faults=request.param == "mtom"
    ) as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(server: NiprSandbox) -> NiprSandbox:
    server.reset()
    server.set_clock(TODAY)
    return server


@pytest.fixture
def client(sandbox: NiprSandbox) -> Iterator[NiprClient]:
    nipr = NiprClient(**client_settings(sandbox), read_retries=0, backoff_seconds=0.01)
    yield nipr
    nipr.close()


def raw_report_fault(sandbox: NiprSandbox, day: date) -> tuple[str, etree._Element]:
    """The Content-Type of the sandbox's fault reply and its soap:Fault element."""
    envelope = (
        f'<soapenv:Envelope xmlns:soapenv="{SOAP}" xmlns:ind="{IND}"><soapenv:Body>'
        f"<ind:receiveSpecificReport><ind:reportDate>{day}</ind:reportDate>"
        f"</ind:receiveSpecificReport></soapenv:Body></soapenv:Envelope>"
    )
    response = requests.post(
        sandbox.base_url + ALERTS,
        data=envelope.encode(),
        headers={"Content-Type": "text/xml; charset=UTF-8"},
        auth=sandbox.auth,
        timeout=10,
    )
    assert response.status_code == 500
    content_type = response.headers["Content-Type"]
    body = response.content
    if content_type.startswith("multipart/"):
        body = split_mtom(body, content_type).root
    fault = etree.fromstring(body, parser=SAFE).find(f"{{{SOAP}}}Body/{{{SOAP}}}Fault")
    assert fault is not None
    return content_type, fault


@pytest.mark.parametrize(
    ("day", "code", "message"),
    [
        (TOO_OLD, "20", "The date provided was invalid: reports can be backdated at most 14 days"),
        (TOMORROW, "21", "The requested report is not available or complete."),
        (SUNDAY, "22", "There are no alerts scheduled for the day."),
    ],
)
def test_the_sandbox_answers_faults_as_the_wsdl_declares(sandbox, day, code, message):
    content_type, fault = raw_report_fault(sandbox, day)
    framing = "mtom" if sandbox.alerts.mtom_faults else "plain"
    assert content_type.startswith("multipart/related" if framing == "mtom" else "text/xml")
    detail = fault.find(f"detail/{{{IND}}}PdbAlertsFaultType")
    assert detail is not None
    assert [etree.QName(c).localname for c in detail] == ["message", "errorCode"]
    assert detail.findtext(f"{{{IND}}}errorCode") == code
    assert detail.findtext(f"{{{IND}}}message") == message
    assert fault.findtext("faultstring") == message


def test_fault_21_is_ask_again_later(client):
    with pytest.raises(ReportNotReady, match="NIPR fault 21 RUN_NOT_FINISHED") as caught:
        client.fetch_alerts_report(TOMORROW)
    assert caught.value.report_date == TOMORROW
    assert "ask again later" in str(caught.value)


def test_fault_22_is_a_day_without_alerts(client):
    reply = client.fetch_alerts_report(SUNDAY)
    assert (reply.status, reply.content) == ("no_run_today", b"")


def test_any_other_fault_is_an_error_with_its_code_and_message(client):
    with pytest.raises(NiprFault) as caught:
        client.fetch_alerts_report(TOO_OLD)
    assert (caught.value.code, caught.value.name) == (20, "INVALID_DATE")
    assert "NIPR fault 20 INVALID_DATE: The date provided was invalid" in str(caught.value)


def test_no_subscriptions_yet_is_an_empty_list(client):
    # The sandbox answers fault 14 here, as the WSDL allows no empty subscriptionList.
    assert client.list_subscriptions() == []
    client.add_subscription("S1", "ops@example.com")
    assert client.list_subscriptions() == ["S1"]


def test_none_of_the_targets_valid_is_a_result(client):
    client.add_subscription("S1", "ops@example.com")
    result = client.add_targets("S1", ["1234567", "7654321"])
    assert result.valid == ()
    assert [t.input for t in result.invalid] == ["1234567", "7654321"]
    assert all("valid insurance producer" in t.reason for t in result.invalid)


def test_an_unknown_subscription_is_a_fault_with_its_code(client):
    with pytest.raises(NiprFault, match="NIPR fault 14 SUBSCRIPTION_NONEXISTENT") as caught:
        client.list_targets("nobody")
    assert caught.value.code == 14
