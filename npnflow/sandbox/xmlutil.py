"""Small XML helpers: safe parsing of what clients send, and terse tree building.

Incoming XML is parsed with entity resolution, network access and huge trees off, and any
DOCTYPE is refused outright: an internal subset can declare entities (billion laughs) and an
external one can reach the network or the file system. Nothing a NIPR client sends needs one.
"""

from __future__ import annotations

import re
from datetime import date

from lxml import etree

from resources.safe_xml import has_doctype, safe_parser

# The product's safe options (resources/safe_xml.py): the sandbox reads what clients send
# exactly as strictly as npnflow reads what NIPR sends.
_PARSER = safe_parser(remove_comments=True, remove_pis=True)
_LEADING_JUNK = re.compile(rb"^\s*(<!--.*?-->\s*)+(?=<\?xml)", re.S)


class UnsafeXmlError(ValueError):
    """The document declares a DOCTYPE (or entities): refused without parsing."""


def parse_untrusted(data: bytes) -> etree._Element:
    """Parse a client's XML safely; raises UnsafeXmlError or etree.XMLSyntaxError."""
    if has_doctype(data):
        raise UnsafeXmlError("DOCTYPE declarations are not accepted")
    # NIPR's own Postman samples put a comment before the XML declaration, which is not
    # well-formed; real clients copy them, so tolerate exactly that.
    data = _LEADING_JUNK.sub(b"", data, count=1)
    return etree.fromstring(data, parser=_PARSER)


def local(tag: object) -> str:
    """Local name of an element tag ('' for comments and processing instructions)."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def child_text(element: etree._Element | None, *path: str) -> str:
    """Text of the first descendant along `path` (local names, any namespace), or ''."""
    current = element
    for name in path:
        if current is None:
            return ""
        current = next((c for c in current if local(c.tag) == name), None)
    if current is None:
        return ""
    return (current.text or "").strip()


def sub(parent: etree._Element, tag: str, text: object = None, **attrib: str) -> etree._Element:
    """Append a child element; `text` None leaves it empty (rendered <tag/>)."""
    element = etree.SubElement(parent, tag, attrib)
    if text is not None:
        element.text = str(text)
    return element


def mdy(value: date | None) -> str:
    """NIPR Entity Info date format, MM/DD/YYYY ('' for none)."""
    return value.strftime("%m/%d/%Y") if value else ""


def ymd(value: date | None) -> str:
    """ACORD / Alerts date format, yyyy-mm-dd ('' for none)."""
    return value.isoformat() if value else ""


def to_bytes(root: etree._Element, declaration: bool = True) -> bytes:
    body: bytes = etree.tostring(root, encoding="UTF-8", xml_declaration=False)
    return (b'<?xml version="1.0" encoding="UTF-8"?>\n' + body) if declaration else body
