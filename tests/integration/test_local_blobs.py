"""The local-disk blob store on a real directory: what it stores, and what it leaves behind
when a write, a background flush or the upload itself fails part way."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from queue_server.artifacts import local
from queue_server.artifacts.blobs import BlobStoreFullError
from queue_server.artifacts.local import LocalBlobStore

CHUNK = 256 * 1024
# More than two background flushes' worth, in chunks the size the server receives.
SIZE = 2 * local.SYNC_BYTES + 3 * CHUNK + 17


def _data(size: int) -> bytes:
    return hashlib.sha256(b"seed").digest() * (size // 32) + b"x" * (size % 32)


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), CHUNK):
        yield data[start : start + CHUNK]


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


async def test_stores_every_byte_with_its_sha256(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    key = store.new_key()
    data = _data(SIZE)
    size, sha256 = await store.receive(key, _chunks(data))
    assert (size, sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert store.path(key).read_bytes() == data
    assert _files(tmp_path) == [store.path(key)]


async def test_flushes_to_disk_as_the_data_arrives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Data is synced in the background while it arrives, and once more at the end."""
    synced: list[int] = []
    real = os.fdatasync

    def counting(fd: int) -> None:
        synced.append(os.fstat(fd).st_size)
        real(fd)

    monkeypatch.setattr(os, "fdatasync", counting)
    store = LocalBlobStore(tmp_path)
    await store.receive(store.new_key(), _chunks(_data(SIZE)))
    assert len(synced) >= 2  # at least one while the data arrived, and the last one
    assert synced[-1] == SIZE  # the last flush covers every byte, before the rename


async def test_a_failed_background_flush_fails_the_upload_and_keeps_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error reported by an early fdatasync is not reported again by a later one (Linux),
    so the upload must fail on it, not on the final flush."""
    calls: list[int] = []

    def failing_once(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 1:
            raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(os, "fdatasync", failing_once)
    store = LocalBlobStore(tmp_path)
    with pytest.raises(OSError, match="I/O error"):
        await store.receive(store.new_key(), _chunks(_data(SIZE)))
    assert _files(tmp_path) == []


async def test_a_failed_write_fails_the_upload_and_keeps_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalBlobStore(tmp_path)
    real_write = local._Sink._write
    writes: list[int] = []

    def full_disk(self: local._Sink, batch: list[bytes]) -> None:
        writes.append(len(batch))
        if len(writes) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(self, batch)

    monkeypatch.setattr(local._Sink, "_write", full_disk)
    with pytest.raises(BlobStoreFullError):
        await store.receive(store.new_key(), _chunks(_data(SIZE)))
    assert _files(tmp_path) == []


async def test_a_cancelled_upload_leaves_no_file_once_its_writes_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelled while a write is still running in its thread: the partial file is removed
    after that write ends, not closed under it."""
    store = LocalBlobStore(tmp_path)
    writing, removed = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    real_write, real_remove = local._Sink._write, local._remove
    gate = threading.Event()
    ended: list[bool] = []

    def slow_write(self: local._Sink, batch: list[bytes]) -> None:
        loop.call_soon_threadsafe(writing.set)
        gate.wait(10)
        real_write(self, batch)  # raises if the file was closed under it
        ended.append(True)

    def remove(*paths: Path) -> None:
        real_remove(*paths)
        removed.set()

    monkeypatch.setattr(local._Sink, "_write", slow_write)
    monkeypatch.setattr(local, "_remove", remove)

    async def endless() -> AsyncIterator[bytes]:
        data = _data(CHUNK)
        while True:
            yield data

    upload = asyncio.create_task(store.receive(store.new_key(), endless()))
    await writing.wait()
    upload.cancel()
    with pytest.raises(asyncio.CancelledError):
        await upload
    assert [p.suffix for p in _files(tmp_path)] == [".part"]  # the write is still running
    gate.set()
    await asyncio.wait_for(removed.wait(), 10)  # once the write's thread has ended
    assert ended == [True]
    assert _files(tmp_path) == []
