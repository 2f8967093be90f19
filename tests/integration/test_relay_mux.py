"""The relay multiplexer over a real websocket on 127.0.0.1 (protocol.md §18.3): the queue's
end is a Mux; the worker's end is a raw websocket that can break the rules on purpose."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from aiohttp import web

from clients.protocol.relay import (
    CLOSE_PROTOCOL,
    DEFAULT_WINDOW,
    MAX_DATA,
    Accept,
    FrameType,
    OpenStream,
    decode_frame,
    encode_frame,
    encode_json,
)
from clients.relay import Channel, Mux


@asynccontextmanager
async def queue_end() -> AsyncIterator[tuple[str, asyncio.Queue[Mux]]]:
    """A server whose websocket handler runs a Mux (the queue's end); yields its URL."""
    muxes: asyncio.Queue[Mux] = asyncio.Queue()

    async def handler(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        mux = Mux(socket)
        await muxes.put(mux)
        await mux.run()
        return socket

    app = web.Application()
    app.router.add_get("/relay", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/relay", muxes
    finally:
        await runner.cleanup()


def _request(task: str) -> OpenStream:
    return OpenStream(kind="log", task_id=task, run_id=0, secret="s", window=DEFAULT_WINDOW)


async def _accept_opens(worker: aiohttp.ClientWebSocketResponse, count: int) -> list[int]:
    ids = []
    while len(ids) < count:
        frame = decode_frame((await worker.receive()).data)
        assert frame.type is FrameType.OPEN
        ids.append(frame.stream)
        accept = encode_json(Accept(window=DEFAULT_WINDOW))
        await worker.send_bytes(encode_frame(FrameType.ACCEPT, frame.stream, accept))
    return ids


async def test_data_beyond_the_window_closes_that_stream_only() -> None:
    async with queue_end() as (url, muxes), aiohttp.ClientSession() as session:
        worker = await session.ws_connect(url)
        mux = await muxes.get()
        opening = [asyncio.create_task(mux.open(_request(t))) for t in ("a", "b")]
        first, second = await _accept_opens(worker, 2)
        channels: list[Channel] = list(await asyncio.gather(*opening))
        broken, healthy = (c for c in channels if c.id in (first, second))
        piece = b"x" * MAX_DATA
        for _ in range(DEFAULT_WINDOW // MAX_DATA + 1):  # one frame more than was granted
            await worker.send_bytes(encode_frame(FrameType.DATA, broken.id, piece))
        await worker.send_bytes(encode_frame(FrameType.DATA, healthy.id, b"still here"))
        reply = decode_frame((await worker.receive()).data)
        while reply.type is FrameType.CREDIT:  # credit may come first for what was read
            reply = decode_frame((await worker.receive()).data)
        assert (reply.type, reply.stream) == (FrameType.CLOSE, broken.id)
        assert reply.payload[:2] == CLOSE_PROTOCOL.to_bytes(2, "big")
        assert await healthy.receive() == b"still here"
        assert not healthy.ended and broken.peer_closed is not None
        await worker.close()


async def test_a_stream_closed_by_both_ends_is_forgotten_and_the_connection_end_ends_all() -> None:
    async with queue_end() as (url, muxes), aiohttp.ClientSession() as session:
        worker = await session.ws_connect(url)
        mux = await muxes.get()
        opening = asyncio.create_task(mux.open(_request("a")))
        (stream,) = await _accept_opens(worker, 1)
        channel = await opening
        await channel.close(1000, "viewer left")
        closing = decode_frame((await worker.receive()).data)
        assert (closing.type, closing.stream) == (FrameType.CLOSE, stream)
        await worker.send_bytes(encode_frame(FrameType.CLOSE, stream, closing.payload))
        other = asyncio.create_task(mux.open(_request("b")))
        await _accept_opens(worker, 1)
        survivor = await other
        assert mux.stream_count == 1  # the closed one is gone, the open one is there
        await worker.close()
        assert await survivor.receive() is None
        assert survivor.peer_closed is not None and survivor.peer_closed[0] == 1001
