"""The Dagster webserver, started on this code location, serves the asset groups and lineage."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests

from resources import paths

pytestmark = pytest.mark.webserver

QUERY = "{ assetNodes { assetKey { path } groupName dependencyKeys { path } } }"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def webserver(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    port = _free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "NPNFLOW_ENV": "local",
        "NPNFLOW_DATA_DIR": str(tmp_path),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dagster_webserver",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-w",
            str(paths.PROJECT_ROOT / "workspace.yaml"),
        ],
        cwd=paths.PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"dagster-webserver exited with {process.returncode}")
            try:
                if requests.get(f"{base}/server_info", timeout=2).ok:
                    break
            except requests.RequestException:
                time.sleep(0.5)
        else:
            pytest.fail("dagster-webserver did not answer within 90 s")
        yield base
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def test_ui_lists_reference_and_company_assets(webserver):
    nodes = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not nodes:
        response = requests.post(f"{webserver}/graphql", json={"query": QUERY}, timeout=30)
        response.raise_for_status()
        nodes = response.json()["data"]["assetNodes"]
        if not nodes:
            time.sleep(1)  # the code location may still be loading
    groups = {"/".join(n["assetKey"]["path"]): n["groupName"] for n in nodes}
    assert groups.get("core_reference__jurisdictions") == "reference"
    assert groups.get("core_reference__loa_categories") == "reference"
    assert groups.get("core_config__companies") == "company_config"
    # A dropped appoint file can be followed to its batches and their submission runs.
    parents = {
        "/".join(n["assetKey"]["path"]): {"/".join(d["path"]) for d in n["dependencyKeys"]}
        for n in nodes
    }
    assert groups.get("core_appointments__transactions") == "appointments"
    assert groups.get("out_nipr__gateway_submissions") == "submissions"
    assert "core_uploads__validated" in parents["core_appointments__transactions"]
    assert "core_appointments__transactions" in parents["core_appointments__batches"]
    assert "core_appointments__batches" in parents["out_nipr__gateway_submissions"]
