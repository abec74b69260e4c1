"""The asset graph is what the committed snapshot says it is: every asset key, group,
partitions definition and upstream key, and the names of the checks, jobs, schedules and
sensors. A rename, a new dependency or a lost asset fails here, with what changed, until the
snapshot is updated deliberately (NPNFLOW_UPDATE_SNAPSHOTS=1 make test-fast) and committed."""

from __future__ import annotations

import pytest

from pipelines.definitions import build_definitions
from support.asset_graph import compare_with_snapshot, describe


def test_the_asset_graph_matches_its_snapshot(monkeypatch):
    # The default environment, whatever the shell says.
    monkeypatch.delenv("NPNFLOW_ENV", raising=False)
    monkeypatch.delenv("DAGSTER_DEPLOYMENT", raising=False)
    graph = describe(build_definitions())
    assert graph["assets"], "the definitions have no assets"
    failure = compare_with_snapshot(graph, "asset_graph.json")
    if failure:
        pytest.fail(failure, pytrace=False)
