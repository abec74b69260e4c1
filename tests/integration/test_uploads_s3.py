"""A file dropped into an S3 bucket (moto's server over HTTP on loopback) goes through
`inbox_file_sensor` and `process_upload_job`'s assets: producers in the database and the error
report beside the file in the bucket."""

from __future__ import annotations

import dagster as dg
import pytest

from assets.uploads.assets import UPLOAD_ASSETS
from pipelines.definitions import build_definitions
from resources.database import OperationalDatabase
from resources.object_store import S3ObjectStore
from resources.ssn import SsnVault, generate_key
from support.seed import seeded_database

pytestmark = pytest.mark.s3

ACCESS_KEY_ID = "AKIANPNFLOWTESTKEY02"
SECRET_ACCESS_KEY = "npnflow-test-secret-uploads-7c3e"
BUCKET = "npnflow-uploads-test"
AGENT_FILE = (
    b"Agency NPN,First Name,Last Name,Agent NPN,Agent Email,Agent SSN,LOA Category,States,"
    b"Scorecard Type,Agent Type,CoCodes\r\n"
    b"9000001,Ann,Lee,10000001,ann@example.com,123-45-6789,Life,CA;TX,License,Producer,\r\n"
    b",,,,,,,,,,\r\n"
    b"9000001,Bob,Ray,10000002,bob@example,,,,,,\r\n"
    b"9000001,Cy,Diaz,10000003,,,,,,,\r\n"
)


@pytest.fixture
def admin(s3_endpoint):
    """A plain boto3 client: the analyst's S3 tool."""
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    )
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def database(tmp_path) -> OperationalDatabase:
    return seeded_database(f"sqlite:///{tmp_path / 'npnflow.db'}")


def test_a_file_dropped_in_s3_ends_with_producers_and_a_report_beside_it(
    s3_endpoint, admin, database
):
    admin.put_object(Bucket=BUCKET, Key="inbox/agent/hires-2026-03.csv", Body=AGENT_FILE)
    store = S3ObjectStore(
        bucket=BUCKET,
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    )
    defs = build_definitions("local")
    with dg.instance_for_test() as instance:
        # A context manager: the S3 store's client is closed when the tick ends.
        with dg.build_sensor_context(
            instance=instance,
            instance_ref=instance.get_ref(),
            resources={"object_store": store},
            definitions=defs,
        ) as context:
            tick = defs.resolve_sensor_def("inbox_file_sensor").evaluate_tick(context)
        [run] = tick.run_requests
        assert run.run_key.startswith("inbox/agent/hires-2026-03.csv:")
        for request in tick.dynamic_partitions_requests:
            instance.add_dynamic_partitions(
                request.partitions_def_name, list(request.partition_keys)
            )
        result = dg.materialize(
            UPLOAD_ASSETS,
            partition_key=run.partition_key,
            instance=instance,
            tags=run.tags,
            resources={
                "database": database,
                "object_store": store,
                "ssn_vault": SsnVault(key=generate_key()),
            },
        )
        assert result.success

    producers = database.read_table("producers").set_index("npn")
    assert sorted(producers.index) == ["10000001", "10000003"]
    assert producers.loc["10000001", "ssn_last4"] == "6789"
    assert len(database.read_table("producer_assignments")) == 2  # Life x CA;TX

    report_key = "inbox/agent/hires-2026-03.csv.errors.csv"
    body = admin.get_object(Bucket=BUCKET, Key=report_key)["Body"].read().decode("utf-8-sig")
    lines = body.splitlines()
    assert lines[0].startswith("Row,Errors") and lines[1].startswith("4,")
    assert "not a valid email address" in lines[1]
    upload = database.read_table("uploads").iloc[0]
    assert (upload.status, upload.error_report_key) == ("Processed", report_key)

    # The report is beside the file, and the next tick asks for neither of them.
    with dg.build_sensor_context(
        instance=dg.DagsterInstance.ephemeral(),
        cursor=tick.cursor,
        resources={"object_store": store},
        definitions=defs,
    ) as after:
        assert defs.resolve_sensor_def("inbox_file_sensor").evaluate_tick(after).run_requests == []
