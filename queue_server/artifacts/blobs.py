"""The BlobStore Protocol: what the queue asks of the place artifact bytes live.

The queue decides everything about an object (who may upload, what it must look like, when
it is finished, when it goes) in its database; the blob store only holds bytes under opaque
keys the queue chooses. Bytes stream in and out in bounded chunks, never held whole.

The local-disk store (local.py) is the default. An S3-compatible store would implement the
same five methods (receiving through the queue keeps the SHA-256 check) and may add
presigned URLs: the queue would then hand out the store's own PUT and GET URLs instead of
its blob endpoint's (protocol.md, "Blob transfer"), with the key chosen at createUpload.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Mapping
from typing import Protocol

from aiohttp import web

__all__ = ["BlobMissingError", "BlobStore", "BlobStoreFullError"]


class BlobStoreFullError(Exception):
    """The store has no room left (ENOSPC, EDQUOT): the upload is refused with 507."""


class BlobMissingError(Exception):
    """No blob has this key (it was never written, or was deleted)."""


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
