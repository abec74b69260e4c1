"""The asset graph as plain data, for the snapshot in tests/snapshots/asset_graph.json: every
asset's key, group, partitions (kind and name) and upstream keys, and the names of the asset
checks, jobs, schedules and sensors. A change to any of them shows as a difference from the
committed snapshot, which is updated deliberately (`NPNFLOW_UPDATE_SNAPSHOTS=1`)."""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path
from typing import Any

import dagster as dg

UPDATE_VARIABLE = "NPNFLOW_UPDATE_SNAPSHOTS"
SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots"


def _partitions(definition: dg.PartitionsDefinition | None) -> dict[str, Any] | None:
    if definition is None:
        return None
    described: dict[str, Any] = {"kind": type(definition).__name__}
    name = getattr(definition, "name", None)
    if name:
        described["name"] = name
    if isinstance(definition, dg.TimeWindowPartitionsDefinition):
        # Daily partitions have no name: their start, cron and timezone say which they are.
        described["start"] = definition.start.isoformat()
        described["cron_schedule"] = definition.cron_schedule
        described["timezone"] = definition.timezone
    if isinstance(definition, dg.MultiPartitionsDefinition):
        described["dimensions"] = {
            d.name: _partitions(d.partitions_def) for d in definition.partitions_defs
        }
    return described


def describe(defs: dg.Definitions) -> dict[str, Any]:
    """What the snapshot holds, sorted so that it reads the same run after run."""
    repository = defs.get_repository_def()
    graph = repository.asset_graph
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "partitions": _partitions(node.partitions_def),
            "upstream": sorted(parent.to_user_string() for parent in node.parent_keys),
        }
    checks = sorted(
        f"{check.asset_key.to_user_string()}:{check.name}" for check in graph.asset_check_keys
    )
    # Dagster's implicit asset jobs (`__ASSET_JOB...`) are its own, not the project's.
    jobs = sorted(j.name for j in repository.get_all_jobs() if not j.name.startswith("__"))
    return {
        "assets": assets,
        "asset_checks": checks,
        "jobs": jobs,
        "schedules": sorted(s.name for s in repository.schedule_defs),
        "sensors": sorted(s.name for s in repository.sensor_defs),
    }


def render(snapshot: dict[str, Any]) -> str:
    return json.dumps(snapshot, indent=2, sort_keys=True) + "\n"


def _changes(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """What changed, in words: assets added, removed or changed (which fields), and names
    added or removed from each list."""
    lines = []
    old, new = expected.get("assets", {}), actual["assets"]
    lines += [f"asset added: {key}" for key in sorted(new.keys() - old.keys())]
    lines += [f"asset removed: {key}" for key in sorted(old.keys() - new.keys())]
    for key in sorted(old.keys() & new.keys()):
        for field in sorted(old[key].keys() | new[key].keys()):
            if old[key].get(field) != new[key].get(field):
                was, now = old[key].get(field), new[key].get(field)
                lines.append(f"asset {key}: {field} was {was!r}, is now {now!r}")
    for section in ("asset_checks", "jobs", "schedules", "sensors"):
        was, now = set(expected.get(section, [])), set(actual[section])
        lines += [f"{section[:-1]} added: {name}" for name in sorted(now - was)]
        lines += [f"{section[:-1]} removed: {name}" for name in sorted(was - now)]
    return lines


def compare_with_snapshot(actual: dict[str, Any], name: str) -> str | None:
    """None when `actual` is the committed snapshot `name`; else the failure message. With
    NPNFLOW_UPDATE_SNAPSHOTS=1 the snapshot is rewritten instead (and None returned)."""
    path = SNAPSHOTS / name
    text = render(actual)
    if os.environ.get(UPDATE_VARIABLE) == "1":
        path.write_text(text)
        return None
    if not path.exists():
        return (
            f"no snapshot at {path}. Write it with {UPDATE_VARIABLE}=1 make test-fast "
            "(or the same variable on pytest), check it, and commit it."
        )
    committed = path.read_text()
    if committed == text:
        return None
    changes = _changes(json.loads(committed), actual) or ["(only the layout of the file)"]
    diff = difflib.unified_diff(
        committed.splitlines(), text.splitlines(), str(path), "the code's graph", lineterm=""
    )
    return "\n".join(
        [
            f"The asset graph differs from the committed snapshot {path}:",
            *(f"  - {line}" for line in changes),
            "",
            "If the change is intended, update the snapshot deliberately and commit it with the",
            f"change: {UPDATE_VARIABLE}=1 make test-fast (or {UPDATE_VARIABLE}=1 pytest "
            "tests/dagster/test_asset_graph_snapshot.py), then review `git diff tests/snapshots`.",
            "",
            *diff,
        ]
    )
