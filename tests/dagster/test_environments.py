"""The environment switch wires production to S3 and secrets to environment variables."""

import dagster as dg

from pipelines.environments import resources_for
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
