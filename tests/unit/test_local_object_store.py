"""The local-folder bucket honours the ObjectStore contract (resources/object_store.py).

Plain calls on the resource: no Dagster machinery runs, though the module imports Dagster.
"""

import hashlib
import os
import time

import pytest

from resources import object_store_local as store_module
from resources.object_store import LocalFolderObjectStore, ObjectNotFound, ObjectStore


@pytest.fixture
def store(tmp_path) -> LocalFolderObjectStore:
    return LocalFolderObjectStore(root=str(tmp_path / "bucket"))


def keys(store: ObjectStore, prefix: str = "", start_after: str = "") -> list[str]:
    return [o.key for o in store.list_objects(prefix, start_after)]


def test_the_interface_is_abstract():
    with pytest.raises(TypeError, match="abstract"):
        ObjectStore()


def test_put_get_exists_and_etag_is_the_md5_of_the_content(store):
    stored = store.put_bytes("inbox/agent/roster.csv", b"Agent NPN\n123\n")

    assert stored.etag == hashlib.md5(b"Agent NPN\n123\n").hexdigest()
    assert stored.size == 14 and stored.last_modified.tzinfo is not None
    assert store.get_bytes("inbox/agent/roster.csv") == b"Agent NPN\n123\n"
    assert store.exists("inbox/agent/roster.csv")
    assert not store.exists("inbox/agent/other.csv")
    [listed] = store.list_objects()
    assert (listed.key, listed.etag, listed.size) == (stored.key, stored.etag, stored.size)


def test_a_missing_key_is_a_clear_file_not_found(store):
    with pytest.raises(FileNotFoundError, match="inbox/none.csv") as caught:
        store.get_bytes("inbox/none.csv")
    assert isinstance(caught.value, ObjectNotFound)
    assert "bucket" in str(caught.value)


def test_listing_is_in_key_order_after_start_after_and_under_prefix(store):
    for key in ["inbox/b.csv", "inbox/a-b.csv", "inbox/a/b.csv", "nipr/x.xml", "inbox/a/a.csv"]:
        store.put_bytes(key, key.encode())

    # '-' (0x2d) sorts before '/' (0x2f): S3's byte order, not a folder-by-folder walk.
    assert keys(store) == [
        "inbox/a-b.csv",
        "inbox/a/a.csv",
        "inbox/a/b.csv",
        "inbox/b.csv",
        "nipr/x.xml",
    ]
    assert keys(store, "inbox/") == keys(store)[:4]
    assert keys(store, "inbox/a/") == ["inbox/a/a.csv", "inbox/a/b.csv"]
    assert keys(store, "inbox/a") == ["inbox/a-b.csv", "inbox/a/a.csv", "inbox/a/b.csv"]
    assert keys(store, "inbox/", start_after="inbox/a/a.csv") == ["inbox/a/b.csv", "inbox/b.csv"]
    assert keys(store, "", start_after="inbox/zzz") == ["nipr/x.xml"]
    assert keys(store, "nothing/") == []
    assert keys(LocalFolderObjectStore(root=str(store.root) + "-never-made")) == []


def test_partial_and_hidden_files_are_never_listed(store):
    store.put_bytes("inbox/a.csv", b"a")
    root = store.root
    os.makedirs(f"{root}/inbox/.hidden")
    for name in ["inbox/.a.csv.1a2b3c4d.partial", "inbox/.DS_Store", "inbox/.hidden/b.csv"]:
        with open(f"{root}/{name}", "wb") as handle:
            handle.write(b"half a fi")

    assert keys(store) == ["inbox/a.csv"]
    assert keys(store, "inbox/.hidden/") == []


def test_put_leaves_no_partial_file_behind(store, tmp_path):
    store.put_bytes("inbox/a.csv", b"one")
    store.put_bytes("inbox/a.csv", b"two")
    assert sorted(os.listdir(tmp_path / "bucket" / "inbox")) == ["a.csv"]
    assert store.get_bytes("inbox/a.csv") == b"two"


@pytest.mark.parametrize(
    "key", ["", "/etc/passwd", "../outside.csv", "inbox/../../outside.csv", "a//b", "./a", "a/"]
)
def test_keys_that_could_escape_the_root_are_refused(store, key):
    for call in (store.get_bytes, store.exists, lambda k: store.put_bytes(k, b"x")):
        with pytest.raises(ValueError, match="key"):
            call(key)
    with pytest.raises(ValueError):
        list(store.list_objects(prefix="../"))


def test_a_symlink_out_of_the_folder_is_not_followed(store, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"outside")
    store.put_bytes("inbox/a.csv", b"a")
    os.symlink(secret, tmp_path / "bucket" / "inbox" / "link.csv")
    os.symlink(tmp_path, tmp_path / "bucket" / "inbox" / "linkdir")

    assert keys(store) == ["inbox/a.csv"]
    with pytest.raises(FileNotFoundError):
        store.get_bytes("inbox/link.csv")
    assert not store.exists("inbox/link.csv")
    with pytest.raises(ValueError, match="outside"):
        store.put_bytes("inbox/linkdir/new.csv", b"x")


def test_a_changed_file_gets_a_new_etag_even_at_the_same_size_and_mtime(
    store, tmp_path, monkeypatch
):
    monkeypatch.setattr(store_module, "_RACY_NS", 0)  # cache even a file written just now
    path = tmp_path / "bucket" / "inbox" / "a.csv"
    store.put_bytes("inbox/a.csv", b"aaaa")
    old = time.time() - 3600
    os.utime(path, (old, old))
    [first] = store.list_objects()
    [again] = store.list_objects()
    assert first.etag == again.etag == hashlib.md5(b"aaaa").hexdigest()

    time.sleep(0.05)  # past the file system's timestamp granularity
    path.write_bytes(b"bbbb")  # rewritten in place, same size, mtime set back by a tool
    os.utime(path, (old, old))
    [changed] = store.list_objects()
    assert changed.etag == hashlib.md5(b"bbbb").hexdigest()


def test_a_file_changed_in_the_last_two_seconds_is_hashed_again_at_every_listing(store):
    # Its timestamps could still be those of a next write ("racily clean", as git says), so
    # its MD5 is not cached until it is older than that.
    store.put_bytes("inbox/fresh.csv", b"x")
    list(store.list_objects())
    path = os.path.abspath(os.path.join(store.root, "inbox", "fresh.csv"))
    assert path not in store_module._ETAG_CACHE
    os.utime(path, (time.time() - 3600, time.time() - 3600))  # ctime is still "now"
    list(store.list_objects())
    assert path not in store_module._ETAG_CACHE


def test_a_file_moved_in_with_an_old_mtime_reads_as_new(store, tmp_path):
    outside = tmp_path / "download.csv"
    outside.write_bytes(b"x")
    long_ago = time.time() - 10 * 86400
    os.utime(outside, (long_ago, long_ago))
    os.makedirs(tmp_path / "bucket" / "inbox")
    os.replace(outside, tmp_path / "bucket" / "inbox" / "download.csv")  # like `mv`

    [moved] = store.list_objects()
    assert moved.last_modified.timestamp() > time.time() - 60


def test_settle_seconds_holds_back_files_still_being_copied(tmp_path):
    store = LocalFolderObjectStore(root=str(tmp_path / "bucket"), settle_seconds=30)
    store.put_bytes("inbox/fresh.csv", b"x")
    assert keys(store) == []
    settled = LocalFolderObjectStore(root=str(tmp_path / "bucket"))
    assert keys(settled) == ["inbox/fresh.csv"]


def test_listing_ten_thousand_files_reads_them_once(tmp_path, monkeypatch, capsys):
    # Files written just now stay out of the cache for 2 s (racy window); these are not racy.
    monkeypatch.setattr(store_module, "_RACY_NS", 0)
    root = tmp_path / "bucket"
    long_ago = time.time() - 3600
    for folder in range(10):
        os.makedirs(root / "inbox" / f"f{folder}")
        for i in range(1000):
            path = root / "inbox" / f"f{folder}" / f"{i:04d}.csv"
            path.write_bytes(b"npn,%d\n" % i)
            os.utime(path, (long_ago, long_ago))
    store = LocalFolderObjectStore(root=str(root))

    started = time.perf_counter()
    cold = list(store.list_objects("inbox/"))
    cold_seconds = time.perf_counter() - started

    reads = []
    real_open = open
    monkeypatch.setattr(
        store_module,
        "open",
        lambda *a, **k: reads.append(a[0]) or real_open(*a, **k),
        raising=False,
    )
    started = time.perf_counter()
    warm = list(store.list_objects("inbox/"))
    warm_seconds = time.perf_counter() - started
    started = time.perf_counter()
    tail = list(store.list_objects("inbox/", start_after="inbox/f7/0999.csv"))
    tail_seconds = time.perf_counter() - started

    assert len(cold) == len(warm) == 10_000 and len(tail) == 2000
    assert [o.etag for o in warm] == [o.etag for o in cold]
    assert reads == []  # a warm listing reads no file's content
    with capsys.disabled():
        print(
            f"\nlocal listing of 10,000 files: cold {cold_seconds:.2f}s, warm "
            f"{warm_seconds:.2f}s, last 2,000 after a cursor {tail_seconds:.2f}s"
        )


# ------------------------------------------------------------------------------ streaming
def _chunks(total: int, size: int = 256 * 1024):
    """`total` bytes of varied content, as chunks of `size`, never as one bytes object."""
    block = bytes(range(256)) * (size // 256)
    for start in range(0, total, size):
        yield block[: min(size, total - start)]


def test_put_stream_and_open_reader_move_a_multi_mb_object_in_pieces(store):
    total = 6 * 1024 * 1024 + 123
    expected = hashlib.md5(b"".join(_chunks(total))).hexdigest()

    stored = store.put_stream("nipr/pdb_alerts/2026-03-10.mtom", _chunks(total))

    assert (stored.size, stored.etag) == (total, expected)
    [listed] = store.list_objects("nipr/")
    assert (listed.etag, listed.size) == (expected, total)
    digest, reads = hashlib.md5(), []
    with store.open_reader("nipr/pdb_alerts/2026-03-10.mtom") as reader:
        while piece := reader.read(64 * 1024):
            reads.append(len(piece))
            digest.update(piece)
    assert digest.hexdigest() == expected
    assert sum(reads) == total and max(reads) <= 64 * 1024 and len(reads) > 90


def test_put_stream_from_a_file_is_the_same_object_as_put_bytes(store, tmp_path):
    content = b"--uuid:x\r\n" + b"<a/>" * 300_000
    source = tmp_path / "reply.mtom"
    source.write_bytes(content)
    with open(source, "rb") as handle:
        streamed = store.put_stream("nipr/streamed.mtom", handle)
    whole = store.put_bytes("nipr/whole.mtom", content)

    assert (streamed.etag, streamed.size) == (whole.etag, whole.size)
    assert store.get_bytes("nipr/streamed.mtom") == content
    assert not [p for p in (tmp_path / "bucket").rglob(".*.partial")]


def test_open_reader_of_a_missing_key_is_a_clear_file_not_found(store):
    with pytest.raises(ObjectNotFound, match="nipr/none.mtom"):
        store.open_reader("nipr/none.mtom")
