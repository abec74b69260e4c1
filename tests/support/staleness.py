"""What the UI's "Unsynced" tag on an asset is computed from: Dagster's stale status and its
causes, read from an instance with the project's asset graph (the same resolver the webserver
uses for `staleStatus` and `staleCauses`)."""

from __future__ import annotations

import dagster as dg


def stale_status(instance: dg.DagsterInstance, key: str) -> tuple[str, list[str]]:
    """("FRESH", []) when the asset is up to date; else "STALE" and each cause as
    "upstream [partition]: reason"."""
    from dagster._core.asset_graph_view.asset_graph_view import AssetGraphView
    from dagster._core.definitions.data_version import CachingStaleStatusResolver
    from dagster._core.definitions.temporal_context import TemporalContext
    from dagster._time import get_current_datetime

    from pipelines.definitions import build_definitions

    graph = build_definitions("local").resolve_asset_graph()
    view = AssetGraphView(
        temporal_context=TemporalContext(effective_dt=get_current_datetime(), last_event_id=None),
        instance=instance,
        asset_graph=graph,
    )
    resolver = CachingStaleStatusResolver(instance, graph, view)
    asset_key = dg.AssetKey(key)
    causes = [
        f"{cause.dependency.asset_key.to_user_string()} [{cause.dependency.partition_key}]: "
        f"{cause.reason}"
        if cause.dependency is not None
        else cause.reason
        for cause in resolver.get_stale_causes(asset_key)
    ]
    return resolver.get_status(asset_key).value, causes
