"""deploy/dagster.yaml as the production instance: loaded as a real DagsterInstance against a
fresh PostgreSQL database (DAGSTER_PG_*), and asked what the docs promise.

- the settings table of docs/operations.md is what the instance reports;
- the run queue, given the runs approved_batch_sensor requests (its tags merged over
  submit_batch_job's, as Dagster's sensor daemon merges them), launches one submission at a
  time, a poll only when its batch is not being submitted, and one report build at a time;
- run retries never re-run a submission run, but do re-run another job's crashed run;
- (no database) every variable the production resources read reaches a Docker run container.

The queue and retry decisions are Dagster's own code (the run coordinator daemon's dequeue
selection, the auto re-execution rule), called directly rather than through a running daemon;
they are private APIs of the pinned dagster 1.13.27.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Iterator

import dagster as dg
import pytest
import sqlalchemy as sa
import yaml
from dagster import DagsterInstance, DagsterRunStatus
from dagster._core.events import RunFailureReason
from dagster._core.execution.retries import auto_reexecution_should_retry_run
from dagster._core.remote_origin import (
    GrpcServerCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import (
    QueuedRunCoordinatorDaemon,
)

from pipelines.definitions import build_definitions
from pipelines.environments import resources_for
from pipelines.schedules import build_schedules
from pipelines.sensors import poll_requests, submission_requests
from resources import paths
from resources.ssn import ssn_vault_for

ROOT = paths.PROJECT_ROOT
SETTING_ROW = re.compile(r"^\| `([^`]+)`( [^|]*)? \| `([^`]+)` \|", re.MULTILINE)


@pytest.fixture
def production_instance(fresh_postgres_url, tmp_path, monkeypatch) -> Iterator[DagsterInstance]:
    url = sa.make_url(fresh_postgres_url)
    monkeypatch.setenv("DAGSTER_PG_USERNAME", url.username or "postgres")
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", url.password or "")
    monkeypatch.setenv("DAGSTER_PG_HOST", url.host or "127.0.0.1")
    monkeypatch.setenv("DAGSTER_PG_PORT", str(url.port or 5432))
    monkeypatch.setenv("DAGSTER_PG_DB", url.database)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    instance = DagsterInstance.from_config(str(home))
    try:
        yield instance
    finally:
        instance.dispose()


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    return build_definitions("local")


def _shown(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _limit_name(limit: dict) -> str:
    value = limit.get("value")
    if isinstance(value, dict) and value.get("applyLimitPerUniqueValue"):
        return f"{limit['key']}"
    return f"{limit['key']}={value}" if value is not None else limit["key"]


def instance_settings(instance: DagsterInstance, defs: dg.Definitions) -> dict[str, str]:
    """What the instance reports, under the names docs/operations.md's table uses."""
    queue = instance.get_concurrency_config().run_queue_config
    assert queue is not None
    monitoring = instance.run_monitoring_settings
    settings: dict[str, object] = {
        "run_coordinator": type(instance.run_coordinator).__name__,
        "max_concurrent_runs": queue.max_concurrent_runs,
        **{_limit_name(limit): limit["limit"] for limit in queue.tag_concurrency_limits},
        "pools.default_limit": instance.global_op_concurrency_default_limit,
        "run_monitoring.enabled": instance.run_monitoring_enabled,
        "run_monitoring.start_timeout_seconds": instance.run_monitoring_start_timeout_seconds,
        "run_monitoring.cancel_timeout_seconds": instance.run_monitoring_cancel_timeout_seconds,
        "run_monitoring.max_resume_run_attempts": (instance.run_monitoring_max_resume_run_attempts),
        "run_monitoring.poll_interval_seconds": instance.run_monitoring_poll_interval_seconds,
        "run_monitoring.free_slots_after_run_end_seconds": monitoring.get(
            "free_slots_after_run_end_seconds"
        ),
        "run_retries.enabled": instance.run_retries_enabled,
        "run_retries.max_retries": instance.run_retries_max_retries,
        "run_retries.retry_on_asset_or_op_failure": (
            instance.run_retries_retry_on_asset_or_op_failure
        ),
        "dagster/max_retries": defs.resolve_job_def("submit_batch_job").run_tags.get(
            "dagster/max_retries"
        ),
        "telemetry.enabled": instance.telemetry_enabled,
    }
    return {name: _shown(value) for name, value in settings.items()}


def documented_settings() -> dict[str, str]:
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    section = text.split("## The run queue, monitoring and retries", 1)[1].split("\n## ", 1)[0]
    return {name: value for name, _, value in SETTING_ROW.findall(section)}


# ------------------------------------------------------------------------------ the instance
@pytest.mark.postgres
def test_production_instance_has_the_documented_settings(production_instance, defs):
    instance = production_instance
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
    assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
    # One machine: runs are processes of the code server; Docker adds its launcher elsewhere.
    assert type(instance.run_launcher).__name__ == "DefaultRunLauncher"

    documented = documented_settings()
    assert len(documented) >= 15, documented
    assert documented == instance_settings(instance, defs)
    # The pool docs/nipr-sync.md asks to limit to 1 gets that limit with no manual step.
    info = instance.event_log_storage.get_concurrency_info("nipr_current_state")
    assert info.limit == 1


# ------------------------------------------------------------------------------ the run queue
def _origin(job_name: str) -> RemoteJobOrigin:
    # Queued runs must say where their code lives: the Docker deployment's code server.
    location = GrpcServerCodeLocationOrigin(host="code", port=4000, location_name="npnflow")
    return RemoteJobOrigin(RemoteRepositoryOrigin(location, "__repository__"), job_name)


class Queue:
    """Runs in the production instance, and which of the queued ones the daemon would launch."""

    def __init__(self, instance: DagsterInstance, defs: dg.Definitions):
        self.instance = instance
        self.defs = defs
        self.daemon = QueuedRunCoordinatorDaemon(interval_seconds=5)
        self.names: dict[str, str] = {}

    def add(self, name: str, job_name: str, request_tags: dict, status: DagsterRunStatus):
        job = self.defs.resolve_job_def(job_name)
        # As dagster/_daemon/sensor.py::_create_sensor_run: the job's run tags, then the
        # request's (a Launchpad launch has the job's alone).
        run = self.instance.create_run_for_job(
            job,
            status=status,
            tags={**job.run_tags, **request_tags},
            remote_job_origin=_origin(job_name),
        )
        self.names[run.run_id] = name
        return run

    def would_launch(self) -> list[str]:
        chosen = self.daemon._get_runs_to_dequeue(
            self.instance, self.instance.get_concurrency_config(), fixed_iteration_time=None
        )
        return sorted(self.names[run.run_id] for run in chosen)


@pytest.mark.postgres
def test_the_queue_runs_one_submission_at_a_time(production_instance, defs):
    queue = Queue(production_instance, defs)
    submit = {
        request.partition_key: request.tags
        for request in submission_requests([("B-1", 1), ("B-2", 1), ("B-3", 2)]).run_requests
    }
    poll = {
        request.partition_key: request.tags
        for request in poll_requests(
            [("B-1", 1), ("B-9", 4)], dt.datetime(2026, 3, 2, 15, tzinfo=dt.UTC)
        ).run_requests
    }
    assert {tags["npnflow/purpose"] for tags in submit.values()} == {"submit"}

    first = queue.add("submit B-1", "submit_batch_job", submit["B-1"], DagsterRunStatus.STARTED)
    queue.add("submit B-2", "submit_batch_job", submit["B-2"], DagsterRunStatus.QUEUED)
    queue.add("submit B-3", "submit_batch_job", submit["B-3"], DagsterRunStatus.QUEUED)
    queue.add("launchpad submit", "submit_batch_job", {}, DagsterRunStatus.QUEUED)
    queue.add("poll B-1", "submit_batch_job", poll["B-1"], DagsterRunStatus.QUEUED)
    queue.add("poll B-9", "submit_batch_job", poll["B-9"], DagsterRunStatus.QUEUED)
    queue.add("upload", "process_upload_job", {}, DagsterRunStatus.QUEUED)

    # B-1 is being sent: no other submission starts, not even one from the Launchpad, and
    # B-1's poll waits for it; another batch's poll and other jobs go ahead.
    assert queue.would_launch() == ["poll B-9", "upload"]

    production_instance.report_run_failed(production_instance.get_run_by_id(first.run_id))
    # B-1 done: exactly one submission is let through (the oldest), and B-1's poll.
    assert queue.would_launch() == ["poll B-1", "poll B-9", "submit B-2", "upload"]


@pytest.mark.postgres
def test_the_queue_runs_one_report_build_at_a_time(production_instance, defs):
    queue = Queue(production_instance, defs)
    assert defs.resolve_job_def("build_reports_job").run_tags["npnflow/purpose"] == "reports"
    queue.add("build 1", "build_reports_job", {}, DagsterRunStatus.STARTED)
    queue.add("build 2", "build_reports_job", {}, DagsterRunStatus.QUEUED)
    queue.add("submit B-4", "submit_batch_job", {}, DagsterRunStatus.QUEUED)
    assert queue.would_launch() == ["submit B-4"]


# ------------------------------------------------------------------------------ run retries
@pytest.mark.postgres
def test_run_retries_never_rerun_a_submission_but_do_a_crashed_upload(production_instance, defs):
    queue = Queue(production_instance, defs)
    tags = submission_requests([("B-5", 1)]).run_requests[0].tags

    def failed(job_name: str, request_tags: dict):
        return queue.add(job_name, job_name, request_tags, DagsterRunStatus.FAILURE)

    crashed = RunFailureReason.UNEXPECTED_TERMINATION
    submission = failed("submit_batch_job", tags)
    assert submission.tags["dagster/max_retries"] == "0"
    assert not auto_reexecution_should_retry_run(production_instance, submission, crashed)
    launched_by_hand = failed("submit_batch_job", {})
    assert not auto_reexecution_should_retry_run(production_instance, launched_by_hand, crashed)
    # Any other job's crashed run is launched again; a failed step is not a reason to.
    upload = failed("process_upload_job", {})
    assert auto_reexecution_should_retry_run(production_instance, upload, crashed)
    assert not auto_reexecution_should_retry_run(
        production_instance, upload, RunFailureReason.STEP_FAILURE
    )


# ------------------------------------------------------------------------------ Docker runs
class RecordingEnviron(dict):
    """An environment that remembers every name asked of it."""

    def __init__(self, values: dict[str, str]):
        super().__init__(values)
        self.asked: set[str] = set()

    def get(self, key, default=None):
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self.asked.add(key)
        return super().__contains__(key)


def test_docker_run_containers_get_every_variable_production_reads():
    """A run container loads the definitions and resolves the resources' EnvVars itself: each
    variable the prod environment reads must be in the Docker launcher's env_vars."""
    # Every optional setting filled, so the branches that read them are taken.
    environ = RecordingEnviron(
        {
            "NPNFLOW_S3_ACCESS_KEY_ID": "key",
            "NPNFLOW_S3_SECRET_ACCESS_KEY": "secret",
            "NPNFLOW_SSN_KEY": "key",
            "NPNFLOW_SMTP_USERNAME": "user",
            "NPNFLOW_SMTP_PASSWORD": "password",
            "NPNFLOW_SMTP_PORT": "587",
            "NPNFLOW_NIPR_ALERTS_EMAIL": "compliance@carrier.example",
        }
    )
    resources = {**resources_for("prod", environ), "ssn_vault": ssn_vault_for(environ)}
    build_schedules("prod", environ)
    env_vars = {
        value.env_var_name
        for resource in resources.values()
        for field in type(resource).model_fields
        if hasattr(value := getattr(resource, field), "env_var_name")
    }
    read = env_vars | environ.asked
    assert {"NPNFLOW_DATABASE_URL", "NIPR_PASSWORD", "NPNFLOW_SSN_KEY"} <= read

    instance = yaml.safe_load((ROOT / "deploy" / "dagster-docker.yaml").read_text())
    forwarded = set(instance["run_launcher"]["config"]["env_vars"])
    # The launcher also forwards the environment switch and Dagster's own storage settings.
    assert {"NPNFLOW_ENV", "DAGSTER_PG_PASSWORD"} <= forwarded
    missing = sorted(read - forwarded)
    assert not missing, f"read in prod but not passed to Docker run containers: {missing}"
