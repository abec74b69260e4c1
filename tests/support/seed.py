"""The rows most database tests start from: a migrated database with the shipped reference
tables (NIPR's license classes, LOAs, state rules, ...) and the sample company setup in
config/, which upload validation and eligibility read."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from assets.reference.loading import load_company_config, load_reference_data
from resources import paths
from resources.database import OperationalDatabase
from schemas.migrate import upgrade


def seed_reference(database: OperationalDatabase) -> None:
    """Write the shipped reference tables and company setup into `database`."""
    reference = load_reference_data(paths.reference_dir())
    database.replace_tables(reference)
    database.replace_tables(load_company_config(paths.config_dir(), reference))


def seeded_database(
    url: str, tables: Mapping[str, pd.DataFrame] | None = None
) -> OperationalDatabase:
    """Migrate the database at `url`, seed the reference rows, then write `tables`."""
    upgrade(url)
    database = OperationalDatabase(url=url)
    seed_reference(database)
    if tables:
        database.replace_tables(dict(tables))
    return database
