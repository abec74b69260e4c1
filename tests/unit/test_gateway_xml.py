"""Gateway XML: requests laid out as the sandbox reads them, replies read into outcomes.

Replies come from the sandbox's Gateway service called in-process (no HTTP), so the parser is
tested against the same documents the integration tests see, plus hand-made edge cases.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from lxml import etree

from npnflow.sandbox.gateway import GatewayService
from npnflow.sandbox.generator import generate_world
from resources.nipr_gateway_xml import (
    GatewayTransaction,
    ReplyUnreadable,
    Submitter,
    build_poll,
    build_request,
    error_key,
    parse_reply,
)

NOW = dt.datetime(2026, 3, 6, 15, 4, 5, 678000, tzinfo=dt.UTC)
TODAY = dt.date(2026, 3, 6)
# The submitter of NIPR's sample request (tests/fixtures/nipr/gateway/realtime_request.xml).
SUBMITTER = Submitter(
    entity_id="83ENTITY",
    payment_account_id="001",
    payment_type="2",
    first_name="Joe",
    last_name="Submitter",
    title="Coordinator",
    phone_number="1234567890",
    address_line_1="100 MAIN",
    city="PORTLAND",
    state_code="OR",
    zip_code="972041093",
)


@pytest.fixture(scope="module")
def world():
    return generate_world(seed=3, producers=60, today=TODAY)


def service(world, intermediate: float = 0.0) -> GatewayService:
    return GatewayService(
        world,
        lambda: dt.datetime(2026, 3, 6, 12, 0),
        intermediate_fraction=intermediate,
        polls_to_resolve=2,
    )


def appointable(world, count: int) -> list[GatewayTransaction]:
    """Appointments the sandbox approves: an active resident line not yet appointed."""
    found = []
    for npn in world.individual_npns():
        producer = world.producer(npn)
        for lic in producer.licenses:
            if not (lic.is_active and lic.is_resident and lic.expiration_date >= TODAY):
                continue
            for loa in lic.loas:
                taken = any(
                    a.state == lic.state
                    and a.cocode == "99101"
                    and str(a.loa_code) == str(loa.code)
                    for a in producer.appointments
                    if a.is_appointed
                )
                if loa.is_active and not taken:
                    found.append(
                        GatewayTransaction(
                            idempotency_key=f"K-{len(found)}",
                            kind="appointment",
                            npn=npn,
                            state_code=lic.state,
                            cocode="99101",
                            loa_code=str(loa.code),
                            license_class_code=str(lic.class_code),
                            estimated_fee=Decimal("25"),
                            state_company_id="SC-1",
                            fein="00-0990101",
                        )
                    )
                    break
            if len(found) == count:
                return found
            break
    return found


def tx(key: str = "K-1", **changes) -> GatewayTransaction:
    values = dict(
        idempotency_key=key,
        kind="appointment",
        npn="12345678",
        state_code="ga",
        cocode="99101",
        loa_code="16",
        license_class_code="2",
        effective_date=dt.date(2026, 4, 1),
        estimated_fee=Decimal("12.5"),
        state_company_id="GA-77",
        fein="00-0990101",
    )
    values.update(changes)
    return GatewayTransaction(**values)


# ====================================================================== requests
def test_request_carries_every_field_at_the_path_the_gateway_reads():
    root = etree.fromstring(build_request([tx()], "NPNFLOW", "B-1", NOW))
    (t,) = root.findall("TRANSACTION")
    assert t.findtext("TRANS_HEAD/DATE_STAMP") == "20260306"
    assert t.findtext("TRANS_HEAD/TIME_STAMP") == "150405678"
    assert t.findtext("TRANS_HEAD/STATE_CODE") == "GA"
    assert t.findtext("TRANS_HEAD/TRANSACTION_TYPE") == "1"
    assert (t.findtext("CUSTOMER"), t.findtext("CUST_BATCH"), t.findtext("CUST_TRANS")) == (
        "NPNFLOW",
        "B-1",
        "K-1",
    )
    assert t.findtext("APPLICANT/NPN") == "12345678"
    assert t.findtext("APPOINTER/COCODE") == "99101"
    assert t.findtext("APPOINTER/STATE_COMPANY_ID") == "GA-77"
    assert t.findtext("APPOINTER/TAX_NUM") == "000990101"
    assert t.findtext("LICENSE/LICENSE_CLASS") == "2"
    assert t.findtext("LICENSE/LOA/LOA_CODE") == "16"
    assert t.findtext("LICENSE/DATE_EFFECTIVE") == "20260401"
    assert t.findtext("STATE_FEE") == "12.50"
    assert t.find("TERMINATION_REASON") is None


def test_effective_date_defaults_to_today_and_terminations_say_why():
    root = etree.fromstring(
        build_request(
            [tx(effective_date=None, kind="termination", termination_reason_code="VOL")],
            "NPNFLOW",
            "B-1",
            NOW,
        )
    )
    assert root.findtext("TRANSACTION/LICENSE/DATE_EFFECTIVE") == "20260306"
    assert root.findtext("TRANSACTION/TRANS_HEAD/TRANSACTION_TYPE") == "2"
    assert root.findtext("TRANSACTION/TERMINATION_REASON") == "VOL"


def test_request_refuses_what_nipr_would_refuse_or_could_not_deduplicate():
    with pytest.raises(ValueError, match="1 to 100"):
        build_request([tx(f"K{i}") for i in range(101)], "C", "B", NOW)
    with pytest.raises(ValueError, match="idempotency"):
        build_request([tx("K"), tx("K")], "C", "B", NOW)
    with pytest.raises(ValueError, match="idempotency"):
        build_request([tx("")], "C", "B", NOW)
    with pytest.raises(ValueError, match="unknown transaction kind"):
        build_request([tx(kind="renewal")], "C", "B", NOW)


def test_the_sandbox_records_our_request_as_we_meant_it(world):
    gateway = service(world)
    txs = appointable(world, 3)
    status, body = gateway.handle(build_request(txs, "NPNFLOW", "B-1", NOW, SUBMITTER), "sandbox")
    assert status == 200
    log = gateway.log()
    assert [(e["cust_trans"], e["npn"], e["state"], e["loa_code"]) for e in log] == [
        (t.idempotency_key, t.npn, t.state_code, t.loa_code) for t in txs
    ]
    assert all(e["status"] == "approved" and e["kind"] == "appointment" for e in log)
    reply = parse_reply(body, [("B-1", t.idempotency_key) for t in txs])
    assert {o.status for o in reply.outcomes.values()} == {"Accepted"}


def test_poll_has_only_the_key_fields():
    root = etree.fromstring(build_poll([("B", "K1"), ("B", "K2")], "NPNFLOW"))
    transactions = root.findall("TRANSACTION")
    assert [t.findtext("CUST_TRANS") for t in transactions] == ["K1", "K2"]
    assert all(t.find("APPLICANT") is None for t in transactions)


# ====================================================================== replies
def test_approved_refused_and_intermediate_outcomes(world):
    gateway = service(world)
    good = appointable(world, 1)[0]
    unknown = tx("K-unknown", npn="1", state_code=good.state_code)
    _, body = gateway.handle(
        build_request([good, unknown], "NPNFLOW", "B", NOW, SUBMITTER), "sandbox"
    )
    reply = parse_reply(body)
    accepted = reply.outcomes[("B", good.idempotency_key)]
    assert accepted.status == "Accepted" and accepted.final
    assert accepted.nipr_status == "PC/P"
    assert accepted.nipr_trans and accepted.nipr_trans.isdigit()
    assert "Approved" in accepted.nipr_message and "10007" not in accepted.nipr_message
    refused = reply.outcomes[("B", "K-unknown")]
    assert refused.status == "Rejected"
    assert refused.nipr_message == "Producer was not found in the PDB. (NIPR 10101)"
    assert refused.nipr_status == "PC/F"

    pending_gateway = service(world, intermediate=1.0)
    _, body = pending_gateway.handle(
        build_request([good], "NPNFLOW", "B", NOW, SUBMITTER), "sandbox"
    )
    pending = parse_reply(body).outcomes[("B", good.idempotency_key)]
    assert pending.status == "Pending State Review" and not pending.final
    assert pending.nipr_status == "SR/P"
    assert "10003" in pending.nipr_message


def test_a_duplicate_means_nipr_already_has_it(world):
    gateway = service(world)
    good = appointable(world, 1)[0]
    request = build_request([good], "NPNFLOW", "B", NOW, SUBMITTER)
    gateway.handle(request, "sandbox")
    _, body = gateway.handle(request, "sandbox")
    reply = parse_reply(body, [("B", good.idempotency_key)])
    outcome = reply.outcomes[("B", good.idempotency_key)]
    assert outcome.status == "Submitted" and outcome.found
    assert outcome.nipr_status == "ERROR 3999"
    assert outcome.nipr_trans == str(gateway.log()[0]["nipr_trans"])
    assert reply.request_errors == ()


def test_polls_of_known_and_unknown_keys(world):
    gateway = service(world, intermediate=1.0)
    good = appointable(world, 1)[0]
    gateway.handle(build_request([good], "NPNFLOW", "B", NOW, SUBMITTER), "sandbox")
    keys = [("B", good.idempotency_key), ("B", "never-sent")]
    _, body = gateway.handle(build_poll(keys, "NPNFLOW"), "sandbox")
    reply = parse_reply(body, keys)
    assert reply.outcomes[keys[0]].status == "Pending State Review"
    assert reply.outcomes[keys[1]].status is None and not reply.outcomes[keys[1]].found
    _, body = gateway.handle(build_poll(keys[:1], "NPNFLOW"), "sandbox")  # second round
    assert parse_reply(body, keys).outcomes[keys[0]].status == "Accepted"


def test_missing_fields_and_bad_types_are_errors_for_that_transaction(world):
    gateway = service(world)
    good = appointable(world, 1)[0]
    request = etree.fromstring(
        build_request([good, tx("K-nonpn", npn=""), tx("K-type")], "NPNFLOW", "B", NOW, SUBMITTER)
    )
    request[2].find("TRANS_HEAD/TRANSACTION_TYPE").text = "9"
    keys = [("B", good.idempotency_key), ("B", "K-nonpn"), ("B", "K-type")]
    _, body = gateway.handle(etree.tostring(request), "sandbox")
    reply = parse_reply(body, keys)
    assert reply.missing(keys) == []
    assert reply.outcomes[keys[0]].status == "Accepted"
    assert reply.outcomes[keys[1]].status == "Error"
    assert "missing APPLICANT/NPN" in reply.outcomes[keys[1]].nipr_message
    assert reply.outcomes[keys[2]].status == "Error"
    assert reply.outcomes[keys[2]].nipr_status == "ERROR 3003"


def test_errors_naming_no_key_concern_the_whole_request():
    body = (
        b"<NIPR><ERROR><ERROR_CODE>3000</ERROR_CODE><DESCRIPTION>Request refused: 101 "
        b"transactions</DESCRIPTION></ERROR></NIPR>"
    )
    reply = parse_reply(body, [("B", "K1")])
    assert reply.outcomes == {}
    assert reply.missing([("B", "K1")]) == [("B", "K1")]
    assert "3000" in reply.describe_request_errors()


def test_error_keys_match_exactly_even_when_one_key_prefixes_another():
    keys = [("B", "T1"), ("B", "T10"), ("B", "a.b(c)")]
    text = "Transaction not received by NIPR : Cust Batch: B; Cust Trans T10."
    assert error_key(text, keys) == ("B", "T10")
    assert error_key("Cust Batch: B; Cust Trans T1\n\tLine number", keys) == ("B", "T1")
    assert error_key("(Cust Batch: B; Cust Trans a.b(c)): missing X", keys) == ("B", "a.b(c)")
    # Not a key we sent: read from the text itself.
    assert error_key("Cust Batch: X-9; Cust Trans Q7.", keys) == ("X-9", "Q7")
    assert error_key("something else entirely", keys) is None


def test_the_sandbox_canned_fault_reply_answers_nothing():
    body = b"<NIPR><TRANSACTION><CUSTOMER></CUSTOMER></TRANSACTION></NIPR>"
    reply = parse_reply(body, [("B", "K")])
    assert reply.missing([("B", "K")]) == [("B", "K")]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<NIPR><TRANSACTION><CUST_BATCH>B</CUST",  # cut short
        b"<html><body>502 Bad Gateway</body></html>",  # not NIPR's root
        b'<?xml version="1.0"?><!DOCTYPE NIPR [<!ENTITY x "y">]><NIPR>&x;</NIPR>',
        b"\xff\xfe garbage",
    ],
)
def test_unreadable_replies_are_refused(body):
    with pytest.raises(ReplyUnreadable):
        parse_reply(body)


def test_external_entities_are_never_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE NIPR [<!ENTITY x SYSTEM "file://{secret}">]>'
        "<NIPR><ERROR><DESCRIPTION>&x;</DESCRIPTION></ERROR></NIPR>"
    ).encode()
    with pytest.raises(ReplyUnreadable, match="DOCTYPE"):
        parse_reply(body)
