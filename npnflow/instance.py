"""The persistent local Dagster instance used by `npnflow ui` and `npnflow demo`, and the
clean-up of runs whose process died.

A run of the default run launcher (or run in process, as the demo does) is a process on this
machine. When that process is killed (Ctrl-C twice, a closed terminal, kill -9, a reboot), its
run stays `Started` for ever: Dagster's run monitoring can time out runs that never start or
never stop cancelling, but it can tell whether a worker is alive only for container launchers.
Such runs hold places in the run queue (and a submission's single slot in production).
`clean_dead_runs` marks them failed, with the reason, when the process that ran them is gone;
`npnflow ui` and `npnflow demo` call it at start-up, `npnflow runs clean-dead` on demand.

Which process ran a run: the one that started executing it (the pid Dagster records on the
run's `RUN_START` event), else the worker the launcher started ("Started process for run
(pid: N)"). A run with neither is left alone: nothing says it is dead. A pid is alive only if a
process has it now, is not a zombie, and (where /proc tells) started before Dagster recorded
the pid, so a number reused by a later process does not keep a dead run alive.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from resources import paths

if TYPE_CHECKING:
    from dagster import DagsterInstance

# The embedded default: SQLite instance storage in DAGSTER_HOME (Dagster's default), with
# telemetry off because these machines reach no network but the package registries. Run
# monitoring (run by the daemon inside `dagster dev`) fails runs that never start or never
# finish cancelling; it cannot see a dead worker of this launcher (`clean_dead_runs` does).
LOCAL_DAGSTER_YAML = """\
# Written by npnflow for the embedded default. Production uses deploy/dagster.yaml instead.
telemetry:
  enabled: false
run_monitoring:
  enabled: true
  start_timeout_seconds: 180
  cancel_timeout_seconds: 180
  # Never restart a run whose worker died (the default launcher cannot anyway).
  max_resume_run_attempts: 0
  poll_interval_seconds: 120
"""

AT_START_UP = "npnflow cleaned it up at start-up"
# A process that started this long after Dagster recorded its pid is another process that
# got the same number (/proc's start time is to the clock tick, the boot time to the second).
_START_TIME_TOLERANCE_SECONDS = 2.0


@dataclass(frozen=True)
class CleanedRun:
    """A run marked failed because the process running it is gone."""

    run_id: str
    job_name: str
    status: str  # what it was left as: STARTED, STARTING or CANCELING
    pid: int


def ensure_dagster_home() -> Path:
    """Create DAGSTER_HOME (Dagster refuses to start without it) and point the environment at it.

    A dagster.yaml already there is the operator's and is left alone.
    """
    home = paths.dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(LOCAL_DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def clean_dead_runs(
    instance: DagsterInstance, *, cleaned_by: str = AT_START_UP
) -> list[CleanedRun]:
    """Mark failed every run left Started, Starting or Canceling whose process is gone.

    Only for the default run launcher, whose runs are processes on this machine; with another
    launcher (containers) a pid means nothing here and run monitoring does this: nothing is
    touched. Runs whose process is alive, or that recorded no process, are left as they are.
    """
    from dagster import DagsterRunStatus, DefaultRunLauncher, RunsFilter
    from dagster._core.events import JobFailureData, RunFailureReason

    if not isinstance(instance.run_launcher, DefaultRunLauncher):
        return []
    in_progress = [
        DagsterRunStatus.STARTED,
        DagsterRunStatus.STARTING,
        DagsterRunStatus.CANCELING,
    ]
    cleaned: list[CleanedRun] = []
    for record in instance.get_run_records(filters=RunsFilter(statuses=in_progress)):
        run = record.dagster_run
        process = _process_of(instance, run.run_id)
        if process is None or process_is_alive(*process):
            continue
        pid = process[0]
        instance.report_run_failed(
            run,
            f"The process running it is gone ({cleaned_by}): pid {pid} no longer runs it.",
            JobFailureData(error=None, failure_reason=RunFailureReason.UNEXPECTED_TERMINATION),
        )
        cleaned.append(CleanedRun(run.run_id, run.job_name, run.status.value, pid))
    return cleaned


def _process_of(instance: DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """(pid, when Dagster recorded it) of the process that ran the run, or None."""
    from dagster import DagsterEventType

    started: tuple[int, float] | None = None
    worker: tuple[int, float] | None = None
    for entry in instance.all_logs(
        run_id, of_type={DagsterEventType.RUN_START, DagsterEventType.ENGINE_EVENT}
    ):
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == DagsterEventType.RUN_START and event.pid is not None:
            started = (event.pid, entry.timestamp)
        elif (
            event.event_type == DagsterEventType.ENGINE_EVENT
            and (event.message or "").startswith("Started process for")
            and event.event_specific_data is not None
        ):
            pid = _metadata_pid(event.event_specific_data)
            if pid is not None:
                worker = (pid, entry.timestamp)
    return started or worker


def _metadata_pid(data: object) -> int | None:
    metadata = getattr(data, "metadata", None) or {}
    value = metadata.get("pid")
    text = str(getattr(value, "value", value) or "")
    return int(text) if text.isdigit() else None


def process_is_alive(pid: int, seen_at: float) -> bool:
    """Whether the process Dagster recorded as `pid` at `seen_at` (epoch seconds) still runs."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0: nothing is sent, only whether the pid exists
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, owned by someone else
    state, started_at = _proc_state(pid)
    if state in ("Z", "X"):  # a zombie: it has exited, only its parent has not reaped it
        return False
    return started_at is None or started_at <= seen_at + _START_TIME_TOLERANCE_SECONDS


def _proc_state(pid: int) -> tuple[str | None, float | None]:
    """(state letter, start time in epoch seconds) from Linux's /proc; (None, None) elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot_line = next(
            line for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime")
        )
    except (OSError, StopIteration):
        return None, None
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    fields = stat.rsplit(")", 1)[-1].split()
    try:
        state, start_ticks = fields[0], int(fields[19])  # fields 3 and 22 of proc(5)
        boot = float(boot_line.split()[1])
    except (IndexError, ValueError):
        return None, None
    return state, boot + start_ticks / os.sysconf("SC_CLK_TCK")
