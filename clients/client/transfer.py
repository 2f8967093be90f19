"""Streaming file transfers to and from signed blob URLs (protocol.md, "Blob transfer").

Files never sit whole in memory. An upload is sent by the kernel from the file (sendfile)
on a plain TCP connection of asyncio's loop, without the bytes passing through Python; over
TLS, or on a loop without sendfile (uvloop), it is read and sent in 1 MiB chunks read in a
worker thread. Downloads are written in a worker thread in batches of about 1 MiB. A
download that is cut off resumes where it stopped with a `Range` request; its bytes are
written exactly as the server stores them (a gzip artifact stays gzip on disk).
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import aiohttp
from aiohttp.abc import AbstractStreamWriter
from aiohttp.http_writer import StreamWriter
from aiohttp.payload import Payload

from .errors import ClientError, TransportError, error_from_answer
from .retry import RetryPolicy

__all__ = ["CHUNK_BYTES", "Downloaded", "Progress", "get_file", "put_file", "stream_into"]

CHUNK_BYTES = 1 << 20
_RETRYABLE = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, asyncio.TimeoutError)
Sleep = Callable[[float], Awaitable[None]]
# Called (in a worker thread) after each write with the bytes written and the total expected.
Progress = Callable[[int, int | None], None]


async def stream_into(content: aiohttp.StreamReader, write: Callable[[list[bytes]], None]) -> None:
    """Hand the body to `write` (run in a thread) as received, in lists of about 1 MiB: one
    thread hop per MiB and no copies. What arrived before a failure is written too, so that a
    download can resume after it."""
    batch: list[bytes] = []
    size = 0
    try:
        async for chunk, _ in content.iter_chunks():
            batch.append(chunk)
            size += len(chunk)
            if size >= CHUNK_BYTES:
                await asyncio.to_thread(write, batch)
                batch, size = [], 0
    finally:
        if batch:
            await asyncio.to_thread(write, batch)


@dataclass(frozen=True)
class Downloaded:
    """What a download wrote: its length and SHA-256 (of the bytes as stored) and type."""

    size: int
    sha256: str
    content_type: str
    content_encoding: str | None


class _FileBody(Payload):
    """A file of known size as a request body (so always sent with Content-Length)."""

    def __init__(self, path: Path, size: int) -> None:
        super().__init__(path, content_type=None)
        self._size = self._length = size
        self._path = path

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        raise TypeError("a file body is bytes")

    async def write(self, writer: AbstractStreamWriter) -> None:
        await self.write_with_length(writer, None)

    async def write_with_length(
        self, writer: AbstractStreamWriter, content_length: int | None
    ) -> None:
        count = self._length if content_length is None else min(self._length, content_length)
        handle = await asyncio.to_thread(self._path.open, "rb")
        try:
            sent = await _sendfile(writer, handle, count)
            if sent is None:
                sent = await _send_chunks(writer, handle, count)
        finally:
            handle.close()
        if sent != count:  # the file shrank since its size was taken: fail, do not hang
            raise OSError(f"{self._path} ended after {sent} of its {count} bytes")


async def _sendfile(writer: AbstractStreamWriter, handle: BinaryIO, count: int) -> int | None:
    """Send `count` bytes of the file with sendfile(2), after the request's head; None if
    this connection cannot (TLS, a loop without sendfile), before anything is sent."""
    transport = writer.transport
    if not isinstance(writer, StreamWriter) or writer.chunked or transport is None:
        return None
    # The head goes out first (aiohttp before 3.12 writes it at once), then sendfile waits
    # for the transport to have written it.
    send_headers = getattr(writer, "send_headers", None)
    if send_headers is not None:
        send_headers()
    try:
        return await asyncio.get_running_loop().sendfile(
            transport, handle, 0, count, fallback=False
        )
    except (NotImplementedError, RuntimeError, asyncio.SendfileNotAvailableError):
        return None  # raised before a byte of the body went out: send it the other way


async def _send_chunks(writer: AbstractStreamWriter, handle: BinaryIO, count: int) -> int:
    handle.seek(0)
    sent = 0
    while sent < count and (
        chunk := await asyncio.to_thread(handle.read, min(CHUNK_BYTES, count - sent))
    ):
        await writer.write(chunk)
        sent += len(chunk)
    return sent


async def _retrying(
    what: str,
    retry: RetryPolicy,
    sleep: Sleep,
    attempt: Callable[[], Awaitable[ClientError | None]],
) -> None:
    """Run `attempt` until it succeeds (None); a 5xx it returns and connection failures are
    retried as the policy says, a 4xx it raises is final."""
    for number in range(retry.max_retries + 1):
        try:
            failure = await attempt()
        except _RETRYABLE as error:
            failure = TransportError(what, number + 1, error)
        if failure is None:
            return
        if number == retry.max_retries:
            raise failure
        await sleep(retry.delay_s(number, random.random()))


def _failure(what: str, status: int, body: bytes) -> ClientError:
    """The error of an error answer: raised at once for a 4xx, returned for a 5xx."""
    error = error_from_answer(what, status, body)
    if status < 500:
        raise error
    return error


async def put_file(
    session: aiohttp.ClientSession,
    url: str,
    path: Path,
    headers: dict[str, str],
    retry: RetryPolicy,
    sleep: Sleep = asyncio.sleep,
) -> None:
    """PUT the file to a signed URL; 4xx raises the typed error, 5xx and resets retry.
    Its Content-Length is the one in `headers`, else the size the file has now."""
    length = headers.get("Content-Length")
    size = int(length) if length is not None else (await asyncio.to_thread(path.stat)).st_size

    async def attempt() -> ClientError | None:
        async with session.put(url, data=_FileBody(path, size), headers=headers) as response:
            body = await response.read()
            return None if response.status < 300 else _failure("putArtifact", response.status, body)

    await _retrying("putArtifact", retry, sleep, attempt)


class _Sink:
    def __init__(self, handle: BinaryIO, progress: Progress | None) -> None:
        self.handle = handle
        self.progress = progress
        self.digest = hashlib.sha256()
        self.size = 0
        self.total: int | None = None

    def restart(self) -> None:
        if self.size == 0:
            return
        if not self.handle.seekable():  # a pipe: what was written cannot be taken back
            raise ClientError("the download could not be resumed and its start is already out")
        self.handle.seek(0)
        self.handle.truncate()
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, chunks: list[bytes]) -> None:
        for chunk in chunks:
            self.handle.write(chunk)
            self.digest.update(chunk)
            self.size += len(chunk)
        if self.progress is not None:
            self.progress(self.size, self.total)


def _total(headers: Mapping[str, str], status: int) -> int | None:
    """The whole length, from Content-Range (a resumed 206) or Content-Length."""
    if status == 206:
        whole = headers.get("Content-Range", "").rpartition("/")[2]
        return int(whole) if whole.isdigit() else None
    length = headers.get("Content-Length", "")
    return int(length) if length.isdigit() else None


async def get_file(
    session: aiohttp.ClientSession,
    url: str,
    target: Path | BinaryIO,
    retry: RetryPolicy,
    sleep: Sleep = asyncio.sleep,
    progress: Progress | None = None,
) -> Downloaded:
    """GET a URL into `target` (a path, or an open binary file such as stdout, left open),
    resuming with `Range` after a cut; the bytes as stored."""
    handle: BinaryIO
    if isinstance(target, Path):
        handle = await asyncio.to_thread(target.open, "wb")
    else:
        handle = target
    sink = _Sink(handle, progress)
    found: dict[str, str] = {}

    async def attempt() -> ClientError | None:
        headers = {"Range": f"bytes={sink.size}-"} if sink.size else {}
        async with session.get(url, headers=headers, auto_decompress=False) as response:
            if response.status >= 400:
                return _failure("getArtifact", response.status, await response.read())
            if response.status != 206:
                await asyncio.to_thread(sink.restart)
            sink.total = _total(response.headers, response.status)
            found["type"] = response.headers.get("Content-Type", "application/octet-stream")
            found["encoding"] = response.headers.get("Content-Encoding", "")
            await stream_into(response.content, sink.write)
        return None

    try:
        await _retrying("getArtifact", retry, sleep, attempt)
    finally:
        await asyncio.to_thread(handle.close if isinstance(target, Path) else handle.flush)
    return Downloaded(sink.size, sink.digest.hexdigest(), found["type"], found["encoding"] or None)
