"""A PDB Alerts report sent inline in the SOAP envelope, as base64 text: split out as it streams.

NIPR's WSDL (pdb-alerts-industry-ws.wsdl) types `alertsReport` as `xsd:base64Binary` with
`xmime:expectedContentTypes`, so a server may send the report either as an MTOM attachment (an
`xop:Include`, what NIPR's samples show) or as base64 text inside the element. The text of a
large report is tens of MB, more than libxml2 takes in one text node and more than should be
held, so `InlineReportSplitter` parses the envelope with a parser target: every element and
small text goes into a tree, the text of `alertsReport` is decoded as it arrives and written
to a sink. What is left is a slim envelope (faults, the response element, an `xop:Include`)
read like any other. Pure: no Dagster, no HTTP.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from lxml import etree

from resources.nipr_mtom import PartSink, SoapReplyError
from resources.safe_xml import has_doctype, safe_parser

INLINE_REPORT_ELEMENT = "alertsReport"
# The envelope of a reply is a few KB (a retrieveTargets of 10,000 NPNs is ~400 KB); a cap on
# what is kept of it (all but an inline report's text) keeps a broken reply from being held.
MAX_ENVELOPE_BYTES = 8 * 1024 * 1024
_HEAD_BYTES = 64 * 1024
_BASE64_WHITESPACE = re.compile(r"\s+")
# The first start tag of a document, after any XML declaration, comments and whitespace.
_FIRST_TAG = re.compile(
    rb"\A(?:\s|<\?.*?\?>|<!--.*?-->)*<(?:[A-Za-z_][\w.\-]*:)?([A-Za-z_][\w.\-]*)", re.S
)
# An alertsReport start tag followed by base64 text, not by a child (alertsReport, xop:Include).
_INLINE_START = re.compile(rb"<(?:[A-Za-z_][\w.\-]*:)?alertsReport\b[^>]*>\s*[A-Za-z0-9+/]")


def starts_with_soap_envelope(prefix: bytes) -> bool:
    """True when the document whose first bytes are `prefix` has a root called Envelope."""
    match = _FIRST_TAG.match(prefix.lstrip(b"\xef\xbb\xbf"))
    return match is not None and match.group(1) == b"Envelope"


def has_inline_report(prefix: bytes) -> bool:
    """True when a SOAP envelope's first bytes (64 KB: the envelope's head is a few hundred
    bytes) start a report inline as base64 text rather than pointing at an attachment."""
    return starts_with_soap_envelope(prefix) and _INLINE_START.search(prefix) is not None


class UnsafeXmlError(SoapReplyError):
    """The reply declares a DOCTYPE; refused without parsing it."""


class _Base64Writer:
    """Decodes base64 text given in pieces of any length and writes the bytes to a sink."""

    def __init__(self, sink: PartSink, limit: int | None) -> None:
        self._sink = sink
        self._limit = limit
        self._pending = ""
        self._ended = False  # padding seen: nothing may follow
        self.size = 0

    def write(self, text: str) -> None:
        text = _BASE64_WHITESPACE.sub("", text)
        if not text:
            return
        if self._ended:
            raise SoapReplyError("the inline report is not valid base64 (text after padding)")
        self._pending += text
        whole = len(self._pending) - len(self._pending) % 4
        if whole:
            self._decode(self._pending[:whole])
            self._pending = self._pending[whole:]
            if self._ended and self._pending:
                raise SoapReplyError("the inline report is not valid base64 (text after padding)")

    def _decode(self, text: str) -> None:
        if "=" in text.rstrip("="):
            raise SoapReplyError("the inline report is not valid base64 (padding inside)")
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise SoapReplyError("the inline report is not valid base64") from None
        self._ended = text.endswith("=")
        self.size += len(data)
        if self._limit is not None and self.size > self._limit:
            raise SoapReplyError(f"the inline report is larger than {self._limit} bytes; refused")
        self._sink.write(data)

    def close(self) -> None:
        if self._pending:
            raise SoapReplyError("the inline report is not valid base64 (cut short)")


class _SplittingTarget:
    """lxml parser target: the envelope as a tree, minus the inline report's text."""

    def __init__(self, report: _Base64Writer) -> None:
        self._builder = etree.TreeBuilder()
        self._report = report
        self._names: list[str] = []
        self._chars = 0
        # lxml reports an exception raised in a target callback as a parse error of its own,
        # so the first one is kept here and raised by the splitter instead.
        self.error: SoapReplyError | None = None

    def start(self, tag: str, attrib: Any) -> None:
        self._names.append(tag.rsplit("}", 1)[-1])
        self._count(len(tag) + sum(len(k) + len(v) for k, v in attrib.items()))
        # Namespace prefixes are not kept: the envelope is read by namespace and local name.
        self._builder.start(tag, dict(attrib))

    def end(self, tag: str) -> None:
        self._names.pop()
        self._builder.end(tag)

    def data(self, text: str) -> None:
        if self.error is not None:
            return
        try:
            if self._names and self._names[-1] == INLINE_REPORT_ELEMENT:
                self._report.write(text)
                return
            self._count(len(text))
        except SoapReplyError as error:
            self.error = error
            raise
        self._builder.data(text)

    def _count(self, size: int) -> None:
        self._chars += size
        if self._chars > MAX_ENVELOPE_BYTES and self.error is None:
            self.error = SoapReplyError(
                f"the SOAP envelope part is larger than {MAX_ENVELOPE_BYTES} bytes "
                "besides an inline report; refused"
            )
            raise self.error

    def comment(self, text: str) -> None:
        pass

    def pi(self, target: str, data: str | None = None) -> None:
        pass

    def doctype(self, name: str, pubid: str, system: str) -> None:
        raise SoapReplyError(
            "the SOAP envelope declares a DOCTYPE, which NIPR never sends; refused"
        )

    def close(self) -> etree._Element:
        return self._builder.close()


class InlineReportSplitter:
    """Feed a SOAP envelope; `close()` returns it without the inline report's text, which went
    base64-decoded to `sink` (`report_bytes` of it; 0 when the envelope held none).

    `max_report_bytes` caps the decoded report, as the same cap applies to an attachment.
    Raises SoapReplyError (never a bare lxml error) for XML or base64 it cannot read.
    """

    def __init__(self, sink: PartSink, max_report_bytes: int | None = None) -> None:
        self._report = _Base64Writer(sink, max_report_bytes)
        self._target = _SplittingTarget(self._report)
        self._parser = safe_parser(target=self._target)
        self._head = b""  # the first bytes, where a DOCTYPE would be

    @property
    def report_bytes(self) -> int:
        return self._report.size

    def write(self, data: bytes) -> None:
        if len(self._head) < _HEAD_BYTES:
            self._head += data[: _HEAD_BYTES - len(self._head)]
            if has_doctype(self._head):
                raise UnsafeXmlError(
                    "the SOAP envelope declares a DOCTYPE, which NIPR never sends; refused"
                )
        try:
            self._parser.feed(data)
        except (etree.XMLSyntaxError, SoapReplyError) as error:
            raise self._failure(error) from None
        if self._target.error is not None:
            raise self._target.error

    def close(self) -> etree._Element:
        try:
            root: etree._Element = self._parser.close()
        except (etree.XMLSyntaxError, SoapReplyError) as error:
            raise self._failure(error) from None
        if self._target.error is not None:
            raise self._target.error
        self._report.close()
        return root

    def _failure(self, error: Exception) -> SoapReplyError:
        if self._target.error is not None:
            return self._target.error
        if isinstance(error, SoapReplyError):
            return error
        return SoapReplyError(f"the SOAP envelope is not well-formed XML ({error})")


def split_inline_report(
    source: Any, sink: PartSink, max_report_bytes: int | None = None, chunk: int = 1 << 16
) -> tuple[bytes, int]:
    """Read a SOAP envelope from the binary stream `source`: (the envelope without its inline
    report, the decoded report's size in bytes, written to `sink`)."""
    splitter = InlineReportSplitter(sink, max_report_bytes)
    while data := source.read(chunk):
        splitter.write(data)
    root = splitter.close()
    return etree.tostring(root), splitter.report_bytes
