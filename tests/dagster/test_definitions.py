"""The one composition root loads in every environment, with the asset graph a user expects."""

from __future__ import annotations

import dagster as dg
import pytest

from pipelines.definitions import build_definitions
from pipelines.environments import ENVIRONMENTS, UnknownEnvironment, current_environment
from resources.database import OperationalDatabase
from resources.nipr import NiprClient

REFERENCE_KEYS = {
    f"core_reference__{t}"
    for t in (
        "jurisdictions",
        "license_classes",
        "lines_of_authority",
        "license_class_loas",
        "producer_license_classes",
        "loa_categories",
        "termination_reasons",
        "state_termination_reasons",
        "state_fees",
        "state_appointment_rules",
    )
}
COMPANY_KEYS = {
    f"core_config__{t}"
    for t in (
        "companies",
        "company_loa_categories",
        "company_state_settings",
        "gateway_business_rules",
    )
}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_definitions_load_in_every_environment(environment):
    defs = build_definitions(environment)
    repository = defs.get_repository_def()
    keys = {key.to_user_string() for key in repository.asset_graph.get_all_asset_keys()}
    assert keys >= REFERENCE_KEYS | COMPANY_KEYS
    assert defs.resolve_job_def("load_reference_data_job") is not None
    assert set(defs.resources) >= {"database", "object_store", "nipr"}


def test_asset_groups_and_lineage():
    graph = build_definitions("local").get_repository_def().asset_graph
    groups = {key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert {groups[k] for k in REFERENCE_KEYS} == {"reference"}
    assert {groups[k] for k in COMPANY_KEYS} == {"company_config"}
    # The company setup is validated against the reference tables it reads.
    companies = graph.get(dg.AssetKey("core_config__companies"))
    assert dg.AssetKey("core_reference__jurisdictions") in companies.parent_keys


def test_production_secrets_are_environment_variables_not_values():
    resources = build_definitions("prod").resources
    nipr = resources["nipr"]
    assert isinstance(nipr, NiprClient)
    # EnvVar fields stay unresolved until a run starts: the password is never in the definitions.
    assert nipr.password == dg.EnvVar("NIPR_PASSWORD")
    assert nipr.username == dg.EnvVar("NIPR_USERNAME")
    assert "api.nipr.com" in nipr.gateway_base_url
    database = resources["database"]
    assert isinstance(database, OperationalDatabase)
    assert database.url == dg.EnvVar("NPNFLOW_DATABASE_URL")


def test_local_environment_uses_the_embedded_default(tmp_path, monkeypatch):
    monkeypatch.setenv("NPNFLOW_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("NPNFLOW_DATABASE_URL", raising=False)
    resources = build_definitions("local").resources
    assert resources["database"].url == f"sqlite:///{tmp_path / 'npnflow.db'}"
    assert resources["object_store"].root == str(tmp_path / "bucket")
    assert resources["nipr"].pdb_base_url.startswith("http://127.0.0.1")


def test_unknown_environment_fails_loudly():
    with pytest.raises(UnknownEnvironment, match="staging"):
        current_environment({"NPNFLOW_ENV": "staging"})
    assert current_environment({}) == "local"
    assert current_environment({"DAGSTER_DEPLOYMENT": "prod"}) == "prod"
