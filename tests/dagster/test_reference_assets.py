"""The reference and company-config assets load config/ into a migrated database."""

from __future__ import annotations

import shutil

import dagster as dg
import pytest

from assets.reference.assets import (
    COMPANY_CONFIG_TABLES,
    REFERENCE_TABLES,
    company_config_tables,
    reference_tables,
)
from resources import paths
from resources.database import OperationalDatabase
from schemas.migrate import upgrade


@pytest.fixture
def database(tmp_path):
    url = f"sqlite:///{tmp_path / 'npnflow.db'}"
    upgrade(url)
    return OperationalDatabase(url=url)


def _materialize(database):
    return dg.materialize(
        [reference_tables, company_config_tables],
        resources={"database": database},
        raise_on_error=False,
    )


def test_reference_and_company_assets_fill_every_table(database):
    result = _materialize(database)
    assert result.success
    counts = database.count_rows([*REFERENCE_TABLES, *COMPANY_CONFIG_TABLES])
    assert counts["jurisdictions"] == 54
    assert all(rows > 0 for rows in counts.values()), counts
    # The UI shows each table's row count and a preview.
    materialization = result.asset_materializations_for_node("reference_tables")[0]
    assert "dagster/row_count" in materialization.metadata
    assert "preview" in materialization.metadata


def test_rematerializing_is_idempotent(database):
    assert _materialize(database).success
    first = database.count_rows([*REFERENCE_TABLES, *COMPANY_CONFIG_TABLES])
    assert _materialize(database).success
    assert database.count_rows([*REFERENCE_TABLES, *COMPANY_CONFIG_TABLES]) == first


def test_bad_company_setup_fails_clearly_and_changes_nothing(database, tmp_path, monkeypatch):
    assert _materialize(database).success
    before = database.read_table("companies")
    broken = tmp_path / "config"
    shutil.copytree(paths.config_dir(), broken)
    text = (broken / "companies.yaml").read_text()
    first_state = database.read_table("company_state_settings").state_code.iloc[0]
    (broken / "companies.yaml").write_text(
        text.replace(f"state_code: {first_state}", "state_code: XX", 1)
    )
    monkeypatch.setenv("NPNFLOW_CONFIG_DIR", str(broken))
    result = dg.materialize(
        [company_config_tables],
        resources={"database": database},
        raise_on_error=False,
    )
    assert not result.success
    failure = result.failure_data_for_node("company_config_tables")
    assert "XX" in failure.error.message or "XX" in str(failure.user_failure_data)
    assert database.read_table("companies").equals(before)


def test_assets_refuse_an_unmigrated_database(tmp_path):
    database = OperationalDatabase(url=f"sqlite:///{tmp_path / 'empty.db'}")
    result = dg.materialize(
        [reference_tables], resources={"database": database}, raise_on_error=False
    )
    assert not result.success
    failure = result.failure_data_for_node("reference_tables")
    assert "npnflow db upgrade" in str(failure.error)
