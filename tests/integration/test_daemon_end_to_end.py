"""The production shape, end to end: `dagster-daemon` and `dagster-webserver` on PostgreSQL
instance storage (deploy/dagster.yaml, dagster-postgres), the operational database on
PostgreSQL (NPNFLOW_ENV=ci), a local bucket folder and the NIPR sandbox.

An operator turns the sensors on and loads the reference data through the webserver, as from
the UI; then files are dropped into the bucket. The daemon's sensors and schedule launch every
other run: the agent file is processed and its producers synced; the daily sync schedule ticks
and syncs NIPR's day; an appoint file and a terminate file (exported from the licensing report
with `npnflow reports build` and `npnflow export terminate`) are processed, their batches
submitted to the sandbox's Gateway (approved automatically, or with `npnflow batches approve`,
the only manual step) and Completed, each transaction received by NIPR exactly once.

NPNFLOW_SENSOR_INTERVAL_SECONDS shortens the sensors' 30 s intervals and
NPNFLOW_NIPR_SYNC_CRON makes the daily sync schedule tick every minute (it is turned off after
its first run); the sandbox's clock is frozen at noon of NIPR's (Central) day so the day's PDB
Alerts report is published whatever the hour.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest
import requests
import sqlalchemy as sa
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter
from sqlalchemy.pool import NullPool

from assets.batches import approval
from assets.reference.loading import load_company_config, load_reference_data
from assets.reports.relations import read_report
from npnflow.demo.samples import UNKNOWN_NPN
from npnflow.demo.samples import roster as _roster
from npnflow.demo.samples import sample_agent_file as _sample_agent_file
from npnflow.demo.samples import sample_appoint_file as _sample_appoint_file
from npnflow.sandbox.server import NiprSandbox
from resources import paths
from resources.database import OperationalDatabase
from schemas import statuses
from schemas.migrate import upgrade
from support import waiting
from support.ports import free_port
from support.processes import start_in_own_group, stop_groups
from support.sandbox import running_sandbox
from support.waiting import scaled

pytestmark = [pytest.mark.postgres, pytest.mark.sandbox, pytest.mark.webserver, pytest.mark.daemon]

LOCATION = "npnflow"  # workspace.yaml's location_name
REPOSITORY = "__repository__"  # a module's Definitions
SENSORS = (
    "inbox_file_sensor",
    "onboarded_producers_sensor",
    "approved_batch_sensor",
    "submitted_batches_poll_sensor",
)
DAILY_SCHEDULE = "daily_nipr_sync_schedule"
CENTRAL = ZoneInfo("America/Chicago")
APPROVER = "Daemon Test Analyst"
SENSOR_TAG = "dagster/sensor_name"
SCHEDULE_TAG = "dagster/schedule_name"
FINISHED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
SENT = {statuses.ACCEPTED, statuses.REJECTED}
BIN = Path(sys.executable).parent
T = TypeVar("T")


@pytest.fixture
def dagster_storage_url(fresh_postgres_url) -> Iterator[sa.URL]:
    """A second fresh database on the same server, for Dagster's own storage: the instance
    never shares a database with the operational tables."""
    server = sa.make_url(fresh_postgres_url)
    name = f"{server.database}_dagster"  # a generated identifier, never user input
    engine = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with engine.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name)
    finally:
        with engine.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


class Deployment:
    """The daemon and the webserver as subprocesses, and what the test reads back: the Dagster
    instance (PostgreSQL) and the operational database."""

    def __init__(self, tmp_path: Path, env: dict[str, str], database_url: str):
        self.tmp_path = tmp_path
        self.env = env
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        self.instance: DagsterInstance | None = None
        self.database = OperationalDatabase(url=database_url)
        self.started = time.monotonic()
        self.timeline: list[str] = []

    def mark(self, what: str) -> None:
        """Note how long the test has run when a step is done (printed; and on failure)."""
        line = f"{time.monotonic() - self.started:6.1f} s  {what}"
        self.timeline.append(line)
        print(line, flush=True)

    # ------------------------------------------------------------------ processes
    def start(self, name: str, command: list[str]) -> None:
        log = self.tmp_path / f"{name}.log"
        self.logs[name] = log
        # Its own group: the code servers and runs go with it.
        self.processes[name] = start_in_own_group(command, env=self.env, log=log)

    def stop(self) -> None:
        stop_groups(self.processes.values(), grace=20)
        if self.instance is not None:
            self.instance.dispose()
        self.database.engine.dispose()

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise AssertionError(f"{name} exited with status {process.returncode}")

    def cli(self, *args: str, timeout: float = 120) -> str:
        """An `npnflow` command as an operator types it, in the deployment's environment
        (`timeout` in idle-machine seconds, scaled)."""
        done = subprocess.run(
            [str(BIN / "npnflow"), *args],
            cwd=self.tmp_path,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=scaled(timeout),
        )
        assert done.returncode == 0, (
            f"npnflow {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
        self.mark(f"npnflow {' '.join(args[:2])}")
        return done.stdout

    # ------------------------------------------------------------------ webserver
    def graphql(self, query: str, variables: dict | None = None) -> dict:
        response = requests.post(
            f"{self.base_url}/graphql",
            json={"query": query, "variables": variables or {}},
            timeout=scaled(60),
        )
        response.raise_for_status()
        body = response.json()
        assert not body.get("errors"), body["errors"]
        return body["data"]

    def start_sensor(self, name: str) -> None:
        data = self.graphql(
            """mutation($selector: SensorSelector!) {
                 startSensor(sensorSelector: $selector) {
                   __typename
                   ... on Sensor { sensorState { status } }
                   ... on Error { message }
                 }
               }""",
            {"selector": self._selector("sensorName", name)},
        )["startSensor"]
        assert data.get("sensorState", {}).get("status") == "RUNNING", data

    def start_schedule(self, name: str) -> str:
        """Turn a schedule on; returns its state's id (to turn it off again)."""
        data = self.graphql(
            """mutation($selector: ScheduleSelector!) {
                 startSchedule(scheduleSelector: $selector) {
                   __typename
                   ... on ScheduleStateResult { scheduleState { id status } }
                   ... on Error { message }
                 }
               }""",
            {"selector": self._selector("scheduleName", name)},
        )["startSchedule"]
        assert data.get("scheduleState", {}).get("status") == "RUNNING", data
        return data["scheduleState"]["id"]

    def stop_schedule(self, state_id: str) -> None:
        data = self.graphql(
            """mutation($id: String!) {
                 stopRunningSchedule(id: $id) {
                   __typename
                   ... on ScheduleStateResult { scheduleState { status } }
                   ... on Error { message }
                 }
               }""",
            {"id": state_id},
        )["stopRunningSchedule"]
        assert data.get("scheduleState", {}).get("status") == "STOPPED", data

    def launch(self, job_name: str) -> str:
        """Launch a job from the webserver, as the Launchpad does (the daemon dequeues it)."""
        data = self.graphql(
            """mutation($params: ExecutionParams!) {
                 launchRun(executionParams: $params) {
                   __typename
                   ... on LaunchRunSuccess { run { runId } }
                   ... on Error { message }
                 }
               }""",
            {"params": {"selector": self._selector("jobName", job_name), "runConfigData": {}}},
        )["launchRun"]
        assert data["__typename"] == "LaunchRunSuccess", data
        return data["run"]["runId"]

    def schedule_state(self, name: str) -> dict:
        """The schedule's status and its latest tick (status, run ids)."""
        data = self.graphql(
            """query($selector: ScheduleSelector!) {
                 scheduleOrError(scheduleSelector: $selector) {
                   __typename
                   ... on Schedule {
                     scheduleState { status ticks(limit: 1) { status runIds } }
                   }
                   ... on Error { message }
                 }
               }""",
            {"selector": self._selector("scheduleName", name)},
        )["scheduleOrError"]
        assert data["__typename"] == "Schedule", data
        return data["scheduleState"]

    def _selector(self, field: str, name: str) -> dict[str, str]:
        return {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, field: name}

    def location_loaded(self) -> bool:
        data = self.graphql(
            """{ workspaceOrError { ... on Workspace { locationEntries {
                   name loadStatus
                   locationOrLoadError { __typename ... on PythonError { message } }
                 } } } }"""
        )
        entries = data["workspaceOrError"]["locationEntries"]
        entry = next((e for e in entries if e["name"] == LOCATION), None)
        if entry is None or entry["loadStatus"] != "LOADED":
            return False
        error = entry["locationOrLoadError"]
        assert error["__typename"] == "RepositoryLocation", error.get("message")
        return True

    def daemons_healthy(self) -> bool:
        data = self.graphql(
            "{ instance { daemonHealth { allDaemonStatuses { daemonType required healthy } } } }"
        )
        daemons = data["instance"]["daemonHealth"]["allDaemonStatuses"]
        wanted = {"SENSOR", "SCHEDULER", "QUEUED_RUN_COORDINATOR"}
        return wanted <= {d["daemonType"] for d in daemons if d["healthy"]}

    # ------------------------------------------------------------------ runs
    def runs(self, job_name: str | None = None, **tags: str) -> list:
        assert self.instance is not None
        return self.instance.get_runs(filters=RunsFilter(job_name=job_name, tags=tags or None))

    def wait_for_run(self, job_name: str, timeout: float, **tags: str):
        """The one run of `job_name` with these tags, once finished; it must succeed."""

        def finished() -> list:
            return [r for r in self.runs(job_name, **tags) if r.status in FINISHED]

        def seen() -> str:
            runs = [f"{r.run_id} {r.status.value}" for r in self.runs(job_name, **tags)]
            return f"{job_name} runs tagged {tags}: {runs or 'none'}"

        found = wait_until(
            self, finished, timeout, f"a finished {job_name} run tagged {tags}", describe=seen
        )
        run = found[0]
        self.mark(f"{job_name} {run.status.value} ({', '.join(tags.values()) or 'launched'})")
        assert run.status == DagsterRunStatus.SUCCESS, (
            f"{job_name} run {run.run_id} ended {run.status}:\n{self.run_errors(run.run_id)}"
        )
        return run

    def run_errors(self, run_id: str) -> str:
        assert self.instance is not None
        lines = []
        kinds = {
            DagsterEventType.STEP_FAILURE,
            DagsterEventType.RUN_FAILURE,
            DagsterEventType.ENGINE_EVENT,
        }
        for record in self.instance.all_logs(run_id, of_type=kinds):
            event = record.dagster_event
            error = getattr(event.event_specific_data, "error", None) if event else None
            if error is not None:
                # Each error of the chain, without the stacks: the innermost names the cause.
                messages = []
                while error is not None:
                    messages.append(error.message.strip())
                    error = error.cause
                lines.append(
                    f"  {event.event_type_value} {event.step_key or ''}: " + " <- ".join(messages)
                )
            elif event is not None and event.event_type == DagsterEventType.RUN_FAILURE:
                lines.append(f"  RUN_FAILURE: {record.message}")
        return "\n".join(lines) or "  (no error recorded)"

    # ------------------------------------------------------------------ operational db
    def upload_id(self, object_key: str) -> str | None:
        uploads = self.database.read_table("uploads", ["upload_id", "object_key"])
        matching = uploads[uploads["object_key"] == object_key]
        return str(matching["upload_id"].iloc[0]) if len(matching) else None

    def batches(self, upload_id: str):
        with self.database.begin() as connection:
            return approval.list_batches(connection, upload_id=upload_id)

    def transactions(self, upload_id: str):
        frame = self.database.read_table("transactions")
        return frame[frame["upload_id"] == upload_id]

    # ------------------------------------------------------------------ diagnostics
    def diagnose(self) -> str:
        """What a CI log needs to say why a step did not happen."""
        out = ["===== timeline", *self.timeline]
        for name, log in self.logs.items():
            process = self.processes[name]
            text = log.read_text(errors="replace").splitlines() if log.exists() else []
            out.append(f"===== {name} (exit {process.poll()}), last 80 lines of {log}")
            out += text[-80:]
        try:
            for run in self.runs():
                out.append(
                    f"run {run.run_id} {run.job_name} {run.status.value} "
                    f"partition={run.tags.get('dagster/partition')} "
                    f"sensor={run.tags.get(SENSOR_TAG)} schedule={run.tags.get(SCHEDULE_TAG)}"
                )
                if run.status == DagsterRunStatus.FAILURE:
                    out.append(self.run_errors(run.run_id))
        except Exception as error:  # diagnostics must not hide the original failure
            out.append(f"(runs unavailable: {error!r})")
        try:
            out.append(self._ticks())
        except Exception as error:
            out.append(f"(ticks unavailable: {error!r})")
        try:
            batches = self.database.read_table(
                "transaction_batches", ["batch_id", "kind", "status", "approval_version"]
            )
            out.append("batches:\n" + batches.to_string())
        except Exception as error:
            out.append(f"(batches unavailable: {error!r})")
        return "\n".join(out)

    def _ticks(self) -> str:
        tick = "ticks(limit: 3) { status timestamp skipReason runIds error { message } }"
        repository = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}
        data = self.graphql(
            f"""query($repository: RepositorySelector!) {{
                  sensorsOrError(repositorySelector: $repository) {{
                    ... on Sensors {{ results {{ name sensorState {{ status {tick} }} }} }}
                  }}
                  schedulesOrError(repositorySelector: $repository) {{
                    ... on Schedules {{ results {{ name scheduleState {{ status {tick} }} }} }}
                  }}
                }}""",
            {"repository": repository},
        )
        lines = []
        for kind in ("sensorsOrError", "schedulesOrError"):
            for item in data[kind].get("results", []):
                state = item.get("sensorState") or item.get("scheduleState")
                lines.append(f"{item['name']}: {state['status']}")
                lines += [f"    {t}" for t in state["ticks"]]
        return "\n".join(lines)


def wait_until(
    deployment: Deployment,
    condition: Callable[[], T],
    timeout: float,
    what: str,
    describe: Callable[[], str] | None = None,
) -> T:
    """`condition`'s first truthy value, polled each second while the daemon and the webserver
    live; `timeout` is in idle-machine seconds, scaled (NPNFLOW_TEST_TIME_SCALE)."""
    return waiting.wait_until(
        condition,
        what,
        timeout,
        check=deployment.check_alive,
        ignore=(requests.RequestException,),  # the webserver is still starting
        describe=describe,
    )


def _drop(bucket: Path, key: str, content: bytes) -> None:
    """Put a file into the bucket folder whole (written aside, then renamed), as a copy onto a
    share or an S3 upload appears: the sensor never lists half a file."""
    target = bucket / key
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = bucket.parent / f".{target.name}.part"
    staging.write_bytes(content)
    os.replace(staging, target)


def test_daemon_and_sensors_carry_dropped_files_to_completed_batches(
    fresh_postgres_url, dagster_storage_url, tmp_path, monkeypatch
):
    started = time.monotonic()
    reference = load_reference_data(paths.reference_dir())
    companies = load_company_config(paths.config_dir(), reference)["companies"]
    # NIPR's (Central) day: the sandbox's world is generated around it.
    today = dt.datetime.now(CENTRAL).date()

    home = tmp_path / "dagster_home"
    home.mkdir()
    # The production instance config itself, its connection from the DAGSTER_PG_* variables.
    (home / "dagster.yaml").write_bytes((paths.PROJECT_ROOT / "deploy/dagster.yaml").read_bytes())
    data_dir = tmp_path / "data"
    bucket = data_dir / "bucket"
    bucket.mkdir(parents=True)
    upgrade(fresh_postgres_url)  # `npnflow db upgrade`, done once at deployment

    with running_sandbox(producers=150, companies=companies, today=today) as sandbox:
        settings = {
            "DAGSTER_HOME": str(home),
            "DAGSTER_PG_USERNAME": dagster_storage_url.username or "postgres",
            "DAGSTER_PG_PASSWORD": dagster_storage_url.password or "",
            "DAGSTER_PG_HOST": dagster_storage_url.host or "127.0.0.1",
            "DAGSTER_PG_PORT": str(dagster_storage_url.port or 5432),
            "DAGSTER_PG_DB": str(dagster_storage_url.database),
            "NPNFLOW_ENV": "ci",
            "NPNFLOW_DATABASE_URL": fresh_postgres_url,
            "NPNFLOW_DATA_DIR": str(data_dir),
            "NPNFLOW_BUCKET_DIR": str(bucket),
            "NPNFLOW_NIPR_SANDBOX_URL": sandbox.base_url,
            "NPNFLOW_SENSOR_INTERVAL_SECONDS": "3",
            "NPNFLOW_NIPR_SYNC_CRON": "* * * * *",
            "NPNFLOW_NIPR_SYNC_TIMEZONE": "America/Chicago",
            "GX_ANALYTICS_ENABLED": "false",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "PYTHONUNBUFFERED": "1",
        }
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("DAGSTER_DEPLOYMENT", raising=False)
        env = {**os.environ, **settings}
        deployment = Deployment(tmp_path, env, fresh_postgres_url)
        workspace = str(paths.PROJECT_ROOT / "workspace.yaml")
        try:
            deployment.start(
                "dagster-daemon", [str(BIN / "dagster-daemon"), "run", "-w", workspace]
            )
            deployment.start(
                "dagster-webserver",
                [
                    str(BIN / "dagster-webserver"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(deployment.port),
                    "-w",
                    workspace,
                ],
            )
            deployment.instance = DagsterInstance.from_config(str(home))
            assert type(deployment.instance.run_storage).__name__ == "PostgresRunStorage"
            _run_the_day(deployment, sandbox, bucket, today)
        except BaseException:
            print(deployment.diagnose())
            raise
        finally:
            deployment.stop()
    print(f"daemon end to end: {time.monotonic() - started:.0f} s")


def _run_the_day(
    deployment: Deployment, sandbox: NiprSandbox, bucket: Path, today: dt.date
) -> None:
    d = deployment
    wait_until(d, d.location_loaded, 120, "the webserver to load the npnflow code location")
    wait_until(d, d.daemons_healthy, 120, "the daemon's sensor, scheduler and run queue")
    d.mark("webserver and daemon up")

    # What the operator does once: the sensors on, the reference data loaded from the
    # Launchpad.
    for sensor in SENSORS:
        d.start_sensor(sensor)
    reference_run = d.launch("load_reference_data_job")
    d.wait_for_run("load_reference_data_job", 180)
    assert d.instance.get_run_by_id(reference_run).status == DagsterRunStatus.SUCCESS
    assert d.database.count_rows(["companies"])["companies"] > 0

    # 1. An agent file: the inbox sensor's process_upload_job onboards the producers, then
    #    onboarded_producers_sensor's sync_new_producers_job fetches their Entity Info.
    roster = _roster(sandbox.world, [today])
    agent_key = "inbox/agent/roster.csv"
    _drop(bucket, agent_key, _sample_agent_file(sandbox.world, roster))
    d.wait_for_run(
        "process_upload_job",
        120,
        **{SENSOR_TAG: "inbox_file_sensor", "npnflow/object_key": agent_key},
    )
    d.wait_for_run("sync_new_producers_job", 120, **{SENSOR_TAG: "onboarded_producers_sensor"})
    producers = d.database.read_table("producers", ["npn", "sync_status"]).set_index("npn")
    assert set(producers.index) == {*roster, UNKNOWN_NPN}
    assert producers.loc[UNKNOWN_NPN, "sync_status"] == "Not Found"
    assert set(producers.loc[roster, "sync_status"]) <= {"Success", "Success - No Licenses"}
    assert d.database.count_rows(["licenses"])["licenses"] > 0

    # 2. The daily sync schedule, on from now, ticks within the minute (its cron is
    #    "* * * * *" here) and requests NIPR's day. Its run key (the day) only dedupes within
    #    a tick, so it is turned off again once it has launched its run. Meanwhile the operator
    #    builds the reports and exports a terminate file from the licensing report.
    nipr_day = _nipr_day_of_the_next_tick(sandbox).isoformat()
    schedule_state = d.start_schedule(DAILY_SCHEDULE)
    d.cli("reports", "build", timeout=300)
    with d.database.begin() as connection:
        licensing = read_report(connection, "rpt_producer_licensing_with_carrier_appointments")
    rules = d.database.read_table(
        "state_appointment_rules", ["state_code", "terminations_via_nipr"]
    )
    via_nipr = set(rules[rules["terminations_via_nipr"].astype(bool)]["state_code"])
    appointed = licensing[
        licensing["appointment_status"].eq("Appointed") & licensing["state_code"].isin(via_nipr)
    ]
    assert len(appointed), "the licensing report has no Appointed line to terminate"
    cocode = appointed["cocode"].value_counts().index[0]
    states = sorted(appointed.loc[appointed["cocode"] == cocode, "state_code"].unique())[:2]
    exported = d.tmp_path / "terminate.csv"
    d.cli(
        "export",
        "terminate",
        "--cocode",
        cocode,
        "--states",
        ",".join(states),
        "--submit-immediately",
        "-o",
        str(exported),
    )
    _turn_off_after_first_run(d, DAILY_SCHEDULE, schedule_state)
    d.mark(f"{DAILY_SCHEDULE} ticked once, turned off")

    # 3. An appoint file and the terminate file, dropped together: the inbox sensor requests
    #    a process_upload_job run for each. Submit TRUE appointment lines and the terminate
    #    file's Submit Immediately make batches approved at once; Submit FALSE lines wait for
    #    review, and `npnflow batches approve` is the one manual step.
    appoint_key = "inbox/appoint/appointments.csv"
    terminate_key = "inbox/terminate/terminate.csv"
    _drop(bucket, appoint_key, _sample_appoint_file(d.database))
    d.cli("drop", str(exported), "--kind", "terminate")
    for key in (appoint_key, terminate_key):
        d.wait_for_run(
            "process_upload_job",
            180,
            **{SENSOR_TAG: "inbox_file_sensor", "npnflow/object_key": key},
        )
    appoint_upload, terminate_upload = d.upload_id(appoint_key), d.upload_id(terminate_key)
    assert appoint_upload is not None and terminate_upload is not None
    batches = d.batches(appoint_upload)
    auto = batches[batches["submit_immediately"].astype(bool)]
    review = batches[
        (batches["status"] == statuses.BATCH_PENDING_REVIEW) & (batches["ready_to_submit"] > 0)
    ]
    assert len(auto) >= 1 and len(review) >= 1, batches.to_string()
    terminations = d.batches(terminate_upload)
    assert list(terminations["kind"]) == ["termination"]
    assert terminations["submit_immediately"].astype(bool).all()
    for batch_id in review["batch_id"]:
        output = d.cli("batches", "approve", batch_id, "--by", APPROVER)
        assert f"Approved {batch_id}" in output
    submitted = set(auto["batch_id"]) | set(review["batch_id"]) | set(terminations["batch_id"])
    _wait_completed(d, submitted, 300)
    after = d.batches(appoint_upload).set_index("batch_id")
    assert set(after.loc[list(review["batch_id"]), "approved_by"]) == {APPROVER}
    assert APPROVER not in set(after.loc[list(auto["batch_id"]), "approved_by"])
    terminated = d.transactions(terminate_upload)
    assert len(terminated) and set(terminated["status"]) == {statuses.ACCEPTED}, terminated

    # 4. The schedule's run of NIPR's day, launched by the daemon, not by the test.
    schedule_run = d.wait_for_run("daily_nipr_sync_job", 150, **{SCHEDULE_TAG: DAILY_SCHEDULE})
    assert len(d.runs("daily_nipr_sync_job")) == 1
    assert schedule_run.tags.get("dagster/partition") == nipr_day
    days = d.database.read_table("nipr_report_days", ["report_date", "status"])
    day_status = {str(r.report_date): r.status for r in days.itertuples()}
    assert day_status.get(nipr_day) in {"applied", "no_run_today"}, day_status

    # What NIPR saw and what ran: every sent transaction answered, received once; every
    # submission run requested by approved_batch_sensor, one per batch and approval.
    _assert_exactly_once(d, sandbox, [appoint_upload, terminate_upload])
    submit_runs = d.runs("submit_batch_job")
    assert {r.tags.get(SENSOR_TAG) for r in submit_runs} == {"approved_batch_sensor"}
    assert sorted(r.tags["npnflow/batch_id"] for r in submit_runs) == sorted(submitted)
    assert all(r.status == DagsterRunStatus.SUCCESS for r in d.runs())
    # Beyond the reference-data launch and the in-process report build, every run was
    # launched by a sensor or the schedule.
    manual = [
        r
        for r in d.runs()
        if not (r.tags.get(SENSOR_TAG) or r.tags.get(SCHEDULE_TAG))
        and r.job_name not in {"load_reference_data_job", "build_reports_job"}
    ]
    assert not manual, [(r.job_name, r.tags) for r in manual]


def _nipr_day_of_the_next_tick(sandbox: NiprSandbox) -> dt.date:
    """NIPR's (Central) day of the schedule's next tick, the sandbox's clock frozen at noon
    that day so the day's report is published. Within 3 minutes of Central midnight, wait for
    the new day rather than let the tick straddle it."""
    now = dt.datetime.now(CENTRAL)
    midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), CENTRAL)
    if midnight - now < dt.timedelta(minutes=3):
        time.sleep((midnight - now).total_seconds() + 1)
    day = dt.datetime.now(CENTRAL).date()
    sandbox.set_clock(day)
    return day


def _turn_off_after_first_run(d: Deployment, name: str, state_id: str) -> None:
    """Wait for the schedule's first tick to launch its run, then turn the schedule off.

    The daemon saves the schedule's state (status included) right after that tick, from what
    it read before it: a stop that lands in between is overwritten. So stop, look again a
    moment later, and stop again if needed (the daemon saves it next an hour later)."""

    def launched() -> bool:
        ticks = d.schedule_state(name)["ticks"]
        return bool(ticks) and ticks[0]["status"] == "SUCCESS" and bool(ticks[0]["runIds"])

    wait_until(d, launched, 90, f"{name} to tick and launch a run")
    for _ in range(5):
        d.stop_schedule(state_id)
        time.sleep(3)
        if d.schedule_state(name)["status"] == "STOPPED":
            return
    raise AssertionError(f"{name} did not stay stopped")


def _wait_completed(d: Deployment, batch_ids: set[str], timeout: float) -> None:
    def completed() -> bool:
        batches = d.database.read_table("transaction_batches", ["batch_id", "status"])
        mine = batches[batches["batch_id"].isin(batch_ids)]
        return len(mine) == len(batch_ids) and set(mine["status"]) == {statuses.BATCH_COMPLETED}

    wait_until(d, completed, timeout, f"batches {sorted(batch_ids)} to be Completed")
    d.mark(f"{len(batch_ids)} batch(es) Completed")
    for batch_id in batch_ids:
        run = d.wait_for_run("submit_batch_job", 60, **{"npnflow/batch_id": batch_id})
        assert run.tags.get(SENSOR_TAG) == "approved_batch_sensor"
        assert run.tags.get("npnflow/purpose") == "submit"


def _assert_exactly_once(d: Deployment, sandbox: NiprSandbox, upload_ids: list[str]) -> None:
    transactions = d.database.read_table("transactions")
    ours = transactions[transactions["upload_id"].isin(upload_ids)]
    sent = ours[ours["status"].isin(SENT)]
    not_sent = ours[~ours["status"].isin(SENT)]
    assert (sent["status"] == statuses.ACCEPTED).any()
    # Nothing a batch left behind is still open: what was not sent was never eligible to be,
    # is held for Just In Time, or is a registry state's line, recorded without NIPR (issue 14).
    never_sent = {statuses.NOT_ELIGIBLE, statuses.HELD_JIT, statuses.RECORDED}
    assert set(not_sent["status"]) <= never_sent, set(not_sent["status"])
    log = {t["cust_trans"]: t for t in sandbox.gateway_log()}
    assert set(sent["idempotency_key"]) <= set(log)
    assert all(log[key]["times_received"] == 1 for key in sent["idempotency_key"])
    assert not set(not_sent["idempotency_key"].dropna()) & set(log)
    nipr_status = {key: log[key]["status"] for key in sent["idempotency_key"]}
    ours_status = dict(zip(sent["idempotency_key"], sent["status"], strict=True))
    expected = {"approved": statuses.ACCEPTED, "rejected": statuses.REJECTED}
    assert {k: expected[v] for k, v in nipr_status.items()} == ours_status
