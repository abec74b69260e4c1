"""The NIPR sandbox over real HTTP on loopback: every endpoint, every injected fault, and the
element structure of its replies against NIPR's samples (tests/fixtures/nipr/)."""

from __future__ import annotations

import re
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import requests
from lxml import etree

from npnflow.sandbox.changes import is_run_day
from npnflow.sandbox.mtom import split_mtom
from npnflow.sandbox.server import NiprSandbox
from support.sandbox import running_sandbox, sandbox_fixture

pytestmark = pytest.mark.sandbox

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "nipr"
TODAY = datetime(2025, 3, 28, 12, 0)  # a Friday, after the 10:00 publish hour
ENTITY_INFO = "/pdb-xml-reports/entityinfo_xml.cgi"
ALERTS = "/pdb-alerts-industry-services/services/industry-ws"
REALTIME = "/gateway-realtime/realtime"
STATUS = "/gateway-realtime/status"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
IND = "https://pdb-services.nipr.com/pdb-alerts-industry-services/industry-ws"
ACORD = "http://www.acord.org/schema/data/draft/ReusableDataComponents/1"
XOP = "http://www.w3.org/2004/08/xop/include"
SAFE = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
TIMEOUT = 10


server = sandbox_fixture(
    seed=21, producers=150, today=TODAY, intermediate_fraction=0.3, polls_to_resolve=2
)


@pytest.fixture
def sandbox(server: NiprSandbox) -> NiprSandbox:
    """The module's server, with subscriptions, Gateway log, faults and clock reset."""
    server.reset()
    server.set_clock(TODAY)
    return server


# ---------------------------------------------------------------------- helpers
def xml(data: bytes) -> etree._Element:
    return etree.fromstring(data, parser=SAFE)


def soap(sandbox: NiprSandbox, call: str, action: str | None = None) -> requests.Response:
    envelope = (
        f'<soapenv:Envelope xmlns:soapenv="{SOAP}" xmlns:ind="{IND}"><soapenv:Header/>'
        f"<soapenv:Body>{call}</soapenv:Body></soapenv:Envelope>"
    )
    headers = {"Content-Type": "text/xml; charset=UTF-8"}
    if action:
        headers["SOAPAction"] = action
    return requests.post(
        sandbox.base_url + ALERTS,
        data=envelope.encode(),
        headers=headers,
        auth=sandbox.auth,
        timeout=TIMEOUT,
    )


def soap_body(response: requests.Response) -> etree._Element:
    """The SOAP Body's first child, read through the MTOM framing."""
    assert response.headers["Content-Type"].startswith("multipart/related;")
    message = split_mtom(response.content, response.headers["Content-Type"])
    return xml(message.root).find(f"{{{SOAP}}}Body")[0]


def fault_code(response: requests.Response) -> int:
    assert response.status_code == 500
    body = soap_body(response)
    assert body.tag == f"{{{SOAP}}}Fault"
    return int(body.findtext(f"detail/{{{IND}}}PdbAlertsFaultType/{{{IND}}}errorCode"))


def add_subscription(sandbox: NiprSandbox, name: str = "S1") -> None:
    call = (
        f"<ind:addSubscription><ind:subscriptionInputData>"
        f"<ind:subscriptionName>{name}</ind:subscriptionName>"
        f"<ind:email>ops@example.com</ind:email>"
        f"<ind:affiliationList><ind:None>true</ind:None></ind:affiliationList>"
        f"<ind:stateList><ind:allStates>true</ind:allStates></ind:stateList>"
        f"<ind:alertTypeList><ind:alertTypeList>LICENSING</ind:alertTypeList>"
        f"<ind:alertTypeList>APPOINTMENTS</ind:alertTypeList>"
        f"<ind:alertTypeList>DEMOGRAPHICS</ind:alertTypeList></ind:alertTypeList>"
        f"</ind:subscriptionInputData></ind:addSubscription>"
    )
    response = soap(sandbox, call)
    assert response.status_code == 200, response.text
    assert soap_body(response).tag == f"{{{IND}}}empty"


def targets_call(method: str, npns: list[str], name: str = "S1") -> str:
    items = "".join(f"<ind:npnList>{n}</ind:npnList>" for n in npns)
    return (
        f"<ind:{method}><ind:subscriptionName>{name}</ind:subscriptionName>"
        f"<ind:targetInputData><ind:inputFormat>NPN</ind:inputFormat>"
        f"<ind:targetInputList>{items}</ind:targetInputList></ind:targetInputData>"
        f"</ind:{method}>"
    )


def report(sandbox: NiprSandbox, day: date | str) -> requests.Response:
    return soap(
        sandbox,
        f"<ind:receiveSpecificReport><ind:reportDate>{day}</ind:reportDate>"
        f"</ind:receiveSpecificReport>",
    )


def report_part(response: requests.Response) -> bytes:
    """Follow the envelope's xop:Include to the report part."""
    message = split_mtom(response.content, response.headers["Content-Type"])
    hrefs = message.xop_includes()
    assert len(hrefs) == 1 and hrefs[0].startswith("cid:")
    return message.resolve(hrefs[0])


def run_days(sandbox: NiprSandbox) -> list[date]:
    today = sandbox.now().date()
    days = [today - timedelta(days=i) for i in range(15)]
    return sorted(d for d in days if is_run_day(d) and d > sandbox.world.epoch)


def transaction(
    npn: str,
    state: str,
    cocode: str,
    loa: object,
    trans: str,
    batch: str = "CB-1",
    kind: str = "1",
    customer: str = "38NIPRTEST",
) -> str:
    return (
        f"<TRANSACTION><APPLICANT><NPN>{npn}</NPN><TYPE>I</TYPE></APPLICANT>"
        f"<APPOINTER><COCODE>{cocode}</COCODE><TYPE>F</TYPE></APPOINTER>"
        f"<CUSTOMER>{customer}</CUSTOMER><CUST_BATCH>{batch}</CUST_BATCH>"
        f"<CUST_TRANS>{trans}</CUST_TRANS><ENTITY>{customer}</ENTITY>"
        f"<LICENSE><DATE_EFFECTIVE>20250328</DATE_EFFECTIVE><LOA><LOA_CODE>{loa}</LOA_CODE>"
        f"</LOA></LICENSE><PAYMENT><ACCOUNT_ID>001</ACCOUNT_ID><PAYMENT_TYPE>2</PAYMENT_TYPE>"
        f"</PAYMENT><STATE_FEE>16.00</STATE_FEE><TRANS_FEE>0.80</TRANS_FEE>"
        f"<TRANS_HEAD><DATE_STAMP>20250328</DATE_STAMP><STATE_CODE>{state}</STATE_CODE>"
        f"<TIME_STAMP>064333407</TIME_STAMP><TRANSACTION_TYPE>{kind}</TRANSACTION_TYPE>"
        f"</TRANS_HEAD></TRANSACTION>"
    )


def gateway(sandbox: NiprSandbox, body: str, timeout: float = TIMEOUT) -> requests.Response:
    return requests.post(
        sandbox.base_url + REALTIME,
        data=body.encode(),
        auth=sandbox.auth,
        headers={"Content-Type": "text/xml"},
        timeout=timeout,
    )


def appointable(sandbox: NiprSandbox, count: int) -> list[tuple[str, str, int]]:
    """(npn, state, loa) the sandbox should approve for company 99101."""
    found = []
    for npn in sandbox.world.individual_npns():
        producer = sandbox.world.producer(npn)
        resident = [lic for lic in producer.licenses if lic.is_resident]
        if not resident or not resident[0].is_active or resident[0].expiration_date < TODAY.date():
            continue
        for loa in resident[0].loas:
            if loa.is_active and not any(
                a.state == resident[0].state
                and a.cocode == "99101"
                and a.loa_code == loa.code
                and a.is_appointed
                for a in producer.appointments
            ):
                found.append((npn, resident[0].state, loa.code))
                break
        if len(found) == count:
            return found
    raise AssertionError("not enough appointable producers")


def transactions_by_key(root: etree._Element) -> dict[str, etree._Element]:
    return {t.findtext("CUST_TRANS"): t for t in root.findall("TRANSACTION")}


def element_paths(root: etree._Element) -> set[str]:
    """Namespace-aware tag paths from the root, ignoring text, attributes and repetitions."""
    out: set[str] = set()

    def walk(element: etree._Element, prefix: str) -> None:
        if not isinstance(element.tag, str):
            return
        path = f"{prefix}/{element.tag}"
        out.add(path)
        for child in element:
            walk(child, path)

    walk(root, "")
    return out


def _restore_sample_framing(raw: bytes) -> tuple[bytes, str]:
    """NIPR's sample MTOM bodies as an HTTP client would receive them.

    The samples were pasted from Apex string constants, which damaged their framing: the two
    large ones lost every line break (and one opens with a mistyped boundary), the small ones
    put the Content-ID value on a line of its own, and Content-IDs carry a stray space. This
    puts delimiters and part headers back on their own CRLF lines and supplies the
    Content-Type header the files do not carry; the XML itself is not touched.
    """
    text = raw.decode("utf-8")
    boundary = re.findall(r"--(uuid:[0-9a-f-]+)", text)[-1]  # the closing delimiter's
    text = re.sub(r"--uuid:[0-9a-f-]+", f"--{boundary}", text)
    text = re.sub(rf"\s*(--{re.escape(boundary)}(?:--)?)\s*", r"\r\n\1\r\n", text)
    text = re.sub(r"\s*(Content-(?:Type|Transfer-Encoding|ID):)\s*", r"\r\n\1 ", text)
    text = re.sub(
        r"Content-ID: <([^>]*)>\s*",
        lambda m: "Content-ID: <" + m.group(1).replace(" ", "") + ">\r\n\r\n",
        text,
    )
    content_type = (
        f'multipart/related; type="application/xop+xml"; boundary="{boundary}"; '
        f'start="<root.message@cxf.apache.org>"; start-info="text/xml"'
    )
    return text.lstrip("\r\n").encode("utf-8"), content_type


def sample_mtom(name: str):
    body, content_type = _restore_sample_framing((FIXTURES / name).read_bytes())
    return split_mtom(body, content_type)


# ====================================================================== Entity Info
def test_entity_info_for_an_individual_matches_the_world(sandbox):
    npn = sandbox.world.individual_npns()[3]
    response = requests.get(
        sandbox.base_url + ENTITY_INFO,
        params={"id_entity": npn},
        auth=sandbox.auth,
        timeout=TIMEOUT,
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/xml")
    root = xml(response.content)
    assert root.findtext("TRANSACTION_TYPE/TYPE") == "INDIVIDUAL"
    bio = root.find("PRODUCER/INDIVIDUAL/ENTITY_BIOGRAPHIC/BIOGRAPHIC")
    assert bio.findtext("NPN") == npn
    assert bio.findtext("ID_SSN").startswith("9")  # never a real SSN
    producer = sandbox.world.producer(npn)
    licenses = root.findall(
        "PRODUCER/INDIVIDUAL/PRODUCER_LICENSING/LICENSE_INFORMATION/STATE/LICENSE"
    )
    assert sorted(lic.findtext("LICENSE_NUM") for lic in licenses) == sorted(
        lic.number for lic in producer.licenses
    )
    dates = [e.text for e in root.iter() if e.tag.startswith("DATE_") and e.text]
    assert dates and all(re.fullmatch(r"\d{2}/\d{2}/\d{4}", d) for d in dates)


def test_entity_info_for_a_firm(sandbox):
    npn = sandbox.world.firm_npns()[0]
    response = requests.get(
        sandbox.base_url + ENTITY_INFO,
        params={"id_entity": npn},
        auth=sandbox.auth,
        timeout=TIMEOUT,
    )
    root = xml(response.content)
    assert root.findtext("TRANSACTION_TYPE/TYPE") == "FIRM"
    assert root.findtext("PRODUCER/FIRM/ENTITY_BIOGRAPHIC/BIOGRAPHIC/NPN") == npn


@pytest.mark.parametrize("npn", ["1", "abc"])
def test_entity_info_for_an_unknown_or_invalid_npn_is_the_error_reply(sandbox, npn):
    response = requests.get(
        sandbox.base_url + ENTITY_INFO,
        params={"id_entity": npn},
        auth=sandbox.auth,
        timeout=TIMEOUT,
    )
    root = xml(response.content)
    assert root.findtext("TRANSACTION_TYPE/TYPE") == "ERROR"
    assert root.findtext("ERROR/DESCRIPTION")
    assert element_paths(root) == element_paths(
        xml((FIXTURES / "entity_info_error.xml").read_bytes())
    )


def test_a_padded_npn_is_not_a_producer_anywhere_in_the_sandbox(sandbox):
    """NIPR's NPNs carry no leading zeros. Whether NIPR would resolve `0<NPN>` is not
    published, so the sandbox is the strict side: a padded NPN is nobody, at every door, and a
    client that forgets to canonicalise one fails against it (schemas/npns.py)."""
    npn = sandbox.world.individual_npns()[0]
    padded = "00" + npn
    entity = requests.get(
        sandbox.base_url + ENTITY_INFO,
        params={"id_entity": padded},
        auth=sandbox.auth,
        timeout=TIMEOUT,
    )
    assert xml(entity.content).findtext("TRANSACTION_TYPE/TYPE") == "ERROR"

    add_subscription(sandbox)
    added = soap(sandbox, targets_call("addTargets", [padded, npn]))
    results = soap_body(added).find(f"{{{IND}}}targetResultsData")
    assert [e.text for e in results.iter(f"{{{IND}}}npn")] == [npn]
    assert [
        (e.findtext(f"{{{IND}}}input"), e.findtext(f"{{{IND}}}invalidReason"))
        for e in results.iter(f"{{{IND}}}invalidInputList")
    ] == [(padded, "Entity was not found")]

    (npn, state, loa) = appointable(sandbox, 1)[0]
    reply = xml(
        gateway(
            sandbox, "<NIPR>" + transaction("0" + npn, state, "99101", loa, "CT-0") + "</NIPR>"
        ).content
    )
    answer = transactions_by_key(reply)["CT-0"].find("LICENSE/RESPONSE")
    assert answer.findtext("APPROVED") == "N"
    assert answer.findtext("RESP_MESSAGE/COMMENT_CODE") == "10101"


@pytest.mark.parametrize("auth", [None, ("sandbox", "wrong"), ("someone", "sandbox")])
def test_every_nipr_endpoint_refuses_bad_credentials(sandbox, auth):
    calls = [
        ("GET", ENTITY_INFO + "?id_entity=" + sandbox.world.npns[0], b""),
        ("POST", ALERTS, b"<x/>"),
        ("POST", REALTIME, b"<NIPR/>"),
        ("GET", STATUS + "?customer=C&cust_batch=B", b""),
    ]
    for verb, path, body in calls:
        response = requests.request(
            verb, sandbox.base_url + path, data=body, auth=auth, timeout=TIMEOUT
        )
        assert response.status_code == 401, path
        assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert sandbox.gateway_log() == []


# ====================================================================== PDB Alerts
def test_targets_can_be_added_listed_and_removed(sandbox):
    add_subscription(sandbox)
    npns = sandbox.world.npns[:5]
    response = soap(sandbox, targets_call("addTargets", [*npns, "1234567", "12x"]))
    assert response.status_code == 200
    results = soap_body(response).find(f"{{{IND}}}targetResultsData")
    valid = [e.text for e in results.iter(f"{{{IND}}}npn")]
    invalid = {
        e.findtext(f"{{{IND}}}input"): e.findtext(f"{{{IND}}}invalidReason")
        for e in results.iter(f"{{{IND}}}invalidInputList")
    }
    assert valid == npns
    assert invalid == {"1234567": "Entity was not found", "12x": "Invalid format"}

    listed = soap(
        sandbox,
        "<ind:retrieveTargets><ind:subscriptionName>S1</ind:subscriptionName>"
        "</ind:retrieveTargets>",
    )
    assert [e.text for e in soap_body(listed).iter(f"{{{IND}}}npn")] == npns

    removed = soap(sandbox, targets_call("removeTargets", npns[:2]))
    assert [e.text for e in soap_body(removed).iter(f"{{{IND}}}npn")] == npns[:2]
    listed = soap(
        sandbox,
        "<ind:retrieveTargets><ind:subscriptionName>S1</ind:subscriptionName>"
        "</ind:retrieveTargets>",
    )
    assert [e.text for e in soap_body(listed).iter(f"{{{IND}}}npn")] == npns[2:]

    # retrieveAllSubscriptions with an empty Body: the method comes from SOAPAction
    everything = soap(sandbox, "", action=f'"{IND}/retrieveallsubscriptions"')
    names = [e.text for e in soap_body(everything).iter(f"{{{IND}}}subscriptionName")]
    assert names == ["S1"]


def test_subscription_faults(sandbox):
    assert fault_code(soap(sandbox, targets_call("addTargets", ["1"], name="nope"))) == 14
    add_subscription(sandbox)
    assert (
        fault_code(
            soap(
                sandbox,
                "<ind:addSubscription><ind:subscriptionInputData>"
                "<ind:subscriptionName>S1</ind:subscriptionName>"
                "<ind:email>a@example.com</ind:email><ind:affiliationList>"
                "<ind:None>true</ind:None></ind:affiliationList>"
                "<ind:stateList><ind:allStates>true</ind:allStates>"
                "</ind:stateList><ind:alertTypeList><ind:alertTypeList>"
                "LICENSING</ind:alertTypeList></ind:alertTypeList>"
                "</ind:subscriptionInputData></ind:addSubscription>",
            )
        )
        == 12
    )
    assert fault_code(soap(sandbox, targets_call("addTargets", ["1", "2"]))) == 9


@pytest.fixture
def target_limit_100(sandbox):
    """NIPR's limit is 10,000 targets per subscription; 100 keeps the test small."""
    sandbox.alerts.max_targets = 100
    yield sandbox
    sandbox.alerts.max_targets = 10_000


def test_a_subscription_holds_at_most_the_target_limit(target_limit_100):
    sandbox = target_limit_100
    add_subscription(sandbox)
    npns = sandbox.world.npns
    assert soap(sandbox, targets_call("addTargets", npns[:80])).status_code == 200
    refused = soap(sandbox, targets_call("addTargets", npns[70:110]))
    assert fault_code(refused) == 4
    assert "target limit" in soap_body(refused).findtext("faultstring")
    listed = soap(
        sandbox,
        "<ind:retrieveTargets><ind:subscriptionName>S1</ind:subscriptionName>"
        "</ind:retrieveTargets>",
    )
    assert len(list(soap_body(listed).iter(f"{{{IND}}}npn"))) == 80  # nothing was added
    assert soap(sandbox, targets_call("addTargets", npns[70:100])).status_code == 200


def test_the_specific_report_is_mtom_with_the_report_as_an_xop_part(sandbox):
    add_subscription(sandbox)
    assert soap(sandbox, targets_call("addTargets", sandbox.world.npns)).status_code == 200
    day = run_days(sandbox)[-2]
    response = report(sandbox, day)
    assert response.status_code == 200
    content_type = response.headers["Content-Type"]
    assert 'type="application/xop+xml"' in content_type
    assert 'start="<root.message@cxf.apache.org>"' in content_type
    assert 'start-info="text/xml"' in content_type
    assert soap_body(response).tag == f"{{{IND}}}receiveSpecificReportResponse"
    document = report_part(response)
    root = xml(document)
    assert root.tag == f"{{{ACORD}}}LicensingReportProcessResult"
    reports = root.findall(f"{{{ACORD}}}LicensingReport/{{{ACORD}}}JurisdictionReport")
    assert (
        int(root.findtext(f"{{{ACORD}}}MessageHeader/{{{ACORD}}}MessageDocumentCount"))
        == len(reports)
        > 0
    )
    reported = {
        e.text
        for e in root.iterfind(
            f"{{{ACORD}}}LicensingReport/*/{{{ACORD}}}ExternalIdentifier[{{{ACORD}}}TypeCode="
            f"'NAICProducerCode']/{{{ACORD}}}Id"
        )
    }
    assert reported == {c.npn for c in sandbox.world.changes_on(day)}
    assert report_part(report(sandbox, day)) == document  # the same day, the same report


def test_only_targets_and_subscribed_categories_are_reported(sandbox):
    day = run_days(sandbox)[-1]
    changes = sandbox.world.changes_on(day)
    target = next(c.npn for c in changes if c.category == "LICENSING")
    call = (
        "<ind:addSubscription><ind:subscriptionInputData>"
        "<ind:subscriptionName>L</ind:subscriptionName><ind:email>a@example.com</ind:email>"
        "<ind:affiliationList><ind:All>true</ind:All></ind:affiliationList>"
        "<ind:stateList><ind:allStates>true</ind:allStates></ind:stateList>"
        "<ind:alertTypeList><ind:alertTypeList>APPOINTMENTS</ind:alertTypeList>"
        "</ind:alertTypeList></ind:subscriptionInputData></ind:addSubscription>"
    )
    assert soap(sandbox, call).status_code == 200
    assert soap(sandbox, targets_call("addTargets", [target], name="L")).status_code == 200
    response = soap(
        sandbox,
        f"<ind:receiveSpecificReportForSubscription><ind:reportDate>{day}"
        f"</ind:reportDate><ind:subscriptionName>L</ind:subscriptionName>"
        f"</ind:receiveSpecificReportForSubscription>",
    )
    root = xml(report_part(response))
    assert root.findall(f".//{{{ACORD}}}InsuranceLicense") == []  # LICENSING not subscribed
    items = root.findall(f".//{{{ACORD}}}JurisdictionReportItem")
    expected = {c.state for c in changes if c.npn == target and c.category == "APPOINTMENTS"}
    assert {i.findtext(f"{{{ACORD}}}StateOrProvinceCode") for i in items} == expected
    for item in items:
        assert item.findall(f"{{{ACORD}}}Licensee/{{{ACORD}}}InsuranceAppointment")
    ids = {e.text for e in root.iter(f"{{{ACORD}}}Id")}
    others = {c.npn for c in changes} - {target}
    assert not ids & others  # only the subscription's targets


def test_report_dates_give_nipr_faults(sandbox):
    add_subscription(sandbox)
    today = sandbox.now().date()
    sunday = next(
        today - timedelta(days=i) for i in range(7) if (today - timedelta(days=i)).weekday() == 6
    )
    assert fault_code(report(sandbox, today + timedelta(days=1))) == 21
    assert fault_code(report(sandbox, sunday)) == 22
    assert fault_code(report(sandbox, today - timedelta(days=15))) == 20
    assert fault_code(report(sandbox, "28/03/2025")) == 20
    assert report(sandbox, today - timedelta(days=14)).status_code == 200  # a Friday
    sandbox.set_clock(datetime.combine(today, datetime.min.time()).replace(hour=8))
    assert fault_code(report(sandbox, today)) == 21  # before the publish hour
    sandbox.set_clock(TODAY)
    assert report(sandbox, today).status_code == 200
    faulted = soap_body(report(sandbox, sunday))
    assert faulted.findtext("faultstring") == "There are no alerts scheduled for the day."
    assert faulted.findtext(f"detail/{{{IND}}}PdbAlertsFaultType/{{{IND}}}errorCode") == "22"


def test_alerts_refuses_a_doctype_without_expanding_it(sandbox):
    body = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]>'
        b'<soapenv:Envelope xmlns:soapenv="' + SOAP.encode() + b'"><soapenv:Body>'
        b"<receiveSpecificReport><reportDate>&a;</reportDate></receiveSpecificReport>"
        b"</soapenv:Body></soapenv:Envelope>"
    )
    response = requests.post(
        sandbox.base_url + ALERTS, data=body, auth=sandbox.auth, timeout=TIMEOUT
    )
    assert fault_code(response) == 4
    assert "DOCTYPE" in soap_body(response).findtext("faultstring")


# ====================================================================== Gateway
def test_a_chunk_gets_finals_and_intermediates_which_resolve_on_polling(sandbox):
    targets = appointable(sandbox, 12)
    body = "<NIPR>" + "".join(
        transaction(npn, state, "99101", loa, f"CT-{i}")
        for i, (npn, state, loa) in enumerate(targets)
    )
    body += transaction("1", "GA", "99101", 16, "CT-unknown") + "</NIPR>"
    first = xml(gateway(sandbox, body).content)
    answered = transactions_by_key(first)
    assert len(answered) == 13
    intermediates = {k for k, t in answered.items() if t.find("LICENSE/INT_RESPONSE") is not None}
    finals = {k for k, t in answered.items() if t.find("LICENSE/RESPONSE") is not None}
    assert intermediates and finals and not intermediates & finals
    for key in intermediates:
        t = answered[key]
        assert t.findtext("LICENSE/INT_RESPONSE/RESP_MESSAGE/COMMENT_CODE") == "10003"
        assert (
            t.findtext("LICENSE/INT_RESPONSE/RESP_MESSAGE/COMMENTS")
            == "Transaction has been sent to state for review"
        )
        assert t.findtext("TRANS_STATUS") == "SR"
    approved = [k for k in finals if k != "CT-unknown"]
    assert all(answered[k].findtext("LICENSE/RESPONSE/APPROVED") == "Y" for k in approved)
    assert all(answered[k].findtext("NIPR_TRANS") for k in answered)

    delivered: dict[str, etree._Element] = {}
    for _ in range(4):  # poll rounds: empty one-to-many requests
        delivered.update(transactions_by_key(xml(gateway(sandbox, "<NIPR/>").content)))
    assert set(delivered) == intermediates  # each pending final delivered, and only those
    assert all(t.find("LICENSE/RESPONSE/APPROVED") is not None for t in delivered.values())
    assert xml(gateway(sandbox, "<NIPR></NIPR>").content).findall("TRANSACTION") == []
    final = {**{k: answered[k] for k in finals}, **delivered}
    unknown = final["CT-unknown"].find("LICENSE/RESPONSE")
    assert unknown.findtext("APPROVED") == "N"
    assert unknown.findtext("RESP_MESSAGE/COMMENT_CODE") == "10101"
    assert final["CT-unknown"].findtext("VALID") == "F"
    log = sandbox.gateway_log()
    assert [t["cust_trans"] for t in log] == [f"CT-{i}" for i in range(12)] + ["CT-unknown"]
    assert {t["status"] for t in log} <= {"approved", "rejected"}
    assert log[0]["kind"] == "appointment" and log[0]["cocode"] == "99101"


def test_pending_finals_ride_along_with_later_submissions_of_the_customer(sandbox):
    sandbox.gateway.intermediate_fraction = 1.0
    try:
        npn, state, loa = appointable(sandbox, 1)[0]
        gateway(sandbox, "<NIPR>" + transaction(npn, state, "99101", loa, "A") + "</NIPR>")
        gateway(sandbox, "<NIPR/>")  # poll round 1 (of 2): still pending, nothing delivered
        reply = xml(
            gateway(
                sandbox, "<NIPR>" + transaction(npn, state, "99102", loa, "B") + "</NIPR>"
            ).content
        )
    finally:
        sandbox.gateway.intermediate_fraction = 0.3
    answered = transactions_by_key(reply)
    assert set(answered) == {"A", "B"}
    assert answered["A"].find("LICENSE/RESPONSE") is not None
    assert answered["B"].find("LICENSE/INT_RESPONSE") is not None


def test_a_duplicate_is_refused_with_3999_and_not_recorded_again(sandbox):
    npn, state, loa = appointable(sandbox, 1)[0]
    body = "<NIPR>" + transaction(npn, state, "99101", loa, "CT-1") + "</NIPR>"
    assert transactions_by_key(xml(gateway(sandbox, body).content))
    again = xml(gateway(sandbox, body).content)
    assert again.findall("TRANSACTION") == []
    codes = [e.findtext("ERROR_CODE") for e in again.findall("ERROR")]
    assert codes == ["3999", "20001"]
    assert "Duplicate transaction" in again.findtext("ERROR/DESCRIPTION")
    log = sandbox.gateway_log()
    assert len(log) == 1 and log[0]["times_received"] == 2


def test_more_than_100_transactions_are_refused_and_nothing_is_recorded(sandbox):
    body = (
        "<NIPR>"
        + "".join(transaction("12345678", "GA", "99101", 16, f"T{i}") for i in range(101))
        + "</NIPR>"
    )
    root = xml(gateway(sandbox, body).content)
    assert root.findall("TRANSACTION") == []
    assert root.findtext("ERROR/ERROR_CODE") == "3000"
    assert sandbox.gateway_log() == []


def test_terminations_and_refusals_follow_the_world(sandbox):
    producer = next(
        p
        for p in (sandbox.world.producer(n) for n in sandbox.world.individual_npns())
        if any(a.is_appointed for a in p.appointments)
    )
    appointed = next(a for a in producer.appointments if a.is_appointed)
    unlicensed = next(
        s for s in sandbox.world.states if s not in {lic.state for lic in producer.licenses}
    )
    body = (
        "<NIPR>"
        + transaction(
            producer.npn, appointed.state, appointed.cocode, appointed.loa_code, "term", kind="2"
        )
        + transaction(producer.npn, unlicensed, "99101", 16, "nolicense")
        + transaction(producer.npn, appointed.state, appointed.cocode, appointed.loa_code, "again")
        + transaction(producer.npn, appointed.state, appointed.cocode, 16, "bad", kind="9")
        + "</NIPR>"
    )
    sandbox.gateway.intermediate_fraction = 0.0
    try:
        root = xml(gateway(sandbox, body).content)
    finally:
        sandbox.gateway.intermediate_fraction = 0.3
    answered = transactions_by_key(root)
    assert answered["term"].findtext("LICENSE/RESPONSE/APPROVED") == "Y"
    assert answered["nolicense"].findtext("LICENSE/RESPONSE/APPROVED") == "N"
    assert answered["nolicense"].findtext("LICENSE/RESPONSE/RESP_MESSAGE/COMMENT_CODE") == "10102"
    assert answered["again"].findtext("LICENSE/RESPONSE/RESP_MESSAGE/COMMENT_CODE") == "10105"
    assert root.findtext("ERROR/ERROR_CODE") == "3003"
    kinds = {t["cust_trans"]: t["kind"] for t in sandbox.gateway_log()}
    assert kinds == {"term": "termination", "nolicense": "appointment", "again": "appointment"}


def test_a_lost_reply_after_recording_can_be_looked_up_and_is_not_recorded_twice(sandbox):
    targets = appointable(sandbox, 3)
    body = (
        "<NIPR>"
        + "".join(
            transaction(npn, state, "99101", loa, f"L{i}", batch="LOST")
            for i, (npn, state, loa) in enumerate(targets)
        )
        + "</NIPR>"
    )
    control = requests.post(
        sandbox.base_url + "/_sandbox/faults",
        timeout=TIMEOUT,
        json={"target": "gateway", "kind": "http_500", "count": 1, "after_record": True},
    )
    assert control.status_code == 201
    assert gateway(sandbox, body).status_code == 500
    assert [t["cust_trans"] for t in sandbox.gateway_log()] == ["L0", "L1", "L2"]

    one = requests.get(
        sandbox.base_url + STATUS,
        auth=sandbox.auth,
        timeout=TIMEOUT,
        params={"customer": "38NIPRTEST", "cust_batch": "LOST", "cust_trans": "L1"},
    )
    assert one.status_code == 200
    assert [t.findtext("CUST_TRANS") for t in xml(one.content).findall("TRANSACTION")] == ["L1"]
    batch = requests.get(
        sandbox.base_url + STATUS,
        auth=sandbox.auth,
        timeout=TIMEOUT,
        params={"customer": "38NIPRTEST", "cust_batch": "LOST"},
    )
    answered = transactions_by_key(xml(batch.content))
    assert set(answered) == {"L0", "L1", "L2"}
    assert all(
        t.find("LICENSE/RESPONSE") is not None or t.find("LICENSE/INT_RESPONSE") is not None
        for t in answered.values()
    )
    missing = requests.get(
        sandbox.base_url + STATUS,
        auth=sandbox.auth,
        timeout=TIMEOUT,
        params={"customer": "38NIPRTEST", "cust_batch": "LOST", "cust_trans": "L9"},
    )
    assert missing.status_code == 404

    resent = xml(gateway(sandbox, body).content)  # a naive resend is refused, not re-recorded
    assert {e.findtext("ERROR_CODE") for e in resent.findall("ERROR")} == {"3999", "20001"}
    assert len(sandbox.gateway_log()) == 3
    assert all(t["times_received"] == 2 for t in sandbox.gateway_log())


def test_a_timeout_after_recording_leaves_the_transaction_recorded(sandbox):
    npn, state, loa = appointable(sandbox, 1)[0]
    sandbox.add_fault(target="gateway", kind="timeout", delay_seconds=1.0, after_record=True)
    with pytest.raises(requests.exceptions.ReadTimeout):
        gateway(
            sandbox, "<NIPR>" + transaction(npn, state, "99101", loa, "T1") + "</NIPR>", timeout=0.3
        )
    assert [t["cust_trans"] for t in sandbox.gateway_log()] == ["T1"]


def test_a_fault_before_recording_records_nothing(sandbox):
    npn, state, loa = appointable(sandbox, 1)[0]
    sandbox.add_fault(target="gateway", kind="http_503")
    response = gateway(sandbox, "<NIPR>" + transaction(npn, state, "99101", loa, "B1") + "</NIPR>")
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert sandbox.gateway_log() == []


def test_gateway_refuses_a_doctype(sandbox):
    body = '<?xml version="1.0"?><!DOCTYPE NIPR SYSTEM "file:///etc/passwd"><NIPR/>'
    response = gateway(sandbox, body)
    assert response.status_code == 400
    assert xml(response.content).findtext("ERROR/ERROR_CODE") == "3001"


# NIPR's own sample request, as the Postman collection posts it (tests/fixtures/nipr/).
GATEWAY_SAMPLE = FIXTURES / "gateway" / "realtime_request.xml"
# What every NIPR sample request carries, removed one at a time: (element to remove, what the
# sandbox's ERROR says is missing). The sample names its (firm) applicant by LICENSE_KEY.
REQUIRED = [
    ("TRANS_HEAD", "TRANS_HEAD"),
    ("TRANS_HEAD/STATE_CODE", "TRANS_HEAD/STATE_CODE"),
    ("TRANS_HEAD/TRANSACTION_TYPE", "TRANS_HEAD/TRANSACTION_TYPE"),
    ("APPLICANT", "APPLICANT"),
    ("APPLICANT/LICENSE_KEY", "APPLICANT/NPN or APPLICANT/LICENSE_KEY"),
    ("APPOINTER", "APPOINTER/COCODE"),
    ("APPOINTER/COCODE", "APPOINTER/COCODE"),
    ("LICENSE", "LICENSE/DATE_EFFECTIVE"),
    ("LICENSE/DATE_EFFECTIVE", "LICENSE/DATE_EFFECTIVE"),
    ("ENTITY", "ENTITY"),
    ("PAYMENT", "PAYMENT/ACCOUNT_ID"),
    ("STATE_FEE", "STATE_FEE"),
    ("TRANS_FEE", "TRANS_FEE"),
]


def sample_without(path: str | None) -> bytes:
    root = xml(GATEWAY_SAMPLE.read_bytes())
    if path is not None:
        element = root.find(f"TRANSACTION/{path}")
        element.getparent().remove(element)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@pytest.mark.parametrize("endpoint", [REALTIME, "/gateway-realtime/niprgw"])
def test_nipr_own_sample_request_is_accepted_as_it_is(sandbox, endpoint):
    response = requests.post(
        sandbox.base_url + endpoint,
        data=GATEWAY_SAMPLE.read_bytes(),
        auth=sandbox.auth,
        headers={"Content-Type": "text/xml"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200
    root = xml(response.content)
    assert root.findall("ERROR") == []
    answered = transactions_by_key(root)["CT-1"]
    assert answered.findtext("NIPR_TRANS")
    assert answered.findtext("ENTITY") == "83ENTITY"
    (recorded,) = sandbox.gateway_log()
    assert (recorded["customer"], recorded["cust_batch"], recorded["cust_trans"]) == (
        "83CUSTOMER",
        "CB-1",
        "CT-1",
    )
    assert (recorded["state"], recorded["cocode"], recorded["kind"]) == (
        "NJ",
        "12345",
        "appointment",
    )
    # The sample's firm is no producer of the sandbox's world: answered as NIPR would.
    assert recorded["status"] in {"rejected", "pending_state_review"}


@pytest.mark.parametrize(("removed", "named"), REQUIRED, ids=[r for r, _ in REQUIRED])
def test_nipr_sample_without_a_required_element_is_refused_naming_its_key(sandbox, removed, named):
    root = xml(gateway(sandbox, sample_without(removed).decode()).content)
    assert root.findall("TRANSACTION") == []
    (error,) = root.findall("ERROR")
    assert error.findtext("ERROR_CODE") == "3002"
    description = error.findtext("DESCRIPTION")
    assert "Cust Batch: CB-1; Cust Trans CT-1" in description
    assert f"missing {named}" in description
    assert sandbox.gateway_log() == []


@pytest.mark.parametrize("removed", ["CUSTOMER", "CUST_BATCH", "CUST_TRANS"])
def test_nipr_sample_without_its_key_is_refused(sandbox, removed):
    root = xml(gateway(sandbox, sample_without(removed).decode()).content)
    assert root.findall("TRANSACTION") == []
    assert root.findtext("ERROR/ERROR_CODE") == "3002"
    assert f"missing {removed}" in root.findtext("ERROR/DESCRIPTION")
    assert sandbox.gateway_log() == []


def test_the_sandbox_reads_elements_by_name_in_any_order(sandbox):
    root = xml(GATEWAY_SAMPLE.read_bytes())
    transaction = root.find("TRANSACTION")
    children = list(transaction)
    for child in children:
        transaction.remove(child)
    for child in reversed(children):
        transaction.append(child)
    body = etree.tostring(root, encoding="unicode")
    assert transactions_by_key(xml(gateway(sandbox, body).content))["CT-1"] is not None
    assert [t["cust_trans"] for t in sandbox.gateway_log()] == ["CT-1"]


# ====================================================================== faults on request
def entity_info(sandbox: NiprSandbox, timeout: float = TIMEOUT) -> requests.Response:
    return requests.get(
        sandbox.base_url + ENTITY_INFO,
        params={"id_entity": sandbox.world.npns[0]},
        auth=sandbox.auth,
        timeout=timeout,
    )


def test_http_500_and_503_apply_to_the_next_n_requests_only(sandbox):
    sandbox.add_fault(target="entityinfo", kind="http_500", count=2)
    assert [entity_info(sandbox).status_code for _ in range(3)] == [500, 500, 200]
    sandbox.add_fault(target="any", kind="http_503")
    response = entity_info(sandbox)
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert entity_info(sandbox).status_code == 200


def test_slow_answers_normally_after_the_delay(sandbox):
    sandbox.add_fault(target="entityinfo", kind="slow", delay_seconds=0.3)
    started = time.perf_counter()
    assert entity_info(sandbox).status_code == 200
    assert time.perf_counter() - started >= 0.3


def test_timeout_closes_the_connection_after_the_delay(sandbox):
    sandbox.add_fault(target="entityinfo", kind="timeout", delay_seconds=1.0)
    with pytest.raises(requests.exceptions.Timeout):
        entity_info(sandbox, timeout=0.3)
    sandbox.add_fault(target="entityinfo", kind="timeout", delay_seconds=0.1)
    with pytest.raises(requests.exceptions.ConnectionError):
        entity_info(sandbox, timeout=5)  # no reply at all, even for a patient client
    assert entity_info(sandbox).status_code == 200


def test_malformed_xml_is_a_complete_reply_that_does_not_parse(sandbox):
    sandbox.add_fault(target="entityinfo", kind="malformed_xml")
    response = entity_info(sandbox)
    assert response.status_code == 200
    assert response.content.startswith(b"<?xml")
    with pytest.raises(etree.XMLSyntaxError):
        xml(response.content)
    xml(entity_info(sandbox).content)  # the next one is fine


def test_malformed_xml_in_an_mtom_reply_keeps_the_multipart_framing(sandbox):
    add_subscription(sandbox)
    soap(sandbox, targets_call("addTargets", sandbox.world.npns))
    sandbox.add_fault(target="alerts", kind="malformed_xml", method="receiveSpecificReport")
    response = report(sandbox, run_days(sandbox)[-1])
    with pytest.raises(etree.XMLSyntaxError):
        xml(report_part(response))


def test_truncated_replies_break_off_mid_body(sandbox):
    sandbox.add_fault(target="entityinfo", kind="truncated")
    with pytest.raises(requests.exceptions.RequestException):
        entity_info(sandbox)
    assert entity_info(sandbox).status_code == 200


def test_the_control_api(sandbox):
    base = sandbox.base_url + "/_sandbox"
    health = requests.get(base + "/health", timeout=TIMEOUT).json()
    assert health["status"] == "ok" and health["producers"] == 150
    assert health["today"] == "2025-03-28"
    bad = requests.post(base + "/faults", json={"target": "x", "kind": "http_500"}, timeout=TIMEOUT)
    assert bad.status_code == 400
    requests.post(
        base + "/faults", json={"target": "alerts", "kind": "http_503", "count": 3}, timeout=TIMEOUT
    )
    assert requests.get(base + "/faults", timeout=TIMEOUT).json()[0]["count"] == 3
    assert requests.delete(base + "/faults", timeout=TIMEOUT).status_code == 200
    assert requests.get(base + "/faults", timeout=TIMEOUT).json() == []
    npn, state, loa = appointable(sandbox, 1)[0]
    gateway(sandbox, "<NIPR>" + transaction(npn, state, "99101", loa, "C1") + "</NIPR>")
    log = requests.get(base + "/gateway/transactions", timeout=TIMEOUT).json()
    assert {
        "customer",
        "cust_batch",
        "cust_trans",
        "npn",
        "state",
        "cocode",
        "loa_code",
        "kind",
        "received_at",
        "times_received",
        "status",
    } <= set(log[0])
    assert log[0]["npn"] == npn and log[0]["state"] == state and log[0]["loa_code"] == str(loa)
    assert requests.post(base + "/reset", timeout=TIMEOUT).status_code == 200
    assert requests.get(base + "/gateway/transactions", timeout=TIMEOUT).json() == []
    assert len(requests.get(base + "/npns", params={"kind": "firm"}, timeout=TIMEOUT).json()) >= 2
    moved = requests.post(base + "/clock", json={"today": "2025-03-27"}, timeout=TIMEOUT)
    assert moved.json()["now"].startswith("2025-03-27")


# ====================================================================== element structure
# Paths the sandbox emits that NIPR's samples lack, each with its reason.
ALERTS_EXTRA_PATHS = {
    # NIPR's "Date Tag Information": an inactive line's status date is StatusPeriod/EndDate.
    "/LicensingReportProcessResult/LicensingReport/JurisdictionReport/JurisdictionReportItem/"
    "Licensee/InsuranceLicense/LineOfAuthority/StatusPeriod/EndDate",
    # NIPR's tag table: a firm licensee is referenced through OrganizationReferences.
    "/LicensingReportProcessResult/LicensingReport/JurisdictionReport/JurisdictionReportItem/"
    "Licensee/LicenseeReferences/OrganizationReferences",
}


def without_namespace(paths: set[str], namespace: str) -> set[str]:
    return {p.replace(f"{{{namespace}}}", "") for p in paths}


def test_entity_info_has_the_element_structure_of_the_samples(sandbox):
    for kind, npns in (
        ("individual", sandbox.world.individual_npns()),
        ("firm", sandbox.world.firm_npns()),
    ):
        sample = element_paths(xml((FIXTURES / f"entity_info_{kind}.xml").read_bytes()))
        ours: set[str] = set()
        for npn in npns[:40]:
            ours |= element_paths(
                xml(
                    requests.get(
                        sandbox.base_url + ENTITY_INFO,
                        params={"id_entity": npn},
                        auth=sandbox.auth,
                        timeout=TIMEOUT,
                    ).content
                )
            )
        assert sample <= ours, f"{kind}: missing {sorted(sample - ours)}"
        assert ours <= sample, f"{kind}: not in the sample {sorted(ours - sample)}"


def test_alerts_report_has_the_element_structure_of_the_samples(sandbox):
    sample = set()
    for name in ("pdb_alerts_specific_report.xml", "pdb_alerts_specific_report_with_deletions.xml"):
        sample |= element_paths(xml((FIXTURES / name).read_bytes()))
    add_subscription(sandbox)
    soap(sandbox, targets_call("addTargets", sandbox.world.npns))
    ours: set[str] = set()
    for day in run_days(sandbox):
        ours |= element_paths(xml(report_part(report(sandbox, day))))
    sample, ours = without_namespace(sample, ACORD), without_namespace(ours, ACORD)
    assert sample <= ours, f"missing {sorted(sample - ours)}"
    assert ours - sample == ALERTS_EXTRA_PATHS


def envelope_paths(response: requests.Response) -> set[str]:
    return element_paths(xml(split_mtom(response.content, response.headers["Content-Type"]).root))


def test_soap_envelopes_have_the_structure_of_the_samples(sandbox):
    call = (
        "<ind:addSubscription><ind:subscriptionInputData><ind:subscriptionName>E"
        "</ind:subscriptionName><ind:email>a@example.com</ind:email><ind:affiliationList>"
        "<ind:None>true</ind:None></ind:affiliationList><ind:stateList><ind:allStates>true"
        "</ind:allStates></ind:stateList><ind:alertTypeList><ind:alertTypeList>LICENSING"
        "</ind:alertTypeList></ind:alertTypeList></ind:subscriptionInputData>"
        "</ind:addSubscription>"
    )
    pairs = [("pdb_alerts_createSubscriptionResponse.mtom", soap(sandbox, call))]
    add_subscription(sandbox)
    pairs.append(
        (
            "pdb_alerts_addNPNMixedResponse.mtom",
            soap(sandbox, targets_call("addTargets", [sandbox.world.npns[0], "1234567"])),
        )
    )
    pairs.append(
        (
            "pdb_alerts_addNPNAllValidResponse.mtom",
            soap(sandbox, targets_call("addTargets", sandbox.world.npns[1:3])),
        )
    )
    pairs.append(("pdb_alerts_specific_report.mtom", report(sandbox, run_days(sandbox)[-1])))
    for name, response in pairs:
        assert envelope_paths(response) == element_paths(xml(sample_mtom(name).root)), name
    # Faults: the sample's Fault (faultcode, faultstring) plus the sandbox's detail element.
    sample_fault = element_paths(xml(sample_mtom("pdb_alerts_addNPNErrorResponse.mtom").root))
    ours = envelope_paths(report(sandbox, "bad"))
    assert sample_fault <= ours
    assert ours - sample_fault and all("Fault/detail" in p for p in ours - sample_fault)


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.mtom")))
def test_nipr_sample_mtom_replies_split_with_the_same_multipart_code(name):
    message = sample_mtom(name)
    envelope = xml(message.root)
    assert envelope.tag == f"{{{SOAP}}}Envelope"
    hrefs = message.xop_includes()
    if "specific_report" in name:
        assert len(hrefs) == 1
        part = xml(message.resolve(hrefs[0]))
        extracted = xml((FIXTURES / name.replace(".mtom", ".xml")).read_bytes())
        assert element_paths(part) == element_paths(extracted)
    else:
        assert hrefs == []


def test_a_later_sandbox_of_the_world_terminates_what_an_earlier_one_appointed(tmp_path):
    """The data folder's sandboxes (`npnflow demo`'s, then `npnflow ui`'s) share what NIPR
    accepted through `nipr_gateway_answers.jsonl`: a line appointed by the first is terminated
    by the second, as at NIPR; a sandbox without the file does not know it (10106)."""
    answers = tmp_path / "nipr_gateway_answers.jsonl"
    world = {"seed": 21, "producers": 150, "today": TODAY, "intermediate_fraction": 0.0}

    def answer(sandbox: NiprSandbox, kind: str, trans: str) -> tuple[str | None, str | None]:
        body = "<NIPR>" + transaction(npn, state, "99101", loa, trans, kind=kind) + "</NIPR>"
        (reply,) = xml(gateway(sandbox, body).content).findall("TRANSACTION")
        response = "LICENSE/RESPONSE"
        return reply.findtext(f"{response}/APPROVED"), reply.findtext(
            f"{response}/RESP_MESSAGE/COMMENT_CODE"
        )

    with running_sandbox(**world, gateway_answers_file=answers) as first:
        ((npn, state, loa),) = appointable(first, 1)
        assert answer(first, "1", "CT-appoint") == ("Y", "0")
    assert answers.read_text().count("\n") == 1

    with running_sandbox(**world) as forgetful:
        assert answer(forgetful, "2", "CT-terminate") == ("N", "10106")
    with running_sandbox(**world, gateway_answers_file=answers) as later:
        assert answer(later, "2", "CT-terminate") == ("Y", "0")
    with running_sandbox(**world, gateway_answers_file=answers) as after_that:
        # The termination is remembered too: the line is no longer appointed.
        assert answer(after_that, "2", "CT-terminate-again") == ("N", "10106")


def test_a_damaged_answers_line_is_passed_over_with_a_warning(tmp_path, caplog):
    from npnflow.sandbox.gateway_answers import read_answers

    answers = tmp_path / "nipr_gateway_answers.jsonl"
    answers.write_text(
        '{"kind": "appointment", "npn": "1", "state": "GA", "cocode": "99101", "loa_codes": '
        '["16"]}\n{"kind": "appointment", "npn": \n'
    )
    assert read_answers(answers) == [("appointment", ("1", "GA", "99101"), {"16"})]
    assert "line 2 is not a Gateway answer" in caplog.text
