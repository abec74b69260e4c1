"""Safe XML parsing for everything NIPR (or a NIPR client) sends: the one set of parser options.

Entity resolution, DTD loading, DTD validation, network access and huge trees are off, for
tree parsing (`safe_parser`, `parse_xml_bytes`) and streaming (`safe_iterparse`) alike. NIPR's
documents never carry a DOCTYPE, and an internal subset can declare entities ("billion
laughs") while an external one can reach the file system or the network, so callers refuse
any document for which `has_doctype` is true before parsing it, each with its own error type
(the SOAP client, the Gateway reply reader, the report parser and the sandbox word their
refusals for their own readers).

Separate from the protocol modules because every one of them needs exactly these options, and
five hand-written copies drift.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

__all__ = [
    "SAFE_PARSER_OPTIONS",
    "has_doctype",
    "parse_xml_bytes",
    "safe_iterparse",
    "safe_parser",
]

SAFE_PARSER_OPTIONS: dict[str, bool] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
}
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)


def has_doctype(data: bytes) -> bool:
    """True when `data` declares a DOCTYPE anywhere (callers refuse such a document)."""
    return _DOCTYPE.search(data) is not None


def safe_parser(**extra: Any) -> etree.XMLParser:
    """An lxml parser with the safe options, plus `extra` ones (remove_comments, target, ...)."""
    return etree.XMLParser(**SAFE_PARSER_OPTIONS, **extra)


def parse_xml_bytes(data: bytes, parser: etree.XMLParser | None = None) -> etree._Element:
    """Parse `data` with `parser` (a fresh safe parser when None); lxml's errors pass through.

    The DOCTYPE refusal is the caller's (see the module docstring)."""
    return etree.fromstring(data, parser=parser if parser is not None else safe_parser())


def safe_iterparse(source: Any, **options: Any) -> etree.iterparse:
    """`lxml.etree.iterparse` over `source` with the safe options plus `options` (events, tag,
    remove_blank_text, ...)."""
    return etree.iterparse(source, **SAFE_PARSER_OPTIONS, **options)
