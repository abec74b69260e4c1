"""The acceptance of issue 15 from a fresh demo data folder, run as a new user would:
`npnflow demo` (which itself holds, releases and sends a JIT line and offboards a producer),
then `npnflow jit list` shows the held line with its deadline, `npnflow jit release --npn ...
--by ...` puts it in an Approved batch (releasing again sends nothing twice), and
`npnflow offboard NPN --by ...` terminates, cancels, and frees the seat."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from resources import paths
from resources.database import OperationalDatabase
from schemas import statuses
from support.waiting import scaled

pytestmark = pytest.mark.sandbox


def _environment(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "NPNFLOW_ENV": "local",
            "NPNFLOW_DATA_DIR": str(data_dir),
            "DAGSTER_HOME": str(data_dir / "dagster_home"),
            "DAGSTER_DISABLE_TELEMETRY": "true",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
    )
    for name in ("NPNFLOW_DATABASE_URL", "NPNFLOW_BUCKET_DIR"):
        env.pop(name, None)
    return env


def npnflow(data_dir: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "npnflow.cli", *args],
        cwd=paths.PROJECT_ROOT,
        env=_environment(data_dir),
        capture_output=True,
        text=True,
        timeout=scaled(timeout),
    )


def test_a_new_user_lists_releases_and_offboards_after_the_demo(tmp_path) -> None:
    demo = npnflow(tmp_path, "demo", "--producers", "150", timeout=600)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    out = demo.stdout
    assert "9. Just-in-time" in out
    assert re.search(r"T-\w+: Accepted, NIPR: .*; due \d{4}-\d{2}-\d{2}", out), out[-3000:]
    assert "Cancelled: 1 line(s) never sent" in out and "was Held (JIT)" in out
    assert "Portal access revoked, seat freed" in out
    waiting = re.search(r"`npnflow jit release --npn (\d+) --business-date", out)
    assert waiting, out[-2000:]
    npn = waiting.group(1)

    listed = npnflow(tmp_path, "jit", "list")
    assert listed.returncode == 0, listed.stderr
    # Its deadline: a date where the state's clock starts with the contract (the day it was
    # held), else the days the state allows after the business date.
    assert npn in listed.stdout
    assert re.search(
        r"\d{4}-\d{2}-\d{2} \(held \+ \d+ days\)|business date \+ \d+ days", listed.stdout
    ), listed.stdout
    assert "Held (JIT)" in listed.stdout

    released = npnflow(tmp_path, "jit", "release", "--npn", npn, "--by", "New User")
    assert released.returncode == 0, released.stdout + released.stderr
    batch = re.search(r"Approved batch\(es\) (jit-release-\S+?)[ ,]", released.stdout)
    assert batch, released.stdout
    again = npnflow(tmp_path, "jit", "release", "--npn", npn, "--by", "New User")
    assert again.returncode == 1 and "No Held (JIT) line" in again.stdout

    database = OperationalDatabase(url=f"sqlite:///{tmp_path / 'npnflow.db'}")
    batches = database.read_table("transaction_batches").set_index("batch_id")
    assert batches.loc[batch.group(1), "status"] == statuses.BATCH_APPROVED
    assert batches.loc[batch.group(1), "approved_by"] == "New User"

    appointed = database.read_table("appointments", ["npn", "cocode", "status"])
    companies = set(database.read_table("companies", ["cocode"]).cocode)
    database.engine.dispose()
    mine = appointed[
        appointed.status.str.lower().eq("appointed") & appointed.cocode.isin(companies)
    ]
    leaver = sorted(set(mine.npn) - {npn})[0]
    offboarded = npnflow(tmp_path, "offboard", leaver, "--by", "New User")
    assert offboarded.returncode == 0, offboarded.stdout + offboarded.stderr
    assert f"NPN {leaver}: Offboarded." in offboarded.stdout
    assert "Terminated:" in offboarded.stdout and "Batches to approve:" in offboarded.stdout
