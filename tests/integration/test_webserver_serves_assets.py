"""The Dagster webserver, started on this code location, serves the asset groups and lineage."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import requests

from support.processes import running_webserver
from support.waiting import wait_until

pytestmark = pytest.mark.webserver

QUERY = "{ assetNodes { assetKey { path } groupName dependencyKeys { path } } }"


@pytest.fixture
def webserver(tmp_path) -> Iterator[str]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "NPNFLOW_ENV": "local",
        "NPNFLOW_DATA_DIR": str(tmp_path),
    }
    # Up once it answers; the test itself waits for the code location's assets.
    with running_webserver(env, tmp_path / "webserver.log", until="answers", deadline=90) as server:
        yield server.base_url


def _asset_nodes(webserver: str) -> list[dict]:
    response = requests.post(f"{webserver}/graphql", json={"query": QUERY}, timeout=30)
    response.raise_for_status()
    return response.json()["data"]["assetNodes"]


def test_ui_lists_reference_and_company_assets(webserver):
    # The code location may still be loading.
    nodes = wait_until(lambda: _asset_nodes(webserver), "the asset nodes", 60)
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
