"""The local-disk blob store: one file per blob under the blob directory.

A blob is written to `<key>.part` and renamed to `<key>` once complete, so a reader never sees
half a blob. Chunks are batched to about 1 MiB; each batch is written by one worker thread and
hashed by another while the event loop reads the next (hashlib and file writes release the
GIL), so a transfer uses every core there is and at most about 3 MiB of memory whatever its
size.

A stored blob is on the disk before the upload is acknowledged: what was written is flushed
with fdatasync in the background every 8 MiB as it arrives (so the disk works while the
network does, without holding up the writes, and the last flush is short; a failed flush fails
the upload), and the file and its directory entry are synced when it is renamed into place.
An artifact acknowledged to a worker survives a power loss, as an S3 PUT does.
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
from .sendfile import BlobFileResponse

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
    """One blob being written. Each batch is written by one worker thread and hashed by
    another at the same time (both release the GIL), one batch at a time in each; the data
    written so far is flushed to the disk in the background as it arrives, by a third, so
    that neither the writes nor the hashing wait for the disk."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()
        self.size = 0
        self.unsynced = 0
        self.writing: asyncio.Future[None] | None = None
        self.hashing: asyncio.Future[None] | None = None
        self.syncing: asyncio.Future[None] | None = None

    def _write(self, batch: list[bytes]) -> None:
        """Write a batch in a worker thread, chunk by chunk (no joined copy)."""
        for chunk in batch:
            view = memoryview(chunk)
            while view:
                written = self.handle.write(view)
                if not written:
                    raise OSError(errno.EIO, "the blob file accepted no bytes")
                view = view[written:]

    def _hash(self, batch: list[bytes]) -> None:
        for chunk in batch:
            self.digest.update(chunk)

    def _sync(self) -> None:
        os.fdatasync(self.handle.fileno())

    def _in_flight(self) -> list[asyncio.Future[None]]:
        return [f for f in (self.writing, self.hashing, self.syncing) if f is not None]

    async def _flush(self, batch: list[bytes], size: int) -> None:
        loop = asyncio.get_running_loop()
        # Shielded: if the upload is cancelled meanwhile, the thread's work stays in flight
        # (not done) until it really ends, and abandon() waits for it before closing the file.
        if self.writing is not None:
            await asyncio.shield(self.writing)
        if self.hashing is not None:
            await asyncio.shield(self.hashing)
        if self.syncing is not None and self.syncing.done():
            self.syncing.result()  # a failed flush fails the upload (its error is not repeated)
            self.syncing = None
        if self.unsynced >= SYNC_BYTES and self.syncing is None:
            # Everything written so far goes to the disk while the next batches arrive.
            self.unsynced = 0
            self.syncing = loop.run_in_executor(None, self._sync)
        self.writing = loop.run_in_executor(None, self._write, batch)
        self.hashing = loop.run_in_executor(None, self._hash, batch)
        self.unsynced += size

    async def feed(self, chunks: AsyncIterable[bytes]) -> None:
        batch: list[bytes] = []
        batched = 0
        async for chunk in chunks:
            batch.append(chunk)
            batched += len(chunk)
            self.size += len(chunk)
            if batched >= BATCH_BYTES:
                await self._flush(batch, batched)
                batch = []
                batched = 0
        if batch:
            await self._flush(batch, batched)
        for pending in self._in_flight():
            await asyncio.shield(pending)

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
        """Wait for the work in flight to end, whatever its outcome."""
        for pending in self._in_flight():
            with contextlib.suppress(Exception):
                await pending

    def abandon(self, part: Path) -> None:
        """Close and remove the partial file, once no thread uses it any more."""

        def finish() -> None:
            with contextlib.suppress(OSError):
                self.handle.close()
            _remove(part)

        left = [f for f in self._in_flight() if not f.done()]

        def after(done: asyncio.Future[None]) -> None:
            if not done.cancelled():
                done.exception()  # retrieved: a failed write after cancellation is expected
            left.remove(done)
            if not left:
                finish()

        for pending in self._in_flight():
            if pending.done() and not pending.cancelled():
                pending.exception()  # retrieved, whatever it was
        if not left:
            finish()
        for pending in list(left):
            pending.add_done_callback(after)


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
        return BlobFileResponse(path, chunk_size=SEND_CHUNK_BYTES, headers=headers)

    async def delete(self, key: str) -> None:
        path = self.path(key)
        part = path.with_name(path.name + ".part")
        await asyncio.get_running_loop().run_in_executor(None, _remove, path, part)

    async def close(self) -> None:
        return None
