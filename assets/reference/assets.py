"""Reference data and the customer's company setup, loaded from `config/` into the database.

Thin Dagster wiring: the files are read and validated by the pure loaders (`reference_data.py`,
`company_setup.py`, both reached through `loading.py`); these assets write the result in one database transaction and describe it for the UI. Each table is
its own asset, so dbt sources and later assets can depend on exactly what they read.
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg
import pandas as pd

from assets.metadata import markdown_preview
from assets.reference.company_setup import load_company_config
from assets.reference.config_files import ConfigError
from assets.reference.reference_data import load_reference_data
from resources import paths
from resources.database import OperationalDatabase

REFERENCE_TABLES = {
    "jurisdictions": "The 54 NIPR jurisdictions (50 states, DC, GU, PR, VI).",
    "license_classes": "Every license class NIPR uses, per jurisdiction (NIPR's workbook).",
    "lines_of_authority": "Every line of authority (LOA), per jurisdiction (NIPR's workbook).",
    "license_class_loas": "Which LOAs each license class carries (NIPR's workbook).",
    "producer_license_classes": "The individual producer license classes of each jurisdiction.",
    "loa_categories": "Default LOA-to-category mapping (many-to-many), editable.",
    "termination_reasons": "Canonical appointment termination reasons.",
    "state_termination_reasons": "Termination reasons each state accepts, and its default.",
    "state_fees": "State appointment and termination fees (resident, non-resident, per LOA).",
    "state_appointment_rules": "Per-state JIT, effective-date and filing rules.",
    "nipr_transaction_fees": (
        "NIPR's own fee per Gateway transaction (appointment, termination), invoiced by NIPR "
        "apart from the state fees; a flagged estimate until set from the customer's invoice."
    ),
    "state_appointment_renewals": (
        "How each state renews appointments: rule, channel, window, termination cut-off and "
        "renewal fee (docs/renewals.md)."
    ),
}

COMPANY_CONFIG_TABLES = {
    "companies": "The customer's companies (CoCode, name, FEIN, producer assignments required).",
    "company_loa_categories": "The LOA categories each company appoints for.",
    "company_state_settings": "Where each company appoints: state company ID and JIT flag.",
    "gateway_business_rules": "The lines (license class, LOA) the customer does business in.",
}

# What the company setup is checked against.
COMPANY_CONFIG_READS = (
    "jurisdictions",
    "license_class_loas",
    "producer_license_classes",
    "loa_categories",
    "state_appointment_rules",
)


def reference_asset_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(f"core_reference__{table}")


def company_config_asset_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(f"core_config__{table}")


def _table_metadata(table: str, frame: pd.DataFrame, written: int, source: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "table": table,
        "dagster/row_count": written,
        "source": dg.MetadataValue.path(source),
        "preview": markdown_preview(frame),
    }
    if "is_assumption" in frame.columns:
        metadata["rows_marked_assumption"] = int(frame["is_assumption"].sum())
    return metadata


@dg.multi_asset(
    name="reference_tables",
    specs=[
        dg.AssetSpec(
            reference_asset_key(table),
            description=description,
            group_name="reference",
            kinds={"csv", "sql"},
            metadata={"table": table},
        )
        for table, description in REFERENCE_TABLES.items()
    ],
)
def reference_tables(
    context: dg.AssetExecutionContext, database: OperationalDatabase
) -> Iterator[dg.MaterializeResult[Any]]:
    """Read `config/reference/`, validate it, and replace the reference tables at once."""
    source = paths.reference_dir()
    try:
        frames = load_reference_data(source)
    except ConfigError as error:
        raise dg.Failure(description=str(error)) from None
    written = database.replace_tables(frames)
    for table in REFERENCE_TABLES:
        yield dg.MaterializeResult(
            asset_key=reference_asset_key(table),
            metadata=_table_metadata(table, frames[table], written[table], str(source)),
        )


@dg.multi_asset(
    name="company_config_tables",
    specs=[
        dg.AssetSpec(
            company_config_asset_key(table),
            description=description,
            group_name="company_config",
            kinds={"yaml", "sql"},
            deps=[reference_asset_key(t) for t in COMPANY_CONFIG_READS],
            metadata={"table": table},
        )
        for table, description in COMPANY_CONFIG_TABLES.items()
    ],
)
def company_config_tables(
    context: dg.AssetExecutionContext, database: OperationalDatabase
) -> Iterator[dg.MaterializeResult[Any]]:
    """Validate `config/companies.yaml` and the gateway business rules against the loaded
    reference tables, then replace the company tables at once. A bad setup changes nothing
    and fails with one line per problem, naming the file, the company and the value."""
    reference = {table: database.read_table(table) for table in COMPANY_CONFIG_READS}
    if reference["jurisdictions"].empty:
        raise dg.Failure(
            description="The reference tables are empty: materialize the `reference` group first."
        )
    source = paths.config_dir()
    try:
        frames = load_company_config(source, reference)
    except ConfigError as error:
        raise dg.Failure(description=str(error)) from None
    written = database.replace_tables(frames)
    for table in COMPANY_CONFIG_TABLES:
        yield dg.MaterializeResult(
            asset_key=company_config_asset_key(table),
            metadata=_table_metadata(table, frames[table], written[table], str(source)),
        )
