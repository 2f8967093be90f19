"""The local-disk blob store: one file per blob under the blob directory.

A blob is written to `<key>.part` and renamed to `<key>` once complete, so a reader never sees
half a blob. Chunks are batched to about 1 MiB; each batch is written and hashed in a worker
thread while the event loop reads the next (hashlib and file writes release the GIL), so a
transfer uses two cores and at most about 3 MiB of memory whatever its size.

A stored blob is on the disk before the upload is acknowledged: the data is flushed with
fdatasync every 8 MiB as it arrives (so the disk works while the network does, and the last
flush is short), and the file and its directory entry are synced when it is renamed into
place. An artifact acknowledged to a worker survives a power loss, as an S3 PUT does.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import os
import re
import secrets
from collections.abc import AsyncIterable, Mapping
from pathlib import Path
from typing import BinaryIO

from aiohttp import web

from .blobs import BlobMissingError, BlobStoreFullError

__all__ = ["LocalBlobStore"]

BATCH_BYTES = 1 << 20
SYNC_BYTES = 8 << 20  # flushed to disk as it arrives, in steps of this much
SEND_CHUNK_BYTES = 256 * 1024  # when sendfile is not available
_KEY = re.compile(r"[0-9a-f]{32}")
_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


def _open_new(part: Path) -> BinaryIO:
    part.parent.mkdir(parents=True, exist_ok=True)
    return open(part, "xb", buffering=0)  # closed by _Sink


def _remove(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


class _Sink:
    """One blob being written: batches written and hashed in a thread, one at a time."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()
        self.size = 0
        self.unsynced = 0
        self.pending: asyncio.Future[None] | None = None

    def _write(self, batch: list[bytes]) -> None:
        """Write and hash a batch in a worker thread, chunk by chunk (no joined copy)."""
        for chunk in batch:
            view = memoryview(chunk)
            while view:
                written = self.handle.write(view)
                if not written:
                    raise OSError(errno.EIO, "the blob file accepted no bytes")
                view = view[written:]
            self.digest.update(chunk)
            self.unsynced += len(chunk)
        if self.unsynced >= SYNC_BYTES:
            os.fdatasync(self.handle.fileno())
            self.unsynced = 0

    async def _flush(self, batch: list[bytes]) -> None:
        if self.pending is not None:
            await self.pending
        self.pending = asyncio.get_running_loop().run_in_executor(None, self._write, batch)

    async def feed(self, chunks: AsyncIterable[bytes]) -> None:
        batch: list[bytes] = []
        batched = 0
        async for chunk in chunks:
            batch.append(chunk)
            batched += len(chunk)
            self.size += len(chunk)
            if batched >= BATCH_BYTES:
                await self._flush(batch)
                batch = []
                batched = 0
        if batch:
            await self._flush(batch)
        if self.pending is not None:
            await self.pending

    def commit(self, part: Path, path: Path) -> None:
        """Make the blob durable under its key: data, then the rename, then the directory."""
        os.fdatasync(self.handle.fileno())
        self.handle.close()
        os.replace(part, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    async def settle(self) -> None:
        """Wait for a write in flight to end, whatever its outcome."""
        if self.pending is not None:
            with contextlib.suppress(Exception):
                await self.pending

    def abandon(self, part: Path) -> None:
        """Close and remove the partial file, once no thread writes to it any more."""

        def finish() -> None:
            with contextlib.suppress(OSError):
                self.handle.close()
            _remove(part)

        def after(write: asyncio.Future[None]) -> None:
            if not write.cancelled():
                write.exception()  # retrieved: a failed write after cancellation is expected
            finish()

        pending = self.pending
        if pending is not None and not pending.done():
            pending.add_done_callback(after)
        else:
            finish()


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self._root = root
        root.mkdir(parents=True, exist_ok=True)

    def new_key(self) -> str:
        return secrets.token_hex(16)

    def path(self, key: str) -> Path:
        """Where the blob lives; keys are 32 hex digits, so no key can leave the directory."""
        if not _KEY.fullmatch(key):
            raise ValueError(f"not a blob key: {key!r}")
        return self._root / key[:2] / key

    async def receive(self, key: str, chunks: AsyncIterable[bytes]) -> tuple[int, str]:
        path = self.path(key)
        part = path.with_name(path.name + ".part")
        loop = asyncio.get_running_loop()
        try:
            sink = _Sink(await loop.run_in_executor(None, _open_new, part))
        except OSError as error:
            if error.errno in _FULL:
                raise BlobStoreFullError("the blob store is full") from error
            raise
        try:
            await sink.feed(chunks)
            await loop.run_in_executor(None, sink.commit, part, path)
        except asyncio.CancelledError:
            sink.abandon(part)
            raise
        except BaseException as error:
            await sink.settle()
            sink.abandon(part)
            if isinstance(error, OSError) and error.errno in _FULL:
                raise BlobStoreFullError("the blob store is full") from error
            raise
        return sink.size, sink.digest.hexdigest()

    async def response(self, key: str, headers: Mapping[str, str]) -> web.StreamResponse:
        path = self.path(key)
        if not await asyncio.get_running_loop().run_in_executor(None, path.is_file):
            raise BlobMissingError(key)
        return web.FileResponse(path, chunk_size=SEND_CHUNK_BYTES, headers=headers)

    async def delete(self, key: str) -> None:
        path = self.path(key)
        part = path.with_name(path.name + ".part")
        await asyncio.get_running_loop().run_in_executor(None, _remove, path, part)

    async def close(self) -> None:
        return None
