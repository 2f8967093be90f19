"""The relay (protocol.md §18): workers connect out to the queue, and viewers' live-log and
shell connections reach them through it, so a worker behind NAT needs no inbound port.

`relay` is the worker's websocket; `liveLog` and `shell` are the viewers' routes. The queue
finds the worker holding the run in the store, asks the router for a stream to it, and pipes
bytes both ways; the worker checks the secret and answers ACCEPT or REFUSE before the viewer
gets any answer, so a wrong secret is a plain `401`.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import WSMsgType, web

from clients.protocol.errors import STATUS_OF, ApiError, ErrorCode, input_error, not_found
from clients.protocol.livelog import LOG_HEADERS
from clients.protocol.relay import (
    CLOSE_GOING_AWAY,
    CLOSE_NORMAL,
    DEFAULT_WINDOW,
    MAX_DATA,
    OpenStream,
)
from clients.relay import ChannelClosedError, Mux, StreamRefusedError

from ..dispatch import Call, handles
from ..keys import RELAYS, STORE
from ..relays import Stream, WorkerKey, WorkerNotConnectedError

__all__ = ["HEARTBEAT_S", "pipe"]

HEARTBEAT_S = 30.0  # pings keep NATs open and find dead peers on connections that last hours
_CODE_OF_STATUS = {status: code for code, status in reversed(STATUS_OF.items())}


@handles("relay")
async def relay(call: Call) -> web.StreamResponse:
    call.authorize()
    socket = _socket(call, max_msg_size=MAX_DATA + 64)
    await socket.prepare(call.request)
    mux = Mux(socket)
    worker = WorkerKey(call.params["workerGroup"], call.params["workerId"])
    try:
        async with call.app[RELAYS].attached(worker, mux):
            await mux.run()
    finally:
        await socket.close()
    return socket


@handles("liveLog")
async def live_log(call: Call) -> web.StreamResponse:
    call.authorize()
    offset, follow = _offset(call), call.request.query.get("follow", "true") != "false"
    websocket = web.WebSocketResponse().can_prepare(call.request).ok
    stream = await _open(call, "log", offset=offset, follow=follow, websocket=websocket)
    if websocket:
        return await _pipe_socket(call, stream)
    return await _pipe_response(call, stream)


@handles("shell")
async def shell(call: Call) -> web.StreamResponse:
    call.authorize()
    _socket(call, 0)  # 400 before asking the worker when this is not a websocket
    stream = await _open(call, "shell", offset=0, follow=True, websocket=True)
    return await _pipe_socket(call, stream)


def _socket(call: Call, max_msg_size: int) -> web.WebSocketResponse:
    socket = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=max_msg_size)
    if not socket.can_prepare(call.request).ok:
        raise input_error("this endpoint speaks websocket: send an Upgrade")
    return socket


def _offset(call: Call) -> int:
    raw = call.request.query.get("offset", "0")
    if not raw.isdigit():
        raise ApiError(
            ErrorCode.invalid_request_arguments, f"offset must be a byte count, not {raw!r}"
        )
    return int(raw)


async def _worker_of(call: Call, task_id: str, run_id: int) -> WorkerKey:
    found = await call.app[STORE].get_record(task_id)
    if found is None or run_id >= len(found.status.runs):
        raise not_found(f"task {task_id} has no run {run_id}")
    run = found.status.runs[run_id]
    if not isinstance(run.worker_group, str) or not isinstance(run.worker_id, str):
        raise not_found(f"run {run_id} of task {task_id} has not been claimed by a worker")
    return WorkerKey(run.worker_group, run.worker_id)


async def _open(call: Call, kind: str, *, offset: int, follow: bool, websocket: bool) -> Stream:
    task_id, run_id = call.params["taskId"], int(call.params["runId"])
    worker = await _worker_of(call, task_id, run_id)
    request = OpenStream(
        kind=kind,  # type: ignore[arg-type]
        task_id=task_id,
        run_id=run_id,
        secret=call.params["secret"],
        window=DEFAULT_WINDOW,
        offset=offset,
        follow=follow,
        websocket=websocket,
    )
    try:
        return await call.app[RELAYS].open(worker, request)
    except WorkerNotConnectedError as error:
        raise ApiError(ErrorCode.worker_unavailable, str(error)) from None
    except StreamRefusedError as refused:
        code = _CODE_OF_STATUS.get(refused.status, ErrorCode.input_error)
        raise ApiError(code, refused.message) from None
    except ChannelClosedError as error:
        raise ApiError(
            ErrorCode.worker_unavailable, f"the relay connection ended: {error}"
        ) from None


async def _pipe_response(call: Call, stream: Stream) -> web.StreamResponse:
    """A chunked text/plain answer, as Taskcluster's livelog serves its GET."""
    response = web.StreamResponse(headers=LOG_HEADERS)
    response.enable_chunked_encoding()
    try:
        await response.prepare(call.request)
        while (data := await stream.receive()) is not None:
            await response.write(data)
        await response.write_eof()
    finally:  # also when the viewer went away (the handler is cancelled)
        await stream.close(CLOSE_GOING_AWAY, "the viewer left")
    return response


async def _pipe_socket(call: Call, stream: Stream) -> web.WebSocketResponse:
    socket = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=MAX_DATA)
    await socket.prepare(call.request)
    await pipe(stream, socket)
    return socket


async def pipe(stream: Stream, socket: web.WebSocketResponse) -> None:
    """Bytes both ways between a stream and a prepared websocket, until either ends; then
    both are closed, the websocket with the stream's close code."""
    outward = asyncio.create_task(_to_viewer(stream, socket))
    inward = asyncio.create_task(_to_worker(socket, stream))
    try:
        await asyncio.wait((outward, inward), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (outward, inward):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ChannelClosedError, ConnectionError):
                await task
        code, reason = stream.peer_closed or (CLOSE_NORMAL, "")
        await stream.close(CLOSE_NORMAL, "the viewer left")
        await socket.close(code=code, message=reason.encode()[:123])


async def _to_viewer(stream: Stream, socket: web.WebSocketResponse) -> None:
    while (data := await stream.receive()) is not None:
        await socket.send_bytes(data)


async def _to_worker(socket: web.WebSocketResponse, stream: Stream) -> None:
    async for message in socket:
        if message.type is WSMsgType.BINARY:
            await stream.send(message.data)
        elif message.type is WSMsgType.TEXT:
            await stream.send(message.data.encode())
