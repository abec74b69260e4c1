"""The watched bucket: one interface, two implementations (a local folder and S3).

Objects are identified by key + ETag, as S3 does, so a sensor can tell a new version of a file
from one it has seen. Both implementations honour the same contract (`ObjectStore`):

- Keys are '/'-separated paths relative to the bucket root: not empty, no leading '/', no
  empty, '.' or '..' segment. Both stores refuse any other key with a `ValueError`, so a key
  that works on one works on the other (and nothing can escape the local folder).
- `list_objects(prefix, start_after)` yields lazily, in key order (code-point order, which is
  S3's UTF-8 byte order), the objects whose key starts with `prefix` and sorts strictly after
  `start_after`. It never yields a "folder", a partial/temporary file, or a hidden key (any
  segment starting with '.', such as the local store's `.name.<id>.partial` files or a
  `.DS_Store` a sync tool uploaded).
- `etag` is the lowercase hex MD5 of the content, without quotes, for everything written by
  `put_bytes` (a single-part upload on S3), so the same bytes get the same identity in both
  stores. Objects uploaded to S3 by other tools as multipart uploads (or with SSE-KMS) carry
  S3's own ETag (`<hex>-<parts>`): still an identity that changes with the content, but not
  the MD5.
- `last_modified` is when this version appeared in the store: S3's LastModified; locally the
  later of the file's mtime and ctime, so a file moved in with an old mtime (`mv`, `cp -p`)
  still reads as new.
- `open_reader(key)` and `put_stream(key, source)` are the streaming twins of `get_bytes` and
  `put_bytes`: the content moves in pieces (`STREAM_CHUNK_BYTES`), never whole in memory, and
  an object written either way is the same object (same bytes, same ETag).
- `get_bytes` of a missing key raises `ObjectNotFound` (a `FileNotFoundError`) naming the key
  and the bucket. `put_bytes` is atomic: a reader sees the old object or the new one, never a
  part. Other store failures raise `ObjectStoreError` with a plain message; credentials never
  appear in messages or in `repr()`.

The code: the contract in `resources/object_store_base.py`, the implementations in
`resources/object_store_local.py` and `resources/object_store_s3.py`; this module re-exports
them, so callers import every name from here.
"""

from __future__ import annotations

from resources.object_store_base import (
    STREAM_CHUNK_BYTES,
    ObjectNotFound,
    ObjectStore,
    ObjectStoreError,
    StoredObject,
    check_key,
    is_hidden_key,
)
from resources.object_store_local import LocalFolderObjectStore
from resources.object_store_s3 import S3ObjectStore

__all__ = [
    "STREAM_CHUNK_BYTES",
    "LocalFolderObjectStore",
    "ObjectNotFound",
    "ObjectStore",
    "ObjectStoreError",
    "S3ObjectStore",
    "StoredObject",
    "check_key",
    "is_hidden_key",
]
