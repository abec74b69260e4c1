"""Terminations sent to the NIPR sandbox's Gateway through the appointments' exactly-once path.

The sandbox's world holds appointments with the customer's companies (config/companies.yaml);
the operational tables are filled from that world as the NIPR sync would fill them. A
terminate file for some of those lines is processed by the Dagster assets, and its batch is
submitted with `submit_batch`, the function `submit_batch_job` runs. NIPR's side is checked
through the sandbox's transaction log: every Ready line received once, as a termination with
its reason; nothing Not Eligible sent.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import requests
from click.testing import CliRunner

from assets.appointments.store import read_eligibility_inputs
from assets.keys import (
    BATCH_PARTITIONS,
    TAG_APPROVAL_VERSION,
    TAG_BATCH_ID,
    TERMINATION_BATCHES_KEY,
    UPLOADS_PARTITIONS,
)
from assets.reference.loading import load_company_config, load_reference_data
from assets.reports.relations import read_report
from assets.submissions.assets import SUBMISSION_ASSETS
from assets.submissions.submission import submit_batch
from assets.terminations.assets import TERMINATION_ASSETS
from assets.uploads.assets import UPLOAD_ASSETS
from assets.uploads.inbox import partition_key_for
from assets.uploads.ledger import run_tags
from npnflow.cli import main as npnflow_cli
from npnflow.sandbox.server import NiprSandbox
from pipelines.definitions import build_definitions
from resources import paths
from resources.database import OperationalDatabase
from resources.dbt_reports import ReportsDbt
from resources.nipr_gateway import NiprGateway
from resources.object_store import LocalFolderObjectStore
from resources.ssn import SsnVault
from schemas import statuses
from schemas.migrate import upgrade
from schemas.tables import TABLES
from support.sandbox import running_sandbox
from support.staleness import stale_status

pytestmark = pytest.mark.sandbox

HEADER = (
    "Agent NPN,States,Line of Authority,CoCode,Termination Reason Code,Effective Date,"
    "Submit Immediately"
)
FAST = {
    "max_send_rounds": 3,
    "backoff_seconds": 0.02,
    "max_poll_rounds": 6,
    "poll_interval_seconds": 0.0,
}
# Default reasons in the shipped reference data; NY and IL take no terminations through NIPR.
NOT_VIA_NIPR = {"NY", "IL"}


@pytest.fixture(scope="module")
def reference():
    return load_reference_data(paths.reference_dir())


@pytest.fixture(scope="module")
def sandbox(reference):
    companies = load_company_config(paths.config_dir(), reference)["companies"]
    with running_sandbox(
        seed=5, producers=120, companies=companies, intermediate_fraction=0.3, polls_to_resolve=1
    ) as server:
        yield server


def gateway_for(sandbox: NiprSandbox) -> NiprGateway:
    return NiprGateway(
        base_url=sandbox.base_url,
        username="sandbox",
        password="sandbox",
        customer_id="NPNFLOW",
        timeout_seconds=5.0,
        settle_seconds=0.2,
    )


def sandbox_log(sandbox: NiprSandbox) -> list[dict]:
    response = requests.get(sandbox.base_url + "/_sandbox/gateway/transactions", timeout=5)
    response.raise_for_status()
    return response.json()


class World:
    """An operational database filled from the sandbox's world, and a local bucket."""

    def __init__(self, tmp_path: Path, sandbox: NiprSandbox, reference, url: str = "") -> None:
        url = url or f"sqlite:///{tmp_path / 'npnflow.db'}"
        self.url = url
        upgrade(url)
        self.database = OperationalDatabase(url=url)
        self.database.replace_tables(reference)
        self.database.replace_tables(load_company_config(paths.config_dir(), reference))
        frames = sandbox.world.to_frames()
        self.database.replace_tables(
            {
                name: frames[name][[c.name for c in TABLES[name].c if c.name in frames[name]]]
                for name in ("producers", "licenses", "license_loas", "appointments")
            }
        )
        self.store = LocalFolderObjectStore(root=str(tmp_path / "bucket"))
        self.sandbox = sandbox

    def appointed_lines(self, count: int) -> pd.DataFrame:
        """Appointed lines in states that take terminations through NIPR, one per appointment."""
        appointments = self.database.read_table("appointments")
        appointed = appointments[
            appointments["status"].eq("Appointed") & ~appointments["state_code"].isin(NOT_VIA_NIPR)
        ].sort_values(["npn", "state_code", "cocode", "loa_code"])
        lines = appointed.drop_duplicates(["npn", "state_code", "cocode"])
        assert len(lines) >= count, "the sandbox world holds too few appointments"
        return lines.head(count).reset_index(drop=True)

    def drop_and_process(
        self, key: str, data: bytes, instance: dg.DagsterInstance | None = None
    ) -> str:
        stored = self.store.put_bytes(key, data)
        partition = partition_key_for(key, stored.etag)
        with contextlib.ExitStack() as stack:
            if instance is None:
                instance = stack.enter_context(dg.instance_for_test())
            instance.add_dynamic_partitions(UPLOADS_PARTITIONS.name, [partition])
            result = dg.materialize(
                [*UPLOAD_ASSETS, *TERMINATION_ASSETS],
                partition_key=partition,
                instance=instance,
                resources={
                    "database": self.database,
                    "object_store": self.store,
                    "ssn_vault": SsnVault(key=None),
                },
                tags=run_tags(key, stored.etag, "terminate"),
            )
        assert result.success
        return partition

    def build_reports(
        self, instance: dg.DagsterInstance | None = None
    ) -> dg.ExecuteInProcessResult:
        """build_reports_job, as `npnflow reports build` runs it."""
        job = build_definitions("local").resolve_job_def("build_reports_job")
        with contextlib.ExitStack() as stack:
            if instance is None:
                instance = stack.enter_context(dg.instance_for_test())
            result = job.execute_in_process(
                instance=instance,
                resources={"database": self.database, "reports_dbt": ReportsDbt()},
                raise_on_error=False,
            )
        assert result.success
        assert all(check.passed for check in result.get_asset_check_evaluations())
        return result

    def report(self, name: str) -> pd.DataFrame:
        with self.database.begin() as connection:
            return read_report(connection, name)

    def transactions(self, upload_id: str) -> pd.DataFrame:
        t = self.database.read_table("transactions")
        return t[t["upload_id"] == upload_id].set_index("transaction_id")

    def batches(self, upload_id: str) -> pd.DataFrame:
        b = self.database.read_table("transaction_batches")
        return b[b["upload_id"] == upload_id]


def terminate_file(lines: pd.DataFrame, submit_immediately: bool = True) -> bytes:
    flag = "TRUE" if submit_immediately else "FALSE"
    rows = [f"{r.npn},{r.state_code},{r.loa_code},{r.cocode},,,{flag}" for r in lines.itertuples()]
    return "\r\n".join([HEADER, *rows]).encode()


@pytest.fixture
def world(tmp_path, sandbox, reference):
    sandbox.reset()
    yield World(tmp_path, sandbox, reference)
    sandbox.reset()


def stale_line(world: World, first: pd.Series) -> dict[str, str]:
    """A line our table says is Appointed and NIPR does not hold (the sync has not caught up):
    the producer's Life line in a state where it holds no appointment with that company."""
    appointments = world.database.read_table("appointments")
    held = set(
        appointments.loc[
            (appointments["npn"] == first["npn"]) & (appointments["cocode"] == first["cocode"]),
            "state_code",
        ]
    )
    state = next(s for s in ("WY", "VT", "ND", "SD", "MT", "NE") if s not in held)
    line = {"npn": first["npn"], "state_code": state, "cocode": first["cocode"], "loa_code": "16"}
    world.database.replace_tables(
        {
            "appointments": pd.concat(
                [appointments, pd.DataFrame([{**line, "status": "Appointed"}])], ignore_index=True
            )
        }
    )
    return line


def test_terminations_are_sent_once_with_their_reasons_and_never_repeated(world, sandbox):
    lines = world.appointed_lines(6)
    stale = stale_line(world, lines.iloc[0])
    requested = pd.concat([lines, pd.DataFrame([stale])], ignore_index=True)
    upload_id = world.drop_and_process("inbox/terminate/batch-1.csv", terminate_file(requested))

    transactions = world.transactions(upload_id)
    assert len(transactions) == len(requested)
    assert set(transactions["status"]) == {statuses.READY_TO_SUBMIT}
    assert transactions["termination_reason_code"].notna().all()  # the states' defaults
    batches = world.batches(upload_id)
    assert set(batches["status"]) == {statuses.BATCH_APPROVED}  # Submit Immediately

    gateway = gateway_for(sandbox)
    for batch in batches.itertuples():
        report = submit_batch(world.database, gateway, batch.batch_id, 1, **FAST)
        assert report.action == "submitted"

    after = world.transactions(upload_id)
    is_stale = (after["npn"] == stale["npn"]) & (after["state_code"] == stale["state_code"])
    stale_row = after[is_stale].iloc[0]
    accepted = after.drop(index=stale_row.name)
    assert set(accepted["status"]) == {statuses.ACCEPTED}
    assert stale_row["status"] == statuses.REJECTED
    assert "No active appointment" in stale_row["nipr_message"]

    log = [t for t in sandbox_log(sandbox) if t["cust_trans"] in set(after["idempotency_key"])]
    assert sorted(t["cust_trans"] for t in log) == sorted(after["idempotency_key"])
    assert all(t["times_received"] == 1 for t in log)
    assert {t["kind"] for t in log} == {"termination"}
    reasons = {t["cust_trans"]: t["termination_reason"] for t in log}
    assert reasons == dict(
        zip(after["idempotency_key"], after["termination_reason_code"], strict=True)
    )
    assert all(world.batches(upload_id)["status"] == statuses.BATCH_COMPLETED)

    # The same lines dropped again before the NIPR sync shows them terminated: NIPR already
    # accepted them, so nothing is created or sent again (the stale line may be asked again).
    again = world.drop_and_process(
        "inbox/terminate/batch-2.csv", terminate_file(requested).replace(b"\r\n", b"\n")
    )
    second = world.transactions(again)
    assert set(zip(second["npn"], second["state_code"], strict=True)) <= {
        (stale["npn"], stale["state_code"])
    }


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_backend_world(request, tmp_path, sandbox, reference):
    url = request.getfixturevalue("fresh_postgres_url") if request.param == "postgres" else ""
    sandbox.reset()
    world = World(tmp_path, sandbox, reference, url)
    yield world
    world.database.engine.dispose()
    sandbox.reset()


def test_export_from_the_report_then_drop_gives_the_expected_batch(any_backend_world, sandbox):
    """The acceptance round trip: reports built through Dagster, `npnflow export terminate`
    from the licensing report, the file dropped, its batch approved at once (Submit
    Immediately), sent, and the rebuilt reports showing the outcome."""
    world = any_backend_world
    world.build_reports()
    licensing = world.report("rpt_producer_licensing_with_carrier_appointments")
    appointed = licensing[
        licensing["appointment_status"].eq("Appointed")
        & ~licensing["state_code"].isin(NOT_VIA_NIPR)
    ]
    cocode = appointed["cocode"].value_counts().index[0]
    states = sorted(appointed.loc[appointed["cocode"] == cocode, "state_code"].unique())[:2]
    expected = {
        (r.npn, r.state_code, r.loa_code)
        for r in appointed[
            (appointed["cocode"] == cocode) & appointed["state_code"].isin(states)
        ].itertuples()
    }
    target = Path(world.store.root).parent / "terminate.xlsx"
    outcome = CliRunner().invoke(
        npnflow_cli,
        [
            "export",
            "terminate",
            "--cocode",
            cocode,
            "--states",
            ",".join(states),
            "--submit-immediately",
            "-o",
            str(target),
            "--database-url",
            world.url,
        ],
    )
    assert outcome.exit_code == 0, outcome.output
    upload_id = world.drop_and_process("inbox/terminate/terminate.xlsx", target.read_bytes())

    transactions = world.transactions(upload_id)
    got = set(
        zip(transactions["npn"], transactions["state_code"], transactions["loa_code"], strict=True)
    )
    assert got == expected
    assert set(transactions["status"]) == {statuses.READY_TO_SUBMIT}
    assert set(transactions["cocode"]) == {cocode}
    batch = world.batches(upload_id)
    assert len(batch) == 1
    batch = batch.iloc[0]
    assert batch["kind"] == "termination" and batch["status"] == statuses.BATCH_APPROVED

    report = submit_batch(world.database, gateway_for(sandbox), batch["batch_id"], 1, **FAST)
    assert report.action == "submitted"
    assert set(world.transactions(upload_id)["status"]) == {statuses.ACCEPTED}
    received = [t for t in sandbox_log(sandbox) if t["cust_batch"] == batch["batch_id"]]
    assert len(received) == len(expected) and all(t["times_received"] == 1 for t in received)

    world.build_reports()
    status = world.report("rpt_batch_status").set_index("batch_id").loc[batch["batch_id"]]
    assert status["status"] == statuses.BATCH_COMPLETED
    assert int(status["accepted"]) == int(status["total"]) == len(expected)


def appointable_line(world: World, sandbox: NiprSandbox) -> dict[str, str]:
    """A line of one of our companies, in a state it appoints in, that the sandbox will approve
    as an appointment and that no appointment holds yet (so only the submission appoints it)."""
    from npnflow.sandbox.gateway import decide

    today = sandbox.now().date()
    settings = world.database.read_table("company_state_settings")
    ours = set(zip(settings["cocode"].astype(str), settings["state_code"], strict=True))
    for npn in sandbox.world.individual_npns():
        producer = sandbox.world.producer(npn, as_of=today)
        held = {(a.state, a.cocode, str(a.loa_code)) for a in producer.appointments}
        for lic in producer.licenses:
            for cocode, state in sorted(ours):
                if state != lic.state or state in NOT_VIA_NIPR:
                    continue
                for loa in lic.loas:
                    code = str(loa.code)
                    if (state, cocode, code) in held:
                        continue
                    if decide(producer, "appointment", state, cocode, [code], today)[0]:
                        return {
                            "npn": npn,
                            "state_code": state,
                            "cocode": cocode,
                            "loa_code": code,
                            "license_class_code": str(lic.class_code),
                        }
    raise AssertionError("the sandbox world holds no appointable line of our companies")


def test_a_line_nipr_accepted_an_hour_ago_is_terminated_before_any_sync(any_backend_world, sandbox):
    """Appoint (NIPR accepts), then terminate before any NIPR sync: the line is not
    `Appointment Not Found` but In Good Standing, and NIPR accepts the termination; then the
    terminate export offers the line from the report built before the appointment."""
    import datetime as dt

    world = any_backend_world
    world.build_reports()  # before the appointment: the report cannot show the line

    line = appointable_line(world, sandbox)
    license_class_code = line.pop("license_class_code")
    now = dt.datetime.now(dt.UTC)
    with world.database.begin() as connection:
        connection.execute(
            TABLES["transaction_batches"].insert(),
            [
                {
                    "batch_id": "B-APPOINT",
                    "kind": "appointment",
                    "cocode": line["cocode"],
                    "status": statuses.BATCH_APPROVED,
                    "approval_version": 1,
                    "approved_by": "tester",
                    "approved_at": now,
                    "created_at": now,
                }
            ],
        )
        connection.execute(
            TABLES["transactions"].insert(),
            [
                {
                    **line,
                    "transaction_id": "T-APPOINT",
                    "batch_id": "B-APPOINT",
                    "kind": "appointment",
                    "request_row": 2,
                    "license_class_code": license_class_code,
                    "status": statuses.READY_TO_SUBMIT,
                    "idempotency_key": "B-APPOINT:1",
                    "created_at": now,
                }
            ],
        )
    gateway = gateway_for(sandbox)
    assert submit_batch(world.database, gateway, "B-APPOINT", 1, **FAST).action == "submitted"
    appointed = world.database.read_table("transactions").set_index("transaction_id")
    assert appointed.loc["T-APPOINT", "status"] == statuses.ACCEPTED
    synced = world.database.read_table("appointments")
    assert synced[
        (synced["npn"] == line["npn"])
        & (synced["state_code"] == line["state_code"])
        & (synced["cocode"] == line["cocode"])
        & (synced["loa_code"] == line["loa_code"])
    ].empty  # no sync has run: only the transaction knows

    # Appointing the same line again before the sync reads it as appointed (check 9: Already
    # Appointed), so NIPR and the state are never paid twice for it.
    with world.database.begin() as connection:
        appointment_inputs = read_eligibility_inputs(connection, [line["npn"]])["appointments"]
    (seen,) = appointment_inputs[
        (appointment_inputs["state_code"] == line["state_code"])
        & (appointment_inputs["cocode"] == line["cocode"])
        & (appointment_inputs["loa_code"] == line["loa_code"])
    ].to_dict("records")
    assert seen["status"] == "Appointed" and seen["accepted_transaction_id"] == "T-APPOINT"

    # The export, from the report built before the appointment, offers the line all the same.
    target = Path(world.store.root).parent / "after-appoint.csv"
    exported = CliRunner().invoke(
        npnflow_cli,
        [
            "export",
            "terminate",
            "--cocode",
            line["cocode"],
            "--states",
            line["state_code"],
            "--loas",
            line["loa_code"],
            "--submit-immediately",
            "-o",
            str(target),
            "--database-url",
            world.url,
        ],
    )
    assert exported.exit_code == 0, exported.output
    assert "Includes 1 line NIPR accepted since the last sync" in exported.output
    assert f"{line['npn']},{line['state_code']},{line['loa_code']}," in target.read_text()

    upload_id = world.drop_and_process("inbox/terminate/after-appoint.csv", target.read_bytes())
    (termination,) = world.transactions(upload_id).to_dict("records")
    assert termination["eligibility_reason"] == "In Good Standing", termination
    assert termination["status"] == statuses.READY_TO_SUBMIT
    (batch_id,) = world.batches(upload_id)["batch_id"]
    assert submit_batch(world.database, gateway, batch_id, 1, **FAST).action == "submitted"
    (after,) = world.transactions(upload_id).to_dict("records")
    assert after["status"] == statuses.ACCEPTED, after

    # Accepted now: the same line dropped again is never sent twice.
    again = world.drop_and_process(
        "inbox/terminate/after-appoint-again.csv", terminate_file(pd.DataFrame([line]))
    )
    assert world.transactions(again).empty


def _latest_page(instance: dg.DagsterInstance, upload_id: str) -> dict[str, object]:
    """The batches page as the UI's partition view shows it: the latest event's metadata."""
    records = [
        *instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=TERMINATION_BATCHES_KEY, asset_partitions=[upload_id]),
            limit=1,
        ).records,
        *instance.fetch_observations(
            dg.AssetRecordsFilter(asset_key=TERMINATION_BATCHES_KEY, asset_partitions=[upload_id]),
            limit=1,
        ).records,
    ]
    latest = max(records, key=lambda record: record.storage_id)
    event = latest.asset_materialization or latest.asset_observation
    assert event is not None
    return {key: getattr(value, "value", value) for key, value in event.metadata.items()}


def test_the_batch_page_follows_approval_and_completion_and_the_report_stays_fresh(
    any_backend_world, sandbox
):
    """One Dagster instance, as the UI's: the terminate file's batches page is Pending Review
    with "approve" as next step, then (approve_batch_job) Approved, then (the submission run,
    which logs each Gateway call) Completed with NIPR's Accepted count; the reports rebuilt
    after all that are up to date, and stay so when the page records another change."""
    world = any_backend_world
    lines = world.appointed_lines(30)
    lines = lines[lines["cocode"] == lines["cocode"].iloc[0]].head(3)  # one company: one batch
    with dg.instance_for_test() as instance:
        upload_id = world.drop_and_process(
            "inbox/terminate/review.csv", terminate_file(lines, submit_immediately=False), instance
        )
        batch_id = world.batches(upload_id)["batch_id"].iloc[0]
        page = _latest_page(instance, upload_id)
        assert page["status"] == statuses.BATCH_PENDING_REVIEW
        assert f"npnflow batches approve {batch_id}" in str(page["next"])

        definitions = build_definitions("local")
        approved = definitions.resolve_job_def("approve_batch_job").execute_in_process(
            instance=instance,
            resources={"database": world.database},
            run_config={
                "ops": {
                    "approve_pending_batch": {
                        "config": {"batch_id": batch_id, "approved_by": "Ana"}
                    }
                }
            },
        )
        assert approved.success
        page = _latest_page(instance, upload_id)
        assert page["status"] == statuses.BATCH_APPROVED
        assert "npnflow batches approve" not in str(page["next"])
        assert page["recorded_because"] == "approved by Ana (version 1)"

        instance.add_dynamic_partitions(BATCH_PARTITIONS.name, [batch_id])
        sent = dg.materialize(
            SUBMISSION_ASSETS,
            partition_key=batch_id,
            instance=instance,
            resources={"database": world.database, "nipr_gateway": gateway_for(sandbox)},
            tags={TAG_APPROVAL_VERSION: "1", TAG_BATCH_ID: batch_id},
        )
        assert sent.success
        # The run's log tells each Gateway call: chunk, count and NIPR's answer.
        logged = [entry.user_message for entry in instance.all_logs(sent.run_id)]
        call = f"batch {batch_id}: Gateway call 1: {len(lines)} transaction(s) sent; NIPR answered "
        assert any(message.startswith(call) for message in logged), logged
        page = _latest_page(instance, upload_id)
        assert page["status"] == statuses.BATCH_COMPLETED
        assert (page["accepted"], page["rejected"], page["to_send"]) == (len(lines), 0, 0)
        assert "approve" not in str(page["next"])

        world.build_reports(instance)
        assert stale_status(instance, "rpt_batch_status") == ("FRESH", [])
        # An observation newer than the report's build (what the CLI records after approve,
        # reject or retry) leaves the report up to date: only materializations make it stale.
        instance.report_runless_asset_event(
            dg.AssetObservation(
                asset_key=TERMINATION_BATCHES_KEY, partition=upload_id, metadata={"status": "x"}
            )
        )
        assert stale_status(instance, "rpt_batch_status") == ("FRESH", [])
