"""The README's walkthrough, driven as a newcomer types it, so it cannot rot again.

On one throwaway data folder (NPNFLOW_DATA_DIR): `npnflow demo` twice (the second continues on
the first one's data), then `npnflow ui` (a real `dagster dev` with its daemon, and the NIPR
sandbox of the data folder's world), then step 7 with the real CLI: `npnflow export terminate`,
`npnflow drop`, the inbox sensor picks the file up by itself (`npnflow ui` starts the
walkthrough's sensors), `npnflow batches approve`, and the batch ends Completed with its lines
Accepted by the sandbox's NIPR: the same producers the demo onboarded.

Every process it starts is stopped: `npnflow ui` with SIGINT (it stops its `dagster dev`
group), then whatever is left of both groups is killed. Deadlines are idle-machine seconds
times NPNFLOW_TEST_TIME_SCALE; a timeout says what the test last saw.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from assets.batches import approval
from assets.uploads import ledger
from resources import paths
from resources.database import OperationalDatabase
from schemas import statuses
from support.ports import free_ports
from support.processes import start_in_own_group, stop_groups, tail
from support.waiting import scaled, wait_until

pytestmark = [pytest.mark.sandbox, pytest.mark.webserver, pytest.mark.daemon]

BIN = Path(sys.executable).parent
COCODE, STATE = "91234", "CA"  # README step 7
APPROVER = "Walkthrough Analyst"
# What the environment of a newcomer's shell does not set: the demo and the UI choose these.
UNSET = (
    "DAGSTER_HOME",
    "NPNFLOW_ENV",
    "DAGSTER_DEPLOYMENT",
    "NPNFLOW_DATABASE_URL",
    "NPNFLOW_BUCKET_DIR",
    "NPNFLOW_OUTBOX_DIR",
    "NPNFLOW_NIPR_SANDBOX_URL",
    "NPNFLOW_SENSORS_RUNNING",
    "NPNFLOW_SENSOR_INTERVAL_SECONDS",
)


class Walkthrough:
    def __init__(self, tmp_path: Path):
        self.folder = tmp_path
        self.data = tmp_path / "data"
        self.env = {k: v for k, v in os.environ.items() if k not in UNSET}
        self.env.update(
            NPNFLOW_DATA_DIR=str(self.data),
            # The worktree's code, whatever the virtualenv's editable install points at.
            PYTHONPATH=os.pathsep.join(
                [str(paths.PROJECT_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
            GX_ANALYTICS_ENABLED="false",
            DBT_SEND_ANONYMOUS_USAGE_STATS="false",
            DAGSTER_DISABLE_TELEMETRY="true",
        )
        self.started = time.monotonic()
        self.timeline: list[str] = []
        self.ui: subprocess.Popen[bytes] | None = None
        self.dev_pid: int | None = None
        self.log = tmp_path / "ui.log"

    def mark(self, what: str) -> None:
        line = f"{time.monotonic() - self.started:6.1f} s  {what}"
        self.timeline.append(line)
        print(line, flush=True)

    def npnflow(self, *args: str, timeout: float = 120) -> str:
        done = subprocess.run(
            [str(BIN / "npnflow"), *args],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=scaled(timeout),
        )
        assert done.returncode == 0, (
            f"npnflow {' '.join(args)} exited {done.returncode}:\n{done.stdout[-6000:]}\n"
            f"{done.stderr[-3000:]}"
        )
        self.mark(f"npnflow {' '.join(args[:3])}")
        return done.stdout

    def start_ui(self, port: int, sandbox_port: int) -> None:
        command = [str(BIN / "npnflow"), "ui", "--port", str(port)]
        command += ["--sandbox-port", str(sandbox_port)]
        self.ui = start_in_own_group(command, env=self.env, log=self.log, cwd=self.folder)

    def alive(self) -> None:
        assert self.ui is not None
        if self.ui.poll() is not None:
            raise AssertionError(f"npnflow ui exited with {self.ui.returncode}:\n{tail(self.log)}")
        if self.dev_pid is None:
            self.dev_pid = _child_of(self.ui.pid)

    def stop(self) -> None:
        if self.ui is None:
            return
        stop_groups([self.ui], grace=30)
        # `npnflow ui` stops its `dagster dev` group; should it not have, the test does.
        if self.dev_pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.dev_pid, signal.SIGKILL)


def _child_of(pid: int) -> int | None:
    """The first child process of `pid` (Linux /proc), or None."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return None
    return int(children[0]) if children else None


def _run_timings(data: Path, since: float) -> list[str]:
    """Where the time after a drop (or an approval) went: for each run created since `since`,
    seconds until it was requested (the sensor's tick), started (the run queue and the worker
    process) and ended. What docs/decisions/0027 quotes."""
    import dagster as dg

    lines = []
    with dg.DagsterInstance.from_config(str(data / "dagster_home")) as instance:
        for record in reversed(instance.get_run_records(limit=20)):
            if record.create_timestamp.timestamp() < since:
                continue

            def after(moment: float | None) -> str:
                return f"+{moment - since:.1f} s" if moment else "not yet"

            lines.append(
                f"    {record.dagster_run.job_name}: requested "
                f"{after(record.create_timestamp.timestamp())}, started "
                f"{after(record.start_time)}, ended {after(record.end_time)}"
            )
    return lines


def _graphql(base_url: str, query: str) -> dict:
    response = requests.post(f"{base_url}/graphql", json={"query": query}, timeout=30)
    response.raise_for_status()
    body = response.json()
    assert not body.get("errors"), body["errors"]
    return dict(body["data"])


def _ready(base_url: str) -> bool:
    data = _graphql(
        base_url,
        "{ instance { daemonHealth { allDaemonStatuses { daemonType healthy } } } "
        "  workspaceOrError { ... on Workspace { locationEntries { loadStatus } } } }",
    )
    healthy = {
        d["daemonType"]
        for d in data["instance"]["daemonHealth"]["allDaemonStatuses"]
        if d["healthy"]
    }
    entries = data["workspaceOrError"]["locationEntries"]
    loaded = bool(entries) and all(e["loadStatus"] == "LOADED" for e in entries)
    return loaded and {"SENSOR", "QUEUED_RUN_COORDINATOR"} <= healthy


def test_the_readme_walkthrough_demo_twice_then_step_7_in_the_ui(tmp_path):
    walk = Walkthrough(tmp_path)
    # Steps 1 and 2: the demo, and again on the same data folder.
    first = walk.npnflow("demo", timeout=400)
    assert "Starting a new world in the data folder" in first
    assert "Completed" in first
    second = walk.npnflow("demo", timeout=400)
    assert "Continuing on the data folder" in second and "demo run 2" in second
    assert "Duplicate" in second  # the same roster again is processed once

    database = OperationalDatabase(url=f"sqlite:///{walk.data / 'npnflow.db'}")
    uploads_before = set(database.read_table("uploads", ["upload_id"]).upload_id)
    port, sandbox_port = free_ports(2)
    base_url = f"http://127.0.0.1:{port}"
    walk.start_ui(port, sandbox_port)
    try:
        wait_until(
            lambda: _ready(base_url),
            f"npnflow ui's webserver at {base_url} with its code location and daemon",
            120,
            check=walk.alive,
            ignore=(requests.RequestException, KeyError, TypeError),
            describe=lambda: tail(walk.log),
        )
        walk.mark("npnflow ui: webserver, code location and daemon up")

        # Step 7, as the README says it.
        walk.npnflow("export", "terminate", "--cocode", COCODE, "--states", STATE, "-o", "t.xlsx")
        walk.npnflow("drop", "t.xlsx", "--kind", "terminate")
        dropped_at = time.time()
        key = "inbox/terminate/t.xlsx"

        def batches_of_the_file():
            uploads = database.read_table("uploads", ["upload_id", "object_key", "status"])
            mine = uploads[uploads.object_key == key]
            if mine.empty or mine.status.iloc[0] != ledger.PROCESSED:
                return None
            with database.begin() as connection:
                found = approval.list_batches(connection, upload_id=mine.upload_id.iloc[0])
            return {"batches": found} if len(found) else None

        def uploads_seen() -> str:
            uploads = database.read_table("uploads", ["object_key", "status"])
            return f"uploads: {uploads.tail(4).to_dict('records')}\n{tail(walk.log, 30)}"

        batches = wait_until(
            batches_of_the_file,
            f"{key} processed by the run inbox_file_sensor requests, with its batch",
            120,
            check=walk.alive,
            describe=uploads_seen,
        )["batches"]
        walk.mark("the dropped file's batch is there (sensor -> process_upload_job)")
        walk.timeline += _run_timings(walk.data, dropped_at)
        # Switching the sensor on after the demo processed only the new file.
        uploads_after = database.read_table("uploads", ["upload_id", "object_key"])
        new = uploads_after[~uploads_after.upload_id.isin(uploads_before)]
        assert list(new.object_key) == [key]

        waiting = batches[batches.status == statuses.BATCH_PENDING_REVIEW]
        assert len(waiting) == 1, batches.to_string()
        batch_id = str(waiting.batch_id.iloc[0])
        walk.npnflow("batches", "approve", batch_id, "--by", APPROVER)
        approved_at = time.time()

        def completed():
            frame = database.read_table("transaction_batches", ["batch_id", "status"])
            status = frame[frame.batch_id == batch_id].status.iloc[0]
            return status == statuses.BATCH_COMPLETED

        def batch_seen() -> str:
            lines = database.read_table("transactions", ["batch_id", "status", "nipr_message"])
            mine = lines[lines.batch_id == batch_id]
            return f"{mine.to_dict('records')}\n{tail(walk.log, 30)}"

        wait_until(
            completed,
            f"batch {batch_id} Completed (approved_batch_sensor -> submit_batch_job)",
            120,
            check=walk.alive,
            describe=batch_seen,
        )
        walk.mark(f"batch {batch_id} Completed")
        walk.timeline += _run_timings(walk.data, approved_at)
        lines = database.read_table("transactions", ["batch_id", "status", "nipr_message"])
        sent = lines[
            (lines.batch_id == batch_id) & lines.status.isin([statuses.ACCEPTED, statuses.REJECTED])
        ]
        assert len(sent) and set(sent.status) == {statuses.ACCEPTED}, sent.to_string()
        print("\n".join(walk.timeline))
    finally:
        walk.stop()
        database.engine.dispose()
    assert walk.ui is not None and walk.ui.poll() is not None
    with pytest.raises(requests.RequestException):
        requests.get(f"{base_url}/server_info", timeout=2)
