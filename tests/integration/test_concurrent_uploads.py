"""Two uploads processed at the same moment never send a line twice (issue 13).

Each file is processed by its own OS process, as the daemon's run queue runs them: the whole
`process_upload_job` selection (read, validate, evaluate, batch) materialized for the file's
partition, all processes released together once they have imported everything. They share the
operational database (SQLite file, or PostgreSQL) and the bucket. Then every batch left
Approved is submitted to the NIPR sandbox over HTTP, and the sandbox's own log (what NIPR
received, with `times_received`) must hold every requested line exactly once.

Before the content claim (migration 0006) and the serialised line claim, both scenarios sent every
line twice: the duplicate check only saw uploads already Processed, and the repeat check read
and then wrote in a transaction nothing serialised.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import requests
import sqlalchemy as sa

from assets.submissions.submission import submit_batch
from resources.database import OperationalDatabase
from resources.nipr_gateway import NiprGateway
from schemas import statuses
from support.sandbox import sandbox_fixture
from support.seed import seeded_database
from support.waiting import scaled

pytestmark = pytest.mark.sandbox

REPO = Path(__file__).resolve().parents[2]
TODAY = dt.date.today()
FAR = TODAY + dt.timedelta(days=700)
NPNS = ("1000001", "1000002", "1000003")
HEADER = "NPN,States,CoCode,LOA Category,Agent Type,Submit,Submit Just In Time"
# Each producer holds TX (Life 825), CA (Life 16) and VA (line 42, Life & Health).
LICENSES = (("TX", "465", "825"), ("CA", "3", "16"), ("VA", "3", "42"))
FAST = {"max_send_rounds": 3, "backoff_seconds": 0.02, "max_poll_rounds": 3}
PROCESSES = 3

sandbox = sandbox_fixture(seed=13, producers=50, today=TODAY)


def _rows(*lines: tuple[str, str, str]) -> bytes:
    """An appoint file whose rows all ask to be sent now (Submit and Submit JIT TRUE)."""
    body = [f"{npn},{state},91234,{category},Producer,TRUE,TRUE" for npn, state, category in lines]
    return "\r\n".join([HEADER, *body, ""]).encode()


def _world() -> dict[str, pd.DataFrame]:
    producers, licenses, loas = [], [], []
    for npn in NPNS:
        producers.append(
            {
                "npn": npn,
                "first_name": "Ann",
                "last_name": f"Lee {npn[-1]}",
                "agent_type": "Producer",
                "is_active": True,
                "sync_status": "Success",
            }
        )
        for state, license_class, loa in LICENSES:
            number = f"{state}-{npn}"
            licenses.append(
                {
                    "npn": npn,
                    "state_code": state,
                    "license_number": number,
                    "license_class_code": license_class,
                    "is_resident": state == "TX",
                    "is_active": True,
                    "expiration_date": FAR,
                }
            )
            loas.append(
                {
                    "npn": npn,
                    "state_code": state,
                    "license_number": number,
                    "license_class_code": license_class,
                    "loa_code": loa,
                    "is_active": True,
                }
            )
    return {
        "producers": pd.DataFrame(producers),
        "licenses": pd.DataFrame(licenses),
        "license_loas": pd.DataFrame(loas),
    }


CHILD = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    import dagster as dg
    from assets.appointments.assets import APPOINTMENT_ASSETS
    from assets.keys import UPLOADS_PARTITIONS
    from assets.uploads.assets import UPLOAD_ASSETS
    from assets.uploads.inbox import partition_key_for
    from assets.uploads.ledger import run_tags
    from resources.database import OperationalDatabase
    from resources.object_store import LocalFolderObjectStore
    from resources.ssn import SsnVault

    args = json.loads(sys.argv[1])
    store = LocalFolderObjectStore(root=args["bucket"])
    etag = next(o.etag for o in store.list_objects(prefix=args["key"]) if o.key == args["key"])
    partition = partition_key_for(args["key"], etag)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(UPLOADS_PARTITIONS.name, [partition])
    Path(args["ready"]).touch()
    deadline = time.monotonic() + 120
    while not Path(args["go"]).exists() and time.monotonic() < deadline:
        time.sleep(0.002)
    result = dg.materialize(
        [*UPLOAD_ASSETS, *APPOINTMENT_ASSETS],
        partition_key=partition,
        instance=instance,
        resources={
            "database": OperationalDatabase(url=args["url"]),
            "object_store": store,
            "ssn_vault": SsnVault(key=None),
        },
        tags=run_tags(args["key"], etag, "appoint"),
        raise_on_error=False,
    )
    errors = [
        str(e.event_specific_data.error.message)
        for e in result.all_events if e.event_type_value == "STEP_FAILURE"
    ]
    print(json.dumps({"partition": partition, "success": result.success, "errors": errors}))
    """
)


def _process_together(url: str, bucket: Path, files: dict[str, bytes], work: Path) -> list[dict]:
    """Drop every file, then process each in its own process, all released at once."""
    from resources.object_store import LocalFolderObjectStore

    store = LocalFolderObjectStore(root=str(bucket))
    for key, data in files.items():
        store.put_bytes(key, data)
    go = work / "go"
    children = []
    for i, key in enumerate(files):
        ready = work / f"ready-{i}"
        args = {
            "url": url,
            "bucket": str(bucket),
            "key": key,
            "ready": str(ready),
            "go": str(go),
        }
        children.append(
            (
                ready,
                subprocess.Popen(
                    [sys.executable, "-c", CHILD, json.dumps(args)],
                    cwd=REPO,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env={**__import__("os").environ, "PYTHONPATH": str(REPO)},
                ),
            )
        )
    deadline = time.monotonic() + scaled(120)
    while not all(ready.exists() for ready, _ in children):
        exited = [p for _, p in children if p.poll() is not None]
        assert not exited, exited[0].stderr.read().decode()[-3000:] if exited else ""
        assert time.monotonic() < deadline, "the processes never got ready"
        time.sleep(0.05)
    go.touch()
    outcomes = []
    for _, process in children:
        out, err = process.communicate(timeout=scaled(300))
        assert process.returncode == 0, err.decode()[-3000:]
        outcomes.append(json.loads(out.decode().strip().splitlines()[-1]))
    return outcomes


def _submit_everything_approved(database: OperationalDatabase, sandbox) -> None:
    with database.engine.connect() as connection:
        approved = connection.execute(
            sa.text("SELECT batch_id, approval_version FROM transaction_batches WHERE status = :s"),
            {"s": statuses.BATCH_APPROVED},
        ).all()
    gateway = NiprGateway(
        base_url=sandbox.base_url,
        username="sandbox",
        password="sandbox",
        customer_id="NPNFLOW",
        timeout_seconds=5.0,
        connect_timeout_seconds=2.0,
        settle_seconds=0.2,
    )
    for batch_id, version in approved:
        submit_batch(database, gateway, batch_id, int(version), **FAST)


def _received(sandbox) -> Counter[tuple[str, str, str, str]]:
    response = requests.get(sandbox.base_url + "/_sandbox/gateway/transactions", timeout=10)
    response.raise_for_status()
    received: Counter[tuple[str, str, str, str]] = Counter()
    for entry in response.json():
        for loa in entry["loa_codes"]:
            received[(entry["npn"], entry["state"], entry["cocode"], loa)] += entry[
                "times_received"
            ]
    return received


def _race(url: str, tmp_path: Path, sandbox, files: dict[str, bytes]):
    sandbox.reset()
    database = seeded_database(url, _world())
    work = tmp_path / "work"
    work.mkdir()
    outcomes = _process_together(url, tmp_path / "bucket", files, work)
    assert all(o["success"] for o in outcomes), outcomes
    _submit_everything_approved(database, sandbox)
    return database, outcomes, _received(sandbox)


def test_identical_files_dropped_together_send_each_line_once(database_url, tmp_path, sandbox):
    data = _rows(*[(npn, "TX", "Life") for npn in NPNS], (NPNS[0], "CA", "Life"))
    files = {f"inbox/appoint/same-{i}.csv": data for i in range(PROCESSES)}
    database, outcomes, received = _race(database_url, tmp_path, sandbox, files)

    expected = {(npn, "TX", "91234", "825") for npn in NPNS} | {(NPNS[0], "CA", "91234", "16")}
    assert set(received) == expected, received
    assert all(n == 1 for n in received.values()), f"a line was sent twice: {received}"
    uploads = database.read_table("uploads")
    assert sorted(uploads["status"]) == ["Duplicate"] * (PROCESSES - 1) + ["Processed"]
    first = uploads.loc[uploads["status"].eq("Processed"), "upload_id"].item()
    assert set(uploads.loc[uploads["status"].eq("Duplicate"), "duplicate_of"]) == {first}
    assert uploads["completed_at"].notna().all()


def test_overlapping_files_processed_together_send_each_line_once(database_url, tmp_path, sandbox):
    # Every file asks for TX of every producer; each adds a line of its own.
    own = [(NPNS[0], "CA", "Life"), (NPNS[1], "CA", "Life"), (NPNS[2], "CA", "Life")]
    files = {
        f"inbox/appoint/overlap-{i}.csv": _rows(*[(n, "TX", "Life") for n in NPNS], own[i])
        for i in range(PROCESSES)
    }
    database, outcomes, received = _race(database_url, tmp_path, sandbox, files)

    expected = {(npn, "TX", "91234", "825") for npn in NPNS} | {
        (npn, "CA", "91234", "16") for npn in NPNS
    }
    assert set(received) == expected, received
    assert all(n == 1 for n in received.values()), f"a line was sent twice: {received}"
    uploads = database.read_table("uploads")
    assert (uploads["status"] == "Processed").all() and uploads["completed_at"].notna().all()
    # The TX lines were created once; the other files' copies are reported as repeats, and
    # no open transaction exists twice for a line.
    transactions = database.read_table("transactions")
    sent = transactions[
        transactions["state_code"].eq("TX") & transactions["status"].ne(statuses.NOT_ELIGIBLE)
    ]
    assert len(sent) == len(NPNS), sent[["upload_id", "npn", "loa_code", "status"]]
