"""Exactly-once submission against the NIPR sandbox over HTTP (SPEC sections 8 and 13).

The sandbox counts how often each transaction reached it (`times_received` in
`/_sandbox/gateway/transactions`), so "never twice, never lost" is checked from NIPR's side, and
the database is checked against what NIPR decided. Scenarios: SIGKILL at random moments (each
kill's phase is read from the child's log), every fault kind with and without "NIPR recorded it
but the reply was lost", intermediate responses, a stale approval, two runs at once, a retry
asked for while a run is sending, and the PostgreSQL advisory lock.

Timeouts, backoffs and the settle wait are tiny, so the module runs in well under two minutes.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest
import requests
import sqlalchemy as sa
from click.testing import CliRunner

from assets.batches.approval import retry_batch
from assets.batches.events import batch_history
from assets.batches.store import approved_batches
from assets.keys import BATCH_PARTITIONS, TAG_APPROVAL_VERSION
from assets.submissions.assets import out_nipr__gateway_submissions
from assets.submissions.lock import BatchBusy
from assets.submissions.submission import SubmissionIncomplete, poll_batch, submit_batch
from npnflow.cli import main as npnflow_cli
from npnflow.sandbox.gateway import decide
from npnflow.sandbox.server import NiprSandbox
from resources.database import OperationalDatabase
from resources.nipr_gateway import NiprGateway
from schemas.migrate import upgrade
from schemas.tables import TABLES
from support.sandbox import sandbox_fixture
from support.waiting import scaled

pytestmark = pytest.mark.sandbox

TODAY = dt.date(2026, 3, 6)
COCODE = "99101"
REPO = Path(__file__).resolve().parents[2]
NEVER_SENT = ("Not Eligible", "Held (JIT)")
FAST = {
    "max_send_rounds": 3,
    "backoff_seconds": 0.02,
    "max_poll_rounds": 5,
    "poll_interval_seconds": 0.0,
}


sandbox = sandbox_fixture(
    seed=11, producers=300, today=TODAY, intermediate_fraction=0.2, polls_to_resolve=2
)


@pytest.fixture
def nipr(sandbox):
    sandbox.reset()
    yield sandbox
    sandbox.reset()


def gateway_for(sandbox: NiprSandbox, **changes) -> NiprGateway:
    config = dict(
        base_url=sandbox.base_url,
        username="sandbox",
        password="sandbox",
        customer_id="NPNFLOW",
        timeout_seconds=2.0,
        connect_timeout_seconds=1.0,
        settle_seconds=0.3,
    )
    config.update(changes)
    return NiprGateway(**config)


def fault(sandbox: NiprSandbox, **rule) -> None:
    response = requests.post(
        sandbox.base_url + "/_sandbox/faults", json={"target": "gateway", **rule}, timeout=5
    )
    assert response.status_code == 201, response.text


def sandbox_log(sandbox: NiprSandbox, batch_id: str) -> list[dict]:
    response = requests.get(sandbox.base_url + "/_sandbox/gateway/transactions", timeout=5)
    response.raise_for_status()
    return [t for t in response.json() if t["cust_batch"] == batch_id]


# ====================================================================== the batch
def world_lines(sandbox: NiprSandbox, approved: int, refused: int) -> list[tuple]:
    """(npn, state, license_class_code, loa_code) the sandbox will approve or refuse."""
    yes, no = [], []
    seen = set()
    for npn in sandbox.world.individual_npns():
        producer = sandbox.world.producer(npn)
        for lic in producer.licenses:
            for loa in lic.loas:
                line = (npn, lic.state, str(lic.class_code), str(loa.code))
                if line[:2] + line[3:] in seen:
                    continue
                seen.add(line[:2] + line[3:])
                ok, _, _ = decide(producer, "appointment", lic.state, COCODE, [line[3]], TODAY)
                (yes if ok else no).append(line)
    # Refusals the world does not make often enough on its own: unknown NPNs.
    no += [(f"9{i:07d}", "TX", "1", "16") for i in range(refused)]
    assert len(yes) >= approved and len(no) >= refused
    rng = random.Random(5)
    return rng.sample(yes, approved) + rng.sample(no, refused)


def make_database(
    url: str, sandbox: NiprSandbox, batch_id: str, approved: int = 190, refused: int = 60
) -> OperationalDatabase:
    """A migrated database with an Approved batch (version 1): approved + refused Ready to
    Submit transactions, plus 3 Not Eligible and 3 Held (JIT) that must never be sent."""
    upgrade(url)
    database = OperationalDatabase(url=url)
    lines = world_lines(sandbox, approved, refused)
    now = dt.datetime.now(dt.UTC)
    states = sorted({line[1] for line in lines})
    rows = []
    for i, (npn, state, class_code, loa) in enumerate(lines):
        rows.append(
            dict(
                transaction_id=f"{batch_id}-{i:04d}",
                batch_id=batch_id,
                kind="appointment",
                request_row=i + 2,
                npn=npn,
                state_code=state,
                cocode=COCODE,
                loa_code=loa,
                license_class_code=class_code,
                status="Ready to Submit",
                effective_date=TODAY + dt.timedelta(days=7) if i % 3 == 0 else None,
                estimated_fee=Decimal("10.00"),
                idempotency_key=f"{batch_id}:{i:04d}",
                created_at=now,
            )
        )
    for j, status in enumerate(NEVER_SENT * 3):
        line = lines[j]
        rows.append(
            dict(
                transaction_id=f"{batch_id}-X{j}",
                batch_id=batch_id,
                kind="appointment",
                request_row=None,
                npn=line[0],
                state_code=line[1],
                cocode=COCODE,
                loa_code="9999",
                license_class_code=line[2],
                status=status,
                effective_date=None,
                estimated_fee=None,
                idempotency_key=f"{batch_id}:X{j}",
                created_at=now,
            )
        )
    with database.begin() as connection:
        existing = set(connection.execute(sa.select(TABLES["companies"].c.cocode)).scalars())
        companies = [
            dict(cocode=c.cocode, company_name=c.name, fein=c.fein)
            for c in sandbox.world.companies
            if c.cocode not in existing
        ]
        if companies:
            connection.execute(sa.insert(TABLES["companies"]), companies)
        if COCODE not in existing:
            connection.execute(
                sa.insert(TABLES["company_state_settings"]),
                [dict(cocode=COCODE, state_code=s, state_company_id=f"{s}-7") for s in states],
            )
        connection.execute(
            sa.insert(TABLES["transaction_batches"]),
            [
                dict(
                    batch_id=batch_id,
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


def transactions_of(database: OperationalDatabase, batch_id: str) -> dict[str, dict]:
    t = TABLES["transactions"]
    with database.engine.connect() as connection:
        rows = connection.execute(sa.select(t).where(t.c.batch_id == batch_id)).mappings()
        return {row["idempotency_key"]: dict(row) for row in rows}


def batch_status(database: OperationalDatabase, batch_id: str) -> str:
    b = TABLES["transaction_batches"]
    with database.engine.connect() as connection:
        return connection.execute(
            sa.select(b.c.status).where(b.c.batch_id == batch_id)
        ).scalar_one()


def attempts_of(database: OperationalDatabase, batch_id: str) -> list[dict]:
    a = TABLES["submission_attempts"]
    with database.engine.connect() as connection:
        rows = connection.execute(
            sa.select(a).where(a.c.batch_id == batch_id).order_by(a.c.id)
        ).mappings()
        return [dict(r) for r in rows]


def assert_exactly_once(sandbox: NiprSandbox, database: OperationalDatabase, batch_id: str):
    """NIPR got every eligible transaction exactly once, nothing else, and our database says
    what NIPR decided."""
    log = sandbox_log(sandbox, batch_id)
    ours = transactions_of(database, batch_id)
    eligible = {k for k, t in ours.items() if t["status"] not in NEVER_SENT}
    received = Counter(t["cust_trans"] for t in log)
    assert all(n == 1 for n in received.values()), "a transaction was recorded twice"
    twice = {t["cust_trans"]: t["times_received"] for t in log if t["times_received"] != 1}
    assert twice == {}, f"sent more than once: {twice}"
    assert set(received) == eligible, (
        f"missing at NIPR: {sorted(eligible - set(received))[:5]}, "
        f"never-send ones sent: {sorted(set(received) - eligible)[:5]}"
    )
    statuses = Counter()
    for entry in log:
        row = ours[entry["cust_trans"]]
        expected = {"approved": "Accepted", "rejected": "Rejected"}[entry["status"]]
        assert row["status"] == expected, (entry, row)
        assert row["nipr_trans"] == str(entry["nipr_trans"])
        assert row["submitted_at"] is not None and row["completed_at"] is not None
        if expected == "Rejected":
            assert row["nipr_message"] == f"{entry['comments']} (NIPR {entry['comment_code']})"
        statuses[expected] += 1
    assert statuses["Accepted"] and statuses["Rejected"]
    assert batch_status(database, batch_id) == "Completed"
    return log


# ====================================================================== happy path
def test_a_batch_goes_out_once_and_intermediates_resolve_by_polling(nipr, tmp_path):
    database = make_database(f"sqlite:///{tmp_path / 'ops.db'}", nipr, "HAPPY")
    started = time.perf_counter()
    report = submit_batch(database, gateway_for(nipr), "HAPPY", 1, **FAST)
    elapsed = time.perf_counter() - started
    log = assert_exactly_once(nipr, database, "HAPPY")
    assert any(t["intermediate"] for t in log), "no intermediate response to resolve"
    assert report.chunks_sent == 3 and report.transactions_sent == 250
    assert report.batch_status == "Completed" and report.poll_rounds >= 1
    assert report.status_counts["Not Eligible"] == 3 and report.status_counts["Held (JIT)"] == 3
    attempts = attempts_of(database, "HAPPY")
    assert [(a["chunk"], a["transaction_count"], a["response_status"]) for a in attempts] == [
        (1, 100, "answered"),
        (2, 100, "answered"),
        (3, 50, "answered"),
    ]
    assert all(a["request_digest"] and a["answered_at"] for a in attempts)
    # The audit trail (issue 19): the batch handed to the Gateway by the sensor's run, then
    # NIPR's answers, each reply in the transaction that wrote it.
    with database.begin() as connection:
        history = batch_history(connection, "HAPPY")
    first = history[0]
    assert (first.event, first.actor, first.door, first.approval_version) == (
        "submitted",
        "approved_batch_sensor",
        "sensor",
        1,
    )
    assert {e.event for e in history[1:]} == {"answered"}
    assert all(e.actor == "NIPR Gateway" and e.door == "sensor" for e in history[1:])
    print(f"\n250 transactions submitted in {elapsed:.2f}s")

    again = submit_batch(database, gateway_for(nipr), "HAPPY", 1, **FAST)
    assert again.action == "skipped" and "Completed" in again.reason
    assert_exactly_once(nipr, database, "HAPPY")


def test_pending_state_review_is_left_for_poll_batch_which_never_sends(nipr, tmp_path):
    database = make_database(f"sqlite:///{tmp_path / 'ops.db'}", nipr, "PEND", 60, 20)
    report = submit_batch(database, gateway_for(nipr), "PEND", 1, **{**FAST, "max_poll_rounds": 0})
    assert report.batch_status == "Submitted"
    pending = [
        t
        for t in transactions_of(database, "PEND").values()
        if t["status"] == "Pending State Review"
    ]
    assert pending and all(t["nipr_message"].endswith("(NIPR 10003)") for t in pending)
    polled = poll_batch(database, gateway_for(nipr), "PEND", max_poll_rounds=4)
    assert polled.action == "polled" and polled.batch_status == "Completed"
    assert_exactly_once(nipr, database, "PEND")


def test_a_stale_approval_version_does_nothing(nipr, tmp_path):
    database = make_database(f"sqlite:///{tmp_path / 'ops.db'}", nipr, "STALE", 10, 5)
    b = TABLES["transaction_batches"]
    with database.begin() as connection:
        connection.execute(sa.update(b).where(b.c.batch_id == "STALE").values(approval_version=2))
    report = submit_batch(database, gateway_for(nipr), "STALE", 1, **FAST)
    assert report.action == "skipped" and "superseded" in report.reason
    assert sandbox_log(nipr, "STALE") == [] and attempts_of(database, "STALE") == []
    assert batch_status(database, "STALE") == "Approved"


def test_two_runs_at_once_one_is_busy_and_exactly_once_holds(nipr, tmp_path):
    database = make_database(f"sqlite:///{tmp_path / 'ops.db'}", nipr, "BUSY", 60, 20)
    fault(nipr, kind="slow", delay_seconds=0.8)  # holds the first run inside its first call
    outcome: dict = {}

    def first() -> None:
        outcome["report"] = submit_batch(
            OperationalDatabase(url=database.url), gateway_for(nipr), "BUSY", 1, **FAST
        )

    thread = threading.Thread(target=first)
    thread.start()
    deadline = time.monotonic() + scaled(5)
    while not attempts_of(database, "BUSY") and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(BatchBusy, match="another submission run is sending batch BUSY"):
        submit_batch(database, gateway_for(nipr), "BUSY", 1, **FAST)
    thread.join(timeout=20)
    assert outcome["report"].batch_status == "Completed"
    assert_exactly_once(nipr, database, "BUSY")


# ====================================================================== a retry during a run
def test_a_retry_during_a_submission_is_refused_and_can_never_strand_the_batch(
    nipr, tmp_path, monkeypatch
):
    """Issue 13, item 7. Run 1 is inside its one Gateway call when `npnflow batches retry`
    comes: refused, since run 1 holds the batch. A retry that got in anyway (the state change
    without the lock, as the command was before) made version 2 while run 1 went on sending:
    version 2's run is busy at first, then waits for run 1, and run 1, every line being final,
    completes the batch whatever its version. Before the fix the batch stayed Approved for
    ever, with nothing to send and every retry refused."""
    url = f"sqlite:///{tmp_path / 'ops.db'}"
    database = make_database(url, nipr, "RETRY", 60, 20)  # 80 lines: one call
    fault(nipr, kind="slow", delay_seconds=3.0)  # holds run 1 inside its call
    outcome: dict = {}

    def run_1() -> None:
        outcome["report"] = submit_batch(
            OperationalDatabase(url=url),
            gateway_for(nipr, timeout_seconds=10.0),
            "RETRY",
            1,
            **FAST,
        )

    thread = threading.Thread(target=run_1)
    thread.start()
    deadline = time.monotonic() + scaled(5)
    while not attempts_of(database, "RETRY") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert attempts_of(database, "RETRY"), "run 1 never reached its call"

    monkeypatch.setenv("NPNFLOW_DATABASE_URL", url)
    refused = CliRunner().invoke(npnflow_cli, ["batches", "retry", "RETRY", "--by", "Sam"])
    assert refused.exit_code == 1
    assert (
        "Not retried: batch RETRY is being submitted by a run right now (Dagster UI, Runs, "
        "tag npnflow/batch_id=RETRY); retry when it finishes" in refused.stderr
    )
    assert current_version(database, "RETRY") == 1

    with database.begin() as connection:
        retry_batch(connection, "RETRY", requested_by="Sam", now=dt.datetime.now(dt.UTC))
    assert current_version(database, "RETRY") == 2
    with pytest.raises(BatchBusy):
        submit_batch(database, gateway_for(nipr), "RETRY", 2, **FAST)

    # Version 2's run as submit_batch_job runs it: busy, it waits for run 1 (tiny waits here).
    monkeypatch.setattr(
        "assets.submissions.assets.BATCH_BUSY_RETRY_POLICY", dg.RetryPolicy(20, delay=0.25)
    )
    # Artifacts in the test's folder: a default ephemeral instance's temporary directory is
    # never cleaned up (a ResourceWarning when it is garbage collected).
    instance = dg.DagsterInstance.ephemeral(tempdir=str(tmp_path / "dagster"))
    instance.add_dynamic_partitions(BATCH_PARTITIONS.name, ["RETRY"])
    result = dg.materialize(
        [out_nipr__gateway_submissions],
        partition_key="RETRY",
        instance=instance,
        tags={TAG_APPROVAL_VERSION: "2"},
        resources={"database": OperationalDatabase(url=url), "nipr_gateway": gateway_for(nipr)},
    )
    thread.join(timeout=30)
    assert result.success
    waits = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert waits, "version 2's run never found the batch busy"
    (materialization,) = result.asset_materializations_for_node(
        out_nipr__gateway_submissions.op.name
    )
    assert materialization.metadata["action"].value == "skipped"

    assert outcome["report"].batch_status == "Completed"
    assert_exactly_once(nipr, database, "RETRY")
    assert current_version(database, "RETRY") == 2
    with database.engine.connect() as connection:
        assert approved_batches(connection, 200) == []
    again = CliRunner().invoke(npnflow_cli, ["batches", "retry", "RETRY", "--by", "Sam"])
    assert again.exit_code == 1 and "is Completed" in again.stderr


def current_version(database: OperationalDatabase, batch_id: str) -> int:
    b = TABLES["transaction_batches"]
    with database.engine.connect() as connection:
        return connection.execute(
            sa.select(b.c.approval_version).where(b.c.batch_id == batch_id)
        ).scalar_one()


# ====================================================================== faults
KINDS = ("http_500", "http_503", "timeout", "malformed_xml", "truncated")


@pytest.mark.parametrize("after_record", [False, True], ids=["not-recorded", "reply-lost"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_failed_call_leaves_honest_state_and_a_later_run_finishes(
    nipr, tmp_path, kind, after_record
):
    batch_id = f"F-{kind}-{int(after_record)}"
    database = make_database(f"sqlite:///{tmp_path / 'ops.db'}", nipr, batch_id, 120, 30)
    gateway = gateway_for(nipr)
    fault(nipr, kind=kind, after_record=after_record, delay_seconds=0.2)
    # One round only: the Gateway "stays down" for this run, which must fail loudly.
    with pytest.raises(SubmissionIncomplete, match="Run the submission again later"):
        submit_batch(database, gateway, batch_id, 1, **{**FAST, "max_send_rounds": 1})
    ours = transactions_of(database, batch_id)
    assert Counter(t["status"] for t in ours.values()) == {
        "Ready to Submit": 150,
        "Not Eligible": 3,
        "Held (JIT)": 3,
    }, "nothing may be marked without an answer"
    (attempt,) = attempts_of(database, batch_id)
    assert attempt["response_status"].startswith("unknown: ") and attempt["error_message"]
    assert batch_status(database, batch_id) == "Submitting"
    recorded_by_nipr = len(sandbox_log(nipr, batch_id))
    assert recorded_by_nipr == (100 if after_record else 0)

    report = submit_batch(database, gateway, batch_id, 1, **FAST)
    assert report.recovered_by_lookup == recorded_by_nipr
    assert report.transactions_sent == 150 - recorded_by_nipr
    assert_exactly_once(nipr, database, batch_id)


def test_faults_within_one_run_are_looked_up_then_finished_by_the_same_run(nipr, tmp_path):
    """The reply is lost, then the look-up fails too: the run polls NIPR-style instead and
    sends only what NIPR does not have."""
    database = make_database(f"sqlite:///{tmp_path / 'ops.db'}", nipr, "INRUN", 120, 30)
    fault(nipr, kind="http_503", after_record=True, count=1)  # the first send
    fault(nipr, kind="malformed_xml", count=1)  # the look-up that follows
    report = submit_batch(database, gateway_for(nipr), "INRUN", 1, **FAST)
    assert report.unknown_outcomes == 100 and report.recovered_by_lookup == 100
    assert report.transactions_sent == 50
    assert_exactly_once(nipr, database, "INRUN")


def test_a_request_still_in_flight_after_a_timeout_is_not_overtaken_by_a_resend(nipr, tmp_path):
    """NIPR is slow: the client gives up after 0.3 s, NIPR records the request at 0.5 s. The
    look-up waits for the call to settle (0.8 s), so it sees the late recording."""
    database = make_database(f"sqlite:///{tmp_path / 'ops.db'}", nipr, "LATE", 40, 10)
    fault(nipr, kind="slow", delay_seconds=0.5, count=1)
    gateway = gateway_for(nipr, timeout_seconds=0.3, settle_seconds=0.8)
    report = submit_batch(database, gateway, "LATE", 1, **FAST)
    assert report.unknown_outcomes == 50 and report.recovered_by_lookup == 50
    assert report.transactions_sent == 0  # the timed-out call is not counted as answered
    assert_exactly_once(nipr, database, "LATE")


def test_a_gateway_that_stays_down_fails_the_run_after_bounded_retries(nipr, tmp_path):
    database = make_database(f"sqlite:///{tmp_path / 'ops.db'}", nipr, "DOWN", 20, 5)
    fault(nipr, kind="http_500", count=1000)
    with pytest.raises(SubmissionIncomplete) as failure:
        submit_batch(database, gateway_for(nipr), "DOWN", 1, **FAST)
    assert len(failure.value.report.problems) == 3
    assert all(
        t["status"] in ("Ready to Submit", *NEVER_SENT)
        for t in transactions_of(database, "DOWN").values()
    )
    nipr.faults.clear()
    submit_batch(database, gateway_for(nipr), "DOWN", 1, **FAST)
    assert_exactly_once(nipr, database, "DOWN")


# ====================================================================== SIGKILL
CHILD = textwrap.dedent(
    """
    import logging, sys, time
    from assets.submissions.submission import submit_batch
    from resources.database import OperationalDatabase
    from resources.nipr_gateway import NiprGateway

    url, base_url, batch_id, phase_file = sys.argv[1:5]

    class Stretch(logging.FileHandler):
        # Widen the windows between the ledger, the call and the recording of its reply, which
        # last microseconds otherwise, so random kills land in them too.
        def emit(self, record):
            super().emit(record)
            if record.getMessage().split()[0] in STRETCHED:
                time.sleep(0.04)

    STRETCHED = {"phase:attempt-recorded", "phase:replied", "phase:reply-recorded"}
    logger = logging.getLogger("child")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(Stretch(phase_file))
    logger.debug("phase:started ")
    submit_batch(
        OperationalDatabase(url=url),
        NiprGateway(base_url=base_url, username="sandbox", password="sandbox",
                    timeout_seconds=2.0, connect_timeout_seconds=1.0, settle_seconds=0.3),
        batch_id, 1, log=logger, chunk_size=4, max_send_rounds=3, backoff_seconds=0.02,
        max_poll_rounds=2, poll_interval_seconds=0.0,
    )
    logger.debug("phase:done")
    """
)
PHASES = {
    "started": "before the look-up (start-up, lock, settle wait)",
    "lookup": "during the look-up",
    "attempt-recorded": "between the attempt row and the call",
    "calling": "during the call",
    "replied": "after the reply, before it was recorded",
    "reply-recorded": "after a chunk was recorded, before the next attempt row",
    "polling": "while polling",
    "done": "after the run finished",
}


def last_phase(path: Path) -> str:
    lines = [line for line in path.read_text().splitlines() if line.startswith("phase:")]
    return lines[-1].split()[0].removeprefix("phase:") if lines else "started"


TARGETS = ("attempt-recorded", "calling", "replied", "reply-recorded", None)


def test_sigkill_at_random_moments_never_sends_twice_or_loses_one(nipr, tmp_path):
    """Kill the run 22 times. Each run aims at one window in turn (the k-th time the child
    enters it, k random, then a random delay inside it), and every fifth run is killed at a
    purely random moment after start-up; then one run finishes the batch."""
    database = make_database(f"sqlite:///{tmp_path / 'ops.db'}", nipr, "KILL")
    # Every Gateway request takes 40 ms, so "during the call" is a window too.
    fault(nipr, kind="slow", delay_seconds=0.04, count=100_000)
    rng = random.Random(20260306)
    phases: Counter[str] = Counter()
    kills = runs = 0
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    while kills < 22 and runs < 60:
        target = TARGETS[runs % len(TARGETS)]
        occurrence = rng.randint(1, 2)
        delay = rng.uniform(0.0, 0.03) if target else rng.uniform(0.0, 0.4)
        runs += 1
        phase_file = tmp_path / f"phases-{runs}.log"
        phase_file.touch()
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, database.url, nipr.base_url, "KILL", str(phase_file)],
            cwd=REPO,
            env=env,
            stderr=subprocess.PIPE,
        )
        marker = f"phase:{target or 'started'} "
        deadline = time.monotonic() + scaled(30)
        while phase_file.read_text().count(marker) < (occurrence if target else 1):
            if child.poll() is not None:
                break
            assert time.monotonic() < deadline, "the child never reached its window"
            time.sleep(0.002)
        time.sleep(delay)
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
            child.wait()
            kills += 1
            phases[last_phase(phase_file)] += 1
        else:
            assert child.returncode == 0, child.stderr.read().decode()[-2000:]
            phases["finished before the kill"] += 1
        child.stderr.close()
    assert kills >= 20
    nipr.faults.clear()
    report = submit_batch(database, gateway_for(nipr), "KILL", 1, **FAST)
    assert report.batch_status == "Completed"
    assert_exactly_once(nipr, database, "KILL")
    attempts = attempts_of(database, "KILL")
    print(f"\n{kills} SIGKILLs in {runs} runs; {len(attempts)} attempt rows; kills by phase:")
    for phase, count in phases.most_common():
        print(f"  {count:3d}  {PHASES.get(phase, phase)}")
    # The kills hit the dangerous windows, not only start-up.
    for phase in ("attempt-recorded", "calling", "replied"):
        assert phases[phase] >= 2, f"only {phases[phase]} kill(s) landed {PHASES[phase]}"


# ====================================================================== PostgreSQL
@pytest.mark.postgres
def test_postgres_happy_path_and_the_advisory_lock_dies_with_its_holder(nipr, fresh_postgres_url):
    database = make_database(fresh_postgres_url, nipr, "PG", 120, 30)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import sys, time, sqlalchemy as sa
                from assets.submissions.lock import batch_lock
                with batch_lock(sa.create_engine(sys.argv[1]), "PG"):
                    print("locked", flush=True)
                    time.sleep(60)
                """
            ),
            fresh_postgres_url,
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline().strip() == b"locked"
        with sa.create_engine(fresh_postgres_url).connect() as connection:  # a real advisory lock
            held = connection.execute(
                sa.select(sa.func.count())
                .select_from(sa.text("pg_locks"))
                .where(
                    sa.text(
                        "locktype = 'advisory' AND granted AND database = "
                        "(SELECT oid FROM pg_database WHERE datname = current_database())"
                    )
                )
            ).scalar_one()
        assert held == 1
        with pytest.raises(BatchBusy, match="batch PG"):
            submit_batch(database, gateway_for(nipr), "PG", 1, **FAST)
        assert sandbox_log(nipr, "PG") == [] and attempts_of(database, "PG") == []
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        holder.stdout.close()
    deadline = time.monotonic() + scaled(5)
    while True:  # the server ends the dead session (and its lock) as soon as it sees the EOF
        try:
            report = submit_batch(database, gateway_for(nipr), "PG", 1, **FAST)
            break
        except BatchBusy:
            assert time.monotonic() < deadline, "the lock outlived its SIGKILLed holder"
            time.sleep(0.05)
    assert report.batch_status == "Completed"
    assert_exactly_once(nipr, database, "PG")
    database.engine.dispose()
