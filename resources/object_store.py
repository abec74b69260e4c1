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
- `get_bytes` of a missing key raises `ObjectNotFound` (a `FileNotFoundError`) naming the key
  and the bucket. `put_bytes` is atomic: a reader sees the old object or the new one, never a
  part. Other store failures raise `ObjectStoreError` with a plain message; credentials never
  appear in messages or in `repr()`.
"""

from __future__ import annotations

import abc
import base64
import datetime as dt
import email.utils
import hashlib
import mimetypes
import os
import stat
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field, PrivateAttr

if TYPE_CHECKING:
    from botocore.client import BaseClient


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


def _check_prefix(prefix: str) -> str:
    if prefix.startswith("/") or ".." in prefix.split("/"):
        raise ValueError(f"listing prefix {prefix!r} must be relative and stay inside the bucket")
    return prefix


def is_hidden_key(key: str) -> bool:
    """Keys with a segment starting with '.' are never listed (partial writes, .DS_Store)."""
    return any(part.startswith(".") for part in key.split("/"))


def _md5_etag(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


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


# ============================================================================ local folder
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
        _check_prefix(prefix)
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
            etag=_md5_etag(data),
            size=len(data),
            last_modified=dt.datetime.fromtimestamp(_changed_ns(st) / 1e9, tz=dt.UTC),
        )

    def exists(self, key: str) -> bool:
        path = self._path(key)
        return path.is_file() and self._inside_root(path)


# ============================================================================ S3
_ADDRESSING_STYLES = ("auto", "path", "virtual")


class S3ObjectStore(ObjectStore):
    """An S3 bucket, on AWS or any S3-compatible store (MinIO, Ceph, R2, moto) via `endpoint_url`.

    The boto3 client is made on first use in a run or tick (never at import or construction),
    and closed when the run ends. With no keys configured, boto3's default chain applies
    (environment, instance or pod role).
    """

    bucket: str = Field(description="Bucket name (3 to 63 characters).")
    prefix: str = Field(
        default="",
        description="Folder inside the bucket that plays the bucket root, e.g. 'npnflow'; "
        "empty for the bucket root. Keys are given and listed relative to it.",
    )
    endpoint_url: str | None = Field(
        default=None,
        description="S3 API endpoint of an S3-compatible store; empty for AWS.",
    )
    region_name: str | None = Field(default=None, description="Region, e.g. 'us-east-1'.")
    # repr=False: the resource's repr (logs, tracebacks, the debugger) leaves them out.
    aws_access_key_id: str | None = Field(
        default=None, repr=False, description="Access key id; an EnvVar in production."
    )
    aws_secret_access_key: str | None = Field(
        default=None, repr=False, description="Secret access key; an EnvVar in production."
    )
    aws_session_token: str | None = Field(
        default=None, repr=False, description="Session token of temporary credentials."
    )
    addressing_style: str = Field(
        default="auto",
        description="'auto', 'path' or 'virtual'. Many S3-compatible stores want 'path'.",
    )
    connect_timeout_seconds: float = Field(default=5.0, description="TCP/TLS connect timeout.")
    read_timeout_seconds: float = Field(default=60.0, description="Timeout per socket read.")
    max_attempts: int = Field(
        default=4,
        description="Attempts per call, the first included (botocore 'standard' retries: "
        "throttling, 5xx and connection errors, with backoff). S3 puts are idempotent.",
    )
    page_size: int = Field(default=1000, description="Keys per ListObjectsV2 request (max 1000).")

    _client: Any = PrivateAttr(default=None)

    # ------------------------------------------------------------------ plumbing
    def _root(self) -> str:
        root = self.prefix.strip("/")
        return f"{root}/" if root else ""

    def _check_config(self) -> None:
        if not 3 <= len(self.bucket) <= 63:
            raise ValueError(f"S3 bucket name {self.bucket!r} must have 3 to 63 characters")
        if self.addressing_style not in _ADDRESSING_STYLES:
            raise ValueError(
                f"addressing_style {self.addressing_style!r} must be one of "
                f"{', '.join(_ADDRESSING_STYLES)}"
            )
        if self._root():
            check_key(self._root().rstrip("/"))
        if not 1 <= self.page_size <= 1000:
            raise ValueError(f"page_size {self.page_size} must be between 1 and 1000")

    def _s3(self) -> BaseClient:
        if self._client is None:
            self._check_config()
            # Imported here: loading the code location stays fast where S3 is not used.
            import boto3.session
            from botocore.config import Config

            session = boto3.session.Session(
                aws_access_key_id=self.aws_access_key_id or None,
                aws_secret_access_key=self.aws_secret_access_key or None,
                aws_session_token=self.aws_session_token or None,
                region_name=self.region_name or None,
            )
            config = Config(
                connect_timeout=self.connect_timeout_seconds,
                read_timeout=self.read_timeout_seconds,
                retries={"max_attempts": self.max_attempts, "mode": "standard"},
                s3={"addressing_style": self.addressing_style},
                # botocore >= 1.36 adds CRC checksums (and aws-chunked bodies) by default, which
                # several S3-compatible stores reject; we send Content-MD5 ourselves instead.
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                user_agent_extra="npnflow",
            )
            self._client = session.client(
                "s3", endpoint_url=self.endpoint_url or None, config=config
            )
        return self._client

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Bad configuration fails when the run starts, not at the first file.
        self._check_config()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self.close()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _where(self, key: str = "") -> str:
        at = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return f"s3://{self.bucket}/{self._root()}{key}{at}"

    def _scrub(self, text: str) -> str:
        for secret in (self.aws_secret_access_key, self.aws_session_token, self.aws_access_key_id):
            if secret:
                text = text.replace(secret, "***")
        return text

    def _error(self, action: str, key: str, error: Exception) -> ObjectStoreError:
        from botocore.exceptions import ClientError, NoCredentialsError

        where = self._where(key)
        if isinstance(error, ClientError):
            info = error.response.get("Error", {})
            code = str(info.get("Code", ""))
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("NoSuchKey", "404", "NotFound") and key:
                return ObjectNotFound(f"no object {key!r} in S3 bucket {self.bucket!r} ({where})")
            if code == "NoSuchBucket":
                return ObjectStoreError(f"S3 bucket {self.bucket!r} does not exist ({where})")
            if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                return ObjectStoreError(
                    f"S3 refused to {action} {where} ({code}): check the credentials and that "
                    f"they may {action} in bucket {self.bucket!r}"
                )
            message = info.get("Message") or str(error)
            return ObjectStoreError(
                self._scrub(f"S3 could not {action} {where}: {code or status} {message}")
            )
        if isinstance(error, NoCredentialsError):
            return ObjectStoreError(
                f"no S3 credentials to {action} {where}: set aws_access_key_id and "
                "aws_secret_access_key, or run with a role"
            )
        return ObjectStoreError(self._scrub(f"S3 could not {action} {where}: {error}"))

    # ------------------------------------------------------------------ the interface
    def list_objects(self, prefix: str = "", start_after: str = "") -> Iterator[StoredObject]:
        from botocore.exceptions import BotoCoreError, ClientError

        _check_prefix(prefix)
        root = self._root()
        request: dict[str, Any] = {
            "Bucket": self.bucket,
            "Prefix": root + prefix,
            "PaginationConfig": {"PageSize": self.page_size},
        }
        if start_after:
            request["StartAfter"] = root + start_after
        pages = iter(self._s3().get_paginator("list_objects_v2").paginate(**request))
        while True:
            # Pages are fetched as the caller iterates: a caller that stops early costs no
            # further requests.
            try:
                page = next(pages)
            except StopIteration:
                return
            except (BotoCoreError, ClientError) as error:
                raise self._error("list", prefix, error) from None
            for item in page.get("Contents", ()):
                key = item["Key"][len(root) :]
                if not key or key.endswith("/") or is_hidden_key(key):
                    continue  # "folder" placeholders, hidden files
                try:
                    check_key(key)
                except ValueError:
                    continue  # a key this store could not get (e.g. 'a//b'): not ours
                yield StoredObject(
                    key=key,
                    etag=item["ETag"].strip('"'),
                    size=item["Size"],
                    last_modified=item["LastModified"].astimezone(dt.UTC),
                )

    def get_bytes(self, key: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        check_key(key)
        try:
            reply = self._s3().get_object(Bucket=self.bucket, Key=self._root() + key)
            return reply["Body"].read()
        except (BotoCoreError, ClientError) as error:
            # `from None`: one plain message naming key and bucket, not a botocore chain.
            raise self._error("read", key, error) from None

    def put_bytes(self, key: str, data: bytes) -> StoredObject:
        from botocore.exceptions import BotoCoreError, ClientError

        check_key(key)
        digest = hashlib.md5(data, usedforsecurity=False)
        content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
        try:
            # One PutObject (never multipart), so the ETag is the MD5 of the content; S3 checks
            # the bytes against Content-MD5 and refuses a damaged upload.
            reply = self._s3().put_object(
                Bucket=self.bucket,
                Key=self._root() + key,
                Body=data,
                ContentMD5=base64.b64encode(digest.digest()).decode("ascii"),
                ContentType=content_type,
            )
        except (BotoCoreError, ClientError) as error:
            raise self._error("write", key, error) from None
        return StoredObject(
            key=key,
            etag=str(reply.get("ETag", digest.hexdigest())).strip('"'),
            size=len(data),
            last_modified=_reply_date(reply),
        )

    def exists(self, key: str) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        check_key(key)
        try:
            self._s3().head_object(Bucket=self.bucket, Key=self._root() + key)
        except ClientError as error:
            failure = self._error("read", key, error)
            if isinstance(failure, ObjectNotFound):
                return False
            raise failure from None
        except BotoCoreError as error:
            raise self._error("read", key, error) from None
        return True


def _reply_date(reply: dict[str, Any]) -> dt.datetime:
    """The server's Date header of a reply (PutObject returns no LastModified)."""
    header = reply.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    if header:
        try:
            return email.utils.parsedate_to_datetime(header).astimezone(dt.UTC)
        except (TypeError, ValueError):
            pass
    return dt.datetime.now(dt.UTC)
