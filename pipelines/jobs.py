"""Jobs: named selections of assets that a person or a schedule launches."""

from __future__ import annotations

import dagster as dg

from assets.nipr.assets import (
    CORE_TABLE_KEYS,
    INITIAL_SYNC_KEY,
    RAW_PDB_ALERTS_KEY,
    SUBSCRIPTIONS_KEY,
)
from assets.uploads.assets import UPLOAD_ASSET_KEYS

load_reference_data_job = dg.define_asset_job(
    name="load_reference_data_job",
    selection=dg.AssetSelection.groups("reference", "company_config"),
    description=(
        "Load NIPR's reference tables, the state rules and fees, and the customer's company "
        "setup from config/ into the operational database."
    ),
)

daily_nipr_sync_job = dg.define_asset_job(
    name="daily_nipr_sync_job",
    # Daily-partitioned like its assets (NIPR_DAILY_PARTITIONS); Dagster infers it from them.
    selection=dg.AssetSelection.assets(RAW_PDB_ALERTS_KEY, *CORE_TABLE_KEYS.values()),
    description=(
        "Fetch one day's PDB Alerts report from NIPR (kept verbatim in the object store) and "
        "apply it to the current-state tables: producers, licenses, license_loas, appointments."
    ),
)

sync_new_producers_job = dg.define_asset_job(
    name="sync_new_producers_job",
    selection=dg.AssetSelection.assets(INITIAL_SYNC_KEY, SUBSCRIPTIONS_KEY),
    description=(
        "Fetch Entity Info for producers not yet synced (Not Started, NIPR Error), then bring "
        "the PDB Alerts target lists in line with the tracked producers."
    ),
)

check_nipr_current_state_job = dg.define_asset_job(
    name="check_nipr_current_state_job",
    # Only the checks: the daily sync runs them after each apply; this re-runs them on demand.
    selection=dg.AssetSelection.checks_for_assets(*CORE_TABLE_KEYS.values()),
    description=(
        "Run the Great Expectations checks on the NIPR current-state tables without syncing: "
        "keys unique, NIPR codes known, expiration on or after issue, row counts within bounds."
    ),
)

process_upload_job = dg.define_asset_job(
    name="process_upload_job",
    # Partitioned by `uploads` (one dynamic partition per file), inferred from its assets.
    selection=dg.AssetSelection.assets(*UPLOAD_ASSET_KEYS),
    description=(
        "Process one dropped file (a partition of `uploads`, requested by inbox_file_sensor): "
        "read it, validate every row, write the error report beside it and, for an agent "
        "file, onboard the producers with their producer assignments."
    ),
)

JOBS = [
    load_reference_data_job,
    daily_nipr_sync_job,
    sync_new_producers_job,
    check_nipr_current_state_job,
    process_upload_job,
]
