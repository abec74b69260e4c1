"""The S3 object store: an S3 bucket, on AWS or any S3-compatible store, through boto3.

Separate from the local-folder store (`object_store_local.py`): they share the contract
(`object_store_base.py`), not their code.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import email.utils
import hashlib
import io
import mimetypes
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, BinaryIO, cast

import dagster as dg
from pydantic import Field, PrivateAttr

from resources.object_store_base import (
    DROPPED_BY_METADATA,
    STREAM_CHUNK_BYTES,
    ObjectNotFound,
    ObjectStore,
    ObjectStoreError,
    StoredObject,
    check_key,
    check_prefix,
    is_hidden_key,
    iter_chunks,
)

if TYPE_CHECKING:
    from botocore.client import BaseClient

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

        check_prefix(prefix)
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
            data: bytes = reply["Body"].read()
            return data
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

    def dropped_by(self, key: str) -> str | None:
        from botocore.exceptions import BotoCoreError, ClientError

        check_key(key)
        try:
            reply = self._s3().head_object(Bucket=self.bucket, Key=self._root() + key)
        except (BotoCoreError, ClientError) as error:
            # Not None: an unknown dropper would let them approve their own file (four eyes).
            raise self._error("read", key, error) from None
        name = " ".join(str(reply.get("Metadata", {}).get(DROPPED_BY_METADATA, "")).split())
        return name or None

    def open_reader(self, key: str) -> BinaryIO:
        from botocore.exceptions import BotoCoreError, ClientError

        check_key(key)
        try:
            reply = self._s3().get_object(Bucket=self.bucket, Key=self._root() + key)
        except (BotoCoreError, ClientError) as error:
            raise self._error("read", key, error) from None

        def fail(error: Exception) -> ObjectStoreError:
            return self._error("read", key, error)

        # The body streams from S3 as it is read; buffered so small reads cost no request.
        return io.BufferedReader(_BodyReader(reply["Body"], fail), STREAM_CHUNK_BYTES)

    def put_stream(self, key: str, source: BinaryIO | Iterable[bytes]) -> StoredObject:
        from botocore.exceptions import BotoCoreError, ClientError

        check_key(key)
        content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
        # One PutObject, as put_bytes (so the ETag is the MD5 of the content and S3 checks the
        # bytes against Content-MD5): that needs the MD5 before the upload. A seekable file is
        # hashed in a first pass and uploaded from where it started; anything else is first
        # spooled to a temporary file (on disk past a few MB), hashed on the way. Either way the
        # body streams from a file. A PutObject takes up to 5 GB; an Alerts reply is tens of MB.
        digest = hashlib.md5(usedforsecurity=False)
        size = 0
        with contextlib.ExitStack() as stack:
            if _is_seekable_file(source):
                body = cast(BinaryIO, source)
                start = body.tell()
                for chunk in iter_chunks(body):
                    digest.update(chunk)
                    size += len(chunk)
                body.seek(start)
            else:
                spool = tempfile.SpooledTemporaryFile(max_size=8 * STREAM_CHUNK_BYTES)  # noqa: SIM115 - closed by the ExitStack
                body = cast(BinaryIO, stack.enter_context(spool))
                for chunk in iter_chunks(source):
                    body.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                body.seek(0)
            try:
                reply = self._s3().put_object(
                    Bucket=self.bucket,
                    Key=self._root() + key,
                    Body=body,
                    ContentLength=size,
                    ContentMD5=base64.b64encode(digest.digest()).decode("ascii"),
                    ContentType=content_type,
                )
            except (BotoCoreError, ClientError) as error:
                raise self._error("write", key, error) from None
        return StoredObject(
            key=key,
            etag=str(reply.get("ETag", digest.hexdigest())).strip('"'),
            size=size,
            last_modified=_reply_date(reply),
        )


def _is_seekable_file(source: object) -> bool:
    seekable = getattr(source, "seekable", None)
    return hasattr(source, "read") and callable(seekable) and bool(seekable())


class _BodyReader(io.RawIOBase):
    """A botocore StreamingBody as a raw binary stream whose read errors are the store's."""

    def __init__(self, body: Any, fail: Callable[[Exception], ObjectStoreError]) -> None:
        super().__init__()
        self._body = body
        self._fail = fail

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        from botocore.exceptions import BotoCoreError

        try:
            data = self._body.read(len(buffer))
        except BotoCoreError as error:
            raise self._fail(error) from None
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


def _reply_date(reply: dict[str, Any]) -> dt.datetime:
    """The server's Date header of a reply (PutObject returns no LastModified)."""
    header = reply.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    if header:
        try:
            stamp: dt.datetime = email.utils.parsedate_to_datetime(header).astimezone(dt.UTC)
            return stamp
        except (TypeError, ValueError):
            pass
    return dt.datetime.now(dt.UTC)
