"""NIPR replies the sandbox never gives, from a canned HTTP server on loopback: error text that
echoes the caller's credentials in any form (as typed, URL-encoded, Base64 as HTTP Basic sends
them), and gzip bombs (a couple of megabytes on the wire, gigabytes once inflated). Whatever a
person can read is scrubbed; a reply too large is refused in bounded memory, never a
MemoryError."""

from __future__ import annotations

import base64
import io
import tracemalloc
from collections.abc import Iterator
from datetime import date
from urllib.parse import quote, quote_plus
from xml.sax.saxutils import escape

import pytest

from resources.nipr import NiprCallFailed, NiprClient, NiprFault
from resources.nipr_gateway import GatewayReplyUnreadable, NiprGateway
from support.canned_http import CannedServer, canned_http_server, gzip_bomb

USERNAME = "npnflow-user-q7x"
PASSWORD = "pa55:W&q9/not-for-logs"
BASIC = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
EVERY_FORM = (
    USERNAME,
    PASSWORD,
    BASIC,
    BASIC.rstrip("="),
    base64.b64encode(PASSWORD.encode()).decode(),
    base64.urlsafe_b64encode(PASSWORD.encode()).decode(),
    quote(PASSWORD, safe=""),
    quote_plus(PASSWORD),
)
TWO_GIB = 2 * 1024**3
# Far below the 2 GiB a bomb inflates to, far above what a bounded read holds (a 32 MiB body
# plus a chunk, a bytearray's spare room and the test's own bookkeeping).
BOUNDED = 96 * 1024**2


@pytest.fixture
def server() -> Iterator[CannedServer]:
    with canned_http_server() as canned:
        yield canned


def _client(server: CannedServer, **settings: object) -> NiprClient:
    return NiprClient(
        pdb_base_url=server.url,
        alerts_base_url=server.url,
        gateway_base_url=server.url,
        username=USERNAME,
        password=PASSWORD,
        read_retries=2,
        backoff_seconds=0.01,
        **settings,
    )


def _gateway(server: CannedServer) -> NiprGateway:
    return NiprGateway(base_url=server.url, username=USERNAME, password=PASSWORD)


def _echo(headers: dict[str, str]) -> str:
    """What a careless server might say back: the credentials in every form it has them,
    escaped for the XML it goes into."""
    return escape(
        f"Unauthorized request (Authorization: {headers['authorization']}; user {USERNAME}, "
        f"password {PASSWORD}, as a form {quote_plus(PASSWORD)}, in a URL {quote(PASSWORD)}, "
        f"Base64 {base64.b64encode(PASSWORD.encode()).decode()})"
    )


def _assert_scrubbed(text: str) -> None:
    for form in EVERY_FORM:
        assert form not in text, form
    assert "Authorization: Basic ***" in text


# ====================================================================== credentials echoed
def test_a_soap_fault_echoing_the_credentials_in_every_form_shows_none_of_them(server) -> None:
    def fault(headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        body = (
            '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
            "<soap:Fault><faultcode>soap:Client</faultcode>"
            f"<faultstring>GenericFault: {_echo(headers)}</faultstring>"
            "</soap:Fault></soap:Body></soap:Envelope>"
        )
        return 500, {"Content-Type": "text/xml; charset=UTF-8"}, body.encode()

    server.answer = fault
    client = _client(server)

    with pytest.raises(NiprFault) as caught:
        client.list_subscriptions()

    assert server.requests[0]["authorization"] == f"Basic {BASIC}"  # what was echoed
    _assert_scrubbed(str(caught.value))
    _assert_scrubbed(caught.value.message)
    client.close()


def test_gateway_messages_echoing_the_credentials_are_scrubbed_before_they_are_stored(
    server,
) -> None:
    def errors(headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        body = (
            "<NIPR>"
            "<ERROR><ERROR_CODE>3005</ERROR_CODE><DESCRIPTION>Cust Batch: B1; Cust Trans T1 "
            f"refused: {_echo(headers)}</DESCRIPTION></ERROR>"
            f"<ERROR><ERROR_CODE>3001</ERROR_CODE><DESCRIPTION>{_echo(headers)}</DESCRIPTION>"
            "</ERROR></NIPR>"
        )
        return 200, {"Content-Type": "text/xml"}, body.encode()

    server.answer = errors
    gateway = _gateway(server)

    reply = gateway.poll([("B1", "T1")])

    # The transaction's message is what `transactions.nipr_message` stores and the UI shows.
    message = reply.outcomes[("B1", "T1")].nipr_message or ""
    assert message.startswith("Cust Batch: B1; Cust Trans T1 refused: Unauthorized request")
    _assert_scrubbed(message)
    _assert_scrubbed(reply.describe_request_errors())
    gateway.close()


# ====================================================================== gzip bombs
def _bomb(content_type: str = "text/xml") -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": content_type, "Content-Encoding": "gzip"}, BOMB


BOMB = gzip_bomb(TWO_GIB)


def _peak_memory(call) -> tuple[BaseException, int]:
    """The exception `call` raises and the most Python memory it held at once."""
    tracemalloc.start()
    try:
        with pytest.raises(Exception) as caught:
            call()
        return caught.value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_gzip_bomb_for_entity_info_is_refused_in_bounded_memory_and_not_retried(
    server,
) -> None:
    assert len(BOMB) < 3 * 1024**2  # what travels; 2 GiB once inflated
    server.answer = lambda headers: _bomb()
    client = _client(server)

    error, peak = _peak_memory(lambda: client.fetch_entity_info("1234567"))

    assert isinstance(error, NiprCallFailed)
    assert str(error) == (
        "Entity Info for NPN 1234567: the reply is larger than 33,554,432 bytes once "
        f"decompressed, from {server.url}/pdb-xml-reports/entityinfo_xml.cgi; refused unread"
    )
    assert peak < BOUNDED
    assert len(server.requests) == 1  # a bomb is not worth a second try
    client.close()


def test_a_gzip_bomb_for_a_soap_call_is_a_call_failure_not_a_memory_error(server) -> None:
    server.answer = lambda headers: _bomb("text/xml; charset=UTF-8")
    client = _client(server)

    error, peak = _peak_memory(client.list_subscriptions)

    assert isinstance(error, NiprCallFailed)
    assert "larger than 33,554,432 bytes once decompressed" in str(error)
    assert peak < BOUNDED
    client.close()


def test_a_gzip_bomb_from_the_gateway_is_an_unreadable_reply_outcome_unknown(server) -> None:
    server.answer = lambda headers: _bomb()
    gateway = _gateway(server)

    error, peak = _peak_memory(lambda: gateway.poll([("B1", "T1")]))

    assert isinstance(error, GatewayReplyUnreadable)  # NIPR may have acted: look up, not resend
    assert str(error) == (
        "Gateway poll of 1 transaction(s): the reply is larger than 33,554,432 bytes once "
        "decompressed; refused unread"
    )
    assert peak < BOUNDED
    gateway.close()


def test_an_alerts_report_past_its_limit_is_refused_and_the_sink_left_empty(server) -> None:
    boundary = "uuid:bomb"
    server.answer = lambda headers: _bomb(
        f'multipart/related; type="application/xop+xml"; boundary="{boundary}"; '
        'start="<root.message@cxf.apache.org>"; start-info="text/xml"'
    )
    client = _client(server, max_report_bytes=8 * 1024**2)
    sink = io.BytesIO()

    error, peak = _peak_memory(lambda: client.fetch_alerts_report_to(date(2025, 3, 27), sink))

    assert isinstance(error, NiprCallFailed)
    assert "larger than 8,388,608 bytes once decompressed" in str(error)
    assert sink.getvalue() == b""  # rewound: the bucket never keeps a part of it
    assert peak < BOUNDED
    assert len(server.requests) == 1
    client.close()
