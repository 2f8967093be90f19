"""Live messages from the queue's event stream (protocol.md, "Event stream").

::

    async with queue.events([Binding.for_task(Exchange.task_exception, task_id)]) as stream:
        await stream.subscribe([Binding.for_task(Exchange.task_exception, another_task_id)])
        async for event in stream:
            print(event.exchange, event.routing_key, event.body)

Frames are read by a background task into a bounded buffer; when the consumer falls behind,
reading stops, the server's buffer fills and the server drops the connection, which then
raises ``EventStreamClosed`` with the server's reason. Nothing grows without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, NoReturn, Self

import aiohttp
import msgspec
import yarl

from ..protocol.events import EXCHANGE_PREFIX, Body, Exchange
from ..protocol.stream import (
    BODY_OF,
    Binding,
    Delivery,
    ServerFrame,
    StreamError,
    Subscribe,
    Subscribed,
    Unsubscribe,
    Unsubscribed,
)
from .errors import ClientError, TransportError, error_from_answer
from .service import ServiceClient

__all__ = ["Event", "EventStream", "EventStreamClosed", "EventStreamError"]

HEARTBEAT_S = 30.0
_decode_frame = msgspec.json.Decoder(ServerFrame).decode
_encode = msgspec.json.Encoder().encode
_CLOSED = object()


class EventStreamError(ClientError):
    """The server refused a subscribe or unsubscribe frame; nothing of it took effect."""


class EventStreamClosed(ClientError):  # noqa: N818  (a state, as ResourceNotFound)
    """The server closed the stream (too slow: 4001; shutting down: 1001; ...)."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"event stream closed by the server ({code}): {reason}")
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Event:
    """One message: exchange (short name), primary routing key, CC routes and typed body."""

    exchange: Exchange | str
    routing_key: str
    routes: list[str]
    body: Body | dict[str, Any]


def _event(delivery: Delivery) -> Event:
    short = delivery.exchange.removeprefix(EXCHANGE_PREFIX)
    try:
        exchange = Exchange(short)
    except ValueError:  # an exchange newer than this client: keep the body as JSON
        return Event(short, delivery.routing_key, delivery.routes, delivery.payload)
    body = msgspec.convert(delivery.payload, BODY_OF[exchange])
    return Event(exchange, delivery.routing_key, delivery.routes, body)


class EventStream:
    """A websocket subscription; use ``async with`` to open it, then iterate its events."""

    def __init__(
        self, client: ServiceClient, bindings: Sequence[Binding] = (), *, buffer: int = 1000
    ) -> None:
        self._client = client
        self._initial = list(bindings)
        self._events: asyncio.Queue[Event | object] = asyncio.Queue(maxsize=buffer)
        self._pending: dict[str, asyncio.Future[Subscribed | Unsubscribed]] = {}
        self._ids = itertools.count(1)
        self._socket: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._closed_by: EventStreamClosed | None = None
        self._done = False

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def open(self) -> None:
        """Connect (retrying connection failures as the client's calls do) and subscribe."""
        self._socket = await self._connect()
        self._reader = asyncio.create_task(self._read(self._socket))
        if self._initial:
            await self.subscribe(self._initial)

    async def _connect(self) -> aiohttp.ClientWebSocketResponse:
        retry, client = self._client.options.retry, self._client
        for attempt in range(retry.max_retries + 1):
            url = client.url("events")
            headers = client.signed_headers("GET", url, content_type="")
            try:
                return await client.session().ws_connect(
                    yarl.URL(url, encoded=True), headers=headers, heartbeat=HEARTBEAT_S
                )
            except aiohttp.WSServerHandshakeError as error:
                if error.status < 500 or attempt == retry.max_retries:
                    refused = f"the server refused the websocket: {error.status} {error.message}"
                    raise error_from_answer("events", error.status, refused.encode()) from None
            except (TimeoutError, aiohttp.ClientConnectionError) as error:
                if attempt == retry.max_retries:
                    raise TransportError("events", attempt + 1, error) from error
            await asyncio.sleep(retry.delay_s(attempt, 0.5))
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def subscribe(self, bindings: Sequence[Binding]) -> Subscribed:
        """Add bindings; once this returns, every matching message published is delivered."""
        reply = await self._request(Subscribe, bindings)
        assert isinstance(reply, Subscribed)
        return reply

    async def unsubscribe(self, bindings: Sequence[Binding]) -> None:
        """Remove bindings (messages already on their way may still arrive)."""
        await self._request(Unsubscribe, bindings)

    async def _request(
        self, kind: type[Subscribe] | type[Unsubscribe], bindings: Sequence[Binding]
    ) -> Subscribed | Unsubscribed:
        if self._socket is None or self._closed_by is not None or self._socket.closed:
            raise self._closed_by or ClientError("the event stream is not open")
        frame_id = str(next(self._ids))
        waiter: asyncio.Future[Subscribed | Unsubscribed] = (
            asyncio.get_running_loop().create_future()
        )
        self._pending[frame_id] = waiter
        try:
            frame = _encode(kind(id=frame_id, bindings=list(bindings)))
            await self._socket.send_frame(frame, aiohttp.WSMsgType.TEXT)  # JSON text, as encoded
            return await waiter
        finally:
            self._pending.pop(frame_id, None)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        if self._done and self._events.empty():
            self._end()
        item = await self._events.get()
        if item is _CLOSED:
            self._end()
        assert isinstance(item, Event)
        return item

    def _end(self) -> NoReturn:
        if self._closed_by is not None:
            raise self._closed_by
        raise StopAsyncIteration

    async def close(self) -> None:
        """Close the connection; iteration then ends."""
        if self._socket is not None:
            await self._socket.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def _read(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        closing_message: aiohttp.WSMessage | None = None
        try:
            while True:
                message = await socket.receive()
                if message.type is not aiohttp.WSMsgType.TEXT:
                    closing_message = message
                    break
                await self._dispatch(_decode_frame(message.data))
        finally:
            self._finish(socket, closing_message)

    async def _dispatch(self, frame: ServerFrame) -> None:
        if isinstance(frame, Delivery):
            await self._events.put(_event(frame))
            return
        waiter = self._pending.get(frame.id) if isinstance(frame.id, str) else None
        if waiter is None or waiter.done():
            return
        if isinstance(frame, StreamError):
            waiter.set_exception(EventStreamError(frame.message))
        else:
            waiter.set_result(frame)

    def _finish(
        self, socket: aiohttp.ClientWebSocketResponse, last: aiohttp.WSMessage | None
    ) -> None:
        code = socket.close_code
        by_server = last is not None and last.type is aiohttp.WSMsgType.CLOSE
        if by_server and code != 1000:
            reason = str(last.extra or "") if last is not None else ""
            self._closed_by = EventStreamClosed(code, reason)
        failure = self._closed_by or ClientError("the event stream was closed")
        for waiter in self._pending.values():
            if not waiter.done():
                waiter.set_exception(failure)
        self._done = True
        if self._events.empty():  # wake a consumer waiting for the next event
            self._events.put_nowait(_CLOSED)
