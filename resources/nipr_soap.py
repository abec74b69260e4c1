"""PDB Alerts SOAP, the pure part: request envelopes, reply reading, faults, MTOM framing.

No Dagster, no HTTP: `resources/nipr.py` sends what this module builds and hands back what
NIPR answered. Everything here raises `SoapReplyError` (a `ValueError`) on a reply it cannot
read, and never lets an lxml error escape on its own.

Requests follow NIPR's Postman collection (`soapenv`/`ind` prefixes, an empty `soapenv:Header`,
the same element order). NIPR dispatches on the SOAPAction header, one per method.

Replies are multipart MTOM/XOP (Apache CXF): the first part is the SOAP envelope, and a report
travels as a further part named from the envelope by `<xop:Include href="cid:..."/>`. Two
readers share one framing implementation (`MultipartSplitter`, fed chunk by chunk):
`split_mtom` keeps every part in memory (the small replies: subscriptions, targets, faults);
`ReportReplyChecker` keeps only the envelope and checks every other part for well-formedness
as it streams by, so a tens-of-MB report is verified without being held twice.

XML from NIPR is parsed with entity resolution, DTD loading and network access off, and any
DOCTYPE is refused: nothing NIPR sends needs one, and an internal subset can declare entities.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from email.message import Message
from typing import Protocol
from urllib.parse import unquote

from lxml import etree

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
IND_NS = "https://pdb-services.nipr.com/pdb-alerts-industry-services/industry-ws"
XOP_NS = "http://www.w3.org/2004/08/xop/include"
REQUEST_CONTENT_TYPE = "text/xml; charset=UTF-8"
REPORT_ROOT = "LicensingReportProcessResult"

# NIPR's fault table ("PDB Alerts Web Service", Faults). 21 and 22 drive the daily sync:
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

ALERT_TYPES = ("LICENSING", "RIRS", "DEMOGRAPHICS", "APPOINTMENTS")

# The envelope of a reply is a few KB (a retrieveTargets of 10,000 NPNs is ~400 KB); a cap keeps
# a broken reply from being buffered whole while we look for the end of the first part.
MAX_ENVELOPE_BYTES = 8 * 1024 * 1024
_MAX_PART_HEADER_BYTES = 16 * 1024

_PARSER_OPTIONS = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
}
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)


class SoapReplyError(ValueError):
    """A reply that is not the SOAP/MTOM NIPR sends: broken framing, bad XML, missing parts."""


class UnsafeXmlError(SoapReplyError):
    """The reply declares a DOCTYPE; refused without parsing it."""


# ====================================================================== requests
def soap_action(method: str) -> str:
    """The SOAPAction header of a method (NIPR's Postman collection sends it unquoted)."""
    return f"{IND_NS}/{method}"


def _envelope(method: str | None) -> tuple[etree._Element, etree._Element | None]:
    root = etree.Element(f"{{{SOAP_NS}}}Envelope", nsmap={"soapenv": SOAP_NS, "ind": IND_NS})
    etree.SubElement(root, f"{{{SOAP_NS}}}Header")
    body = etree.SubElement(root, f"{{{SOAP_NS}}}Body")
    call = etree.SubElement(body, f"{{{IND_NS}}}{method}") if method else None
    return root, call


def _ind(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{IND_NS}}}{name}")
    if text is not None:
        element.text = text
    return element


def _serialise(root: etree._Element) -> bytes:
    return etree.tostring(root, encoding="UTF-8", xml_declaration=False)


def add_subscription_envelope(
    name: str,
    email: str,
    alert_types: Sequence[str],
    all_states: bool = True,
    states: Sequence[str] = (),
) -> bytes:
    """`addSubscription`: no company-affiliation filter (`None`), all states or a list."""
    if not name.strip():
        raise ValueError("a subscription needs a name")
    if not email.strip():
        raise ValueError("a subscription needs a contact email")
    types = [t.strip().upper() for t in alert_types]
    if not types:
        raise ValueError("a subscription needs at least one alert type")
    unknown = [t for t in types if t not in ALERT_TYPES]
    if unknown:
        raise ValueError(f"unknown alert types {unknown}; NIPR's are {', '.join(ALERT_TYPES)}")
    if all_states and states:
        raise ValueError("all_states=True takes no state list (NIPR fault 10)")
    if not all_states and not states:
        raise ValueError("all_states=False needs a list of states")
    root, call = _envelope("addSubscription")
    assert call is not None
    data = _ind(call, "subscriptionInputData")
    _ind(data, "subscriptionName", name)
    _ind(data, "email", email)
    _ind(_ind(data, "affiliationList"), "None", "true")
    state_list = _ind(data, "stateList")
    if all_states:
        _ind(state_list, "allStates", "true")
    for state in states:
        _ind(state_list, "stateList", state.strip().upper())
    type_list = _ind(data, "alertTypeList")
    for alert_type in types:
        _ind(type_list, "alertTypeList", alert_type)
    return _serialise(root)


def retrieve_all_subscriptions_envelope() -> bytes:
    """`retrieveAllSubscriptions`: an empty Body, the method named by SOAPAction alone."""
    root, _ = _envelope(None)
    return _serialise(root)


def targets_envelope(method: str, subscription: str, npns: Iterable[str]) -> bytes:
    """`addTargets` / `removeTargets` by NPN."""
    if method not in ("addTargets", "removeTargets"):
        raise ValueError(f"not a target-list method: {method}")
    root, call = _envelope(method)
    assert call is not None
    _ind(call, "subscriptionName", subscription)
    data = _ind(call, "targetInputData")
    _ind(data, "inputFormat", "NPN")
    target_list = _ind(data, "targetInputList")
    for npn in npns:
        _ind(target_list, "npnList", npn)
    return _serialise(root)


def retrieve_targets_envelope(subscription: str) -> bytes:
    root, call = _envelope("retrieveTargets")
    assert call is not None
    _ind(call, "subscriptionName", subscription)
    return _serialise(root)


def report_method(subscription: str | None) -> str:
    return (
        "receiveSpecificReport" if subscription is None else "receiveSpecificReportForSubscription"
    )


def specific_report_envelope(report_date: date, subscription: str | None = None) -> bytes:
    """`receiveSpecificReport(ForSubscription)`: reportDate (yyyy-mm-dd), then the name."""
    root, call = _envelope(report_method(subscription))
    assert call is not None
    _ind(call, "reportDate", report_date.isoformat())
    if subscription is not None:
        _ind(call, "subscriptionName", subscription)
    return _serialise(root)


# ====================================================================== XML
def local(tag: object) -> str:
    """Local name of a tag ('' for comments and processing instructions)."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def parse_xml(data: bytes, what: str = "the reply") -> etree._Element:
    """Parse XML from NIPR safely; SoapReplyError (never a bare lxml error) when it cannot."""
    if _DOCTYPE.search(data):
        raise UnsafeXmlError(f"{what} declares a DOCTYPE, which NIPR never sends; refused")
    try:
        return etree.fromstring(data, parser=etree.XMLParser(**_PARSER_OPTIONS))
    except etree.XMLSyntaxError as error:
        raise SoapReplyError(f"{what} is not well-formed XML ({error})") from None


def body_element(envelope: bytes) -> etree._Element:
    """The first element inside the SOAP Body of an envelope."""
    root = parse_xml(envelope, "the SOAP envelope")
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
            valid.extend(_texts(element, "npn"))
        elif name == "invalidInputList":
            inputs = _texts(element, "input")
            reasons = _texts(element, "invalidReason")
            invalid.append((inputs[0] if inputs else "", reasons[0] if reasons else ""))
    return _unique(valid), invalid


def parse_subscription_names(response: etree._Element) -> list[str]:
    """retrieveAllSubscriptions: the names, in NIPR's order, each once."""
    return _unique(_texts(response, "subscriptionName"))


def parse_target_npns(response: etree._Element) -> list[str]:
    """retrieveTargets: the NPNs of `targetList/npn`, in NIPR's order, each once."""
    return _unique(_texts(response, "npn"))


# ====================================================================== faults
@dataclass(frozen=True)
class SoapFault:
    """A SOAP fault from PDB Alerts: NIPR's fault number and name when it can be told."""

    code: int | None
    name: str
    message: str
    faultcode: str = ""
    faultstring: str = ""


def as_fault(element: etree._Element) -> SoapFault | None:
    """The fault a Body element carries, or None when it is not a soap:Fault.

    NIPR documents fault numbers and names, not their XML. Read in this order: a `detail`
    child naming `faultCode`/`faultName`/`faultMessage` (any namespace); else a faultstring
    starting with a documented fault name ("RUN_NOT_FINISHED: ..."); else the faultstring alone,
    with no code (as in NIPR's sample "Error adding NPNs to subscription").
    """
    if local(element.tag) != "Fault":
        return None
    faultcode = next((t for t in _texts(element, "faultcode") if t), "")
    faultstring = next((t for t in _texts(element, "faultstring") if t), "")
    detail = next((c for c in element if local(c.tag) == "detail"), None)
    code_text = name = message = ""
    if detail is not None:
        code_text = next((t for t in _texts(detail, "faultCode") if t), "")
        name = next((t for t in _texts(detail, "faultName") if t), "")
        message = next((t for t in _texts(detail, "faultMessage") if t), "")
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


# ====================================================================== MTOM framing
def multipart_params(content_type: str) -> tuple[str, str] | None:
    """(boundary, start Content-ID) of a multipart Content-Type, None when it is not one."""
    header = Message()
    header["Content-Type"] = content_type
    if header.get_content_maintype() != "multipart":
        return None
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise SoapReplyError("the multipart reply names no boundary")
    start = header.get_param("start")
    return boundary, normalise_content_id(start if isinstance(start, str) else "")


def normalise_content_id(value: str) -> str:
    """'<a@b>', 'cid:a@b', 'cid:a%40b' and '<a @b>' name the same part (RFC 2392; NIPR adds
    stray spaces). Compared case-insensitively."""
    value = value.strip()
    if value[:4].lower() == "cid:":
        value = unquote(value[4:])
    return "".join(value.split()).strip("<>").lower()


class PartSink(Protocol):
    def write(self, data: bytes) -> object: ...


PartFactory = Callable[[dict[str, str]], PartSink]


def _parse_part_headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    last = ""
    for line in block.decode("latin-1").split("\r\n"):
        if line[:1] in (" ", "\t") and last:  # folded continuation line
            headers[last] += " " + line.strip()
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise SoapReplyError(f"bad multipart part header line {line[:80]!r}")
        last = name.strip().lower()
        headers[last] = value.strip()
    return headers


class MultipartSplitter:
    """Incremental multipart/related reader (RFC 2046): feed bytes in any chunking.

    For each part, `on_part(headers)` (lower-cased header names) returns where the part's body
    goes; the body is written in pieces as it arrives. Only a delimiter's worth of bytes is
    held back between feeds, so memory does not grow with the body. `close()` raises
    SoapReplyError when the closing delimiter never came (a reply cut short).
    """

    def __init__(self, boundary: str, on_part: PartFactory) -> None:
        self._delimiter = b"\r\n--" + boundary.encode("ascii", "strict")
        self._on_part = on_part
        # A leading CRLF lets the first delimiter (at the very start) match like the others.
        self._buffer = bytearray(b"\r\n")
        self._state = "preamble"  # preamble | delimiter | headers | body | epilogue
        self._part: PartSink | None = None
        self.part_count = 0

    def feed(self, data: bytes) -> None:
        self._buffer += data
        self._advance()

    def close(self) -> None:
        self._advance()
        if self._state != "epilogue":
            where = "before its first part" if self.part_count == 0 else "in the middle"
            raise SoapReplyError(
                f"the multipart reply ends {where}, without its closing delimiter (cut off?)"
            )

    def _advance(self) -> None:
        buffer = self._buffer
        while True:
            if self._state in ("preamble", "body"):
                found = buffer.find(self._delimiter)
                if found < 0:
                    # Keep what could be the start of a delimiter split across two feeds.
                    ready = len(buffer) - (len(self._delimiter) - 1)
                    if ready > 0:
                        self._write(bytes(buffer[:ready]))
                        del buffer[:ready]
                    return
                self._write(bytes(buffer[:found]))
                del buffer[: found + len(self._delimiter)]
                self._part = None
                self._state = "delimiter"
            elif self._state == "delimiter":
                if len(buffer) < 2:
                    return
                if buffer[:2] == b"--":
                    self._state = "epilogue"
                    continue
                end = buffer.find(b"\r\n")
                if end < 0:
                    if len(buffer) > 1024:
                        raise SoapReplyError("a multipart delimiter line does not end")
                    return
                if bytes(buffer[:end]).strip(b" \t"):  # only transport padding may follow
                    raise SoapReplyError("a multipart delimiter is followed by stray bytes")
                del buffer[: end + 2]
                self._state = "headers"
            elif self._state == "headers":
                if buffer[:2] == b"\r\n":
                    headers: dict[str, str] = {}
                    del buffer[:2]
                else:
                    end = buffer.find(b"\r\n\r\n")
                    if end < 0:
                        if len(buffer) > _MAX_PART_HEADER_BYTES:
                            raise SoapReplyError("a multipart part's headers do not end")
                        return
                    headers = _parse_part_headers(bytes(buffer[:end]))
                    del buffer[: end + 4]
                self.part_count += 1
                self._part = self._on_part(headers)
                self._state = "body"
            else:  # epilogue: ignored, as RFC 2046 says
                buffer.clear()
                return

    def _write(self, data: bytes) -> None:
        if data and self._state == "body" and self._part is not None:
            self._part.write(data)


class _Collect:
    def __init__(self, limit: int | None = None) -> None:
        self.data = bytearray()
        self._limit = limit

    def write(self, data: bytes) -> None:
        self.data += data
        if self._limit is not None and len(self.data) > self._limit:
            raise SoapReplyError(f"the SOAP envelope part is larger than {self._limit} bytes")


@dataclass
class MtomMessage:
    root: bytes  # the SOAP envelope (the `start` part, else the first)
    parts: dict[str, bytes]  # every part with a Content-ID, by normalised Content-ID
    ordered: list[bytes] = field(default_factory=list)

    def resolve(self, href: str) -> bytes:
        try:
            return self.parts[normalise_content_id(href)]
        except KeyError:
            raise SoapReplyError(f"the reply has no part {href}") from None


def split_mtom(body: bytes, content_type: str) -> MtomMessage:
    """Split a small multipart/related reply in memory (subscriptions, targets, faults)."""
    params = multipart_params(content_type)
    if params is None:
        raise SoapReplyError(f"not a multipart reply ({content_type or 'no Content-Type'})")
    boundary, start = params
    collected: list[tuple[str, _Collect]] = []

    def on_part(headers: dict[str, str]) -> _Collect:
        sink = _Collect()
        collected.append((normalise_content_id(headers.get("content-id", "")), sink))
        return sink

    splitter = MultipartSplitter(boundary, on_part)
    splitter.feed(body)
    splitter.close()
    if not collected:
        raise SoapReplyError("the multipart reply has no parts")
    parts = {cid: bytes(sink.data) for cid, sink in collected if cid}
    root = parts.get(start) if start else None
    return MtomMessage(
        root if root is not None else bytes(collected[0][1].data),
        parts,
        [bytes(sink.data) for _, sink in collected],
    )


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
        self._parser = etree.XMLParser(target=self._target, **_PARSER_OPTIONS)
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
    checking that the envelope is the expected response, that it points at a report part with
    `xop:Include`, and that the part is well-formed XML whose root is LicensingReportProcessResult.
    Only the envelope part is kept in memory.
    """

    RESPONSES = (
        "receiveSpecificReportResponse",
        "receiveSpecificReportForSubscriptionResponse",
    )

    def __init__(self, content_type: str) -> None:
        params = multipart_params(content_type)
        self._envelope = _Collect(MAX_ENVELOPE_BYTES)
        self._checks: list[tuple[str, _XmlCheck | _Collect]] = []
        self._splitter: MultipartSplitter | None = None
        self._start = ""
        if params is not None:
            boundary, self._start = params
            self._splitter = MultipartSplitter(boundary, self._on_part)

    def _on_part(self, headers: dict[str, str]) -> PartSink:
        content_id = normalise_content_id(headers.get("content-id", ""))
        is_root = (content_id == self._start) if self._start else not self._checks
        sink: _XmlCheck | _Collect = self._envelope if is_root else _XmlCheck()
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
        element = body_element(bytes(self._envelope.data))
        fault = as_fault(element)
        if fault is not None:
            return CheckedReport(element, fault, 0)
        expect(element, *self.RESPONSES)
        hrefs = [e.get("href", "") for e in element.iter(f"{{{XOP_NS}}}Include")]
        if not hrefs:
            raise SoapReplyError("the reply's envelope points at no report (no xop:Include)")
        parts = {cid: sink for cid, sink in self._checks if isinstance(sink, _XmlCheck)}
        size = 0
        for href in hrefs:
            part = parts.get(normalise_content_id(href))
            if part is None:
                raise SoapReplyError(f"the report part {href} is missing from the reply")
            part.finish()
            if part.error is not None:
                raise SoapReplyError(f"the report part is not well-formed XML ({part.error})")
            if local(part.root) != REPORT_ROOT:
                raise SoapReplyError(
                    f"the report part's root is {local(part.root) or 'missing'}, not {REPORT_ROOT}"
                )
            size += part.size
        return CheckedReport(element, None, size)
