"""The S3-compatible blob store: artifact bytes in a bucket every queue replica can reach.

Chosen with `infrax queue --blob-store s3://<bucket>[/<prefix>][?endpoint=...&region=...]`
(protocol.md §15.5). Credentials come from the AWS SDK's standard chain (the AWS_* variables,
~/.aws, an instance role); the URL never holds them and they are never logged.

Bytes need not pass through the queue. The queue hands out the store's own presigned URLs:
- an upload PUTs to `<prefix>/u/<hash of object name and uploadId>`, a key fixed by the
  upload, so that every repeated PUT replaces the previous bytes as on the queue's own blob
  endpoint. When the upload is finished (finishUpload, or the first read of an s3 artifact),
  `seal` copies it server-side to a fresh key of its own, `<prefix>/<32 hex digits>`, with
  `ChecksumAlgorithm=SHA256`: S3 computes the SHA-256 of the very bytes it now holds, and
  the queue checks their size and hash as it checks its own uploads. The copy is what the
  object keeps: no URL to PUT to it was ever issued, so its bytes can never change. (A store
  that does not return the checksum gets the object read back and hashed by the queue.)
- a download is a presigned GET of that key, answering the object's Content-Type and
  Content-Encoding.
S3 takes at most 5 GiB in one PUT or one copy, so this store refuses to start with a larger
`--max-artifact-bytes`.

Why boto3 in a thread pool rather than aiobotocore: boto3 is the AWS SDK itself (the brief of
this store), aiobotocore pins exact botocore versions and lags behind them, and the store
makes few calls per artifact (presigning is local computation; a copy, a HEAD and a DELETE
per upload) while the bytes themselves go between the client and S3. The calls run in a
pool of their own, so a slow S3 never starves the event loop's default executor, which the
local store and DNS use; the boto3 client is thread-safe and keeps one HTTP connection per
thread of that pool.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import functools
import hashlib
import re
import secrets
import urllib.parse
from collections.abc import AsyncIterable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.exceptions
from aiohttp import web
from botocore.config import Config

from .blobs import BlobMissingError, BlobStoreConfigError, BlobStoreUnavailableError

__all__ = ["MAX_URL_TTL_S", "S3_MAX_OBJECT_BYTES", "S3BlobStore", "S3Location"]

S3_MAX_OBJECT_BYTES = 5 * 1024**3  # one PUT, one CopyObject
MAX_URL_TTL_S = 7 * 86_400  # the longest a SigV4 presigned URL may be valid
PART_BYTES = 8 << 20  # bytes received through the queue go up in parts of this size
THREADS = 16
READ_BYTES = 1 << 20
_KEY = re.compile(r"(u/)?[0-9a-f]{32}")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_OPTIONS = frozenset({"endpoint", "region", "addressing"})


@dataclass(frozen=True)
class S3Location:
    """Where the blobs go, as the --blob-store URL says."""

    bucket: str
    prefix: str  # "" or ending in "/"
    endpoint: str | None = None
    region: str | None = None
    addressing: str = "auto"  # path | virtual | auto (path when an endpoint is given)

    @classmethod
    def parse(cls, url: str) -> S3Location:
        """The location, or ValueError saying what is wrong with the URL."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "s3":
            raise ValueError(f"--blob-store must be an s3:// URL, not {parts.scheme or url!r}")
        if "@" in parts.netloc:
            raise ValueError(
                "--blob-store must not hold credentials: the AWS SDK reads them from"
                " AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, ~/.aws or the instance role"
            )
        if not _BUCKET.fullmatch(parts.netloc):
            raise ValueError(f"--blob-store: {parts.netloc!r} is not a valid S3 bucket name")
        options = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
        unknown = sorted(set(options) - _OPTIONS)
        if unknown:
            raise ValueError(
                f"--blob-store: unknown option {unknown[0]!r}; the options are"
                f" {', '.join(sorted(_OPTIONS))}"
            )
        endpoint = options.get("endpoint") or None
        if endpoint is not None and urllib.parse.urlsplit(endpoint).scheme not in ("http", "https"):
            raise ValueError(f"--blob-store: endpoint {endpoint!r} is not an http(s) URL")
        addressing = options.get("addressing", "auto")
        if addressing not in ("auto", "path", "virtual"):
            raise ValueError("--blob-store: addressing is path, virtual or auto")
        prefix = parts.path.strip("/")
        return cls(
            parts.netloc,
            prefix + "/" if prefix else "",
            endpoint,
            options.get("region") or None,
            addressing,
        )

    def describe(self) -> str:
        where = f" at {self.endpoint}" if self.endpoint else ""
        return f"s3://{self.bucket}/{self.prefix}{where}"


def _b64_to_hex(value: str) -> str:
    return base64.b64decode(value).hex()


def _code(error: botocore.exceptions.ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _status(error: botocore.exceptions.ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


class S3BlobStore:
    def __init__(self, location: S3Location, client: Any) -> None:
        self.location = location
        self._client = client
        self._pool = concurrent.futures.ThreadPoolExecutor(THREADS, "infrax-s3")

    @classmethod
    async def open(cls, url: str) -> S3BlobStore:
        """The store, its bucket checked (and created if absent); BlobStoreConfigError
        saying what is wrong otherwise (no credentials, a bad endpoint, no access)."""
        try:
            location = S3Location.parse(url)
        except ValueError as error:
            raise BlobStoreConfigError(str(error)) from None
        style = location.addressing
        if style == "auto":
            style = "path" if location.endpoint else "auto"
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=location.endpoint,
            region_name=location.region,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": style},
                max_pool_connections=THREADS,
                connect_timeout=10,
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        )
        store = cls(location, client)
        try:
            await store._call(store._ensure_bucket)
        except BaseException:
            await store.close()
            raise
        return store

    def _ensure_bucket(self) -> None:
        bucket, where = self.location.bucket, self.location.describe()
        try:
            self._client.head_bucket(Bucket=bucket)
            return
        except botocore.exceptions.NoCredentialsError:
            raise BlobStoreConfigError(
                f"no AWS credentials for {where}: set AWS_ACCESS_KEY_ID and"
                " AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, or run with an instance role)"
            ) from None
        except botocore.exceptions.EndpointConnectionError as error:
            raise BlobStoreConfigError(
                f"cannot reach the S3 endpoint of {where}: {error}"
            ) from None
        except botocore.exceptions.ClientError as error:
            status = _status(error)
            if status == 403:
                raise BlobStoreConfigError(
                    f"access to bucket {bucket!r} ({where}) is denied: check the AWS"
                    " credentials and the bucket's policy"
                ) from None
            if status in (301, 400):
                raise BlobStoreConfigError(
                    f"bucket {bucket!r} ({where}) answered {status}: is the region right"
                    " (?region=...)?"
                ) from None
            if status != 404:
                raise BlobStoreConfigError(
                    f"bucket {bucket!r} ({where}) answered {status} {_code(error)}"
                ) from None
        except botocore.exceptions.BotoCoreError as error:
            raise BlobStoreConfigError(f"cannot use {where}: {error}") from None
        try:
            config = {}
            if self.location.region not in (None, "us-east-1"):
                config = {"CreateBucketConfiguration": {"LocationConstraint": self.location.region}}
            self._client.create_bucket(Bucket=bucket, **config)
        except botocore.exceptions.ClientError as error:
            if _code(error) not in ("BucketAlreadyOwnedByYou",):  # another replica made it
                raise BlobStoreConfigError(
                    f"bucket {bucket!r} does not exist and could not be created ({where}):"
                    f" {_code(error) or _status(error)}"
                ) from None
        except botocore.exceptions.BotoCoreError as error:
            raise BlobStoreConfigError(
                f"bucket {bucket!r} does not exist and could not be created ({where}): {error}"
            ) from None

    async def _call(self, function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """The call's result, run in the pool; BlobStoreUnavailableError when S3 fails or does
        not answer (after the SDK's own retries), saying only the error's class and code: the
        SDK's messages hold endpoint URLs with keys, which stay in the queue."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._pool, functools.partial(function, *args, **kwargs)
            )
        except botocore.exceptions.ClientError as error:
            raise BlobStoreUnavailableError(
                f"the blob store ({self.location.describe()}) is unavailable: it answered"
                f" {_status(error) or 'an error'} {_code(error) or type(error).__name__};"
                " try again later"
            ) from error
        except botocore.exceptions.BotoCoreError as error:
            raise BlobStoreUnavailableError(
                f"the blob store ({self.location.describe()}) is unavailable:"
                f" {type(error).__name__}; try again later"
            ) from error

    def _name(self, key: str) -> str:
        """The S3 key of a blob key; keys are the store's own, so none leaves the prefix."""
        if not _KEY.fullmatch(key):
            raise ValueError(f"not a blob key: {key!r}")
        return self.location.prefix + key

    # -- the BlobStore Protocol ------------------------------------------------------------------
    def new_key(self) -> str:
        return secrets.token_hex(16)

    async def receive(self, key: str, chunks: AsyncIterable[bytes]) -> tuple[int, str]:
        """Bytes received by the queue itself (inline data): one PUT, or a multipart upload
        of 8 MiB parts for more; S3 shows nothing under the key until it is complete."""
        name = self._name(key)
        digest = hashlib.sha256()
        size = 0
        buffer = bytearray()
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        bucket = self.location.bucket

        async def send_part() -> None:
            nonlocal upload_id
            if upload_id is None:
                started = await self._call(
                    self._client.create_multipart_upload, Bucket=bucket, Key=name
                )
                upload_id = str(started["UploadId"])
            number = len(parts) + 1
            sent = await self._call(
                self._client.upload_part,
                Bucket=bucket,
                Key=name,
                UploadId=upload_id,
                PartNumber=number,
                Body=bytes(buffer),
            )
            parts.append({"PartNumber": number, "ETag": sent["ETag"]})
            buffer.clear()

        try:
            async for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                buffer += chunk
                if len(buffer) >= PART_BYTES:
                    await send_part()
            if upload_id is None:
                await self._call(
                    self._client.put_object, Bucket=bucket, Key=name, Body=bytes(buffer)
                )
            else:
                if buffer:
                    await send_part()
                await self._call(
                    self._client.complete_multipart_upload,
                    Bucket=bucket,
                    Key=name,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                )
        except BaseException:
            if upload_id is not None:  # in the pool, even when this task is cancelled
                self._pool.submit(self._abort, name, upload_id)
            raise
        return size, digest.hexdigest()

    def _abort(self, name: str, upload_id: str) -> None:
        # If this fails too, S3's lifecycle rule for incomplete uploads (if any) removes it.
        with contextlib.suppress(
            botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError
        ):
            self._client.abort_multipart_upload(
                Bucket=self.location.bucket, Key=name, UploadId=upload_id
            )

    async def response(self, key: str, headers: Mapping[str, str]) -> web.StreamResponse:
        """A redirect to a presigned GET (a URL of the queue's own blob endpoint was used)."""
        if await self._call(self._stat, key) is None:
            raise BlobMissingError(key)
        url = self.presigned_get(key, headers, 300)
        return web.Response(status=307, headers={"Location": url, "Cache-Control": "private"})

    async def delete(self, key: str) -> None:
        await self._call(
            self._client.delete_object, Bucket=self.location.bucket, Key=self._name(key)
        )

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    # -- presigned URLs (the PresigningBlobStore Protocol) -----------------------------------------
    def upload_key(self, name: str, upload_id: str) -> str:
        """The key an upload PUTs to: the same for every URL of the same upload."""
        return "u/" + hashlib.sha256(f"{name}\n{upload_id}".encode()).hexdigest()[:32]

    def presigned_put(
        self, key: str, content_type: str, content_length: int | None, expires_s: int
    ) -> str:
        params: dict[str, Any] = {
            "Bucket": self.location.bucket,
            "Key": self._name(key),
            "ContentType": content_type,
        }
        if content_length is not None:
            params["ContentLength"] = content_length  # signed: S3 refuses another length
        return str(
            self._client.generate_presigned_url("put_object", Params=params, ExpiresIn=expires_s)
        )

    def presigned_get(self, key: str, headers: Mapping[str, str], expires_s: int) -> str:
        params: dict[str, Any] = {"Bucket": self.location.bucket, "Key": self._name(key)}
        for header, param in (
            ("Content-Type", "ResponseContentType"),
            ("Content-Encoding", "ResponseContentEncoding"),
            ("Cache-Control", "ResponseCacheControl"),
        ):
            if header in headers:
                params[param] = headers[header]
        return str(
            self._client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_s)
        )

    def _stat(self, key: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self._client.head_object(
                Bucket=self.location.bucket, Key=self._name(key), ChecksumMode="ENABLED"
            )
        except botocore.exceptions.ClientError as error:
            if _status(error) == 404:
                return None
            raise
        return found

    def _read_sha256(self, key: str) -> str:
        body = self._client.get_object(Bucket=self.location.bucket, Key=self._name(key))["Body"]
        digest = hashlib.sha256()
        try:
            while chunk := body.read(READ_BYTES):
                digest.update(chunk)
        finally:
            body.close()
        return digest.hexdigest()

    def _seal(self, upload_key: str, key: str) -> tuple[int, str, str | None] | None:
        source = self._stat(upload_key)
        if source is None:
            return None
        size = int(source["ContentLength"])
        if size > S3_MAX_OBJECT_BYTES:
            raise ValueError("S3 copies at most 5 GiB")  # refused at PUT already
        try:
            copied = self._client.copy_object(
                Bucket=self.location.bucket,
                Key=self._name(key),
                CopySource={"Bucket": self.location.bucket, "Key": self._name(upload_key)},
                ChecksumAlgorithm="SHA256",
            )
        except botocore.exceptions.ClientError as error:
            if _status(error) == 404:  # taken in meanwhile by another request or replica
                return None
            raise
        checksum = copied.get("CopyObjectResult", {}).get("ChecksumSHA256")
        stored = self._stat(key)
        if stored is None:
            raise BlobMissingError(key)
        if not checksum or "-" in checksum:  # not a checksum of the whole object
            checksum = stored.get("ChecksumSHA256")
        sha256 = (
            _b64_to_hex(checksum) if checksum and "-" not in checksum else self._read_sha256(key)
        )
        encoding = stored.get("ContentEncoding") or None
        return int(stored["ContentLength"]), sha256, encoding

    async def seal(self, upload_key: str, key: str) -> tuple[int, str, str | None] | None:
        """Copy what was PUT under `upload_key` to `key`, for good: its (size, SHA-256 hex,
        Content-Encoding), or None when nothing is there. The upload's bytes stay, for a
        concurrent seal of the same upload; the caller deletes them once `key` is attached."""
        result: tuple[int, str, str | None] | None = await self._call(self._seal, upload_key, key)
        return result
