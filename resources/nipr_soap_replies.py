"""PDB Alerts SOAP replies: reading envelopes, NIPR's faults, and checking a streamed report.

NIPR answers in multipart MTOM/XOP (framing in `resources/nipr_mtom.py`); this module reads
the SOAP envelope inside: the Body's first element (`reply_body`, `body_element`), the results
of the target and subscription calls, and NIPR's faults (`as_fault`, the fault table; the XML
as NIPR's WSDL declares it). For the report call, `ReportReplyChecker` keeps only the envelope
and checks the report for well-formedness as it streams by, an attachment part or base64 text
inline (`resources/nipr_soap_inline.py`), so a tens-of-MB report is verified without being held.

Everything here raises `SoapReplyError` (a `ValueError`) on a reply it cannot read, and never
lets an lxml error escape on its own. XML is parsed with `resources/safe_xml.py`'s options and
any DOCTYPE is refused: nothing NIPR sends needs one. Pure: no Dagster, no HTTP.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from lxml import etree

from resources.nipr_mtom import (
    MultipartSplitter,
    PartSink,
    SoapReplyError,
    multipart_params,
    normalise_content_id,
    split_mtom,
)
from resources.nipr_soap_inline import InlineReportSplitter, UnsafeXmlError
from resources.nipr_soap_requests import SOAP12_NS, SOAP_NS
from resources.safe_xml import has_doctype, safe_parser
from schemas.npns import canonical_npn

XOP_NS = "http://www.w3.org/2004/08/xop/include"
REPORT_ROOT = "LicensingReportProcessResult"

# NIPR's fault table ("PDB Alerts Web Service", Faults); the WSDL carries the number as the
# `errorCode` of `PdbAlertsFaultType`. 21 and 22 drive the daily sync:
# 21 = the run is not finished, ask again later; 22 = no run that day, do not ask again.
FAULT_NAMES: dict[int, str] = {
    1: "UserAuthenticationFault",
    2: "UserAuthorizationFault",
    3: "WebServiceSubscriberFault",
    4: "GenericFault",
    5: "ReportUnavailableFault",
    6: "InternalError",
    7: "InputFormatFault",
    8: "TargetInputFault",
    9: "ValidProducerFault",
    10: "InvalidAllStatesFault",
    11: "InvalidStateEntryFault",
    12: "SUBSCRIPTION_NAME_NOT_UNIQUE",
    13: "CATEGORY_REQUIRED",
    14: "SUBSCRIPTION_NONEXISTENT",
    15: "SUBSCRIPTION_NAME_EMPTY",
    16: "EMAIL_EMPTY",
    17: "STATELIST_EMPTY",
    18: "AFFILIATIONLIST_EMPTY",
    19: "STATELIST_INVALID",
    20: "INVALID_DATE",
    21: "RUN_NOT_FINISHED",
    22: "NO_ALERTS_RUN_TODAY",
}
FAULT_CODES = {name: code for code, name in FAULT_NAMES.items()}
RUN_NOT_FINISHED = 21
NO_ALERTS_RUN_TODAY = 22
VALID_PRODUCER_FAULT = 9
SUBSCRIPTION_NONEXISTENT = 14


# ====================================================================== XML
def local(tag: object) -> str:
    """Local name of a tag ('' for comments and processing instructions)."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def parse_xml(data: bytes, what: str = "the reply") -> etree._Element:
    """Parse XML from NIPR safely; SoapReplyError (never a bare lxml error) when it cannot."""
    if has_doctype(data):
        raise UnsafeXmlError(f"{what} declares a DOCTYPE, which NIPR never sends; refused")
    try:
        return etree.fromstring(data, parser=safe_parser())
    except etree.XMLSyntaxError as error:
        raise SoapReplyError(f"{what} is not well-formed XML ({error})") from None


def body_element(envelope: bytes) -> etree._Element:
    """The first element inside the SOAP Body of an envelope."""
    return body_of(parse_xml(envelope, "the SOAP envelope"))


def body_of(root: etree._Element) -> etree._Element:
    """The first element inside the SOAP Body of a parsed envelope."""
    if local(root.tag) != "Envelope" or etree.QName(root).namespace not in (SOAP_NS, SOAP12_NS):
        raise SoapReplyError(f"the reply is not a SOAP envelope (root element {local(root.tag)})")
    body = next((c for c in root if local(c.tag) == "Body"), None)
    if body is None:
        raise SoapReplyError("the SOAP envelope has no Body")
    first = next((c for c in body if local(c.tag)), None)
    if first is None:
        raise SoapReplyError("the SOAP Body is empty")
    return first


def expect(element: etree._Element, *names: str) -> etree._Element:
    """`element` itself when its local name is one of `names`, else SoapReplyError."""
    if local(element.tag) not in names:
        raise SoapReplyError(
            f"expected {' or '.join(names)} in the SOAP Body, found {local(element.tag)}"
        )
    return element


def _texts(element: etree._Element, name: str) -> list[str]:
    """Stripped texts of every descendant called `name` (any namespace), in document order."""
    return [(e.text or "").strip() for e in element.iter() if local(e.tag) == name]


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def parse_target_results(
    response: etree._Element,
) -> tuple[list[str], list[tuple[str, str]]]:
    """addTargets/removeTargets: (valid NPNs, [(input, reason)]) from `targetResultsData`."""
    valid: list[str] = []
    invalid: list[tuple[str, str]] = []
    for element in response.iter():
        name = local(element.tag)
        if name == "validTargetList":
            valid.extend(canonical_npn(n) for n in _texts(element, "npn"))
        elif name == "invalidInputList":
            inputs = _texts(element, "input")
            reasons = _texts(element, "invalidReason")
            typed = canonical_npn(inputs[0]) if inputs else ""
            invalid.append((typed, reasons[0] if reasons else ""))
    return _unique(valid), invalid


def parse_subscription_names(response: etree._Element) -> list[str]:
    """retrieveAllSubscriptions: the names, in NIPR's order, each once."""
    return _unique(_texts(response, "subscriptionName"))


def parse_target_npns(response: etree._Element) -> list[str]:
    """retrieveTargets: the NPNs of `targetList/npn`, in NIPR's order, each once (leading
    zeros stripped, as everywhere: schemas/npns.py)."""
    return _unique([canonical_npn(n) for n in _texts(response, "npn")])


# ====================================================================== faults
@dataclass(frozen=True)
class SoapFault:
    """A SOAP fault from PDB Alerts: NIPR's fault number and name when it can be told."""

    code: int | None
    name: str
    message: str
    faultcode: str = ""
    faultstring: str = ""


def _first_text(element: etree._Element | None, *names: str) -> str:
    """The first non-blank text of a descendant named one of `names` (any namespace)."""
    if element is None:
        return ""
    for name in names:
        found = next((t for t in _texts(element, name) if t), "")
        if found:
            return found
    return ""


def as_fault(element: etree._Element) -> SoapFault | None:
    """The fault a Body element carries, or None when it is not a soap:Fault.

    NIPR's WSDL (pdb-alerts-industry-ws.wsdl) declares the fault detail as the element
    `PdbAlertsFaultType` with children `message` and `errorCode`; it is read under any namespace
    prefix, from a SOAP 1.1 `detail` or a SOAP 1.2 `Detail`. Read in this order: `errorCode`
    (also the `faultCode`/`faultName`/`faultMessage` detail the sandbox used to send); else a
    faultstring starting with a documented fault name ("RUN_NOT_FINISHED: ..."); else the
    faultstring alone, with no code (as in NIPR's sample "Error adding NPNs to subscription").
    """
    if local(element.tag) != "Fault":
        return None
    # SOAP 1.1 names the parts faultcode/faultstring/detail; SOAP 1.2 Code/Reason/Detail.
    faultcode = next((t for t in _texts(element, "faultcode") if t), "")
    if not faultcode:
        code_part = next((c for c in element if local(c.tag) == "Code"), None)
        faultcode = _first_text(code_part, "Value")
    faultstring = next((t for t in _texts(element, "faultstring") if t), "")
    if not faultstring:
        reason = next((c for c in element if local(c.tag) == "Reason"), None)
        faultstring = _first_text(reason, "Text")
    detail = next((c for c in element if local(c.tag) in ("detail", "Detail")), None)
    code_text = _first_text(detail, "errorCode", "faultCode")
    name = _first_text(detail, "faultName")
    message = _first_text(detail, "message", "faultMessage")
    code = int(code_text) if code_text.isdigit() else None
    prefix, _, rest = faultstring.partition(":")
    if code is None and name in FAULT_CODES:
        code = FAULT_CODES[name]
    if code is None and prefix.strip() in FAULT_CODES:
        code = FAULT_CODES[prefix.strip()]
        name = name or prefix.strip()
        message = message or rest.strip()
    if not name:
        name = FAULT_NAMES.get(code, "SOAPFault") if code is not None else "SOAPFault"
    if not message:
        message = rest.strip() if prefix.strip() == name and rest.strip() else faultstring
    return SoapFault(code, name, message, faultcode, faultstring)


def reply_body(content: bytes, content_type: str) -> etree._Element:
    """The first element in the SOAP Body of a small reply, MTOM-framed or plain XML."""
    if multipart_params(content_type) is None:
        return body_element(content)
    return body_element(split_mtom(content, content_type).root)


# ====================================================================== streamed reports
class _RootTag:
    """lxml parser target: remembers the root element, builds no tree, refuses a DOCTYPE."""

    def __init__(self) -> None:
        self.root: str | None = None

    def start(self, tag: str, attrib: object) -> None:
        if self.root is None:
            self.root = tag

    def end(self, tag: str) -> None:
        pass

    def data(self, text: str) -> None:
        pass

    def doctype(self, name: str, pubid: str, system: str) -> None:
        raise UnsafeXmlError("a report part declares a DOCTYPE, which NIPR never sends; refused")

    def close(self) -> str | None:
        return self.root


class _XmlCheck:
    """A part body checked for well-formedness as it streams by (constant memory)."""

    def __init__(self) -> None:
        self._target = _RootTag()
        self._parser = safe_parser(target=self._target)
        self.size = 0
        self.error: str | None = None
        self.root: str | None = None

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.error is None:
            try:
                self._parser.feed(data)
            except (etree.XMLSyntaxError, UnsafeXmlError) as error:
                self.error = str(error)

    def finish(self) -> None:
        if self.error is None:
            try:
                self.root = self._parser.close()
            except (etree.XMLSyntaxError, UnsafeXmlError) as error:
                self.error = str(error)


@dataclass(frozen=True)
class CheckedReport:
    """What `ReportReplyChecker.close()` found: the Body element, or a fault."""

    body: etree._Element
    fault: SoapFault | None
    report_bytes: int


class ReportReplyChecker:
    """Checks a `receiveSpecificReport(ForSubscription)` reply while it is streamed elsewhere.

    Feed the raw HTTP body; `close()` returns the Body's first element (or the fault), after
    checking that the envelope is the expected response, that it carries a report, and that the
    report is well-formed XML whose root is LicensingReportProcessResult. The report is an
    attachment the envelope points at with `xop:Include` (what NIPR's samples show), or base64
    text inline in `alertsReport` (the WSDL's base64Binary), decoded and checked as it streams;
    `max_report_bytes` caps the decoded inline report as the client caps an attachment. Only
    the envelope, without an inline report's text, is kept in memory.
    """

    RESPONSES = (
        "receiveSpecificReportResponse",
        "receiveSpecificReportForSubscriptionResponse",
    )

    def __init__(self, content_type: str, max_report_bytes: int | None = None) -> None:
        params = multipart_params(content_type)
        self._inline = _XmlCheck()
        self._envelope = InlineReportSplitter(self._inline, max_report_bytes)
        self._checks: list[tuple[str, _XmlCheck | InlineReportSplitter]] = []
        self._splitter: MultipartSplitter | None = None
        self._start = ""
        if params is not None:
            boundary, self._start = params
            self._splitter = MultipartSplitter(boundary, self._on_part)

    def _on_part(self, headers: dict[str, str]) -> PartSink:
        content_id = normalise_content_id(headers.get("content-id", ""))
        is_root = (content_id == self._start) if self._start else not self._checks
        sink: _XmlCheck | InlineReportSplitter = self._envelope if is_root else _XmlCheck()
        self._checks.append((content_id, sink))
        return sink

    def feed(self, data: bytes) -> None:
        if self._splitter is None:
            self._envelope.write(data)
        else:
            self._splitter.feed(data)

    def close(self) -> CheckedReport:
        if self._splitter is not None:
            self._splitter.close()
            if not any(sink is self._envelope for _, sink in self._checks):
                raise SoapReplyError("the multipart reply has no SOAP envelope part")
        element = body_of(self._envelope.close())
        fault = as_fault(element)
        if fault is not None:
            return CheckedReport(element, fault, 0)
        expect(element, *self.RESPONSES)
        hrefs = [e.get("href", "") for e in element.iter(f"{{{XOP_NS}}}Include")]
        if not hrefs and self._envelope.report_bytes:
            _check_report(self._inline, "the inline report")
            return CheckedReport(element, None, self._envelope.report_bytes)
        if not hrefs:
            raise SoapReplyError(
                "the reply's envelope carries no report (no xop:Include, no inline report)"
            )
        parts = {cid: sink for cid, sink in self._checks if isinstance(sink, _XmlCheck)}
        size = 0
        for href in hrefs:
            part = parts.get(normalise_content_id(href))
            if part is None:
                raise SoapReplyError(f"the report part {href} is missing from the reply")
            _check_report(part, "the report part")
            size += part.size
        return CheckedReport(element, None, size)


def _check_report(report: _XmlCheck, what: str) -> None:
    """Raise unless `report` streamed by as well-formed XML rooted in LicensingReportProcessResult."""
    report.finish()
    if report.error is not None:
        raise SoapReplyError(f"{what} is not well-formed XML ({report.error})")
    if local(report.root) != REPORT_ROOT:
        raise SoapReplyError(
            f"{what}'s root is {local(report.root) or 'missing'}, not {REPORT_ROOT}"
        )
