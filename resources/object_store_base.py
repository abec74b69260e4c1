"""The object store's contract: `ObjectStore` (the interface), `StoredObject`, its errors and
key rules. The module docstring of `resources/object_store.py` states the contract in full.

Separate from the two implementations (`object_store_local.py`, `object_store_s3.py`) so that
each of them, and the facade that re-exports all three, import it without a cycle.
"""

from __future__ import annotations

import abc
import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

import dagster as dg

# Streaming reads and writes move the content in pieces of this size: never the whole object.
STREAM_CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class StoredObject:
    key: str
    etag: str
    size: int
    last_modified: dt.datetime


class ObjectStoreError(RuntimeError):
    """The store failed; the message names the operation, key and bucket (never credentials)."""


class ObjectNotFound(ObjectStoreError, FileNotFoundError):
    """No object under that key. A `FileNotFoundError`, so callers may catch either."""


def check_key(key: str) -> str:
    """`key` if it is a valid object key (see the module docstring), else `ValueError`."""
    if not isinstance(key, str) or not key:
        raise ValueError(f"object key {key!r} must be a non-empty string")
    if key.startswith("/") or "\x00" in key:
        raise ValueError(f"object key {key!r} must be relative and free of NUL characters")
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise ValueError(
            f"object key {key!r} must stay inside the bucket: no empty, '.' or '..' segments"
        )
    return key


def check_prefix(prefix: str) -> str:
    if prefix.startswith("/") or ".." in prefix.split("/"):
        raise ValueError(f"listing prefix {prefix!r} must be relative and stay inside the bucket")
    return prefix


def is_hidden_key(key: str) -> bool:
    """Keys with a segment starting with '.' are never listed (partial writes, .DS_Store)."""
    return any(part.startswith(".") for part in key.split("/"))


def md5_etag(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


#: The object metadata entry naming who dropped a file (S3 user metadata: the header
#: `x-amz-meta-dropped-by`), read by the upload step for the four-eyes rule (docs/security.md).
DROPPED_BY_METADATA = "dropped-by"


class ObjectStore(dg.ConfigurableResource):
    """What npnflow needs of a bucket. Keys are '/'-separated, relative to the bucket root.

    Abstract: Dagster's resource metaclass derives from `abc.ABCMeta` (through pydantic), so
    `ObjectStore()` itself raises `TypeError` and a subclass must implement every method. Assets
    and sensors annotate their parameter with `ObjectStore` and get whichever implementation the
    environment configures.
    """

    @abc.abstractmethod
    def list_objects(self, prefix: str = "", start_after: str = "") -> Iterator[StoredObject]:
        """Objects under `prefix` in key order, strictly after `start_after`, lazily."""

    @abc.abstractmethod
    def get_bytes(self, key: str) -> bytes:
        """The content of `key`; `ObjectNotFound` when there is none."""

    @abc.abstractmethod
    def put_bytes(self, key: str, data: bytes) -> StoredObject:
        """Store `data` under `key` atomically, replacing any object there."""

    @abc.abstractmethod
    def exists(self, key: str) -> bool:
        """Whether an object is stored under `key`."""

    @abc.abstractmethod
    def open_reader(self, key: str) -> BinaryIO:
        """A binary file object reading the content of `key` in pieces (close it, or use it in
        a `with` block); `ObjectNotFound` when there is none. The content is never held whole."""

    def dropped_by(self, key: str) -> str | None:
        """Who put the object there, as its metadata says (`DROPPED_BY_METADATA`), or None:
        a bucket without object metadata (a local folder) never knows."""
        return None

    @abc.abstractmethod
    def put_stream(self, key: str, source: BinaryIO | Iterable[bytes]) -> StoredObject:
        """Store the content read from `source` (a binary file object, read in pieces, or an
        iterable of byte chunks) under `key`, atomically, as `put_bytes` would store the same
        bytes (same ETag), without holding it whole."""


def iter_chunks(source: BinaryIO | Iterable[bytes]) -> Iterator[bytes]:
    """The pieces of `source`: a file object read `STREAM_CHUNK_BYTES` at a time, or the
    chunks an iterable yields (empty ones skipped)."""
    read = getattr(source, "read", None)
    if read is not None:
        while chunk := read(STREAM_CHUNK_BYTES):
            yield bytes(chunk)
        return
    for chunk in source:  # not a file: an iterable of chunks
        if chunk:
            yield bytes(chunk)
