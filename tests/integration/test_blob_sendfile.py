"""The local blob store's answers on uvloop (the queue's default loop), which has no
`loop.sendfile`: the bytes go out with sendfile(2) all the same, whole or as a Range, on a
connection that stays usable, through a socket that fills up, and nothing is left open when
the client goes away part way."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import uvloop
from aiohttp import web
from aiohttp.base_protocol import BaseProtocol
from aiohttp.http_writer import StreamWriter

from clients.serving.site import start_site
from queue_server.artifacts import sendfile
from queue_server.artifacts.local import LocalBlobStore

SIZE = 16 * 1024 * 1024 + 5  # more than the socket buffers hold while the client reads none


def on_uvloop(scenario: Coroutine[Any, Any, None]) -> None:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(scenario)


async def _one_chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data


class Served:
    def __init__(self, url: str, sha256: str, data: bytes) -> None:
        self.url = url
        self.sha256 = sha256
        self.data = data


@asynccontextmanager
async def serving(root: Path) -> AsyncIterator[Served]:
    """A blob in a local store under `root`, served by an aiohttp server on this loop."""
    store = LocalBlobStore(root)
    key = store.new_key()
    data = os.urandom(SIZE)
    await store.receive(key, _one_chunk(data))

    async def get(request: web.Request) -> web.StreamResponse:
        return await store.response(key, {"Content-Type": "application/x-blob"})

    app = web.Application()
    app.router.add_get("/blob", get)
    runner, root_url = await start_site(app, "127.0.0.1", 0, None)
    served = Served(f"{root_url}/blob", hashlib.sha256(data).hexdigest(), data)
    try:
        yield served
    finally:
        await runner.cleanup()


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The byte counts of the sendfile(2) calls made (-1: the socket took nothing)."""
    made: list[int] = []
    real = sendfile._sendfile

    def counted(out: int, file_fd: int, offset: int, count: int) -> int:
        sent = real(out, file_fd, offset, count)
        made.append(sent)
        return sent

    monkeypatch.setattr(sendfile, "_sendfile", counted)
    return made


def test_the_whole_blob_and_a_range_go_out_with_sendfile_on_one_connection(
    tmp_path: Path, calls: list[int]
) -> None:
    async def scenario() -> None:
        async with serving(tmp_path) as served, aiohttp.ClientSession() as http:
            async with http.get(served.url) as whole:
                body = await whole.read()
                assert whole.status == 200
                assert whole.headers["Content-Type"] == "application/x-blob"
            assert hashlib.sha256(body).hexdigest() == served.sha256
            assert sum(sent for sent in calls if sent > 0) == SIZE
            headers = {"Range": "bytes=1000-1999999"}
            async with http.get(served.url, headers=headers) as part:  # the same connection
                assert part.status == 206
                assert await part.read() == served.data[1000:2000000]
            assert sum(sent for sent in calls if sent > 0) == SIZE + 1999000

    on_uvloop(scenario())


def test_a_full_socket_is_waited_for_and_the_rest_follows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> None:
        waiting = asyncio.Event()
        real: Callable[[asyncio.AbstractEventLoop, int], Awaitable[None]] = sendfile._writable

        async def noted(loop: asyncio.AbstractEventLoop, fd: int) -> None:
            waiting.set()
            await real(loop, fd)

        monkeypatch.setattr(sendfile, "_writable", noted)
        async with serving(tmp_path) as served:
            reader, writer = await asyncio.open_connection("127.0.0.1", _port(served.url))
            writer.write(b"GET /blob HTTP/1.1\r\nHost: x\r\n\r\n")
            async with asyncio.timeout(30):  # nothing read yet: the server's sends fill the socket
                await waiting.wait()
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200")
            body = await reader.readexactly(SIZE)
            assert hashlib.sha256(body).hexdigest() == served.sha256
            writer.close()

    on_uvloop(scenario())


def test_a_client_gone_part_way_leaves_no_descriptor_open(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with serving(tmp_path) as served:
            before = len(os.listdir("/proc/self/fd"))
            reader, writer = await asyncio.open_connection("127.0.0.1", _port(served.url))
            writer.write(b"GET /blob HTTP/1.1\r\nHost: x\r\n\r\n")
            await reader.readexactly(1024 * 1024)
            writer.transport.abort()
            # The server notices when it next sends; nothing signals the end of the handler.
            for _ in range(500):
                if len(os.listdir("/proc/self/fd")) == before:
                    break
                await asyncio.sleep(0.01)
            assert len(os.listdir("/proc/self/fd")) == before

    on_uvloop(scenario())


def test_the_body_waits_for_what_the_connection_still_has_to_send() -> None:
    """Before the file goes out, whatever was written to the connection (the head, and on a
    kept-alive connection what is left of the answer before) has left it."""

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        accepted: asyncio.Future[BaseProtocol] = loop.create_future()

        def protocol() -> BaseProtocol:
            made = BaseProtocol(loop)
            accepted.set_result(made)
            return made

        server = await loop.create_server(protocol, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, client = await asyncio.open_connection("127.0.0.1", port)
        served = await accepted
        transport = served.transport
        assert transport is not None
        limits = transport.get_write_buffer_limits()
        transport.write(b"x" * SIZE)  # more than the sockets hold: the rest stays buffered
        flushed = asyncio.create_task(sendfile._flushed(StreamWriter(served, loop), transport))
        await asyncio.sleep(0)
        assert not flushed.done()
        await reader.readexactly(SIZE)
        async with asyncio.timeout(30):
            await flushed
        assert transport.get_write_buffer_size() == 0
        assert transport.get_write_buffer_limits() == limits
        client.close()
        server.close()

    on_uvloop(scenario())


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])
