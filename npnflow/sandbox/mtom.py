"""Multipart MTOM/XOP framing, as NIPR's Apache CXF service sends it.

A reply is `multipart/related; type="application/xop+xml"; boundary="uuid:…";
start="<root.message@cxf.apache.org>"; start-info="text/xml"`. The first part is the SOAP
envelope (Content-ID <root.message@cxf.apache.org>); a report travels as a second part, named
from the envelope by `<xop:Include href="cid:…"/>`. Like NIPR, the report part says
`Content-Type: null` (clients must not rely on it).

`split_mtom` is the reading side, built on the standard library's `email` parser; the tests use
it for the sandbox's replies and for NIPR's sample replies alike.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import unquote

from resources.safe_xml import parse_xml_bytes

ROOT_CONTENT_ID = "root.message@cxf.apache.org"
XOP_NS = "http://www.w3.org/2004/08/xop/include"
ATTACHMENT_DOMAIN = "pdb-services.nipr.com"


def _boundary_for(parts: list[bytes]) -> str:
    # Derived from the content, so the same reply is byte-for-byte the same every time.
    digest = hashlib.sha256(b"".join(parts)).digest()
    return f"uuid:{uuid.UUID(bytes=digest[:16])}"


def attachment_cid(payload: bytes, number: int = 1) -> str:
    digest = hashlib.sha256(payload).digest()
    return f"{uuid.UUID(bytes=digest[16:32])}-{number}@{ATTACHMENT_DOMAIN}"


def build_mtom(
    envelope: bytes, attachments: list[tuple[str, bytes]] | None = None
) -> tuple[str, bytes]:
    """Frame a SOAP envelope (and attachments, as (content id, bytes)) as an MTOM reply."""
    attachments = attachments or []
    boundary = _boundary_for([envelope, *(data for _, data in attachments)])
    crlf = b"\r\n"
    chunks = [
        f"--{boundary}".encode(),
        crlf,
        b'Content-Type: application/xop+xml; charset=UTF-8; type="text/xml"',
        crlf,
        b"Content-Transfer-Encoding: binary",
        crlf,
        f"Content-ID: <{ROOT_CONTENT_ID}>".encode(),
        crlf,
        crlf,
        envelope,
        crlf,
    ]
    for content_id, data in attachments:
        chunks += [
            f"--{boundary}".encode(),
            crlf,
            b"Content-Type: null",
            crlf,
            b"Content-Transfer-Encoding: binary",
            crlf,
            f"Content-ID: <{content_id}>".encode(),
            crlf,
            crlf,
            data,
            crlf,
        ]
    chunks += [f"--{boundary}--".encode(), crlf]
    content_type = (
        f'multipart/related; type="application/xop+xml"; boundary="{boundary}"; '
        f'start="<{ROOT_CONTENT_ID}>"; start-info="text/xml"'
    )
    return content_type, b"".join(chunks)


def _normalise_cid(value: str) -> str:
    """'<a@b>', 'cid:a@b' and 'a %40b' all name the same part (RFC 2392; NIPR adds spaces)."""
    value = value.strip()
    if value.lower().startswith("cid:"):
        value = unquote(value[4:])
    return "".join(value.strip("<>").split())


@dataclass
class MtomMessage:
    root: bytes  # the SOAP envelope
    parts: dict[str, bytes]  # every part by normalised Content-ID

    def resolve(self, href: str) -> bytes:
        return self.parts[_normalise_cid(href)]

    def xop_includes(self) -> list[str]:
        """The hrefs of the xop:Include elements in the envelope, in document order."""
        root = parse_xml_bytes(self.root)
        return [element.get("href", "") for element in root.iter(f"{{{XOP_NS}}}Include")]


def split_mtom(body: bytes, content_type: str) -> MtomMessage:
    """Split a multipart/related body with the standard library's email parser."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise ValueError("not a multipart body")
    start_param = message.get_param("start", "")  # a tuple only for RFC 2231 values
    start = _normalise_cid(start_param if isinstance(start_param, str) else "")
    parts: dict[str, bytes] = {}
    ordered: list[bytes] = []
    for part in message.iter_parts():
        decoded = part.get_payload(decode=True)  # bytes for a part that is not multipart
        payload = decoded if isinstance(decoded, bytes) else b""
        # The framing CRLF before each boundary belongs to the boundary, not the part.
        ordered.append(payload)
        content_id = _normalise_cid(part.get("Content-ID", "") or "")
        if content_id:
            parts[content_id] = payload
    if not ordered:
        raise ValueError("multipart body without parts")
    root = parts.get(start) if start else None
    return MtomMessage(root if root is not None else ordered[0], parts)
