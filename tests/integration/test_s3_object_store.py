"""S3ObjectStore against moto's S3 server over HTTP on loopback, started here.

Dummy credentials are given through the resource's fields; the AWS config and credential files
are pointed at nothing, so nothing on the machine (~/.aws) is read.
"""

import hashlib
import time
import uuid
from collections.abc import Iterator

import dagster as dg
import pytest

from resources.object_store import (
    LocalFolderObjectStore,
    ObjectNotFound,
    ObjectStore,
    ObjectStoreError,
    S3ObjectStore,
)
from support.ports import free_port

pytestmark = pytest.mark.s3

ACCESS_KEY_ID = "AKIANPNFLOWTESTKEY01"
SECRET_ACCESS_KEY = "npnflow-test-secret-4f1e9a0c7b2d"


def _store(s3_endpoint: str, bucket: str, **fields) -> S3ObjectStore:
    return S3ObjectStore(
        bucket=bucket,
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        **fields,
    )


@pytest.fixture(scope="module")
def admin(s3_endpoint):
    """A plain boto3 client, to set up what the store itself would not write."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    )


@pytest.fixture
def bucket(admin) -> str:
    name = f"npnflow-test-{uuid.uuid4().hex[:12]}"
    admin.create_bucket(Bucket=name)
    return name


@pytest.fixture
def store(s3_endpoint, bucket) -> Iterator[S3ObjectStore]:
    store = _store(s3_endpoint, bucket)
    yield store
    store.close()


def _seed(bucket: str, keys: list[str]) -> None:
    """Many objects at once, straight into moto's in-process backend (an HTTP PUT costs ~10 ms
    on moto's server; this keeps the pagination test at a second)."""
    from moto.backends import get_backend
    from moto.core import DEFAULT_ACCOUNT_ID

    backend = get_backend("s3")[DEFAULT_ACCOUNT_ID]["aws"]
    for key in keys:
        backend.put_object(bucket, key, key.encode())


def test_put_get_exists_with_md5_etags_equal_to_the_local_store(store, tmp_path):
    content = b"Agency NPN,First Name\n1234567,Ann\n"
    stored = store.put_bytes("inbox/agent/roster.csv", content)
    local = LocalFolderObjectStore(root=str(tmp_path)).put_bytes("inbox/agent/roster.csv", content)

    assert stored.etag == local.etag == hashlib.md5(content).hexdigest()
    assert store.get_bytes("inbox/agent/roster.csv") == content
    assert store.exists("inbox/agent/roster.csv")
    assert not store.exists("inbox/agent/none.csv")
    [listed] = store.list_objects("inbox/")
    assert (listed.key, listed.etag, listed.size) == (
        "inbox/agent/roster.csv",
        local.etag,
        len(content),
    )
    assert listed.last_modified.utcoffset().total_seconds() == 0
    assert abs(listed.last_modified.timestamp() - time.time()) < 120


def test_listing_paginates_lazily_in_key_order(store, bucket):
    keys = [f"inbox/agent/{i:05d}.csv" for i in range(1100)]
    _seed(bucket, keys)
    requests = []
    store._s3().meta.events.register(
        "before-call.s3.ListObjectsV2", lambda **kwargs: requests.append(kwargs)
    )

    listed = list(store.list_objects("inbox/"))
    assert [o.key for o in listed] == keys  # past S3's 1,000 keys per response
    assert len(requests) == 2
    assert all(o.etag == hashlib.md5(o.key.encode()).hexdigest() for o in listed)

    requests.clear()
    after = list(store.list_objects("inbox/", start_after="inbox/agent/01049.csv"))
    assert [o.key for o in after] == keys[1050:]
    assert len(requests) == 1

    requests.clear()
    small_pages = _store(store.endpoint_url, bucket, page_size=7)
    small_pages._s3().meta.events.register(
        "before-call.s3.ListObjectsV2", lambda **kwargs: requests.append(kwargs)
    )
    first_ten = []
    for obj in small_pages.list_objects("inbox/"):
        first_ten.append(obj.key)
        if len(first_ten) == 10:
            break
    assert first_ten == keys[:10]
    assert len(requests) == 2  # a caller that stops early costs no further pages


def test_prefix_and_root_prefix(store, s3_endpoint, bucket):
    tenant = _store(s3_endpoint, bucket, prefix="tenant-a/")
    tenant.put_bytes("inbox/a.csv", b"a")
    store.put_bytes("inbox/b.csv", b"b")
    store.put_bytes("nipr/pdb_alerts/2026-03-02.mtom", b"x")

    assert [o.key for o in tenant.list_objects()] == ["inbox/a.csv"]
    assert tenant.get_bytes("inbox/a.csv") == b"a"
    assert store.exists("tenant-a/inbox/a.csv")  # where it really is in the bucket
    assert [o.key for o in store.list_objects("inbox/")] == ["inbox/b.csv"]
    assert [o.key for o in store.list_objects("nipr/")] == ["nipr/pdb_alerts/2026-03-02.mtom"]
    assert [o.key for o in store.list_objects("", start_after="inbox/b.csv")] == [
        "nipr/pdb_alerts/2026-03-02.mtom",
        "tenant-a/inbox/a.csv",
    ]


def test_folders_and_hidden_keys_are_not_listed(store, bucket, admin):
    for key in ["inbox/", "inbox/agent/", "inbox/.DS_Store", "inbox/.tmp/x.csv", "inbox//x.csv"]:
        admin.put_object(Bucket=bucket, Key=key, Body=b"")
    store.put_bytes("inbox/agent/a.csv", b"a")

    assert [o.key for o in store.list_objects()] == ["inbox/agent/a.csv"]


def test_a_missing_key_names_key_and_bucket_without_a_botocore_chain(store, bucket):
    with pytest.raises(FileNotFoundError) as caught:
        store.get_bytes("inbox/agent/none.csv")

    error = caught.value
    assert isinstance(error, ObjectNotFound)
    assert "'inbox/agent/none.csv'" in str(error) and bucket in str(error)
    assert error.__cause__ is None and error.__suppress_context__


def test_a_missing_bucket_and_an_unreachable_endpoint_are_plain_errors(s3_endpoint):
    missing = _store(s3_endpoint, "npnflow-no-such-bucket")
    with pytest.raises(ObjectStoreError, match="npnflow-no-such-bucket.*does not exist"):
        list(missing.list_objects())

    down = _store(f"http://127.0.0.1:{free_port()}", "npnflow-test", max_attempts=1)
    started = time.perf_counter()
    with pytest.raises(ObjectStoreError, match="could not read .*npnflow-test/a.csv"):
        down.get_bytes("a.csv")
    assert time.perf_counter() - started < 5


def test_credentials_never_show_in_repr_or_messages(s3_endpoint, bucket):
    store = _store(s3_endpoint, bucket, aws_session_token="npnflow-test-session-token")
    texts = [repr(store), str(store)]
    for call in (
        lambda: store.get_bytes("none.csv"),
        lambda: list(_store(s3_endpoint, "npnflow-no-such-bucket").list_objects()),
        lambda: _store(f"http://127.0.0.1:{free_port()}", bucket, max_attempts=1).exists("a"),
    ):
        with pytest.raises(ObjectStoreError) as caught:
            call()
        texts.append(str(caught.value))
    assert texts
    for text in texts:
        for secret in (ACCESS_KEY_ID, SECRET_ACCESS_KEY, "npnflow-test-session-token"):
            assert secret not in text


def test_invalid_keys_and_configuration_are_refused_before_any_request(s3_endpoint):
    store = _store(s3_endpoint, "npnflow-test")
    for key in ["", "/abs.csv", "../x.csv", "a//b.csv"]:
        with pytest.raises(ValueError, match="key"):
            store.get_bytes(key)
    with pytest.raises(ValueError, match="3 to 63"):
        _store(s3_endpoint, "ab").exists("a.csv")
    assert store._client is None  # nothing was sent, no client was made


def test_as_a_dagster_resource_with_env_var_credentials(s3_endpoint, bucket, admin, monkeypatch):
    monkeypatch.setenv("NPNFLOW_TEST_S3_KEY_ID", ACCESS_KEY_ID)
    monkeypatch.setenv("NPNFLOW_TEST_S3_SECRET", SECRET_ACCESS_KEY)
    resource = S3ObjectStore(
        bucket=bucket,
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id=dg.EnvVar("NPNFLOW_TEST_S3_KEY_ID"),
        aws_secret_access_key=dg.EnvVar("NPNFLOW_TEST_S3_SECRET"),
    )

    @dg.asset
    def dropped_file(object_store: ObjectStore) -> dg.MaterializeResult:
        stored = object_store.put_bytes("inbox/agent/from_asset.csv", b"a,b\n")
        return dg.MaterializeResult(metadata={"etag": stored.etag})

    result = dg.materialize([dropped_file], resources={"object_store": resource})
    assert result.success
    assert admin.get_object(Bucket=bucket, Key="inbox/agent/from_asset.csv")["Body"].read() == (
        b"a,b\n"
    )
    assert resource._client is None  # the run used (and closed) its own copy


def _chunks(total: int, size: int = 256 * 1024):
    """`total` bytes of varied content, as chunks of `size`, never as one bytes object."""
    block = bytes(range(256)) * (size // 256)
    for start in range(0, total, size):
        yield block[: min(size, total - start)]


def test_put_stream_and_open_reader_stream_a_multi_mb_object_in_pieces(store, tmp_path):
    total = 12 * 1024 * 1024 + 77  # past the spool's memory threshold: spooled on disk
    expected = hashlib.md5(b"".join(_chunks(total))).hexdigest()
    requests = []
    store._s3().meta.events.register(
        "before-call.s3.*", lambda model, **_: requests.append(model.name)
    )

    stored = store.put_stream("nipr/pdb_alerts/2026-03-10.mtom", _chunks(total))

    # One PutObject, as put_bytes: the ETag is the MD5, equal to the local store's.
    local = LocalFolderObjectStore(root=str(tmp_path)).put_stream("k.mtom", _chunks(total))
    assert (stored.size, stored.etag) == (total, expected) == (local.size, local.etag)
    assert requests == ["PutObject"]
    [listed] = store.list_objects("nipr/")
    assert (listed.etag, listed.size) == (expected, total)
    digest, reads = hashlib.md5(), []
    with store.open_reader("nipr/pdb_alerts/2026-03-10.mtom") as reader:
        while piece := reader.read(64 * 1024):
            reads.append(len(piece))
            digest.update(piece)
    assert digest.hexdigest() == expected
    assert sum(reads) == total and max(reads) <= 64 * 1024 and len(reads) > 180


def test_open_reader_of_a_missing_key_is_object_not_found(store):
    with pytest.raises(ObjectNotFound, match="nipr/none.mtom"):
        store.open_reader("nipr/none.mtom")


def test_put_stream_from_a_file_uploads_from_the_file_with_the_md5_etag(store, tmp_path):
    content = b"--uuid:x\r\n" + b"<a/>" * 300_000
    source = tmp_path / "reply.mtom"
    source.write_bytes(content)
    with open(source, "rb") as handle:
        handle.read(10)  # a file part-read: the upload starts where the file stands
        stored = store.put_stream("nipr/streamed.mtom", handle)

    assert (stored.etag, stored.size) == (hashlib.md5(content[10:]).hexdigest(), len(content) - 10)
    assert store.get_bytes("nipr/streamed.mtom") == content[10:]
