"""A tiny HTTP server on loopback that answers every request with what the test set: for
replies the NIPR sandbox will not give (a fault echoing the caller's credentials, a gzip
bomb). It records each request's headers, so a test can echo them or count the calls."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# What the server answers, given the request's headers: (status, headers, body).
Reply = tuple[int, dict[str, str], bytes]
Answer = Callable[[dict[str, str]], Reply]


def _nothing_set(headers: dict[str, str]) -> Reply:
    return (404, {}, b"")


@dataclass
class CannedServer:
    url: str
    answer: Answer = _nothing_set  # each test sets its own
    requests: list[dict[str, str]] = field(default_factory=list)


@contextmanager
def canned_http_server() -> Iterator[CannedServer]:
    """A server on a free loopback port answering with `server.answer`; stopped on exit."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            canned.requests.append(headers)
            status, reply_headers, body = canned.answer(headers)
            self.send_response(status)
            for name, value in reply_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _serve

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: pytest shows what matters

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    canned = CannedServer(url=f"http://127.0.0.1:{httpd.server_address[1]}")
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield canned
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def gzip_bomb(inflated_bytes: int, member_bytes: int = 16 * 1024 * 1024) -> bytes:
    """A gzip body that inflates to `inflated_bytes` zero bytes, about a thousandth of that on
    the wire: one compressed member repeated (gzip allows members back to back, and urllib3
    inflates them all), so even gigabytes are built in milliseconds."""
    member = gzip.compress(bytes(member_bytes), compresslevel=9)
    return member * max(1, inflated_bytes // member_bytes)
