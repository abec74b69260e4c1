"""Shared streaming for both report shapes: opening the input, the iterparse loop, and freeing
what has been read, so memory does not grow with the report.

`lxml.etree.iterparse` runs with a tag filter, so Python only sees record-level elements; it
reports "start" events, not "end" ones (lxml's hook into libxml2 costs the same for either, per
element of the file), and a record is handed to its handler once a later element starts outside
it, or at the end of the document, so handlers see complete records in end-tag order all the
same (`stream_records`). Finished records are cleared and deleted from their parent
(`release`). Paths are handed to libxml2, which reads the file itself. The parser options are
`resources/safe_xml.py`'s, and a DOCTYPE is refused before and while parsing.

Separate from the readers of each shape, which only say what a record means.
"""

from __future__ import annotations

import gc
import io
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

from lxml import etree

from assets.nipr.parsing.report import NiprReportError
from assets.nipr.parsing.values import scrub
from resources.safe_xml import safe_iterparse

PEEK_BYTES = 64 * 1024  # enough to see an XML prolog (and so a DOCTYPE) or an MTOM boundary


class Prefixed:
    """A stream whose first bytes were already read (to sniff the format): replays them."""

    def __init__(self, prefix: bytes, raw: Any) -> None:
        self._prefix = prefix
        self._raw = raw

    def read(self, size: int = -1) -> bytes:
        if self._prefix:
            out = self._prefix if size is None or size < 0 else self._prefix[:size]
            self._prefix = self._prefix[len(out) :]
            return out
        data: bytes = self._raw.read(size)
        return data


@contextmanager
def open_source(source: Any) -> Iterator[BinaryIO]:
    if isinstance(source, bytes | bytearray | memoryview):
        yield io.BytesIO(bytes(source))
    elif isinstance(source, str | os.PathLike):
        try:
            handle = open(source, "rb")  # noqa: SIM115 - closed below, after the parse
        except OSError as exc:
            raise NiprReportError(
                f"cannot open the NIPR report file {os.fspath(source)!r}: {exc.strerror}"
            ) from exc
        with handle:
            yield handle
    elif hasattr(source, "read"):
        yield source
    else:
        raise TypeError(
            "parse_pdb_report expects a path, bytes or a binary file object, "
            f"not {type(source).__name__}"
        )


def read_prefix(stream: Any) -> bytes:
    prefix = stream.read(PEEK_BYTES)
    if isinstance(prefix, str):
        raise TypeError("parse_pdb_report needs a binary file object (open it with 'rb')")
    return prefix or b""


def refuse_doctype_in(prefix: bytes) -> None:
    # A DOCTYPE can only come before the root element, i.e. in the first bytes. NIPR never
    # sends one; refusing it outright rules out entity expansion and external entities.
    if b"<!DOCTYPE" in prefix or b"<!ENTITY" in prefix:
        raise NiprReportError(
            "the NIPR report carries a DOCTYPE declaration (entity definitions); NIPR reports "
            "never do, so it is refused without expanding or fetching anything"
        )


def stream_records(
    source: Any,
    prefix: bytes | None,
    handlers: dict[Any, Callable[[Any], None]],
    tags: list[Any],
) -> Any:
    """Feed one XML document to `handlers` (tag -> handler, `tags` their keys): a stream, or a
    file name whose first bytes (`prefix`) were already checked (libxml2 then reads the file
    itself, faster). Returns the root element's tag (None when there is none)."""
    if prefix is None:
        prefix = read_prefix(source)
        source = Prefixed(prefix, source)
    refuse_doctype_in(prefix)
    if not isinstance(source, str):
        source = Counting(source)  # to tell a truncated report from a corrupted one
    # "start" events, not "end" ones: lxml hooks a Python-aware callback into libxml2 for
    # every element of each event kind asked for, and the end hook costs as much as the
    # start one. An element has ended once a later element starts that is not inside it,
    # so the handlers still see each record complete, in the same (end) order: see below.
    # Safety (resources/safe_xml.py): never expand entities, never load a DTD, never
    # touch the network.
    context = safe_iterparse(
        source,
        events=("start",),
        tag=tags,
        remove_comments=True,
        remove_pis=True,
        remove_blank_text=True,
    )
    checked = False
    # The started elements not handled yet, outermost first. Each is an ancestor of the
    # next, so when an element starts, the pending ones that are not its ancestors have
    # ended, innermost first: they are handled then, in the order their end tags came.
    pending: list[Any] = []
    parent: Any = None
    ancestors: list[Any] = []  # the parent of the last element started, and its ancestors
    try:
        for _event, elem in context:
            if not checked:
                refuse_doctype(elem)
                checked = True
            if pending:
                if elem.getparent() is not parent:  # else a sibling: same ancestors
                    parent = elem.getparent()
                    ancestors = [parent, *parent.iterancestors()] if parent is not None else []
                while pending and pending[-1] not in ancestors:
                    ended = pending.pop()
                    handlers[ended.tag](ended)
            pending.append(elem)
    except etree.XMLSyntaxError as exc:
        shape = source.shape() if isinstance(source, Counting) else file_shape(source)
        raise NiprReportError(syntax_message(exc, shape)) from None
    while pending:  # the document is complete: everything still pending has ended
        ended = pending.pop()
        handlers[ended.tag](ended)
    root = context.root
    if root is not None and not checked:
        refuse_doctype(root)
    return root.tag if root is not None else None


def refuse_doctype(elem: Any) -> None:
    info = elem.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise NiprReportError(
            "the NIPR report carries a DOCTYPE declaration; NIPR reports never do, so it is "
            "refused without expanding or fetching anything"
        )


def release(elem: Any) -> None:
    """Free a finished element and everything before it at its level (constant memory)."""
    elem.clear(keep_tail=True)
    parent = elem.getparent()
    if parent is not None:
        while elem.getprevious() is not None:
            del parent[0]


def syntax_message(exc: etree.XMLSyntaxError, shape: tuple[int, int] | None) -> str:
    message = exc.msg or str(exc)
    if "no element found" in message or "Document is empty" in message:
        return "the NIPR report is empty: there is no XML in it"
    if "Premature end of data" in message or _at_end(exc, shape):
        hint = "the report is truncated (it ends in the middle of the XML)"
    else:
        hint = "the report is not well-formed XML"
    where = f" at line {exc.lineno}" if exc.lineno else ""
    return scrub(f"{hint}{where}: {message}")


def _at_end(exc: etree.XMLSyntaxError, shape: tuple[int, int] | None) -> bool:
    """Did libxml2 stop at the very end of the input (so the input was cut short)?"""
    if shape is None or not exc.position:
        return False
    lines, last_line_length = shape
    line, column = exc.position
    return bool(line == lines and column >= last_line_length)  # libxml2 columns start at 1


class Counting:
    """Passes reads through, keeping the input's line count and last line's length."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self._lines = 1
        self._last = 0

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._raw.read(size)
        if data:
            newlines = data.count(b"\n")
            if newlines:
                self._lines += newlines
                self._last = len(data) - data.rfind(b"\n") - 1
            else:
                self._last += len(data)
        return data

    def shape(self) -> tuple[int, int]:
        return self._lines, self._last


def file_shape(path: str) -> tuple[int, int] | None:
    """`Counting.shape` for a file libxml2 read by itself (only on the error path)."""
    counter = Counting(None)
    try:
        with open(path, "rb") as handle:
            counter._raw = handle
            while counter.read(1 << 20):
                pass
    except OSError:
        return None
    return counter.shape()


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the parse. The parse allocates hundreds of
    thousands of objects that all live to its end (rows, codes, dates) and makes no reference
    cycles worth collecting; each automatic collection would only walk them again (and the
    whole interpreter heap, pandas included, now and then): some 5% of the parse time."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
