"""The typed client's streamed PUT of a file (clients/client/transfer.py): every byte arrives,
whether the kernel sends the file (sendfile, asyncio's loop) or it is read and sent in chunks
(a loop without sendfile: uvloop), and a file shorter than its declared length fails the PUT
instead of leaving the server waiting."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import uvloop
from aiohttp import web

from clients.client import RetryPolicy, TransportError
from clients.client.transfer import put_file
from clients.serving.site import start_site

ONCE = RetryPolicy(max_retries=0)
SIZE = 5 * 1024 * 1024 + 333  # several 1 MiB chunks and a ragged end


@asynccontextmanager
async def receiving_server(received: list[tuple[int, str]]) -> AsyncIterator[str]:
    """A server on loopback that answers each PUT with 204 after reading its whole body,
    noting the length and SHA-256 of each body that arrived whole."""

    async def put(request: web.Request) -> web.Response:
        digest, size = hashlib.sha256(), 0
        try:
            async for chunk in request.content.iter_any():
                digest.update(chunk)
                size += len(chunk)
        except ConnectionResetError:  # the client gave up on the body
            return web.Response(status=400)
        received.append((size, digest.hexdigest()))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_put("/blob", put)
    runner, root_url = await start_site(app, "127.0.0.1", 0, None)
    try:
        yield f"{root_url}/blob"
    finally:
        await runner.cleanup()


async def upload(path: Path, length: int) -> list[tuple[int, str]]:
    received: list[tuple[int, str]] = []
    headers = {"Content-Type": "application/octet-stream", "Content-Length": str(length)}
    async with receiving_server(received) as url, aiohttp.ClientSession() as session:
        await put_file(session, url, path, headers, ONCE)
    return received


@pytest.fixture
def source(tmp_path: Path) -> tuple[Path, str]:
    data = os.urandom(SIZE)
    path = tmp_path / "source.bin"
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


async def test_on_asyncios_loop_the_kernel_sends_the_file_whole(
    source: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = asyncio.get_running_loop()
    sent: list[int] = []
    native: Callable[..., Awaitable[int]] = type(loop).sendfile

    async def counted(self: asyncio.AbstractEventLoop, *args: Any, **kwargs: Any) -> int:
        count = await native(self, *args, **kwargs)
        sent.append(count)
        return count

    monkeypatch.setattr(type(loop), "sendfile", counted)
    path, sha256 = source
    assert await upload(path, SIZE) == [(SIZE, sha256)]
    assert sent == [SIZE]


def test_on_a_loop_without_sendfile_the_file_is_sent_whole_in_chunks(
    source: tuple[Path, str],
) -> None:
    path, sha256 = source
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(upload(path, SIZE)) == [(SIZE, sha256)]


async def test_a_file_shorter_than_its_length_fails_the_put(source: tuple[Path, str]) -> None:
    path, _ = source
    received: list[tuple[int, str]] = []
    headers = {"Content-Type": "application/octet-stream", "Content-Length": str(SIZE + 10)}
    async with receiving_server(received) as url, aiohttp.ClientSession() as session:
        with pytest.raises(TransportError, match="Can not write request body"):
            await put_file(session, url, path, headers, ONCE)
    assert received == []
