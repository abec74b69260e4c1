"""What a submission run actually sends: the Gateway request built from the operational tables
(producers, agencies, companies, company state settings) reaches the NIPR sandbox over HTTP
with every element of NIPR's sample request that npnflow holds, in the sample's order, and
the sandbox (strict on presence, as NIPR) records it. docs/submission.md, "The Gateway request".
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
from lxml import etree

from assets.submissions.submission import submit_batch
from npnflow.sandbox.server import NiprSandbox
from resources.database import OperationalDatabase
from resources.nipr_gateway import GatewayNotConfigured, NiprGateway
from schemas.migrate import upgrade
from schemas.tables import TABLES
from support.sandbox import sandbox_fixture

pytestmark = pytest.mark.sandbox

TODAY = dt.date(2026, 3, 6)
COCODE = "99101"
BATCH = "B-REQ"
SAMPLE = (
    Path(__file__).resolve().parents[1] / "fixtures" / "nipr" / "gateway" / "realtime_request.xml"
)
FAST = {
    "max_send_rounds": 2,
    "backoff_seconds": 0.02,
    "max_poll_rounds": 1,
    "poll_interval_seconds": 0.0,
}

server = sandbox_fixture(seed=17, producers=80, today=TODAY, intermediate_fraction=0.0)


@pytest.fixture
def sandbox(server: NiprSandbox) -> NiprSandbox:
    server.reset()
    return server


def gateway_for(sandbox: NiprSandbox, **changes) -> NiprGateway:
    config = dict(
        base_url=sandbox.base_url,
        username="sandbox",
        password="sandbox",
        customer_id="83CUSTOMER",
        timeout_seconds=5.0,
        settle_seconds=0.1,
    )
    config.update(changes)
    return NiprGateway(**config)


def first_license(sandbox: NiprSandbox, npn: str):
    producer = sandbox.world.producer(npn)
    return next(lic for lic in producer.licenses if lic.loas)


def make_database(
    tmp_path: Path, sandbox: NiprSandbox, nipr_fees: tuple[Decimal | None, ...] = (None, None)
) -> OperationalDatabase:
    """A batch of two Ready to Submit appointments: an individual and a firm (an agency), with
    NIPR's fee of each line (`transactions.estimated_nipr_fee`) as given."""
    url = f"sqlite:///{tmp_path / 'npnflow.db'}"
    upgrade(url)
    database = OperationalDatabase(url=url)
    person = sandbox.world.individual_npns()[0]
    firm = sandbox.world.firm_npns()[0]
    now = dt.datetime.now(dt.UTC)
    rows, states = [], set()
    for i, (npn, agent_type) in enumerate(((person, "Producer"), (firm, "Agency"))):
        lic = first_license(sandbox, npn)
        states.add(lic.state)
        rows.append(
            dict(
                transaction_id=f"{BATCH}-{i}",
                batch_id=BATCH,
                kind="appointment",
                npn=npn,
                state_code=lic.state,
                cocode=COCODE,
                loa_code=str(lic.loas[0].code),
                license_number=lic.number,
                license_class_code=str(lic.class_code),
                agent_type=agent_type,
                status="Ready to Submit",
                effective_date=TODAY,
                estimated_fee=Decimal("25"),
                estimated_nipr_fee=nipr_fees[i],
                idempotency_key=f"{BATCH}:{i}",
                created_at=now,
            )
        )
    with database.begin() as connection:
        connection.execute(
            sa.insert(TABLES["producers"]),
            [
                dict(npn=person, first_name="Hai", last_name="Buchwalter", agent_type="Producer"),
                dict(npn=firm, first_name=None, last_name="SOME INS AGENCY", agent_type="Agency"),
            ],
        )
        connection.execute(
            sa.insert(TABLES["companies"]),
            [dict(cocode=COCODE, company_name="SOME INSURANCE COMPANY", fein="92-2222222")],
        )
        connection.execute(
            sa.insert(TABLES["company_state_settings"]),
            [dict(cocode=COCODE, state_code=s, state_company_id=f"{s}-987654") for s in states],
        )
        connection.execute(
            sa.insert(TABLES["transaction_batches"]),
            [
                dict(
                    batch_id=BATCH,
                    kind="appointment",
                    cocode=COCODE,
                    status="Approved",
                    approval_version=1,
                    approved_by="tester",
                    approved_at=now,
                    created_at=now,
                )
            ],
        )
        connection.execute(sa.insert(TABLES["transactions"]), rows)
    return database


def recorded_requests(sandbox: NiprSandbox) -> dict[str, etree._Element]:
    return {t["cust_trans"]: etree.fromstring(t["request"]) for t in sandbox.gateway_log()}


def child_order(element: etree._Element) -> list[list[str]]:
    return [[c.tag for c in e] for e in [element, *element.iterdescendants()]]


def test_trans_fee_carries_each_line_s_estimated_nipr_fee(sandbox, tmp_path):
    """Issue 14, item 6: NIPR's fee estimated for the line goes out as TRANS_FEE; a line
    evaluated before the fee was estimated (NULL) sends NIPR's sample value, 0.00."""
    database = make_database(tmp_path, sandbox, nipr_fees=(Decimal("5.00"), None))
    report = submit_batch(database, gateway_for(sandbox), BATCH, 1, **FAST)
    assert report.transactions_sent == 2
    requests_ = recorded_requests(sandbox)
    assert requests_[f"{BATCH}:0"].findtext("TRANS_FEE") == "5.00"
    assert requests_[f"{BATCH}:1"].findtext("TRANS_FEE") == "0.00"
    assert requests_[f"{BATCH}:0"].findtext("STATE_FEE") == "25.00"


def test_a_submission_sends_what_nipr_sample_carries_in_its_order(sandbox, tmp_path):
    database = make_database(tmp_path, sandbox)
    report = submit_batch(database, gateway_for(sandbox), BATCH, 1, **FAST)
    assert report.transactions_sent == 2
    requests_ = recorded_requests(sandbox)
    assert set(requests_) == {f"{BATCH}:0", f"{BATCH}:1"}
    person, firm = requests_[f"{BATCH}:0"], requests_[f"{BATCH}:1"]

    assert person.findtext("APPLICANT/TYPE") == "I"
    assert person.findtext("APPLICANT/NAME/FIRST_NAME") == "Hai"
    assert person.findtext("APPLICANT/NAME/FIRM_OR_LAST_NAME") == "Buchwalter"
    assert firm.findtext("APPLICANT/TYPE") == "F"
    assert firm.findtext("APPLICANT/NAME/FIRM_OR_LAST_NAME") == "SOME INS AGENCY"
    assert firm.find("APPLICANT/NAME/FIRST_NAME") is None
    for sent, row in ((person, 0), (firm, 1)):
        assert sent.findtext("APPLICANT/LICENSE_KEY/LICENSE_ID")
        assert sent.findtext("APPLICANT/LICENSE_KEY/LICENSE_CLASS")
        assert sent.find("APPLICANT/TAX_NUM") is None  # an SSN is never sent
        assert sent.findtext("APPOINTER/NAME/FIRM_OR_LAST_NAME") == "SOME INSURANCE COMPANY"
        assert sent.findtext("APPOINTER/TAX_NUM") == "922222222"
        assert sent.findtext("APPOINTER/STATE_COMPANY_ID").endswith("-987654")
        # The resource's defaults: the submitter of NIPR's sample request.
        assert sent.findtext("ENTITY") == "NPNFLOW"
        assert sent.findtext("PAYMENT/ACCOUNT_ID") == "001"
        assert sent.findtext("AUTHORIZATION/LAST_NAME") == "Submitter"
        assert sent.findtext("STATE_FEE") == "25.00"
        assert sent.findtext("TRANS_FEE") == "0.00"  # no NIPR fee held for the line yet
        assert (sent.findtext("CUST_BATCH"), sent.findtext("CUST_TRANS")) == (
            BATCH,
            f"{BATCH}:{row}",
        )
        for tags in child_order(sent):
            assert tags == sorted(tags)

    sample_paths = {
        tuple(p.tag for p in [*reversed(list(e.iterancestors())), e])[2:]
        for e in etree.fromstring(SAMPLE.read_bytes()).iter()
    }
    sent_paths = {
        tuple(p.tag for p in [*reversed(list(e.iterancestors())), e])[1:] for e in firm.iter()
    }
    not_held = {
        ("APPLICANT", "TAX_NUM"),
        ("APPOINTER", "LICENSE_KEY"),
        ("APPOINTER", "LICENSE_KEY", "LICENSE_ID"),
        (),
    }
    assert sample_paths - sent_paths - not_held == set()


def test_a_gateway_without_entity_or_payment_refuses_to_start(sandbox):
    gateway = gateway_for(sandbox, entity_id="", payment_type=" ")
    with pytest.raises(GatewayNotConfigured, match="entity_id .*payment_type"):
        gateway.setup_for_execution(dg.build_init_resource_context())
    assert gateway_for(sandbox).submitter().entity_id == "NPNFLOW"
