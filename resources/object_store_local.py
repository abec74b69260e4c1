"""The local-folder object store: a folder on disk standing in for the bucket.

Separate from the S3 store (`object_store_s3.py`): they share the contract
(`object_store_base.py`), not their code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import stat
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from pydantic import Field

from resources.object_store_base import (
    ObjectNotFound,
    ObjectStore,
    StoredObject,
    check_key,
    check_prefix,
    is_hidden_key,
    iter_chunks,
    md5_etag,
)

# MD5s of local files, shared by every LocalFolderObjectStore in the process. Dagster copies a
# resource for each run and each sensor tick, so a cache on the instance would be empty at
# every tick; the code server process is long-lived, so this one stays warm between ticks.
# Entry: absolute path -> (inode, size, mtime_ns, ctime_ns, md5). Any write, rename or replace
# moves ctime (which nobody can set by hand) and usually the inode, so a changed file misses.
_ETAG_CACHE: OrderedDict[str, tuple[int, int, int, int, str]] = OrderedDict()
_ETAG_CACHE_LOCK = threading.Lock()
_ETAG_CACHE_MAX_ENTRIES = 200_000
# A file changed within the file system's timestamp granularity of the hashing could change
# again with the same timestamps ("racily clean", as git calls it): such files are hashed
# again at every listing until they are older than this.
_RACY_NS = 2_000_000_000


def _changed_ns(st: os.stat_result) -> int:
    return max(st.st_mtime_ns, st.st_ctime_ns)


def _cached_md5(path: str, st: os.stat_result) -> str:
    signature = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    with _ETAG_CACHE_LOCK:
        hit = _ETAG_CACHE.get(path)
        if hit is not None and hit[:4] == signature:
            _ETAG_CACHE.move_to_end(path)
            return hit[4]
    with open(path, "rb") as handle:
        digest = hashlib.file_digest(handle, lambda: hashlib.md5(usedforsecurity=False)).hexdigest()
    if time.time_ns() - _changed_ns(st) > _RACY_NS:
        with _ETAG_CACHE_LOCK:
            _ETAG_CACHE[path] = (*signature, digest)
            _ETAG_CACHE.move_to_end(path)
            while len(_ETAG_CACHE) > _ETAG_CACHE_MAX_ENTRIES:
                _ETAG_CACHE.popitem(last=False)
    return digest


def _can_hold_keys_after(folder_key: str, start_after: str) -> bool:
    """Whether a folder whose keys all start with `folder_key` can hold one > `start_after`."""
    return start_after.startswith(folder_key) or folder_key > start_after


class LocalFolderObjectStore(ObjectStore):
    """A folder on disk standing in for the bucket (the embedded default).

    Listing walks the folder names (no stat of files before `start_after`, no descent into
    folders that cannot hold a later key), then stats each yielded file and takes its MD5 from a
    process-wide cache keyed by (inode, size, mtime, ctime): a warm listing reads no content.
    """

    root: str = Field(description="Folder that plays the bucket; created when first written.")
    settle_seconds: float = Field(
        default=0.0,
        description=(
            "Leave out of listings files changed less than this many seconds ago. Files written "
            "through the store are atomic (0 is safe); set 2-5 where people copy files into the "
            "folder by hand, so a half-copied file is not picked up. A left-out file shows up "
            "in a later listing."
        ),
    )

    def _path(self, key: str) -> Path:
        check_key(key)
        return Path(self.root).joinpath(*key.split("/"))

    def _inside_root(self, path: Path) -> bool:
        # A symlink inside the folder must not lead outside it.
        try:
            path.resolve().relative_to(Path(self.root).resolve())
        except ValueError:
            return False
        return True

    def list_objects(self, prefix: str = "", start_after: str = "") -> Iterator[StoredObject]:
        check_prefix(prefix)
        # Walk only the deepest folder the prefix names in full.
        head = prefix.rpartition("/")[0]
        if head and (is_hidden_key(head) or "" in head.split("/")):
            return
        top = Path(self.root).joinpath(*head.split("/")) if head else Path(self.root)
        if not top.is_dir():
            return
        keys = self._keys_under(top, f"{head}/" if head else "", prefix, start_after)
        keys.sort()
        settle_ns = int(self.settle_seconds * 1e9)
        root = os.path.abspath(self.root)
        for key in keys:
            path = os.path.join(root, *key.split("/"))  # keys from the walk are valid
            try:
                st = os.stat(path, follow_symlinks=False)
                if not stat.S_ISREG(st.st_mode):
                    continue
                if settle_ns and time.time_ns() - _changed_ns(st) < settle_ns:
                    continue
                etag = _cached_md5(path, st)
            except FileNotFoundError:
                continue  # removed or replaced since the walk; the next listing has it
            yield StoredObject(
                key=key,
                etag=etag,
                size=st.st_size,
                last_modified=dt.datetime.fromtimestamp(_changed_ns(st) / 1e9, tz=dt.UTC),
            )

    @staticmethod
    def _keys_under(top: Path, top_key: str, prefix: str, start_after: str) -> list[str]:
        keys: list[str] = []
        pending = [(top, top_key)]
        while pending:
            folder, folder_key = pending.pop()
            try:
                entries = list(os.scandir(folder))
            except (FileNotFoundError, NotADirectoryError):
                continue
            for entry in entries:
                if entry.name.startswith("."):
                    continue  # hidden: partial writes, .DS_Store, editors' swap files
                key = folder_key + entry.name
                if entry.is_dir(follow_symlinks=False):
                    sub = key + "/"
                    if (sub.startswith(prefix) or prefix.startswith(sub)) and (
                        _can_hold_keys_after(sub, start_after)
                    ):
                        pending.append((Path(entry.path), sub))
                elif (
                    entry.is_file(follow_symlinks=False)
                    and key.startswith(prefix)
                    and key > start_after
                ):
                    keys.append(key)
        return keys

    def get_bytes(self, key: str) -> bytes:
        path = self._path(key)
        if not path.is_file() or not self._inside_root(path):
            raise ObjectNotFound(f"no object {key!r} in the bucket folder {self.root}")
        return path.read_bytes()

    def put_bytes(self, key: str, data: bytes) -> StoredObject:
        path = self._path(key)
        existing = path.parent
        while not existing.exists() and existing != Path(self.root):
            existing = existing.parent
        if not self._inside_root(existing):
            raise ValueError(f"object key {key!r} leads outside the bucket folder {self.root}")
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write a hidden file then rename it over the key: listings skip dot-files, and the
        # rename is atomic, so nobody sees half a file. The id keeps concurrent writers apart.
        partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
        try:
            partial.write_bytes(data)
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
        st = path.stat()
        return StoredObject(
            key=key,
            etag=md5_etag(data),
            size=len(data),
            last_modified=dt.datetime.fromtimestamp(_changed_ns(st) / 1e9, tz=dt.UTC),
        )

    def exists(self, key: str) -> bool:
        path = self._path(key)
        return path.is_file() and self._inside_root(path)

    def open_reader(self, key: str) -> BinaryIO:
        path = self._path(key)
        if not path.is_file() or not self._inside_root(path):
            raise ObjectNotFound(f"no object {key!r} in the bucket folder {self.root}")
        return open(path, "rb")  # noqa: SIM115 - the caller closes it (a `with` block)

    def put_stream(self, key: str, source: BinaryIO | Iterable[bytes]) -> StoredObject:
        path = self._path(key)
        existing = path.parent
        while not existing.exists() and existing != Path(self.root):
            existing = existing.parent
        if not self._inside_root(existing):
            raise ValueError(f"object key {key!r} leads outside the bucket folder {self.root}")
        path.parent.mkdir(parents=True, exist_ok=True)
        # As put_bytes: a hidden partial file renamed over the key, hashed as it is written.
        partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
        digest = hashlib.md5(usedforsecurity=False)
        size = 0
        try:
            with open(partial, "wb") as handle:
                for chunk in iter_chunks(source):
                    handle.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
        st = path.stat()
        return StoredObject(
            key=key,
            etag=digest.hexdigest(),
            size=size,
            last_modified=dt.datetime.fromtimestamp(_changed_ns(st) / 1e9, tz=dt.UTC),
        )
