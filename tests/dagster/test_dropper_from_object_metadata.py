"""Who dropped a file, from the bucket's own object metadata (issue 19 item 5): an S3 object put
with `x-amz-meta-dropped-by` (moto's S3 server over HTTP) is recorded as the file's dropper by
the upload step, exactly as `npnflow drop --by` records one; with `four_eyes: true` that person
may not approve its batches, and someone else may. A local folder has no object metadata."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest

from assets.appointments.assets import APPOINTMENT_ASSETS
from assets.batches.approval import BatchActionRefused, approve_batch
from resources.object_store import LocalFolderObjectStore, S3ObjectStore
from schemas import statuses
from support.dry_run import APPOINT_FILE, world_tables

pytestmark = pytest.mark.s3

KEY_ID, SECRET = "AKIANPNFLOWTESTKEY01", "npnflow-test-secret-4f1e9a0c7b2d"
APPROVERS = """
four_eyes: true
approvers:
  - cocode: "91234"
    kind: appointment
    names: [Dana Reviewer, Sam Dropper]
"""


@pytest.fixture(scope="module")
def template_db(tmp_path_factory, seeded_database) -> Path:
    return seeded_database(tmp_path_factory.mktemp("template") / "npnflow.db", world_tables())


@pytest.fixture
def s3(s3_endpoint):
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )
    bucket = f"npnflow-test-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    store = S3ObjectStore(
        bucket=bucket,
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )
    yield client, bucket, store
    store.close()


def test_the_object_metadata_names_the_dropper_and_four_eyes_holds(
    make_pipeline, template_db, s3, tmp_path, monkeypatch
):
    client, bucket, store = s3
    config = tmp_path / "config"
    config.mkdir()
    (config / "approvers.yaml").write_text(APPROVERS, encoding="utf-8")
    # The shipped company setup beside the approvers (the file is read from the same folder).
    from resources import paths

    for name in paths.config_dir().iterdir():
        if name.is_file() and name.name != "approvers.yaml":
            (config / name.name).write_bytes(name.read_bytes())
    monkeypatch.setenv("NPNFLOW_CONFIG_DIR", str(config))

    pipeline = make_pipeline(template_db, APPOINTMENT_ASSETS)
    pipeline.store = store
    key = "inbox/appoint/requests.csv"
    reply = client.put_object(
        Bucket=bucket, Key=key, Body=APPOINT_FILE, Metadata={"dropped-by": "Sam  Dropper"}
    )
    pipeline.process(key, reply["ETag"].strip('"'), "appoint")

    droppers = pipeline.table("upload_droppers")
    assert list(droppers["dropped_by"]) == ["Sam Dropper"]
    assert list(droppers["object_key"]) == [key]
    batches = pipeline.table("transaction_batches")
    pending = batches[batches["status"].eq(statuses.BATCH_PENDING_REVIEW)]
    batch_id = pending[pending["cocode"].eq("91234")]["batch_id"].iloc[0]
    now = dt.datetime.now(dt.UTC)
    with pipeline.database.begin() as connection, pytest.raises(BatchActionRefused) as refused:
        approve_batch(connection, batch_id, approved_by="Sam Dropper", now=now)
    assert "Sam Dropper dropped the file" in str(refused.value)
    with pipeline.database.begin() as connection:
        assert approve_batch(connection, batch_id, approved_by="Dana Reviewer", now=now).by == (
            "Dana Reviewer"
        )


def test_an_object_without_the_entry_and_a_local_folder_know_no_dropper(s3, tmp_path):
    client, bucket, store = s3
    client.put_object(Bucket=bucket, Key="inbox/appoint/a.csv", Body=b"x")
    client.put_object(
        Bucket=bucket, Key="inbox/appoint/b.csv", Body=b"x", Metadata={"dropped-by": "   "}
    )
    assert store.dropped_by("inbox/appoint/a.csv") is None
    assert store.dropped_by("inbox/appoint/b.csv") is None
    local = LocalFolderObjectStore(root=str(tmp_path))
    local.put_bytes("inbox/appoint/a.csv", b"x")
    assert local.dropped_by("inbox/appoint/a.csv") is None
