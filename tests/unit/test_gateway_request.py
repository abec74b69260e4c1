"""Our Gateway request against NIPR's own sample requests (tests/fixtures/nipr/gateway/, from
NIPR's Postman collection): every element the sample carries is there unless npnflow cannot hold
its value (docs/submission.md, "The Gateway request"), and at every level in the sample's order.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from npnflow.sandbox.gateway import missing_elements
from resources.nipr_gateway_xml import (
    GatewayTransaction,
    Submitter,
    build_poll,
    build_request,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "nipr" / "gateway"
SAMPLE = FIXTURES / "realtime_request.xml"  # a firm applicant, NIPR's request sample
SAMPLE_INDIVIDUAL = FIXTURES / "realtime_request_individual.xml"  # its saved reply's
NOW = dt.datetime(2026, 3, 6, 15, 4, 5, 678000, tzinfo=dt.UTC)
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
# What NIPR's sample carries that npnflow cannot hold (docs/submission.md says why): an
# applicant's TAX_NUM (an individual's is the SSN, which npnflow cannot decrypt; no firm FEIN
# is stored) and the company's own license id in the state (APPOINTER/LICENSE_KEY).
NOT_HELD = {
    "/NIPR/TRANSACTION/APPLICANT/TAX_NUM",
    "/NIPR/TRANSACTION/APPOINTER/LICENSE_KEY",
    "/NIPR/TRANSACTION/APPOINTER/LICENSE_KEY/LICENSE_ID",
}
# Elements of the individual sample's AUTHORIZATION whose codes NIPR does not publish.
NOT_SENT_INDIVIDUAL = {
    "/NIPR/TRANSACTION/AUTHORIZATION/COMPLIANCE_OFFICER",
    "/NIPR/TRANSACTION/AUTHORIZATION/EMAIL",
    "/NIPR/TRANSACTION/AUTHORIZATION/EMAIL/EMAIL_ADDRESS",
    "/NIPR/TRANSACTION/AUTHORIZATION/EMAIL/EMAIL_CODE",
    "/NIPR/TRANSACTION/AUTHORIZATION/PREPARER_CODE",
}


def firm(**changes) -> GatewayTransaction:
    """The sample's transaction as npnflow holds it: an agency appointed in NJ."""
    values = dict(
        idempotency_key="CT-1",
        kind="appointment",
        npn="17000001",
        state_code="NJ",
        cocode="12345",
        loa_code="16",
        license_class_code="3",
        license_number="123456789",
        effective_date=dt.date(2024, 2, 8),
        estimated_fee=Decimal("25"),
        nipr_fee=Decimal("1.53"),
        state_company_id="987654",
        fein="92-2222222",
        agent_type="Agency",
        last_name="SOME INS AGENCY",
        company_name="SOME INSURANCE COMPANY",
    )
    values.update(changes)
    return GatewayTransaction(**values)


def individual(**changes) -> GatewayTransaction:
    values = dict(
        agent_type="Producer",
        npn="19107881",
        first_name="Hai",
        last_name="Buchwalter",
        license_number="5423333",
    )
    values.update(changes)
    return firm(**values)


def built(tx: GatewayTransaction, submitter: Submitter | None = SUBMITTER) -> etree._Element:
    return etree.fromstring(build_request([tx], "83CUSTOMER", "CB-1", NOW, submitter))


def sample(path: Path) -> etree._Element:
    return etree.fromstring(path.read_bytes())


def paths(root: etree._Element) -> set[str]:
    out: set[str] = set()

    def walk(element: etree._Element, prefix: str) -> None:
        path = f"{prefix}/{element.tag}"
        out.add(path)
        for child in element:
            walk(child, path)

    walk(root, "")
    return out


def order_mismatches(ours: etree._Element, theirs: etree._Element, path: str = "") -> list[str]:
    """Where the order of the children both documents have differs, level by level. Elements
    only one side has are ignored here (the presence test covers the sample's)."""
    path = f"{path}/{ours.tag}"
    our_tags = [c.tag for c in ours]
    their_tags = [c.tag for c in theirs]
    shared = set(our_tags) & set(their_tags)
    problems = []
    if [t for t in our_tags if t in shared] != [t for t in their_tags if t in shared]:
        problems.append(f"{path}: ours {our_tags}, NIPR's sample {their_tags}")
    for tag in sorted(shared):
        problems += order_mismatches(ours.find(tag), theirs.find(tag), path)
    return problems


def levels(root: etree._Element) -> list[etree._Element]:
    return [root, *root.iterdescendants()]


# ====================================================================== presence
def test_a_firm_request_carries_every_element_of_nipr_sample_we_can_hold():
    missing = paths(sample(SAMPLE)) - paths(built(firm())) - NOT_HELD
    assert not missing, f"NIPR's sample carries what we do not send: {sorted(missing)}"


def test_an_individual_request_carries_every_element_of_nipr_individual_sample():
    ours = paths(built(individual()))
    missing = paths(sample(SAMPLE_INDIVIDUAL)) - ours - NOT_HELD - NOT_SENT_INDIVIDUAL
    assert not missing, f"NIPR's sample carries what we do not send: {sorted(missing)}"
    assert "/NIPR/TRANSACTION/APPLICANT/NAME/FIRST_NAME" in ours


def test_the_request_holds_our_values_where_nipr_sample_holds_its_own():
    t = built(firm()).find("TRANSACTION")
    assert t.findtext("APPLICANT/LICENSE_KEY/LICENSE_CLASS") == "3"
    assert t.findtext("APPLICANT/LICENSE_KEY/LICENSE_ID") == "123456789"
    assert t.findtext("APPLICANT/NAME/FIRM_OR_LAST_NAME") == "SOME INS AGENCY"
    assert t.find("APPLICANT/NAME/FIRST_NAME") is None  # a firm has no first name
    assert t.findtext("APPLICANT/NAME/NAME_CODE") == "1"
    assert t.findtext("APPLICANT/NAME/TYPE") == t.findtext("APPLICANT/TYPE") == "F"
    assert t.findtext("APPLICANT/NPN") == "17000001"
    assert t.find("APPLICANT/TAX_NUM") is None
    assert t.findtext("APPOINTER/NAME/FIRM_OR_LAST_NAME") == "SOME INSURANCE COMPANY"
    assert t.findtext("APPOINTER/STATE_COMPANY_ID") == "987654"
    assert t.findtext("APPOINTER/TAX_NUM") == "922222222"
    assert t.findtext("APPOINTER/TYPE") == "F"
    assert t.findtext("AUTHORIZATION/ADDRESS/ADDR_LINE_1") == "100 MAIN"
    assert t.findtext("AUTHORIZATION/ADDRESS/ZIP_CODE") == "972041093"
    assert t.findtext("AUTHORIZATION/PHONE/PHONE_NUMBER") == "1234567890"
    assert t.findtext("AUTHORIZATION/TITLE") == "Coordinator"
    assert (t.findtext("ENTITY"), t.findtext("CUSTOMER")) == ("83ENTITY", "83CUSTOMER")
    assert t.findtext("PAYMENT/ACCOUNT_ID") == "001"
    assert t.findtext("PAYMENT/PAYMENT_TYPE") == "2"
    assert t.findtext("LICENSE/LICENSE_CLASS") == "3"
    assert t.findtext("LICENSE/DATE_EFFECTIVE") == "20240208"
    assert (t.findtext("STATE_FEE"), t.findtext("TRANS_FEE")) == ("25.00", "1.53")


def test_an_individual_is_named_by_npn_and_name_and_never_by_tax_number():
    t = built(individual()).find("TRANSACTION")
    assert t.findtext("APPLICANT/TYPE") == t.findtext("APPLICANT/NAME/TYPE") == "I"
    assert t.findtext("APPLICANT/NAME/FIRM_OR_LAST_NAME") == "Buchwalter"
    assert t.findtext("APPLICANT/NAME/FIRST_NAME") == "Hai"
    assert t.findtext("APPLICANT/NPN") == "19107881"
    assert t.find("APPLICANT/TAX_NUM") is None


def test_fees_without_a_value_are_sent_as_zero_as_nipr_sample_sends_its_transaction_fee():
    t = built(firm(estimated_fee=None, nipr_fee=None)).find("TRANSACTION")
    assert (t.findtext("STATE_FEE"), t.findtext("TRANS_FEE")) == ("0.00", "0.00")
    assert built(firm(nipr_fee=0.8)).findtext("TRANSACTION/TRANS_FEE") == "0.80"


def test_what_we_do_not_hold_is_left_out_rather_than_sent_empty():
    t = built(
        firm(license_number=None, last_name=None, company_name=None, fein=None, agent_type=None)
    ).find("TRANSACTION")
    assert t.find("APPLICANT/LICENSE_KEY") is None and t.find("APPLICANT/NAME") is None
    assert t.findtext("APPLICANT/TYPE") == "I"  # no agent type: a producer, as uploads default
    assert t.find("APPOINTER/NAME") is None and t.find("APPOINTER/TAX_NUM") is None
    assert all(e.text is None or e.text.strip() for e in levels(t))


# ====================================================================== order
@pytest.mark.parametrize(
    ("make", "fixture"),
    [(firm, SAMPLE), (individual, SAMPLE), (individual, SAMPLE_INDIVIDUAL)],
    ids=["firm", "individual", "individual-vs-its-sample"],
)
def test_every_level_is_in_nipr_sample_order(make, fixture):
    mismatches = order_mismatches(built(make()), sample(fixture))
    assert not mismatches, "\n".join(mismatches)


@pytest.mark.parametrize(
    "tx",
    [firm(), individual(), firm(kind="termination", termination_reason_code="VOL")],
    ids=["firm", "individual", "termination"],
)
def test_elements_nipr_sample_lacks_go_where_its_alphabetical_order_puts_them(tx):
    # NIPR's sample lists children alphabetically at every level; our additions (NPN, LOA,
    # TERMINATION_REASON) keep the whole document in that order.
    for element in levels(built(tx)):
        tags = [c.tag for c in element]
        assert tags == sorted(tags), f"{element.tag}: {tags}"
    for element in levels(sample(SAMPLE)):  # the premise, checked on NIPR's own document
        tags = [c.tag for c in element if isinstance(c.tag, str)]
        assert tags == sorted(tags), f"{element.tag}: {tags}"


def test_a_poll_is_in_the_order_of_nipr_polling_sample_and_carries_its_payment():
    root = etree.fromstring(build_poll([("CB-1", "CT-1")], "38NIPRTEST", SUBMITTER))
    t = root.find("TRANSACTION")
    # NIPR's "minimum required to poll": CUSTOMER, CUST_BATCH, CUST_TRANS, PAYMENT, TRANS_HEAD.
    assert [c.tag for c in t] == ["CUSTOMER", "CUST_BATCH", "CUST_TRANS", "PAYMENT", "TRANS_HEAD"]
    assert t.findtext("PAYMENT/ACCOUNT_ID") == "001"
    assert t.find("APPLICANT") is None


# ====================================================================== the key
def test_the_key_is_identical_on_every_resend():
    first = built(firm()).find("TRANSACTION")
    later = etree.fromstring(
        build_request([firm()], "83CUSTOMER", "CB-1", NOW + dt.timedelta(hours=3), SUBMITTER)
    ).find("TRANSACTION")
    for tag in ("CUSTOMER", "CUST_BATCH", "CUST_TRANS"):
        assert first.findtext(tag) == later.findtext(tag)
    assert first.findtext("TRANS_HEAD/TIME_STAMP") != later.findtext("TRANS_HEAD/TIME_STAMP")


# ====================================================================== what the sandbox requires
def test_the_sandbox_finds_nothing_missing_in_our_request_or_nipr_sample():
    assert missing_elements(built(firm()).find("TRANSACTION")) == []
    assert missing_elements(built(individual()).find("TRANSACTION")) == []
    assert missing_elements(sample(SAMPLE).find("TRANSACTION")) == []
    assert missing_elements(sample(SAMPLE_INDIVIDUAL).find("TRANSACTION")) == []


def test_without_a_submitter_the_request_lacks_what_nipr_requires():
    assert missing_elements(built(firm(), submitter=None).find("TRANSACTION")) == [
        "ENTITY",
        "PAYMENT/ACCOUNT_ID",
        "PAYMENT/PAYMENT_TYPE",
    ]
