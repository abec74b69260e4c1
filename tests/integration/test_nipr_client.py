"""The NIPR client resource against the NIPR sandbox over real HTTP on loopback: Entity Info,
PDB Alerts subscriptions, targets and reports, NIPR's faults, injected transport faults and
the retry policy, and credentials kept out of everything a person might read."""

from __future__ import annotations

import io
import logging
import traceback
from collections.abc import Iterator
from datetime import date, datetime

import pytest
from lxml import etree

from npnflow.sandbox.mtom import split_mtom
from npnflow.sandbox.server import NiprSandbox
from resources.nipr import (
    AlertsReportReply,
    InvalidTarget,
    NiprAuthFailed,
    NiprCallFailed,
    NiprClient,
    NiprFault,
    ReportNotReady,
)
from support.sandbox import client_settings, sandbox_fixture

pytestmark = pytest.mark.sandbox

TODAY = datetime(2025, 3, 28, 12, 0)  # a Friday, after the sandbox's 10:00 publish hour
RUN_DAY = date(2025, 3, 27)  # a Thursday: an alerts run with changes
SUNDAY = date(2025, 3, 23)  # no alerts run on Sundays: fault 22
TOO_OLD = date(2025, 3, 10)  # more than 14 days back: fault 20
USERNAME = "npnflow-user-q7x"
PASSWORD = "pa55-Wq9-not-for-logs"
ACORD = "http://www.acord.org/schema/data/draft/ReusableDataComponents/1"
SAFE = etree.XMLParser(resolve_entities=False, no_network=True)


server = sandbox_fixture(seed=21, producers=150, today=TODAY, username=USERNAME, password=PASSWORD)


@pytest.fixture
def sandbox(server: NiprSandbox) -> NiprSandbox:
    """The module's server with subscriptions, faults and clock reset."""
    server.reset()
    server.set_clock(TODAY)
    return server


def make_client(sandbox: NiprSandbox, **overrides: object) -> NiprClient:
    settings: dict[str, object] = {
        **client_settings(sandbox),  # the sandbox's user: USERNAME, PASSWORD
        "timeout_seconds": 5.0,
        "connect_timeout_seconds": 2.0,
        "read_retries": 2,
        "backoff_seconds": 0.01,
    }
    settings.update(overrides)
    return NiprClient(**settings)


@pytest.fixture
def client(sandbox: NiprSandbox) -> Iterator[NiprClient]:
    nipr = make_client(sandbox)
    yield nipr
    nipr.close()


def assert_no_secrets(error: BaseException, *secrets: str) -> None:
    """Neither the message, nor the repr, nor the printed traceback carries a credential."""
    text = "".join(traceback.format_exception(error)) + repr(error) + str(error)
    for secret in (USERNAME, PASSWORD, *secrets):
        assert secret not in text


def report_root(reply: AlertsReportReply) -> etree._Element:
    """The report the MTOM body points at, read with the sandbox's own multipart code."""
    message = split_mtom(reply.content, reply.content_type)
    (href,) = message.xop_includes()
    return etree.fromstring(message.resolve(href), parser=SAFE)


def subscribe(client: NiprClient, sandbox: NiprSandbox, name: str = "S1") -> None:
    client.add_subscription(name, "ops@example.com")
    client.add_targets(name, sandbox.world.npns)


# ====================================================================== credentials
def test_repr_and_str_of_the_client_leave_the_credentials_out(client):
    for text in (repr(client), str(client)):
        assert USERNAME not in text and PASSWORD not in text
    assert "alerts_base_url" in repr(client)  # the rest is still there to debug with


def test_a_wrong_password_is_a_clear_auth_error_without_secrets(sandbox):
    wrong = make_client(sandbox, password="wrong-Pa55-xyz")
    calls = [
        lambda: wrong.fetch_entity_info(sandbox.world.npns[0]),
        wrong.list_subscriptions,
        lambda: wrong.fetch_alerts_report(RUN_DAY),
    ]
    for call in calls:
        with pytest.raises(NiprAuthFailed, match="refused the credentials \\(HTTP 401") as caught:
            call()
        assert "after" not in str(caught.value)  # not retried
        assert_no_secrets(caught.value, "wrong-Pa55-xyz")
    wrong.close()


def test_retry_warnings_in_the_log_carry_no_secrets(client, sandbox, caplog):
    sandbox.add_fault(target="alerts", kind="http_503", count=2)
    with caplog.at_level(logging.WARNING, logger="resources.nipr"):
        client.list_subscriptions()
    assert len(caplog.records) == 2
    assert "retry 1 of 2" in caplog.records[0].getMessage()
    for record in caplog.records:
        assert USERNAME not in record.getMessage() and PASSWORD not in record.getMessage()


# ====================================================================== Entity Info
def test_entity_info_for_a_known_npn(client, sandbox):
    npn = sandbox.world.individual_npns()[3]
    root = etree.fromstring(client.fetch_entity_info(npn), parser=SAFE)
    assert root.tag == "PDB"
    assert root.findtext("PRODUCER/INDIVIDUAL/ENTITY_BIOGRAPHIC/BIOGRAPHIC/NPN") == npn


def test_entity_info_for_an_unknown_npn_is_nipr_error_document(client):
    root = etree.fromstring(client.fetch_entity_info("99999999"), parser=SAFE)
    assert root.findtext("TRANSACTION_TYPE/TYPE") == "ERROR"
    assert "99999999" in root.findtext("ERROR/DESCRIPTION")


def test_entity_info_retries_5xx_then_succeeds(client, sandbox):
    sandbox.add_fault(target="entityinfo", kind="http_500", count=2)
    npn = sandbox.world.npns[0]
    assert etree.fromstring(client.fetch_entity_info(npn), parser=SAFE).tag == "PDB"
    assert sandbox.faults.pending() == []


def test_entity_info_gives_up_after_its_retries(client, sandbox):
    sandbox.add_fault(target="entityinfo", kind="http_503", count=5)
    npn = sandbox.world.npns[0]
    with pytest.raises(NiprCallFailed, match=f"Entity Info for NPN {npn}: HTTP 503") as caught:
        client.fetch_entity_info(npn)
    assert "after 3 attempts" in str(caught.value)
    assert sandbox.faults.pending()[0]["count"] == 2  # 1 try + read_retries=2
    assert_no_secrets(caught.value)


def test_entity_info_timeout_is_retried_then_reported(sandbox):
    short = make_client(sandbox, timeout_seconds=0.2)
    sandbox.add_fault(target="entityinfo", kind="timeout", delay_seconds=0.5, count=3)
    with pytest.raises(NiprCallFailed, match="within the timeout") as caught:
        short.fetch_entity_info(sandbox.world.npns[0])
    assert "after 3 attempts" in str(caught.value)
    assert sandbox.faults.pending() == []
    assert_no_secrets(caught.value)
    short.close()


def test_malformed_entity_info_is_a_call_failure_not_an_lxml_error(client, sandbox):
    sandbox.add_fault(target="entityinfo", kind="malformed_xml", count=2)
    with pytest.raises(NiprCallFailed, match="Entity Info for NPN .*not well-formed") as caught:
        client.fetch_entity_info(sandbox.world.npns[0])
    assert not isinstance(caught.value, etree.XMLSyntaxError)
    assert sandbox.faults.pending()[0]["count"] == 1  # not retried
    assert_no_secrets(caught.value)


# ====================================================================== subscriptions, targets
def test_subscriptions_are_added_and_listed(client):
    assert client.list_subscriptions() == []
    client.add_subscription("S1", "ops@example.com")
    client.add_subscription(
        "S2", "ops@example.com", ("LICENSING",), all_states=False, states=["GA"]
    )
    assert client.list_subscriptions() == ["S1", "S2"]
    with pytest.raises(NiprFault, match="addSubscription 'S1': NIPR fault 12") as caught:
        client.add_subscription("S1", "ops@example.com")
    assert (caught.value.code, caught.value.name) == (12, "SUBSCRIPTION_NAME_NOT_UNIQUE")
    assert_no_secrets(caught.value)


def test_add_subscription_is_not_retried(client, sandbox):
    sandbox.add_fault(target="alerts", kind="http_503", method="addSubscription", count=2)
    with pytest.raises(NiprCallFailed, match="HTTP 503.*not retried") as caught:
        client.add_subscription("S1", "ops@example.com")
    assert sandbox.faults.pending()[0]["count"] == 1
    assert client.list_subscriptions() == []
    assert_no_secrets(caught.value)


def test_targets_are_added_listed_and_removed_with_invalid_inputs_reported(client, sandbox):
    client.add_subscription("S1", "ops@example.com")
    npns = sandbox.world.individual_npns()[:4]
    added = client.add_targets("S1", [*npns, "1234567", "12ab", npns[0]])
    assert added.valid == tuple(npns)
    assert added.invalid == (
        InvalidTarget("1234567", "Entity was not found"),
        InvalidTarget("12ab", "Invalid format"),
    )
    assert client.list_targets("S1") == npns
    removed = client.remove_targets("S1", [npns[0], npns[1], "1234567"])
    assert removed.valid == (npns[0], npns[1])
    assert removed.invalid == (InvalidTarget("1234567", "Entity was not found"),)
    assert client.list_targets("S1") == npns[2:]


def test_a_batch_of_only_invalid_npns_is_a_result_not_a_failure(client):
    client.add_subscription("S1", "ops@example.com")
    result = client.add_targets("S1", ["1234567", "7654321"])
    assert result.valid == ()
    assert [t.input for t in result.invalid] == ["1234567", "7654321"]
    assert all("valid insurance producer" in t.reason for t in result.invalid)


def test_large_target_lists_go_in_batches(sandbox, monkeypatch):
    small = make_client(sandbox, target_batch_size=40)
    small.add_subscription("S1", "ops@example.com")
    session = small._http()
    sent = session.post
    bodies: list[bytes] = []

    def counting_post(url, data=None, **kwargs):
        bodies.append(data)
        return sent(url, data=data, **kwargs)

    monkeypatch.setattr(session, "post", counting_post)
    npns = sandbox.world.npns[:100]
    result = small.add_targets("S1", npns)
    assert len(bodies) == 3 and [b.count(b"<ind:npnList>") for b in bodies] == [40, 40, 20]
    assert result.valid == tuple(npns) and result.invalid == ()
    assert small.list_targets("S1") == list(npns)
    small.close()


def test_add_targets_is_retried_when_the_reply_is_lost_after_nipr_applied_it(client, sandbox):
    client.add_subscription("S1", "ops@example.com")
    npns = sandbox.world.npns[:5]
    sandbox.add_fault(target="alerts", kind="http_500", method="addTargets", after_record=True)
    result = client.add_targets("S1", npns)
    assert result.valid == tuple(npns)  # the resend changed nothing and said so
    assert client.list_targets("S1") == list(npns)


def test_targets_of_an_unknown_subscription_is_a_fault(client):
    with pytest.raises(NiprFault, match="retrieveTargets for subscription 'nope'") as caught:
        client.list_targets("nope")
    assert caught.value.code == 14
    assert_no_secrets(caught.value)


def test_a_malformed_small_reply_is_a_call_failure(client, sandbox):
    client.add_subscription("S1", "ops@example.com")
    sandbox.add_fault(target="alerts", kind="malformed_xml", method="retrieveTargets")
    with pytest.raises(NiprCallFailed, match="retrieveTargets .*not well-formed") as caught:
        client.list_targets("S1")
    assert_no_secrets(caught.value)


# ====================================================================== reports
def test_a_ready_report_is_the_mtom_body_as_nipr_sent_it(client, sandbox):
    subscribe(client, sandbox)
    reply = client.fetch_alerts_report(RUN_DAY)
    assert reply.status == "ready" and reply.report_date == RUN_DAY
    assert reply.content_type.startswith("multipart/related;")
    assert reply.content.startswith(b"--uuid:")
    assert b"LicensingReportProcessResult" in reply.content
    root = report_root(reply)
    assert root.tag == f"{{{ACORD}}}LicensingReportProcessResult"
    reported = {
        e.text
        for e in root.iterfind(
            f"{{{ACORD}}}LicensingReport/*/{{{ACORD}}}ExternalIdentifier"
            f"[{{{ACORD}}}TypeCode='NAICProducerCode']/{{{ACORD}}}Id"
        )
    }
    assert reported == {c.npn for c in sandbox.world.changes_on(RUN_DAY)}


def test_a_report_for_one_subscription(client, sandbox):
    subscribe(client, sandbox, "S1")
    client.add_subscription("Empty", "ops@example.com")
    full = client.fetch_alerts_report(RUN_DAY, subscription="S1")
    assert full.status == "ready" and full.subscription == "S1"
    assert report_root(full).findall(f".//{{{ACORD}}}JurisdictionReport")
    empty = client.fetch_alerts_report(RUN_DAY, subscription="Empty")
    assert report_root(empty).findall(f".//{{{ACORD}}}JurisdictionReport") == []


def test_a_report_streams_into_a_sink_byte_for_byte(client, sandbox):
    subscribe(client, sandbox)
    in_memory = client.fetch_alerts_report(RUN_DAY)
    sink = io.BytesIO(b"kept:")
    sink.seek(0, io.SEEK_END)
    receipt = client.fetch_alerts_report_to(RUN_DAY, sink)
    assert receipt.status == "ready" and receipt.content_type == in_memory.content_type
    assert receipt.bytes_written == len(in_memory.content)
    assert sink.getvalue() == b"kept:" + in_memory.content


def test_fault_21_is_report_not_ready(client, sandbox):
    tomorrow = date(2025, 3, 29)
    with pytest.raises(
        ReportNotReady, match="2025-03-29: NIPR fault 21 RUN_NOT_FINISHED"
    ) as caught:
        client.fetch_alerts_report(tomorrow)
    assert caught.value.report_date == tomorrow
    assert isinstance(caught.value, NiprCallFailed) and not isinstance(caught.value, NiprFault)
    assert_no_secrets(caught.value)
    sandbox.set_clock(datetime(2025, 3, 28, 8, 0))  # today, before the run is published
    with pytest.raises(ReportNotReady):
        client.fetch_alerts_report(date(2025, 3, 28))


def test_fault_22_is_no_run_today(client):
    reply = client.fetch_alerts_report(SUNDAY)
    assert (reply.status, reply.content, reply.report_date) == ("no_run_today", b"", SUNDAY)
    sink = io.BytesIO()
    assert client.fetch_alerts_report_to(SUNDAY, sink).status == "no_run_today"
    assert sink.getvalue() == b""


def test_fault_20_is_a_nipr_fault_naming_the_call_and_the_day(client):
    with pytest.raises(NiprFault) as caught:
        client.fetch_alerts_report(TOO_OLD)
    message = str(caught.value)
    assert "receiveSpecificReport for 2025-03-10" in message and "INVALID_DATE" in message
    assert (caught.value.code, caught.value.name) == (20, "INVALID_DATE")
    assert_no_secrets(caught.value)


@pytest.mark.parametrize("kind", ["http_500", "http_503", "truncated"])
def test_transient_report_failures_are_retried(client, sandbox, kind):
    subscribe(client, sandbox)
    expected = client.fetch_alerts_report(RUN_DAY).content
    sandbox.add_fault(target="alerts", kind=kind, method="receiveSpecificReport", count=2)
    sink = io.BytesIO()
    assert client.fetch_alerts_report_to(RUN_DAY, sink).status == "ready"
    assert sandbox.faults.pending() == []
    assert sink.getvalue() == expected  # a cut-off attempt left nothing behind


def test_persistent_5xx_names_the_call_and_the_day(client, sandbox):
    sandbox.add_fault(target="alerts", kind="http_500", count=10)
    with pytest.raises(NiprCallFailed) as caught:
        client.fetch_alerts_report(RUN_DAY)
    message = str(caught.value)
    assert message.startswith("PDB Alerts receiveSpecificReport for 2025-03-27: HTTP 500")
    assert message.endswith("after 3 attempts")
    assert type(caught.value) is NiprCallFailed
    assert sandbox.faults.pending()[0]["count"] == 7
    assert_no_secrets(caught.value)


def test_a_report_timeout_is_retried_then_reported(sandbox):
    short = make_client(sandbox, timeout_seconds=0.2)
    sandbox.add_fault(target="alerts", kind="timeout", delay_seconds=0.5, count=3)
    with pytest.raises(NiprCallFailed, match="for 2025-03-27: no answer .* within the timeout"):
        short.fetch_alerts_report(RUN_DAY)
    assert sandbox.faults.pending() == []  # three attempts
    sandbox.add_fault(target="alerts", kind="timeout", delay_seconds=0.5, count=1)
    assert short.fetch_alerts_report(RUN_DAY).status == "ready"
    short.close()


def test_a_malformed_report_is_a_call_failure_and_leaves_the_sink_empty(client, sandbox):
    subscribe(client, sandbox)
    sandbox.add_fault(
        target="alerts", kind="malformed_xml", method="receiveSpecificReport", count=2
    )
    sink = io.BytesIO()
    with pytest.raises(NiprCallFailed, match="for 2025-03-27: the report part is not well-formed"):
        client.fetch_alerts_report_to(RUN_DAY, sink)
    assert sink.getvalue() == b""
    assert sandbox.faults.pending()[0]["count"] == 1  # not retried


class _WriteOnly:
    """A sink that cannot be rewound (a pipe, a socket, a hashing writer)."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> int:
        self.data += data
        return len(data)


def test_a_cut_report_into_a_sink_that_cannot_rewind_is_not_retried(client, sandbox, monkeypatch):
    subscribe(client, sandbox)
    monkeypatch.setattr("resources.nipr._CHUNK_BYTES", 1024)  # bytes reach the sink before the cut
    sandbox.add_fault(target="alerts", kind="truncated", method="receiveSpecificReport")
    sink = _WriteOnly()
    with pytest.raises(NiprCallFailed, match="cut off.*cannot be rewound") as caught:
        client.fetch_alerts_report_to(RUN_DAY, sink)  # type: ignore[arg-type]
    assert sink.data  # the partial body is the caller's to discard
    assert_no_secrets(caught.value)


def test_a_cut_before_any_byte_reached_the_sink_is_retried_even_without_rewind(client, sandbox):
    subscribe(client, sandbox)
    expected = client.fetch_alerts_report(RUN_DAY).content
    # The sandbox sends half of a ~40 KB reply: less than one 64 KB read, so nothing is written.
    sandbox.add_fault(target="alerts", kind="truncated", method="receiveSpecificReport")
    sink = _WriteOnly()
    assert client.fetch_alerts_report_to(RUN_DAY, sink).status == "ready"  # type: ignore[arg-type]
    assert bytes(sink.data) == expected
