"""Portal invitation rules (SPEC section 9), without a database: who is invited, who gets which
error in the words an analyst reads, that inviting again sends nothing, and that the token only
ever leaves as a link while the database gets its SHA-256."""

from __future__ import annotations

import datetime as dt
import email.policy
import hashlib
from email import message_from_bytes
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

import pytest

from assets.portal import invitations as rules
from assets.portal import outcomes
from assets.portal.invitations import (
    InviteRequest,
    Portal,
    PortalUser,
    Producer,
    decide_invitations,
)

T0 = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)
AGENTS = Portal(
    "harborstone-agents",
    "Harborstone Agent Portal",
    3,
    0,
    "https://agents.harborstone.example/register",
)
SMALL = Portal(
    "granite-shield",
    "Granite Shield Producer Portal",
    1,
    1,
    "https://producers.graniteshield.example/accept",
)
PORTALS = [AGENTS, SMALL]


def _producer(npn: str, **changes) -> Producer:
    values = {
        "first_name": "Ada",
        "last_name": f"Producer{npn}",
        "email": f"ada.{npn}@example.com",
        "agency_npn": "9000001",
        "agency_on_record": True,
    } | changes
    return Producer(npn, **values)


PRODUCERS = {
    "10000001": _producer("10000001"),
    "10000002": _producer("10000002"),
    "10000003": _producer("10000003"),
    "10000004": _producer("10000004"),
    "12345": _producer("12345"),
    "20000001": _producer("20000001", agency_npn=None),
    "20000002": _producer("20000002", agency_npn="9999999", agency_on_record=False),
    "20000003": _producer("20000003", email=None),
    "20000004": _producer("20000004", email="  "),
    "20000005": _producer("20000005", email="not an address"),
    # No agency AND no email: the agency is reported (the seed lists it first).
    "20000006": _producer("20000006", agency_npn="", email=None),
}


def _decide(*requests: InviteRequest | tuple[str, str], users=None, portals=PORTALS):
    made = [r if isinstance(r, InviteRequest) else InviteRequest(*r) for r in requests]
    return decide_invitations(made, portals, PRODUCERS, users or {})


def _one(npn: str, portal: str = "Harborstone Agent Portal", users=None) -> rules.Decision:
    (decision,) = _decide((npn, portal), users=users)
    return decision


# --------------------------------------------------------------------------------------------
# Invited
# --------------------------------------------------------------------------------------------


def test_a_producer_with_an_agency_and_an_email_is_invited_to_the_named_portal() -> None:
    decision = _one("10000001")

    assert decision.outcome == rules.INVITED
    assert decision.portal_id == "harborstone-agents"
    assert decision.email == "ada.10000001@example.com"
    assert not decision.is_error


@pytest.mark.parametrize(
    "typed", ["Harborstone Agent Portal", "harborstone agent   portal", "HARBORSTONE-AGENTS"]
)
def test_the_portal_is_found_by_name_or_id_whatever_the_case_and_spaces(typed: str) -> None:
    assert _one("10000001", typed).portal_id == "harborstone-agents"


def test_a_padded_npn_is_read_as_nipr_writes_it() -> None:
    decision = _one(" 00012345 ")
    assert (decision.npn, decision.outcome) == ("12345", rules.INVITED)


# --------------------------------------------------------------------------------------------
# The SPEC's three errors
# --------------------------------------------------------------------------------------------


def test_no_associated_agency_when_the_producer_has_none() -> None:
    decision = _one("20000001")

    assert decision.outcome == rules.NO_ASSOCIATED_AGENCY == "No Associated Agency"
    assert decision.detail == (
        "NPN 20000001 (Ada Producer20000001) has no agency on record: fill in the Agency NPN "
        "with an agent upload, then invite again."
    )
    assert decision.is_error and decision.email is None


def test_no_associated_agency_when_the_agency_is_not_on_record() -> None:
    decision = _one("20000002")

    assert decision.outcome == rules.NO_ASSOCIATED_AGENCY
    assert "agency NPN 9999999, which is not an agency on record" in decision.detail


@pytest.mark.parametrize("npn", ["20000003", "20000004"])
def test_no_email_on_record_when_the_email_is_missing_or_blank(npn: str) -> None:
    decision = _one(npn)

    assert decision.outcome == rules.NO_EMAIL_ON_RECORD == "No Email On Record"
    assert decision.detail == (
        f"NPN {npn} (Ada Producer{npn}) has no email on record: fill in the Agent Email with an "
        "agent upload, then invite again."
    )


def test_no_email_on_record_when_the_email_on_record_is_not_an_address() -> None:
    decision = _one("20000005")

    assert decision.outcome == rules.NO_EMAIL_ON_RECORD
    assert "is not an email address" in decision.detail
    assert "not an address" not in decision.detail  # the bad value itself is not echoed


def test_the_agency_is_reported_before_the_email() -> None:
    assert _one("20000006").outcome == rules.NO_ASSOCIATED_AGENCY


def test_no_portal_seats_left_once_the_seats_are_given_out_in_request_order() -> None:
    decisions = _decide(*[(f"1000000{i}", "harborstone-agents") for i in (1, 2, 3, 4)])

    assert [d.outcome for d in decisions] == [rules.INVITED] * 3 + [rules.NO_PORTAL_SEATS_LEFT]
    assert decisions[3].detail == (
        "NPN 10000004 (Ada Producer10000004): Harborstone Agent Portal has no seats left (all 3 "
        "taken by invited or registered producers). Order more seats, raise seats_total in "
        "config/portals.yaml and run load_reference_data_job, then invite again."
    )
    assert rules.summarize(decisions) == {rules.INVITED: 3, rules.NO_PORTAL_SEATS_LEFT: 1}


def test_no_portal_seats_left_counts_the_seats_already_held() -> None:
    # SMALL has 1 seat and 1 producer holds it already.
    assert _one("10000001", "granite-shield").outcome == rules.NO_PORTAL_SEATS_LEFT


def test_a_refused_request_does_not_use_a_seat() -> None:
    decisions = _decide(
        ("20000003", "granite-shield"),
        ("10000001", "Harborstone Agent Portal"),
        ("20000001", "harborstone-agents"),
        ("10000002", "harborstone-agents"),
        ("10000003", "harborstone-agents"),
    )

    assert [d.outcome for d in decisions] == [
        rules.NO_EMAIL_ON_RECORD,
        rules.INVITED,
        rules.NO_ASSOCIATED_AGENCY,
        rules.INVITED,
        rules.INVITED,
    ]


# --------------------------------------------------------------------------------------------
# Inviting again sends nothing
# --------------------------------------------------------------------------------------------


def _user(npn: str, status: str = rules.STATUS_INVITED, **times) -> dict:
    return {
        (npn, "harborstone-agents"): PortalUser(
            npn, "harborstone-agents", status, invited_at=T0, **times
        )
    }


def test_an_invited_producer_whose_email_was_sent_is_already_invited() -> None:
    decision = _one("10000001", users=_user("10000001", sent_at=T0))

    assert decision.outcome == rules.ALREADY_INVITED
    assert decision.detail == (
        "NPN 10000001 (Ada Producer10000001) was invited to Harborstone Agent Portal on "
        "2026-11-20 and the email was sent on 2026-11-20: no second email is sent."
    )
    assert decision.email is None and not decision.is_error


def test_already_invited_wins_over_a_missing_email_or_agency() -> None:
    # The seat is held: nothing to check, nothing to send.
    for npn in ("20000001", "20000003"):
        assert _one(npn, users=_user(npn, sent_at=T0)).outcome == rules.ALREADY_INVITED


def test_a_registered_producer_is_already_registered() -> None:
    later = T0 + dt.timedelta(days=2)
    decision = _one(
        "10000001",
        users=_user("10000001", rules.STATUS_REGISTERED, sent_at=T0, registered_at=later),
    )

    assert decision.outcome == rules.ALREADY_REGISTERED
    assert decision.detail.endswith(
        "is already registered on Harborstone Agent Portal on 2026-11-22: nothing sent."
    )


def test_an_invitation_whose_email_was_never_sent_says_a_run_sends_it() -> None:
    decision = _one("10000001", users=_user("10000001"))

    assert decision.outcome == rules.ALREADY_INVITED
    assert "its email was not sent yet (an earlier run stopped)" in decision.detail


def test_an_unconfirmed_email_is_not_resent_and_the_detail_says_how_to() -> None:
    decision = _one("10000001", users=_user("10000001", send_started_at=T0))

    assert decision.outcome == rules.ALREADY_INVITED
    assert "unknown whether it arrived" in decision.detail
    assert "--resend-unconfirmed" in decision.detail


def test_a_producer_already_invited_still_holds_a_seat_in_the_plan() -> None:
    # 3 seats, one held by 10000001 (counted in seats_used): two more fit.
    portal = Portal(AGENTS.portal_id, AGENTS.portal_name, 3, 1, AGENTS.registration_url)
    decisions = _decide(
        ("10000001", "harborstone-agents"),
        ("10000002", "harborstone-agents"),
        ("10000003", "harborstone-agents"),
        ("10000004", "harborstone-agents"),
        users=_user("10000001", sent_at=T0),
        portals=[portal],
    )

    assert [d.outcome for d in decisions] == [
        rules.ALREADY_INVITED, rules.INVITED, rules.INVITED, rules.NO_PORTAL_SEATS_LEFT,
    ]  # fmt: skip


# --------------------------------------------------------------------------------------------
# Requests that name nobody
# --------------------------------------------------------------------------------------------


def test_an_unknown_npn_is_producer_not_found() -> None:
    decision = _one("30000001")

    assert decision.outcome == rules.PRODUCER_NOT_FOUND
    assert decision.detail == (
        "NPN 30000001 is not a producer on record: onboard it with an agent upload, then invite "
        "again."
    )


@pytest.mark.parametrize("typed", ["12A45", "", "12345678901", "1 2"])
def test_something_that_is_not_an_npn_is_an_invalid_npn(typed: str) -> None:
    decision = _one(typed)

    assert decision.outcome == rules.INVALID_NPN
    assert decision.detail == f"'{typed}' is not an NPN: digits only, up to 10."


def test_an_ssn_typed_as_an_npn_is_never_repeated_whole() -> None:
    decision = _one("123-45-6789")

    assert decision.outcome == rules.INVALID_NPN
    assert decision.npn == "***-**-6789"
    assert (
        decision.detail
        == "'***-**-6789' looks like an SSN, not an NPN: NPNs are digits only, up to 10."
    )
    assert "123-45" not in decision.detail


def test_an_unknown_portal_lists_the_portals_there_are() -> None:
    decision = _one("10000001", "Agency Portal")

    assert decision.outcome == rules.PORTAL_NOT_FOUND
    assert decision.portal_id is None
    assert decision.detail == (
        "There is no portal named 'Agency Portal'. The portals are: 'Granite Shield Producer "
        "Portal', 'Harborstone Agent Portal'."
    )


def test_with_no_portal_set_up_the_detail_says_where_to_set_them_up() -> None:
    (decision,) = _decide(("10000001", "Agency Portal"), portals=[])

    assert decision.outcome == rules.PORTAL_NOT_FOUND
    assert "config/portals.yaml" in decision.detail
    assert "load_reference_data_job" in decision.detail


def test_a_portal_without_registration_page_invites_nobody() -> None:
    bare = Portal("bare", "Bare Portal", 5, 0, None)
    (decision,) = _decide(("10000001", "bare"), portals=[bare])

    assert decision.outcome == rules.NO_REGISTRATION_PAGE
    assert "registration_url" in decision.detail


def test_a_producer_listed_twice_is_invited_once() -> None:
    decisions = _decide(
        InviteRequest("10000001", "Harborstone Agent Portal", 2),
        InviteRequest("10000001", "harborstone-agents", 5),
    )

    assert [d.outcome for d in decisions] == [rules.INVITED, rules.LISTED_TWICE]
    assert "already requested for Harborstone Agent Portal on row 2" in decisions[1].detail
    assert not decisions[1].is_error


# --------------------------------------------------------------------------------------------
# Later outcomes keep the analyst's wording
# --------------------------------------------------------------------------------------------


def test_losing_the_last_seat_to_another_run_reads_as_no_portal_seats_left() -> None:
    decision = outcomes.lost_seat_race(_one("10000001"), AGENTS)

    assert decision.outcome == rules.NO_PORTAL_SEATS_LEFT
    assert decision.email is None


def test_mail_failures_say_what_happens_next() -> None:
    invited = _one("10000001")

    not_sent = outcomes.email_not_sent(invited, "connection refused")
    refused = outcomes.email_refused(invited, "550 no such user")
    unconfirmed = outcomes.email_unconfirmed(invited, "connection lost")

    assert not_sent.outcome == rules.EMAIL_NOT_SENT
    assert "The next invitation run sends it" in not_sent.detail
    assert refused.outcome == rules.EMAIL_ADDRESS_REFUSED
    assert "withdrawn and its seat freed" in refused.detail
    assert unconfirmed.outcome == rules.EMAIL_UNCONFIRMED
    assert "not sent again by itself" in unconfirmed.detail
    assert all(d.is_error for d in (not_sent, refused, unconfirmed))


# --------------------------------------------------------------------------------------------
# Token and email
# --------------------------------------------------------------------------------------------


def test_tokens_are_random_and_only_their_sha256_is_for_the_database() -> None:
    tokens = {rules.new_token() for _ in range(50)}

    assert len(tokens) == 50
    token = tokens.pop()
    assert len(token) >= 43  # 32 random bytes, URL-safe base64
    hashed = rules.token_hash(token)
    assert hashed == hashlib.sha256(token.encode()).hexdigest()
    assert token not in hashed and len(hashed) == 64


def test_the_link_carries_the_token_and_keeps_the_pages_own_parameters() -> None:
    link = rules.accept_link("https://agents.example/register?lang=en&token=stale", "T0K-en_1")

    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "agents.example", "/register")
    assert parse_qs(parts.query) == {"lang": ["en"], "token": ["T0K-en_1"]}


def test_the_invitation_email_carries_the_token_only_in_its_link() -> None:
    token = rules.new_token()
    message = rules.invitation_email(
        to="ada.10000001@example.com",
        producer_name="Ada Producer",
        npn="10000001",
        portal_label="Harborstone Agent Portal",
        registration_url="https://agents.harborstone.example/register",
        token=token,
    )
    message["From"] = "compliance@carrier.example"
    raw = message.as_bytes(policy=email.policy.SMTP)
    parsed = message_from_bytes(raw, policy=email.policy.default)
    body = parsed.get_content()

    assert parsed["To"] == "Ada Producer <ada.10000001@example.com>"
    assert parsed["Subject"] == "Your invitation to Harborstone Agent Portal"
    assert f"https://agents.harborstone.example/register?token={token}" in body
    assert body.count(token) == 1
    assert token not in "".join(f"{k}: {v}" for k, v in parsed.items())  # not in any header
    assert rules.token_hash(token) not in raw.decode()
    assert "10000001" in body and "SSN" not in body


def test_a_name_with_accents_survives_the_trip() -> None:
    token = rules.new_token()
    message = rules.invitation_email(
        to="jose@example.com",
        producer_name="José Nuñez",
        npn="1",
        portal_label="Portal",
        token=token,
        registration_url="https://p.example/r",
    )
    parsed = message_from_bytes(
        message.as_bytes(policy=email.policy.SMTP), policy=email.policy.default
    )

    assert parsed["To"] == "José Nuñez <jose@example.com>"
    assert "Hello José Nuñez," in parsed.get_content()
    assert f"token={token}" in parsed.get_content()


def test_npns_typed_in_one_line_are_split_on_spaces_commas_and_semicolons() -> None:
    assert rules.split_npns(["10000001, 10000002;10000003", " 0042 ", "", "10000004,"]) == [
        "10000001", "10000002", "10000003", "0042", "10000004",
    ]  # fmt: skip


def test_mail_server_replies_are_shown_without_email_addresses() -> None:
    refused = outcomes.email_refused(_one("10000001"), "550 5.1.1 <ada.1@example.com>: rejected")

    assert "550 5.1.1 <address>: rejected" in refused.detail
    assert "@" not in refused.detail
    assert outcomes.without_addresses("mail from a.b+c@d.example refused") == (
        "mail from <address> refused"
    )


# --------------------------------------------------------------------------------------------
# Names and addresses that must not break a mail header
# --------------------------------------------------------------------------------------------


def _written(producer_name: str, to: str = "ada@example.com") -> tuple[bytes, EmailMessage]:
    message = rules.invitation_email(
        to=to,
        producer_name=producer_name,
        npn="10000001",
        portal_label="Harborstone\r\nAgent Portal",
        registration_url="https://agents.harborstone.example/register",
        token=rules.new_token(),
    )
    message["From"] = "compliance@carrier.example"
    raw = message.as_bytes(policy=email.policy.SMTP)
    return raw, message_from_bytes(raw, policy=email.policy.default)


def test_line_breaks_and_control_characters_in_a_name_become_spaces_in_every_header() -> None:
    raw, parsed = _written("Ada\r\nBcc: attacker@evil.example\nLove\x0blace\u2028\u200b")

    header_block = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    names = [line.split(":", 1)[0] for line in header_block.split("\r\n") if line[:1] != " "]
    assert "Bcc" not in names and names.count("To") == 1
    (to,) = parsed["To"].addresses
    assert to.addr_spec == "ada@example.com"
    assert to.display_name == "Ada Bcc: attacker@evil.example Love lace"
    assert parsed["Subject"] == "Your invitation to Harborstone Agent Portal"
    assert "Hello Ada Bcc: attacker@evil.example Love lace," in parsed.get_content()


def test_a_non_ascii_name_goes_as_an_encoded_word_and_comes_back_whole() -> None:
    raw, parsed = _written("Zoë\nÑúñez")

    assert b"=?utf-8?" in raw.split(b"\r\n\r\n", 1)[0]
    assert parsed["To"].addresses[0].display_name == "Zoë Ñúñez"


def test_header_text_keeps_letters_and_drops_what_a_header_cannot_show() -> None:
    assert rules.header_text(" José\t\tNuñez \r\n") == "José Nuñez"
    assert rules.header_text("A\u200bd\u202ea\x00B") == "Ada B"
    assert rules.header_text(None) == ""


def test_a_producer_name_with_line_breaks_is_one_line_in_what_an_analyst_reads() -> None:
    producers = {"10000001": _producer("10000001", first_name="Ada\r\n", last_name="Love\nlace")}
    (decision,) = decide_invitations(
        [InviteRequest("10000001", "harborstone-agents")], PORTALS, producers, {}
    )

    assert decision.detail == "NPN 10000001 (Ada Love lace) is invited to Harborstone Agent Portal."


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("jösé@example.com", "non-ASCII characters before the @"),
        ("<ada@example.com>", "not one plain email address"),
        ("ada,eve@example.com", "not one plain email address"),
        ("ada\x00@example.com", "not one plain email address"),
    ],
)
def test_an_address_no_mail_server_can_be_given_is_no_email_on_record(
    address: str, problem: str
) -> None:
    producers = {"10000001": _producer("10000001", email=address)}
    (decision,) = decide_invitations(
        [InviteRequest("10000001", "harborstone-agents")], PORTALS, producers, {}
    )

    assert decision.outcome == rules.NO_EMAIL_ON_RECORD
    assert problem in decision.detail
    assert "@example" not in decision.detail  # the address itself is never repeated
    with pytest.raises(rules.EmailNotWritten):
        rules.invitation_email(
            to=address,
            producer_name="Ada",
            npn="10000001",
            portal_label="P",
            registration_url="https://p.example/r",
            token="t",
        )


def test_an_address_with_a_non_ascii_domain_goes_in_its_idna_form() -> None:
    _, parsed = _written("Ada", to="ada@exämple.com")

    assert parsed["To"].addresses[0].addr_spec == "ada@xn--exmple-cua.com"


def test_an_email_the_server_refuses_or_that_cannot_be_written_says_the_seat_was_freed() -> None:
    invited = _one("10000001")

    refused = outcomes.email_message_refused(invited, "554 5.7.1 rejected for <ada@example.com>")
    withdrawn = outcomes.email_not_written(invited, "the address is odd", withdrawn=True)
    kept = outcomes.email_not_written(invited, "the address is odd", withdrawn=False)

    assert refused.outcome == rules.EMAIL_REFUSED
    assert "554 5.7.1 rejected for <address>" in refused.detail
    assert "withdrawn and its seat freed" in refused.detail
    assert withdrawn.outcome == kept.outcome == rules.EMAIL_NOT_WRITTEN
    assert "withdrawn and its seat freed: correct the Agent Email" in withdrawn.detail
    assert "stays as it was" in kept.detail and "resend_unconfirmed" in kept.detail
    assert all(d.is_error and not d.email_sent for d in (refused, withdrawn, kept))
