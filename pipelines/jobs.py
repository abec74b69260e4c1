"""Jobs: named selections of assets that a person or a schedule launches."""

from __future__ import annotations

import dagster as dg

load_reference_data_job = dg.define_asset_job(
    name="load_reference_data_job",
    selection=dg.AssetSelection.groups("reference", "company_config"),
    description=(
        "Load NIPR's reference tables, the state rules and fees, and the customer's company "
        "setup from config/ into the operational database."
    ),
)

JOBS = [load_reference_data_job]
