"""A released JIT line reaches NIPR once, over HTTP, however often it is released.

A producer of the NIPR sandbox holds an active resident license; our company appoints in its
state just in time. The request without Submit Just In Time is held; `npnflow jit release`
(twice, and a crashed release in between) puts it in one Approved batch; submitting every
Approved batch (what `approved_batch_sensor` asks for), twice, sends it once: the sandbox counts
what it received. docs/operations.md, "Just-in-time appointments".
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import requests
from click.testing import CliRunner

from assets.appointments.eligibility import evaluate_appointment_requests
from assets.appointments.store import plan_appointment_batches, read_eligibility_inputs
from assets.batches.store import approved_batches, write_batch_plan
from assets.jit.rules import ReleaseRequest
from assets.jit.service import release_held_lines
from assets.submissions.submission import submit_batch
from npnflow.cli import main as npnflow_cli
from npnflow.sandbox.server import NiprSandbox
from resources.database import OperationalDatabase
from resources.nipr_gateway import NiprGateway
from schemas import statuses
from schemas.migrate import upgrade
from support.sandbox import sandbox_fixture

pytestmark = pytest.mark.sandbox

TODAY = dt.date(2026, 3, 6)
COCODE = "99101"
FAST = {
    "max_send_rounds": 2,
    "backoff_seconds": 0.02,
    "max_poll_rounds": 2,
    "poll_interval_seconds": 0.0,
}

server = sandbox_fixture(seed=19, producers=80, today=TODAY, intermediate_fraction=0.0)


@pytest.fixture
def sandbox(server: NiprSandbox) -> NiprSandbox:
    server.reset()
    return server


def _resident_line(sandbox: NiprSandbox):
    for npn in sandbox.world.individual_npns():
        producer = sandbox.world.producer(npn)
        for lic in producer.licenses:
            active = [loa for loa in lic.loas if loa.is_active]
            if lic.is_resident and lic.is_active and lic.expiration_date > TODAY and active:
                return producer, lic, active[0]
    raise AssertionError("the sandbox world has no producer with an active resident line")


def held_world(tmp_path: Path, sandbox: NiprSandbox) -> tuple[OperationalDatabase, str]:
    """The sandbox producer's line, requested without Submit Just In Time: Held (JIT)."""
    producer, lic, loa = _resident_line(sandbox)
    url = f"sqlite:///{tmp_path / 'npnflow.db'}"
    upgrade(url)
    database = OperationalDatabase(url=url)
    now = dt.datetime(2026, 3, 6, 15, 0, tzinfo=dt.UTC)
    database.replace_tables(
        {
            "companies": pd.DataFrame(
                [
                    {
                        "cocode": COCODE,
                        "company_name": "SOME INSURANCE COMPANY",
                        "fein": "92-2222222",
                        "producer_assignment_required": False,
                    }
                ]
            ),
            "company_state_settings": pd.DataFrame(
                [
                    {
                        "cocode": COCODE,
                        "state_code": lic.state,
                        "state_company_id": "S-1",
                        "jit": True,
                    }
                ]
            ),
            "company_loa_categories": pd.DataFrame([{"cocode": COCODE, "loa_category": "Life"}]),
            "gateway_business_rules": pd.DataFrame(
                [
                    {
                        "cocode": COCODE,
                        "state_code": lic.state,
                        "license_class_code": str(lic.class_code),
                        "loa_code": str(loa.code),
                        "loa_category": "Life",
                        "active": True,
                    }
                ]
            ),
            "producers": pd.DataFrame(
                [
                    {
                        "npn": producer.npn,
                        "first_name": producer.first_name,
                        "last_name": producer.last_name,
                        "agent_type": "Producer",
                        "is_active": True,
                        "sync_status": "Success",
                    }
                ]
            ),
            "licenses": pd.DataFrame(
                [
                    {
                        "npn": producer.npn,
                        "state_code": lic.state,
                        "license_number": lic.number,
                        "license_class_code": str(lic.class_code),
                        "is_resident": True,
                        "is_active": True,
                        "expiration_date": lic.expiration_date,
                    }
                ]
            ),
            "license_loas": pd.DataFrame(
                [
                    {
                        "npn": producer.npn,
                        "state_code": lic.state,
                        "license_number": lic.number,
                        "license_class_code": str(lic.class_code),
                        "loa_code": str(loa.code),
                        "is_active": True,
                    }
                ]
            ),
        }
    )
    request = pd.DataFrame(
        [
            {
                "request_row": 2,
                "npn": producer.npn,
                "state_code": lic.state,
                "cocode": COCODE,
                "loa_category": "Life",
                "agent_type": "Producer",
                "submit": False,
                "submit_just_in_time": False,
            }
        ]
    )
    with database.begin() as connection:
        inputs = read_eligibility_inputs(connection, [producer.npn])
        evaluated = evaluate_appointment_requests(request, inputs, as_of=TODAY)
        write_batch_plan(connection, plan_appointment_batches(evaluated, "U-HOLD", now))
    held = database.read_table("transactions")
    assert held["status"].tolist() == [statuses.HELD_JIT]
    return database, producer.npn


def gateway(sandbox: NiprSandbox) -> NiprGateway:
    return NiprGateway(
        base_url=sandbox.base_url,
        username="sandbox",
        password="sandbox",
        customer_id="83CUSTOMER",
        timeout_seconds=5.0,
        settle_seconds=0.1,
    )


def submit_approved(database: OperationalDatabase, sandbox: NiprSandbox) -> int:
    """What approved_batch_sensor's runs do: submit every Approved batch; lines sent."""
    with database.begin() as connection:
        approved = approved_batches(connection, 10)
    return sum(
        submit_batch(database, gateway(sandbox), batch_id, version, **FAST).transactions_sent
        for batch_id, version in approved
    )


def test_a_line_released_twice_reaches_nipr_once(sandbox, tmp_path, monkeypatch):
    database, npn = held_world(tmp_path, sandbox)
    monkeypatch.setenv("NPNFLOW_DATABASE_URL", database.url)

    def crash(connection) -> None:
        raise RuntimeError("killed before the approval")

    with pytest.raises(RuntimeError):
        release_held_lines(
            database, [ReleaseRequest(npn=npn)], released_by="Dana", before_approval=crash
        )
    first = CliRunner().invoke(npnflow_cli, ["jit", "release", "--npn", npn, "--by", "Dana"])
    assert first.exit_code == 0, first.output
    assert "Released 1 line(s) into Approved batch(es) jit-release-" in first.output
    second = CliRunner().invoke(npnflow_cli, ["jit", "release", "--npn", npn, "--by", "Eve"])
    assert second.exit_code == 1
    assert f"No Held (JIT) line for NPN {npn}" in second.output

    assert submit_approved(database, sandbox) == 1
    assert submit_approved(database, sandbox) == 0  # nothing Approved any more
    log = requests.get(sandbox.base_url + "/_sandbox/gateway/transactions", timeout=5).json()
    line = database.read_table("transactions").iloc[0]
    mine = [t for t in log if t["cust_trans"] == line["idempotency_key"]]
    assert len(mine) == 1 and mine[0]["times_received"] == 1
    assert len(log) == 1
    assert line["status"] == statuses.ACCEPTED
    assert line["released_by"] == "Dana"
    batch = database.read_table("transaction_batches").set_index("batch_id").loc[line["batch_id"]]
    assert batch["status"] == statuses.BATCH_COMPLETED and batch["approved_by"] == "Dana"
