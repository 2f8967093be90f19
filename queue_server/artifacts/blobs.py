"""The BlobStore Protocol: what the queue asks of the place artifact bytes live.

The queue decides everything about an object (who may upload, what it must look like, when
it is finished, when it goes) in its database; the blob store only holds bytes under opaque
keys the queue chooses. Bytes stream in and out in bounded chunks, never held whole.

The local-disk store (local.py) is the default. A store that can presign URLs (the S3 store,
s3.py) also implements PresigningBlobStore: the queue then hands out the store's own PUT and
GET URLs instead of its blob endpoint's (protocol.md, "Blob transfer"), and takes the bytes
PUT under an upload's key into the object when it is finished (`seal`).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Mapping
from typing import Protocol, runtime_checkable

from aiohttp import web

__all__ = [
    "BlobMissingError",
    "BlobStore",
    "BlobStoreConfigError",
    "BlobStoreFullError",
    "BlobStoreUnavailableError",
    "PresigningBlobStore",
]


class BlobStoreFullError(Exception):
    """The store has no room left (ENOSPC, EDQUOT): the upload is refused with 507."""


class BlobMissingError(Exception):
    """No blob has this key (it was never written, or was deleted)."""


class BlobStoreUnavailableError(Exception):
    """The store failed or did not answer while the queue runs (S3 down, an error status):
    the request is refused with 503, to be retried. The message names the store's error class
    or code only, never a URL (presigned ones carry signatures) nor credentials."""


class BlobStoreConfigError(Exception):
    """The blob store cannot be used as configured: the queue refuses to start, saying why."""


class BlobStore(Protocol):
    def new_key(self) -> str:
        """A fresh, unguessable key for a blob about to be written."""
        ...

    async def receive(self, key: str, chunks: AsyncIterable[bytes]) -> tuple[int, str]:
        """Write the chunks under `key`; (size, SHA-256 hex digest) once all are stored.

        Nothing is visible under `key` until every chunk is written; on any failure
        (including cancellation, or the iterable raising) no trace of it is left.
        BlobStoreFullError when the store is full.
        """
        ...

    async def response(self, key: str, headers: Mapping[str, str]) -> web.StreamResponse:
        """A response streaming the blob with `headers`, honouring Range and If-Range."""
        ...

    async def delete(self, key: str) -> None:
        """Delete the blob (and anything left of a write under `key`); no error if absent."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class PresigningBlobStore(BlobStore, Protocol):
    """A store clients PUT to and GET from directly, through URLs it signs itself."""

    def upload_key(self, name: str, upload_id: str) -> str:
        """The key every PUT URL of this upload writes to (each PUT replaces the last)."""
        ...

    def presigned_put(
        self, key: str, content_type: str, content_length: int | None, expires_s: int
    ) -> str: ...

    def presigned_get(self, key: str, headers: Mapping[str, str], expires_s: int) -> str:
        """A GET URL answering the blob with `headers` (Content-Type, Content-Encoding)."""
        ...

    async def seal(self, upload_key: str, key: str) -> tuple[int, str, str | None] | None:
        """Make what was PUT under `upload_key` the immutable blob `key`: its (size, SHA-256
        hex digest, Content-Encoding) as the store verified them, or None if nothing is there
        (nothing was PUT, or it was taken in and deleted by a concurrent request). The bytes
        under `upload_key` stay: the caller deletes them once the blob is attached, so that a
        concurrent seal of the same upload finds them too."""
        ...
