"""The pure SOAP side of the NIPR client: request envelopes (against the shapes of NIPR's
Postman collection), fault reading, MTOM splitting of NIPR's sample replies, and the streamed
check of report replies."""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

import pytest
from lxml import etree

from resources import nipr_soap as soap

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "nipr"
SOAP = soap.SOAP_NS
IND = soap.IND_NS
SMALL_SAMPLES = sorted(p.name for p in FIXTURES.glob("*.mtom") if "specific_report" not in p.name)


def paths(root: etree._Element) -> list[str]:
    """Local-name paths of every element, in document order (repetitions kept)."""
    out: list[str] = []

    def walk(element: etree._Element, prefix: str) -> None:
        path = f"{prefix}/{soap.local(element.tag)}"
        out.append(path)
        for child in element:
            if isinstance(child.tag, str):
                walk(child, path)

    walk(root, "")
    return out


def restore_sample_framing(raw: bytes) -> tuple[bytes, str]:
    """NIPR's sample MTOM bodies as an HTTP client would receive them.

    A copy of `_restore_sample_framing` in tests/integration/test_sandbox_http.py (see
    tests/fixtures/nipr/PROVENANCE.md): the samples were pasted from Apex string constants,
    which put the small ones' Content-ID values on a line of their own (and dropped the blank
    line before the envelope) and took every line break out of the large ones. The XML itself
    is not touched.
    """
    text = raw.decode("utf-8")
    # Unlike the original, the boundary stops before the closing delimiter's trailing "--".
    uuid = r"uuid:[0-9a-f]+(?:-[0-9a-f]+)+"
    boundary = re.findall(rf"--({uuid})", text)[-1]
    text = re.sub(rf"--{uuid}", f"--{boundary}", text)
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


def sample(name: str) -> tuple[bytes, str]:
    return restore_sample_framing((FIXTURES / name).read_bytes())


def mtom(envelope: bytes, parts: list[tuple[str, bytes]], boundary: str = "uuid:b-1") -> bytes:
    """An MTOM body framed as Apache CXF frames it."""
    out = [
        f"--{boundary}\r\nContent-Type: application/xop+xml; charset=UTF-8; "
        f'type="text/xml"\r\nContent-Transfer-Encoding: binary\r\n'
        f"Content-ID: <root.message@cxf.apache.org>\r\n\r\n".encode()
        + envelope
        + b"\r\n"
    ]
    for cid, data in parts:
        out.append(
            f"--{boundary}\r\nContent-Type: null\r\nContent-Transfer-Encoding: binary\r\n"
            f"Content-ID: <{cid}>\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out)


CONTENT_TYPE = (
    'multipart/related; type="application/xop+xml"; boundary="uuid:b-1"; '
    'start="<root.message@cxf.apache.org>"; start-info="text/xml"'
)
REPORT_CID = "eef2edc9-0001@pdb-services.nipr.com"


def report_envelope(href: str = f"cid:{REPORT_CID}") -> bytes:
    return (
        f'<soap:Envelope xmlns:soap="{SOAP}"><soap:Body>'
        f'<receiveSpecificReportResponse xmlns="{IND}"><alertsReport><alertsReport>'
        f'<xop:Include xmlns:xop="{soap.XOP_NS}" href="{href}"/>'
        f"</alertsReport></alertsReport></receiveSpecificReportResponse>"
        f"</soap:Body></soap:Envelope>"
    ).encode()


def fault_envelope(code: int, name: str, message: str) -> bytes:
    return (
        f'<soap:Envelope xmlns:soap="{SOAP}"><soap:Body><soap:Fault>'
        f"<faultcode>soap:Server</faultcode><faultstring>{name}: {message}</faultstring>"
        f'<detail><pdbAlertsFault xmlns="{IND}"><faultCode>{code}</faultCode>'
        f"<faultName>{name}</faultName><faultMessage>{message}</faultMessage>"
        f"</pdbAlertsFault></detail></soap:Fault></soap:Body></soap:Envelope>"
    ).encode()


def check(body: bytes, chunk: int = 4096, content_type: str = CONTENT_TYPE):
    checker = soap.ReportReplyChecker(content_type)
    for i in range(0, len(body), chunk):
        checker.feed(body[i : i + chunk])
    return checker.close()


# ====================================================================== request envelopes
def test_add_subscription_has_the_shape_of_nipr_postman_sample():
    root = etree.fromstring(
        soap.add_subscription_envelope("S-1", "ops@example.com", ("licensing", "APPOINTMENTS"))
    )
    assert root.nsmap == {"soapenv": SOAP, "ind": IND}
    data = "/Envelope/Body/addSubscription/subscriptionInputData"
    assert paths(root) == [
        "/Envelope",
        "/Envelope/Header",
        "/Envelope/Body",
        "/Envelope/Body/addSubscription",
        data,
        f"{data}/subscriptionName",
        f"{data}/email",
        f"{data}/affiliationList",
        f"{data}/affiliationList/None",
        f"{data}/stateList",
        f"{data}/stateList/allStates",
        f"{data}/alertTypeList",
        f"{data}/alertTypeList/alertTypeList",
        f"{data}/alertTypeList/alertTypeList",
    ]
    call = root.find(f"{{{SOAP}}}Body/{{{IND}}}addSubscription")
    assert call.findtext(f".//{{{IND}}}subscriptionName") == "S-1"
    assert call.findtext(f".//{{{IND}}}affiliationList/{{{IND}}}None") == "true"
    assert call.findtext(f".//{{{IND}}}stateList/{{{IND}}}allStates") == "true"
    types = [e.text for e in call.iterfind(f".//{{{IND}}}alertTypeList/{{{IND}}}alertTypeList")]
    assert types == ["LICENSING", "APPOINTMENTS"]


def test_add_subscription_with_a_state_list():
    root = etree.fromstring(
        soap.add_subscription_envelope(
            "S", "a@b.c", ("LICENSING",), all_states=False, states=["ga", "TX"]
        )
    )
    states = root.find(f".//{{{IND}}}stateList")
    assert [soap.local(c.tag) for c in states] == ["stateList", "stateList"]
    assert [c.text for c in states] == ["GA", "TX"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"alert_types": ()},
        {"alert_types": ("LICENSING", "GOSSIP")},
        {"alert_types": ("LICENSING",), "all_states": True, "states": ["GA"]},
        {"alert_types": ("LICENSING",), "all_states": False},
    ],
)
def test_add_subscription_refuses_what_nipr_would_fault(kwargs):
    with pytest.raises(ValueError):
        soap.add_subscription_envelope("S", "a@b.c", **kwargs)


def test_retrieve_all_subscriptions_has_an_empty_body_as_in_the_postman_sample():
    root = etree.fromstring(soap.retrieve_all_subscriptions_envelope())
    assert paths(root) == ["/Envelope", "/Envelope/Header", "/Envelope/Body"]
    assert soap.soap_action("retrieveAllSubscriptions") == (
        "https://pdb-services.nipr.com/pdb-alerts-industry-services/industry-ws/"
        "retrieveAllSubscriptions"
    )


@pytest.mark.parametrize("method", ["addTargets", "removeTargets"])
def test_target_envelopes_list_npns_as_in_the_postman_sample(method):
    root = etree.fromstring(soap.targets_envelope(method, "S&<1>", ["123", "456"]))
    call = f"/Envelope/Body/{method}"
    assert paths(root) == [
        "/Envelope",
        "/Envelope/Header",
        "/Envelope/Body",
        call,
        f"{call}/subscriptionName",
        f"{call}/targetInputData",
        f"{call}/targetInputData/inputFormat",
        f"{call}/targetInputData/targetInputList",
        f"{call}/targetInputData/targetInputList/npnList",
        f"{call}/targetInputData/targetInputList/npnList",
    ]
    assert root.findtext(f".//{{{IND}}}subscriptionName") == "S&<1>"  # escaped, not injected
    assert root.findtext(f".//{{{IND}}}inputFormat") == "NPN"
    assert [e.text for e in root.iter(f"{{{IND}}}npnList")] == ["123", "456"]
    with pytest.raises(ValueError):
        soap.targets_envelope("removeAllTargets", "S", ["1"])


def test_retrieve_targets_envelope():
    root = etree.fromstring(soap.retrieve_targets_envelope("S1"))
    assert paths(root)[3:] == [
        "/Envelope/Body/retrieveTargets",
        "/Envelope/Body/retrieveTargets/subscriptionName",
    ]


def test_specific_report_envelopes_put_the_date_first():
    day = date(2025, 10, 16)
    whole = etree.fromstring(soap.specific_report_envelope(day))
    assert paths(whole)[3:] == [
        "/Envelope/Body/receiveSpecificReport",
        "/Envelope/Body/receiveSpecificReport/reportDate",
    ]
    assert whole.findtext(f".//{{{IND}}}reportDate") == "2025-10-16"
    one = etree.fromstring(soap.specific_report_envelope(day, "S-0034"))
    call = "/Envelope/Body/receiveSpecificReportForSubscription"
    assert paths(one)[3:] == [call, f"{call}/reportDate", f"{call}/subscriptionName"]
    assert soap.report_method(None) == "receiveSpecificReport"
    assert soap.report_method("S") == "receiveSpecificReportForSubscription"


# ====================================================================== XML safety
def test_parse_xml_refuses_a_doctype_and_reports_bad_xml_as_a_reply_error():
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'
    with pytest.raises(soap.UnsafeXmlError):
        soap.parse_xml(bomb)
    with pytest.raises(soap.SoapReplyError, match="not well-formed") as caught:
        soap.parse_xml(b"<a><b></a>")
    assert not isinstance(caught.value, etree.XMLSyntaxError)


def test_body_element_wants_a_soap_envelope_with_a_body():
    with pytest.raises(soap.SoapReplyError, match="not a SOAP envelope"):
        soap.body_element(b"<PDB/>")
    with pytest.raises(soap.SoapReplyError, match="Body is empty"):
        soap.body_element(f'<s:Envelope xmlns:s="{SOAP}"><s:Body/></s:Envelope>'.encode())
    with pytest.raises(soap.SoapReplyError, match="expected addTargetsResponse"):
        soap.expect(soap.body_element(report_envelope()), "addTargetsResponse")


# ====================================================================== faults
def test_a_fault_with_nipr_detail():
    fault = soap.as_fault(
        soap.body_element(
            fault_envelope(21, "RUN_NOT_FINISHED", "The requested report is not available.")
        )
    )
    assert fault == soap.SoapFault(
        21,
        "RUN_NOT_FINISHED",
        "The requested report is not available.",
        "soap:Server",
        "RUN_NOT_FINISHED: The requested report is not available.",
    )


def test_a_fault_told_by_its_faultstring_alone():
    envelope = (
        f'<soap:Envelope xmlns:soap="{SOAP}"><soap:Body><soap:Fault>'
        f"<faultcode>soap:Server</faultcode>"
        f"<faultstring>NO_ALERTS_RUN_TODAY: There are no alerts scheduled for the day."
        f"</faultstring></soap:Fault></soap:Body></soap:Envelope>"
    ).encode()
    fault = soap.as_fault(soap.body_element(envelope))
    assert (fault.code, fault.name) == (22, "NO_ALERTS_RUN_TODAY")
    assert fault.message == "There are no alerts scheduled for the day."


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("pdb_alerts_addNPNErrorResponse.mtom", "Error adding NPNs to subscription"),
        ("pdb_alerts_createSubscriptionErrorResponse.mtom", "Error creating subscription"),
    ],
)
def test_nipr_sample_faults_have_no_number(name, text):
    fault = soap.as_fault(soap.reply_body(*sample(name)))
    assert fault is not None
    assert (fault.code, fault.name, fault.message, fault.faultcode) == (
        None,
        "SOAPFault",
        text,
        "soap:Server",
    )


def test_a_response_is_not_a_fault():
    assert (
        soap.as_fault(soap.reply_body(*sample("pdb_alerts_createSubscriptionResponse.mtom")))
        is None
    )


# ====================================================================== MTOM split
@pytest.mark.parametrize("name", SMALL_SAMPLES)
def test_nipr_small_sample_replies_split_into_one_soap_envelope(name):
    body, content_type = sample(name)
    message = soap.split_mtom(body, content_type)
    assert list(message.parts) == ["root.message@cxf.apache.org"]
    assert message.root == message.parts["root.message@cxf.apache.org"]
    envelope = etree.fromstring(message.root)
    assert envelope.tag == f"{{{SOAP}}}Envelope"
    assert message.root.endswith(b"</soap:Envelope>")  # the CRLF before a delimiter is framing


def test_the_samples_damaged_framing_is_refused_not_guessed():
    raw = (FIXTURES / "pdb_alerts_createSubscriptionResponse.mtom").read_bytes()
    _, content_type = sample("pdb_alerts_createSubscriptionResponse.mtom")
    # As pasted: the Content-ID value on its own line, no blank line before the envelope.
    with pytest.raises(soap.SoapReplyError):
        soap.split_mtom(raw, content_type)


def test_target_results_from_the_sample_replies():
    body = soap.reply_body(*sample("pdb_alerts_addMultipleListsResponse.mtom"))
    assert soap.local(body.tag) == "addTargetsResponse"
    assert soap.parse_target_results(body) == (
        ["12345678", "56781234"],
        [("87654321", "Entity was not found"), ("98765432", "Invalid format")],
    )
    all_valid = soap.reply_body(*sample("pdb_alerts_addNPNAllValidResponse.mtom"))
    assert soap.parse_target_results(all_valid) == (["12345678"], [])
    created = soap.reply_body(*sample("pdb_alerts_createSubscriptionResponse.mtom"))
    assert soap.local(created.tag) == "empty"


def test_subscription_and_target_lists():
    response = etree.fromstring(
        f'<retrieveAllSubscriptionsResponse xmlns="{IND}"><subscriptionList>'
        f"<subscriptionName>A</subscriptionName><targetCount>2</targetCount></subscriptionList>"
        f"<subscriptionList><subscriptionName>B</subscriptionName></subscriptionList>"
        f"</retrieveAllSubscriptionsResponse>"
    )
    assert soap.parse_subscription_names(response) == ["A", "B"]
    targets = etree.fromstring(
        f'<retrieveTargetsResponse xmlns="{IND}"><targetList><npn>1</npn></targetList>'
        f"<targetList><npn>2</npn></targetList></retrieveTargetsResponse>"
    )
    assert soap.parse_target_npns(targets) == ["1", "2"]


def test_split_is_the_same_whatever_the_chunking():
    report = (FIXTURES / "pdb_alerts_specific_report.xml").read_bytes()
    body = mtom(report_envelope(), [(REPORT_CID, report)])
    whole = soap.split_mtom(body, CONTENT_TYPE)
    assert whole.resolve(f"cid:{REPORT_CID}") == report
    assert whole.root == report_envelope()
    for size in (1, 7, 43, 4096):
        collected: list[tuple[dict, io.BytesIO]] = []

        def on_part(headers, collected=collected):
            collected.append((headers, io.BytesIO()))
            return collected[-1][1]

        splitter = soap.MultipartSplitter("uuid:b-1", on_part)
        for i in range(0, len(body), size):
            splitter.feed(body[i : i + size])
        splitter.close()
        assert [data.getvalue() for _, data in collected] == [report_envelope(), report]
        assert collected[1][0]["content-id"] == f"<{REPORT_CID}>"


def test_split_refuses_a_body_without_its_closing_delimiter():
    body = mtom(report_envelope(), [(REPORT_CID, b"<x/>")])
    with pytest.raises(soap.SoapReplyError, match="closing delimiter"):
        soap.split_mtom(body[:-20], CONTENT_TYPE)
    with pytest.raises(soap.SoapReplyError, match="not a multipart"):
        soap.split_mtom(body, "text/xml")


def test_content_ids_compare_as_nipr_writes_them():
    assert (
        soap.normalise_content_id("<eef2 @pdb-services.nipr.com>")
        == soap.normalise_content_id("cid:eef2%40pdb-services.nipr.com")
        == "eef2@pdb-services.nipr.com"
    )


# ====================================================================== streamed report check
def test_a_report_reply_checks_out_in_any_chunking():
    report = (FIXTURES / "pdb_alerts_specific_report.xml").read_bytes()
    body = mtom(report_envelope(), [(REPORT_CID, report)])
    for size in (5, 1000, len(body)):
        checked = check(body, size)
        assert checked.fault is None
        assert soap.local(checked.body.tag) == "receiveSpecificReportResponse"
        assert checked.report_bytes == len(report)


@pytest.mark.parametrize(
    "name", ["pdb_alerts_specific_report.mtom", "pdb_alerts_specific_report_with_deletions.mtom"]
)
def test_nipr_sample_reports_check_out_once_their_framing_is_restored(name):
    body, content_type = sample(name)
    checked = check(body, 1024, content_type)
    assert checked.fault is None and checked.report_bytes > 30_000


def test_a_cut_report_part_is_refused():
    report = (FIXTURES / "pdb_alerts_specific_report.xml").read_bytes()
    body = mtom(report_envelope(), [(REPORT_CID, report[: len(report) * 6 // 10])])
    with pytest.raises(soap.SoapReplyError, match="not well-formed"):
        check(body)


def test_a_report_part_with_a_doctype_is_refused():
    part = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "a">]>'
        b"<LicensingReportProcessResult>&a;</LicensingReportProcessResult>"
    )
    with pytest.raises(soap.SoapReplyError, match="DOCTYPE"):
        check(mtom(report_envelope(), [(REPORT_CID, part)]))


def test_a_report_reply_must_point_at_a_report_part():
    with pytest.raises(soap.SoapReplyError, match="missing"):
        check(mtom(report_envelope(), [("other@x", b"<LicensingReportProcessResult/>")]))
    with pytest.raises(soap.SoapReplyError, match="root is PDB"):
        check(mtom(report_envelope(), [(REPORT_CID, b"<PDB/>")]))
    bare = report_envelope().replace(b"<xop:Include", b"<ignored").replace(b'href="', b'h="')
    with pytest.raises(soap.SoapReplyError, match="no xop:Include"):
        check(mtom(bare, []))
    wrong = f'<s:Envelope xmlns:s="{SOAP}"><s:Body><addTargetsResponse/></s:Body></s:Envelope>'
    with pytest.raises(soap.SoapReplyError, match="expected receiveSpecificReportResponse"):
        check(mtom(wrong.encode(), []))


def test_a_fault_reply_is_returned_as_a_fault():
    checked = check(mtom(fault_envelope(22, "NO_ALERTS_RUN_TODAY", "None today."), []))
    assert checked.fault is not None and checked.fault.code == 22
