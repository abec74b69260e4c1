"""MTOM/XOP framing of NIPR's SOAP replies (multipart/related, RFC 2046): the one MTOM module.

A PDB Alerts reply is `multipart/related`: the first (root) part is the SOAP envelope, and a
report travels as a further part named from the envelope by `<xop:Include href="cid:..."/>`.
Content-IDs are compared by `normalise_content_id` everywhere (RFC 2392; NIPR adds stray spaces).

Two ways in over the same framing, because the two callers hold the bytes differently:

- `MultipartSplitter` (push: fed chunk by chunk, boundary from the Content-Type header): the
  NIPR client, which streams an HTTP body to a sink and checks each part as it goes by
  (`split_mtom` keeps every part of a small reply in memory: subscriptions, targets, faults).
  Strict: a reply that breaks the framing raises.
- `MultipartReader` (pull: `read(n)` over one part's body, boundary from the body's first
  line): the report parser, whose `lxml.etree.iterparse` reads a stored reply. The Content-Type
  header stays with the client, and NIPR's own sample replies (our fixtures) have lost their
  line breaks (headers run together: `...Content-Transfer-Encoding: binaryContent-ID:<root...>`,
  a Content-ID value on the line after its name), so its header scanner recognises headers by
  their `Name:` shape instead of by line structure.

Neither reads a whole part into memory unless asked to (`split_mtom`, `_PartBody.read()`).
Pure: no Dagster, no I/O beyond the stream it is given. Errors are `MtomError`, a
`SoapReplyError` (a `ValueError`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from typing import BinaryIO, Protocol
from urllib.parse import unquote

__all__ = [
    "MtomError",
    "MtomMessage",
    "MultipartReader",
    "MultipartSplitter",
    "BufferedPart",
    "PartSink",
    "SoapReplyError",
    "looks_like_multipart",
    "multipart_params",
    "normalise_content_id",
    "normalize_content_id",
    "split_mtom",
]

# A part's headers are a few hundred bytes; a cap keeps a malformed reply from being buffered
# whole while we look for the end of "headers".
_MAX_PART_HEADER_BYTES = 16 * 1024


class SoapReplyError(ValueError):
    """A reply that is not the SOAP/MTOM NIPR sends: broken framing, bad XML, missing parts."""


class MtomError(SoapReplyError):
    """The multipart framing is not what a PDB Alerts MTOM reply looks like."""


def normalise_content_id(value: str) -> str:
    """'<a@b>', 'cid:a@b', 'cid:a%40b' and '<a @b>' name the same part (RFC 2392; NIPR adds
    stray spaces). Compared case-insensitively."""
    value = value.strip()
    if value[:4].lower() == "cid:":
        value = unquote(value[4:])
    return "".join(value.split()).strip("<>").lower()


normalize_content_id = normalise_content_id  # the parser's spelling, kept for its readers


# ====================================================================== push: the client
def multipart_params(content_type: str) -> tuple[str, str] | None:
    """(boundary, start Content-ID) of a multipart Content-Type, None when it is not one."""
    header = Message()
    header["Content-Type"] = content_type
    if header.get_content_maintype() != "multipart":
        return None
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise MtomError("the multipart reply names no boundary")
    start = header.get_param("start")
    return boundary, normalise_content_id(start if isinstance(start, str) else "")


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
            raise MtomError(f"bad multipart part header line {line[:80]!r}")
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
            raise MtomError(
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
                        raise MtomError("a multipart delimiter line does not end")
                    return
                if bytes(buffer[:end]).strip(b" \t"):  # only transport padding may follow
                    raise MtomError("a multipart delimiter is followed by stray bytes")
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
                            raise MtomError("a multipart part's headers do not end")
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


class BufferedPart:
    def __init__(self, limit: int | None = None) -> None:
        self.data = bytearray()
        self._limit = limit

    def write(self, data: bytes) -> None:
        self.data += data
        if self._limit is not None and len(self.data) > self._limit:
            raise MtomError(f"the SOAP envelope part is larger than {self._limit} bytes")


@dataclass
class MtomMessage:
    root: bytes  # the SOAP envelope (the `start` part, else the first)
    parts: dict[str, bytes]  # every part with a Content-ID, by normalised Content-ID
    ordered: list[bytes] = field(default_factory=list)

    def resolve(self, href: str) -> bytes:
        try:
            return self.parts[normalise_content_id(href)]
        except KeyError:
            raise MtomError(f"the reply has no part {href}") from None


def split_mtom(body: bytes, content_type: str) -> MtomMessage:
    """Split a small multipart/related reply in memory (subscriptions, targets, faults)."""
    params = multipart_params(content_type)
    if params is None:
        raise MtomError(f"not a multipart reply ({content_type or 'no Content-Type'})")
    boundary, start = params
    collected: list[tuple[str, BufferedPart]] = []

    def on_part(headers: dict[str, str]) -> BufferedPart:
        sink = BufferedPart()
        collected.append((normalise_content_id(headers.get("content-id", "")), sink))
        return sink

    splitter = MultipartSplitter(boundary, on_part)
    splitter.feed(body)
    splitter.close()
    if not collected:
        raise MtomError("the multipart reply has no parts")
    parts = {cid: bytes(sink.data) for cid, sink in collected if cid}
    root = parts.get(start) if start else None
    return MtomMessage(
        root if root is not None else bytes(collected[0][1].data),
        parts,
        [bytes(sink.data) for _, sink in collected],
    )


# ====================================================================== pull: the parser
_CHUNK = 64 * 1024
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


def looks_like_multipart(prefix: bytes) -> bool:
    """True when the first bytes are a MIME delimiter line (an MTOM body), not XML."""
    return prefix.lstrip()[:2] == b"--"


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
        self._fill(_MAX_PART_HEADER_BYTES)
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
        self._fill(self._delimiter_len + _MAX_PART_HEADER_BYTES)
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
        limit = min(len(buf), pos + _MAX_PART_HEADER_BYTES)
        full_window = limit - pos >= _MAX_PART_HEADER_BYTES
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
