"""The event stream: `GET /api/queue/v1/events` upgraded to a websocket (protocol.md,
"Event stream"). Reading and writing run side by side; either ending ends the connection."""

from __future__ import annotations

import asyncio
import contextlib

import msgspec
from aiohttp import WSMsgType, web

from clients.protocol.errors import ApiError, ErrorCode
from clients.protocol.events import EXCHANGE_PREFIX, Exchange
from clients.protocol.routing import Pattern
from clients.protocol.stream import (
    MAX_BINDINGS,
    Binding,
    ClientFrame,
    StreamError,
    Subscribe,
    Subscribed,
    Unsubscribe,
    Unsubscribed,
)

from ..dispatch import Call, handles
from ..keys import HUB
from ..streams import Hub, Subscriber

__all__: list[str] = []

HEARTBEAT_S = 30.0  # ping idle connections so dead peers are noticed and dropped
MAX_FRAME_BYTES = 1024 * 1024
_decode_frame = msgspec.json.Decoder(ClientFrame).decode
_encode = msgspec.json.Encoder().encode


class _RefusedError(Exception):
    pass


@handles("events")
async def events(call: Call) -> web.StreamResponse:
    call.authorize()
    socket = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=MAX_FRAME_BYTES)
    if not socket.can_prepare(call.request).ok:
        raise ApiError(ErrorCode.input_error, "this endpoint speaks websocket: send an Upgrade")
    await socket.prepare(call.request)
    hub = call.app[HUB]
    subscriber = hub.connect(call.caller.scopes)
    reading = asyncio.create_task(_read(socket, hub, subscriber))
    writing = asyncio.create_task(_write(socket, subscriber))
    try:
        await asyncio.wait((reading, writing), return_when=asyncio.FIRST_COMPLETED)
    finally:
        hub.disconnect(subscriber)
        for task in (reading, writing):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await socket.close()
    return socket


async def _write(socket: web.WebSocketResponse, subscriber: Subscriber) -> None:
    while True:
        frames = await subscriber.take()
        for frame in frames:
            await socket.send_frame(frame, WSMsgType.TEXT)
        if subscriber.closed is not None:
            code, reason = subscriber.closed
            await socket.close(code=code, message=reason.encode())
            return


async def _read(socket: web.WebSocketResponse, hub: Hub, subscriber: Subscriber) -> None:
    async for received in socket:
        if received.type is not WSMsgType.TEXT:
            subscriber.offer(_encode(StreamError(message="frames are JSON text")))
            continue
        try:
            frame = _decode_frame(received.data)
        except msgspec.DecodeError as error:
            subscriber.offer(_encode(StreamError(message=f"bad frame: {error}")))
            continue
        reply: Subscribed | Unsubscribed | StreamError
        try:
            reply = _apply(hub, subscriber, frame)
        except _RefusedError as error:
            reply = StreamError(id=frame.id, message=str(error))
        if not subscriber.offer(_encode(reply)):
            hub.drop_too_slow(subscriber)


def _apply(hub: Hub, subscriber: Subscriber, frame: ClientFrame) -> Subscribed | Unsubscribed:
    wanted = _compiled(frame.bindings)
    if isinstance(frame, Subscribe):
        new = sum(len(patterns) for patterns in wanted.values())
        if subscriber.binding_count + new > MAX_BINDINGS:
            raise _RefusedError(f"a connection holds at most {MAX_BINDINGS} bindings")
        for exchange, patterns in wanted.items():
            hub.bind(subscriber, exchange, patterns)
        filtered = sorted(
            EXCHANGE_PREFIX + exchange for exchange in wanted if not subscriber.reads_all(exchange)
        )
        return Subscribed(id=frame.id, bindings=frame.bindings, filtered=filtered)
    assert isinstance(frame, Unsubscribe)
    for exchange, patterns in wanted.items():
        hub.unbind(subscriber, exchange, patterns)
    return Unsubscribed(id=frame.id, bindings=frame.bindings)


def _compiled(bindings: list[Binding]) -> dict[Exchange, list[Pattern]]:
    """The bindings by exchange, all checked before any takes effect."""
    known = {EXCHANGE_PREFIX + exchange.value: exchange for exchange in Exchange}
    compiled: dict[Exchange, list[Pattern]] = {}
    for position, binding in enumerate(bindings):
        exchange = known.get(binding.exchange)
        if exchange is None:
            raise _RefusedError(
                f"bindings[{position}]: unknown exchange {binding.exchange!r};"
                f" known: {', '.join(sorted(known))}"
            )
        try:
            pattern = Pattern.compile(binding.routing_key_pattern)
        except ValueError as error:
            raise _RefusedError(f"bindings[{position}]: {error}") from None
        compiled.setdefault(exchange, []).append(pattern)
    return compiled
