"""Runs left Started by a process that died are failed at start-up; live ones are untouched.

A real local instance in a temporary DAGSTER_HOME (the dagster.yaml `npnflow ui` writes). Two
child processes each run a job in process, as the demo does, and sit inside its step; one is
killed with SIGKILL, which leaves its run Started for ever. `npnflow runs clean-dead` (what
`npnflow ui` and `npnflow demo` call at start-up) fails that run and leaves the other alone.
A run that a launcher's worker was starting (Starting, its worker's pid recorded) is judged by
that worker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import dagster as dg
import pytest
from click.testing import CliRunner
from dagster._core.events import DagsterEvent, DagsterEventType, EngineEventData

from npnflow.cli import main
from npnflow.instance import ensure_dagster_home
from resources import paths
from support.waiting import scaled

CHILD = textwrap.dedent(
    """
    import sys, time
    import dagster as dg

    @dg.op
    def wait_a_while():
        print("inside the step", flush=True)
        time.sleep(120)

    @dg.job
    def long_job():
        wait_a_while()

    with dg.DagsterInstance.get() as instance:
        long_job.execute_in_process(instance=instance, tags={"child": sys.argv[1]})
    """
)


@pytest.fixture
def dagster_home(tmp_path, monkeypatch) -> Iterator[str]:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    yield str(ensure_dagster_home())


def _start_child(name: str) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, name],
        cwd=paths.PROJECT_ROOT,
        env={**os.environ, "DAGSTER_DISABLE_TELEMETRY": "true"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert child.stdout is not None
    line = child.stdout.readline()  # blocks until the child is inside its step
    assert line.strip() == "inside the step", f"the child never started its run ({line!r})"
    return child


def _run_of(instance: dg.DagsterInstance, child: str) -> dg.DagsterRun:
    (run,) = instance.get_runs(filters=dg.RunsFilter(tags={"child": child}))
    return run


def _dead_pid() -> int:
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    return finished.pid


def test_a_run_whose_process_died_is_failed_and_a_live_one_is_untouched(dagster_home):
    survivor = _start_child("survivor")
    victim = _start_child("victim")
    try:
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=scaled(10))
        with dg.DagsterInstance.get() as instance:
            assert _run_of(instance, "victim").status == dg.DagsterRunStatus.STARTED
            assert _run_of(instance, "survivor").status == dg.DagsterRunStatus.STARTED

        result = CliRunner().invoke(main, ["runs", "clean-dead"])

        assert result.exit_code == 0, result.output
        with dg.DagsterInstance.get() as instance:
            dead, alive = _run_of(instance, "victim"), _run_of(instance, "survivor")
            assert dead.status == dg.DagsterRunStatus.FAILURE
            assert alive.status == dg.DagsterRunStatus.STARTED
            (failure,) = instance.all_logs(dead.run_id, of_type=DagsterEventType.RUN_FAILURE)
            assert failure.dagster_event is not None
            assert failure.dagster_event.message == (
                "The process running it is gone (cleaned up by `npnflow runs clean-dead`): "
                f"pid {victim.pid} no longer runs it."
            )
        assert result.output == (
            f"Run {dead.run_id} of long_job was left STARTED by process {victim.pid}, which "
            "is gone: marked failed.\n"
        )
        # Nothing left to clean: said so, and the live run is still untouched.
        again = CliRunner().invoke(main, ["runs", "clean-dead"])
        assert again.output.startswith("No run of the instance in ")
        with dg.DagsterInstance.get() as instance:
            assert _run_of(instance, "survivor").status == dg.DagsterRunStatus.STARTED
    finally:
        for child in (survivor, victim):
            if child.poll() is None:
                child.kill()
            child.wait()
            assert child.stdout is not None
            child.stdout.close()


def test_a_starting_run_is_judged_by_its_worker(dagster_home):
    @dg.op
    def nothing() -> None:
        pass

    @dg.job
    def launched_job() -> None:
        nothing()

    worker = _dead_pid()
    with dg.DagsterInstance.get() as instance:
        run = instance.create_run_for_job(launched_job)
        instance.report_dagster_event(
            DagsterEvent(DagsterEventType.RUN_STARTING.value, job_name=run.job_name),
            run_id=run.run_id,
        )
        # What the default launcher's worker writes first, before the run's own start event.
        instance.report_engine_event(
            f"Started process for run (pid: {worker}).", run, EngineEventData.in_process(worker)
        )
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTING

    result = CliRunner().invoke(main, ["runs", "clean-dead"])

    assert f"left STARTING by process {worker}, which is gone" in result.output
    with dg.DagsterInstance.get() as instance:
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE


def test_the_local_instance_yaml_turns_run_monitoring_on(dagster_home):
    # It fails runs that never start or never finish cancelling; the dead workers of this
    # launcher are what it cannot see, hence the clean-up above.
    with dg.DagsterInstance.get() as instance:
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_start_timeout_seconds == 180
        assert instance.run_monitoring_max_resume_run_attempts == 0
    result = CliRunner().invoke(main, ["runs", "clean-dead"])
    assert result.exit_code == 0
    assert result.output == (
        f"No run of the instance in {dagster_home} is left over from a process that is gone.\n"
    )
