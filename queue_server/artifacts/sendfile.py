"""A blob's bytes sent with sendfile(2) on uvloop too, which has no `loop.sendfile`.

aiohttp's FileResponse (Range, If-Range, conditional answers) sends a file with
`loop.sendfile` on asyncio's loop and, where that is missing, reads it in chunks in a thread
and writes them through the transport: two copies of every byte in user space, a thread hop
per chunk, and most of the server's CPU of a download. Here, on a plain TCP connection, the
kernel sends the file from the page cache itself, as on asyncio's loop: each sendfile(2) call
runs in a worker thread (a file not in the page cache is read from the disk there, not on the
event loop), on a duplicate of the connection's socket that is never blocking, and the event
loop waits for the socket to take more. The connection's own writes are flushed first, and
nothing else writes to it while the body goes out (HTTP/1.1: one response at a time).
"""

from __future__ import annotations

import asyncio
import os
from typing import IO, Any

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter

__all__ = ["BlobFileResponse"]


class BlobFileResponse(web.FileResponse):
    """A FileResponse whose fallback (aiohttp calls it where `loop.sendfile` is missing)
    still sends with sendfile(2) on a plain TCP connection; over TLS it is aiohttp's."""

    async def _sendfile_fallback(
        self, writer: AbstractStreamWriter, fobj: IO[Any], offset: int, count: int
    ) -> AbstractStreamWriter:
        transport = writer.transport
        sock = transport.get_extra_info("socket") if transport is not None else None
        if (
            transport is None
            or sock is None
            or self.compression
            or transport.get_extra_info("sslcontext") is not None
        ):
            return await super()._sendfile_fallback(writer, fobj, offset, count)
        await _flushed(writer, transport)
        await _send(sock.fileno(), fobj.fileno(), offset, count)
        return writer


async def _flushed(writer: AbstractStreamWriter, transport: asyncio.WriteTransport) -> None:
    """Wait until everything written to the connection so far (the head) has left."""
    if not transport.get_write_buffer_size():
        return
    low, high = transport.get_write_buffer_limits()
    transport.set_write_buffer_limits(high=0)  # writing pauses until the buffer is empty
    try:
        await writer.drain()
    finally:
        transport.set_write_buffer_limits(high=high, low=low)


async def _send(socket_fd: int, file_fd: int, offset: int, count: int) -> None:
    loop = asyncio.get_running_loop()
    # Duplicates of our own: if the answer is cancelled, aiohttp closes the file (and the
    # connection may close) while a call still runs, and neither number may be reused under it.
    out, source = os.dup(socket_fd), os.dup(file_fd)
    calls: asyncio.Future[int] | None = None
    try:
        while count:
            calls = loop.run_in_executor(None, _sendfile, out, source, offset, count)
            sent = await asyncio.shield(calls)
            calls = None
            if sent == 0:
                raise OSError(f"the blob file ended {count} bytes early")
            full = sent < count  # a partial send (or none) means the socket's buffer is full
            if sent > 0:
                offset += sent
                count -= sent
            if full:
                await _writable(loop, out)
    finally:
        if calls is None or calls.done():
            _close(out, source)
        else:  # cancelled while a call runs: the duplicates are closed once it has ended
            calls.add_done_callback(lambda done: _close_after(done, out, source))


def _close(*fds: int) -> None:
    for fd in fds:
        os.close(fd)


def _close_after(done: asyncio.Future[int], *fds: int) -> None:
    if not done.cancelled():
        done.exception()  # retrieved: a failed call after cancellation is expected
    _close(*fds)


def _sendfile(out: int, file_fd: int, offset: int, count: int) -> int:
    """Bytes sent, or -1 when the socket takes none for now."""
    try:
        return os.sendfile(out, file_fd, offset, count)
    except BlockingIOError:
        return -1


def _set(ready: asyncio.Future[None]) -> None:
    if not ready.done():
        ready.set_result(None)


async def _writable(loop: asyncio.AbstractEventLoop, fd: int) -> None:
    ready = loop.create_future()
    loop.add_writer(fd, _set, ready)
    try:
        await ready
    finally:
        loop.remove_writer(fd)
