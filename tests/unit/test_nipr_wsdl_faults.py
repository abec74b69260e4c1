"""PDB Alerts faults in the shape NIPR's WSDL (pdb-alerts-industry-ws.wsdl) declares: a
`PdbAlertsFaultType` detail element with `message` and `errorCode`, under whatever prefix the
server picks, in SOAP 1.1 or 1.2, plain or MTOM-framed as Apache CXF frames it."""

from __future__ import annotations

import pytest

from resources import nipr_soap as soap

SOAP11 = soap.SOAP_NS
SOAP12 = soap.SOAP12_NS
IND = soap.IND_NS
MTOM_TYPE = (
    'multipart/related; type="application/xop+xml"; boundary="uuid:f-1"; '
    'start="<root.message@cxf.apache.org>"; start-info="text/xml"'
)

# NIPR's fault table: (code, name, message) as "PDB Alerts Web Service" lists them.
DOCUMENTED = [
    (20, "INVALID_DATE", "The date provided was invalid."),
    (21, "RUN_NOT_FINISHED", "The requested report is not available or complete."),
    (22, "NO_ALERTS_RUN_TODAY", "There are no alerts scheduled for the day."),
]


def wsdl_detail(code: int, message: str, style: str) -> str:
    """The WSDL's fault element: under a prefix (as CXF writes it) or a default namespace."""
    if style == "default":
        return (
            f'<PdbAlertsFaultType xmlns="{IND}"><message>{message}</message>'
            f"<errorCode>{code}</errorCode></PdbAlertsFaultType>"
        )
    return (
        f'<paiw:PdbAlertsFaultType xmlns:paiw="{IND}"><paiw:message>{message}</paiw:message>'
        f"<paiw:errorCode>{code}</paiw:errorCode></paiw:PdbAlertsFaultType>"
    )


def wsdl_fault(code: int, message: str, style: str = "prefixed") -> bytes:
    """A SOAP fault carrying the WSDL's detail; `style` "soap12" gives the SOAP 1.2 shape."""
    if style == "soap12":
        return (
            f'<env:Envelope xmlns:env="{SOAP12}"><env:Body><env:Fault>'
            f"<env:Code><env:Value>env:Receiver</env:Value></env:Code>"
            f'<env:Reason><env:Text xml:lang="en">{message}</env:Text></env:Reason>'
            f"<env:Detail>{wsdl_detail(code, message, 'prefixed')}</env:Detail>"
            f"</env:Fault></env:Body></env:Envelope>"
        ).encode()
    return (
        f'<S:Envelope xmlns:S="{SOAP11}"><S:Body><S:Fault>'
        f"<faultcode>S:Server</faultcode><faultstring>{message}</faultstring>"
        f"<detail>{wsdl_detail(code, message, style)}</detail>"
        f"</S:Fault></S:Body></S:Envelope>"
    ).encode()


def mtom_framed(envelope: bytes) -> bytes:
    """The envelope as the single part of an MTOM body, as NIPR's sample faults come."""
    return (
        b"--uuid:f-1\r\nContent-Type: application/xop+xml; charset=UTF-8; "
        b'type="text/xml"\r\nContent-Transfer-Encoding: binary\r\n'
        b"Content-ID: <root.message@cxf.apache.org>\r\n\r\n" + envelope + b"\r\n--uuid:f-1--\r\n"
    )


def framed(envelope: bytes, framing: str) -> tuple[bytes, str]:
    if framing == "mtom":
        return mtom_framed(envelope), MTOM_TYPE
    return envelope, "text/xml; charset=UTF-8"


@pytest.mark.parametrize("framing", ["plain", "mtom"])
@pytest.mark.parametrize("style", ["prefixed", "default", "soap12"])
@pytest.mark.parametrize(("code", "name", "message"), DOCUMENTED)
def test_a_wsdl_shaped_fault_gives_its_code_name_and_message(code, name, message, style, framing):
    fault = soap.as_fault(soap.reply_body(*framed(wsdl_fault(code, message, style), framing)))
    assert fault is not None
    assert (fault.code, fault.name, fault.message) == (code, name, message)
    assert fault.faultstring == message
    assert fault.faultcode == ("env:Receiver" if style == "soap12" else "S:Server")


@pytest.mark.parametrize("framing", ["plain", "mtom"])
@pytest.mark.parametrize(("code", "name", "message"), DOCUMENTED)
def test_a_wsdl_shaped_fault_to_a_report_request_is_returned_as_a_fault(
    code, name, message, framing
):
    body, content_type = framed(wsdl_fault(code, message), framing)
    checker = soap.ReportReplyChecker(content_type)
    for i in range(0, len(body), 7):  # in small pieces, as a streamed reply arrives
        checker.feed(body[i : i + 7])
    checked = checker.close()
    assert checked.fault is not None
    assert (checked.fault.code, checked.fault.name) == (code, name)
    assert checked.report_bytes == 0


def test_the_codes_the_client_acts_on_are_nipr_documented_numbers():
    assert soap.RUN_NOT_FINISHED == soap.FAULT_CODES["RUN_NOT_FINISHED"] == 21
    assert soap.NO_ALERTS_RUN_TODAY == soap.FAULT_CODES["NO_ALERTS_RUN_TODAY"] == 22
    assert soap.SUBSCRIPTION_NONEXISTENT == soap.FAULT_CODES["SUBSCRIPTION_NONEXISTENT"] == 14
    assert soap.VALID_PRODUCER_FAULT == soap.FAULT_CODES["ValidProducerFault"] == 9


def test_a_code_nipr_does_not_list_keeps_its_number_and_message():
    fault = soap.as_fault(soap.body_element(wsdl_fault(31, "Something new went wrong.")))
    assert fault is not None
    assert (fault.code, fault.name, fault.message) == (31, "SOAPFault", "Something new went wrong.")


def test_the_errorcode_wins_over_a_faultstring_naming_another_fault():
    envelope = wsdl_fault(22, "There are no alerts scheduled for the day.").replace(
        b"<faultstring>There", b"<faultstring>RUN_NOT_FINISHED: There"
    )
    fault = soap.as_fault(soap.body_element(envelope))
    assert fault is not None and (fault.code, fault.name) == (22, "NO_ALERTS_RUN_TODAY")


def test_a_blank_errorcode_falls_back_to_the_faultstring():
    envelope = (
        f'<S:Envelope xmlns:S="{SOAP11}"><S:Body><S:Fault><faultcode>S:Server</faultcode>'
        f"<faultstring>RUN_NOT_FINISHED: Not yet.</faultstring><detail>"
        f'<p:PdbAlertsFaultType xmlns:p="{IND}"><p:message>Not yet.</p:message>'
        f"<p:errorCode> </p:errorCode></p:PdbAlertsFaultType></detail>"
        f"</S:Fault></S:Body></S:Envelope>"
    ).encode()
    fault = soap.as_fault(soap.body_element(envelope))
    assert fault is not None
    assert (fault.code, fault.name, fault.message) == (21, "RUN_NOT_FINISHED", "Not yet.")
