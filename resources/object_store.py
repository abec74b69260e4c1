"""The watched bucket: one interface, a local-folder implementation (S3 comes with uploads).

Objects are identified by key + ETag, as S3 does, so a sensor can tell a new version of a file
from one it has seen. The local ETag is the MD5 of the content (what S3 gives for a single-part
upload), so the same file gets the same identity in both stores.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import dagster as dg
from pydantic import Field


@dataclass(frozen=True)
class StoredObject:
    key: str
    etag: str
    size: int
    last_modified: dt.datetime


class ObjectStore(dg.ConfigurableResource):
    """What npnflow needs of a bucket. Keys are '/'-separated, relative to the bucket root."""

    def list_objects(self, prefix: str = "", start_after: str = "") -> Iterator[StoredObject]:
        """Objects under `prefix` in key order, strictly after `start_after`."""
        raise NotImplementedError

    def get_bytes(self, key: str) -> bytes:
        raise NotImplementedError

    def put_bytes(self, key: str, data: bytes) -> StoredObject:
        raise NotImplementedError

    def exists(self, key: str) -> bool:
        raise NotImplementedError


def _md5_etag(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


class LocalFolderObjectStore(ObjectStore):
    """A folder on disk standing in for the bucket (the embedded default)."""

    root: str = Field(description="Folder that plays the bucket; created when first written.")

    def _path(self, key: str) -> Path:
        relative = PurePosixPath(key)
        if relative.is_absolute() or ".." in relative.parts:
            raise ValueError(f"object key {key!r} must be relative and stay inside the bucket")
        return Path(self.root).joinpath(*relative.parts)

    def list_objects(self, prefix: str = "", start_after: str = "") -> Iterator[StoredObject]:
        root = Path(self.root)
        if not root.exists():
            return
        keys = sorted(
            p.relative_to(root).as_posix()
            for p in root.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )
        for key in keys:
            if key.startswith(prefix) and key > start_after:
                path = self._path(key)
                data = path.read_bytes()
                stat = path.stat()
                yield StoredObject(
                    key=key,
                    etag=_md5_etag(data),
                    size=stat.st_size,
                    last_modified=dt.datetime.fromtimestamp(stat.st_mtime, tz=dt.UTC),
                )

    def get_bytes(self, key: str) -> bytes:
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(f"no object {key!r} in the bucket folder {self.root}")
        return path.read_bytes()

    def put_bytes(self, key: str, data: bytes) -> StoredObject:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a sensor listing the folder never sees half a file.
        partial = path.with_name(f".{path.name}.partial")
        partial.write_bytes(data)
        partial.replace(path)
        return StoredObject(
            key=key,
            etag=_md5_etag(data),
            size=len(data),
            last_modified=dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC),
        )

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()
