"""Dagster's own processes (`dagster-webserver`, `dagster-daemon`) started by the end-to-end
tests: each in its own process group, its output in a log file, stopped with SIGINT and then
killed with the rest of its group (the code servers and run workers it started).

`dagster dev` and its children ignore SIGTERM in some shells (CONVENTIONS: environment notes),
hence SIGINT first and SIGKILL for whatever lingers.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from resources import paths
from support.ports import free_port
from support.waiting import wait_until

WORKSPACE = paths.PROJECT_ROOT / "workspace.yaml"


def tail(path: Path, lines: int = 40) -> str:
    """The last `lines` lines of a log file ("" when there is none)."""
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def start_in_own_group(
    command: list[str], *, env: Mapping[str, str], log: Path, cwd: Path = paths.PROJECT_ROOT
) -> subprocess.Popen[bytes]:
    """`command` in a new session (its own process group), stdout and stderr into `log`."""
    with log.open("wb") as output:
        return subprocess.Popen(
            command,
            cwd=cwd,
            env=dict(env),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_groups(processes: Iterable[subprocess.Popen[bytes]], *, grace: float = 20.0) -> None:
    """SIGINT to each process's group, up to `grace` seconds for each to exit, then SIGKILL to
    whatever is left of every group."""
    processes = list(processes)
    for process in processes:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGINT)
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
        # Whatever is left of the group (a code server, a run worker) goes too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def webserver_command(port: int, workspace: Path = WORKSPACE) -> list[str]:
    host = ["-h", "127.0.0.1", "-p", str(port)]
    return [sys.executable, "-m", "dagster_webserver", *host, "-w", str(workspace)]


@dataclass(frozen=True)
class Webserver:
    base_url: str
    process: subprocess.Popen[bytes]
    log: Path


def _serves_assets(base_url: str) -> bool:
    response = requests.post(
        f"{base_url}/graphql", json={"query": "{ assetNodes { id } }"}, timeout=10
    )
    return bool(response.ok and response.json().get("data", {}).get("assetNodes"))


def _answers(base_url: str) -> bool:
    return requests.get(f"{base_url}/server_info", timeout=2).ok


@contextmanager
def running_webserver(
    env: Mapping[str, str], log: Path, *, until: str = "assets", deadline: float = 120
) -> Iterator[Webserver]:
    """`dagster-webserver` on the project's workspace on a free loopback port, in its own
    process group. Yields once it answers (`until="answers"`) or once the code location has
    loaded its assets (`until="assets"`); `deadline` is in idle-machine seconds (scaled)."""
    ready = {"assets": _serves_assets, "answers": _answers}[until]
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    process = start_in_own_group(webserver_command(port), env=env, log=log)
    try:

        def alive() -> None:
            if process.poll() is not None:
                raise AssertionError(
                    f"dagster-webserver exited with {process.returncode}:\n{tail(log)}"
                )

        wait_until(
            lambda: ready(base_url),
            f"dagster-webserver at {base_url} to serve the {until}",
            deadline,
            interval=0.5,
            check=alive,
            ignore=(requests.RequestException, ValueError),
            describe=lambda: f"last lines of {log}:\n{tail(log)}",
        )
        yield Webserver(base_url, process, log)
    finally:
        stop_groups([process], grace=15)
