"""Streaming reader for the multipart MTOM/XOP replies of the PDB Alerts SOAP service.

A `receiveSpecificReport` reply is a `multipart/related` body: the first (root) part is the
SOAP envelope, whose `<xop:Include href="cid:...">` points at another part that holds the
`LicensingReportProcessResult` report itself. Reports run to tens of megabytes, so nothing here
reads a whole part into memory: `MultipartReader` walks the parts in order and hands out each
part's body as a file-like object (`read(n)`) that stops at the next boundary, which is what
`lxml.etree.iterparse` consumes.

Leniency, and why. We only ever see the body of the HTTP reply (the `Content-Type` header with
the boundary stays with the client), so the boundary is taken from the first delimiter line.
NIPR's own sample replies (our fixtures) have lost their line breaks: headers run together
(`...Content-Transfer-Encoding: binaryContent-ID:<root.message @cxf.apache.org><soap:Envelope`),
a `Content-ID` value may sit on the line after its name, and Content-IDs carry stray spaces.
The header scanner therefore recognises headers by their `Name:` shape instead of by line
structure, and Content-IDs are compared with whitespace removed.

Pure: no Dagster, no I/O beyond the stream it is given.
"""

from __future__ import annotations

import re
from typing import BinaryIO
from urllib.parse import unquote

__all__ = ["MtomError", "MultipartReader", "looks_like_multipart", "normalize_content_id"]

_CHUNK = 64 * 1024
# A part's headers are a few hundred bytes; a cap keeps a malformed reply from being buffered
# whole while we look for the end of "headers".
_MAX_HEADER_BYTES = 16 * 1024

# The boundary runs to the first whitespace, or (line breaks lost) to the first header name.
_BOUNDARY = re.compile(rb"\A\s*--(\S+?)(?=\s|(?i:content-)|\Z)")
# The closing delimiter: "--" boundary "--" at the very end (RFC 2046 boundary characters).
_CLOSING = re.compile(rb"--([0-9A-Za-z'()+_,./:=?-]{1,70}?)--[ \t\r\n]*\Z")
_HEADER_NAME = re.compile(rb"\s*([A-Za-z][A-Za-z0-9-]*)[ \t]*:")
# A Content-ID is "<...>", possibly on the next line (never after a blank line, which would
# already be the body). Quotes or '=' mean we are looking at an XML start tag, not an id.
_CONTENT_ID_VALUE = re.compile(rb"[ \t]*(?:\r?\n(?![ \t]*\r?\n))?[ \t]*(<[^<>\"']*>)")
# Other header values end at the line break, or where the next glued-on header begins.
_HEADER_VALUE = re.compile(rb"[ \t]*([^\r\n<]*?)(?=\r?\n|(?i:content-)|<|\Z)")
_FOLDED_LINE = re.compile(rb"\r?\n[ \t]+([^\s<][^\r\n]*)")


class MtomError(ValueError):
    """The multipart reply is not what a PDB Alerts MTOM reply looks like."""


def looks_like_multipart(prefix: bytes) -> bool:
    """True when the first bytes are a MIME delimiter line (an MTOM body), not XML."""
    return prefix.lstrip()[:2] == b"--"


def normalize_content_id(value: str) -> str:
    """Comparable form of a Content-ID header value or a `cid:` URL (RFC 2392)."""
    value = value.strip()
    if value[:4].lower() == "cid:":
        value = unquote(value[4:])
    value = "".join(value.split())  # stray spaces seen in NIPR's samples
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1]
    return value.lower()


class MultipartReader:
    """Walks the parts of a multipart body read from `raw`, one chunk at a time.

    Usage: `headers = reader.next_part()` (None after the last part), then either
    `reader.body()` (a file-like object for this part) or just `next_part()` again, which skips
    whatever of the current body is left unread.
    """

    def __init__(self, raw: BinaryIO, prefix: bytes = b"") -> None:
        self._raw = raw
        self._buf = bytearray(prefix)
        self._pos = 0  # start of unread data in _buf (compacted as it grows)
        self._eof = False
        self._in_body = False
        self._fill(_MAX_HEADER_BYTES)
        match = _BOUNDARY.match(self._buf)
        if not match:
            raise MtomError("the MTOM reply does not start with a MIME boundary line ('--...')")
        self.boundary = bytes(match.group(1))
        # NIPR's deletions sample opens with one boundary and separates its parts with another
        # (a hand edit); the boundary of the closing delimiter, read from the end of a seekable
        # input, is accepted as well. A consistent reply has just one.
        closing = _closing_boundary(raw)
        boundaries = {self.boundary} | ({closing} if closing else set())
        self._delimiters = tuple(sorted(b"--" + b for b in boundaries))
        self._keep_back = max(len(d) for d in self._delimiters) - 1
        self._pos = match.start(1) - 2  # at the first delimiter
        self._delimiter_len = len(self.boundary) + 2
        self._at_delimiter = True

    # -- buffer -------------------------------------------------------------------------------

    def _available(self) -> int:
        return len(self._buf) - self._pos

    def _fill(self, wanted: int) -> None:
        """Read until `wanted` unread bytes are buffered or the stream ends."""
        if self._pos > _CHUNK and self._pos > len(self._buf) // 2:
            del self._buf[: self._pos]
            self._pos = 0
        while not self._eof and self._available() < wanted:
            chunk = self._raw.read(max(_CHUNK, wanted - self._available()))
            if not chunk:
                self._eof = True
            else:
                self._buf += chunk

    # -- parts --------------------------------------------------------------------------------

    def next_part(self) -> dict[str, str] | None:
        """Move to the next part and return its headers (lower-cased names), or None at the end."""
        if self._in_body:
            self._skip_body()
        if not self._at_delimiter:
            return None
        self._fill(self._delimiter_len + _MAX_HEADER_BYTES)
        start = self._pos + self._delimiter_len
        if self._buf[start : start + 2] == b"--" or self._available() <= self._delimiter_len:
            self._at_delimiter = False  # close delimiter (or nothing after it): no more parts
            return None
        headers, body_start = self._parse_headers(start)
        self._pos = body_start
        self._in_body = True
        self._at_delimiter = False
        return headers

    def _parse_headers(self, pos: int) -> tuple[dict[str, str], int]:
        buf = self._buf
        limit = min(len(buf), pos + _MAX_HEADER_BYTES)
        full_window = limit - pos >= _MAX_HEADER_BYTES
        headers: dict[str, str] = {}
        while True:
            match = _HEADER_NAME.match(buf, pos, limit)
            if not match:
                break
            name = match.group(1).decode("ascii").lower()
            pos = match.end()
            if name == "content-id":
                value_match = _CONTENT_ID_VALUE.match(buf, pos, limit)
            else:
                value_match = _HEADER_VALUE.match(buf, pos, limit)
            value = b""
            if value_match:
                value = bytes(value_match.group(1))
                pos = value_match.end()
                while folded := _FOLDED_LINE.match(buf, pos, limit):  # RFC 5322 folding
                    value += b" " + folded.group(1)
                    pos = folded.end()
            headers[name] = value.decode("latin-1").strip()
        if pos >= limit and full_window:
            raise MtomError("an MTOM part's headers never end (no part body found)")
        while pos < len(buf) and buf[pos] in b" \t\r\n":
            pos += 1
        return headers, pos

    def _skip_body(self) -> None:
        while self.read_body(_CHUNK):
            pass

    def body(self) -> _PartBody:
        """A file-like view of the current part's body (call after `next_part`)."""
        if not self._in_body:
            raise MtomError("no MTOM part is open")
        return _PartBody(self)

    def read_body(self, size: int) -> bytes:
        """Up to `size` bytes of the current part's body; b"" at its end."""
        if not self._in_body:
            return b""
        if size is None or size < 0:
            size = _CHUNK
        keep_back = self._keep_back
        self._fill(size + keep_back + 1)
        buf, pos = self._buf, self._pos
        window_end = pos + size + keep_back + 1
        found, found_len = -1, 0
        for delimiter in self._delimiters:
            at = buf.find(delimiter, pos, window_end)
            if at >= 0 and (found < 0 or at < found):
                found, found_len = at, len(delimiter)
        if found >= 0 and found - pos <= size:
            out = bytes(buf[pos:found])
            self._pos = found
            self._delimiter_len = found_len
            self._in_body = False
            self._at_delimiter = True
            return out
        if self._eof:
            # The closing boundary is missing: the reply was cut off. Hand over what there is;
            # a truncated XML part then fails to parse with a message that says so.
            take = min(size, self._available())
            if take == 0:
                self._in_body = False
        else:
            # Keep back enough bytes to recognise a delimiter split across two chunks.
            take = min(size, self._available() - keep_back)
        out = bytes(buf[pos : pos + take])
        self._pos = pos + take
        return out


def _closing_boundary(raw: BinaryIO) -> bytes | None:
    """The boundary of the closing delimiter ("--boundary--" at the very end), if seekable."""
    try:
        if not raw.seekable():
            return None
        here = raw.tell()
        end = raw.seek(0, 2)
        raw.seek(max(0, end - 512))
        tail = raw.read()
        raw.seek(here)
    except (AttributeError, OSError, ValueError):
        return None
    match = _CLOSING.search(tail or b"")
    return bytes(match.group(1)) if match else None


class _PartBody:
    """File-like object over one part's body, for `lxml.etree.iterparse`."""

    def __init__(self, reader: MultipartReader) -> None:
        self._reader = reader

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            chunks = []
            while chunk := self._reader.read_body(_CHUNK):
                chunks.append(chunk)
            return b"".join(chunks)
        return self._reader.read_body(size)
