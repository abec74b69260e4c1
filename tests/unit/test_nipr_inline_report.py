"""A PDB Alerts report sent inline as base64 text, which NIPR's WSDL allows (`alertsReport` is an
`xsd:base64Binary`): the client's streamed check accepts it under the same size limit as an
attachment, and the parser reads it to the same frames as the MTOM attachment of NIPR's
samples."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pandas.testing as pdt
import pytest

from assets.nipr.parsing import NiprReportError, parse_pdb_report
from resources import nipr_soap as soap

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "nipr"
FRAMES = ("producers", "licenses", "license_loas", "appointments", "reported_scopes", "errors")
STEMS = ["pdb_alerts_specific_report", "pdb_alerts_specific_report_with_deletions"]
BOUNDARY = "uuid:inline-1"
MTOM_TYPE = (
    f'multipart/related; type="application/xop+xml"; boundary="{BOUNDARY}"; '
    'start="<root.message@cxf.apache.org>"; start-info="text/xml"'
)


def inline_envelope(report: bytes, line: int = 76) -> bytes:
    """A receiveSpecificReportResponse carrying `report` as base64 text, in lines of `line`."""
    text = base64.b64encode(report).decode("ascii")
    lines = "\n".join(text[i : i + line] for i in range(0, len(text), line))
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{soap.SOAP_NS}">'
        f'<soap:Body><ns2:receiveSpecificReportResponse xmlns:ns2="{soap.IND_NS}">'
        f"<ns2:alertsReport><ns2:alertsReport>{lines}</ns2:alertsReport></ns2:alertsReport>"
        f"</ns2:receiveSpecificReportResponse></soap:Body></soap:Envelope>"
    ).encode()


def mtom_framed(envelope: bytes) -> bytes:
    """The envelope as the only part of an MTOM reply (no attachment)."""
    return (
        f"--{BOUNDARY}\r\nContent-Type: application/xop+xml; charset=UTF-8; "
        f'type="text/xml"\r\nContent-Transfer-Encoding: binary\r\n'
        f"Content-ID: <root.message@cxf.apache.org>\r\n\r\n".encode()
        + envelope
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def framed(envelope: bytes, framing: str) -> tuple[bytes, str]:
    if framing == "mtom":
        return mtom_framed(envelope), MTOM_TYPE
    return envelope, "text/xml; charset=UTF-8"


def check(body: bytes, content_type: str, limit: int | None = None, chunk: int = 4096):
    checker = soap.ReportReplyChecker(content_type, limit)
    for i in range(0, len(body), chunk):
        checker.feed(body[i : i + chunk])
    return checker.close()


REPORT = (FIXTURES / "pdb_alerts_specific_report.xml").read_bytes()


# ====================================================================== the client's check
@pytest.mark.parametrize("chunk", [1, 7, 1000, 1 << 20])
@pytest.mark.parametrize("framing", ["plain", "mtom"])
def test_an_inline_report_checks_out_in_any_chunking(framing, chunk):
    checked = check(*framed(inline_envelope(REPORT), framing), chunk=chunk)
    assert checked.fault is None
    assert checked.report_bytes == len(REPORT)
    assert soap.local(checked.body.tag) == "receiveSpecificReportResponse"


def test_an_inline_report_on_one_line_checks_out():
    assert check(inline_envelope(REPORT, line=10**9), "text/xml").report_bytes == len(REPORT)


def test_an_inline_report_larger_than_the_limit_is_refused():
    with pytest.raises(soap.SoapReplyError, match=f"larger than {len(REPORT) - 1} bytes"):
        check(inline_envelope(REPORT), "text/xml", limit=len(REPORT) - 1)
    assert check(inline_envelope(REPORT), "text/xml", limit=len(REPORT)).fault is None


@pytest.mark.parametrize(
    ("damage", "error"),
    [
        (lambda text: text.replace("A", "!", 1), "not valid base64"),
        (lambda text: text[:-5], "not valid base64"),
        (lambda text: text + "QUJD", "not valid base64"),
    ],
)
def test_inline_text_that_is_not_base64_is_refused(damage, error):
    text = base64.b64encode(REPORT).decode("ascii")
    assert text.endswith("=")  # so text after it is after the padding
    envelope = inline_envelope(b"").replace(
        b"<ns2:alertsReport></ns2:alertsReport>",
        f"<ns2:alertsReport>{damage(text)}</ns2:alertsReport>".encode(),
    )
    with pytest.raises(soap.SoapReplyError, match=error):
        check(envelope, "text/xml")


def test_an_inline_report_must_be_a_licensing_report():
    with pytest.raises(soap.SoapReplyError, match="inline report's root is PDB"):
        check(inline_envelope(b"<PDB/>"), "text/xml")
    with pytest.raises(soap.SoapReplyError, match="inline report is not well-formed"):
        check(inline_envelope(REPORT[: len(REPORT) // 2]), "text/xml")


def test_an_inline_report_declaring_a_doctype_is_refused():
    hostile = b'<!DOCTYPE r [<!ENTITY x "y">]>' + REPORT.split(b"?>", 1)[-1]
    with pytest.raises(soap.SoapReplyError, match="DOCTYPE"):
        check(inline_envelope(hostile), "text/xml")


def test_an_envelope_with_neither_attachment_nor_inline_report_is_refused():
    with pytest.raises(soap.SoapReplyError, match="no xop:Include, no inline report"):
        check(inline_envelope(b""), "text/xml")


def test_has_inline_report_tells_inline_text_from_an_attachment():
    assert soap.has_inline_report(inline_envelope(REPORT)[:65536])
    include = inline_envelope(b"").replace(
        b"<ns2:alertsReport></ns2:alertsReport>",
        f'<ns2:alertsReport><xop:Include xmlns:xop="{soap.XOP_NS}" href="cid:1"/>'
        f"</ns2:alertsReport>".encode(),
    )
    assert not soap.has_inline_report(include)
    assert not soap.has_inline_report(REPORT[:65536])


# ====================================================================== the parser
@pytest.mark.parametrize("framing", ["plain", "mtom"])
@pytest.mark.parametrize("stem", STEMS)
def test_an_inline_report_parses_to_the_frames_of_its_mtom_attachment(stem, framing):
    attached = parse_pdb_report(FIXTURES / f"{stem}.mtom")
    body, _ = framed(inline_envelope((FIXTURES / f"{stem}.xml").read_bytes()), framing)
    inline = parse_pdb_report(io.BytesIO(body))
    for frame in FRAMES:
        pdt.assert_frame_equal(getattr(attached, frame), getattr(inline, frame))
    assert (inline.report_kind, inline.as_of, inline.report_date) == (
        attached.report_kind,
        attached.as_of,
        attached.report_date,
    )


def test_an_inline_report_parses_from_a_file_too(tmp_path):
    path = tmp_path / "reply.xml"
    path.write_bytes(inline_envelope(REPORT))
    assert parse_pdb_report(path).report_kind == parse_pdb_report(REPORT).report_kind == "alerts"


def test_an_unreadable_inline_report_is_a_report_error():
    envelope = inline_envelope(REPORT).replace(
        b"</ns2:alertsReport></ns2", b"!</ns2:alertsReport></ns2"
    )
    with pytest.raises(NiprReportError, match="inline report cannot be read.*base64"):
        parse_pdb_report(envelope)
