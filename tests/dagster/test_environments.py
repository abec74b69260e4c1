"""The environment switch wires production to S3 and secrets to environment variables."""

import dagster as dg
import pytest
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster._serdes import serialize_value

from pipelines.definitions import build_definitions
from pipelines.environments import ENVIRONMENTS, resources_for
from resources.object_store import LocalFolderObjectStore, S3ObjectStore


def test_production_bucket_is_s3_with_secrets_from_the_environment():
    store = resources_for(
        "prod",
        {
            "NPNFLOW_S3_ENDPOINT_URL": "https://s3.example.internal",
            "NPNFLOW_S3_ACCESS_KEY_ID": "set",
            "NPNFLOW_S3_SECRET_ACCESS_KEY": "set",
        },
    )["object_store"]
    assert isinstance(store, S3ObjectStore)
    assert store.bucket == dg.EnvVar("NPNFLOW_S3_BUCKET")
    assert store.endpoint_url == "https://s3.example.internal"
    assert store.aws_secret_access_key == dg.EnvVar("NPNFLOW_S3_SECRET_ACCESS_KEY")


def test_production_bucket_without_keys_uses_the_machines_credentials():
    store = resources_for("prod", {})["object_store"]
    assert store.aws_access_key_id is None
    assert store.aws_secret_access_key is None
    assert store.endpoint_url is None


def test_local_bucket_is_a_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("NPNFLOW_DATA_DIR", str(tmp_path))
    store = resources_for("local", {})["object_store"]
    assert isinstance(store, LocalFolderObjectStore)
    assert store.root == str(tmp_path / "bucket")


# A password that can only come from the URL below: found anywhere, it leaked.
SECRET_PASSWORD = "Sup3r-s3cret-db-pw"
DATABASE_URL = f"postgresql+psycopg2://npnflow:{SECRET_PASSWORD}@db.example:5432/npnflow"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_a_database_url_with_a_password_stays_out_of_the_repository_snapshot(
    environment, monkeypatch
):
    """What the UI shows of the code location (the Launchpad's resource config, the
    definitions' snapshot) names the variable, never its value: in `local` too, where the URL
    used to be read at load and written into the resource as a plain value."""
    monkeypatch.setenv("NPNFLOW_DATABASE_URL", DATABASE_URL)
    defs = build_definitions(environment)

    # The snapshot the code server sends the webserver and the daemon (an internal API: the
    # public one gives no serialised view of a whole repository).
    snapshot = serialize_value(RepositorySnap.from_def(defs.get_repository_def()))

    assert SECRET_PASSWORD not in snapshot
    assert "NPNFLOW_DATABASE_URL" in snapshot
    database = defs.resources["database"]
    assert database.url == dg.EnvVar("NPNFLOW_DATABASE_URL")
    assert SECRET_PASSWORD not in repr(database)


def test_a_local_database_url_from_the_environment_is_the_one_a_run_uses(monkeypatch):
    monkeypatch.setenv("NPNFLOW_DATABASE_URL", DATABASE_URL)
    database = resources_for("local")["database"]

    with dg.build_resources({"database": database}) as built:
        assert built.database.url == DATABASE_URL  # resolved when the run starts


def test_without_a_database_url_local_uses_the_embedded_sqlite_file(tmp_path, monkeypatch):
    monkeypatch.delenv("NPNFLOW_DATABASE_URL", raising=False)
    monkeypatch.setenv("NPNFLOW_DATA_DIR", str(tmp_path))

    assert resources_for("local")["database"].url == f"sqlite:///{tmp_path / 'npnflow.db'}"
