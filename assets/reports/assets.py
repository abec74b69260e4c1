"""The dbt reports (SPEC section 10) as Dagster assets: dbt_reports loaded by dagster-dbt.

- One asset per report model (key = the model's name, group `reports`). The staging models are
  ephemeral (CTEs), so each report depends directly on the Python assets that write the tables it
  reads: the dbt sources name them (`meta.dagster.asset_key`), and `with_report_lineage` adds the
  other writers of the same tables that the code location defines.
- Each dbt test is an asset check of the report it tests.
- A materialization runs one `dbt build` in the run's `database` (resources/dbt_reports.py),
  after checking the database is migrated. The as-of date of the expiring-licenses report is
  the run config's `as_of`, else today (UTC).

Loading this module reads the prepared manifest; it never runs dbt, except under `dagster dev`,
where dagster-dbt's convention is to re-parse so edits to the models show on reload.
"""

import datetime as dt
import functools
import json
import warnings
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import sqlalchemy as sa
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject, dbt_assets
from pydantic import Field

from assets.reports.relations import REPORT_MODELS, report_table
from resources.database import OperationalDatabase
from resources.dbt_reports import (
    ReportsDbt,
    prepare_reports_project,
    prepared_manifest_path,
    reports_project,
)

REPORTS_GROUP = "reports"
REPORT_ASSET_KEYS = tuple(dg.AssetKey(name) for name in REPORT_MODELS)
# dagster-dbt's metadata naming the adapter and relation the manifest was parsed for.
_ADAPTER_METADATA = ("dagster/storage_kind", "dagster/table_name", "dagster/relation_identifier")


class ReportsTranslator(DagsterDbtTranslator):
    """dbt_reports' models as npnflow's report assets."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return REPORTS_GROUP

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        if not unique_id.startswith("model."):
            return spec
        # The manifest is parsed with the sqlite target (the build step needs no database),
        # but the same assets run on PostgreSQL in production: name no adapter, and no
        # database-qualified table. relations.py says where each report lives on each backend.
        metadata = {
            key: value for key, value in spec.metadata.items() if key not in _ADAPTER_METADATA
        }
        return spec.replace_attributes(kinds={"dbt", "sql"}, metadata=metadata)


class ReportsBuildConfig(dg.Config):
    as_of: str | None = Field(
        default=None,
        description=(
            "The date the expiring-licenses report counts its 30/60/90 days from, YYYY-MM-DD. "
            "Empty: today (UTC)."
        ),
    )


def _as_of(config: ReportsBuildConfig) -> dt.date:
    if not config.as_of:
        return dt.datetime.now(dt.UTC).date()
    try:
        return dt.date.fromisoformat(config.as_of.strip())
    except ValueError:
        raise dg.Failure(
            description=f"as_of must be a date written YYYY-MM-DD (e.g. 2026-03-31), not {config.as_of!r}.",
            allow_retries=False,
        ) from None


def _manifest_path() -> Path:
    if reports_project().preparer.using_dagster_dev():
        # `dagster dev`: parse now, so edits to the models show when the code location reloads
        # (what DbtProject.prepare_if_dev does, with the virtualenv's dbt).
        prepare_reports_project()
    return prepared_manifest_path()


@dbt_assets(
    manifest=_manifest_path(),
    project=reports_project(),
    dagster_dbt_translator=ReportsTranslator(
        DagsterDbtTranslatorSettings(
            # `transactions` and `request_rejections` are both written by
            # core_appointments__transactions.
            enable_duplicate_source_asset_keys=True,
            # Source metadata on the deps would name the sqlite tables the manifest was parsed
            # for (main.main.companies), wrong on PostgreSQL.
            enable_source_metadata=False,
        )
    ),
    name="reports_dbt_models",
)
def reports_dbt_models(
    context: dg.AssetExecutionContext,
    config: ReportsBuildConfig,
    database: OperationalDatabase,
    reports_dbt: ReportsDbt,
) -> Iterator[Any]:
    """Build the selected reports and run their tests, in the operational database."""
    as_of = _as_of(config)
    for event in reports_dbt.build(context, database_url=database.migrated_url, as_of=as_of):
        if isinstance(event, dg.Output):
            event = event.with_metadata(
                {**event.metadata, **_report_metadata(database, _model_of(context, event), as_of)}
            )
        yield event


def _model_of(context: dg.AssetExecutionContext, output: dg.Output[Any]) -> str:
    model: str = context.asset_key_for_output(output.output_name).path[-1]
    return model


def _report_metadata(database: OperationalDatabase, model: str, as_of: dt.date) -> dict[str, Any]:
    """What the UI shows beside a built report: its rows as the database now holds them."""
    with database.engine.connect() as connection:
        table = report_table(connection, model)
        rows = connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    where = f"{table.schema}.{table.name}" if table.schema else table.name
    return {
        "dagster/row_count": rows,
        "table": where,
        "database": database.display_url,
        "as_of": as_of.isoformat(),
    }


REPORT_ASSETS = [reports_dbt_models]


# --------------------------------------------------------------------------------------------
# Lineage: the other assets writing the tables a report reads
# --------------------------------------------------------------------------------------------


@functools.cache
def _also_written_by() -> Mapping[dg.AssetKey, frozenset[dg.AssetKey]]:
    """Per report: the assets named by `meta.npnflow.also_written_by` on the dbt sources it
    reads, through its ephemeral staging models."""
    manifest = json.loads(prepared_manifest_path().read_text())
    nodes, sources = manifest["nodes"], manifest["sources"]

    def writers(source: Mapping[str, Any]) -> set[dg.AssetKey]:
        meta = {**source.get("meta", {}), **source.get("config", {}).get("meta", {})}
        return {dg.AssetKey(key) for key in meta.get("npnflow", {}).get("also_written_by", [])}

    def upstream(unique_id: str, seen: set[str]) -> set[dg.AssetKey]:
        found: set[dg.AssetKey] = set()
        for parent in nodes[unique_id].get("depends_on", {}).get("nodes", []):
            if parent in seen:
                continue
            seen.add(parent)
            if parent in sources:
                found |= writers(sources[parent])
            elif parent in nodes:
                found |= upstream(parent, seen)
        return found

    return {
        dg.AssetKey(node["name"]): frozenset(upstream(unique_id, set()))
        for unique_id, node in nodes.items()
        if node["resource_type"] == "model" and node["name"] in REPORT_MODELS
    }


def _defined_keys(assets: Iterable[object]) -> set[dg.AssetKey]:
    keys: set[dg.AssetKey] = set()
    for asset in assets:
        if isinstance(asset, dg.AssetsDefinition):
            keys |= set(asset.keys)
        elif isinstance(asset, dg.AssetSpec | dg.SourceAsset):
            keys.add(asset.key)
    return keys


def with_report_lineage(*assets: Any) -> list[Any]:
    """`assets` as given, with the reports also downstream of the other assets that write the
    tables they read, for those `assets` defines.

    A dbt source names one asset (`transactions`: core_appointments__transactions), but the
    terminations group writes the same table (kind 'termination') and the Gateway submission
    updates it. Only defined assets are added: a key no asset defines would show in the UI as
    an asset that is never materialized.
    """
    defined = _defined_keys(assets)
    also_written_by = _also_written_by()

    def add_writers(spec: dg.AssetSpec) -> dg.AssetSpec:
        current = {dep.asset_key for dep in spec.deps}
        extra = sorted(
            (also_written_by.get(spec.key, frozenset()) & defined) - current,
            key=lambda key: key.to_user_string(),
        )
        return spec.replace_attributes(deps=[*spec.deps, *extra]) if extra else spec

    def linked(asset: Any) -> Any:
        if not (
            isinstance(asset, dg.AssetsDefinition) and set(asset.keys) & set(REPORT_ASSET_KEYS)
        ):
            return asset
        with warnings.catch_warnings():
            # Adding deps rebuilds the op, whose outputs carry dagster-dbt's own metadata
            # (manifest, translator, project objects); Dagster warns about those values again.
            warnings.filterwarnings(
                "ignore", "Support for arbitrary metadata values", DeprecationWarning
            )
            return asset.map_asset_specs(add_writers)

    return [linked(asset) for asset in assets]
